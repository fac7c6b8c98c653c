"""The hit lane: immutable ``.info``/``.mod`` hits answered below aiohttp (issue 15 §2).

A cache hit on a small file used to cost about 160 µs of CPU, two thirds of it in aiohttp
(parsing, request and response objects, the middleware chain, a task per request) for an answer
that is a fixed header block and a few hundred bytes from memory. The connection wrapper
(:class:`~gomodproxy.server.connguard.GuardedConnection`) offers each chunk a client sends to
:meth:`HitLane.offer` first. The lane answers it itself only when all of this holds, and
otherwise hands the chunk to aiohttp untouched:

- the chunk is exactly one complete request: ``GET <target> HTTP/1.1``, well-formed header
  lines (CRLF only, a token and a colon each, no folding) ending the chunk, none of ``Via``
  (loop detection), ``If-None-Match``, ``Range``, ``If-Range``, ``Connection``,
  ``Authorization``, ``Expect``, ``Upgrade``, ``Content-Length``, ``Transfer-Encoding``
  (their handling stays aiohttp's and the routes');
- aiohttp is idle on the connection (its handler waits for the next request, nothing queued,
  and every chunk it was given ended at a request boundary), so answers keep their order;
- the target parses (:func:`~gomodproxy.protocol.requests.parse_request_path`, as the routes
  parse it) to the ``.info`` or ``.mod`` of a canonical version, of a module no
  ``--client-auth`` pattern and no ``--rules`` rule names;
- the cache service holds it in memory and no deny entry covers it
  (:meth:`~gomodproxy.cache.service.ModuleService.hot_small`, which does a hit's bookkeeping:
  hit metric, access record for eviction, prefetch hooks).

The answer is the bytes aiohttp would send (same status line, headers, ``ETag``, ``Date`` and
``Server``), and the request is logged and counted as the access-log middleware does. Anything
else (a miss, a list, a zip, a HEAD, an error) takes the usual path.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Callable, Mapping
from email.utils import formatdate
from typing import cast

from aiohttp.http import SERVER_SOFTWARE

from gomodproxy.cache.service import ModuleService
from gomodproxy.errors import ProxyError
from gomodproxy.module.policy import PolicyHolder
from gomodproxy.protocol.access import AccessRule
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.protocol.requests import ModuleRequest, parse_request_path
from gomodproxy.server.accessline import AccessLine
from gomodproxy.server.metrics import ProxyMetrics

__all__ = ["ANSWERED", "CANDIDATE", "CLEAN", "DIRTY", "HitLane"]

#: :meth:`HitLane.offer` answered the request.
ANSWERED = 0
#: Not answered; the chunk ends at a request boundary (aiohttp's parser keeps nothing of it).
CLEAN = 1
#: Not answered; the chunk may leave a partial request or a body in aiohttp's parser.
DIRTY = 2
#: :meth:`HitLane.classify`: a request the lane answers when memory holds the file.
CANDIDATE = 3

_IMMUTABLE = "public, max-age=31536000, immutable"
_CONTENT_TYPES = {FileKind.INFO: "application/json", FileKind.MOD: "text/plain; charset=utf-8"}
_BODY_HEADERS = (b"\r\ncontent-length:", b"\r\ntransfer-encoding:", b"\r\nupgrade:")
_LEFT_TO_AIOHTTP = (
    b"\r\nvia:",
    b"\r\nif-none-match:",
    b"\r\nrange:",
    b"\r\nif-range:",
    b"\r\nconnection:",
    b"\r\nauthorization:",
    b"\r\nexpect:",
)
_SUFFIX = b" HTTP/1.1"
#: A header line as RFC 9110 writes it: a token, a colon, visible characters, spaces, tabs.
_HEADER = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*")
#: A request the lane may answer: its target as sent, parsed, and the kind's name.
_Target = tuple[str, ModuleRequest, str]
#: Requests remembered (by their bytes); the map starts over when it is full.
_MAX_REQUESTS = 8192


class HitLane:
    """Answers immutable small-file hits itself (see the module docstring)."""

    def __init__(
        self,
        *,
        metrics: ProxyMetrics,
        prefix: str = "",
        forward: Mapping[str, str],
        access_rules: Callable[[], tuple[AccessRule, ...]] = tuple,
        policy: PolicyHolder | None = None,
    ) -> None:
        self._bound: ModuleService | None = None
        self._metrics = metrics
        self._prefix = prefix
        self._forward = forward
        self._access_rules = access_rules
        self._policy = policy
        self._line = AccessLine()
        self._requests: dict[bytes, _Target | int] = {}
        self._heads: dict[str, tuple[bytes, bytes]] = {}  # target -> (body, head)
        self._second = -1
        self._date = b""
        #: Requests answered here (tests and the status of the lane).
        self.answered = 0

    def bind(self, service: ModuleService | None) -> None:
        """Serve from ``service`` (opened at start-up); None: answer nothing (shut down)."""
        self._bound = service

    def offer(self, data: bytes, transport: asyncio.BaseTransport, remote: str) -> int:
        """Answer ``data`` on ``transport`` if it is a hit the lane serves: :data:`ANSWERED`,
        else :data:`CLEAN` or :data:`DIRTY` (see their definitions)."""
        try:
            found = self._requests[data]
        except KeyError:
            found = self._read(data)
        if isinstance(found, int):
            return found
        raw, request, kind = found
        service = self._bound
        if service is None or not self._open(request.path):
            return CLEAN
        started = time.monotonic()
        body = service.hot_small(request.path, request.version, request.kind, self._forward)
        if body is None:
            return CLEAN
        # uvloop's transports are not asyncio.WriteTransport subclasses: no isinstance here.
        cast(asyncio.WriteTransport, transport).write(
            b"".join((self._head(raw, body, request.kind), self._date_block(), body))
        )
        self.answered += 1
        seconds = time.monotonic() - started
        metrics = self._metrics
        metrics.requests.inc(kind, "200")
        metrics.request_seconds.observe(seconds, kind)
        metrics.bytes_served.inc(kind, amount=len(body))
        self._line.emit(remote, "GET", raw, 200, len(body), seconds, kind)
        return ANSWERED

    def classify(self, data: bytes) -> int:
        """What ``data`` is, without answering it: :data:`CANDIDATE`, :data:`CLEAN` or
        :data:`DIRTY`."""
        try:
            found = self._requests[data]
        except KeyError:
            found = self._read(data)
        return found if isinstance(found, int) else CANDIDATE

    def _read(self, data: bytes) -> _Target | int:
        """What ``data`` asks, as far as it does not depend on the cache: the target of a
        request the lane may answer, or the outcome for the rest (remembered by bytes: a
        client repeats the same requests)."""
        found = self._classify(data)
        if len(self._requests) >= _MAX_REQUESTS:
            self._requests.clear()
            self._heads.clear()
        self._requests[data] = found
        return found

    def _classify(self, data: bytes) -> _Target | int:
        end = data.find(b"\r\n\r\n")
        if end < 0 or end + 4 != len(data):
            return CLEAN if data.endswith(b"\r\n\r\n") else DIRTY
        if not data.count(b"\r") == data.count(b"\n") == data.count(b"\r\n"):
            return DIRTY  # a bare CR or LF: where the request ends is aiohttp's call
        lines = data[:end].split(b"\r\n")
        if not all(_HEADER.fullmatch(line) for line in lines[1:]):
            return CLEAN  # malformed or folded headers: aiohttp's 400
        lower = data.lower()
        if any(header in lower for header in _BODY_HEADERS):
            return DIRTY
        if not data.startswith(b"GET /") or any(header in lower for header in _LEFT_TO_AIOHTTP):
            return CLEAN
        line = data[4 : data.find(b"\r\n")]
        if not line.endswith(_SUFFIX):
            return CLEAN
        try:
            raw = line[: -len(_SUFFIX)].decode("ascii")
            parsed = parse_request_path(raw, prefix=self._prefix)
        except (ProxyError, UnicodeDecodeError):
            return CLEAN
        if isinstance(parsed, ModuleRequest) and parsed.kind in _CONTENT_TYPES and parsed.immutable:
            return raw, parsed, parsed.kind.value
        return CLEAN

    def _open(self, path: str) -> bool:
        """Whether no client-auth pattern and no rule names ``path`` (as in force now)."""
        rules = self._access_rules()
        if rules and any(rule.applies(path) for rule in rules):
            return False
        return self._policy is None or self._policy.current.rule_for(path) is None

    def _head(self, raw: str, body: bytes, kind: FileKind) -> bytes:
        """The status line and headers up to ``Date`` of ``body`` (built once per body)."""
        entry = self._heads.get(raw)
        if entry is not None and entry[0] is body:
            return entry[1]
        etag = f'"sha256-{hashlib.sha256(body).hexdigest()}"'
        head = (
            "HTTP/1.1 200 OK\r\n"
            f"Cache-Control: {_IMMUTABLE}\r\n"
            f"ETag: {etag}\r\n"
            f"Content-Type: {_CONTENT_TYPES[kind]}\r\n"
            f"Content-Length: {len(body)}\r\n"
        ).encode("ascii")
        self._heads[raw] = (body, head)
        return head

    def _date_block(self) -> bytes:
        """``Date`` (made once per second) and ``Server``, then the end of the headers."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._date = (
                f"Date: {formatdate(now, usegmt=True)}\r\nServer: {SERVER_SOFTWARE}\r\n\r\n"
            ).encode("ascii")
        return self._date
