"""The repeat filter: one line per distinct warning per window, with a count of what it held back."""

from __future__ import annotations

import logging
import sys

import pytest

from newsrift.runtime.logfilter import RepeatFilter, install_repeat_filter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(msg: str, *args: object, name: str = "aiokafka", level: int = logging.ERROR,
            exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            exc_info = sys.exc_info()
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


CONNECT = "Unable connect to node with id %s: %s"


def test_identical_warnings_within_the_window_are_held_back_and_counted() -> None:
    clock = Clock()
    flt = RepeatFilter(window=30, clock=clock)
    first = _record(CONNECT, 1, "refused")
    assert flt.filter(first) and first.getMessage() == "Unable connect to node with id 1: refused"
    for i in range(500):
        clock.now = i * 0.05
        assert not flt.filter(_record(CONNECT, 1, "refused"))
    clock.now = 31.0
    later = _record(CONNECT, 1, "refused")
    assert flt.filter(later)
    assert later.getMessage() == ("Unable connect to node with id 1: refused "
                                  "[500 identical lines not logged in the 31s before]")
    clock.now = 62.0
    quiet = _record(CONNECT, 1, "refused")
    assert flt.filter(quiet) and quiet.getMessage() == "Unable connect to node with id 1: refused"


def test_repeats_that_no_later_line_reports_are_handed_over_once() -> None:
    clock = Clock()
    flt = RepeatFilter(window=30, clock=clock)
    assert flt.filter(_record(CONNECT, 1, "refused"))
    assert flt.filter(_record("Unable to update metadata from %s", [1]))
    for _ in range(7):
        assert not flt.filter(_record(CONNECT, 1, "refused"))
    clock.now = 10.0
    assert flt.held() == []  # the window is still open: a later line may yet report them
    clock.now = 30.0
    assert flt.held() == [("aiokafka", logging.ERROR, "Unable connect to node with id 1: refused", 7)]
    assert flt.held() == []  # handed over once; the quiet message is forgotten too
    assert flt.filter(_record(CONNECT, 1, "refused"))  # and the next occurrence is logged as new


def test_recent_errors_are_the_fresh_error_messages() -> None:
    clock = Clock()
    flt = RepeatFilter(window=30, clock=clock)
    flt.filter(_record(CONNECT, 1, "refused"))
    flt.filter(_record("Heartbeat failed", level=logging.WARNING))  # a warning is not a broker error
    assert flt.recent_errors() == ["Unable connect to node with id 1: refused"]
    clock.now = 31.0
    assert flt.recent_errors() == []  # the broker has been quiet for a window


def test_what_differs_passes() -> None:
    flt = RepeatFilter(window=30, clock=Clock())
    assert flt.filter(_record(CONNECT, 1, "refused"))
    assert flt.filter(_record(CONNECT, 2, "refused"))  # another node: another message
    assert flt.filter(_record("Topic %s not found", "a")) and flt.filter(_record("Topic %s not found", "b"))
    assert flt.filter(_record(CONNECT, 1, "refused", level=logging.WARNING))  # another level
    assert flt.filter(_record(CONNECT, 1, "refused", name="aiokafka.conn"))  # another logger
    for _ in range(3):  # below WARNING and tracebacks are never held back
        assert flt.filter(_record("Setting newly assigned partitions %s", {1}, level=logging.INFO))
        assert flt.filter(_record(CONNECT, 1, "refused", exc=True))
    assert not flt.filter(_record(CONNECT, 1, "refused"))


def test_installed_on_the_kafka_client_loggers(caplog: pytest.LogCaptureFixture) -> None:
    flt = install_repeat_filter(window=60)
    try:
        client_log = logging.getLogger("aiokafka")  # aiokafka.client logs on this one
        conn_log = logging.getLogger("aiokafka.conn")
        with caplog.at_level(logging.ERROR):
            for _ in range(100):
                client_log.error("Unable to update metadata from %s", [1])
                conn_log.error("Connection reset")
        assert [r.getMessage() for r in caplog.records] == ["Unable to update metadata from [1]", "Connection reset"]
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            for _ in range(100):  # kafka-python, the alert retrier's client
                logging.getLogger("kafka.net.connection").error("Connect attempt to %s returned error %s", "b1", 111)
        assert [r.getMessage() for r in caplog.records] == ["Connect attempt to b1 returned error 111"]
    finally:
        for name in list(logging.root.manager.loggerDict):
            if name.startswith(("aiokafka", "kafka")):
                logging.getLogger(name).removeFilter(flt)
        logging.getLogger("aiokafka").removeFilter(flt)
        logging.getLogger("kafka").removeFilter(flt)
