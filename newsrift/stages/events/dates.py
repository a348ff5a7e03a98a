"""When an article is from, and which calendar days it is about, from what its text and URL say.

``stated_time``: an article without a publication date often states one: a dateline ("Friday, 03 February 2023",
"Jul 31, 2019, 3:25 PM", "Moscow, June 6 ... 6th Jun, 2023"), or a URL path ("/2018/10/13/"). Only a full date
(with its year) counts, read from the URL or the first ``HEAD`` characters of the text, where datelines sit.

``day_terms``: the calendar days the text names, normalised to ``mon-day`` terms ("Oct. 2", "2 October" and
"October 2nd" are all ``oct-2``), plus weekdays ("on Tuesday") resolved against the article's own date when it has
one: the latest such weekday on or before it, within the week. These are the incident's own dates: a follow-up
weeks later names the day of the blast, and two incidents of one kind happened on different days.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import TypeVar

T = TypeVar("T")

__all__ = ["HEAD", "arrival_order", "article_time", "day_terms", "stated_time"]

HEAD = 300
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MON = (r"(January|February|March|April|May|June|July|August|September|October|November|December"
        r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\b\.?")
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
_MDY = re.compile(rf"\b{_MON}\s+{_DAY},?\s+{_YEAR}\b")
_DMY = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MON},?\s+{_YEAR}\b")
_ISO = re.compile(r"\b((?:19|20)\d\d)[-/](\d{1,2})[-/](\d{1,2})\b")
_MD = re.compile(rf"\b{_MON}\s+{_DAY}\b(?!\s*(?:%|percent|,?\s*(?:19|20)\d\d))")
_DM = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MON}(?![a-z])")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ON_WEEKDAY = re.compile(r"\b(?:on|last|late|early)\s+(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")


def _date(year: int, month: int, day: int) -> datetime | None:
    try:
        return datetime(year, month, day, 12, tzinfo=timezone.utc)
    except ValueError:
        return None


def _month(name: str) -> int:
    return _MONTHS.index(name[:3].lower()) + 1


def stated_time(title: str, text: str, url: str) -> datetime | None:
    """The full date a URL path or the head of the text states (noon UTC), or None."""
    m = _ISO.search(url or "")
    if m:
        d = _date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if d is not None:
            return d
    head = f"{title or ''}\n{(text or '')[:HEAD]}"
    found: list[tuple[int, datetime]] = []
    for m in _MDY.finditer(head):
        d = _date(int(m.group(3)), _month(m.group(1)), int(m.group(2)))
        if d is not None:
            found.append((m.start(), d))
    for m in _DMY.finditer(head):
        d = _date(int(m.group(3)), _month(m.group(2)), int(m.group(1)))
        if d is not None:
            found.append((m.start(), d))
    for m in _ISO.finditer(head):
        d = _date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if d is not None:
            found.append((m.start(), d))
    return min(found, key=lambda x: x[0])[1] if found else None


def day_terms(text: str, ref: datetime | None) -> dict[str, float]:
    """``mon-day`` terms for the calendar days ``text`` names, with counts; weekdays need ``ref``."""
    out: dict[str, float] = {}

    def add(month: int, day: int) -> None:
        if 1 <= day <= 31:
            key = f"{_MONTHS[month - 1]}-{day}"
            out[key] = out.get(key, 0.0) + 1.0

    for m in _MDY.finditer(text):
        add(_month(m.group(1)), int(m.group(2)))
    for m in _MD.finditer(text):
        add(_month(m.group(1)), int(m.group(2)))
    for m in _DM.finditer(text):
        add(_month(m.group(2)), int(m.group(1)))
    if ref is not None:
        for m in _ON_WEEKDAY.finditer(text):
            back = (ref.weekday() - _WEEKDAYS.index(m.group(1).lower())) % 7
            day = ref - timedelta(days=back)
            add(day.month, day.day)
    return out


def article_time(article: object) -> datetime | None:
    """An article's publication time, else the date its URL or dateline states, else None (unknown)."""
    published = getattr(article, "published", None)
    if published is not None:
        return published
    return stated_time(getattr(article, "title", ""), getattr(article, "text", ""), getattr(article, "url", ""))


def arrival_order(numbered: list[tuple[int, T]]) -> list[tuple[int, T]]:
    """The order a batch feeds articles in, as a stream would have brought them: by time (``article_time``), input
    order breaking ties. An article of unknown time keeps its place in the input after the dated article before it
    (before the earliest one when none comes before it): nothing is known to move it, least of all to the end."""
    times = [article_time(a) for _, a in numbered]
    known = [t for t in times if t is not None]
    if not known:
        return list(numbered)
    prev = min(known)
    keyed = []
    for (n, a), t in zip(numbered, times, strict=True):
        if t is not None:
            prev = t
        keyed.append(((t or prev, n), (n, a)))
    keyed.sort(key=lambda kv: kv[0])
    return [x for _, x in keyed]
