"""Issue 13, output: ``gomodproxy probe`` shows its progress while it runs on a terminal (a
pseudo-terminal here, as a person's shell gives it), and never when standard output is a pipe
or carries the JSON report (``--json -``)."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import sys
from pathlib import Path

import pytest

from tests.integration.test_probe import MODULES, _modules_text
from tests.origin import running_origin
from tests.proxykit import publish

PROGRESS = b"probing"  # the overall line's label


def _read_all(fd: int) -> bytes:
    """Everything written to a pseudo-terminal until its last writer closed it."""
    out = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        out += chunk
    return bytes(out)


async def _probe(
    args: list[str], *, tty: bool, env_extra: dict[str, str] | None = None
) -> tuple[int, bytes, bytes]:
    """Run ``gomodproxy probe ARGS`` with standard output on a pseudo-terminal or a pipe."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", **(env_extra or {})}
    argv = [sys.executable, "-m", "gomodproxy", "probe", *args]
    if not tty:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out, err
    master, slave = pty.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=slave, stderr=asyncio.subprocess.PIPE
        )
        os.close(slave)
        slave = -1
        reading = asyncio.create_task(asyncio.to_thread(_read_all, master))
        assert proc.stderr is not None
        err = await proc.stderr.read()
        await proc.wait()
        out = await reading
    finally:
        os.close(master)
        if slave != -1:
            os.close(slave)
    assert proc.returncode is not None
    return proc.returncode, out, err


@pytest.mark.timeout(120)
@pytest.mark.asyncio
async def test_progress_shows_on_a_terminal_and_never_in_a_pipe_or_the_json(
    tmp_path: Path,
) -> None:
    modules = tmp_path / "modules.txt"
    modules.write_text(_modules_text(MODULES))
    async with running_origin() as origin:
        publish(origin, *MODULES)
        args = ["--mirrors", f"@{tmp_path / 'mirrors.txt'}", "--modules", str(modules)]
        args += ["--sumdb", "off"]
        (tmp_path / "mirrors.txt").write_text(f"origin-under-test {origin.url}\n")

        status, on_tty, err = await _probe(args, tty=True)
        assert status == 3, err.decode(errors="replace")  # nothing proven without a database
        # The progress lines, with the overall count (42 planned: 6 cold list/latest, 18 cold
        # files, 18 warm) and the mirror's own line, then the table.
        assert PROGRESS in on_tty
        assert b"42/42" in on_tty
        assert b"origin-under-test" in on_tty
        assert b"\x1b[" in on_tty  # drawn and erased with terminal control sequences
        assert b"unverified" in on_tty  # the table after it

        status, piped, err = await _probe(args, tty=False)
        assert status == 3, err.decode(errors="replace")
        assert b"unverified" in piped
        assert PROGRESS not in piped
        assert b"\x1b[" not in piped

        status, json_on_tty, err = await _probe([*args, "--json", "-"], tty=True)
        assert status == 3, err.decode(errors="replace")
        assert PROGRESS not in json_on_tty
        report = json.loads(json_on_tty.replace(b"\r\n", b"\n"))
        assert report["requests_sent"] == 42
