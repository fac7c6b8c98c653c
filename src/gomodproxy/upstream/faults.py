"""Fault drills: a layer in front of the upstream fetchers that injects failures on purpose.

Enabled only by ``gomodproxy serve --faults FILE`` (refused with ``--production``), for
rehearsing in staging what the proxy does when its upstreams misbehave. The file is TOML::

    seed = 42                        # optional: replays which requests a ``share`` picks
    [[fault]]
    action = "tamper"                # latency | error | timeout | reset | truncate | tamper
    modules = ["example.com/alpha"]  # module path patterns as in GOPRIVATE (default: all)
    versions = ["v1.0.0"]            # exact versions (default: all)
    kinds = ["zip", "mod"]           # list, latest, info, mod, zip (default: all)
    upstreams = ["https://a.example"]  # upstream URLs as in --upstream (default: all)
    share = 0.5                      # the share of matching requests hit (default 1)
    count = 1                        # at most this many injections (default: no limit)
    seconds = 2.0                    # latency: added before the answer
    status = 503                     # error: the status "answered" (404/410: not found)

Actions: ``latency`` waits then answers normally; ``error`` fails before any byte with
``status``; ``timeout`` fails as a deadline would; ``reset`` lets half the body through, then
the connection is lost; ``truncate`` ends the body cleanly after half its bytes (what a broken
middlebox does: no error, just less); ``tamper`` flips one byte in the middle (the length stays).

The first rule (in file order) that matches a request and whose ``share`` draw fires applies;
one fault per request. Every injection is a WARNING log line (``fault.injected``) and is
counted per rule (:attr:`FaultPlan.injected`, shown on /status).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from gomodproxy.errors import ConfigError, ModuleNotFound, UpstreamError, UpstreamTimeout
from gomodproxy.module.patterns import BadPattern, match_prefix_patterns, path_match_strict
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.base import UpstreamBody
from gomodproxy.upstream.modulefetch import ModuleFetcher

__all__ = ["Action", "FaultPlan", "FaultRule", "FaultyFetcher", "parse_faults"]

logger = logging.getLogger(__name__)

Headers = Mapping[str, str] | None

_KINDS = {k.value: k for k in (FileKind.LIST, FileKind.LATEST, FileKind.INFO, FileKind.MOD)}
_KINDS["zip"] = FileKind.ZIP
_RULE_KEYS = frozenset(
    {"action", "modules", "versions", "kinds", "upstreams", "share", "count", "seconds", "status"}
)


class Action(enum.Enum):
    """What a rule does to a request it hits."""

    LATENCY = "latency"
    ERROR = "error"
    TIMEOUT = "timeout"
    RESET = "reset"
    TRUNCATE = "truncate"
    TAMPER = "tamper"


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One ``[[fault]]`` table (see the module docstring)."""

    action: Action
    modules: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()
    kinds: frozenset[FileKind] = frozenset()
    upstreams: tuple[str, ...] = ()
    share: float = 1.0
    count: int | None = None
    seconds: float = 0.0
    status: int = 503

    def matches(self, upstream: str, path: str, version: str, kind: FileKind) -> bool:
        """Whether a request is one this rule aims at (before the share is drawn)."""
        if self.kinds and kind not in self.kinds:
            return False
        if self.modules and not match_prefix_patterns(",".join(self.modules), path):
            return False
        if self.versions and version not in self.versions:
            return False
        return not self.upstreams or upstream.rstrip("/") in self.upstreams

    def describe(self) -> str:
        """The rule in a few words, without module paths (for /status and the start-up log)."""
        what = self.action.value
        if self.action is Action.LATENCY:
            what += f" {self.seconds:g}s"
        elif self.action is Action.ERROR:
            what += f" {self.status}"
        kinds = ",".join(sorted(k.value for k in self.kinds)) or "all kinds"
        scope = f"{len(self.modules)} module pattern(s)" if self.modules else "all modules"
        if self.versions:
            scope += f", {len(self.versions)} version(s)"
        if self.upstreams:
            scope += f", {len(self.upstreams)} upstream(s)"
        limit = f", at most {self.count}" if self.count is not None else ""
        return f"{what} on {kinds}, {scope}, share {self.share:g}{limit}"


class FaultPlan:
    """The rules of a drill and what they did so far (shared by every wrapped upstream)."""

    def __init__(self, rules: tuple[FaultRule, ...], *, seed: int, source: str) -> None:
        self.rules = rules
        self.seed = seed
        self.source = source
        self.injected = [0] * len(rules)
        self._random = random.Random(seed)

    def draw(self, upstream: str, path: str, version: str, kind: FileKind) -> FaultRule | None:
        """The rule hitting this request, if any (counted and logged)."""
        for index, rule in enumerate(self.rules):
            if not rule.matches(upstream, path, version, kind):
                continue
            if rule.count is not None and self.injected[index] >= rule.count:
                continue
            if rule.share < 1.0 and self._random.random() >= rule.share:
                continue
            self.injected[index] += 1
            logger.warning(
                "fault.injected drill=%s rule=%d action=%s upstream=%s module=%s version=%s "
                "kind=%s: FAULT DRILL, this failure is deliberate",
                self.source,
                index + 1,
                rule.action.value,
                upstream,
                path,
                version or "-",
                kind.value,
            )
            return rule
        return None

    def wrap(self, fetcher: ModuleFetcher) -> ModuleFetcher:
        """``fetcher`` behind this plan."""
        return FaultyFetcher(fetcher, self)


def _strings(table: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    raw = table.get(key, [])
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(raw)


def _number(table: Mapping[str, object], key: str, default: float, where: str) -> float:
    raw = table.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ConfigError(f"{where}: {key} must be a number, not {raw!r}")
    return float(raw)


def _rule(table: Mapping[str, object], where: str) -> FaultRule:
    unknown = sorted(set(table) - _RULE_KEYS)
    if unknown:
        known = ", ".join(sorted(_RULE_KEYS))
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {known}")
    names = ", ".join(a.value for a in Action)
    try:
        action = Action(table.get("action"))
    except ValueError:
        raise ConfigError(f"{where}: action must be one of {names}") from None
    modules = _strings(table, "modules", where)
    for pattern in modules:
        try:
            path_match_strict(pattern, "")
        except BadPattern as exc:
            raise ConfigError(f"{where}: modules: {exc}") from None
    kinds: set[FileKind] = set()
    for name in _strings(table, "kinds", where):
        if name not in _KINDS:
            raise ConfigError(f"{where}: unknown kind {name!r}; use {', '.join(_KINDS)}")
        kinds.add(_KINDS[name])
    share = _number(table, "share", 1.0, where)
    if not 0 < share <= 1:
        raise ConfigError(f"{where}: share must be more than 0 and at most 1, not {share:g}")
    count: int | None = None
    if "count" in table:
        raw = table["count"]
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise ConfigError(f"{where}: count must be a whole number of at least 1")
        count = raw
    seconds = _number(table, "seconds", 0.0, where)
    if action is Action.LATENCY and not 0 < seconds <= 3600:
        raise ConfigError(f"{where}: a latency needs seconds, more than 0 and at most 3600")
    status = int(_number(table, "status", 503, where))
    if not 400 <= status <= 599:
        raise ConfigError(f"{where}: status must be an HTTP error status (400 to 599)")
    upstreams = tuple(u.rstrip("/") for u in _strings(table, "upstreams", where))
    versions = _strings(table, "versions", where)
    return FaultRule(
        action, modules, versions, frozenset(kinds), upstreams, share, count, seconds, status
    )


def parse_faults(doc: Mapping[str, object], source: str) -> FaultPlan:
    """The plan of a parsed faults file; ConfigError names the table and key at fault."""
    unknown = sorted(set(doc) - {"seed", "fault"})
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; use seed and [[fault]]")
    tables = doc.get("fault")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{source}: no [[fault]] table: a drill needs at least one rule")
    rules = []
    for number, table in enumerate(tables, 1):
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: fault {number} is not a table")
        rules.append(_rule(table, f"{source}: fault {number}"))
    raw_seed = doc.get("seed")
    if raw_seed is None:
        seed = random.randrange(1 << 32)
    elif isinstance(raw_seed, bool) or not isinstance(raw_seed, int):
        raise ConfigError(f"{source}: seed must be a whole number")
    else:
        seed = raw_seed
    return FaultPlan(tuple(rules), seed=seed, source=source)


def _flip(data: bytes, at: int) -> bytes:
    """``data`` with the byte at ``at`` changed (a bit of its low half flipped)."""
    if not data:
        return data
    at = min(at, len(data) - 1)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


class _FaultyBody:
    """A body cut, reset or altered part-way (``reset``, ``truncate``, ``tamper``)."""

    def __init__(self, inner: UpstreamBody, action: Action, upstream: str) -> None:
        self._inner = inner
        self._action = action
        self._upstream = upstream

    @property
    def content_length(self) -> int | None:
        # A truncated body declares no length (as a chunked answer cut by a middlebox), so
        # nothing but the content itself can tell it is short.
        return None if self._action is Action.TRUNCATE else self._inner.content_length

    @property
    def content_type(self) -> str | None:
        return self._inner.content_type

    async def chunks(self) -> AsyncIterator[bytes]:
        declared = self._inner.content_length
        middle = declared // 2 if declared else None
        offset = 0
        async for chunk in self._inner.chunks():
            cut = middle if middle is not None else len(chunk) // 2
            if offset <= cut < offset + len(chunk):
                here = cut - offset
                if self._action is Action.TAMPER:
                    yield _flip(chunk, here)
                    middle = -1  # done: the rest passes unchanged
                else:
                    if here:
                        yield chunk[:here]
                    if self._action is Action.RESET:
                        raise UpstreamError(
                            f"upstream {self._upstream}: connection reset after {cut} bytes "
                            "(fault drill)",
                            upstream=self._upstream,
                        )
                    return  # truncate: a clean end, half the bytes short
            else:
                yield chunk
            offset += len(chunk)


class FaultyFetcher:
    """A :class:`ModuleFetcher` whose answers pass through a :class:`FaultPlan`."""

    def __init__(self, inner: ModuleFetcher, plan: FaultPlan) -> None:
        self._inner = inner
        self._plan = plan

    @property
    def name(self) -> str:
        """The wrapped upstream's name."""
        return self._inner.name

    async def list(self, path: str, *, headers: Headers = None) -> bytes:
        """``@v/list``, perhaps with a fault."""
        return await self._small(
            path, "", FileKind.LIST, lambda: self._inner.list(path, headers=headers)
        )

    async def latest(self, path: str, *, headers: Headers = None) -> bytes:
        """``@latest``, perhaps with a fault."""
        return await self._small(
            path, "", FileKind.LATEST, lambda: self._inner.latest(path, headers=headers)
        )

    async def info(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """``.info``, perhaps with a fault."""
        return await self._small(
            path, version, FileKind.INFO, lambda: self._inner.info(path, version, headers=headers)
        )

    async def mod(self, path: str, version: str, *, headers: Headers = None) -> bytes:
        """``.mod``, perhaps with a fault."""
        return await self._small(
            path, version, FileKind.MOD, lambda: self._inner.mod(path, version, headers=headers)
        )

    @contextlib.asynccontextmanager
    async def zip(
        self, path: str, version: str, *, headers: Headers = None
    ) -> AsyncIterator[UpstreamBody]:
        """The zip, perhaps with a fault (a body fault strikes part-way through the stream)."""
        rule = self._plan.draw(self.name, path, version, FileKind.ZIP)
        if rule is not None:
            await self._before(rule, path, version, FileKind.ZIP)
        async with self._inner.zip(path, version, headers=headers) as body:
            if rule is None or rule.action is Action.LATENCY:
                yield body
            else:
                yield _FaultyBody(body, rule.action, self.name)

    async def _before(self, rule: FaultRule, path: str, version: str, kind: FileKind) -> None:
        """The faults that strike before any byte: latency, error, timeout."""
        what = f"{path}@{version}.{kind.value}" if version else f"{path} {kind.value}"
        if rule.action is Action.LATENCY:
            await asyncio.sleep(rule.seconds)
        elif rule.action is Action.ERROR:
            text = f"upstream {self.name} answered {rule.status} for {what} (fault drill)"
            if rule.status in (404, 410):
                raise ModuleNotFound(text, gone=rule.status == 410)
            raise UpstreamError(text, upstream=self.name, status=rule.status)
        elif rule.action is Action.TIMEOUT:
            raise UpstreamTimeout(
                f"upstream {self.name} did not answer {what} in time (fault drill)",
                upstream=self.name,
            )

    async def _small(
        self, path: str, version: str, kind: FileKind, call: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        rule = self._plan.draw(self.name, path, version, kind)
        if rule is None:
            return await call()
        await self._before(rule, path, version, kind)
        data = await call()
        half = len(data) // 2
        if rule.action is Action.RESET:
            raise UpstreamError(
                f"upstream {self.name}: connection reset after {half} bytes (fault drill)",
                upstream=self.name,
            )
        if rule.action is Action.TRUNCATE:
            return data[:half]
        if rule.action is Action.TAMPER:
            return _flip(data, half)
        return data
