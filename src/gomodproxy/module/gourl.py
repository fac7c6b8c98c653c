"""Go's ``net/url.Parse``, ``URL.String`` and ``URL.Redacted``, for GOPROXY-style URLs.

The go command validates each GOPROXY entry with ``url.Parse`` and then looks at the parsed
fields (``newProxyRepo``: scheme, and for ``file:`` that nothing but a path is set). Python's
``urllib.parse`` accepts and splits differently (no control-character check, no port check, no
``OmitHost``), so this is a small port of the parts of ``net/url/url.go`` those checks rely on.
Go works on bytes; so do we, on the UTF-8 encoding (``surrogateescape`` for invalid bytes).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from enum import Enum

from gomodproxy.errors import ConfigError
from gomodproxy.module.gostrings import go_quote

__all__ = ["GoURL", "URLParseError", "parse_url"]

_HEX = frozenset(b"0123456789abcdefABCDEF")
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HOST_EXTRA = frozenset(b"!$&'()*+,;=:[]<>\"")
_RESERVED = frozenset(b"$&+,/:;=?@")
_USERINFO_OK = frozenset(b"-._:~!$&'()*+,;=%@") | _ALNUM


class URLParseError(ConfigError):
    """``url.Parse`` failed; ``str()`` is Go's text: ``parse "<url>": <reason>``.

    A :class:`ConfigError` because the URLs parsed here come from configuration (GOPROXY).
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"parse {go_quote(url)}: {reason}")
        self.url = url
        self.reason = reason


class _Mode(Enum):
    """The escaping contexts of net/url (``encoding``)."""

    PATH = 1
    HOST = 2
    ZONE = 3
    USER_PASSWORD = 4
    FRAGMENT = 5


def _should_escape(c: int, mode: _Mode) -> bool:
    """net/url shouldEscape: whether byte ``c`` must be %-escaped in ``mode``."""
    if c in _ALNUM:
        return False
    if mode in (_Mode.HOST, _Mode.ZONE) and c in _HOST_EXTRA:
        return False
    if c in b"-_.~":
        return False
    if c in _RESERVED:
        if mode is _Mode.PATH:
            return c == ord("?")
        if mode is _Mode.USER_PASSWORD:
            return c in b"@/?:"
        if mode is _Mode.FRAGMENT:
            return False
    # Fragments keep the sub-delimiters ! ( ) * unescaped; everything else is escaped.
    return not (mode is _Mode.FRAGMENT and c in b"!()*")


def _unhex(c: int) -> int:
    return int(chr(c), 16)


def _check_escape(s: bytes, i: int, mode: _Mode) -> None:
    """Validate the %-escape at ``s[i]`` (part of net/url unescape)."""
    if i + 2 >= len(s) or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
        raise ValueError(f"invalid URL escape {go_quote(_text(s[i : i + 3]))}")
    trio = s[i : i + 3]
    if mode is _Mode.HOST and _unhex(s[i + 1]) < 8 and trio != b"%25":
        raise ValueError(f"invalid URL escape {go_quote(_text(trio))}")
    if mode is _Mode.ZONE:
        v = _unhex(s[i + 1]) << 4 | _unhex(s[i + 2])
        if trio != b"%25" and v != ord(" ") and _should_escape(v, _Mode.HOST):
            raise ValueError(f"invalid URL escape {go_quote(_text(trio))}")


def _unescape(s: bytes, mode: _Mode) -> bytes:
    """net/url unescape (``+`` stays ``+``: no mode here is the query mode)."""
    i = 0
    while i < len(s):
        c = s[i]
        if c == ord("%"):
            _check_escape(s, i, mode)
            i += 3
            continue
        if mode in (_Mode.HOST, _Mode.ZONE) and c < 0x80 and _should_escape(c, mode):
            raise ValueError(f"invalid character {go_quote(_text(s[i : i + 1]))} in host name")
        i += 1
    out = bytearray()
    i = 0
    while i < len(s):
        if s[i] == ord("%"):
            out.append(_unhex(s[i + 1]) << 4 | _unhex(s[i + 2]))
            i += 3
        else:
            out.append(s[i])
            i += 1
    return bytes(out)


def _escape(s: bytes, mode: _Mode) -> bytes:
    """net/url escape: %XX for every byte that must be escaped in ``mode``."""
    return b"".join(b"%%%02X" % c if _should_escape(c, mode) else bytes([c]) for c in s)


def _valid_encoded(s: bytes, mode: _Mode) -> bool:
    """net/url validEncoded: only sub-delimiters, ``[ ]``, ``%`` and unescaped-safe bytes."""
    return all(c in b"!$&'()*+,;=:@[]%" or not _should_escape(c, mode) for c in s)


def _text(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


@dataclass(frozen=True, slots=True)
class GoURL:
    """The fields of a Go ``url.URL`` (as text; ``user``/``password`` unescaped)."""

    scheme: str = ""
    opaque: str = ""
    user: str | None = None
    password: str | None = None
    host: str = ""
    path: str = ""
    raw_path: str = ""
    raw_query: str = ""
    fragment: str = ""
    raw_fragment: str = ""
    force_query: bool = False
    omit_host: bool = False

    def is_path_only(self) -> bool:
        """True when only scheme, path and raw path are set (newProxyRepo's ``file:`` rule)."""
        return self == GoURL(scheme=self.scheme, path=self.path, raw_path=self.raw_path)

    def escaped_path(self) -> str:
        """URL.EscapedPath: the raw path when it is a valid encoding of the path."""
        if self.raw_path and _valid_encoded(_utf8(self.raw_path), _Mode.PATH):
            try:
                if _text(_unescape(_utf8(self.raw_path), _Mode.PATH)) == self.path:
                    return self.raw_path
            except ValueError:
                pass
        if self.path == "*":
            return "*"
        return _text(_escape(_utf8(self.path), _Mode.PATH))

    def escaped_fragment(self) -> str:
        """URL.EscapedFragment: the raw fragment when it is a valid encoding of the fragment."""
        if self.raw_fragment and _valid_encoded(_utf8(self.raw_fragment), _Mode.FRAGMENT):
            try:
                if _text(_unescape(_utf8(self.raw_fragment), _Mode.FRAGMENT)) == self.fragment:
                    return self.raw_fragment
            except ValueError:
                pass
        return _text(_escape(_utf8(self.fragment), _Mode.FRAGMENT))

    def _userinfo(self, shown_password: str | None) -> str:
        assert self.user is not None
        s = _text(_escape(_utf8(self.user), _Mode.USER_PASSWORD))
        if shown_password is not None:
            s += ":" + shown_password
        elif self.password is not None:
            s += ":" + _text(_escape(_utf8(self.password), _Mode.USER_PASSWORD))
        return s

    def _authority(self, shown_password: str | None) -> str:
        if not (self.scheme or self.host or self.user is not None):
            return ""
        if self.omit_host and not self.host and self.user is None:
            return ""
        out = "//" if (self.host or self.path or self.user is not None) else ""
        if self.user is not None:
            out += self._userinfo(shown_password) + "@"
        return out + _text(_escape(_utf8(self.host), _Mode.HOST))

    def _render(self, shown_password: str | None) -> str:
        """URL.String, optionally showing ``shown_password`` verbatim instead of the password."""
        out = self.scheme + ":" if self.scheme else ""
        if self.opaque:
            out += self.opaque
        else:
            out += self._authority(shown_password)
            path = self.escaped_path()
            if path and path[0] != "/" and self.host:
                out += "/"
            if not out and ":" in path.split("/", 1)[0]:
                out += "./"
            out += path
        if self.force_query or self.raw_query:
            out += "?" + self.raw_query
        if self.fragment:
            out += "#" + self.escaped_fragment()
        return out

    def __str__(self) -> str:
        """URL.String: reassemble the URL (Go's canonical spelling of it)."""
        return self._render(None)

    def redacted(self) -> str:
        """URL.Redacted: the URL with any password replaced by ``xxxxx``."""
        return self._render(None if self.password is None else "xxxxx")

    def masked(self) -> str:
        """The URL with any password replaced by ``***``, for our own log lines."""
        return self._render(None if self.password is None else "***")


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _get_scheme(raw: bytes) -> tuple[bytes, bytes]:
    """Split a leading ``scheme:`` off ``raw`` (net/url getScheme)."""
    for i, c in enumerate(raw):
        if c in _ALNUM and not (0x30 <= c <= 0x39):
            continue
        if (0x30 <= c <= 0x39 or c in b"+-.") and i > 0:
            continue
        if c == ord(":"):
            if i == 0:
                raise ValueError("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return b"", raw
    return b"", raw


def _valid_optional_port(port: bytes) -> bool:
    if not port:
        return True
    return port[:1] == b":" and all(0x30 <= c <= 0x39 for c in port[1:])


def _parse_ip_literal(host: bytes) -> bytes:
    """Parse ``[ipv6%25zone]:port`` (net/url parseHost, bracket branch)."""
    close = host.rfind(b"]")
    if close < 0:
        raise ValueError("missing ']' in host")
    colon_port = host[close + 1 :]
    if not _valid_optional_port(colon_port):
        raise ValueError(f"invalid port {go_quote(_text(colon_port))} after host")
    port = _unescape(colon_port, _Mode.HOST)
    name = host[1:close]
    zone = name.find(b"%25")
    if zone >= 0:
        literal = _unescape(name[:zone], _Mode.HOST) + _unescape(name[zone:], _Mode.ZONE)
    else:
        literal = _unescape(name, _Mode.HOST)
    try:
        addr = ipaddress.ip_address(_text(literal))
    except ValueError as exc:
        raise ValueError(f"invalid host: {exc}") from None
    if addr.version == 4:
        raise ValueError("invalid IP-literal")
    return b"[" + literal + b"]" + port


def _parse_host(scheme: bytes, host: bytes) -> bytes:
    """net/url parseHost: ``host[:port]``, strict about colons for http and https."""
    bracket = host.rfind(b"[")
    if bracket > 0:
        raise ValueError("invalid IP-literal")
    if bracket == 0:
        return _parse_ip_literal(host)
    i = host.find(b":")
    if i >= 0:
        last = host.rfind(b":")
        if last != i and scheme not in (b"http", b"https"):
            i = last
        if not _valid_optional_port(host[i:]):
            raise ValueError(f"invalid port {go_quote(_text(host[i:]))} after host")
    return _unescape(host, _Mode.HOST)


def _parse_authority(scheme: bytes, authority: bytes) -> tuple[bytes | None, bytes | None, bytes]:
    """Split ``user:password@host`` (net/url parseAuthority)."""
    at = authority.rfind(b"@")
    host = _parse_host(scheme, authority[at + 1 :] if at >= 0 else authority)
    if at < 0:
        return None, None, host
    info = authority[:at]
    if any(c not in _USERINFO_OK for c in info):  # non-ASCII is invalid too
        raise ValueError("net/url: invalid userinfo")
    name, colon, password = info.partition(b":")
    user = _unescape(name, _Mode.USER_PASSWORD)
    if not colon:
        return user, None, host
    return user, _unescape(password, _Mode.USER_PASSWORD), host


def _parse(raw: bytes) -> GoURL:
    """net/url parse (not via request), without the fragment."""
    if any(c < 0x20 or c == 0x7F for c in raw):
        raise ValueError("net/url: invalid control character in URL")
    if raw == b"*":
        return GoURL(path="*")
    scheme_b, rest = _get_scheme(raw)
    scheme = _text(scheme_b).lower()
    force_query = rest.endswith(b"?") and rest.count(b"?") == 1
    query = b""
    if force_query:
        rest = rest[:-1]
    else:
        rest, _, query = rest.partition(b"?")
    if not rest.startswith(b"/"):
        if scheme:
            return GoURL(
                scheme=scheme, opaque=_text(rest), raw_query=_text(query), force_query=force_query
            )
        if b":" in rest.split(b"/", 1)[0]:
            raise ValueError("first path segment in URL cannot contain colon")
    user = password = None
    host = b""
    omit_host = False
    if (scheme or not rest.startswith(b"///")) and rest.startswith(b"//"):
        authority, slash, tail = rest[2:].partition(b"/")
        rest = slash + tail
        user, password, host = _parse_authority(_utf8(scheme), authority)
    elif scheme and rest.startswith(b"/"):
        omit_host = True
    path = _unescape(rest, _Mode.PATH)
    raw_path = b"" if _escape(path, _Mode.PATH) == rest else rest
    return GoURL(
        scheme=scheme,
        user=None if user is None else _text(user),
        password=None if password is None else _text(password),
        host=_text(host),
        path=_text(path),
        raw_path=_text(raw_path),
        raw_query=_text(query),
        force_query=force_query,
        omit_host=omit_host,
    )


def parse_url(raw: str) -> GoURL:
    """Parse ``raw`` exactly as Go's ``url.Parse`` does; raise :class:`URLParseError` if not.

    The error text is Go's (``parse "ftp//x": ...``) so messages match the go command's.
    """
    head, _, frag = raw.partition("#")
    try:
        u = _parse(_utf8(head))
    except ValueError as exc:
        raise URLParseError(head, str(exc)) from None
    if not frag:
        return u
    try:
        fragment = _unescape(_utf8(frag), _Mode.FRAGMENT)
    except ValueError as exc:
        raise URLParseError(raw, str(exc)) from None
    raw_fragment = "" if _escape(fragment, _Mode.FRAGMENT) == _utf8(frag) else frag
    return replace(u, fragment=_text(fragment), raw_fragment=raw_fragment)
