"""Keep a broker outage from flooding the worker's log.

While Kafka is down, aiokafka's clients retry metadata and connections in tight loops and log each failure: a
10-second broker restart wrote about 85,000 lines ("Unable connect to node ...", "Unable to update metadata ...")
into the worker log (tests/integration/test_worker_outages.py). ``RepeatFilter`` lets the first of identical
warnings through, swallows its repeats for ``window`` seconds, and tags the next one that passes with how many it
swallowed, so the log still says that the outage went on, at one line per distinct message per window. Repeats
held back in the last window before the outage ended are reported by ``held``, which the worker calls from a
timer (``event=log_lines_held``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable

__all__ = ["RepeatFilter", "held_everywhere", "install_repeat_filter", "recent_errors_everywhere"]
_installed: list[RepeatFilter] = []


class RepeatFilter(logging.Filter):
    """Pass one warning or error per (logger, level, formatted message) per ``window`` seconds; count the rest.

    Records below WARNING and records carrying a traceback always pass: the flood is of identical warnings and
    errors, and a traceback may differ where the text does not. aiokafka logs from Faust's consumer thread as well
    as from the event loop, so the bookkeeping is locked.
    """

    def __init__(self, window: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.exc_info:
            return True
        key = (record.name, record.levelno, record.getMessage())
        with self._lock:
            now = self._clock()
            last = self._seen.get(key)
            if last is not None and now - last[0] < self.window:
                self._seen[key] = (last[0], last[1] + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 1000:  # bounded: forget what has been quiet for a window
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
                if len(self._seen) > 1000:
                    self._seen = {key: (now, 0)}
        if last is not None and last[1]:
            # A literal suffix on the template: it adds no '%', so formatting with record.args is unchanged.
            record.msg = f"{record.msg} [{last[1]} identical lines not logged in the {now - last[0]:.0f}s before]"
        return True

    def held(self) -> list[tuple[str, int, str, int]]:
        """(logger, level, message, count) for every message whose window has passed with repeats held back, which
        no later line will report (the outage ended); those and quiet ones are forgotten, so the next occurrence
        is logged as new."""
        out: list[tuple[str, int, str, int]] = []
        with self._lock:
            now = self._clock()
            for key, (since, count) in list(self._seen.items()):
                if now - since >= self.window:
                    if count:
                        out.append((*key, count))
                    del self._seen[key]
        return out


    def recent_errors(self) -> list[str]:
        """Distinct ERROR (or worse) messages first logged within the last window: while the broker is down, aiokafka
        keeps at least one of them fresh."""
        with self._lock:
            now = self._clock()
            return sorted(msg for (_, level, msg), (since, _) in self._seen.items()
                          if level >= logging.ERROR and now - since < self.window)


def recent_errors_everywhere() -> list[str]:
    """``recent_errors()`` of every filter ``install_repeat_filter`` installed in this process."""
    return [msg for flt in _installed for msg in flt.recent_errors()]


def held_everywhere() -> list[tuple[str, int, str, int]]:
    """``held()`` of every filter ``install_repeat_filter`` installed in this process."""
    return [item for flt in _installed for item in flt.held()]


def install_repeat_filter(prefixes: Iterable[str] = ("aiokafka", "kafka"), window: float = 30.0) -> RepeatFilter:
    """Attach one ``RepeatFilter`` to every logger under ``prefixes`` that exists now (a filter on a logger sees
    only records logged on that very logger, so each module's logger needs it). The worker's Faust clients log on
    ``aiokafka``; the alert retrier's kafka-python clients on ``kafka``."""
    import importlib

    prefixes = tuple(prefixes)
    for prefix in prefixes:
        with contextlib.suppress(ImportError):
            importlib.import_module(prefix)  # its modules create their loggers on import
    flt = RepeatFilter(window)
    names = [n for n in logging.root.manager.loggerDict if n.startswith(prefixes)]
    for name in [*prefixes, *names]:
        logging.getLogger(name).addFilter(flt)
    _installed.append(flt)
    return flt
