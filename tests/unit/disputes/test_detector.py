"""Detector behaviour over state: ids, replay, idempotence, reprints, positions, status, bounds."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from newsrift.model import Claim
from newsrift.records import DisputeChange, dispute_from_json
from newsrift.stages.alerts.core import QUIET_CHANGES
from newsrift.stages.disputes import DisputeDetector, EventDisputes
from tests.unit.disputes.helpers import T0, claim, later, qty


def stream() -> list[Claim]:
    """One event, several slots, outlets and days."""
    return [
        claim(
            "Kremlin-linked reporters",
            "Russian nationals had been killed",
            action="kill",
            actors=("Kurdish fighters", "Russian nationals"),
            outlet="o-rt",
            cid="s1",
            article="art-s1",
            stype="media",
        ),
        claim(
            "James Mattis",
            "no knowledge of Russian fighters killed",
            pol="no_knowledge",
            action="kill",
            actors=("coalition forces", "Russian fighters"),
            outlet="o-ap",
            cid="s2",
            article="art-s2",
            at=later(1),
        ),
        claim(
            "police",
            "five people were killed",
            action="kill",
            qs=(qty("five people", 5, counted="people"),),
            places=("Khasham",),
            outlet="o-afp",
            cid="s3",
            article="art-s3",
            at=later(2),
        ),
        claim(
            "hospital",
            "about 100 people died",
            action="die",
            qs=(qty("about 100", 100, None, "about", "dead"),),
            places=("Khasham",),
            outlet="o-reuters",
            cid="s4",
            article="art-s4",
            at=later(3),
        ),
        claim(
            "Russian Foreign Ministry",
            "Russian citizens were killed",
            pol="denies",
            action="kill",
            actors=("Russian citizens",),
            outlet="o-tass",
            cid="s5",
            article="art-s5",
            at=later(4),
        ),
        claim(
            "SOHR",
            "over 100 casualties",
            action="cause",
            qs=(qty("over 100 casualties", 100, None, "over", "casualties"),),
            places=("Khasham",),
            outlet="o-afp",
            cid="s6",
            article="art-s6",
            at=later(5),
        ),
    ]


def run(claims: list[Claim], *, roundtrip: bool = False) -> tuple[list[DisputeChange], EventDisputes]:
    det = DisputeDetector()
    state = EventDisputes()
    out: list[DisputeChange] = []
    for i, c in enumerate(claims):
        out += det.update(state, c, later(i))
        if roundtrip:  # what a Faust changelog or a checkpoint would do to the state between messages
            state = EventDisputes.from_json(json.loads(json.dumps(state.to_json())))
    return out, state


def test_kinds_and_changes_over_a_stream() -> None:
    changes, _ = run(stream())
    got = [(c.change, c.dispute.kind, len(c.dispute.sides)) for c in changes]
    assert got == [
        ("new", "non_confirmation", 2),
        ("new", "numeric", 2),
        ("new_kind", "polarity", 3),  # a denial after a "no knowledge": the dispute gets stronger
    ]
    ids = {c.dispute.dispute_id for c in changes}
    assert len(ids) == 2


def test_replay_and_json_roundtrip_give_the_same_answers() -> None:
    a, sa = run(stream())
    b, sb = run(stream(), roundtrip=True)
    assert [c.to_json() for c in a] == [c.to_json() for c in b]
    assert sa == sb
    assert EventDisputes.from_json(json.loads(json.dumps(sa.to_json()))) == sa  # its JSON is the whole state


def test_redelivered_claims_emit_nothing_and_new_is_never_repeated() -> None:
    det = DisputeDetector()
    state = EventDisputes()
    changes: list[DisputeChange] = []
    claims = stream()
    for i, c in enumerate(claims + claims[::-1] + claims):
        changes += det.update(state, c, later(i))
    news = Counter(c.dispute.dispute_id for c in changes if c.change == "new")
    assert set(news.values()) == {1}
    assert len(changes) == 3


def test_dispute_ids_depend_on_event_and_slot_only() -> None:
    changes, _ = run(stream())
    other_event = [Claim.from_json({**c.to_json(), "event_id": "ev2"}) for c in stream()]
    changes2, _ = run(other_event)
    assert {c.dispute.dispute_id for c in changes}.isdisjoint({c.dispute.dispute_id for c in changes2})
    again, _ = run([Claim.from_json({**c.to_json(), "claim_id": c.claim_id + "x"}) for c in stream()])
    assert [c.dispute.dispute_id for c in again] == [c.dispute.dispute_id for c in changes]


def test_reprints_count_once_with_all_carriers() -> None:
    det = DisputeDetector()
    state = EventDisputes()
    a = claim(
        "Kremlin-linked reporters",
        "Russian nationals had been killed",
        action="kill",
        actors=("Kurdish fighters", "Russian nationals"),
        outlet="o-rt",
        article="art1",
        stype="media",
    )
    reprint = claim(
        "Kremlin-linked reporters",
        "Russian nationals had been killed",
        action="kill",
        actors=("Kurdish fighters", "Russian nationals"),
        outlet="o-yahoo",
        article="art2",
        stype="media",
    )
    b = claim(
        "James Mattis",
        "no knowledge of Russian fighters killed",
        pol="no_knowledge",
        action="kill",
        actors=("coalition forces", "Russian fighters"),
        outlet="o-ap",
    )
    repeat = claim(
        "James Mattis",
        "he has no knowledge of Russian fighters being killed",
        pol="no_knowledge",
        action="kill",
        actors=("coalition forces", "Russian fighters"),
        outlet="o-bbc",
        at=later(2),
    )
    det.update(state, a, later(0), carriers={"art1": ["o-rt", "o-sputnik"]})
    assert det.update(state, reprint, later(1), duplicate_of="art1") == []  # no dispute yet: nothing to tell
    first = det.update(state, b, later(1))
    assert first[0].change == "new"
    assert first[0].dispute.sides[0].outlets == ("o-rt", "o-sputnik", "o-yahoo")
    # The same speaker again is not a new source, but the reported document must now show it: one quiet update.
    (again,) = det.update(state, repeat, later(2))
    assert again.change == "updated" and again.dispute.status == first[0].dispute.status
    assert again.dispute.sides[1].outlets == ("o-ap", "o-bbc")
    (d,) = det.disputes(state)
    assert [s.speaker for s in d.sides] == ["Kremlin-linked reporters", "James Mattis"]
    assert d.sides[0].outlets == ("o-rt", "o-sputnik", "o-yahoo")
    assert d.sides[1].outlets == ("o-ap", "o-bbc")
    assert det.update(state, reprint, later(3), duplicate_of="art1") == []  # redelivered reprint
    assert det.update(state, repeat, later(3)) == []  # redelivered repeat


def test_a_reprint_after_the_dispute_updates_its_carriers_without_an_alert() -> None:
    """The seed order: the wire story and its reprint's claims can reach the detector after the dispute is out."""
    det = DisputeDetector()
    state = EventDisputes()
    kw: dict[str, Any] = {"action": "kill", "actors": ("Kurdish fighters", "Russian nationals"), "stype": "media"}
    det.update(state, claim("Kremlin-linked reporters", "Russian nationals had been killed", outlet="o-rt",
                            article="art1", **kw), later(0))
    (new,) = det.update(state, claim("James Mattis", "no knowledge of Russian fighters killed", pol="no_knowledge",
                                     action="kill", actors=("coalition forces", "Russian fighters"), outlet="o-ap"),
                        later(1))
    reprint = claim("Kremlin-linked reporters", "Russian nationals had been killed", outlet="o-yahoo", article="art2",
                    **kw)
    (upd,) = det.update(state, reprint, later(2), duplicate_of="art1", carriers={"art2": ["o-yahoo", "o-msn"]})
    assert upd.change == "updated" and upd.dispute.dispute_id == new.dispute.dispute_id
    assert upd.dispute.sides[0].outlets == ("o-msn", "o-rt", "o-yahoo")
    assert upd.dispute.confidence > new.dispute.confidence  # more outlets on the record
    assert (upd.dispute.status, len(upd.dispute.sides)) == (new.dispute.status, len(new.dispute.sides))
    assert det.update(state, reprint, later(3), duplicate_of="art1") == []  # redelivered: no outlet is new
    assert upd.change in QUIET_CHANGES and new.change not in QUIET_CHANGES


def test_change_of_position_settles_and_is_recorded() -> None:
    det = DisputeDetector()
    state = EventDisputes()
    det.update(
        state,
        claim(
            "Kremlin-linked reporters",
            "Russians were killed",
            action="kill",
            actors=("US-backed Kurdish fighters", "Russians"),
        ),
        later(0),
    )
    det.update(
        state,
        claim(
            "James Mattis",
            "no knowledge of Russians killed",
            pol="no_knowledge",
            action="kill",
            actors=("US-led coalition", "Russians"),
            cid="m1",
        ),
        later(1),
    )
    out = det.update(
        state,
        claim(
            "James Mattis",
            "some Russians were killed in the strike",
            action="kill",
            actors=("US-led coalition", "Russians"),
            cid="m2",
            at=later(30),
        ),
        later(30),
    )
    assert [(c.change, c.dispute.status) for c in out] == [("status", "settled")]
    d = out[0].dispute
    assert len(d.sides) == 2 and d.sides[1].claim_id == "m2"
    assert any("position change: James Mattis" in n for n in d.notes)
    (pc,) = det.position_changes(state)
    assert (pc.speaker, pc.before_claim_id, pc.after_claim_id) == ("James Mattis", "m1", "m2")


def test_position_change_without_dispute_is_not_a_dispute() -> None:
    det = DisputeDetector()
    state = EventDisputes()
    det.update(
        state,
        claim("police", "two suspects arrested", action="arrest", qs=(qty("two suspects", 2, counted="suspects"),)),
        later(0),
    )
    out = det.update(
        state,
        claim(
            "police",
            "one suspect arrested",
            action="arrest",
            qs=(qty("one suspect", 1, counted="suspects"),),
            at=later(5),
        ),
        later(5),
    )
    assert out == []
    assert len(det.position_changes(state)) == 1


def test_new_side_then_stale_after_quiet_period() -> None:
    det = DisputeDetector(stale_after=timedelta(days=2))
    state = EventDisputes()

    def mk(who: str, n: int, h: float) -> Claim:
        return claim(who, f"{n} killed", action="kill", qs=(qty(str(n), n, counted="killed"),), at=later(h))

    assert det.update(state, mk("police", 5, 0), later(0)) == []
    assert [c.change for c in det.update(state, mk("hospital", 90, 1), later(1))] == ["new"]
    third = det.update(state, mk("Red Cross", 40, 2), later(2))
    assert [(c.change, c.dispute.status, len(c.dispute.sides)) for c in third] == [("new_side", "growing", 3)]
    assert det.sweep(state, later(30)) == []
    assert det.needs_sweep(state, later(30))  # a live dispute: the timer keeps asking
    stale = det.sweep(state, later(2 + 48))
    assert [(c.change, c.dispute.status) for c in stale] == [("status", "stale")]
    assert det.sweep(state, later(100)) == []
    assert not det.needs_sweep(state, later(100))  # all stale, not yet past retention (30 days): nothing to ask
    assert det.needs_sweep(state, later(24 * 31))  # past retention: asked once more, to be dropped
    assert not det.needs_sweep(EventDisputes(), later(0)) and not det.needs_sweep(None, later(0))


def test_an_event_quiet_past_retention_expires_and_a_busy_one_does_not() -> None:
    det = DisputeDetector(stale_after=timedelta(days=2), retention=timedelta(days=10))
    state = EventDisputes()
    det.update(state, claim("police", "5 killed", action="kill", qs=(qty("5", 5, counted="killed"),), at=later(0)),
               later(0))
    assert not det.expired(EventDisputes(), later(0))  # nothing known, nothing to drop
    assert not det.expired(state, later(24 * 9))
    assert det.expired(state, later(24 * 11))
    # A claim arriving late in the event's life moves its horizon.
    det.update(state, claim("hospital", "90 killed", action="kill", qs=(qty("90", 90, counted="killed"),),
                            at=later(24 * 8)), later(24 * 8))
    assert not det.expired(state, later(24 * 11))
    # The horizon counts from when claims arrived (``now``), not from when they were published.
    det.update(state, claim("Red Cross", "40 killed", action="kill", qs=(qty("40", 40, counted="killed"),),
                            at=later(0)), later(24 * 15))
    assert not det.expired(state, later(24 * 24)) and det.expired(state, later(24 * 26))


def test_retention_shorter_than_stale_after_is_refused() -> None:
    with pytest.raises(ValueError, match="retention"):
        DisputeDetector(stale_after=timedelta(days=3), retention=timedelta(days=1))


def test_state_is_bounded_but_keeps_quoted_claims() -> None:
    det = DisputeDetector(max_claims=10)
    state = EventDisputes()
    det.update(state, claim("a", "5 killed", action="kill", qs=(qty("5", 5, counted="killed"),), cid="q1"), T0)
    det.update(state, claim("b", "90 killed", action="kill", qs=(qty("90", 90, counted="killed"),), cid="q2"), T0)
    for i in range(40):
        det.update(state, claim(f"s{i}", f"talks held {i}", action="hold", actors=(f"x{i}",)), later(i))
    assert len(state.claims) == 10 and len(state.order) == 10
    assert {"q1", "q2"} <= set(state.claims)


def test_change_json_roundtrip_and_naive_time_rejected() -> None:
    changes, _ = run(stream())
    for c in changes:
        assert DisputeChange.from_json(json.loads(json.dumps(c.to_json()))) == c
        assert dispute_from_json(c.dispute.to_json()) == c.dispute
    with pytest.raises(ValueError):
        DisputeDetector().update(EventDisputes(), stream()[0], T0.replace(tzinfo=None))


def test_a_surname_and_the_full_name_are_one_side() -> None:
    det = DisputeDetector()
    state = EventDisputes()
    said = [
        claim("Trump", "3000 people did not die", pol="denies", action="kill", stype="person", article="a1",
              qs=[qty("3000 people", 3000, 3000, counted="people")]),
        claim("Ricardo Rossello", "the toll is 2,975", action="kill", stype="person", article="a2",
              qs=[qty("2,975", 2975, 2975, counted="dead")]),
        claim("Donald Trump", "they had anywhere from 6 to 18 deaths", action="kill", stype="person", article="a3",
              qs=[qty("6 to 18 deaths", 6, 18, "range", counted="deaths")]),
    ]
    changes = []
    for i, c in enumerate(said):
        changes += det.update(state, c, later(i))
    last = changes[-1].dispute
    assert sorted(s.speaker for s in last.sides) == ["Donald Trump", "Ricardo Rossello"]


def test_a_side_quotes_where_its_speaker_first_gave_its_answer() -> None:
    """A speaker who repeats a count keeps the side they first gave it on (the original report, not a later rewrite);
    one who changes it is shown with the new answer."""
    det = DisputeDetector()
    state = EventDisputes()
    first = claim("Port authority", "12 people were killed", action="kill", qs=(qty("12", 12, counted="killed"),),
                  at=later(0))
    other = claim("Rescue service", "30 people were killed", action="kill", qs=(qty("30", 30, counted="killed"),),
                  at=later(1))
    again = claim("Port authority", "a dozen people were killed", action="kill",
                  qs=(qty("12", 12, counted="killed"),), outlet="o2", at=later(2))
    for n, c in enumerate((first, other, again)):
        det.update(state, c, later(n))
    (d,) = det.disputes(state)
    assert {s.speaker: s.claim_id for s in d.sides}["Port authority"] == first.claim_id
    assert next(s for s in d.sides if s.speaker == "Port authority").outlets == ("o1", "o2")
    changed = claim("Port authority", "14 people were killed", action="kill", qs=(qty("14", 14, counted="killed"),),
                    at=later(3))
    det.update(state, changed, later(3))
    (d,) = det.disputes(state)
    assert {s.speaker: s.claim_id for s in d.sides}["Port authority"] == changed.claim_id


def test_a_speaker_left_without_anyone_to_disagree_with_is_no_longer_a_side() -> None:
    """"At least 20" joined the dispute against "12"; once 12 becomes 25, it agrees with both remaining answers and
    the dispute is 25 against 30 alone."""
    det = DisputeDetector()
    state = EventDisputes()

    def said(who: str, text: str, low: float, approx: str = "exact", n: int = 0) -> Claim:
        return claim(who, text, action="kill", at=later(n),
                     qs=(qty(text.split(" people")[0], low, None if approx == "at_least" else low, approx, "killed"),))

    for n, c in enumerate((said("Port authority", "12 people were killed", 12),
                           said("Rescue service", "30 people were killed", 30, n=1),
                           said("Hospital", "at least 20 people were killed", 20, "at_least", n=2))):
        det.update(state, c, later(n))
    (d,) = det.disputes(state)
    assert {s.speaker for s in d.sides} == {"Port authority", "Rescue service", "Hospital"}
    det.update(state, said("Port authority", "25 people were killed", 25, n=3), later(3))
    (d,) = det.disputes(state)
    assert {s.speaker for s in d.sides} == {"Port authority", "Rescue service"}
