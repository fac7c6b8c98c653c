"""Client of the Go oracle helper (tests/gohelper, built to .cache/bin/gohelper).

The helper answers questions with golang.org/x/mod itself, one JSON object per line each way,
so differential tests can hold our Python ports to the Go code they port. It is a test oracle
only: gomodproxy's own code never runs Go.

Arguments of type ``bytes`` are sent as base64 (Go decodes them into ``[]byte``); everything else
is sent as JSON. A protocol failure (unknown op, bad argument, a panic in the helper) raises
:class:`GoHelperError`; errors of the library itself come back as text in ``err`` fields.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import IO, Any

import pytest

__all__ = ["GoHelper", "GoHelperError", "gohelper_binary"]

_REPO_ROOT = Path(__file__).resolve().parents[1]
_SOURCE_DIR = _REPO_ROOT / "tests" / "gohelper"
_BINARY = _REPO_ROOT / ".cache" / "bin" / "gohelper"


class GoHelperError(Exception):
    """The helper could not answer (protocol error, crash): a bug in the test, not the code."""


def gohelper_binary() -> Path:
    """The built helper; fails (never skips) when it is missing or older than its source."""
    if not _BINARY.is_file():
        pytest.fail(
            "the Go oracle helper is not built: run scripts/fetch-corpus "
            "(it builds .cache/bin/gohelper)",
            pytrace=False,
        )
    built = _BINARY.stat().st_mtime
    stale = [p.name for p in _SOURCE_DIR.glob("*.go") if p.stat().st_mtime > built]
    stale += [p.name for p in _SOURCE_DIR.glob("go.*") if p.stat().st_mtime > built]
    if stale:
        pytest.fail(
            f"the Go oracle helper is older than {', '.join(sorted(stale))}: "
            "run scripts/fetch-corpus to rebuild it",
            pytrace=False,
        )
    return _BINARY


def _encode(value: object) -> object:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


class GoHelper:
    """A running helper process; use as a context manager or call :meth:`close`."""

    def __init__(self, binary: Path | None = None) -> None:
        self._proc = subprocess.Popen(
            [str(binary or gohelper_binary())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.calls = 0

    def __enter__(self) -> GoHelper:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pipes(self) -> tuple[IO[bytes], IO[bytes]]:
        stdin, stdout = self._proc.stdin, self._proc.stdout
        if stdin is None or stdout is None:
            raise GoHelperError("the helper process has no pipes")
        return stdin, stdout

    def call(self, op: str, **kwargs: object) -> dict[str, Any]:
        """Ask the helper ``op`` with ``kwargs``; return its answer object."""
        stdin, stdout = self._pipes()
        request = {"op": op, **{k: _encode(v) for k, v in kwargs.items()}}
        line = json.dumps(request, ensure_ascii=True).encode("ascii") + b"\n"
        try:
            stdin.write(line)
            stdin.flush()
        except BrokenPipeError as exc:
            raise GoHelperError(f"the helper died: {self._stderr()}") from exc
        answer_line = stdout.readline()
        if not answer_line:
            raise GoHelperError(f"the helper closed its output: {self._stderr()}")
        self.calls += 1
        answer: dict[str, Any] = json.loads(answer_line)
        if "protocol_error" in answer:
            raise GoHelperError(f"{op}: {answer['protocol_error']}")
        return answer

    def _stderr(self) -> str:
        self._proc.poll()
        if self._proc.returncode is None or self._proc.stderr is None:
            return "(still running)"
        return self._proc.stderr.read().decode("utf-8", "replace")

    def close(self) -> None:
        """Close the helper's input and wait for it to exit."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for pipe in (self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()
