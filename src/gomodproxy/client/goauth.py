"""GOAUTH as the go command reads it (``cmd/go/internal/auth``, ``go help goauth``).

GOAUTH is a ``;``-separated list of methods (default ``netrc``):

- ``off``: no credentials (alone only);
- ``netrc``: the ``.netrc`` file (``$NETRC``, else ``~/.netrc``), each ``machine`` a prefix;
- ``git DIR``: ``git credential fill`` run in the absolute folder DIR for the URL that was
  refused, the credential then checked with a HEAD request and ``git credential approve`` or
  ``reject`` run as the go command runs them;
- anything else: a command (words split as the go command splits them, ``'...'`` and
  ``"..."`` kept whole) printing credential sets, URLs then headers, each block ending with
  an empty line.

Credentials apply to https requests only, by URL prefix: ``host[:port][/path]``, the longest
prefix of the request URL that has any wins. Before the first https request every method runs
once without a URL (``git`` waits for one); after a 4xx answer every method runs again with the
URL as last argument (a command gets the answer's status line and headers on stdin) and the
request is tried once more. Methods run last to first, so for one prefix the first method
listed wins. Errors of a method are printed (with ``-x``) only when no method gave a
credential for the URL.

Pure parsing (:func:`parse_goauth`, :func:`parse_user_auth`, :func:`parse_git_credential`,
:class:`CredentialCache`) plus :class:`GoAuth`, which runs the methods for the HTTP fetcher.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import aiohttp
from yarl import URL

from gomodproxy.errors import ConfigError
from gomodproxy.upstream.netrc import netrc_path, parse_netrc

__all__ = [
    "AuthMethod",
    "CredentialCache",
    "GoAuth",
    "check_goauth",
    "parse_git_credential",
    "parse_goauth",
    "parse_user_auth",
    "split_command",
]

Headers = tuple[tuple[str, str], ...]

#: Tries of the HEAD request that checks a credential from ``git credential fill``.
_GIT_CHECK_TRIES = 3
#: How long a command or git may run before its answer is given up.
_COMMAND_DEADLINE = 60.0
#: How long the end of a run waits for ``git credential approve/reject`` to finish.
_CLOSE_WAIT = 10.0
# RFC 7230 token characters (a header name).
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class AuthMethod:
    """One GOAUTH entry: ``kind`` is ``off``, ``netrc``, ``git`` or ``command``."""

    kind: str
    text: str
    git_dir: str = ""


def parse_goauth(spec: str) -> tuple[AuthMethod, ...]:
    """The methods of a GOAUTH value in the order they run (last listed first); raises
    :class:`ConfigError` worded as the go command's fatal errors. ``off`` gives ()."""
    entries = spec.split(";")
    methods: list[AuthMethod] = []
    for raw in reversed(entries):
        command = raw.strip()
        words = command.split()
        if not words:
            raise ConfigError(f"GOAUTH encountered an empty command (GOAUTH={spec})")
        if words[0] == "off":
            if len(entries) != 1:
                raise ConfigError(
                    "GOAUTH=off cannot be combined with other authentication commands "
                    f"(GOAUTH={spec})"
                )
            return ()
        if words[0] == "netrc":
            methods.append(AuthMethod("netrc", command))
        elif words[0] == "git":
            base = "GOAUTH=git dir method requires an absolute path to the git working directory"
            if len(words) != 2:
                raise ConfigError(base)
            if not os.path.isabs(words[1]):
                raise ConfigError(base + ", dir is not absolute")
            methods.append(AuthMethod("git", command, git_dir=words[1]))
        else:
            methods.append(AuthMethod("command", command))
    return tuple(methods)


def check_goauth(spec: str) -> tuple[AuthMethod, ...]:
    """:func:`parse_goauth` plus the go command's checks of each ``git`` folder (blocking)."""
    methods = parse_goauth(spec)
    for m in methods:
        if m.kind != "git":
            continue
        try:
            is_dir = Path(m.git_dir).is_dir()
            os.stat(m.git_dir)
        except OSError as exc:
            raise ConfigError(
                f"GOAUTH=git encountered an error; cannot stat {m.git_dir}: {exc.strerror or exc}"
            ) from None
        if not is_dir:
            raise ConfigError(
                "GOAUTH=git dir method requires an absolute path to the git working "
                "directory, dir is not a directory"
            )
    return methods


def split_command(command: str) -> list[str]:
    """Words of a command as ``cmd/internal/quoted.Split`` makes them: split at blanks,
    ``'...'`` and ``"..."`` kept whole (no escapes inside)."""
    out: list[str] = []
    s = command
    blanks = " \t\n\r"
    while s:
        s = s.lstrip(blanks)
        if not s:
            break
        if s[0] in "\"'":
            quote = s[0]
            end = s.find(quote, 1)
            if end < 0:
                raise ValueError(f"unterminated {quote} string")
            out.append(s[1:end])
            s = s[end + 1 :]
            continue
        i = 0
        while i < len(s) and s[i] not in blanks:
            i += 1
        out.append(s[:i])
        s = s[i:]
    return out


def _valid_name(name: str) -> bool:
    return bool(name) and all(c in _TOKEN for c in name)


def _valid_value(value: str) -> bool:
    return all(not (ord(c) < 32 or ord(c) == 127) or c in " \t" for c in value)


def _request_uri(line: str) -> str:
    """The go command's ``url.ParseRequestURI`` check: an absolute URL or an absolute path."""
    parts = urllib.parse.urlsplit(line)
    if line.startswith("/") or (parts.scheme and (parts.netloc or parts.path.startswith("/"))):
        return line
    raise ValueError(f'parse "{line}": invalid URI for request')


def parse_user_auth(data: str) -> dict[str, Headers]:
    """A GOAUTH command's output: prefix (without ``https://``) -> headers (``parseUserAuth``).
    Raises ValueError worded as the go command."""
    credentials: dict[str, Headers] = {}
    while data:
        urls: list[str] = []
        while True:
            line, sep, data = data.partition("\n")
            if not sep:
                raise ValueError("invalid format: missing empty line after URLs")
            if line == "":
                break
            try:
                urls.append(_request_uri(line))
            except ValueError as exc:
                raise ValueError(f"could not parse URL {line}: {exc}") from None
        headers: list[tuple[str, str]] = []
        while True:
            line, sep, data = data.partition("\n")
            if not sep:
                raise ValueError("invalid format: missing empty line after headers")
            if line == "":
                break
            name, found, value = line.partition(": ")
            value = value.strip()
            if not found or not _valid_name(name) or not _valid_value(value):
                raise ValueError("invalid format: invalid header line")
            headers.append((name, value))
        for u in urls:
            credentials[u.removeprefix("https://")] = tuple(headers)
    return credentials


def parse_git_credential(out: str) -> tuple[str, str, str]:
    """``(prefix URL, username, password)`` from ``git credential fill`` output
    (``parseGitAuth``); the prefix is "" when none can be made."""
    scheme = host = path = user = password = ""
    whole = ""
    for raw in out.split("\n"):
        key, sep, value = raw.strip().partition("=")
        if not sep:
            continue
        if key == "protocol":
            scheme = value
        elif key == "host":
            host = value
        elif key == "path":
            path = value
        elif key == "username":
            user = value
        elif key == "password":
            password = value
        elif key == "url":
            with contextlib.suppress(ValueError):
                whole = _request_uri(value)
                scheme = host = path = ""
    if whole:
        return whole, user, password
    prefix = ""
    if scheme:
        prefix = scheme + ":"
    if scheme or host:
        prefix += "//" + host
    if path:
        escaped = urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~")
        prefix += escaped if escaped.startswith("/") or not host else "/" + escaped
    return prefix, user, password


def basic_auth(user: str, password: str) -> Headers:
    """Go's ``SetBasicAuth`` as a header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return (("Authorization", "Basic " + token),)


def _trim(prefix: str) -> str:
    return prefix.removeprefix("https://").removesuffix("/")


class CredentialCache:
    """Headers per URL prefix (``storeCredential``/``loadCredential``)."""

    def __init__(self) -> None:
        self._by_prefix: dict[str, Headers] = {}

    def store(self, prefix: str, headers: Headers) -> None:
        """Keep ``headers`` for ``prefix`` (``https://`` and a final ``/`` dropped); no
        headers forget the prefix."""
        key = _trim(prefix)
        if headers:
            self._by_prefix[key] = headers
        else:
            self._by_prefix.pop(key, None)

    def load(self, url: str) -> Headers | None:
        """The headers of the longest stored prefix of ``url`` (cut at ``/``), or None."""
        current = _trim(url)
        while True:
            found = self._by_prefix.get(current)
            if found is not None:
                return found
            cut = current.rfind("/")
            if cut < 0:
                return None
            current = current[:cut]


class GoAuth:
    """The :class:`~gomodproxy.upstream.proxyclient.RequestAuth` of the download client:
    runs the GOAUTH methods as the go command does (see the module docstring)."""

    def __init__(
        self,
        methods: Sequence[AuthMethod],
        environ: Mapping[str, str],
        *,
        cwd: Path,
        trace: TextIO | None = None,
    ) -> None:
        self._methods = tuple(methods)
        self._environ = dict(environ)
        self._cwd = cwd
        self._trace = trace
        self._cache = CredentialCache()
        self._first_run = asyncio.Lock()
        self._ran = False
        self._netrc_entries: list[tuple[str, Headers]] | None = None
        self._netrc_error = ""
        self._session: aiohttp.ClientSession | None = None
        self._checks: set[asyncio.Task[None]] = set()
        #: Method runs so far (commands and git), for tests.
        self.runs = 0

    @classmethod
    def from_spec(
        cls, spec: str, environ: Mapping[str, str], *, cwd: Path, trace: TextIO | None = None
    ) -> GoAuth:
        """Check ``spec`` (blocking: stats git folders) and build the authenticator."""
        return cls(check_goauth(spec), environ, cwd=cwd, trace=trace)

    # --- RequestAuth ---------------------------------------------------------------------

    async def initial(self, url: URL) -> Headers:
        """Run every method once (the first time), then the credential for ``url``."""
        if not self._methods:
            return ()
        async with self._first_run:
            if not self._ran:
                await self._run_all(None, None)
                self._ran = True
        return self._cache.load(str(url)) or ()

    async def after_refusal(
        self, url: URL, status_line: str, headers: Sequence[tuple[str, str]]
    ) -> Headers:
        """Run every method again for ``url`` and this answer, then the credential."""
        if not self._methods:
            return ()
        answer = status_line + "\n" + "".join(f"{k}: {v}\n" for k, v in headers) + "\n"
        await self._run_all(str(url), answer)
        return self._cache.load(str(url)) or ()

    # --- running the methods -------------------------------------------------------------

    async def _run_all(self, url: str | None, answer: str | None) -> None:
        errors: list[str] = []
        for m in self._methods:
            try:
                if m.kind == "netrc":
                    for prefix, headers in await self._read_netrc():
                        self._cache.store(prefix, headers)
                elif m.kind == "git":
                    if url is not None:
                        prefix, headers = await self._git_fill(m.git_dir, url)
                        self._cache.store(prefix, headers)
                else:
                    for prefix, headers in (await self._command(m.text, url, answer)).items():
                        self._cache.store(prefix, headers)
            except ValueError as exc:
                errors.append(f"GOAUTH={m.text}: {exc}")
        if errors and url is not None and self._trace is not None:
            self._report(url, errors, self._trace)

    def _report(self, url: str, errors: list[str], out: TextIO) -> None:
        """With -x: the methods' errors, when none of them gave a credential for ``url``."""
        if self._cache.load(url) is None:
            out.write(f"GOAUTH encountered errors for {url}:\n")
            for e in errors:
                out.write(f"  {e}\n")

    async def _read_netrc(self) -> list[tuple[str, Headers]]:
        """The .netrc entries as (machine, header), later ones first so the first wins."""
        if self._netrc_entries is None:
            self._netrc_entries = await asyncio.to_thread(self._load_netrc)
        if self._netrc_error:
            raise ValueError(self._netrc_error)
        return self._netrc_entries

    def _load_netrc(self) -> list[tuple[str, Headers]]:
        path = netrc_path(self._environ)
        if path is None:
            self._netrc_error = "$HOME is not defined"
            return []
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        except OSError as exc:
            self._netrc_error = f"open {path}: {exc.strerror or exc}"
            return []
        entries = parse_netrc(text)
        return [(e.machine, basic_auth(e.login, e.password)) for e in reversed(entries)]

    async def _exec(
        self, argv: Sequence[str], stdin: str | None, cwd: Path
    ) -> tuple[int, bytes, bytes]:
        self.runs += 1
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=cwd,
                env=self._environ,
            )
        except OSError as exc:
            raise ValueError(f'exec: "{argv[0]}": {exc.strerror or exc}') from None
        try:
            async with asyncio.timeout(_COMMAND_DEADLINE):
                out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise ValueError(f"{argv[0]} did not finish in {_COMMAND_DEADLINE:.0f}s") from None
        return proc.returncode or 0, out, err

    async def _command(
        self, command: str, url: str | None, answer: str | None
    ) -> dict[str, Headers]:
        """Run a custom GOAUTH command (``runAuthCommand``)."""
        try:
            argv = split_command(command)
        except ValueError as exc:
            raise ValueError(f"cannot parse GOAUTH command {command}: {exc}") from None
        if url is not None:
            argv.append(url)
        code, out, err = await self._exec(argv, answer, self._cwd)
        if code != 0:
            raise ValueError(
                f"could not run command {command}: exit status {code}\n"
                f"{err.decode('utf-8', 'replace')}"
            )
        try:
            return parse_user_auth(out.decode("utf-8", "replace"))
        except ValueError as exc:
            raise ValueError(f"cannot parse output of GOAUTH command {command}: {exc}") from None

    async def _git_fill(self, folder: str, url: str) -> tuple[str, Headers]:
        """``git credential fill`` in ``folder`` for ``url`` (``runGitAuth``)."""
        code, out, err = await self._exec(
            ["git", "credential", "fill"], f"url={url}\n", Path(folder)
        )
        text = (out + err).decode("utf-8", "replace")
        if code != 0:
            raise ValueError(
                f"'git credential fill' failed (url={url}): exit status {code}\n{text}"
            )
        prefix, user, password = parse_git_credential(text)
        if not prefix:
            raise ValueError(f"'git credential fill' failed for url={url}, could not parse url")
        if not url.startswith(prefix):
            raise ValueError(
                f"requested a credential for {url}, but 'git credential fill' provided one "
                f"for {prefix}"
            )
        headers = basic_auth(user, password)
        task = asyncio.create_task(self._git_check(folder, prefix, headers, out))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)
        return prefix, headers

    async def _git_check(self, folder: str, prefix: str, headers: Headers, filled: bytes) -> None:
        """HEAD the prefix with the credential; 200 approves it, 401 rejects it
        (``updateGitCredentialHelper``), so the helper's cache learns what works."""
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=False)
        for _ in range(_GIT_CHECK_TRIES):
            try:
                async with self._session.head(
                    prefix,
                    headers=dict(headers),
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=_COMMAND_DEADLINE),
                ) as resp:
                    status = resp.status
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
                continue
            if status in (200, 401):
                action = "approve" if status == 200 else "reject"
                with contextlib.suppress(ValueError):
                    await self._exec(
                        ["git", "credential", action],
                        filled.decode("utf-8", "replace"),
                        Path(folder),
                    )
                return

    async def aclose(self) -> None:
        """Let running credential checks finish (bounded), then close the HTTP session."""
        if self._checks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CLOSE_WAIT):
                    await asyncio.gather(*self._checks, return_exceptions=True)
            for task in list(self._checks):
                task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
