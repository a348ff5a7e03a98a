"""Event clusterer: same-kind events kept apart, time decay, merges recorded, restart and replay equivalence."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsrift.model import Article, Entity, stable_id
from newsrift.stages.events.core import ClusterConfig, EventClusterer
from newsrift.stages.events.state import Clock, DfPage, EventState, Fragment, Group, Move, Placed, decode, encode

T0 = datetime(2024, 3, 1, 8, tzinfo=timezone.utc)
CASES = Path(__file__).resolve().parents[2] / "fixtures" / "reprints" / "pairs.jsonl"
KLITSCHKO_1 = ("Wladimir Klitschko defended his IBF heavyweight crown by stopping Hasim Rahman in the seventh round at "
               "SAP Arena in Mannheim on Saturday. Rahman, the former champion, was outclassed throughout.")
KLITSCHKO_1B = ("Klitschko retained his heavyweight titles with a seventh-round stoppage of Hasim Rahman in Mannheim, "
                "Germany. The referee halted the bout after Rahman failed to answer Klitschko's jab.")
KLITSCHKO_2 = ("Wladimir Klitschko stopped Tony Thompson in the sixth round in Bern, Switzerland, to retain his WBA, "
               "IBF and WBO heavyweight belts. Thompson was knocked down twice before the fight was stopped in 2012.")
KLITSCHKO_2B = ("Tony Thompson was no match again for Wladimir Klitschko in Bern: the champion floored Thompson twice "
                "and the sixth-round stoppage kept the heavyweight belts in Switzerland in 2012.")


def art(aid: str, text: str, hours: float = 0, title: str = "", entities: tuple[Entity, ...] = ()) -> Article:
    return Article(article_id=aid, outlet_id="o", url="", title=title, text=text, content_hash=aid,
                   published=T0 + timedelta(hours=hours), entities=entities)


def _stream() -> list[Article]:
    cases = [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]
    return [art(c["id"], c["text"], c["seq"] * 0.05, c["title"]) for c in cases if c["expect"] is None]


def _warm() -> EventClusterer:
    """A clusterer that has already seen a few hundred articles, so IDF knows which words are common."""
    c = EventClusterer({})
    for a in _stream():
        c.assign(dataclasses.replace(a, published=T0 - timedelta(days=30)))
    c.settle()  # the idle tick at the end of the warm-up stream (else the first later article's time jump settles)
    c.moves_sent()  # what a driver does once it has sent them
    return c


def test_two_fights_of_the_same_champion_are_two_events() -> None:
    c = _warm()
    a = c.assign(art("a", KLITSCHKO_1, 0, "Klitschko stops Rahman"))
    b = c.assign(art("b", KLITSCHKO_2, 1, "Klitschko stops Thompson"))
    a2 = c.assign(art("a2", KLITSCHKO_1B, 2, "Klitschko beats Rahman in Mannheim"))
    b2 = c.assign(art("b2", KLITSCHKO_2B, 3, "Thompson no match for Klitschko"))
    assert a.is_new and b.is_new and b.event_id != a.event_id
    assert (a2.event_id, b2.event_id) == (a.event_id, b.event_id)


def test_a_story_continues_over_days_but_not_after_a_long_silence() -> None:
    c = EventClusterer({})
    first = c.assign(art("a", KLITSCHKO_1, 0, "Klitschko stops Rahman"))
    assert c.assign(art("b", KLITSCHKO_1B, 50, "Klitschko beats Rahman")).event_id == first.event_id
    later = c.assign(art("c", KLITSCHKO_1 + " A look back.", 50 + 24 * 30, "Klitschko stops Rahman"))
    assert later.is_new and later.event_id != first.event_id


def test_event_ids_come_from_the_first_article_and_survive_replay() -> None:
    arts = _stream()[:60]
    c1 = EventClusterer({})
    once = [c1.assign(a) for a in arts]
    assert once[0].event_id == stable_id("event", arts[0].article_id)
    assert [c1.assign(a).event_id for a in arts] == [c1.current(x.event_id) for x in once]  # redelivery
    c2 = EventClusterer({})
    assert [c2.assign(a) for a in arts] == once


def test_restart_from_a_copy_of_the_store_gives_the_same_answers() -> None:
    arts = _stream()[:120]
    whole = EventClusterer({})
    straight = [whole.assign(a) for a in arts]
    store: dict = {}
    first = EventClusterer(store)
    got = [first.assign(a) for a in arts[:60]]
    resumed = EventClusterer(copy.deepcopy(store))  # a restarted worker rebuilds its index from the table
    got += [resumed.assign(a) for a in arts[60:]]
    assert got == straight
    assert [e.to_json() for e in resumed.events()] == [e.to_json() for e in whole.events()]
    json.dumps(store)


class _Crash(Exception):
    pass


class _CrashInFold(dict):
    """A store that fails on its ``after``-th write of a document-frequency page once armed: a worker killed in the
    middle of a fold."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after, self.armed = after, False

    def __setitem__(self, key: str, value: object) -> None:
        if self.armed and key.startswith(EventState.PAGE):
            if self.after == 0:
                self.armed = False
                raise _Crash
            self.after -= 1
        super().__setitem__(key, value)


def _keys(store: dict, prefix: str) -> list[str]:
    return [k for k in store if k.startswith(prefix)]


def test_document_frequencies_are_one_key_per_article_then_pages() -> None:
    arts = _stream()[:120]
    store: dict = {}
    c = EventClusterer(store)  # default fold_every (4000): nothing folded yet
    unfolded = [c.assign(a) for a in arts]
    assert sorted(_keys(store, EventState.INCREMENT)) == sorted(f"{EventState.INCREMENT}{n}" for n in range(1, 121))
    assert not _keys(store, EventState.PAGE)
    folded_store: dict = {}
    folded = EventClusterer(folded_store, ClusterConfig(fold_every=7))
    assert [folded.assign(a) for a in arts] == unfolded  # folding changes what is stored, not the answers
    assert len(_keys(folded_store, EventState.INCREMENT)) == 120 % 7
    pages = [p for _, p in EventState(folded_store).pages()]
    assert pages and all(p.folded_through % 7 == 0 for p in pages)
    pending = [b for _, buckets in EventState(folded_store).increments() for b in buckets]
    counted = sum(len(buckets) for _, buckets in EventState(store).increments())
    assert sum(sum(p.counts.values()) for p in pages) + len(pending) == counted


def _straight_and_first_half(arts: list[Article], cfg: ClusterConfig) -> tuple[list, dict, list]:
    """Answers of one uninterrupted run, and the store and answers of another after the first 60 articles."""
    whole = EventClusterer({}, cfg)
    straight = [whole.assign(a) for a in arts]
    store: dict = {}
    first = EventClusterer(store, cfg)
    return straight, store, [first.assign(a) for a in arts[:60]]


def test_restart_mid_fold_and_after_folds_gives_the_same_answers() -> None:
    arts = _stream()[:120]
    cfg = ClusterConfig(fold_every=7)
    # Restart between two folds (60 is not a multiple of 7): pending increments come back from their keys.
    straight, store, got = _straight_and_first_half(arts, cfg)
    resumed = EventClusterer(copy.deepcopy(store), cfg)
    assert got + [resumed.assign(a) for a in arts[60:]] == straight
    # A crash after three of the pages of the fold at article 63 were written: the article itself is recorded, the
    # increments are still there, and rebuilding counts them only into the pages not yet folded.
    crashing = _CrashInFold(after=3)
    first = EventClusterer(crashing, cfg)
    got = [first.assign(a) for a in arts[:62]]
    crashing.armed = True
    with pytest.raises(_Crash):  # the fold is cut short
        first.assign(arts[62])
    assert crashing.after == 0 and _keys(crashing, EventState.INCREMENT)
    resumed = EventClusterer(copy.deepcopy(dict(crashing)), cfg)
    ref = EventClusterer({}, cfg)
    for a in arts[:63]:
        ref.assign(a)
    assert resumed.vectoriser.df == ref.vectoriser.df  # each increment counted once: in its page or pending
    assert resumed.assign(arts[62]).event_id == straight[62].event_id  # redelivered: its first event
    assert got + [resumed.assign(a) for a in arts[63:]] == straight[:62] + straight[63:]


def test_every_record_goes_through_one_json_codec_and_no_other_layout_is_read() -> None:
    when = T0 + timedelta(minutes=3)
    records = [
        Fragment(title="t", articles=["a", "b"], count=3, centroid={"w": {"x": 0.5}}, norms={"w": 0.5}, first=T0,
                 last=when, size=2, changed=7, group="g1"),
        Fragment(title="t", articles=[], count=0, centroid={}, norms={}, first=None, last=None, size=1,
                 merged_into="f2"),
        Placed("f1", 0.31, 4, rare=(3, 9), turned=(5,), claims=("c1",)), Placed("f1", 1.0),
        Group(["f1", "f2"]), DfPage(12, {"7": 2}), Clock(9, 8, when), Clock(), Move("e1", "e2", ("a",), ("c",)),
    ]
    for rec in records:
        text = json.dumps(encode(rec))
        assert decode(type(rec), json.loads(text)) == rec
    assert encode(Placed("f1", 1.0)) == {"fragment": "f1", "score": 1.0}  # defaults left out: small records
    assert encode(Clock(1, None, when))["quiet_before"] == "2024-03-01T08:03:00Z"
    with pytest.raises(TypeError):  # a record of another layout (the short keys of an unreleased version)
        decode(Placed, {"e": "f1", "s": 0.0})


def test_the_store_holds_only_typed_records() -> None:
    store: dict = {}
    c = EventClusterer(store, ClusterConfig(fold_every=30))
    for a in _stream()[:80]:
        c.assign(a)
    c.settle()
    kinds = {EventState.FRAGMENT: Fragment, EventState.GROUP: Group, EventState.ARTICLE: Placed,
             EventState.PAGE: DfPage}
    for key, value in store.items():
        kind = next((k for p, k in kinds.items() if key.startswith(p)), None)
        if kind is not None:
            assert encode(decode(kind, value)) == value, key
        elif key.startswith(EventState.INCREMENT):
            assert all(isinstance(b, int) for b in value)
        else:
            assert key in (EventState.CLOCK, EventState.PENDING), key
    assert c.state.clock().articles == 80 and c.state.clock().settled_at == 80


def test_a_merge_is_recorded_not_lost() -> None:
    # A low merge bar so that the bridge article pulls the two halves of one story together.
    c = EventClusterer({}, ClusterConfig(threshold=0.35, merge_threshold=0.3, settle_every=0))
    a = c.assign(art("a", KLITSCHKO_1, 0, "Klitschko stops Rahman"))
    b = c.assign(art("b", KLITSCHKO_1B, 1, "Rahman loses in Germany"))
    assert b.is_new
    bridge = c.assign(art("c", KLITSCHKO_1 + " " + KLITSCHKO_1B, 2, "Klitschko stops Rahman in Mannheim"))
    assert bridge.merged, "the bridge should fold one event into the other"
    gone = bridge.merged[0]
    assert c.event(gone).merged_into == bridge.event_id
    assert c.resolve(gone) == bridge.event_id and {a.event_id, b.event_id} == {gone, bridge.event_id}
    assert set(c.event(bridge.event_id).article_ids) == {"a", "b", "c"}


def test_entities_from_spacy_are_used_when_present() -> None:
    ents = (Entity("Hasim Rahman", "PERSON", 0, 12),)
    c = EventClusterer({})
    c.assign(art("a", KLITSCHKO_1, 0, "Klitschko stops Rahman", ents))
    frag = c.state.fragment(stable_id("event", "a"))
    assert frag is not None and any(t.startswith("ent ") for t in frag.centroid["p"])


QUAKE_2005 = ("A strong earthquake struck Qeshm island off southern Iran on Sunday, November 27, 2005, killing at "
              "least ten people and flattening villages, the Iranian Red Crescent said. The 2005 quake was felt in "
              "Dubai.")
QUAKE_2005B = ("Rescuers searched the rubble of villages on Qeshm island in southern Iran after the earthquake of "
               "November 27, 2005 killed at least ten people; the Red Crescent sent tents. Dubai felt the 2005 quake.")
QUAKE_2008 = ("Five residents were hurt on September 10, 2008 when a magnitude 6.1 tremor shook Qeshm in the Gulf, "
              "provincial officials told state television. Buildings cracked in Iran's Hormozgan province.")


def test_a_story_about_another_year_is_another_event_of_the_same_kind() -> None:
    """Same island, same kind of event, same outlets' vocabulary: the stated year and date tell them apart. At the
    join threshold tuned without settling (0.21), where the words alone would join them."""
    results = {}
    base = dataclasses.replace(ClusterConfig(), threshold=0.21)
    for name, cfg in (("with", base),
                      ("without", dataclasses.replace(base, conflicts=(),
                                                      weights=(("w", 0.45), ("b", 0.2), ("p", 0.25), ("y", 0.1))))):
        c = EventClusterer(_warm().store, cfg)
        a = c.assign(art("q1", QUAKE_2005, 0, "Quake kills ten on Iran's Qeshm island"))
        a2 = c.assign(art("q2", QUAKE_2005B, 1, "Rescuers search Qeshm villages after quake"))
        b = c.assign(art("q3", QUAKE_2008, 2, "Five hurt as tremor shakes Qeshm"))
        assert a2.event_id == a.event_id
        results[name] = b.event_id != a.event_id
    # The dates decide: without the date channel and the year conflict the two quakes are one event.
    assert results == {"with": True, "without": False}


def test_dates_the_text_states_are_features() -> None:
    from newsrift.stages.events.core import features

    feats = features(art("d", "Voting began on Dec. 14 and results came on December 15th. See /2008/12/ for more."))
    assert feats["d"] == {"dec-14": 1.0, "dec-15": 1.0, "2008-dec": 1.0}
    assert "2008" in feats["y"]
    # Percentages and impossible days are not dates.
    assert features(art("e", "Mar 45 and May 5 percent"))["d"] == {}


def _daily_stories(days: int) -> list[Article]:
    """One new story a day, each with its own names, plus a follow-up an hour later."""
    out = []
    for d in range(days):
        text = (f"Officials in Town{d}ville said the Bridge{d} collapse injured workers of Firm{d}. "
                f"Mayor Person{d} promised an inquiry into Firm{d} and the Bridge{d} contract.")
        out.append(art(f"s{d}", text, 24 * d, f"Bridge{d} collapses in Town{d}ville"))
        out.append(art(f"s{d}b", text + " Repairs will take months.", 24 * d + 1, f"Inquiry into Bridge{d}"))
    return out


def test_events_quiet_past_retention_are_forgotten_so_state_stays_bounded() -> None:
    cfg = dataclasses.replace(ClusterConfig(), retention=timedelta(days=10), forget_every=10)
    store: dict = {}
    c = EventClusterer(store, cfg)
    stories = _daily_stories(60)
    for a in stories:
        c.assign(a)
    events = _keys(store, EventState.FRAGMENT)
    placed = EventState(store).placed_ids()
    # 60 daily stories over 60 days, but only those of the last retention window (plus one sweep's worth) remain.
    assert 0 < len(events) <= 10 + 1 + 5
    assert len(placed) == 2 * len(events)
    assert c.event_of("s0") is None and c.event_of("s0b") is None
    assert c.event_of("s59") == c.event_of("s59b") is not None
    # What remains is consistent: every remembered placement resolves to a remembered event.
    assert all(c.state.fragment(c.resolve(c.state.placed(k).fragment)) is not None for k in placed)  # type: ignore[union-attr]


def _old(title: str, articles: list[str], merged_into: str | None = None) -> Fragment:
    return Fragment(title=title, articles=articles, count=len(articles), centroid={}, norms={}, first=T0, last=T0,
                    size=len(articles), merged_into=merged_into)


def test_forgetting_takes_merged_events_along_and_spares_live_ones() -> None:
    store: dict = {}
    state = EventState(store)
    state.put_fragment("old", _old("old", ["o1"]))
    state.put_fragment("older", _old("older", ["o2"], merged_into="old"))
    state.put_placed("o1", Placed("old", 0.0))
    state.put_placed("o2", Placed("older", 0.0))
    c = EventClusterer(store, ClusterConfig())
    c.assign(art("live", KLITSCHKO_1, 24 * 40, "Klitschko stops Rahman"))
    assert c.forget(T0 + timedelta(days=40)) == ["old", "older"]
    assert not any(state.fragment(f) or state.placed(a) for f, a in (("old", "o1"), ("older", "o2")))
    assert c.event_of("live") is not None


def test_a_future_publication_date_does_not_age_the_store() -> None:
    cfg = dataclasses.replace(ClusterConfig(), forget_every=1)
    c = EventClusterer({}, cfg)
    first = c.assign(art("a", KLITSCHKO_1, 0, "Klitschko stops Rahman"))
    wrong = dataclasses.replace(art("z", "Unrelated text about gardening tools and soil.", 24 * 365 * 5),
                                ingested_at=T0 + timedelta(hours=1))
    c.assign(wrong)
    assert c.event_of("a") == first.event_id


def test_a_long_story_lists_its_latest_articles_counts_all_and_forgets_all() -> None:
    # A listing of 3: the record stays small however long the story runs, the count stays exact, and forgetting
    # the event still drops the placements of the articles that fell off the list.
    cfg = dataclasses.replace(ClusterConfig(), listed_articles=3, merge_threshold=0.3, threshold=0.35)
    store: dict = {}
    c = EventClusterer(store, cfg)
    texts = [KLITSCHKO_1, KLITSCHKO_1B, KLITSCHKO_1 + " " + KLITSCHKO_1B]
    placed = [c.assign(art(f"k{i}", texts[i % 3], i, "Klitschko stops Rahman")) for i in range(7)]
    c.add_article(placed[-1].event_id, "k-reprint")
    survivor = c.resolve(placed[-1].event_id)
    assert {c.resolve(p.event_id) for p in placed} == {survivor}
    ev = c.event(survivor)
    assert len(ev.article_ids) == 3 and ev.article_ids[-1] == "k-reprint"
    assert ev.article_count == 8
    assert len(c.state.fragment(survivor).articles) == 3  # type: ignore[union-attr]
    assert c.forget(T0 + timedelta(days=60))
    assert not _keys(store, EventState.ARTICLE) and not _keys(store, EventState.FRAGMENT)


def test_a_reprint_is_listed_and_counted_in_a_quiet_fragment_too() -> None:
    store: dict = {}
    EventState(store).put_fragment("old", _old("old", ["o1", "o2"]))
    c = EventClusterer(store, ClusterConfig())
    assert c.event("old").article_count == 2
    c.add_article("old", "o3")
    assert c.event("old").article_count == 3 and c.state.fragment("old").count == 3  # type: ignore[union-attr]
    assert c.event_of("o3") == "old"


def test_a_redelivered_reprint_is_counted_once_even_after_it_left_the_list() -> None:
    c = EventClusterer({}, dataclasses.replace(ClusterConfig(), listed_articles=2))
    eid = c.assign(art("k0", KLITSCHKO_1, 0, "Klitschko stops Rahman")).event_id
    for r in ("r1", "r2", "r3"):
        c.add_article(eid, r)
    c.add_article(eid, "r1")  # at-least-once delivery, or a dead letter replayed
    ev = c.event(eid)
    assert ev.article_count == 4 and ev.article_ids == ("r2", "r3")


def test_the_inverted_indexes_kept_by_difference_equal_those_built_from_the_store() -> None:
    store: dict = {}
    c = EventClusterer(store, ClusterConfig())
    for a in _stream()[:150]:  # joins, online merges and settles
        c.assign(a)
    rebuilt = EventClusterer(copy.deepcopy(store), ClusterConfig())
    assert c.index.postings == rebuilt.index.postings and c.index.postings
    assert c.index.top_postings == rebuilt.index.top_postings
    assert c.index.tops == rebuilt.index.tops and set(c.index.live) == set(rebuilt.index.live)
