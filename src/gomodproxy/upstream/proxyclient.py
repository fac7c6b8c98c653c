"""The HTTP fetcher: one upstream GOPROXY server spoken to over aiohttp.

Per request it applies, in this order:

- a deadline for the whole fetch (retries and redirects included; the body too), plus aiohttp
  connect and read timeouts so a stalled socket fails early;
- bounded retries with exponential backoff on 5xx, 429 (a bounded ``Retry-After`` honoured) and
  connection errors, before any body byte is accepted;
- redirects by hand, like ``checkRedirect`` in ``cmd/go/internal/web/http.go``: at most 10 hops,
  never from https to http, credentials dropped when the host changes;
- credentials: ``user:password@`` from the configured URL, else ``.netrc`` (https only, as the go
  command does), or, when a :class:`RequestAuth` is given (the download client's GOAUTH),
  its headers for https requests and one more try after a 4xx with the ones it then gives;
  they never appear in logs or error messages;
- the size cap of the file kind, counted on the decoded bytes, and ``Content-Length`` enforced.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
import urllib.parse
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from gomodproxy.errors import ModuleNotFound, UpstreamError, UpstreamTimeout
from gomodproxy.protocol.kinds import FileKind
from gomodproxy.upstream.base import BodyTooLarge, UpstreamLoop, UpstreamThrottled
from gomodproxy.upstream.netrc import NetrcCredentials

__all__ = ["FetchPolicy", "HTTPFetcher", "RequestAuth", "mask_url", "path_escape"]

logger = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 256 * 1024
# What Go's url.PathEscape leaves alone in a path segment, plus "/" (proxy.go pathEscape).
_PATH_SAFE = "/-_.~$&+:=@"
# The go command shows at most this much of an error body (web/api.go formatErrorDetail).
_MAX_ERROR_DETAIL = 648
#: web.maxErrorDetailLines of the go command.
_MAX_ERROR_LINES = 8


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Timeouts (seconds), retries and redirect limits for one upstream."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float = 60.0
    zip_deadline: float = 600.0
    retries: int = 2
    backoff: float = 0.25
    max_retry_after: float = 5.0
    max_redirects: int = 10

    def deadline_for(self, kind: FileKind) -> float:
        """The whole-fetch deadline for a file kind (zips may be large)."""
        return self.zip_deadline if kind is FileKind.ZIP else self.deadline


class RequestAuth(Protocol):
    """Headers for https requests chosen per URL (the go command's GOAUTH, ``web.get``):
    ``initial`` before the first try; after a 4xx answer, ``after_refusal`` (given the
    status line and headers) before the one retry of the same URL."""

    async def initial(self, url: URL) -> Sequence[tuple[str, str]]:
        """Headers for the first try of ``url``."""
        ...

    async def after_refusal(
        self, url: URL, status_line: str, headers: Sequence[tuple[str, str]]
    ) -> Sequence[tuple[str, str]]:
        """Headers for the retry of ``url`` after the 4xx answer described."""
        ...


def path_escape(rel_path: str) -> str:
    """Percent-encode a relative path as the go command does (``!`` becomes ``%21``)."""
    return urllib.parse.quote(rel_path, safe=_PATH_SAFE)


def mask_url(url: str | URL) -> str:
    """The URL with its password shown as ``***`` (for logs and messages)."""
    u = url if isinstance(url, URL) else URL(url)
    if u.password is not None:
        u = u.with_password("***")
    return str(u)


class HTTPFetcher:
    """Fetches paths relative to one upstream base URL (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        *,
        policy: FetchPolicy | None = None,
        netrc: NetrcCredentials | None = None,
        request_auth: RequestAuth | None = None,
    ) -> None:
        base = URL(base_url)
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError(f"not an http(s) upstream URL: {mask_url(base)}")
        self._auth: str | None = None
        if base.user is not None:
            self._auth = _basic_auth(base.user, base.password or "")
            base = base.with_user(None)
        self._base = base
        self._session = session
        self._policy = policy or FetchPolicy()
        self._netrc = netrc or NetrcCredentials()
        self._request_auth = request_auth

    @property
    def name(self) -> str:
        """The base URL without credentials."""
        return str(self._base)

    def url_for(self, rel_path: str, kind: FileKind | None = None) -> URL:
        """The absolute URL of ``rel_path`` (already !-escaped), spelled as the go command
        spells it: a module proxy path percent-encoded (``url.PathEscape``, ``!`` as ``%21``),
        a checksum-database path joined as is (``web.Join`` keeps it in ``RawPath``)."""
        prefix = self._base.raw_path.rstrip("/")
        quoted = rel_path if kind is FileKind.SUMDB else path_escape(rel_path)
        return self._base.with_path(f"{prefix}/{quoted}", encoded=True)

    @contextlib.asynccontextmanager
    async def open(
        self, rel_path: str, kind: FileKind, *, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[_HTTPBody]:
        """GET ``rel_path``; yields the body once a 200 arrived (see the module docstring)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.deadline_for(kind)
        url = self.url_for(rel_path, kind)
        started = time.monotonic()
        logger.debug("upstream.fetch.started url=%s kind=%s", url, kind.value)
        resp = await self._respond(url, kind, dict(headers or {}), deadline)
        body = _HTTPBody(resp, kind, self.name, url, deadline)
        try:
            yield body
        finally:
            # A body not read to the end leaves the connection in an unknown state: drop it.
            if body.complete:
                resp.release()
            else:
                resp.close()
            logger.debug(
                "upstream.fetch.complete url=%s status=%d seconds=%.3f complete=%s",
                url,
                resp.status,
                time.monotonic() - started,
                body.complete,
            )

    async def _respond(
        self, url: URL, kind: FileKind, headers: dict[str, str], deadline: float
    ) -> aiohttp.ClientResponse:
        """Retry loop around :meth:`_follow` (5xx, 429, connection errors, timeouts)."""
        attempt = 0
        delay = self._policy.backoff
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    return await self._follow(url, headers)
            except _Retryable as exc:
                error: UpstreamError = exc.error
                wait = max(delay, exc.retry_after)
            except TimeoutError:
                error = UpstreamTimeout(
                    f"upstream {self.name} did not answer {_rel(url)} in time", upstream=self.name
                )
                wait = delay
            loop = asyncio.get_running_loop()
            attempt += 1
            if attempt > self._policy.retries or loop.time() + wait >= deadline:
                raise error
            logger.warning(
                "upstream.retry url=%s attempt=%d wait=%.2f reason=%s", url, attempt, wait, error
            )
            await asyncio.sleep(wait * (1 + random.random() / 4))
            delay *= 2

    async def _follow(self, url: URL, headers: dict[str, str]) -> aiohttp.ClientResponse:
        """One attempt: GET with manual redirects; returns a 200 response or raises. With a
        :class:`RequestAuth`, an https URL gets its headers, and a 4xx answer one more GET of
        the same URL with the headers it gives then (``web.get`` in cmd/go)."""
        origin = url
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self._policy.connect_timeout,
            sock_read=self._policy.read_timeout,
        )
        asker = self._request_auth if origin.scheme == "https" else None
        extra: Sequence[tuple[str, str]] = await asker.initial(origin) if asker else ()
        retried = False
        hop = 0
        while hop <= self._policy.max_redirects:
            hop += 1
            try:
                hop_headers = self._hop_headers(headers, extra, url, origin)
                resp = await self._session.get(
                    url, headers=hop_headers, allow_redirects=False, timeout=timeout
                )
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
                if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
                    raise TimeoutError from exc
                raise _Retryable(
                    UpstreamError(
                        f"cannot reach upstream {self.name}: {_describe(exc)}", upstream=self.name
                    )
                ) from exc
            except aiohttp.ClientResponseError as exc:
                # The answer did not parse (a header line over aiohttp's cap, a bad status
                # line): a bad answer like any other (502, ``|`` falls through). The same
                # upstream would send the same again, so it is not retried.
                raise UpstreamError(
                    f"upstream {self.name} sent a malformed answer for {_rel(url)}: "
                    f"{' '.join(exc.message.split())[:160]}",
                    upstream=self.name,
                ) from exc
            if resp.status == 200:
                return resp
            if resp.status in _REDIRECTS and "Location" in resp.headers:
                target = url.join(URL(resp.headers["Location"]))
                resp.release()
                if url.scheme == "https" and target.scheme != "https":
                    raise UpstreamError(
                        f"upstream {self.name}: redirected from secure URL to insecure URL "
                        f"({mask_url(target)})",
                        upstream=self.name,
                        status=resp.status,
                    )
                if target.scheme not in ("http", "https"):
                    raise UpstreamError(
                        f"upstream {self.name}: redirect to unsupported URL {mask_url(target)}",
                        upstream=self.name,
                    )
                logger.debug("upstream.redirect from=%s to=%s", url, mask_url(target))
                url = target.with_user(None)
                continue
            if asker is not None and not retried and 400 <= resp.status < 500:
                # GOAUTH: ask again with this URL and answer, then try once more.
                retried = True
                version = resp.version or aiohttp.HttpVersion11
                status_line = (
                    f"HTTP/{version.major}.{version.minor} "
                    f"{resp.status} {resp.reason or ''}".rstrip()
                )
                answer = list(resp.headers.items())
                resp.release()
                extra = await asker.after_refusal(origin, status_line, answer)
                url, hop = origin, 0
                continue
            raise await self._status_error(resp, url)
        raise UpstreamError(
            f"upstream {self.name}: stopped after {self._policy.max_redirects} redirects",
            upstream=self.name,
        )

    def _hop_headers(
        self,
        headers: Mapping[str, str],
        extra: Sequence[tuple[str, str]],
        url: URL,
        origin: URL,
    ) -> CIMultiDict[str]:
        """The request headers of one hop: GOAUTH's (on the first host only) before the
        URL's own ``user:password@``, or ``.netrc``."""
        out = CIMultiDict(headers)
        if extra and (url.host, url.port) == (origin.host, origin.port):
            for name, value in extra:
                out.add(name, value)
            return out
        auth = self._credentials(url, origin)
        if auth is not None:
            out["Authorization"] = auth
        return out

    def _credentials(self, url: URL, origin: URL) -> str | None:
        """The Authorization header value for this hop, if any."""
        # Credentials never follow a redirect to another host (or port).
        if (url.host, url.port) != (origin.host, origin.port):
            return None
        if self._auth is not None:
            return self._auth
        if self._request_auth is not None:
            return None  # GOAUTH decides (netrc is one of its methods)
        if url.scheme == "https" and url.host:
            found = self._netrc.lookup(url.host, url.explicit_port)
            if found is not None:
                return _basic_auth(*found)
        return None

    async def _status_error(self, resp: aiohttp.ClientResponse, url: URL) -> Exception:
        raw = await _error_body(resp)
        detail = _server_detail(raw)
        status = resp.status
        resp.release()
        text = f"upstream {self.name} answered {status} {resp.reason or ''}".rstrip()
        text += f" for {_rel(url)}" + (f": {detail}" if detail else "")
        if status in (404, 410):
            found = ModuleNotFound(text, gone=status == 410)
            found.go_text = go_http_error(str(_redacted(url)), status, resp.reason or "", raw)
            return found
        if status == 429:
            after = _retry_after(resp.headers.get("Retry-After"), self._policy.max_retry_after)
            throttled = UpstreamThrottled(text, upstream=self.name, retry_after=after)
            return _Retryable(throttled, retry_after=after)
        if status == 508:
            text += (
                " (the request came back through a proxy already on its path: fix the upstreams)"
            )
            return UpstreamLoop(text, upstream=self.name, status=status)
        err = UpstreamError(text, upstream=self.name, status=status)
        return _Retryable(err) if status >= 500 else err


class _Retryable(Exception):
    """Internal: an attempt failed in a way worth another try."""

    def __init__(self, error: UpstreamError, *, retry_after: float = 0.0) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class _HTTPBody:
    """The decoded body of a 200 response, capped and length-checked."""

    def __init__(
        self, resp: aiohttp.ClientResponse, kind: FileKind, upstream: str, url: URL, deadline: float
    ) -> None:
        self._resp = resp
        self._kind = kind
        self._upstream = upstream
        self._url = url
        self._deadline = deadline
        self._encoded = resp.headers.get("Content-Encoding", "identity").lower() != "identity"
        self.complete = False

    @property
    def content_length(self) -> int | None:
        if self._encoded:
            return None
        return self._resp.content_length

    @property
    def content_type(self) -> str | None:
        declared = self._resp.headers.get("Content-Type")
        if declared is None:
            return None
        return declared.partition(";")[0].strip().lower() or None

    async def chunks(self) -> AsyncIterator[bytes]:
        declared = self.content_length
        if declared is not None and declared > self._kind.max_size:
            raise BodyTooLarge(self._kind, upstream=self._upstream)
        received = 0
        stream = self._resp.content
        while True:
            try:
                async with asyncio.timeout_at(self._deadline):
                    chunk = await stream.read(_CHUNK)
            except TimeoutError:
                raise UpstreamTimeout(
                    f"upstream {self._upstream}: body of {_rel(self._url)} stalled "
                    f"after {received} bytes",
                    upstream=self._upstream,
                ) from None
            except aiohttp.ClientPayloadError as exc:
                raise UpstreamError(
                    f"upstream {self._upstream}: body of {_rel(self._url)} was cut short after "
                    f"{received} bytes ({_describe(exc)})",
                    upstream=self._upstream,
                ) from exc
            except (aiohttp.ClientConnectionError, OSError) as exc:
                if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
                    raise UpstreamTimeout(
                        f"upstream {self._upstream}: body of {_rel(self._url)} stalled "
                        f"after {received} bytes",
                        upstream=self._upstream,
                    ) from exc
                raise UpstreamError(
                    f"upstream {self._upstream}: connection lost reading {_rel(self._url)} "
                    f"after {received} bytes ({_describe(exc)})",
                    upstream=self._upstream,
                ) from exc
            if not chunk:
                break
            received += len(chunk)
            if received > self._kind.max_size:
                raise BodyTooLarge(self._kind, upstream=self._upstream)
            yield chunk
        if declared is not None and received != declared:
            raise UpstreamError(
                f"upstream {self._upstream}: body of {_rel(self._url)} has {received} bytes, "
                f"Content-Length said {declared}",
                upstream=self._upstream,
            )
        self.complete = True


async def _error_body(resp: aiohttp.ClientResponse) -> str:
    """The start of a text/plain error body (the go command shows no other kind), or ""."""
    ctype = resp.headers.get("Content-Type", "")
    mime, _, params = ctype.partition(";")
    if mime.strip().lower() != "text/plain":
        return ""
    charset = params.strip().lower().removeprefix("charset=").strip('"')
    if charset not in ("", "utf-8", "us-ascii"):
        return ""
    try:
        raw = await resp.content.read(_MAX_ERROR_DETAIL)
        return raw.decode("utf-8")
    except (aiohttp.ClientError, UnicodeDecodeError, OSError):
        return ""


def _server_detail(text: str) -> str:
    """The first line(s) of an error body on one line, for the server's own messages."""
    lines = [part.strip() for part in text.split("\n\n", 1)[0].splitlines()]
    if not all(part.isprintable() for part in lines):
        return ""  # the go command drops details with non-printing characters
    return " | ".join(part for part in lines[:8] if part)


def go_error_detail(text: str) -> str:
    """The go command's summary of an error body (``web.formatErrorDetail``): lines up to the
    first blank one, joined by newline and tab, at most 8 lines and 648 bytes; "" when the
    body holds a character that is neither graphic nor space."""
    if not all(c.isprintable() or c.isspace() for c in text):
        return ""
    out = ""
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            break
        if i > 0:
            out += "\n\t"
        if i >= _MAX_ERROR_LINES:
            out += "[Truncated: too many lines.]"
            break
        if len(out.encode()) + len(line.encode()) > _MAX_ERROR_DETAIL:
            out += "[Truncated: too long.]"
            break
        out += line
    return out


def go_http_error(url: str, status: int, reason: str, body: str) -> str:
    """The go command's ``web.HTTPError`` text: ``reading URL: 404 Not Found``, then the
    server's response (on the same line, or indented below when it has several lines)."""
    text = f"reading {url}: {status} {reason}".rstrip()
    detail = go_error_detail(body)
    if detail:
        sep = "\n\t" if "\n" in detail else " "
        text += f"\n\tserver response:{sep}{detail}"
    return text


def _redacted(url: URL) -> URL:
    """The URL with its password replaced, as Go's ``URL.Redacted``."""
    return url.with_password("xxxxx") if url.password else url


def _basic_auth(user: str, password: str) -> str:
    """Go's SetBasicAuth: base64 of ``user:password`` (UTF-8)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _retry_after(value: str | None, cap: float) -> float:
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        return 0.0  # an HTTP date: not worth trusting a remote clock for
    return max(0.0, min(seconds, cap))


def _rel(url: URL) -> str:
    return url.raw_path


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
