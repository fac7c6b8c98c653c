"""``--client-auth`` entries, parsed (pure): which credential guards which module paths.

``PATTERNS=sha256:HEX`` or ``PATTERNS=USER:sha256:HEX`` (see
:mod:`gomodproxy.server.clientauth`, which enforces them). Parsed here, below the settings, so
that the settings and ``gomodproxy config check`` refuse a bad entry with its file line, and
``serve`` never starts with one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gomodproxy.errors import ConfigError
from gomodproxy.module.patterns import match_prefix_patterns

__all__ = ["METRICS", "AccessRule", "parse_access_rules"]

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
