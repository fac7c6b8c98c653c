"""The access-log line, written without a :class:`logging.LogRecord` when that is safe.

Building a log record, running it through the logger hierarchy and formatting it cost about a
sixth of a cache hit's CPU (``docs/reports/proxy-hot-path.md``). When the logging set-up is the
one ``gomodproxy`` installs itself (``logging.basicConfig``'s single stream handler on the root
logger, with the plain format or ``--log-json``'s :class:`JSONFormatter`, no filters, nothing
else between the access logger and the root), :class:`AccessLine` formats the very same text
itself, with the timestamp prefix made once per second, and writes it to the handler's stream
under the handler's lock: the lines of one turn of the event loop in one write, at the start
of the next turn (a write system call per request was about a tenth of a hit in the hit
lane). Any other set-up (a test's capture handler, an extra handler or filter, a level that
drops INFO, ``logging.disable``) is detected on each request and gets the ordinary
``logger.info`` call, record and all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import traceback
from collections.abc import Callable

__all__ = ["PLAIN_FORMAT", "AccessLine", "JSONFormatter"]

logger = logging.getLogger("gomodproxy.access")

#: The format ``gomodproxy`` gives ``logging.basicConfig`` (``cli.main``).
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_FIELDS = ("remote", "method", "path", "status", "bytes", "seconds", "kind")


class JSONFormatter(logging.Formatter):
    """Log records as one JSON object per line (``--log-json``)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` with its time, level, logger, message and access-log fields."""
        doc: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            if hasattr(record, name):
                doc[name] = getattr(record, name)
        if record.exc_info:
            doc["traceback"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


_NO_LOCK = contextlib.nullcontext()
_Writer = Callable[[str, str, str, int, int, float, str], None]


class AccessLine:
    """Emits access-log lines (see the module docstring)."""

    def __init__(self) -> None:
        self._handler: logging.Handler | None = None
        self._formatter: logging.Formatter | None = None
        self._writer: _Writer | None = None
        self._second: tuple[int, str] = (-1, "")
        self._stamp = ""
        self._pending: list[str] = []

    def emit(
        self, remote: str, method: str, path: str, status: int, size: int, seconds: float, kind: str
    ) -> None:
        """Log one request."""
        writer = self._direct()
        if writer is not None:
            writer(remote, method, path, status, size, seconds, kind)
            return
        logger.info(
            "%s %s %s %d %d %.3f",
            remote,
            method,
            path,
            status,
            size,
            seconds,
            extra={
                "remote": remote,
                "method": method,
                "path": path,
                "status": status,
                "bytes": size,
                "seconds": round(seconds, 6),
                "kind": kind,
            },
        )

    def _direct(self) -> _Writer | None:
        """The direct writer if logging is still set up as ``gomodproxy`` sets it up."""
        if not logger.isEnabledFor(logging.INFO):
            return None
        node: logging.Logger | None = logger
        while node is not None and node.parent is not None:  # up to, not including, root
            if node.handlers or node.filters or not node.propagate:
                return None
            node = node.parent
        root = logging.root
        if node is not root or root.filters or len(root.handlers) != 1:
            return None
        handler = root.handlers[0]
        if handler.filters or handler.level > logging.INFO:
            return None
        formatter = handler.formatter
        if handler is self._handler and formatter is self._formatter:
            return self._writer
        self._handler, self._formatter, self._writer = handler, formatter, None
        if type(handler) is logging.StreamHandler and formatter is not None:
            if type(formatter) is JSONFormatter:
                self._writer = self._json
            elif (
                type(formatter) is logging.Formatter
                and formatter._fmt == PLAIN_FORMAT
                and formatter.datefmt is None
                and formatter.default_time_format == logging.Formatter.default_time_format
                and formatter.default_msec_format == logging.Formatter.default_msec_format
                and formatter.converter is time.localtime
            ):
                self._writer = self._plain
        return self._writer

    def _write(self, text: str) -> None:
        """Queue the line; the lines of one turn of the event loop go out in one write at its
        end (the next turn's first callback), in their order. Without a running loop: now."""
        self._pending.append(text)
        if len(self._pending) > 1:
            return  # a flush is already scheduled
        try:
            asyncio.get_running_loop().call_soon(self._flush)
        except RuntimeError:
            self._flush()

    def _flush(self) -> None:
        handler = self._handler
        lines, self._pending = self._pending, []
        if not isinstance(handler, logging.StreamHandler) or not lines:
            return
        try:
            with handler.lock or _NO_LOCK:
                handler.stream.write(handler.terminator.join(lines) + handler.terminator)
                handler.flush()
        except Exception:
            # What a handler does when its stream fails: report it on stderr, keep serving.
            if logging.raiseExceptions:
                traceback.print_exc()

    def _stamp_of(self, now: float, fmt: str) -> str:
        second = (int(now), fmt)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime(fmt, time.localtime(now))
        return self._stamp

    def _plain(
        self, remote: str, method: str, path: str, status: int, size: int, seconds: float, kind: str
    ) -> None:
        now = time.time()
        stamp = self._stamp_of(now, logging.Formatter.default_time_format)
        msecs = int((now - int(now)) * 1000)
        self._write(
            f"{stamp},{msecs:03d} INFO gomodproxy.access "
            f"{remote} {method} {path} {status:d} {size:d} {seconds:.3f}"
        )

    def _json(
        self, remote: str, method: str, path: str, status: int, size: int, seconds: float, kind: str
    ) -> None:
        stamp = self._stamp_of(time.time(), "%Y-%m-%dT%H:%M:%S%z")
        doc = {
            "time": stamp,
            "level": "INFO",
            "logger": "gomodproxy.access",
            "message": f"{remote} {method} {path} {status:d} {size:d} {seconds:.3f}",
            "remote": remote,
            "method": method,
            "path": path,
            "status": status,
            "bytes": size,
            "seconds": round(seconds, 6),
            "kind": kind,
        }
        self._write(json.dumps(doc, ensure_ascii=False))
