"""The dispute state's one JSON codec: whole round trips, fresh objects, and nothing but its own layout read."""

from __future__ import annotations

import json

import pytest

from newsrift.records import DisputeRecord, Emitted
from newsrift.stages.disputes import DisputeDetector, EventDisputes
from newsrift.stages.disputes.moves import move_out
from newsrift.stages.disputes.state import STATE_VERSION
from tests.unit.disputes.helpers import claim, later, qty


def _busy() -> EventDisputes:
    """A state with every kind of record: disputes reported and not, a reprint alias, a position change, a
    redirect."""
    det = DisputeDetector()
    state = EventDisputes()
    said = [
        claim("police", "5 killed", action="kill", qs=(qty("5", 5, counted="killed"),), cid="p1", article="a1"),
        claim("hospital", "90 killed", action="kill", qs=(qty("90", 90, counted="killed"),), cid="h1", article="a2",
              at=later(1)),
        claim("police", "7 killed", action="kill", qs=(qty("7", 7, counted="killed"),), cid="p2", article="a3",
              at=later(2)),
    ]
    for i, c in enumerate(said):
        det.update(state, c, later(i), carriers={c.article_id: ["o-wire"]})
    det.update(state, claim("police", "5 killed", action="kill", qs=(qty("5", 5, counted="killed"),), cid="p1r",
                            article="a9", outlet="o-copy"), later(3), duplicate_of="a1")
    move_out(det, state, ["not-yet-here"], later(4), "ev2")
    return state


def test_a_state_survives_its_json_whole() -> None:
    state = _busy()
    assert state.alias == {"p1r": "p1"} and state.positions and state.moved == {"not-yet-here": "ev2"}
    assert any(d.emitted is not None for d in state.disputes.values())
    data = state.to_json()
    assert data["v"] == STATE_VERSION
    again = EventDisputes.from_json(json.loads(json.dumps(data)))
    assert again == state
    assert again.to_json() == data


def test_a_decoded_state_shares_nothing_that_changes_with_the_value_it_came_from() -> None:
    """The streaming step changes the decoded state and writes it back only when its outputs encoded: until then
    the table's value must stay as it was."""
    data = json.loads(json.dumps(_busy().to_json()))
    before = json.dumps(data, sort_keys=True)
    state = EventDisputes.from_json(data)
    DisputeDetector().update(state, claim("Red Cross", "40 killed", action="kill",
                                          qs=(qty("40", 40, counted="killed"),), cid="r1", at=later(5)), later(5))
    for d in state.disputes.values():
        d.members.append("x")
        d.notes.append("x")
    for e in state.claims.values():
        e.outlets.append("x")
    state.moved.clear()
    assert json.dumps(data, sort_keys=True) == before


@pytest.mark.parametrize("value", [
    {},  # no version
    {"v": 2, "event_id": "ev1"},
    {"v": STATE_VERSION, "event_id": "ev1", "seq": 0},  # a field left out
    {"moved": {"c1": "ev2"}, "seen": "2018-02-13T09:00:00Z"},  # a partial state: every field is written
])
def test_any_other_layout_is_refused(value: dict) -> None:
    with pytest.raises(ValueError, match="dispute state version"):
        EventDisputes.from_json(value)


def test_a_record_reads_only_what_it_writes() -> None:
    t = later(0)
    record = DisputeRecord("s|blame", "", ["a", "b"], ["attribution"], "attribution", "growing", 0.75, t, later(1),
                           ["n"], Emitted(["x", "y"], ["a", "b"], "attribution", "growing", ["o1"]))
    assert DisputeRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    with pytest.raises(KeyError):
        DisputeRecord.from_json({k: v for k, v in record.to_json().items() if k != "emitted"})
