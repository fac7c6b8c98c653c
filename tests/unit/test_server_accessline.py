"""The access-log line written without a log record (``server.accessline``): the same text as
the logging path, and the logging path whenever the set-up is not the one gomodproxy makes."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from gomodproxy.server.accessline import PLAIN_FORMAT, AccessLine, JSONFormatter

ARGS = ("127.0.0.1", "GET", "/example.com/m/@v/v1.0.0.info", 200, 99, 0.0123456, "info")


def _forget_levels() -> None:
    """Drop the loggers' cached level checks (``setLevel`` does; NOTSET is the default)."""
    logging.getLogger("gomodproxy.access").setLevel(logging.NOTSET)


def _only_handler(monkeypatch: pytest.MonkeyPatch, formatter: logging.Formatter) -> io.StringIO:
    """The root logger as ``gomodproxy`` sets it up: one stream handler (pytest's own capture
    handlers are taken off for the test)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    monkeypatch.setattr(logging.root, "handlers", [handler])
    monkeypatch.setattr(logging.root, "level", logging.INFO)
    _forget_levels()
    return stream


def _no_records(monkeypatch: pytest.MonkeyPatch) -> list[logging.LogRecord]:
    made: list[logging.LogRecord] = []
    real = logging.Logger.makeRecord

    def counting(self: logging.Logger, *args: object, **kwargs: object) -> logging.LogRecord:
        record = real(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(record)
        return record

    monkeypatch.setattr(logging.Logger, "makeRecord", counting)
    return made


def _reference(formatter: logging.Formatter) -> str:
    """The line the logging path makes for ``ARGS``."""
    remote, method, path, status, size, seconds, kind = ARGS
    record = logging.getLogger("gomodproxy.access").makeRecord(
        "gomodproxy.access", logging.INFO, __file__, 1, "%s %s %s %d %d %.3f",
        (remote, method, path, status, size, seconds), None,
        extra={"remote": remote, "method": method, "path": path, "status": status,
               "bytes": size, "seconds": round(seconds, 6), "kind": kind},
    )  # fmt: skip
    return formatter.format(record)


def test_the_plain_line_is_the_logging_line_without_a_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    formatter = logging.Formatter(PLAIN_FORMAT)
    stream = _only_handler(monkeypatch, formatter)
    made = _no_records(monkeypatch)
    line = AccessLine()
    line.emit(*ARGS)
    line.emit(*ARGS)
    assert made == []
    first, second, end = stream.getvalue().split("\n")
    assert end == ""
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    assert re.fullmatch(stamp + re.escape(_reference(formatter)[24:]), first)
    assert (
        first[24:]
        == "INFO gomodproxy.access 127.0.0.1 GET /example.com/m/@v/v1.0.0.info 200 99 0.012"
    )
    assert second[24:] == first[24:]


def test_the_json_line_is_the_json_formatters_without_a_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    formatter = JSONFormatter()
    stream = _only_handler(monkeypatch, formatter)
    made = _no_records(monkeypatch)
    AccessLine().emit(*ARGS)
    assert made == []
    got = json.loads(stream.getvalue())
    want = json.loads(_reference(formatter))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", got.pop("time"))
    want.pop("time")
    assert got == want
    assert got["kind"] == "info"
    assert got["seconds"] == 0.012346


@pytest.mark.parametrize(
    "change", ["second-handler", "filter", "handler-filter", "level", "formatter"]
)
def test_any_other_logging_setup_gets_a_real_record(
    monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """A capture handler, a filter, a level above INFO or another format: the logging path."""
    stream = _only_handler(monkeypatch, logging.Formatter(PLAIN_FORMAT))
    made = _no_records(monkeypatch)
    line = AccessLine()
    line.emit(*ARGS)  # direct first: the set-up is checked again on every request
    assert made == []
    handler = logging.root.handlers[0]
    captured: list[logging.LogRecord] = []
    if change == "second-handler":

        class Capture(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                captured.append(record)

        monkeypatch.setattr(logging.root, "handlers", [handler, Capture()])
    elif change == "filter":
        access = logging.getLogger("gomodproxy.access")
        monkeypatch.setattr(access, "filters", [logging.Filter("nothing-matches")])
    elif change == "handler-filter":
        monkeypatch.setattr(handler, "filters", [logging.Filter("nothing-matches")])
    elif change == "level":
        monkeypatch.setattr(logging.root, "level", logging.WARNING)
        _forget_levels()
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    before = stream.getvalue()
    line.emit(*ARGS)
    _forget_levels()
    after = stream.getvalue()[len(before) :]
    if change == "level":
        assert after == ""
        assert made == []
        return
    assert len(made) == 1
    assert made[0].__dict__["kind"] == "info"
    if change == "second-handler":
        assert captured == made
        assert after[24:] == before.splitlines()[0][24:] + "\n"
    elif change in ("filter", "handler-filter"):
        assert after == ""
    else:
        assert after == "INFO 127.0.0.1 GET /example.com/m/@v/v1.0.0.info 200 99 0.012\n"
