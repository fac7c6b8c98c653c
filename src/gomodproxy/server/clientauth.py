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
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gomodproxy.errors import InvalidModulePath
from gomodproxy.module.paths import unescape_path
from gomodproxy.protocol.access import METRICS, AccessRule, parse_access_rules
from gomodproxy.webtext import text_response

__all__ = ["AccessRule", "client_auth_middleware", "parse_access_rules"]


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


def client_auth_middleware(
    rules: tuple[AccessRule, ...] | Callable[[], tuple[AccessRule, ...]], *, prefix: str = ""
) -> Middleware:
    """The middleware enforcing ``rules`` (see the module docstring); given as a function, the
    rules in force are asked at each request (a reload of the settings replaces them)."""
    current = rules if callable(rules) else lambda: rules

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        rules = current()
        if not rules:
            return await handler(request)
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
