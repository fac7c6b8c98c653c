"""Client authentication per module path pattern: private source is not open to whoever
reaches the port (issue 12 section 3).

Each ``--client-auth`` entry reads ``PATTERNS=CREDENTIAL``: ``PATTERNS`` is a comma list of
module path globs in GOPRIVATE syntax (or ``/metrics`` for the metrics page), ``CREDENTIAL``
is ``sha256:<hex>`` (the SHA-256 of a token accepted as a bearer token or as the password of
basic auth with any user name) or ``USER:sha256:<hex>`` (basic auth with that user). Only
hashes are kept in configuration. A request for a module matching a pattern needs one of that
pattern's credentials: without one it is answered 401 (``WWW-Authenticate: Basic``), with a
wrong one 403; both say nothing about whether the module exists. Requests matching no pattern,
and ``/healthz``, pass. The go command sends basic auth from ``.netrc`` (GOAUTH's default).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gomodproxy.errors import ConfigError, InvalidModulePath
from gomodproxy.module.paths import unescape_path
from gomodproxy.module.patterns import match_prefix_patterns
from gomodproxy.webtext import text_response

__all__ = ["AccessRule", "client_auth_middleware", "parse_access_rules"]

METRICS = "/metrics"
_HASH = re.compile(r"sha256:([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class AccessRule:
    """One credential accepted for module paths matching ``patterns``."""

    patterns: str
    digest: bytes
    user: str | None = None

    def applies(self, target: str) -> bool:
        """Whether the rule guards ``target`` (a module path or ``/metrics``)."""
        if target == METRICS:
            return METRICS in self.patterns.split(",")
        return match_prefix_patterns(self.patterns, target)


def parse_access_rules(values: Iterable[str]) -> tuple[AccessRule, ...]:
    """Parse ``--client-auth`` entries; a bad one raises ConfigError naming the fix."""
    rules = []
    for value in values:
        patterns, sep, credential = value.partition("=")
        if not sep or not patterns.strip(","):
            raise ConfigError(
                f"invalid --client-auth {value!r}: write PATTERNS=sha256:HEX or "
                "PATTERNS=USER:sha256:HEX (the hex SHA-256 of the token, never the token)"
            )
        user: str | None = None
        m = _HASH.fullmatch(credential)
        if m is None:
            user, _, rest = credential.partition(":")
            m = _HASH.fullmatch(rest)
            if m is None or not user:
                raise ConfigError(
                    f"invalid --client-auth credential for {patterns!r}: expected sha256:HEX "
                    "or USER:sha256:HEX with 64 lower-case hex digits (printf %s TOKEN | "
                    "sha256sum)"
                )
        rules.append(AccessRule(patterns, bytes.fromhex(m.group(1)), user))
    return tuple(rules)


def _target(path: str, prefix: str) -> str | None:
    """The module path a request is about, ``/metrics``, or None (anything else)."""
    if prefix:
        if not path.startswith(prefix + "/"):
            return None
        path = path[len(prefix) :]
    if path == METRICS:
        return METRICS
    rest = path.lstrip("/")
    if rest.startswith("sumdb/"):
        parts = rest.split("/", 3)
        if len(parts) == 4 and parts[2] == "lookup":
            rest = parts[3].rsplit("@", 1)[0]
        else:
            return None
    else:
        for marker in ("/@v/", "/@latest"):
            i = rest.find(marker)
            if i > 0:
                rest = rest[:i]
                break
        else:
            return None
    try:
        return unescape_path(rest)
    except InvalidModulePath:
        return rest


def _credential(header: str) -> tuple[str | None, str] | None:
    """``(user, secret)`` of a Bearer or Basic ``Authorization`` header, None if malformed."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return None, value
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None
    return None


def _accepted(rules: list[AccessRule], user: str | None, secret: str) -> bool:
    digest = hashlib.sha256(secret.encode()).digest()
    ok = False
    for rule in rules:
        same = hmac.compare_digest(digest, rule.digest)
        ok |= same and (rule.user is None or rule.user == user)
    return ok


def client_auth_middleware(rules: tuple[AccessRule, ...], *, prefix: str = "") -> Middleware:
    """The middleware enforcing ``rules`` (see the module docstring)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        target = _target(request.path, prefix)
        guarding = [r for r in rules if r.applies(target)] if target is not None else []
        if not guarding:
            return await handler(request)
        header = request.headers.get("Authorization")
        if header is None:
            return text_response(
                "authentication required\n",
                status=401,
                cache_control="no-store",
                headers={"WWW-Authenticate": 'Basic realm="gomodproxy"'},
            )
        credential = _credential(header)
        if credential is None or not _accepted(guarding, *credential):
            return text_response("forbidden\n", status=403, cache_control="no-store")
        return await handler(request)

    return middleware
