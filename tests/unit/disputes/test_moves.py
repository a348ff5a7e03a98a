"""Claims leaving an event when a settle moves their articles: disputes follow, nothing is lost or left behind."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

from newsrift import messages
from newsrift.model import Claim
from newsrift.records import Handover
from newsrift.stages.disputes import DisputeDetector, EventDisputes
from newsrift.stages.disputes.moves import forward, move_out, redirected, take_over
from tests.unit.disputes.helpers import claim, later

KILLED = claim("Kremlin-linked reporters", "Russian nationals had been killed", action="kill",
               actors=("Kurdish fighters", "Russian nationals"), outlet="o-rt", cid="c1", article="a1", stype="media")
DENIED = claim("Russian Foreign Ministry", "Russian citizens were killed", pol="denies", action="kill",
               actors=("Russian citizens",), outlet="o-tass", cid="c2", article="a2", at=later(1))
NO_KNOWLEDGE = claim("James Mattis", "no knowledge of Russian fighters killed", pol="no_knowledge", action="kill",
                     actors=("coalition forces", "Russian fighters"), outlet="o-ap", cid="c3", article="a3",
                     at=later(2))


def _state(det: DisputeDetector, claims: list[Claim]) -> EventDisputes:
    state = EventDisputes()
    for i, c in enumerate(claims):
        det.update(state, c, later(i))
    return state


def test_a_dispute_whose_side_moves_away_is_withdrawn_and_the_claim_is_handed_on() -> None:
    det = DisputeDetector()
    state = _state(det, [KILLED, DENIED])
    [before] = det.disputes(state)
    assert {s.claim_id for s in before.sides} == {"c1", "c2"}

    handover, changes = move_out(det, state, ["c1"], later(5), "ev2")
    handed = handover.claims

    assert [(c.claim_id, o) for c, o in handed] == [("c1", ["o-rt"])] and handover.disputes == {}
    assert [(ch.change, ch.dispute.status, ch.dispute.dispute_id) for ch in changes] == [
        ("status", "withdrawn", before.dispute_id)]
    # The withdrawn record still shows both sides, so its document says what was withdrawn.
    assert {s.claim_id for s in changes[0].dispute.sides} == {"c1", "c2"}
    assert det.disputes(state) == []
    assert "c1" not in state.claims and state.order == ["c2"]
    # The claim joins the event it moved to and disputes there with what that event holds.
    other = _state(det, [dataclasses.replace(NO_KNOWLEDGE, event_id="ev2")])
    moved, outlets = handed[0]
    found = take_over(det, other, Handover([(dataclasses.replace(moved, event_id="ev2"), outlets)]), later(6))
    assert [c.change for c in found] == ["new"]
    assert {s.claim_id for s in found[0].dispute.sides} == {"c1", "c3"}
    assert found[0].dispute.event_id == "ev2"


def test_a_dispute_that_keeps_two_sides_stays_and_is_refreshed() -> None:
    det = DisputeDetector()
    state = _state(det, [KILLED, DENIED, NO_KNOWLEDGE])
    kept = {d.dispute_id for d in det.disputes(state)}
    handover, changes = move_out(det, state, ["c3"], later(5), "ev2")
    assert [c.claim_id for c, _ in handover.claims] == ["c3"]
    assert all(ch.dispute.status != "withdrawn" for ch in changes)
    standing = det.disputes(state)
    assert {d.dispute_id for d in standing} == kept
    assert all("c3" not in {s.claim_id for s in d.sides} for d in standing)


def test_a_claim_that_arrives_after_its_article_moved_is_sent_on_once() -> None:
    det = DisputeDetector()
    state = EventDisputes()
    handover, changes = move_out(det, state, ["late"], later(0), "ev2")
    assert (handover.claims, changes) == ([], [])
    state = EventDisputes.from_json(json.loads(json.dumps(state.to_json())))  # through a changelog
    assert forward(state, "late") == "ev2"
    assert forward(state, "late") is None
    # A state that held only redirects takes claims like a fresh one.
    assert det.update(state, KILLED, later(1)) == []
    assert state.claims.keys() == {"c1"} and state.event_id == "ev1"


def test_moving_nothing_known_changes_no_dispute() -> None:
    det = DisputeDetector()
    state = _state(det, [KILLED, DENIED])
    before = json.dumps(det.disputes(state), default=str)
    handover, changes = move_out(det, state, ["unknown"], later(3))
    assert (handover.claims, changes) == ([], [])
    assert json.dumps(det.disputes(state), default=str) == before


def test_a_dispute_whose_claims_all_move_keeps_its_id_and_alerts_nobody_again() -> None:
    det = DisputeDetector()
    state = _state(det, [KILLED, DENIED])
    [before] = det.disputes(state)
    handover, changes = move_out(det, state, ["c1", "c2"], later(5), "ev2")
    assert changes == [] and list(handover.disputes) == [before.dispute_id]
    assert det.disputes(state) == [] and state.claims == {}
    # Through a message: JSON both ways.
    message = messages.CLAIMS(messages.encode(messages.HandoverMessage(handover.to("ev2"))))
    assert isinstance(message, messages.HandoverMessage)
    wire = message.handover
    target = _state(det, [dataclasses.replace(NO_KNOWLEDGE, event_id="ev2")])
    got = take_over(det, target, wire, later(6))
    adopted = [c for c in got if c.dispute.dispute_id == before.dispute_id]
    # The same dispute, now in ev2: its document is rewritten quietly, or grows with ev2's own claim.
    assert adopted and all(c.change in ("updated", "new_side") for c in adopted)
    assert adopted[-1].dispute.event_id == "ev2"
    assert "new" not in {c.change for c in got if c.dispute.dispute_id == before.dispute_id}
    assert {d.dispute_id for d in det.disputes(target)} >= {before.dispute_id}


def test_a_dispute_settled_before_the_move_is_not_withdrawn_by_it() -> None:
    det = DisputeDetector()
    retract = claim("Russian Foreign Ministry", "Russian citizens were killed", action="kill",
                    actors=("Russian citizens",), outlet="o-tass", cid="c5", article="a5", at=later(3))
    state = _state(det, [KILLED, DENIED, retract])
    [d] = det.disputes(state)
    assert d.status == "settled"  # the ministry now says what the reporters said
    _, changes = move_out(det, state, ["c2"], later(6), "ev2")  # its earlier denial moves away
    assert all(c.dispute.status != "withdrawn" for c in changes)
    assert [x.status for x in det.disputes(state)] == ["settled"]


def _moved_to(det: DisputeDetector, state: EventDisputes, ids: list[str], to: str) -> Handover:
    handover, _ = move_out(det, state, ids, later(5), to)
    return handover.to(to)


def test_a_moved_dispute_joins_the_same_slots_dispute_in_its_new_event() -> None:
    det = DisputeDetector()
    source = _state(det, [KILLED, DENIED])
    [moved] = det.disputes(source)
    target = _state(det, [dataclasses.replace(KILLED, claim_id="b1", article_id="b-a1", event_id="ev2",
                                              speaker="RT", outlet_id="o-rt2"),
                          dataclasses.replace(DENIED, claim_id="b2", article_id="b-a2", event_id="ev2",
                                              speaker="Kremlin", outlet_id="o-tass2")])
    [there] = det.disputes(target)
    changes = take_over(det, target, _moved_to(det, source, ["c1", "c2"], "ev2"), later(6))
    # One slot, one dispute: the moved one's claims are sides of the one already there ...
    [merged] = det.disputes(target)
    assert merged.dispute_id == there.dispute_id
    assert {"c1", "c2"} <= set(target.disputes[there.dispute_id].members)
    # ... and the moved one's document is marked withdrawn, quietly.
    gone = [c for c in changes if c.dispute.dispute_id == moved.dispute_id]
    assert [(c.change, c.dispute.status) for c in gone] == [("updated", "withdrawn")]


def test_a_handover_for_claims_that_moved_on_again_is_sent_on() -> None:
    det = DisputeDetector()
    source = _state(det, [KILLED, DENIED])
    handover = _moved_to(det, source, ["c1", "c2"], "ev2")
    target = EventDisputes()
    move_out(det, target, ["c1", "c2"], later(5), "ev3")  # ev2 gave the articles to ev3 before the claims came
    stay, onward = redirected(target, handover)
    assert stay.claims == [] and stay.disputes == {}
    assert list(onward) == ["ev3"]
    assert [c.event_id for c, _ in onward["ev3"].claims] == ["ev3", "ev3"]
    assert list(onward["ev3"].disputes) == list(handover.disputes)


def test_a_stale_dispute_that_moves_whole_alerts_nobody() -> None:
    det = DisputeDetector(stale_after=timedelta(hours=2))
    source = _state(det, [KILLED, DENIED])
    stale = det.sweep(source, later(10))
    assert [c.dispute.status for c in stale] == ["stale"]
    target = EventDisputes()
    changes = take_over(det, target, _moved_to(det, source, ["c1", "c2"], "ev2"), later(11))
    assert changes and all(c.change == "updated" for c in changes)


def test_a_conflict_after_a_dispute_was_adopted_joins_the_adopted_dispute() -> None:
    det = DisputeDetector()
    source = _state(det, [KILLED, DENIED])
    [moved] = det.disputes(source)
    target = EventDisputes()
    take_over(det, target, _moved_to(det, source, ["c1", "c2"], "ev2"), later(6))
    # Two claims of ev2 itself, not members of the adopted dispute, disagree on the same question later.
    for i, c in enumerate([
        dataclasses.replace(KILLED, claim_id="b1", article_id="b-a1", event_id="ev2", speaker="RT", outlet_id="o2"),
        dataclasses.replace(DENIED, claim_id="b2", article_id="b-a2", event_id="ev2", speaker="Kremlin",
                            outlet_id="o3"),
    ]):
        det.update(target, c, later(7 + i))
    assert [d.dispute_id for d in det.disputes(target)] == [moved.dispute_id]  # one question, one dispute
