"""The live progress display of ``gomodproxy download`` on a terminal (rich).

Shown on stderr only when it is a terminal and ``-json`` is off; otherwise
:class:`NoProgress` keeps the command as quiet as the go command. It shows modules done of
the total, bytes received, the rate and the module in flight.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Protocol, TextIO

__all__ = ["NoProgress", "ProgressSink", "TerminalProgress", "progress_for"]


class ProgressSink(Protocol):
    """What the download reports as it goes."""

    def total(self, modules: int) -> None:
        """The number of modules to download is known."""
        ...

    def started(self, module: str) -> None:
        """A module's download started."""
        ...

    def finished(self, module: str) -> None:
        """A module's download finished (or failed)."""
        ...

    def received(self, n: int) -> None:
        """``n`` more bytes came from an upstream."""
        ...

    def stop(self) -> None:
        """Take the display off the screen (before results are printed)."""
        ...


class NoProgress:
    """Reports nothing."""

    def total(self, modules: int) -> None:
        """Ignored."""

    def started(self, module: str) -> None:
        """Ignored."""

    def finished(self, module: str) -> None:
        """Ignored."""

    def received(self, n: int) -> None:
        """Ignored."""

    def stop(self) -> None:
        """Nothing to stop."""

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class TerminalProgress:
    """A rich progress bar on ``stream`` (a terminal)."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]modules"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[bytes]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[current]}"),
            console=Console(file=stream),
            transient=True,
        )
        self._modules = self._progress.add_task(
            "download", total=None, current="", bytes="", start=True
        )
        self._bytes = 0
        self._started = time.monotonic()
        self._in_flight: list[str] = []
        self._stopped = False

    def total(self, modules: int) -> None:
        """Set the number of modules."""
        self._progress.update(self._modules, total=modules)

    def started(self, module: str) -> None:
        """Show the module in flight."""
        self._in_flight.append(module)
        self._progress.update(self._modules, current=self._in_flight[0])

    def finished(self, module: str) -> None:
        """Count one module done."""
        if module in self._in_flight:
            self._in_flight.remove(module)
        current = self._in_flight[0] if self._in_flight else ""
        self._progress.update(self._modules, advance=1, current=current)

    def received(self, n: int) -> None:
        """Count bytes received."""
        from rich.filesize import decimal

        self._bytes += n
        rate = self._bytes / max(time.monotonic() - self._started, 1e-3)
        shown = f"{decimal(self._bytes)} at {decimal(int(rate))}/s"
        self._progress.update(self._modules, bytes=shown, refresh=False)

    def stop(self) -> None:
        """Stop refreshing and clear the display (idempotent)."""
        if not self._stopped:
            self._stopped = True
            self._progress.stop()

    def __enter__(self) -> TerminalProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def progress_for(stream: TextIO, *, json_output: bool) -> NoProgress | TerminalProgress:
    """The display for ``stream``: a live one only on a terminal without ``-json``."""
    isatty = getattr(stream, "isatty", None)
    if json_output or isatty is None or not isatty():
        return NoProgress()
    return TerminalProgress(stream)
