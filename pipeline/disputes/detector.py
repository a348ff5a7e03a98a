"""Incremental dispute detection over explicit, JSON-serialisable per-event state.

The detector holds no state of its own between calls (only a cache of derived frames), so the streaming driver
keeps one state per event in a Faust table keyed by event_id and the batch driver keeps a dict of dicts; given the
same claims in the same order with the same ``now`` values they return the same changes.

State layout (``state`` is the value for one event; all values are JSON types)::

    v          1
    event_id   the event these claims belong to
    seq        arrival counter
    claims     {claim_id: {"c": claim JSON, "s": speaker key, "o": [outlets carrying it], "n": arrival seq}}
    alias      {claim_id: claim_id}   reprints and same-speaker repeats folded into an earlier claim
    disputes   {dispute_id: {"family", "anchor", "members", "kinds", "kind", "status", "confidence", "first_seen",
                "last_updated", "notes", "emitted": {"speakers", "sides", "kind", "status", "outlets"} | None}}
    positions  [PositionChange JSON]
    seen       latest ``now`` any claim arrived with (absent in states written before it existed)
    moved      {claim_id: event_id}   claims whose article a settle moved away before the claim arrived here

With a Faust table, read the value, call ``update`` on a plain dict copy and write it back (nested mutation is not
seen by the changelog).
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.disputes.frames import Frame, frame_of, speaker_key
from pipeline.disputes.records import ChangeKind, DisputeChange, PositionChange
from pipeline.disputes.rules import ACCOUNT, BLAME, KIND_PRIORITY, SlotMatch, compare, stance_of
from pipeline.model import Claim, Dispute, DisputeSide, format_time, parse_time, stable_id

__all__ = ["DisputeDetector", "Handover"]

STATE_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_REPRINT_JACCARD = 0.8
# Bounds that keep one event's state small whatever the coverage: the latest records are the informative ones.
MAX_POSITIONS = 200
MAX_NOTES = 10
MAX_MEMBERS_PER_SPEAKER = 3
MAX_REDIRECTS = 5000


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in "".join(ch.lower() if ch.isalnum() else " " for ch in text).split() if len(w) > 2)


def _similar(a: str, b: str) -> bool:
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return a.strip() == b.strip()
    return len(wa & wb) / len(wa | wb) >= _REPRINT_JACCARD


@dataclass(frozen=True)
class Handover:
    """What ``move_out`` hands to the event the claims moved to: the claims with their outlets, and the dispute
    records (state layout) that moved whole. On the wire it is ``pipeline.messages.HandoverMessage``."""

    claims: list[tuple[Claim, list[str]]]
    disputes: dict[str, Any] = field(default_factory=dict)

    def to(self, event_id: str) -> Handover:
        """The same handover addressed to ``event_id``: its claims carry that event's id."""
        return Handover([(dataclasses.replace(c, event_id=event_id), o) for c, o in self.claims], self.disputes)

    def pieces(self, size: int) -> list[Handover]:
        """At most ``size`` claims each (an event holds up to 500), the disputes with the first."""
        return [Handover(self.claims[i : i + size], self.disputes if i == 0 else {})
                for i in range(0, len(self.claims), size)]


def _same_answer(a: Frame, b: Frame, family: str) -> bool:
    """One speaker's two claims give the same answer to the dispute's question: the same stance, and the same count
    (a numeric question) or the same party blamed."""
    if stance_of(a) != stance_of(b):
        return False
    if family.startswith("n|"):
        return any(m.family == family and m.kind is None for m in compare(a, b))
    return a.accused == b.accused


class DisputeDetector:
    """``update(state, claim, now)`` -> the dispute changes this claim causes; ``sweep`` marks quiet ones stale."""

    def __init__(
        self,
        *,
        stale_after: timedelta = timedelta(days=3),
        retention: timedelta = timedelta(days=30),
        max_claims: int = 500,
        frame_cache_size: int = 50_000,
    ) -> None:
        if stale_after <= timedelta(0) or max_claims < 2:
            raise ValueError("stale_after must be positive and max_claims at least 2")
        if retention < stale_after:
            raise ValueError("retention must be at least stale_after: a dispute is stale before its event is dropped")
        self.stale_after = stale_after
        self.retention = retention
        self.max_claims = max_claims
        self._cache: dict[tuple[str, str, str, str | None, str], Frame] = {}
        self._cache_size = frame_cache_size

    # -- public API -------------------------------------------------------------------------------------------

    def update(
        self,
        state: MutableMapping[str, Any],
        claim: Claim,
        now: datetime,
        *,
        carriers: Mapping[str, Sequence[str]] | None = None,
        duplicate_of: str | None = None,
    ) -> list[DisputeChange]:
        """Add one claim of the event and return what changed.

        ``carriers`` maps article_id to the outlets that carried that article (the dedupe stage's carrier list);
        ``duplicate_of`` is the first-seen article this claim's article reprints. A claim seen before (same id,
        same content) changes nothing, so at-least-once delivery is safe.
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._init(state, claim)
        seen = parse_time(state.get("seen"))
        state["seen"] = format_time(now if seen is None else max(seen, now))
        outlets = [claim.outlet_id, *((carriers or {}).get(claim.article_id, ()))]
        claims: dict[str, Any] = state["claims"]
        cid = claim.claim_id
        changes = self._sweep(state, now)

        canonical = state["alias"].get(cid)
        if canonical is not None and canonical in claims:
            if self._add_outlets(claims[canonical], outlets):
                changes += self._outlets_grew(state, canonical, now)
            return changes
        cj = claim.to_json()
        if cid in claims:
            grew = self._add_outlets(claims[cid], outlets)
            if claims[cid]["c"] == cj:
                return changes + (self._outlets_grew(state, cid, now) if grew else [])
            claims[cid]["c"] = cj  # the article was updated: re-evaluate with the new content
        else:
            folded = self._fold_reprint(state, claim, duplicate_of, outlets)
            if folded is not None:
                oid, grew = folded
                return changes + (self._outlets_grew(state, oid, now) if grew else [])
            state["seq"] += 1
            claims[cid] = {"c": cj, "s": self._speaker(state, claim), "o": sorted(set(outlets)), "n": state["seq"]}
            state["order"].append(cid)

        changes += self._conflicts_of(state, cid, now)
        self._evict(state)
        return changes

    def _conflicts_of(self, state: MutableMapping[str, Any], cid: str, now: datetime,
                      only_earlier: bool = False) -> list[DisputeChange]:
        """Compare one stored claim with the others (``only_earlier``: those that came before it) and return the
        dispute changes that makes."""
        claims: dict[str, Any] = state["claims"]
        changes: list[DisputeChange] = []
        fc = self._frame(claims[cid])
        touched: dict[str, set[str]] = {}
        # Per slot family, the speaker's own latest earlier claim: a change of position is measured against what
        # they said last, not against everything they ever said.
        own_last: dict[str, tuple[int, SlotMatch, str]] = {}
        for oid in list(state["order"]):
            if oid == cid or oid not in claims:
                continue
            if only_earlier and int(claims[oid]["n"]) > int(claims[cid]["n"]):
                continue
            fo = self._frame(claims[oid])
            for m in compare(fc, fo):
                if fo.speaker == fc.speaker:
                    n = int(claims[oid]["n"])
                    if m.family not in own_last or n > own_last[m.family][0]:
                        own_last[m.family] = (n, m, oid)
                elif m.kind is not None:
                    did = self._dispute_for(state, m, oid, cid, now)
                    members: list[str] = state["disputes"][did]["members"]
                    for x in (oid, cid):
                        if x not in members:
                            members.append(x)
                    touched.setdefault(did, set()).add("conflict")
        for _, m, oid in own_last.values():
            self._same_speaker(state, m, claims[oid], claims[cid], now, touched)
        for did in sorted(touched):
            change = self._refresh(state, did, now, touched[did])
            if change is not None:
                changes.append(change)
        return changes

    def move_out(
        self, state: MutableMapping[str, Any], claim_ids: Sequence[str], now: datetime, to_event: str = ""
    ) -> tuple[Handover, list[DisputeChange]]:
        """Take claims out of this event: their articles were moved to another event by a settle.

        Returns what to hand to the new event (``take_over`` there) and the changes here. The handover holds the
        claims, each with the outlets that carried it here (reprints folded into it included), and the disputes all
        of whose claims moved: those move whole, id and history kept, so a group that only grew alerts nobody
        again. A dispute that loses some of its claims is refreshed; one that had a live conflict and has none
        left, or keeps fewer than two speakers, is ``withdrawn`` (it was two events, not one disagreement) and
        leaves the state. Claims named here but unknown to the state (evicted, or folded into another claim as a
        reprint) hand nothing on.
        """
        gone = set(claim_ids)
        seen = parse_time(state.get("seen"))
        state["seen"] = format_time(now if seen is None else max(seen, now))
        if to_event:
            # A claim may still be on its way here (handed on by another event's move): when it comes, it goes on.
            redirect = {k: v for k, v in state.get("moved", {}).items() if k not in gone}
            redirect.update((cid, to_event) for cid in claim_ids if cid not in state.get("claims", {}))
            state["moved"] = dict(list(redirect.items())[-MAX_REDIRECTS:])
        if "claims" not in state:
            return Handover([], {}), []
        claims: dict[str, Any] = state["claims"]
        touched = {did: bool(self._live_conflicts(state, d)) for did, d in state["disputes"].items()
                   if gone & set(d["members"])}
        handed: list[tuple[Claim, list[str]]] = []
        for cid in list(state["order"]):
            if cid in gone and cid in claims:
                entry = claims.pop(cid)
                handed.append((Claim.from_json(entry["c"]), list(entry["o"])))
        state["order"] = [cid for cid in state["order"] if cid in claims]
        for k in [k for k, v in state["alias"].items() if k in gone or v not in claims]:
            del state["alias"][k]
        state["positions"] = [p for p in state["positions"]
                              if p["before_claim_id"] not in gone and p["after_claim_id"] not in gone]
        changes: list[DisputeChange] = []
        whole: dict[str, Any] = {}
        for did in sorted(touched):
            d = state["disputes"][did]
            if set(d["members"]) <= gone:
                whole[did] = state["disputes"].pop(did)
                continue
            d["members"] = [cid for cid in d["members"] if cid not in gone]
            speakers = len(self._current(state, d["members"]))
            if speakers >= 2 and (self._live_conflicts(state, d) or not touched[did]):
                change = self._refresh(state, did, now, {"moved"})
                if change is not None:
                    changes.append(change)
                continue
            if d["emitted"] is not None:
                # Report the dispute as it was, sides and all, so that its document says what was withdrawn.
                before = self._withdrawn(state, did, d, handed)
                changes.append(DisputeChange(dispute=before, change="status"))
            del state["disputes"][did]
        return Handover(handed, whole), changes

    def take_over(self, state: MutableMapping[str, Any], handover: Handover, now: datetime) -> list[DisputeChange]:
        """Receive what another event's ``move_out`` handed on (its claims already carry this event's id): the
        claims join, the disputes that moved whole keep their ids and history, and every claim is compared with
        what this event held. An adopted dispute's document is re-emitted as ``updated`` (quiet) to name this
        event."""
        if not handover.claims:
            return []
        self._init(state, handover.claims[0][0])
        claims: dict[str, Any] = state["claims"]
        fresh: list[str] = []
        for claim, outlets in handover.claims:
            cid = claim.claim_id
            entry = claims.get(cid)
            if entry is not None:
                self._add_outlets(entry, outlets)
                continue
            state["seq"] += 1
            claims[cid] = {"c": claim.to_json(), "s": self._speaker(state, claim), "o": sorted(set(outlets)),
                           "n": state["seq"]}
            state["order"].append(cid)
            fresh.append(cid)
        changes: list[DisputeChange] = []
        adopted: list[str] = []
        for did, record in sorted(handover.disputes.items()):
            mine = state["disputes"].get(did)
            same = next((t for t, d in sorted(state["disputes"].items())
                         if t != did and d["family"] == record["family"] and d["anchor"] == record["anchor"]), None)
            if same is not None:
                # This event already disputes the same slot: one disagreement, one dispute. The moved one's
                # claims join it; its own document is marked withdrawn quietly (nobody is told twice).
                target = state["disputes"][same]
                target["members"] += [m for m in record["members"] if m not in target["members"]]
                target["kinds"] += [k for k in record["kinds"] if k not in target["kinds"]]
                if record["emitted"] is not None:
                    changes.append(DisputeChange(dispute=self._withdrawn(state, did, record), change="updated"))
                continue
            if mine is None:
                state["disputes"][did] = copy.deepcopy(record)
            else:
                mine["members"] += [m for m in record["members"] if m not in mine["members"]]
            adopted.append(did)
        seen = parse_time(state.get("seen"))
        state["seen"] = format_time(now if seen is None else max(seen, now))
        for cid in fresh:
            for change in self._conflicts_of(state, cid, now, only_earlier=True):
                if change.dispute.dispute_id in adopted and change.change == "status":
                    # Re-reading its own claims is no news: a stale dispute that moved is live again, quietly.
                    change = DisputeChange(dispute=change.dispute, change="updated")
                changes.append(change)
        shown = {c.dispute.dispute_id for c in changes}
        for did in adopted:
            d = state["disputes"].get(did)
            if d is not None and d["emitted"] is not None and did not in shown:
                changes.append(DisputeChange(dispute=self._build(state, did), change="updated"))
        self._evict(state)
        return changes

    def redirected(self, state: MutableMapping[str, Any], handover: Handover) -> tuple[Handover, dict[str, Handover]]:
        """Split a handover arriving here into what stays and what goes on: claims whose articles moved on again
        before the handover arrived (``forward``), with the disputes all of whose claims go the same way."""
        stay: list[tuple[Claim, list[str]]] = []
        onward: dict[str, list[tuple[Claim, list[str]]]] = {}
        for c, o in handover.claims:
            to = self.forward(state, c.claim_id)
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
            going = {did: r for did, r in left.items() if set(r["members"]) <= ids}
            for did in going:
                del left[did]
            out[to] = Handover(claims, going).to(to)
        staying = {c.claim_id for c, _ in stay}
        kept = {did: {**r, "members": [m for m in r["members"] if m in staying]} for did, r in left.items()}
        return Handover(stay, {did: r for did, r in kept.items() if r["members"]}), out

    @staticmethod
    def forward(state: MutableMapping[str, Any], claim_id: str) -> str | None:
        """Where a claim arriving here should go instead: its article was moved to another event before the claim
        arrived (None: it belongs here). The redirect is used up."""
        moved = state.get("moved")
        if not moved or claim_id not in moved:
            return None
        return str(moved.pop(claim_id))

    def _withdrawn(self, state: Mapping[str, Any], did: str, d: dict[str, Any],
                   handed: Sequence[tuple[Claim, list[str]]] = ()) -> Dispute:
        """The dispute ``d`` with its last emitted sides (found in ``state`` or among ``handed``), marked
        withdrawn."""
        away = {c.claim_id: {"c": c.to_json(), "s": speaker_key(c), "o": o, "n": 0} for c, o in handed}
        view = {**state, "claims": {**state["claims"], **away}}
        sides = d["emitted"]["sides"] if d["emitted"] else d["members"]
        members = [cid for cid in sides if cid in view["claims"]]
        temp = {**d, "members": members, "status": "withdrawn"}
        view["disputes"] = {**state["disputes"], did: temp}
        return self._build(view, did)

    def sweep(self, state: MutableMapping[str, Any], now: datetime) -> list[DisputeChange]:
        """Mark disputes with no news for ``stale_after`` as stale (drivers call this on a timer)."""
        if "disputes" not in state:
            return []
        return self._sweep(state, now)

    def expired(self, state: Mapping[str, Any], now: datetime) -> bool:
        """True when no claim has reached the event for ``retention``: its disputes went stale long ago and the
        driver may drop the state (the dispute documents stay in Elasticsearch). Keeps a long-running worker's
        table bounded by the events of the last ``retention``, not by every event ever seen."""
        last = parse_time(state.get("seen"))
        if last is None:  # a state from before "seen" existed: its newest claim's publication time
            times = [parse_time(e["c"].get("published")) for e in state.get("claims", {}).values()]
            last = max((t for t in times if t is not None), default=None)
        return last is not None and now - last > self.retention

    def needs_sweep(self, state: Mapping[str, Any] | None, now: datetime) -> bool:
        """Whether a driver's timer should ask this event to ``sweep``: it has disputes that can still go stale, or
        the whole state is ``expired``. Stale and settled disputes wait for news, which comes as a claim."""
        if not state:
            return False
        live = any(d.get("status") not in ("stale", "settled") for d in state.get("disputes", {}).values())
        return live or self.expired(state, now)

    def disputes(self, state: Mapping[str, Any]) -> list[Dispute]:
        """Every reported dispute of the event as it stands now."""
        out = []
        for did in sorted(state.get("disputes", {})):
            d = state["disputes"][did]
            if d["emitted"] is not None:
                out.append(self._build(state, did))
        return out

    def position_changes(self, state: Mapping[str, Any]) -> list[PositionChange]:
        return [PositionChange.from_json(p) for p in state.get("positions", ())]

    # -- internals --------------------------------------------------------------------------------------------

    def _init(self, state: MutableMapping[str, Any], claim: Claim) -> None:
        if state.get("v") == STATE_VERSION:
            return
        if set(state) - {"moved", "seen"}:  # a state holding only redirects (``move_out``) is still a fresh one
            raise ValueError(f"unknown dispute state version {state.get('v')!r}")
        state.update(
            {
                "v": STATE_VERSION,
                "event_id": claim.event_id or "",
                "seq": 0,
                "claims": {},
                "order": [],
                "alias": {},
                "disputes": {},
                "positions": [],
            }
        )

    @staticmethod
    def _add_outlets(entry: dict[str, Any], outlets: Sequence[str]) -> bool:
        """Add carriers to a claim; True when one was new."""
        merged = sorted(set(entry["o"]) | set(outlets))
        if merged == entry["o"]:
            return False
        entry["o"] = merged
        return True

    def _outlets_grew(self, state: MutableMapping[str, Any], cid: str, now: datetime) -> list[DisputeChange]:
        """A claim that is a side of reported disputes gained an outlet (a reprint, a later carrier list): each such
        dispute is re-emitted as an ``updated`` change so that the indexed document lists every outlet. Status and
        sides stay as they are; confidence takes the extra outlet into account."""
        out = []
        for did in sorted(state["disputes"]):
            d = state["disputes"][did]
            if d["emitted"] is None or cid not in d["members"]:
                continue
            live = self._live_conflicts(state, d)
            if live:
                self._set_confidence(state, d, live, sorted(self._current(state, d["members"])))
            d["last_updated"] = format_time(now)
            out.append(DisputeChange(dispute=self._build(state, did), change="updated"))
        return out

    def _set_confidence(self, state: Mapping[str, Any], d: dict[str, Any], live: Sequence[SlotMatch],
                        speakers: Sequence[str]) -> None:
        """The dispute's kind (the strongest live conflict) and its confidence, from its live conflicts, speakers
        and outlets."""
        best = max(live, key=lambda m: (KIND_PRIORITY[m.kind or "other"], m.confidence))
        d["kind"] = best.kind
        outlets = {o for cid in d["members"] if cid in state["claims"] for o in state["claims"][cid]["o"]}
        # More independent speakers and outlets on the record make the dispute more certainly real.
        bonus = 0.04 * (len(speakers) - 2) + 0.01 * max(0, len(outlets) - 2)
        d["confidence"] = round(min(0.99, max(m.confidence for m in live) + bonus), 3)

    @staticmethod
    def _speaker(state: MutableMapping[str, Any], claim: Claim) -> str:
        """One speaker key per person in the event: "Trump" in one article is "Donald Trump" of another (a surname
        alone takes the full name already met; a full name takes over the surname-only claims met before it)."""
        key = speaker_key(claim)
        if claim.speaker_type != "person":
            return key
        words = key.split()
        people = [e for e in state["claims"].values() if e["c"].get("speaker_type") == "person"]
        if len(words) == 1:
            full = sorted({e["s"] for e in people if len(e["s"].split()) > 1 and e["s"].split()[-1] == key})
            return full[0] if len(full) == 1 else key
        for e in people:
            if e["s"] == words[-1]:
                e["s"] = key
        return key

    def _frame(self, entry: Mapping[str, Any]) -> Frame:
        c = entry["c"]
        key = (c["claim_id"], c["text"], c.get("polarity", "asserts"), c.get("action"), entry["s"])
        f = self._cache.get(key)
        if f is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()  # derived data: dropping it costs only recomputation
            f = frame_of(Claim.from_json(c), entry["s"])
            self._cache[key] = f
        return f

    def _fold_reprint(
        self, state: MutableMapping[str, Any], claim: Claim, duplicate_of: str | None, outlets: Sequence[str]
    ) -> tuple[str, bool] | None:
        """Reprints count once: a claim of a reprinted article joins the original claim as another carrier.
        Returns the original claim's id and whether it gained an outlet, or None when nothing was folded."""
        if duplicate_of is None:
            return None
        sk = speaker_key(claim)
        for oid in state["order"]:
            entry = state["claims"].get(oid)
            if entry is None or entry["c"]["article_id"] != duplicate_of:
                continue
            # The outlet's own voice is re-attributed to the reprinting outlet, so match on text there.
            same_voice = entry["s"] == sk or claim.speaker_type in ("outlet", "media")
            if same_voice and _similar(entry["c"]["text"], claim.text):
                state["alias"][claim.claim_id] = oid
                return oid, self._add_outlets(entry, outlets)
        return None

    def _same_speaker(
        self,
        state: MutableMapping[str, Any],
        m: SlotMatch,
        old: dict[str, Any],
        new: dict[str, Any],
        now: datetime,
        touched: dict[str, set[str]],
    ) -> None:
        old_id, new_id = old["c"]["claim_id"], new["c"]["claim_id"]
        if m.kind is None:
            # The same speaker saying the same thing again stays one side; the side now quotes the latest wording
            # and lists the outlets of both.
            for did, d in sorted(state["disputes"].items()):
                if d["family"] == m.family and old_id in d["members"] and new_id not in d["members"]:
                    d["members"].append(new_id)
                    self._trim_speaker(state, d, new)
                    touched.setdefault(did, set()).add("repeat")
            return
        before, after = (old, new) if (old["n"] < new["n"]) else (new, old)
        rec = PositionChange(
            event_id=state["event_id"],
            speaker=new["c"]["speaker"],
            slot=f"{m.family}|{m.anchor}",
            kind=m.kind,
            before_claim_id=before["c"]["claim_id"],
            after_claim_id=after["c"]["claim_id"],
            before_quote=before["c"]["text"],
            after_quote=after["c"]["text"],
            at=parse_time(after["c"].get("published")) or now,
        ).to_json()
        if rec not in state["positions"]:
            state["positions"].append(rec)
            del state["positions"][:-MAX_POSITIONS]
        for did, d in sorted(state["disputes"].items()):
            if d["family"] == m.family and old_id in d["members"]:
                if new_id not in d["members"]:
                    d["members"].append(new_id)
                    self._trim_speaker(state, d, new)
                note = (
                    f"position change: {rec['speaker']} now says {rec['after_quote']!r} "
                    f"(before: {rec['before_quote']!r})"
                )
                if note not in d["notes"]:
                    d["notes"].append(note)
                    del d["notes"][:-MAX_NOTES]
                touched.setdefault(did, set()).add("position")

    @staticmethod
    def _trim_speaker(state: Mapping[str, Any], d: dict[str, Any], new: dict[str, Any]) -> None:
        """Keep a speaker's few latest claims in a dispute; a dropped one saying the same hands on its outlets."""
        mine = [cid for cid in d["members"] if (e := state["claims"].get(cid)) is not None and e["s"] == new["s"]]
        for cid in mine[:-MAX_MEMBERS_PER_SPEAKER]:
            old = state["claims"][cid]
            if old["c"].get("polarity") == new["c"].get("polarity"):
                new["o"] = sorted(set(new["o"]) | set(old["o"]))
            d["members"].remove(cid)

    def _dispute_for(self, state: MutableMapping[str, Any], m: SlotMatch, oid: str, cid: str, now: datetime) -> str:
        """The dispute this conflict belongs to: one that already holds either claim in this slot family, or a new
        one whose id comes from the event and slot alone (stable under replay)."""
        disputes: dict[str, Any] = state["disputes"]
        # The event's dispute of this question, whatever its id: one adopted from a regrouped event keeps its own.
        same = [t for t in sorted(disputes) if disputes[t]["family"] == m.family and disputes[t]["anchor"] == m.anchor]
        if same:
            self._add_kind(disputes[same[0]], m)
            return same[0]
        for x in (oid, cid):
            for did in sorted(disputes):
                d = disputes[did]
                if d["family"] == m.family and x in d["members"]:
                    self._add_kind(d, m)
                    return did
        did = stable_id(state["event_id"], m.family, m.anchor)
        if did not in disputes:
            disputes[did] = {
                "family": m.family,
                "anchor": m.anchor,
                "members": [],
                "kinds": [],
                "kind": m.kind,
                "status": "new",
                "confidence": m.confidence,
                "first_seen": format_time(now),
                "last_updated": format_time(now),
                "notes": [],
                "emitted": None,
            }
        self._add_kind(disputes[did], m)
        return did

    @staticmethod
    def _add_kind(d: dict[str, Any], m: SlotMatch) -> None:
        if m.kind is not None and m.kind not in d["kinds"]:
            d["kinds"].append(m.kind)

    def _current(self, state: Mapping[str, Any], members: Sequence[str],
                 family: str | None = None) -> dict[str, dict[str, Any]]:
        """Each speaker's side among the members: what they say now (their latest claim), quoted where they first
        said it (the earliest claim with the same answer: the original report rather than a later rewrite)."""
        latest: dict[str, dict[str, Any]] = {}
        mine: dict[str, list[dict[str, Any]]] = {}
        for cid in members:
            entry = state["claims"].get(cid)
            if entry is None:
                continue
            mine.setdefault(entry["s"], []).append(entry)
            prev = latest.get(entry["s"])
            if prev is None or self._when(entry) >= self._when(prev):
                latest[entry["s"]] = entry
        if family is None:
            return latest
        cur: dict[str, dict[str, Any]] = {}
        for speaker, now in latest.items():
            said = self._frame(now)
            same = [e for e in mine[speaker] if e is now or _same_answer(self._frame(e), said, family)]
            cur[speaker] = min(same, key=self._when)
        return cur

    @staticmethod
    def _when(entry: Mapping[str, Any]) -> tuple[datetime, int]:
        return (parse_time(entry["c"].get("published")) or _EPOCH, int(entry["n"]))

    def _live_conflicts(self, state: Mapping[str, Any], d: Mapping[str, Any]) -> list[SlotMatch]:
        cur = list(self._current(state, d["members"], d["family"]).values())
        found: list[SlotMatch] = []
        for i, a in enumerate(cur):
            fa = self._frame(a)
            for b in cur[i + 1 :]:
                found.extend(m for m in compare(fa, self._frame(b)) if m.family == d["family"] and m.kind)
        return found

    def _refresh(
        self, state: MutableMapping[str, Any], did: str, now: datetime, reasons: set[str]
    ) -> DisputeChange | None:
        d = state["disputes"][did]
        live = self._live_conflicts(state, d)
        cur = self._current(state, d["members"], d["family"])
        speakers = sorted(cur)
        if live:
            self._set_confidence(state, d, live, speakers)
        emitted = d["emitted"]
        sides = sorted(e["c"]["claim_id"] for e in cur.values())
        # A side quotes where its speaker first said it; a repeat elsewhere adds only outlets, still news for the
        # dispute's document.
        outlets = sorted({o for cid in d["members"] if (e := state["claims"].get(cid)) for o in e["o"]})
        change: ChangeKind
        if emitted is None:
            if not live or len(speakers) < 2:
                return None
            change = "new"
            d["status"] = "new"
        else:
            joined = set(speakers) - set(emitted["speakers"])
            if not live:
                status = "settled"
            elif joined or emitted["status"] != "new" or d["kind"] != emitted["kind"]:
                status = "growing"
            else:
                status = "new"
            if live and d["kind"] != emitted["kind"]:
                change = "new_kind"
            elif joined:
                change = "new_side"
            elif status != emitted["status"]:
                change = "status"
            elif "position" in reasons and sides != emitted["sides"]:
                change = "position"
            elif sides != emitted["sides"] or outlets != emitted.get("outlets"):
                change = "updated"  # a speaker's side moved to another answer, or more outlets carry one
            else:
                return None
            d["status"] = status
        d["last_updated"] = format_time(now)
        d["emitted"] = {"speakers": speakers, "sides": sides, "kind": d["kind"], "status": d["status"],
                        "outlets": outlets}
        return DisputeChange(dispute=self._build(state, did), change=change)

    def _sweep(self, state: MutableMapping[str, Any], now: datetime) -> list[DisputeChange]:
        out = []
        for did in sorted(state.get("disputes", {})):
            d = state["disputes"][did]
            if d["emitted"] is None or d["status"] not in ("new", "growing"):
                continue
            last = parse_time(d["last_updated"]) or now
            if now - last >= self.stale_after:
                d["status"] = "stale"
                d["last_updated"] = format_time(now)
                d["emitted"] = {**d["emitted"], "status": "stale"}
                out.append(DisputeChange(dispute=self._build(state, did), change="status"))
        return out

    def _build(self, state: Mapping[str, Any], did: str) -> Dispute:
        d = state["disputes"][did]
        cur = self._current(state, d["members"], d["family"])
        sides = []
        for entry in sorted(cur.values(), key=lambda e: self._when(e)):
            c = entry["c"]
            pol = stance_of(self._frame(entry))  # "called it staged" denies, whatever its verb
            # Everyone who carried this speaker saying this (reprints, repeats), not what they said before.
            outlets = sorted(
                {
                    o
                    for cid in d["members"]
                    if (m := state["claims"].get(cid)) is not None
                    and m["s"] == entry["s"]
                    and stance_of(self._frame(m)) == pol
                    for o in m["o"]
                }
            )
            sides.append(
                DisputeSide(
                    claim_id=c["claim_id"],
                    article_id=c["article_id"],
                    speaker=c["speaker"],
                    quote=c.get("quote") or c["text"],
                    start=int(c["start"]),
                    end=int(c["end"]),
                    outlets=tuple(outlets),
                    polarity=pol,
                    published=parse_time(c.get("published")),
                )
            )
        return Dispute(
            dispute_id=did,
            event_id=state["event_id"],
            kind=d["kind"],
            topic=self._topic(d, sorted(cur.values(), key=lambda e: self._when(e))),
            sides=tuple(sides),
            confidence=float(d["confidence"]),
            status=d["status"],
            first_seen=parse_time(d["first_seen"]),
            last_updated=parse_time(d["last_updated"]),
            notes=tuple(d["notes"]),
        )

    def _topic(self, d: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]) -> str:
        """The question in one line, with each side's answer: "deaths: 6 to 18 deaths vs 2,975"."""
        parts = d["family"].split("|")
        where = d["anchor"].replace("+", ", ")
        frames = [self._frame(e) for e in entries]
        if parts[0] == "n":
            _, cls, dim, _scope = parts
            what = cls.replace("persons/", "people ").replace("/armed", " (armed men)")
            what = re.sub(r"/(\w+)$", r" (\1)", what)  # "deaths/children" -> "deaths (children)"
            label = what + (f" in {dim}" if dim and dim != "-" else "")
            answers = [next((n.text for n in f.numbers if n.key == d["family"]), "") for f in frames]
            label += ": " + " vs ".join(dict.fromkeys(" ".join(a.split()) for a in answers if a))
        elif d["family"] == BLAME:
            blamed = [", ".join(sorted(f.accused)) for f in frames if f.accused]
            label = "who is responsible: " + " vs ".join(dict.fromkeys(blamed))
        elif d["family"] == ACCOUNT:
            said = {"asserts": "asserts", "denies": "denies", "no_knowledge": "cannot confirm"}
            label = "; ".join(dict.fromkeys(f"{e['c']['speaker']} {said[stance_of(f)]}"
                                            for e, f in zip(entries, frames, strict=True)))
            act = next((f.action for f in frames if f.action), None)
            label = f"{act}: {label}" if act else label
        else:
            label = f"{parts[-1]}"
        return f"{label} — {where}" if where else label

    def _evict(self, state: MutableMapping[str, Any]) -> None:
        """Bound the state: forget the oldest claims that no dispute quotes."""
        claims = state["claims"]
        if len(claims) <= self.max_claims:
            return
        quoted = {cid for d in state["disputes"].values() for cid in d["members"]}
        order: list[str] = state["order"]
        keep: list[str] = []
        excess = len(claims) - self.max_claims
        for cid in order:
            if excess > 0 and cid not in quoted:
                claims.pop(cid, None)
                excess -= 1
            else:
                keep.append(cid)
        state["order"] = keep
        alias = state["alias"]
        for k in [k for k, v in alias.items() if v not in claims]:
            del alias[k]

