"""The state rule for events: only top-level sets count and the whole store is JSON."""

from __future__ import annotations

from newsrift.model import Event
from newsrift.stages.events.core import EventClusterer
from tests.unit.events.test_clusterer import _stream
from tests.unit.stores import TopLevelOnlyStore


def test_a_store_that_only_sees_top_level_sets_gives_the_same_events() -> None:
    arts = _stream()
    plain, strict = EventClusterer({}), EventClusterer(TopLevelOnlyStore())
    assert [plain.assign(a) for a in arts] == [strict.assign(a) for a in arts]
    assert plain.events() == strict.events()
    events = strict.events()
    assert isinstance(events, list) and all(isinstance(e, Event) for e in events)
    # Every article is in exactly one surviving event (merged events keep theirs too, and point at the survivor).
    live = [e for e in events if e.merged_into is None]
    placed = [aid for e in live for aid in e.article_ids]
    assert sorted(placed) == sorted(a.article_id for a in arts)
    assert all(strict.current(e.event_id) == strict.current(e.merged_into) for e in events if e.merged_into)
