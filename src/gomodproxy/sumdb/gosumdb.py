"""GOSUMDB: which checksum database to trust, and which modules it must vouch for.

Follows cmd/go/internal/modfetch/sumdb.go (``dbDial``, ``useSumDB``) and key.go. GOSUMDB is
``off``, a database name, or a verifier key, either followed by one space and a URL; a bare
name is only accepted when a key is built in for it. Pure: no I/O, no environment reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from gomodproxy.errors import ConfigError
from gomodproxy.module.gourl import GoURL, URLParseError, parse_url
from gomodproxy.module.patterns import match_prefix_patterns
from gomodproxy.tlog.note import InvalidKey, new_verifier

__all__ = [
    "KNOWN_GOSUMDB",
    "SUM_GOLANG_ORG_KEY",
    "TOOLCHAIN_MODULE",
    "SumDBConfig",
    "goproxy_is_single_file",
    "parse_gosumdb",
    "use_sumdb",
]

SUM_GOLANG_ORG_KEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
"""The verifier key of sum.golang.org, built into the go command (modfetch/key.go)."""

KNOWN_GOSUMDB: dict[str, str] = {"sum.golang.org": SUM_GOLANG_ORG_KEY}
"""Database names usable without a key: the name maps to its built-in verifier key."""

TOOLCHAIN_MODULE = "golang.org/toolchain"
"""Toolchain downloads cannot be listed in go.sum, so the database always checks them."""

# sumdb.go: "sum.golang.google.cn is an alias, reachable inside mainland China, for
# sum.golang.org."
_ALIASES = {"sum.golang.google.cn": "sum.golang.org https://sum.golang.google.cn"}


@dataclass(frozen=True, slots=True)
class SumDBConfig:
    """A parsed GOSUMDB: database ``name``, its ``verifier_key``, and an explicit ``url``.

    ``url`` is None unless GOSUMDB named one; then it is used directly, bypassing the proxies.
    """

    name: str
    verifier_key: str
    url: str | None = None

    @property
    def direct_url(self) -> str:
        """The database's own address, ``https://<name>``, used when no proxy serves it."""
        return "https://" + self.name


def _check_name(name: str) -> None:
    """A database name must be ``host[/path]``: nothing a URL would read as anything else.

    As cmd/go dbDial: ``"https://" + name`` must parse (Go's url.Parse) to only a scheme, a
    host and a path, with no escapes and no trailing slash. Stricter than Go in two corners it
    lets through: an empty port (``host:``) and an empty path element (``host//x``), so a name
    that starts with a scheme, such as ``https://host``, is refused too.
    """
    try:
        u = parse_url("https://" + name)
    except URLParseError:
        u = None
    ok = (
        u is not None
        and u == GoURL(scheme="https", host=u.host, path=u.path, raw_path=u.raw_path)
        and not u.raw_path
        and bool(u.host)
        and not name.endswith("/")
        and not u.host.endswith(":")
        and "//" not in u.path
    )
    if not ok:
        raise ConfigError(f"invalid sumdb name (must be host[/path]): {name}")


def _check_url(url: str) -> None:
    """The explicit database URL: http or https, with a host, no user, query or fragment."""
    try:
        u = parse_url(url)
    except URLParseError:
        u = None
    ok = (
        u is not None
        and u.scheme in ("http", "https")
        and bool(u.host)
        and u.user is None
        and not (u.opaque or u.raw_query or u.force_query or u.fragment)
    )
    if not ok:
        raise ConfigError(
            f"invalid GOSUMDB URL: {url!r}: use http:// or https://host[/path], "
            "with no user, query or fragment"
        )


def parse_gosumdb(value: str) -> SumDBConfig | None:
    """Parse a GOSUMDB value (modfetch/sumdb.go dbDial); None means ``off``.

    Raises :class:`ConfigError` with Go's texts: "missing GOSUMDB", "invalid GOSUMDB: too many
    fields", "invalid GOSUMDB: <key error>" (a bare name without a built-in key is a malformed
    verifier key), "invalid sumdb name (must be host[/path]): <name>".
    """
    value = _ALIASES.get(value, value)
    if value == "off":
        return None
    fields = value.split()
    if not fields:
        raise ConfigError("missing GOSUMDB: set GOSUMDB to a database name, a key, or off")
    fields[0] = KNOWN_GOSUMDB.get(fields[0], fields[0])
    if len(fields) > 2:
        raise ConfigError("invalid GOSUMDB: too many fields")
    try:
        verifier = new_verifier(fields[0])
    except InvalidKey as exc:
        raise ConfigError(
            f"invalid GOSUMDB: {exc}: give the database as name+hash+key "
            "(only sum.golang.org is known by name)"
        ) from exc
    _check_name(verifier.name)
    url = None
    if len(fields) == 2:
        url = fields[1]
        _check_url(url)
    return SumDBConfig(verifier.name, fields[0], url)


def goproxy_is_single_file(goproxy: str) -> bool:
    """GOPROXY is one ``file://`` entry (the exception for testing a toolchain distpack)."""
    return goproxy.startswith("file://") and not any(c in goproxy for c in ",|")


def use_sumdb(path: str, gosumdb: str, gonosumdb: str, goproxy_is_single_file: bool) -> bool:
    """Whether module ``path`` must be checked against the database (sumdb.go useSumDB).

    ``gonosumdb`` is the pattern list after defaulting from GOPRIVATE. ``golang.org/toolchain``
    is always checked, even with GOSUMDB=off or a matching GONOSUMDB (the lookup then fails
    loudly), unless GOPROXY is a single ``file://`` entry.
    """
    if path == TOOLCHAIN_MODULE and not goproxy_is_single_file:
        return True
    return gosumdb != "off" and not match_prefix_patterns(gonosumdb, path)
