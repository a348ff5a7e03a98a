"""Claims moving between events: a settle regroups articles, and their claims (and disputes) follow them.

The event the claims left runs ``move_out`` and sends the ``Handover`` it returns (``newsrift.records``) to the
event they moved to, which runs ``take_over`` (first ``redirected``: claims whose articles moved on again meanwhile
go on). A claim still on its way to the old event is sent on when it arrives (``forward``). All four work on the
events' typed states (``newsrift.stages.disputes.state``) and use the detector's primitives for conflicts;
detection itself is in ``detector``.

A dispute all of whose claims move goes with them, id and history kept, so that a group that only grew alerts
nobody again. Its id came from the event it was first found in (``stable_id(event, family, anchor)``): the history
(``emitted``: what was reported, and so alerted) lives in that event's state, and a move carries it across.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from datetime import datetime

from newsrift.model import Claim, Dispute
from newsrift.records import DisputeChange, DisputeRecord, Handover
from newsrift.stages.disputes.detector import DisputeDetector
from newsrift.stages.disputes.frames import speaker_key
from newsrift.stages.disputes.state import EventDisputes, StoredClaim

__all__ = ["MAX_REDIRECTS", "forward", "move_out", "redirected", "take_over"]

MAX_REDIRECTS = 5000


def move_out(detector: DisputeDetector, state: EventDisputes, claim_ids: Sequence[str], now: datetime,
             to_event: str = "") -> tuple[Handover, list[DisputeChange]]:
    """Take claims out of this event: their articles were moved to ``to_event`` by a settle.

    Returns what to hand to the new event (``take_over`` there) and the changes here. The handover holds the
    claims, each with the outlets that carried it here (reprints folded into it included), and the disputes all
    of whose claims moved. A dispute that loses some of its claims is refreshed; one that had a live conflict and
    has none left, or keeps fewer than two speakers, is ``withdrawn`` (it was two events, not one disagreement) and
    leaves the state. Claims named here but unknown to the state (evicted, folded into another claim as a reprint,
    or not arrived yet: those are redirected to ``to_event``) hand nothing on.
    """
    gone = set(claim_ids)
    state.mark_seen(now)
    if to_event:
        # A claim may still be on its way here (handed on by another event's move): when it comes, it goes on.
        redirect = {k: v for k, v in state.moved.items() if k not in gone}
        redirect.update((cid, to_event) for cid in claim_ids if cid not in state.claims)
        state.moved = dict(list(redirect.items())[-MAX_REDIRECTS:])
    touched = {did: bool(detector.live_conflicts(state, d)) for did, d in state.disputes.items()
               if gone & set(d.members)}
    handed: list[tuple[Claim, list[str]]] = []
    for cid in list(state.order):
        if cid in gone and cid in state.claims:
            entry = state.claims.pop(cid)
            handed.append((entry.claim, list(entry.outlets)))
    state.order = [cid for cid in state.order if cid in state.claims]
    for k in [k for k, v in state.alias.items() if k in gone or v not in state.claims]:
        del state.alias[k]
    state.positions = [p for p in state.positions if p.before_claim_id not in gone and p.after_claim_id not in gone]
    changes: list[DisputeChange] = []
    whole: dict[str, DisputeRecord] = {}
    for did in sorted(touched):
        d = state.disputes[did]
        if set(d.members) <= gone:
            whole[did] = state.disputes.pop(did)
            continue
        d.members = [cid for cid in d.members if cid not in gone]
        speakers = len(detector.speakers(state, d.members))
        if speakers >= 2 and (detector.live_conflicts(state, d) or not touched[did]):
            change = detector.refresh(state, did, now, {"moved"})
            if change is not None:
                changes.append(change)
            continue
        if d.emitted is not None:
            # Report the dispute as it was, sides and all, so that its document says what was withdrawn.
            changes.append(DisputeChange(dispute=_withdrawn(detector, state, did, d, handed), change="status"))
        del state.disputes[did]
    return Handover(handed, whole), changes


def take_over(detector: DisputeDetector, state: EventDisputes, handover: Handover,
              now: datetime) -> list[DisputeChange]:
    """Receive what another event's ``move_out`` handed on (its claims already carry this event's id): the claims
    join, the disputes that moved whole keep their ids and history, and every claim is compared with what this
    event held. An adopted dispute's document is re-emitted as ``updated`` (quiet) to name this event."""
    if not handover.claims:
        return []
    state.start(handover.claims[0][0].event_id)
    fresh: list[str] = []
    for claim, outlets in handover.claims:
        entry = state.claims.get(claim.claim_id)
        if entry is not None:
            entry.add_outlets(outlets)
            continue
        detector.add_claim(state, claim, outlets)
        fresh.append(claim.claim_id)
    changes: list[DisputeChange] = []
    adopted: list[str] = []
    for did, record in sorted(handover.disputes.items()):
        mine = state.disputes.get(did)
        same = next((t for t, d in sorted(state.disputes.items())
                     if t != did and d.family == record.family and d.anchor == record.anchor), None)
        if same is not None:
            # This event already disputes the same slot: one disagreement, one dispute. The moved one's claims join
            # it; its own document is marked withdrawn quietly (nobody is told twice).
            target = state.disputes[same]
            target.members += [m for m in record.members if m not in target.members]
            target.kinds += [k for k in record.kinds if k not in target.kinds]
            if record.emitted is not None:
                changes.append(DisputeChange(dispute=_withdrawn(detector, state, did, record), change="updated"))
            continue
        if mine is None:
            state.disputes[did] = copy.deepcopy(record)
        else:
            mine.members += [m for m in record.members if m not in mine.members]
        adopted.append(did)
    state.mark_seen(now)
    for cid in fresh:
        for change in detector.conflicts_of(state, cid, now, only_earlier=True):
            if change.dispute.dispute_id in adopted and change.change == "status":
                # Re-reading its own claims is no news: a stale dispute that moved is live again, quietly.
                change = DisputeChange(dispute=change.dispute, change="updated")
            changes.append(change)
    shown = {c.dispute.dispute_id for c in changes}
    for did in adopted:
        d = state.disputes.get(did)
        if d is not None and d.emitted is not None and did not in shown:
            changes.append(DisputeChange(dispute=detector.build(state, did), change="updated"))
    detector.evict(state)
    return changes


def redirected(state: EventDisputes, handover: Handover) -> tuple[Handover, dict[str, Handover]]:
    """Split a handover arriving here into what stays and what goes on: claims whose articles moved on again
    before the handover arrived (``forward``), with the disputes all of whose claims go the same way."""
    stay: list[tuple[Claim, list[str]]] = []
    onward: dict[str, list[tuple[Claim, list[str]]]] = {}
    for c, o in handover.claims:
        to = forward(state, c.claim_id)
        if to is None:
            stay.append((c, o))
        else:
            onward.setdefault(to, []).append((c, o))
    if not onward:
        return handover, {}
    left = dict(handover.disputes)
    out: dict[str, Handover] = {}
    for to, claims in sorted(onward.items()):
        ids = {c.claim_id for c, _ in claims}
        going = {did: r for did, r in left.items() if set(r.members) <= ids}
        for did in going:
            del left[did]
        out[to] = Handover(claims, going).to(to)
    staying = {c.claim_id for c, _ in stay}
    kept = {did: dataclasses.replace(r, members=[m for m in r.members if m in staying]) for did, r in left.items()}
    return Handover(stay, {did: r for did, r in kept.items() if r.members}), out


def forward(state: EventDisputes, claim_id: str) -> str | None:
    """Where a claim arriving here should go instead: its article was moved to another event before the claim
    arrived (None: it belongs here). The redirect is used up."""
    return state.moved.pop(claim_id, None)


def _withdrawn(detector: DisputeDetector, state: EventDisputes, did: str, d: DisputeRecord,
               handed: Sequence[tuple[Claim, list[str]]] = ()) -> Dispute:
    """The dispute ``d`` with its last emitted sides (found in ``state`` or among ``handed``), marked withdrawn."""
    claims = {**state.claims, **{c.claim_id: StoredClaim(c.to_json(), speaker_key(c), o, 0) for c, o in handed}}
    sides = d.emitted.sides if d.emitted else d.members
    temp = dataclasses.replace(d, members=[cid for cid in sides if cid in claims], status="withdrawn")
    view = dataclasses.replace(state, claims=claims, disputes={**state.disputes, did: temp})
    return detector.build(view, did)
