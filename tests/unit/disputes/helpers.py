"""Concise hand-made claims for dispute tests (no dependency on the extractor)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from newsrift.model import Claim, Polarity, Quantity

T0 = datetime(2018, 2, 13, 9, tzinfo=timezone.utc)
_ids = itertools.count(1)


def qty(
    text: str,
    low: float | None,
    high: float | None = None,
    approx: str = "exact",
    counted: str | None = None,
    unit: str | None = None,
) -> Quantity:
    return Quantity(text=text, low=low, high=high, approx=approx, counted=counted, unit=unit)


def claim(
    speaker: str,
    text: str,
    *,
    event: str = "ev1",
    pol: Polarity = "asserts",
    action: str | None = None,
    actors: Sequence[str] = (),
    places: Sequence[str] = (),
    times: Sequence[str] = (),
    qs: Sequence[Quantity] = (),
    outlet: str = "o1",
    article: str | None = None,
    cid: str | None = None,
    stype: str = "organisation",
    hedges: Sequence[str] = (),
    start: int = 0,
    end: int | None = None,
    at: datetime | None = None,
) -> Claim:
    n = next(_ids)
    return Claim(
        claim_id=cid or f"c{n}",
        article_id=article or f"a{n}",
        outlet_id=outlet,
        speaker=speaker,
        speaker_type=stype,
        cue="said",
        text=text,
        start=start,
        end=len(text) if end is None else end,
        polarity=pol,
        hedges=tuple(hedges),
        quantities=tuple(qs),
        actors=tuple(actors),
        action=action,
        places=tuple(places),
        times=tuple(times),
        event_id=event,
        published=at or T0,
    )


def later(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)
