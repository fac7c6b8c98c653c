"""The progress of a probe run on a terminal: requests done of those planned, overall and per
mirror, with each mirror's errors so far (drawn with rich; erased when the run ends, before
the table is printed).

The caller decides whether to show it: only when standard output is a terminal and is not
carrying the JSON report (``--json -``). :meth:`TerminalProgress.record` is called on the event
loop for every sample; rich redraws from its own thread, so the loop never waits on the
terminal.
"""

from __future__ import annotations

from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from gomodproxy.probe.samples import Sample

__all__ = ["TerminalProgress"]


class TerminalProgress:
    """A live display of a run; use as a context manager around :func:`run_probe`."""

    def __init__(
        self, planned: int, per_mirror: dict[str, int], file: TextIO, *, width: int | None = None
    ) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[errors]} errors"),
            TimeElapsedColumn(),
            console=Console(file=file, width=width),
            transient=True,
            refresh_per_second=8,
        )
        self._overall = self._progress.add_task("probing", total=planned, errors=0)
        self._mirrors: dict[str, TaskID] = {
            name: self._progress.add_task(f"  {name}", total=count, errors=0)
            for name, count in per_mirror.items()
        }
        self._errors: dict[str, int] = dict.fromkeys(per_mirror, 0)
        self._all_errors = 0

    def record(self, sample: Sample) -> None:
        """Count one request sent and answered (or failed)."""
        failed = not sample.outcome.answered
        if failed:
            self._all_errors += 1
            self._errors[sample.mirror] = self._errors.get(sample.mirror, 0) + 1
        self._progress.update(self._overall, advance=1, errors=self._all_errors)
        task = self._mirrors.get(sample.mirror)
        if task is not None:
            self._progress.update(task, advance=1, errors=self._errors[sample.mirror])

    def __enter__(self) -> TerminalProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()
