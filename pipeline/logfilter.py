"""Keep a broker outage from flooding the worker's log.

While Kafka is down, aiokafka's clients retry metadata and connections in tight loops and log each failure: a
10-second broker restart wrote about 80,000 lines ("Unable connect to node ...", "Unable to update metadata ...")
into the worker log (tests/integration/test_worker_outages.py). ``RepeatFilter`` lets the first record of a kind
through, swallows the same kind for ``window`` seconds, and tags the next one that passes with how many it
swallowed, so the log still says that the outage went on and for how long, at one line per kind per window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

__all__ = ["RepeatFilter", "install_repeat_filter"]


class RepeatFilter(logging.Filter):
    """Pass one record per (logger, level, message template) per ``window`` seconds; count the rest."""

    def __init__(self, window: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.window:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            # A literal suffix: record.msg is still %-formatted with record.args, so escape nothing but add no '%'.
            record.msg = f"{record.msg} [{last[1]} more like this in the last {now - last[0]:.0f}s not logged]"
        self._seen[key] = (now, 0)
        if len(self._seen) > 1000:  # message templates are few; this only guards against unbounded growth
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
        return True


def install_repeat_filter(prefixes: Iterable[str] = ("aiokafka",), window: float = 30.0) -> RepeatFilter:
    """Attach one ``RepeatFilter`` to every logger under ``prefixes`` that exists now (a filter on a logger sees
    only records logged on that very logger, so each module's logger needs it; call after the libraries are
    imported)."""
    import aiokafka  # noqa: F401  (its modules create their loggers on import)

    flt = RepeatFilter(window)
    prefixes = tuple(prefixes)
    names = [n for n in logging.root.manager.loggerDict if n.startswith(prefixes)]
    for name in [*prefixes, *names]:
        logging.getLogger(name).addFilter(flt)
    return flt
