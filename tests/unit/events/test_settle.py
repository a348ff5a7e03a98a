"""Settling: fragments regrouped with hindsight into events, the moves reported with the claims they carry."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta

from newsrift.model import Article, stable_id
from newsrift.stages.events.assign import Assigner, Placement
from newsrift.stages.events.core import ClusterConfig, EventClusterer, Move
from newsrift.stages.events.state import Placed
from tests.unit.events.test_clusterer import (
    KLITSCHKO_1,
    KLITSCHKO_1B,
    KLITSCHKO_2,
    KLITSCHKO_2B,
    T0,
    _stream,
    _warm,
    art,
)

# Every article its own fragment, and no settle unless asked: what a settle does is all there is to see.
LONE = dataclasses.replace(ClusterConfig(), threshold=0.99, provisional=0.99, settle_every=10**9)


def _fights(cfg: ClusterConfig = LONE) -> EventClusterer:
    c = EventClusterer(copy.deepcopy(_warm().store), cfg)
    c.assign(art("a", KLITSCHKO_1, 0, "Klitschko stops Rahman"), ("k-a",))
    c.assign(art("b", KLITSCHKO_2, 1, "Klitschko stops Thompson"), ("k-b",))
    c.assign(art("a2", KLITSCHKO_1B, 2, "Klitschko beats Rahman in Mannheim"), ("k-a2", "k-a2b"))
    c.assign(art("b2", KLITSCHKO_2B, 3, "Thompson no match for Klitschko"))
    return c


def test_a_settle_groups_the_fragments_of_each_fight_and_reports_the_moves() -> None:
    c = _fights()
    assert len({c.event_of(x) for x in ("a", "b", "a2", "b2")}) == 4  # before: four fragments
    moves = c.settle()
    ev_a, ev_b = stable_id("event", "a"), stable_id("event", "b")
    assert [c.event_of(x) for x in ("a", "a2", "b", "b2")] == [ev_a, ev_a, ev_b, ev_b]
    assert sorted(moves, key=lambda m: m.to_event) == sorted([
        Move(stable_id("event", "a2"), ev_a, ("a2",), ("k-a2", "k-a2b")),
        Move(stable_id("event", "b2"), ev_b, ("b2",), ()),
    ], key=lambda m: m.to_event)


def test_a_group_is_one_event_record_and_its_other_fragments_point_at_it() -> None:
    c = _fights()
    c.settle()
    ev_a = stable_id("event", "a")
    group = c.event(ev_a)
    assert sorted(group.article_ids) == ["a", "a2"] and group.article_count == 2 and group.merged_into is None
    assert c.event(stable_id("event", "a2")).merged_into == ev_a
    assert c.current(stable_id("event", "a2")) == ev_a
    live = [e for e in c.events() if e.merged_into is None]
    listed = [a for e in live for a in e.article_ids if a in ("a", "a2", "b", "b2")]
    assert sorted(listed) == ["a", "a2", "b", "b2"]  # each in exactly one live event


def test_a_settle_with_nothing_new_changes_nothing() -> None:
    c = _fights()
    c.settle()
    c.moves_sent()
    before = copy.deepcopy(dict(c.store))
    assert c.settle() == []
    assert dict(c.store) == before


def test_moves_not_marked_sent_come_again_on_redelivery_and_on_the_next_tick() -> None:
    """The store is written before the worker sends the moves: a crash in between must not lose them."""
    c = _fights()
    moves = c.settle()
    assert moves
    # What a restart after the crash sees: the settle is done, its moves are still pending.
    again = EventClusterer(copy.deepcopy(dict(c.store)), LONE)
    assert again.settle() == moves
    assert again.assign(art("b2", KLITSCHKO_2B, 3, "Thompson no match for Klitschko")).moves == tuple(moves)
    again.moves_sent()
    assert again.settle() == [] and again.pending_moves() == []


def test_settling_off_leaves_every_fragment_its_own_event() -> None:
    c = _fights(dataclasses.replace(LONE, settle_every=0))
    assert c.settle() == []
    assert len({c.event_of(x) for x in ("a", "b", "a2", "b2")}) == 4


def test_a_settle_runs_every_settle_every_articles_and_a_restart_gives_the_same_answers() -> None:
    cfg = dataclasses.replace(LONE, settle_every=2)
    whole = _fights(cfg)
    assert whole.event_of("a2") == stable_id("event", "a")  # settled at the 2nd and 4th article
    warm = copy.deepcopy(_warm().store)
    first = EventClusterer(warm, cfg)
    first.assign(art("a", KLITSCHKO_1, 0, "Klitschko stops Rahman"), ("k-a",))
    first.assign(art("b", KLITSCHKO_2, 1, "Klitschko stops Thompson"), ("k-b",))
    second = EventClusterer(copy.deepcopy(warm), cfg)  # a restart: caches rebuilt from the store
    second.assign(art("a2", KLITSCHKO_1B, 2, "Klitschko beats Rahman in Mannheim"), ("k-a2", "k-a2b"))
    second.assign(art("b2", KLITSCHKO_2B, 3, "Thompson no match for Klitschko"))
    assert [second.event_of(x) for x in ("a", "b", "a2", "b2")] == [whole.event_of(x) for x in ("a", "b", "a2", "b2")]
    assert dict(second.store) == dict(whole.store)


def _placed_fights() -> tuple[Assigner, Placement]:
    """The four fights through an Assigner that settles on the fourth; returns it and the fourth placement."""
    a = Assigner({}, copy.deepcopy(_warm().store))
    a.clusterer = EventClusterer(a.clusterer.store, dataclasses.replace(LONE, settle_every=4))
    a.place(art("a", KLITSCHKO_1, 0, "Klitschko stops Rahman"), ("k-a",))
    a.place(art("b", KLITSCHKO_2, 1, "Klitschko stops Thompson"), ("k-b",))
    a.place(art("a2", KLITSCHKO_1B, 2, "Klitschko beats Rahman in Mannheim"), ("k-a2",))
    return a, a.place(art("b2", KLITSCHKO_2B, 3, "Thompson no match for Klitschko"), ("k-b2",))


def test_the_assigner_reports_earlier_articles_moves_not_the_placed_one() -> None:
    a, last = _placed_fights()
    ev_a, ev_b = stable_id("event", "a"), stable_id("event", "b")
    assert last.event_id == ev_b  # where the settle put it, so its claims go straight there
    assert last.moves == (Move(stable_id("event", "a2"), ev_a, ("a2",), ("k-a2",)),)
    assert {ev_a, ev_b, stable_id("event", "a2"), stable_id("event", "b2")} <= set(last.changed_events)
    moved = a.placement_of("a2")
    assert moved is not None and moved.event_id == ev_a and moved.duplicate_of is None


def test_a_near_miss_starts_in_the_nearest_event_as_a_fragment_of_its_own() -> None:
    c = EventClusterer(copy.deepcopy(_warm().store), dataclasses.replace(LONE, provisional=0.21))
    c.assign(art("a", KLITSCHKO_1, 0, "Klitschko stops Rahman"))
    got = c.assign(art("a2", KLITSCHKO_1B, 2, "Klitschko beats Rahman in Mannheim"))
    ev_a = stable_id("event", "a")
    assert (got.event_id, got.is_new) == (ev_a, False) and got.similarity >= 0.21
    placed = c.state.placed("a2")
    assert placed is not None and placed.fragment == stable_id("event", "a2")  # its own fragment: not for good
    assert sorted(c.event(ev_a).article_ids) == ["a", "a2"]
    assert c.settle() == []  # the settle agrees: nothing moves
    assert c.event_of("a2") == ev_a


def test_late_articles_do_not_make_a_restart_answer_differently() -> None:
    """An article days late must not knock current events out of the index in one run and not in the other."""
    from tests.unit.events.test_clusterer import _stream

    arts = [dataclasses.replace(a, published=a.published - timedelta(days=5)) if i % 10 == 9 else a
            for i, a in enumerate(_stream()[:160])]
    cfg = dataclasses.replace(ClusterConfig(), settle_every=20)
    whole = EventClusterer({}, cfg)
    straight = [whole.assign(a) for a in arts]
    store: dict = {}
    first = EventClusterer(store, cfg)
    got = [first.assign(a) for a in arts[:80]]
    second = EventClusterer(copy.deepcopy(store), cfg)
    got += [second.assign(a) for a in arts[80:]]
    assert got == straight
    assert dict(second.store) == dict(whole.store)


def test_an_online_merge_never_swallows_a_group_it_does_not_lead() -> None:
    """A fragment that grows close to its group's label is left to the next settle: merging the label into it
    online would rename the group without a move, and strand the other fragments' articles."""
    c = _fights()
    c.settle()
    c.moves_sent()
    # Same store, joins allowed now, and any two close fragments merge online.
    c = EventClusterer(c.store, dataclasses.replace(LONE, threshold=0.5, merge_threshold=0.0))
    got = c.assign(art("a3", KLITSCHKO_1B, 4, "Klitschko beats Rahman in Mannheim"))
    assert stable_id("event", "a") not in got.merged
    live = [e for e in c.events() if e.merged_into is None]
    for x in ("a", "a2", "a3", "b", "b2"):
        holders = [e.event_id for e in live if x in e.article_ids]
        assert holders == [c.event_of(x)], (x, holders)
    assert c.event_of("a3") == c.event_of("a2") == stable_id("event", "a")


def test_a_redelivered_article_sends_its_own_pending_move_and_failed_sends_are_kept() -> None:
    a, _ = _placed_fights()  # the fourth settles; its sends fail
    # The crash came before the sends: a2 comes again, and its own move (made by b2's settle) must go.
    again = a.place(art("a2", KLITSCHKO_1B, 2, "Klitschko beats Rahman in Mannheim"), ("k-a2",))
    assert again.moves == (Move(stable_id("event", "a2"), stable_id("event", "a"), ("a2",), ("k-a2",)),)
    a.moves_sent()
    assert a.settle() == []


def _unrelated(i: int, minutes: float) -> Article:
    """A story of its own: made-up words no other story holds, so no settle has a reason to touch it."""
    words = " ".join(f"zq{i}w{j}" for j in range(12))
    return dataclasses.replace(art(f"u{i}", f"Officials in Town{i} said {words}. {words}.", 0, f"Town{i} {words}"),
                               published=T0 + timedelta(minutes=minutes))


def test_a_settle_regroups_what_changed_and_its_neighbours_not_every_live_event() -> None:
    c = EventClusterer(copy.deepcopy(_warm().store), ClusterConfig())
    for i in range(150):
        c.assign(_unrelated(i, i))
    c.settle()
    c.moves_sent()
    scored: list[int] = []
    original = c.settler.scores

    def spy(frags, n, core=None):  # type: ignore[no-untyped-def]
        scored.append(len(frags))
        return original(frags, n, core)

    c.settler.scores = spy  # type: ignore[method-assign]
    for n, (aid, text, title) in enumerate([("a", KLITSCHKO_1, "Klitschko stops Rahman"),
                                            ("a2", KLITSCHKO_1B, "Klitschko beats Rahman in Mannheim")]):
        c.assign(dataclasses.replace(art(aid, text, 0, title), published=T0 + timedelta(minutes=200 + n)))
    c.settle()
    assert c.live_events() > 150
    assert scored and max(scored) < 20  # the two new fragments and what they could pair with
    assert c.event_of("a") == c.event_of("a2")


def test_local_settles_give_the_events_a_settle_of_the_whole_window_gives() -> None:
    arts = [dataclasses.replace(a, published=T0 + timedelta(minutes=i)) for i, a in enumerate(_stream())]
    local = EventClusterer({}, ClusterConfig())
    whole = EventClusterer({}, ClusterConfig())
    whole.settler._changed = lambda eligible: None  # type: ignore[assignment,method-assign,return-value]  # every settle: the whole window
    for a in arts:
        local.assign(a)
        whole.assign(a)
    local.settle()
    whole.settle()
    assert [local.event_of(a.article_id) for a in arts] == [whole.event_of(a.article_id) for a in arts]


def _region_sizes(cfg: ClusterConfig) -> tuple[EventClusterer, list[tuple[int, int]]]:
    """Fifteen live stories that each name Rahman and Mannheim, then two articles on the Rahman fight and a
    settle: the sizes of what that settle regroups (all fragments, the changed groups)."""
    c = EventClusterer(copy.deepcopy(_warm().store), cfg)
    for i in range(15):
        u = _unrelated(i, i)
        c.assign(dataclasses.replace(u, text=u.text + " Rahman in Mannheim.", title=u.title + " Rahman"))
    c.settle()
    c.moves_sent()
    scored: list[tuple[int, int]] = []
    original = c.settler.scores

    def spy(frags, n, core=None):  # type: ignore[no-untyped-def]
        scored.append((len(frags), len(core or ())))
        return original(frags, n, core)

    c.settler.scores = spy  # type: ignore[method-assign]
    for n, (aid, text, title) in enumerate([("a", KLITSCHKO_1, "Klitschko stops Rahman"),
                                            ("a2", KLITSCHKO_1B, "Klitschko beats Rahman in Mannheim")]):
        c.assign(dataclasses.replace(art(aid, text, 0, title), published=T0 + timedelta(minutes=100 + n)))
    c.settle()
    return c, scored


def test_a_settle_region_stops_at_settle_region_fragments_but_keeps_what_changed() -> None:
    _, wide = _region_sizes(ClusterConfig())
    c, narrow = _region_sizes(dataclasses.replace(ClusterConfig(), settle_region=3))
    assert max(size for size, _ in wide) > 3  # the stories naming Rahman are neighbours
    assert narrow and all(size <= max(3, core) and core >= 1 for size, core in narrow)
    assert c.event_of("a") == c.event_of("a2")


def test_a_word_turning_common_reopens_only_fragments_it_may_have_held_together() -> None:
    c = _fights()
    c.settle()
    c.moves_sent()
    frag = {x: stable_id("event", x) for x in ("a", "a2", "b")}
    assert c.event_of("a") == c.event_of("a2") != c.event_of("b")
    s = c.settler
    s.holders[10**7] = ["a", "a2"]  # a word the two fragments of one event shared: its bonus may have joined them
    s.holders[10**7 + 1] = ["a", "b"]  # one two events shared, and were settled apart anyway
    c.state.put_placed("new", Placed(frag["a"], 0.0, 99, turned=(10**7, 10**7 + 1)))
    s.new = {"new"}
    c.index.changed.clear()
    assert s._changed(dict(c.index.live)) == {frag["a"], frag["a2"]}
    assert 10**7 not in s.holders and 10**7 + 1 not in s.holders  # common now: never looked at again
