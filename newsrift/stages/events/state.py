"""The event clusterer's state: typed records, one JSON codec, and the store they live in.

Every item is one top-level key of a JSON-valued store (a Faust table in the worker, a dict in ``newsrift analyze``):

==================  ==================  =====================================================================
key                 record              what it holds
==================  ==================  =====================================================================
``fragment:<id>``   ``Fragment``        a fragment (what online joins build): centroid, members, times, group
``group:<label>``   ``Group``           the fragments a settle grouped into one event, named by ``label``
``article:<id>``    ``Placed``          where an article was placed, with what the next settles need of it
``df:<page>``       ``DfPage``          document frequencies of 2^8 hashed buckets, folded through article n
``df+:<n>``         ``list[int]``       the buckets article n counted, not yet folded into the pages
``clock``           ``Clock``           articles seen, the last settle, the quiet cut of the candidate index
``pending``         ``list[Move]``      moves recorded and not yet marked sent by the driver
==================  ==================  =====================================================================

``encode`` and ``decode`` are the one codec for all of them: a record is a JSON object of its fields, a field at its
default is left out (records stay small: the store is a changelog in the worker), times are ISO strings.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from newsrift.model import format_time, parse_time

__all__ = ["Clock", "DfPage", "EventState", "Fragment", "Group", "Move", "Placed", "Vector", "decode", "encode"]

Vector = dict[str, dict[str, float]]
"""Weights per channel (``w`` words, ``b`` bigrams, ``p`` names, ``y`` years, ``d`` dates) per term."""

R = TypeVar("R")


@dataclass
class Fragment:
    """Articles that joined one another online (a join is never undone). ``centroid`` is the sum of the members'
    vectors (``size`` of them, the heaviest terms per channel kept), ``norms`` its norm per channel. An event is a
    group of fragments; ``group`` names the group when this fragment is not its label."""

    title: str
    articles: list[str]
    """The most recent article ids (``ClusterConfig.listed_articles``); ``count`` counts them all."""
    count: int
    centroid: Vector
    norms: dict[str, float]
    first: datetime | None
    last: datetime | None
    size: int
    """Article vectors summed into the centroid (reprints are listed and counted, but not summed)."""
    changed: int = 0
    """The article number of its last join: the next settle regroups around it."""
    group: str | None = None
    merged_into: str | None = None
    """Set when an online merge folded this fragment into another; its centroid is then dropped."""


@dataclass
class Group:
    members: list[str]


@dataclass
class Placed:
    """An article's placement: the fragment it joined (``merged_into`` followed), its join score, its number in
    the stream, its claim ids; for settles the rare-word buckets it held (``rare``) and those it made common
    (``turned``). Never changed once written."""

    fragment: str
    score: float
    number: int = 0
    rare: tuple[int, ...] = ()
    turned: tuple[int, ...] = ()
    claims: tuple[str, ...] = ()


@dataclass
class DfPage:
    folded_through: int
    counts: dict[str, int]
    """Bucket (as a string, a JSON key) -> document frequency."""


@dataclass
class Clock:
    articles: int = 0
    settled_at: int | None = None
    """``articles`` when the last settle ran (None: never)."""
    quiet_before: datetime | None = None
    """Events last active before this are out of the candidate index (the cut only grows)."""


@dataclass(frozen=True)
class Move:
    """Articles that a settle (or an online merge) took from one event to another, with their claim ids."""

    from_event: str
    to_event: str
    article_ids: tuple[str, ...]
    claim_ids: tuple[str, ...] = ()


# -- the codec ---------------------------------------------------------------------------------------------------


_FIELDS: dict[type, tuple[tuple[str, Any, Any], ...]] = {}


def _fields(cls: type) -> tuple[tuple[str, Any, Any], ...]:
    """(name, type, default) of each field; the default is ``MISSING`` for a required one."""
    known = _FIELDS.get(cls)
    if known is None:
        hints = typing.get_type_hints(cls)
        known = _FIELDS[cls] = tuple((f.name, hints[f.name], f.default) for f in dataclasses.fields(cls))
    return known


def _is_time(kind: Any) -> bool:
    return kind is datetime or (isinstance(kind, types.UnionType) and datetime in typing.get_args(kind))


def encode(record: Any) -> dict[str, Any]:
    """A record as a JSON object: its fields, those at their default left out, times as ISO strings."""
    out: dict[str, Any] = {}
    for name, kind, default in _fields(type(record)):
        value = getattr(record, name)
        if default is not dataclasses.MISSING and value == default:
            continue
        if _is_time(kind):
            value = format_time(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out


def decode(cls: type[R], data: dict[str, Any]) -> R:
    """The record ``encode`` wrote; a field it does not know is an error (no other layout is read)."""
    known = {name: kind for name, kind, _ in _fields(cls)}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kind = known.get(name)
        if kind is None:
            raise TypeError(f"{cls.__name__} has no field {name!r}: a record of another layout")
        if _is_time(kind):
            value = parse_time(value)
        elif typing.get_origin(kind) is tuple and value is not None:
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


# -- the store ---------------------------------------------------------------------------------------------------


class EventState:
    """Typed access to the store. Values are set whole (a Faust table sees only top-level sets): a record read is a
    fresh object, and a change to it counts once it is put back."""

    FRAGMENT, GROUP, ARTICLE, PAGE, INCREMENT = "fragment:", "group:", "article:", "df:", "df+:"
    CLOCK, PENDING = "clock", "pending"

    def __init__(self, store: MutableMapping[str, Any]) -> None:
        self.store = store

    def _ids(self, prefix: str) -> Iterator[str]:
        return (k[len(prefix):] for k in list(self.store.keys()) if k.startswith(prefix))

    def _get(self, cls: type[R], key: str) -> R | None:
        value = self.store.get(key)
        return None if value is None else decode(cls, value)

    # fragments
    def fragment(self, fid: str) -> Fragment | None:
        return self._get(Fragment, self.FRAGMENT + fid)

    def put_fragment(self, fid: str, fragment: Fragment) -> None:
        self.store[self.FRAGMENT + fid] = encode(fragment)

    def drop_fragment(self, fid: str) -> None:
        self.store.pop(self.FRAGMENT + fid, None)

    def fragment_ids(self) -> list[str]:
        return sorted(self._ids(self.FRAGMENT))

    # groups
    def group(self, label: str) -> list[str] | None:
        g = self._get(Group, self.GROUP + label)
        return g.members if g is not None else None

    def put_group(self, label: str, members: list[str]) -> None:
        self.store[self.GROUP + label] = encode(Group(members))

    def drop_group(self, label: str) -> None:
        self.store.pop(self.GROUP + label, None)

    def group_labels(self) -> list[str]:
        return sorted(self._ids(self.GROUP))

    # placements
    def placed(self, aid: str) -> Placed | None:
        return self._get(Placed, self.ARTICLE + aid)

    def put_placed(self, aid: str, placed: Placed) -> None:
        self.store[self.ARTICLE + aid] = encode(placed)

    def drop_placed(self, aid: str) -> None:
        self.store.pop(self.ARTICLE + aid, None)

    def placed_ids(self) -> list[str]:
        return sorted(self._ids(self.ARTICLE))

    def claims_of(self, article_ids: Iterable[str]) -> tuple[str, ...]:
        """The claim ids recorded with these articles' placements, in order."""
        out: list[str] = []
        for aid in article_ids:
            rec = self.placed(aid)
            if rec is not None:
                out.extend(rec.claims)
        return tuple(out)

    # document frequencies
    def pages(self) -> Iterator[tuple[int, DfPage]]:
        for p in self._ids(self.PAGE):
            yield int(p), decode(DfPage, self.store[self.PAGE + p])

    def put_page(self, page: int, value: DfPage) -> None:
        self.store[self.PAGE + str(page)] = encode(value)

    def increments(self) -> list[tuple[int, list[int]]]:
        """The increments not yet folded, by article number."""
        return sorted((int(n), list(self.store[self.INCREMENT + n])) for n in self._ids(self.INCREMENT))

    def put_increment(self, n: int, buckets: list[int]) -> None:
        self.store[self.INCREMENT + str(n)] = buckets

    def drop_increment(self, n: int) -> None:
        self.store.pop(self.INCREMENT + str(n), None)

    # the clock and the pending moves
    def clock(self) -> Clock:
        return self._get(Clock, self.CLOCK) or Clock()

    def put_clock(self, clock: Clock) -> None:
        self.store[self.CLOCK] = encode(clock)

    def pending(self) -> list[Move]:
        return [decode(Move, m) for m in self.store.get(self.PENDING) or []]

    def put_pending(self, moves: list[Move]) -> None:
        if moves:
            self.store[self.PENDING] = [encode(m) for m in moves]
        else:
            self.store.pop(self.PENDING, None)


