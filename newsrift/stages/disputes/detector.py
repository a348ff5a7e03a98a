"""Incremental dispute detection over one event's typed state (``newsrift.stages.disputes.state.EventDisputes``).

The detector holds no state of its own between calls (only a cache of derived frames): the streaming driver keeps
each event's ``EventDisputes`` as JSON in a Faust table keyed by event_id, the batch driver keeps the objects in a
dict, and given the same claims in the same order with the same ``now`` values both get the same changes.

``update`` adds a claim and compares it with the event's other claims; ``sweep`` marks quiet disputes stale;
``expired`` says when the driver may drop the state. Claims moving to another event when a settle regroups it are
``newsrift.stages.disputes.moves``, built on the primitives here (``add_claim``, ``conflicts_of``, ``refresh``, ...).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from newsrift.model import Claim, Dispute, DisputeSide, DisputeStatus, stable_id
from newsrift.records import ChangeKind, DisputeChange, DisputeRecord, Emitted, PositionChange
from newsrift.stages.disputes.frames import Frame, frame_of, speaker_key
from newsrift.stages.disputes.rules import ACCOUNT, BLAME, KIND_PRIORITY, SlotMatch, compare, stance_of
from newsrift.stages.disputes.state import EventDisputes, StoredClaim

__all__ = ["DisputeDetector"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_REPRINT_JACCARD = 0.8
# Bounds that keep one event's state small whatever the coverage: the latest records are the informative ones.
MAX_POSITIONS = 200
MAX_NOTES = 10
MAX_MEMBERS_PER_SPEAKER = 3


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in "".join(ch.lower() if ch.isalnum() else " " for ch in text).split() if len(w) > 2)


def _similar(a: str, b: str) -> bool:
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return a.strip() == b.strip()
    return len(wa & wb) / len(wa | wb) >= _REPRINT_JACCARD


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
        state: EventDisputes,
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
        state.start(claim.event_id)
        state.mark_seen(now)
        outlets = [claim.outlet_id, *((carriers or {}).get(claim.article_id, ()))]
        claims = state.claims
        cid = claim.claim_id
        changes = self._sweep(state, now)

        canonical = state.alias.get(cid)
        if canonical is not None and canonical in claims:
            if claims[canonical].add_outlets(outlets):
                changes += self._outlets_grew(state, canonical, now)
            return changes
        cj = claim.to_json()
        if cid in claims:
            grew = claims[cid].add_outlets(outlets)
            if claims[cid].data == cj:
                return changes + (self._outlets_grew(state, cid, now) if grew else [])
            claims[cid].data = cj  # the article was updated: re-evaluate with the new content
        else:
            folded = self._fold_reprint(state, claim, duplicate_of, outlets)
            if folded is not None:
                oid, grew = folded
                return changes + (self._outlets_grew(state, oid, now) if grew else [])
            self.add_claim(state, claim, outlets, cj)

        changes += self.conflicts_of(state, cid, now)
        self.evict(state)
        return changes

    def sweep(self, state: EventDisputes, now: datetime) -> list[DisputeChange]:
        """Mark disputes with no news for ``stale_after`` as stale (drivers call this on a timer)."""
        return self._sweep(state, now)

    def expired(self, state: EventDisputes, now: datetime) -> bool:
        """True when nothing has reached the event for ``retention``: its disputes went stale long ago and the
        driver may drop the state (the dispute documents stay in Elasticsearch). Keeps a long-running worker's
        table bounded by the events of the last ``retention``, not by every event ever seen."""
        return state.seen is not None and now - state.seen > self.retention

    def needs_sweep(self, state: EventDisputes | None, now: datetime) -> bool:
        """Whether a driver's timer should ask this event to ``sweep``: it has disputes that can still go stale, or
        the whole state is ``expired``. Stale and settled disputes wait for news, which comes as a claim."""
        if state is None:
            return False
        live = any(d.status not in ("stale", "settled") for d in state.disputes.values())
        return live or self.expired(state, now)

    def disputes(self, state: EventDisputes) -> list[Dispute]:
        """Every reported dispute of the event as it stands now."""
        return [self.build(state, did) for did in sorted(state.disputes) if state.disputes[did].emitted is not None]

    @staticmethod
    def position_changes(state: EventDisputes) -> list[PositionChange]:
        return list(state.positions)

    # -- primitives (also what ``moves`` builds on) -----------------------------------------------------------

    def add_claim(self, state: EventDisputes, claim: Claim, outlets: Sequence[str],
                  data: dict[str, Any] | None = None) -> StoredClaim:
        """Store a claim new to the event (``data``: its JSON, when already made), last in arrival order."""
        state.seq += 1
        entry = StoredClaim(data if data is not None else claim.to_json(), self._speaker(state, claim),
                            sorted(set(outlets)), state.seq)
        state.claims[claim.claim_id] = entry
        state.order.append(claim.claim_id)
        return entry

    def conflicts_of(self, state: EventDisputes, cid: str, now: datetime,
                     only_earlier: bool = False) -> list[DisputeChange]:
        """Compare one stored claim with the others (``only_earlier``: those that came before it) and return the
        dispute changes that makes."""
        claims = state.claims
        changes: list[DisputeChange] = []
        mine = claims[cid]
        fc = self._frame(mine)
        touched: dict[str, set[str]] = {}
        # Per slot family, the speaker's own latest earlier claim: a change of position is measured against what
        # they said last, not against everything they ever said.
        own_last: dict[str, tuple[int, SlotMatch, str]] = {}
        for oid in list(state.order):
            if oid == cid or oid not in claims:
                continue
            other = claims[oid]
            if only_earlier and other.seq > mine.seq:
                continue
            fo = self._frame(other)
            for m in compare(fc, fo):
                if fo.speaker == fc.speaker:
                    if m.family not in own_last or other.seq > own_last[m.family][0]:
                        own_last[m.family] = (other.seq, m, oid)
                elif m.kind is not None:
                    did = self._dispute_for(state, m, oid, cid, now)
                    members = state.disputes[did].members
                    for x in (oid, cid):
                        if x not in members:
                            members.append(x)
                    touched.setdefault(did, set()).add("conflict")
        for _, m, oid in own_last.values():
            self._same_speaker(state, m, claims[oid], mine, now, touched)
        for did in sorted(touched):
            change = self.refresh(state, did, now, touched[did])
            if change is not None:
                changes.append(change)
        return changes

    def refresh(self, state: EventDisputes, did: str, now: datetime, reasons: set[str]) -> DisputeChange | None:
        """Re-read dispute ``did`` after its members changed (``reasons``: conflict, repeat, position, moved) and
        return the change to emit, if any."""
        d = state.disputes[did]
        cur, live = self._sides(state, d)
        speakers = sorted(cur)
        if live:
            self._set_confidence(state, d, live, speakers)
        emitted = d.emitted
        sides = sorted(e.claim_id for e in cur.values())
        # A side quotes where its speaker first said it; a repeat elsewhere adds only outlets, still news for the
        # dispute's document.
        outlets = sorted({o for cid in d.members if (e := state.claims.get(cid)) for o in e.outlets})
        change: ChangeKind
        if emitted is None:
            if not live or len(speakers) < 2:
                return None
            change = "new"
            d.status = "new"
        else:
            joined = set(speakers) - set(emitted.speakers)
            status: DisputeStatus
            if not live:
                status = "settled"
            elif joined or emitted.status != "new" or d.kind != emitted.kind:
                status = "growing"
            else:
                status = "new"
            if live and d.kind != emitted.kind:
                change = "new_kind"
            elif joined:
                change = "new_side"
            elif status != emitted.status:
                change = "status"
            elif "position" in reasons and sides != emitted.sides:
                change = "position"
            elif sides != emitted.sides or outlets != emitted.outlets:
                change = "updated"  # a speaker's side moved to another answer, or more outlets carry one
            else:
                return None
            d.status = status
        d.last_updated = now
        d.emitted = Emitted(speakers=speakers, sides=sides, kind=d.kind, status=d.status, outlets=outlets)
        return DisputeChange(dispute=self.build(state, did), change=change)

    def live_conflicts(self, state: EventDisputes, d: DisputeRecord) -> list[SlotMatch]:
        """The conflicts of the dispute's question between its speakers' sides as they stand."""
        return self._sides(state, d)[1]

    def speakers(self, state: EventDisputes, members: Sequence[str]) -> list[str]:
        """The speakers among these claims."""
        return sorted(self._current(state, members))

    def build(self, state: EventDisputes, did: str) -> Dispute:
        """Dispute ``did`` as it stands: its speakers' sides, topic line, status and times."""
        d = state.disputes[did]
        entries = sorted(self._sides(state, d)[0].values(), key=self._when)
        sides = []
        for entry in entries:
            c = entry.claim
            pol = stance_of(self._frame(entry))  # "called it staged" denies, whatever its verb
            # Everyone who carried this speaker saying this (reprints, repeats), not what they said before.
            outlets = sorted(
                {
                    o
                    for cid in d.members
                    if (m := state.claims.get(cid)) is not None
                    and m.speaker == entry.speaker
                    and stance_of(self._frame(m)) == pol
                    for o in m.outlets
                }
            )
            sides.append(
                DisputeSide(
                    claim_id=c.claim_id,
                    article_id=c.article_id,
                    speaker=c.speaker,
                    quote=c.quote or c.text,
                    start=c.start,
                    end=c.end,
                    outlets=tuple(outlets),
                    polarity=pol,
                    published=c.published,
                )
            )
        return Dispute(
            dispute_id=did,
            event_id=state.event_id,
            kind=d.kind,
            topic=self._topic(d, entries),
            sides=tuple(sides),
            confidence=float(d.confidence),
            status=d.status,
            first_seen=d.first_seen,
            last_updated=d.last_updated,
            notes=tuple(d.notes),
        )

    def evict(self, state: EventDisputes) -> None:
        """Bound the state: forget the oldest claims that no dispute quotes."""
        claims = state.claims
        if len(claims) <= self.max_claims:
            return
        quoted = {cid for d in state.disputes.values() for cid in d.members}
        keep: list[str] = []
        excess = len(claims) - self.max_claims
        for cid in state.order:
            if excess > 0 and cid not in quoted:
                claims.pop(cid, None)
                excess -= 1
            else:
                keep.append(cid)
        state.order = keep
        for k in [k for k, v in state.alias.items() if v not in claims]:
            del state.alias[k]

    # -- internals --------------------------------------------------------------------------------------------

    def _outlets_grew(self, state: EventDisputes, cid: str, now: datetime) -> list[DisputeChange]:
        """A claim that is a side of reported disputes gained an outlet (a reprint, a later carrier list): each such
        dispute is re-emitted as an ``updated`` change so that the indexed document lists every outlet. Status and
        sides stay as they are; confidence takes the extra outlet into account."""
        out = []
        for did in sorted(state.disputes):
            d = state.disputes[did]
            if d.emitted is None or cid not in d.members:
                continue
            live = self.live_conflicts(state, d)
            if live:
                self._set_confidence(state, d, live, self.speakers(state, d.members))
            d.last_updated = now
            out.append(DisputeChange(dispute=self.build(state, did), change="updated"))
        return out

    @staticmethod
    def _set_confidence(state: EventDisputes, d: DisputeRecord, live: Sequence[SlotMatch],
                        speakers: Sequence[str]) -> None:
        """The dispute's kind (the strongest live conflict) and its confidence, from its live conflicts, speakers
        and outlets."""
        best = max(live, key=lambda m: (KIND_PRIORITY[m.kind or "other"], m.confidence))
        assert best.kind is not None
        d.kind = best.kind
        outlets = {o for cid in d.members if cid in state.claims for o in state.claims[cid].outlets}
        # More independent speakers and outlets on the record make the dispute more certainly real.
        bonus = 0.04 * (len(speakers) - 2) + 0.01 * max(0, len(outlets) - 2)
        d.confidence = round(min(0.99, max(m.confidence for m in live) + bonus), 3)

    @staticmethod
    def _speaker(state: EventDisputes, claim: Claim) -> str:
        """One speaker key per person in the event: "Trump" in one article is "Donald Trump" of another (a surname
        alone takes the full name already met; a full name takes over the surname-only claims met before it)."""
        key = speaker_key(claim)
        if claim.speaker_type != "person":
            return key
        words = key.split()
        people = [e for e in state.claims.values() if e.data.get("speaker_type") == "person"]
        if len(words) == 1:
            full = sorted({e.speaker for e in people if len(e.speaker.split()) > 1
                           and e.speaker.split()[-1] == key})
            return full[0] if len(full) == 1 else key
        for e in people:
            if e.speaker == words[-1]:
                e.speaker = key
        return key

    def _frame(self, entry: StoredClaim) -> Frame:
        c = entry.data
        key = (c["claim_id"], c["text"], c.get("polarity", "asserts"), c.get("action"), entry.speaker)
        f = self._cache.get(key)
        if f is None:
            if len(self._cache) >= self._cache_size:
                self._cache.clear()  # derived data: dropping it costs only recomputation
            f = frame_of(entry.claim, entry.speaker)
            self._cache[key] = f
        return f

    def _fold_reprint(
        self, state: EventDisputes, claim: Claim, duplicate_of: str | None, outlets: Sequence[str]
    ) -> tuple[str, bool] | None:
        """Reprints count once: a claim of a reprinted article joins the original claim as another carrier.
        Returns the original claim's id and whether it gained an outlet, or None when nothing was folded."""
        if duplicate_of is None:
            return None
        sk = speaker_key(claim)
        for oid in state.order:
            entry = state.claims.get(oid)
            if entry is None or entry.data["article_id"] != duplicate_of:
                continue
            # The outlet's own voice is re-attributed to the reprinting outlet, so match on text there.
            same_voice = entry.speaker == sk or claim.speaker_type in ("outlet", "media")
            if same_voice and _similar(entry.data["text"], claim.text):
                state.alias[claim.claim_id] = oid
                return oid, entry.add_outlets(outlets)
        return None

    def _same_speaker(
        self,
        state: EventDisputes,
        m: SlotMatch,
        old: StoredClaim,
        new: StoredClaim,
        now: datetime,
        touched: dict[str, set[str]],
    ) -> None:
        old_id, new_id = old.claim_id, new.claim_id
        if m.kind is None:
            # The same speaker saying the same thing again stays one side; the side now quotes the latest wording
            # and lists the outlets of both.
            for did, d in sorted(state.disputes.items()):
                if d.family == m.family and old_id in d.members and new_id not in d.members:
                    d.members.append(new_id)
                    self._trim_speaker(state, d, new)
                    touched.setdefault(did, set()).add("repeat")
            return
        before, after = (old, new) if old.seq < new.seq else (new, old)
        rec = PositionChange(
            event_id=state.event_id,
            speaker=new.data["speaker"],
            slot=f"{m.family}|{m.anchor}",
            kind=m.kind,
            before_claim_id=before.claim_id,
            after_claim_id=after.claim_id,
            before_quote=before.data["text"],
            after_quote=after.data["text"],
            at=after.published or now,
        )
        if rec not in state.positions:
            state.positions.append(rec)
            del state.positions[:-MAX_POSITIONS]
        for did, d in sorted(state.disputes.items()):
            if d.family == m.family and old_id in d.members:
                if new_id not in d.members:
                    d.members.append(new_id)
                    self._trim_speaker(state, d, new)
                note = f"position change: {rec.speaker} now says {rec.after_quote!r} (before: {rec.before_quote!r})"
                if note not in d.notes:
                    d.notes.append(note)
                    del d.notes[:-MAX_NOTES]
                touched.setdefault(did, set()).add("position")

    @staticmethod
    def _trim_speaker(state: EventDisputes, d: DisputeRecord, new: StoredClaim) -> None:
        """Keep a speaker's few latest claims in a dispute; a dropped one saying the same hands on its outlets."""
        mine = [cid for cid in d.members if (e := state.claims.get(cid)) is not None and e.speaker == new.speaker]
        for cid in mine[:-MAX_MEMBERS_PER_SPEAKER]:
            old = state.claims[cid]
            if old.data.get("polarity") == new.data.get("polarity"):
                new.outlets = sorted(set(new.outlets) | set(old.outlets))
            d.members.remove(cid)

    def _dispute_for(self, state: EventDisputes, m: SlotMatch, oid: str, cid: str, now: datetime) -> str:
        """The dispute this conflict belongs to: one that already holds either claim in this slot family, or a new
        one whose id comes from the event and slot alone (stable under replay)."""
        disputes = state.disputes
        # The event's dispute of this question, whatever its id: one adopted from a regrouped event keeps its own.
        same = [t for t in sorted(disputes) if disputes[t].family == m.family and disputes[t].anchor == m.anchor]
        if same:
            self._add_kind(disputes[same[0]], m)
            return same[0]
        for x in (oid, cid):
            for did in sorted(disputes):
                d = disputes[did]
                if d.family == m.family and x in d.members:
                    self._add_kind(d, m)
                    return did
        did = stable_id(state.event_id, m.family, m.anchor)
        if did not in disputes:
            assert m.kind is not None
            disputes[did] = DisputeRecord(family=m.family, anchor=m.anchor, members=[], kinds=[], kind=m.kind,
                                          status="new", confidence=m.confidence, first_seen=now, last_updated=now)
        self._add_kind(disputes[did], m)
        return did

    @staticmethod
    def _add_kind(d: DisputeRecord, m: SlotMatch) -> None:
        if m.kind is not None and m.kind not in d.kinds:
            d.kinds.append(m.kind)

    def _current(self, state: EventDisputes, members: Sequence[str]) -> dict[str, StoredClaim]:
        """Each speaker's latest claim among the members."""
        latest: dict[str, StoredClaim] = {}
        for cid in members:
            entry = state.claims.get(cid)
            if entry is None:
                continue
            prev = latest.get(entry.speaker)
            if prev is None or self._when(entry) >= self._when(prev):
                latest[entry.speaker] = entry
        return latest

    def _sides(self, state: EventDisputes, d: DisputeRecord) -> tuple[dict[str, StoredClaim], list[SlotMatch]]:
        """The dispute's sides as they stand, and the live conflicts between them, in one pass over the pairs.

        A speaker's side is what they say now (their latest claim), quoted where they first said it (the earliest
        claim with the same answer: the original report rather than a later rewrite). A side is a side only while
        it disagrees with another: a speaker who joined against a claim its own speaker has since moved away from
        is no longer part of the question. A question nobody disputes any more keeps the sides it had, settled."""
        mine: dict[str, list[StoredClaim]] = {}
        for cid in d.members:
            if (entry := state.claims.get(cid)) is not None:
                mine.setdefault(entry.speaker, []).append(entry)
        cur: dict[str, StoredClaim] = {}
        for speaker, now in self._current(state, d.members).items():
            said = self._frame(now)
            same = [e for e in mine[speaker] if e is now or _same_answer(self._frame(e), said, d.family)]
            cur[speaker] = min(same, key=self._when)
        keys = list(cur)
        frames = [self._frame(cur[k]) for k in keys]
        live: list[SlotMatch] = []
        opposed: set[str] = set()
        for i, a in enumerate(keys):
            for j in range(i + 1, len(keys)):
                found = [m for m in compare(frames[i], frames[j]) if m.family == d.family and m.kind]
                if found:
                    live.extend(found)
                    opposed.update((a, keys[j]))
        if not live:
            return cur, live
        return {k: e for k, e in cur.items() if k in opposed}, live

    @staticmethod
    def _when(entry: StoredClaim) -> tuple[datetime, int]:
        return (entry.published or _EPOCH, entry.seq)

    def _sweep(self, state: EventDisputes, now: datetime) -> list[DisputeChange]:
        out = []
        for did in sorted(state.disputes):
            d = state.disputes[did]
            if d.emitted is None or d.status not in ("new", "growing"):
                continue
            if now - d.last_updated >= self.stale_after:
                d.status = "stale"
                d.last_updated = now
                d.emitted = dataclasses.replace(d.emitted, status="stale")
                out.append(DisputeChange(dispute=self.build(state, did), change="status"))
        return out

    def _topic(self, d: DisputeRecord, entries: Sequence[StoredClaim]) -> str:
        """The question in one line, with each side's answer: "deaths: 6 to 18 deaths vs 2,975"."""
        parts = d.family.split("|")
        where = d.anchor.replace("+", ", ")
        frames = [self._frame(e) for e in entries]
        if parts[0] == "n":
            _, cls, dim, _scope = parts
            what = cls.replace("persons/", "people ").replace("/armed", " (armed men)")
            what = re.sub(r"/(\w+)$", r" (\1)", what)  # "deaths/children" -> "deaths (children)"
            label = what + (f" in {dim}" if dim and dim != "-" else "")
            answers = [next((n.text for n in f.numbers if n.key == d.family), "") for f in frames]
            label += ": " + " vs ".join(dict.fromkeys(" ".join(a.split()) for a in answers if a))
        elif d.family == BLAME:
            blamed = [", ".join(sorted(f.accused)) for f in frames if f.accused]
            label = "who is responsible: " + " vs ".join(dict.fromkeys(blamed))
        elif d.family == ACCOUNT:
            said = {"asserts": "asserts", "denies": "denies", "no_knowledge": "cannot confirm"}
            label = "; ".join(dict.fromkeys(f"{e.data['speaker']} {said[stance_of(f)]}"
                                            for e, f in zip(entries, frames, strict=True)))
            act = next((f.action for f in frames if f.action), None)
            label = f"{act}: {label}" if act else label
        else:
            label = f"{parts[-1]}"
        return f"{label} — {where}" if where else label
