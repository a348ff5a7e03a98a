"""The repeat filter: one line per kind of record per window, with a count of what it held back."""

from __future__ import annotations

import logging

import pytest

from pipeline.logfilter import RepeatFilter, install_repeat_filter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str, *args: object, name: str = "aiokafka", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_repeats_within_the_window_are_held_back_and_counted() -> None:
    clock = Clock()
    flt = RepeatFilter(window=30, clock=clock)
    first = _record("Unable connect to node with id %s: %s", 1, "refused")
    assert flt.filter(first) and first.getMessage() == "Unable connect to node with id 1: refused"
    for i in range(500):
        clock.now = i * 0.05
        assert not flt.filter(_record("Unable connect to node with id %s: %s", 1, "refused"))
    # Another kind of record (another template, level or logger) is its own kind and passes.
    assert flt.filter(_record("Unable to update metadata from %s", [1]))
    assert flt.filter(_record("Unable connect to node with id %s: %s", 1, "refused", level=logging.WARNING))
    assert flt.filter(_record("Unable connect to node with id %s: %s", 1, "refused", name="aiokafka.conn"))
    clock.now = 31.0
    later = _record("Unable connect to node with id %s: %s", 1, "refused")
    assert flt.filter(later)
    assert later.getMessage() == ("Unable connect to node with id 1: refused "
                                  "[500 more like this in the last 31s not logged]")
    clock.now = 62.0
    quiet = _record("Unable connect to node with id %s: %s", 1, "refused")
    assert flt.filter(quiet) and quiet.getMessage() == "Unable connect to node with id 1: refused"


def test_installed_on_the_aiokafka_loggers(caplog: pytest.LogCaptureFixture) -> None:
    flt = install_repeat_filter(window=60)
    try:
        client_log = logging.getLogger("aiokafka")  # aiokafka.client logs on this one
        conn_log = logging.getLogger("aiokafka.conn")
        with caplog.at_level(logging.ERROR):
            for _ in range(100):
                client_log.error("Unable to update metadata from %s", [1])
                conn_log.error("Connection reset")
        assert [r.getMessage() for r in caplog.records] == ["Unable to update metadata from [1]", "Connection reset"]
    finally:
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("aiokafka"):
                logging.getLogger(name).removeFilter(flt)
        logging.getLogger("aiokafka").removeFilter(flt)
