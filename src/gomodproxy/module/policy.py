"""Per-pattern module policy from a ``--rules`` file (pure: parsing and matching, no I/O).

The file is TOML with a list of ``[[rule]]`` tables, tried in order; the first whose ``match``
(comma-separated globs in GOPRIVATE syntax, matched against path prefixes) covers a module
decides::

    [[rule]]
    match = "git.corp.example/legacy"
    action = "deny"                       # 403 with the reason, for every file of the module
    reason = "legacy code: use git.corp.example/platform instead"

    [[rule]]
    match = "git.corp.example"
    action = "direct"                     # only from git, never through an upstream proxy

    [[rule]]
    match = "example.com/lib"
    action = "upstream"                   # only through the upstream proxies, never from git
    deny-versions = ["v1.3.0", ">=v2.0.0"]
    allow-versions = ["v1.2.0", "v1.2.1"] # when given, only these

    [[rule]]
    match = "example.com/vendorx"
    upstream = "https://mirror.corp.example,https://proxy.example.com"  # its own list

Version constraints are ``vX.Y.Z`` (exactly that version), or ``<``, ``<=``, ``>``, ``>=``
followed by a version (semver order). A denied or not-allowed version is answered 403 with the
rule's reason, and left out of ``@v/list``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gomodproxy.errors import ConfigError
from gomodproxy.module import semver
from gomodproxy.module.goproxy import ProxyList, parse_goproxy
from gomodproxy.module.patterns import match_prefix_patterns

__all__ = ["ACTIONS", "Policy", "PolicyHolder", "Route", "Rule", "RulesError", "parse_policy"]

ACTIONS = ("allow", "deny", "direct", "upstream")
_KEYS = {"match", "action", "reason", "deny-versions", "allow-versions", "upstream"}
_OPS = ("<=", ">=", "<", ">")


class RulesError(ConfigError):
    """A rules file is malformed; ``line`` is where (0 when unknown)."""

    def __init__(self, where: str, line: int, problem: str) -> None:
        at = f"{where}:{line}" if line else where
        super().__init__(f"{at}: {problem}")
        self.line = line


@dataclass(frozen=True, slots=True)
class Constraint:
    """One version constraint: an operator (``==`` for an exact version) and a version."""

    op: str
    version: str

    def matches(self, v: str) -> bool:
        c = semver.compare(v, self.version)
        return {
            "==": c == 0 and v == self.version,
            "<": c < 0,
            "<=": c <= 0,
            ">": c > 0,
            ">=": c >= 0,
        }[self.op]


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``[[rule]]``."""

    match: str
    action: str = "allow"
    reason: str = ""
    deny_versions: tuple[Constraint, ...] = ()
    allow_versions: tuple[Constraint, ...] | None = None
    line: int = 0
    #: The upstream list (GOPROXY syntax) walked for matching modules instead of --upstream.
    upstreams: ProxyList | None = None

    def covers(self, path: str) -> bool:
        """Whether the rule applies to module ``path``."""
        return match_prefix_patterns(self.match, path)

    def version_refused(self, version: str) -> bool:
        """Whether ``version`` is denied or outside the allow list."""
        if any(c.matches(version) for c in self.deny_versions):
            return True
        if self.allow_versions is not None:
            return not any(c.matches(version) for c in self.allow_versions)
        return False


@dataclass(frozen=True, slots=True)
class Policy:
    """The rules in force (empty: everything allowed, routed by the GOPROXY list)."""

    rules: tuple[Rule, ...] = ()

    def rule_for(self, path: str) -> Rule | None:
        """The first rule covering ``path``."""
        for rule in self.rules:
            if rule.covers(path):
                return rule
        return None

    def route(self, path: str) -> Route | None:
        """Where ``path`` is fetched from, or None (the GOPROXY list decides)."""
        rule = self.rule_for(path)
        if rule is None or (rule.action not in ("direct", "upstream") and not rule.upstreams):
            return None
        return Route(rule.action if rule.action in ("direct", "upstream") else "", rule.upstreams)


@dataclass(frozen=True, slots=True)
class Route:
    """A rule's routing: ``kind`` ``direct`` (git only), ``upstream`` (proxies only) or ""
    (any entry), over ``proxies`` when the rule names its own upstream list."""

    kind: str
    proxies: ProxyList | None = None


class PolicyHolder:
    """The policy in force, replaced whole on reload (a reader sees the old or the new one)."""

    def __init__(self, policy: Policy | None = None) -> None:
        self.current = policy or Policy()

    def swap(self, policy: Policy) -> None:
        """Put ``policy`` in force."""
        self.current = policy


def _rule_lines(text: str) -> list[int]:
    """The 1-based line of each ``[[rule]]`` header, in order (tomllib keeps no positions)."""
    return [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[[rule]]"]


def _constraints(values: object, key: str, fail: object) -> tuple[Constraint, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise fail(f"{key} must be a list of version strings")  # type: ignore[operator]
    out = []
    for raw in values:
        text = raw.strip()
        op = next((o for o in _OPS if text.startswith(o)), "==")
        version = text[len(op) :].strip() if op != "==" else text
        if not semver.is_valid(version):
            raise fail(  # type: ignore[operator]
                f"{key}: {raw!r} is not a version or a comparison such as '>=v1.2.0'"
            )
        out.append(Constraint(op, version))
    return tuple(out)


def parse_policy(doc: Mapping[str, object], text: str, where: str) -> Policy:
    """Build a :class:`Policy` from a parsed rules file (``text`` locates errors)."""
    extra = set(doc) - {"rule"}
    if extra:
        raise RulesError(where, 0, f"unknown top-level key(s) {sorted(extra)}; only [[rule]]")
    raw_rules = doc.get("rule", [])
    if not isinstance(raw_rules, list):
        raise RulesError(where, 0, "'rule' must be an array of tables: write [[rule]]")
    lines = _rule_lines(text)
    rules: list[Rule] = []
    for i, raw in enumerate(raw_rules):
        line = lines[i] if i < len(lines) else 0

        def fail(problem: str, line: int = line) -> RulesError:
            return RulesError(where, line, problem)

        if not isinstance(raw, dict):
            raise fail("each [[rule]] must be a table")
        unknown = set(raw) - _KEYS
        if unknown:
            raise fail(f"unknown key(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
        match = raw.get("match")
        if not isinstance(match, str) or not match.strip(","):
            raise fail("'match' is required: module path globs, e.g. \"git.corp.example\"")
        action = raw.get("action", "allow")
        if action not in ACTIONS:
            raise fail(f"'action' must be one of {', '.join(ACTIONS)}, not {action!r}")
        reason = raw.get("reason", "")
        if not isinstance(reason, Sequence) or not isinstance(reason, str):
            raise fail("'reason' must be a string")
        deny = _constraints(raw.get("deny-versions", []), "deny-versions", fail)
        allow = None
        if "allow-versions" in raw:
            allow = _constraints(raw["allow-versions"], "allow-versions", fail)
        upstreams = None
        if "upstream" in raw:
            value = raw["upstream"]
            if not isinstance(value, str) or not value.strip():
                raise fail("'upstream' must be an upstream list in GOPROXY syntax")
            try:
                upstreams = parse_goproxy(value)
            except ConfigError as exc:
                raise fail(f"'upstream' {value!r}: {exc}") from None
            if action == "direct":
                raise fail("'upstream' cannot go with action = \"direct\"")
            if action == "upstream" and not upstreams.proxy_urls:
                raise fail("action = \"upstream\" needs a proxy URL in 'upstream'")
        rules.append(Rule(match, str(action), reason, deny, allow, line, upstreams))
    return Policy(tuple(rules))
