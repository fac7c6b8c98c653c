"""Rate-limited logging of repeated events: one line per kind per interval, with a count.

A fault that repeats at machine speed (``accept()`` failing with EMFILE, a flood of connections
over a cap) must not turn into a log flood: 650,000 tracebacks in 80 seconds hide everything
else and fill the disk. :class:`LogThrottle` logs the first occurrence of each kind at once,
drops the repeats for ``interval`` seconds, and reports how many it dropped on the next line of
that kind (``suppressed=N``). Pure apart from the logger; the clock is passed in (tests).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LogThrottle"]


@dataclass(slots=True)
class _Kind:
    last: float
    suppressed: int = 0


class LogThrottle:
    """Log each kind of event at most once per ``interval`` seconds, counting the repeats.

    Kinds are a fixed, small set of names chosen by the caller (never a client address: the
    table would grow with the flood).
    """

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._kinds: dict[str, _Kind] = {}

    def log(self, level: int, kind: str, msg: str, *args: object) -> bool:
        """Log ``msg % args`` plus `` suppressed=N`` unless ``kind`` was logged less than
        ``interval`` seconds ago (then only count it). Return whether a line was written."""
        now = self._clock()
        state = self._kinds.get(kind)
        if state is not None and now - state.last < self._interval:
            state.suppressed += 1
            return False
        suppressed = state.suppressed if state is not None else 0
        self._kinds[kind] = _Kind(now)
        self._logger.log(level, msg + " suppressed=%d", *args, suppressed)
        return True

    def suppressed(self, kind: str) -> int:
        """Repeats of ``kind`` dropped since its last line."""
        state = self._kinds.get(kind)
        return state.suppressed if state is not None else 0
