"""Batched log output: lines wait for a batch, warnings and flushes never wait."""

from __future__ import annotations

import io
import logging

import pytest

from gomodproxy.cli.logs import BatchingStreamHandler, batch_log_output


def _logger(handler: logging.Handler) -> logging.Logger:
    log = logging.getLogger(f"test.batching.{id(handler)}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    return log


def test_lines_are_written_in_batches_and_by_flush() -> None:
    out = io.StringIO()
    handler = BatchingStreamHandler(out, interval=3600.0, max_lines=3)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = _logger(handler)
    log.info("one")
    log.info("two")
    assert out.getvalue() == ""
    log.info("three")
    assert out.getvalue() == "one\ntwo\nthree\n"
    log.info("four")
    handler.flush()
    assert out.getvalue() == "one\ntwo\nthree\nfour\n"


def test_a_warning_writes_everything_at_once() -> None:
    out = io.StringIO()
    handler = BatchingStreamHandler(out, interval=3600.0, max_lines=100)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = _logger(handler)
    log.info("request")
    log.warning("retrying")
    assert out.getvalue() == "INFO request\nWARNING retrying\n"


def test_an_interval_of_zero_writes_each_line() -> None:
    out = io.StringIO()
    handler = BatchingStreamHandler(out, interval=0.0)
    log = _logger(handler)
    log.info("now")
    assert out.getvalue() == "now\n"


def test_batch_log_output_keeps_stream_format_and_level(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    out = io.StringIO()
    plain = logging.StreamHandler(out)
    fmt = logging.Formatter("X %(message)s")
    plain.setFormatter(fmt)
    plain.setLevel(logging.INFO)
    monkeypatch.setattr(root, "handlers", [plain])
    (batching,) = batch_log_output()
    assert root.handlers == [batching]
    assert (batching.stream, batching.formatter, batching.level) == (out, fmt, logging.INFO)
