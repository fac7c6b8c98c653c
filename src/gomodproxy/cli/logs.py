"""Log output of the long-running commands: lines batched into few writes.

A busy proxy logs one access line per request; written one ``write(2)`` at a time they cost a
system call each. :class:`BatchingStreamHandler` keeps formatted lines and writes them
together: when ``max_lines`` are waiting, when ``interval`` seconds passed since the last
write, at every WARNING or worse (so errors are never held back), and when the program calls
:meth:`flush` (``serve`` does twice a second; ``logging.shutdown`` does at exit). A process
killed with SIGKILL loses at most the last ``interval`` of lines.
"""

from __future__ import annotations

import logging
import time
from typing import TextIO

__all__ = ["BatchingStreamHandler", "batch_log_output"]


class BatchingStreamHandler(logging.StreamHandler[TextIO]):
    """A :class:`logging.StreamHandler` that writes lines in batches (see the module)."""

    def __init__(self, stream: TextIO, *, interval: float = 0.5, max_lines: int = 256) -> None:
        super().__init__(stream)
        self._interval = interval
        self._max_lines = max_lines
        self._pending: list[str] = []
        self._written = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        with self.lock:  # type: ignore[union-attr]  # always set by Handler.createLock
            self._pending.append(line)
            if (
                record.levelno >= logging.WARNING
                or len(self._pending) >= self._max_lines
                or time.monotonic() - self._written >= self._interval
            ):
                self._write_pending()

    def flush(self) -> None:
        """Write every waiting line now."""
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()

    def _write_pending(self) -> None:
        self._written = time.monotonic()
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stderr closed or gone: nothing sensible left to do with log lines


def batch_log_output() -> list[BatchingStreamHandler]:
    """Replace the root logger's stream handlers by batching ones (same stream and format)."""
    root = logging.getLogger()
    out: list[BatchingStreamHandler] = []
    for handler in list(root.handlers):
        if type(handler) is not logging.StreamHandler:
            continue
        batching = BatchingStreamHandler(handler.stream)
        batching.setFormatter(handler.formatter)
        batching.setLevel(handler.level)
        root.removeHandler(handler)
        root.addHandler(batching)
        out.append(batching)
    return out
