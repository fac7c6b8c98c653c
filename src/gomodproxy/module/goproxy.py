"""GOPROXY lists and the private-module settings, parsed exactly as the go command does.

:func:`parse_goproxy` follows ``proxyList`` in ``cmd/go/internal/modfetch/proxy.go``;
:func:`private_settings` follows ``cmd/go/internal/cfg/cfg.go`` (GONOPROXY and GONOSUMDB default
to GOPRIVATE when empty). Both are pure: the caller reads the environment.

How a :class:`ProxyList` is walked (``TryProxies`` and ``lookup`` in the same package) is
documented on the class; both our proxy server's upstream chain and our download client walk it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from gomodproxy.errors import ConfigError
from gomodproxy.module.gourl import GoURL, URLParseError, parse_url
from gomodproxy.module.patterns import match_prefix_patterns

__all__ = [
    "DIRECT",
    "EMPTY_LIST_MESSAGE",
    "NOPROXY",
    "NOPROXY_DISABLED_MESSAGE",
    "NOPROXY_NO_MATCH_MESSAGE",
    "OFF",
    "OFF_MESSAGE",
    "PrivateSettings",
    "ProxyEntry",
    "ProxyList",
    "parse_goproxy",
    "private_settings",
]

DIRECT = "direct"
OFF = "off"
NOPROXY = "noproxy"

# Error texts of the go command, word for word (proxy.go, repo.go).
EMPTY_LIST_MESSAGE = "GOPROXY list is not the empty string, but contains no entries"
OFF_MESSAGE = "module lookup disabled by GOPROXY=off"
NOPROXY_DISABLED_MESSAGE = "disabled by GOPRIVATE/GONOPROXY"
NOPROXY_NO_MATCH_MESSAGE = "path does not match GOPRIVATE/GONOPROXY"

_KEYWORDS = frozenset({DIRECT, OFF, NOPROXY})
# What Go's strings.TrimSpace removes: Unicode White_Space. Python's str.strip() would also take
# the ASCII separators U+001C..U+001F, which Go keeps (and url.Parse then rejects).
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


@dataclass(frozen=True, slots=True)
class ProxyEntry:
    """One entry of a GOPROXY list.

    ``url`` is ``"direct"``, ``"off"``, ``"noproxy"`` (the implicit first entry when GONOPROXY
    is set) or a proxy base URL as written (after an implied ``https://`` was added).
    ``fallback_on_any_error`` is True when the entry was followed by ``|``: the next entry is
    tried after *any* error. Otherwise (``,`` or end of list) only after a not-found error.
    """

    url: str
    fallback_on_any_error: bool = False

    @property
    def is_proxy(self) -> bool:
        """True for a proxy URL, False for ``direct``, ``off`` and ``noproxy``."""
        return self.url not in _KEYWORDS

    def describe(self) -> str:
        """The entry for logs: the URL with any password shown as ``***``, plus ``|`` if set."""
        text = _mask(self.url) if self.is_proxy else self.url
        return text + (" |" if self.fallback_on_any_error else "")


@dataclass(frozen=True, slots=True)
class ProxyList:
    """A parsed GOPROXY list, walked in order for every module lookup.

    For module path ``p`` and each entry in turn (``cmd/go`` ``TryProxies`` and ``lookup``):

    * if ``p`` matches GONOPROXY: ``noproxy`` and ``direct`` fetch from the origin (VCS); every
      proxy URL fails with a not-found error ``"disabled by GOPRIVATE/GONOPROXY"``, and ``off``
      too is never reached because ``noproxy`` comes first, so private modules are fetched
      directly even with ``GOPROXY=off``;
    * otherwise ``noproxy`` fails with not-found ``"path does not match GOPRIVATE/GONOPROXY"``,
      ``off`` fails with not-found ``"module lookup disabled by GOPROXY=off"``, ``direct``
      fetches from the origin and a URL is asked over the GOPROXY protocol.

    The walk stops at the first success. After a failure it goes on only if the error is of the
    not-found class (HTTP 404 or 410) or the entry has ``fallback_on_any_error``. The error
    reported is the one from ``direct``/``noproxy`` if any (except noproxy's own "does not
    match"), else the last proxy error that was not not-found, else the last not-found error.
    ``entries`` is never empty; entries after ``direct`` or ``off`` have been dropped.
    """

    entries: tuple[ProxyEntry, ...]

    def __iter__(self) -> Iterator[ProxyEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def proxy_urls(self) -> tuple[str, ...]:
        """The proxy base URLs in order, without the keywords."""
        return tuple(e.url for e in self.entries if e.is_proxy)

    def describe(self) -> str:
        """The list for logs, credentials masked: ``noproxy,https://u:***@h |,direct``."""
        return ",".join(e.describe() for e in self.entries)


def _mask(url: str) -> str:
    """``url`` with its password replaced by ``***``; unparsable URLs are reduced to a marker."""
    try:
        return parse_url(url).masked()
    except URLParseError:
        return "<unparsable URL>"


def _is_abs(entry: str) -> bool:
    """Go's ``filepath.IsAbs`` or ``path.IsAbs`` on a Unix host (both: leading ``/``)."""
    return posixpath.isabs(entry)


def _with_scheme(entry: str) -> str:
    """Add ``https://`` to a bare host-like entry, as proxyList does."""
    if any(c in entry for c in ".:/") and ":/" not in entry and not _is_abs(entry):
        return "https://" + entry
    return entry


def _check_proxy_url(url: str) -> None:
    """Reject what ``newProxyRepo`` rejects: bad URLs, other schemes, ``file:`` with extras."""
    try:
        base: GoURL = parse_url(url)
    except URLParseError as exc:
        raise ConfigError(f"{exc}: fix this GOPROXY entry") from None
    redacted = base.redacted()
    if base.scheme in ("http", "https"):
        return
    if base.scheme == "file":
        if not base.is_path_only():
            raise ConfigError(f"invalid file:// proxy URL with non-path elements: {redacted}")
        return
    if base.scheme == "":
        raise ConfigError(f"invalid proxy URL missing scheme: {redacted}")
    raise ConfigError(f"invalid proxy URL scheme (must be https, http, file): {redacted}")


def _split_entries(value: str) -> Iterator[tuple[str, bool]]:
    """Yield ``(entry, followed_by_pipe)`` for each ``,``- or ``|``-separated piece."""
    start = 0
    for i, c in enumerate(value):
        if c in ",|":
            yield value[start:i], c == "|"
            start = i + 1
    if start < len(value):
        yield value[start:], False


def _entries(value: str) -> list[ProxyEntry]:
    """The entries of a non-empty GOPROXY value (the loop of proxyList)."""
    entries: list[ProxyEntry] = []
    for raw, pipe in _split_entries(value):
        url = raw.strip(_GO_SPACE)
        if url == "":
            continue
        if url in (OFF, DIRECT):
            entries.append(ProxyEntry(url))  # "off" and "direct" end the list
            break
        url = _with_scheme(url)
        _check_proxy_url(url)
        entries.append(ProxyEntry(url, fallback_on_any_error=pipe))
    return entries


def parse_goproxy(value: str, *, gonoproxy: str = "", default: str = "") -> ProxyList:
    """Parse a GOPROXY value exactly as the go command's ``proxyList`` does.

    ``value`` is GOPROXY as set; when it is empty, ``default`` is used: the value of
    ``go env GOPROXY`` from go.env (``$GOROOT/go.env``), which the caller must supply.
    ``gonoproxy`` is the effective GONOPROXY (see :func:`private_settings`): when it is non-empty
    and GOPROXY is not exactly ``direct``, an implicit ``noproxy`` entry comes first.

    Entries are split at ``,`` and ``|`` (the separator after an entry sets its fall-back),
    trimmed, and empty ones skipped; ``off`` and ``direct`` end the list; an entry containing
    ``.``, ``:`` or ``/`` but no ``:/`` and not an absolute path gets ``https://``; only
    ``https``, ``http`` and path-only ``file`` URLs are accepted.

    Raises :class:`ConfigError` for a bad entry, for a list with no entries (Go's text
    ``"GOPROXY list is not the empty string, but contains no entries"``), and when both
    ``value`` and ``default`` are empty.
    """
    if value == "":
        if default == "":
            raise ConfigError(
                "GOPROXY is empty and no default was given: pass the value of "
                "`go env GOPROXY` from go.env as the default, or set GOPROXY"
            )
        value = default
    entries: list[ProxyEntry] = []
    if gonoproxy != "" and value != DIRECT:
        entries.append(ProxyEntry(NOPROXY))
    entries.extend(_entries(value))
    if not entries or [e.url for e in entries] == [NOPROXY]:
        raise ConfigError(EMPTY_LIST_MESSAGE)
    return ProxyList(tuple(entries))


@dataclass(frozen=True, slots=True)
class PrivateSettings:
    """The effective private-module pattern lists (comma-separated ``path.Match`` globs).

    Built by :func:`private_settings`, which applies the go command's defaulting. Matching is
    by path prefix, counted by element (:func:`match_prefix_patterns`).
    """

    goprivate: str = ""
    gonoproxy: str = ""
    gonosumdb: str = ""
    goinsecure: str = ""

    def is_noproxy(self, path: str) -> bool:
        """True if ``path`` must be fetched directly, never through a proxy (GONOPROXY)."""
        return match_prefix_patterns(self.gonoproxy, path)

    def is_nosumdb(self, path: str) -> bool:
        """True if ``path`` must not be looked up in the checksum database (GONOSUMDB)."""
        return match_prefix_patterns(self.gonosumdb, path)

    def is_insecure(self, path: str) -> bool:
        """True if direct fetches of ``path`` may use plain HTTP or skip TLS checks (GOINSECURE).

        GOINSECURE does not switch off checksum-database verification.
        """
        return match_prefix_patterns(self.goinsecure, path)


def private_settings(
    goprivate: str = "", gonoproxy: str = "", gonosumdb: str = "", goinsecure: str = ""
) -> PrivateSettings:
    """Apply the go command's defaulting: an EMPTY GONOPROXY or GONOSUMDB takes GOPRIVATE.

    An empty value therefore cannot switch GONOPROXY/GONOSUMDB off while GOPRIVATE is set; use a
    pattern that matches nothing, such as ``none``. GOINSECURE does not default to anything.
    """
    return PrivateSettings(
        goprivate=goprivate,
        gonoproxy=gonoproxy or goprivate,
        gonosumdb=gonosumdb or goprivate,
        goinsecure=goinsecure,
    )
