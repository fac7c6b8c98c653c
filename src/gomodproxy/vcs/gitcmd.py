"""Running the ``git`` binary safely: the one place gomodproxy starts git.

Every call (fault catalogue 59-61, 65):

- gets an argument list, never a shell; the caller puts ``--end-of-options`` or ``--`` before
  anything built from input, and :func:`check_arg` refuses an input-built argument that starts
  with ``-`` before anything runs;
- runs with an allow-listed environment: ``PATH`` and the locale only, ``HOME`` pointed at an
  empty folder of ours, system and global configuration ignored (``GIT_CONFIG_NOSYSTEM``,
  ``GIT_CONFIG_GLOBAL=/dev/null``), no prompts (``GIT_TERMINAL_PROMPT=0``, ssh in batch mode),
  the transports limited by ``GIT_ALLOW_PROTOCOL``;
- has hooks, fsmonitor, submodule recursion, credential helpers and redirects switched off by
  ``-c`` options that come before the subcommand;
- ends at a deadline: the whole process group is killed;
- has its output capped (or streamed to a file under a cap).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gomodproxy.errors import ProxyError, UpstreamError, UpstreamTimeout

__all__ = [
    "GitError",
    "GitFailed",
    "GitOutputTooLarge",
    "GitRunner",
    "GitTimeout",
    "UnsafeArgument",
    "check_arg",
    "mask_secrets",
    "read_user_instead_of",
]

logger = logging.getLogger(__name__)

_CHUNK = 256 * 1024
#: Options given to every git call, before the subcommand.
_SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.sshCommand=ssh -o BatchMode=yes",
    "core.askPass=",
    "credential.helper=",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "protocol.allow=never",
    "http.followRedirects=false",
    "advice.detachedHead=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "core.longpaths=false",
    "safe.bareRepository=all",
)


class GitError(UpstreamError):
    """A git call failed (not found vs other failures is decided by the caller)."""


class UnsafeArgument(ProxyError):
    """An argument built from input would be read by git as an option (fault catalogue 59)."""

    status_hint = 404


class GitFailed(GitError):
    """git exited with a non-zero status; ``stderr`` is kept (masked) for classification."""

    def __init__(self, message: str, *, returncode: int, stderr: str) -> None:
        super().__init__(message, upstream="direct")
        self.returncode = returncode
        self.stderr = stderr


class GitTimeout(UpstreamTimeout):
    """A git call passed its deadline; its process group was killed."""


class GitOutputTooLarge(GitError):
    """A git call wrote more than its cap (the cap is applied while reading)."""


def check_arg(value: str, what: str) -> str:
    """Refuse ``value`` (from a request, a configuration or a repository) that starts with
    ``-`` or holds a NUL or newline: git could read it as an option (fault catalogue 59)."""
    if not value or value.startswith("-") or any(c in value for c in "\x00\n\r"):
        raise UnsafeArgument(f"refusing {what} {value!r}: it could be read as a git option")
    return value


def mask_secrets(text: str) -> str:
    """Blank the password/token part of any URL in ``text`` (``https://user:***@host``)."""
    out: list[str] = []
    for word in text.split(" "):
        scheme, sep, rest = word.partition("://")
        at = rest.find("@")
        slash = rest.find("/")
        if sep and at > 0 and (slash < 0 or at < slash):
            userinfo = rest[:at]
            user = userinfo.split(":", 1)[0]
            word = (
                f"{scheme}://{user}:***@{rest[at + 1 :]}"
                if ":" in userinfo
                else (f"{scheme}://***@{rest[at + 1 :]}")
            )
        out.append(word)
    return " ".join(out)


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> bytes:
    """Everything ``stream`` gives until its end, keeping the first ``cap`` bytes (one
    ``read(n)`` returns as soon as some bytes are there: ssh writes its reason last)."""
    kept = bytearray()
    while chunk := await stream.read(_CHUNK):
        kept += chunk[: max(0, cap - len(kept))]
    return bytes(kept)


@dataclass(frozen=True, slots=True)
class GitRunner:
    """Runs git with the safe options and environment; one per set of settings."""

    #: An empty folder of ours used as ``HOME`` (no user configuration, no ``.netrc``).
    home: Path
    timeout: float = 120.0
    #: Transports allowed by default (``GIT_ALLOW_PROTOCOL``); callers add a rewrite's scheme.
    protocols: tuple[str, ...] = ("https", "ssh")
    git: str = "git"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: Blanks configured secrets (tokens) in git's error output, besides URL passwords.
    redact: Callable[[str], str] | None = None

    def environ(
        self,
        git_dir: Path | None,
        protocols: Sequence[str],
        config: Mapping[str, str] | None = None,
        env_extra: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The allow-listed environment of one call; ``config`` entries are given through
        ``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` (never on the command line, where other
        users could read them); ``env_extra`` (``GIT_SSH_COMMAND``) is added as is."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LC_ALL": "C",
            "LANG": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "GIT_ALLOW_PROTOCOL": ":".join(protocols),
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_NO_LAZY_FETCH": "1",
            "GIT_LFS_SKIP_SMUDGE": "1",
        }
        if git_dir is not None:
            env["GIT_DIR"] = str(git_dir)
        env.update(self.extra_env)
        env.update(env_extra or {})
        if config:
            env["GIT_CONFIG_COUNT"] = str(len(config))
            for i, (key, value) in enumerate(config.items()):
                env[f"GIT_CONFIG_KEY_{i}"] = key
                env[f"GIT_CONFIG_VALUE_{i}"] = value
        return env

    def _argv(self, args: Sequence[str]) -> list[str]:
        argv = [self.git]
        for item in _SAFE_CONFIG:
            argv += ["-c", item]
        return argv + list(args)

    async def run(
        self,
        args: Sequence[str],
        *,
        git_dir: Path | None,
        protocols: Sequence[str] | None = None,
        max_output: int = 64 << 20,
        cwd: Path | None = None,
        config: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> bytes:
        """Run ``git args`` and return its standard output; raise :class:`GitFailed` on a
        non-zero exit, :class:`GitTimeout` at the deadline, :class:`GitOutputTooLarge`."""
        out = bytearray()

        def sink(chunk: bytes) -> None:
            out.extend(chunk)
            if len(out) > max_output:
                raise GitOutputTooLarge(f"git {args[0]} wrote more than {max_output} bytes")

        await self._run(args, git_dir, protocols, sink, cwd, config=config, env_extra=env)
        return bytes(out)

    async def run_to_file(
        self,
        args: Sequence[str],
        out: BinaryIO,
        *,
        git_dir: Path | None,
        max_output: int,
        too_large: str,
    ) -> int:
        """Run ``git args`` writing its output to ``out`` (writes done in a thread) and stop it
        as soon as the output passes ``max_output`` (raising ``GitOutputTooLarge(too_large)``).
        """
        written = 0
        pending: list[bytes] = []

        def sink(chunk: bytes) -> None:
            nonlocal written
            written += len(chunk)
            if written > max_output:
                raise GitOutputTooLarge(too_large)
            pending.append(chunk)

        async def flush() -> None:
            while pending:
                data = b"".join(pending)
                pending.clear()
                await asyncio.to_thread(out.write, data)

        await self._run(args, git_dir, None, sink, None, flush)
        await flush()
        return written

    async def _run(
        self,
        args: Sequence[str],
        git_dir: Path | None,
        protocols: Sequence[str] | None,
        sink: object,
        cwd: Path | None,
        flush: object = None,
        *,
        config: Mapping[str, str] | None = None,
        env_extra: Mapping[str, str] | None = None,
    ) -> None:
        argv = self._argv(args)
        env = self.environ(git_dir, protocols or self.protocols, config, env_extra)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=str(cwd or self.home),
                start_new_session=True,
            )
        except OSError as exc:
            raise _cannot_run(self.git, exc) from None
        assert proc.stdout is not None
        assert proc.stderr is not None
        stderr_task = asyncio.ensure_future(_read_capped(proc.stderr, 1 << 20))
        try:
            async with asyncio.timeout(self.timeout):
                while chunk := await proc.stdout.read(_CHUNK):
                    sink(chunk)  # type: ignore[operator]
                    if flush is not None:
                        await flush()  # type: ignore[operator]
                stderr = await stderr_task
                code = await proc.wait()
        except TimeoutError:
            raise GitTimeout(
                f"git {args[0]} did not finish within {self.timeout:g}s", upstream="direct"
            ) from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            if not stderr_task.done():
                stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await stderr_task
        if code != 0:
            lines = stderr.decode("utf-8", "replace").strip().splitlines()
            # ssh's banners (lines of '@') say nothing; its reason follows them.
            text = mask_secrets("\n".join(line for line in lines if line.strip("@ ")))
            if self.redact is not None:
                text = self.redact(text)
            raise GitFailed(
                f"git {args[0]} failed (exit {code}): {text}", returncode=code, stderr=text
            )


def _cannot_run(git: str, exc: OSError) -> GitError:
    return GitError(
        f"cannot run {git}: {exc.strerror or exc}; install git (modules fetched straight from "
        "their repositories need it)",
        upstream="direct",
    )


#: What reading the user's git configuration may see of the environment (nothing else).
_USER_CONFIG_ENV = (
    "HOME",
    "XDG_CONFIG_HOME",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
)


async def read_user_instead_of(
    environ: Mapping[str, str], *, git: str = "git", deadline: float = 30.0, cwd: Path
) -> tuple[tuple[str, str], ...]:
    """The user's ``url.<base>.insteadOf`` settings (system, then global configuration, as
    ``git config`` finds them for ``environ``) as ``(base, insteadOf)`` pairs. Only these are
    taken from the user's configuration (the download client acts for the user, as the go
    command's git does); every other setting stays ignored. ``cwd`` is a folder outside any
    repository (``--system``/``--global`` never read a repository's own configuration)."""
    env = {k: environ[k] for k in _USER_CONFIG_ENV if environ.get(k)}
    env.update(PATH=environ.get("PATH", os.environ.get("PATH", "/usr/bin:/bin")), LC_ALL="C")
    found: list[tuple[str, str]] = []
    for scope in ("--system", "--global"):
        if scope == "--system" and env.get("GIT_CONFIG_NOSYSTEM"):
            continue
        try:
            proc = await asyncio.create_subprocess_exec(
                git,
                "config",
                scope,
                "--null",
                "--get-regexp",
                r"^url\..*\.insteadof$",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=str(cwd),
                start_new_session=True,
            )
        except OSError as exc:
            raise _cannot_run(git, exc) from None
        try:
            async with asyncio.timeout(deadline):
                out, _ = await proc.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise GitTimeout(
                f"git config {scope} did not finish within {deadline:g}s", upstream="direct"
            ) from None
        # Exit 1: no such setting; other failures (no global file...) leave nothing to add.
        if proc.returncode != 0:
            continue
        for record in out.decode("utf-8", "replace").split("\0"):
            key, _, value = record.partition("\n")
            if key.lower().startswith("url.") and key.lower().endswith(".insteadof"):
                found.append((key[4 : -len(".insteadof")], value))
    return tuple(found)
