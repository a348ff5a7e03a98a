"""Pairwise rules: are two claim frames about the same slot, and if so, can both be true?

``compare`` is symmetric and pure. A slot is a *family* (what is asked: "n|deaths|-|russia" = how many Russians
died; "a|attack" = who attacked what) plus an *anchor* (the shared place or actor terms that pin it down inside
the event). ``kind=None`` means same slot, compatible statements.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import cast

from newsrift.model import DisputeKind, Polarity
from newsrift.stages.disputes.frames import TALLY_CLASSES, Frame, NumFact, local_places

__all__ = ["ACCOUNT", "BLAME", "KIND_PRIORITY", "SlotMatch", "compare", "stance_of", "times_overlap"]

# When one dispute holds several kinds, the record shows the strongest: an outright denial says more than a
# "cannot confirm".
KIND_PRIORITY: dict[str, int] = {"polarity": 5, "numeric": 4, "attribution": 4, "non_confirmation": 2, "other": 1}
BASE_CONFIDENCE: dict[str, float] = {"polarity": 0.8, "attribution": 0.75, "non_confirmation": 0.7, "other": 0.55}
TALLY_UPDATE_AFTER = timedelta(hours=12)
_REL_SLACK = 0.005  # floating-point and unit-conversion noise, not rounding (that is in the intervals)


@dataclass(frozen=True)
class SlotMatch:
    family: str
    anchor: str
    kind: DisputeKind | None
    confidence: float
    reason: str


_ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})")
_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def _time_range(value: str) -> tuple[date, date] | None:
    """ISO-ish time to the days it covers; None when the format is unknown (then it never blocks or conflicts)."""
    try:
        if m := _ISO_WEEK.match(value):
            start = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
            return start, start + timedelta(days=6)
        if m := _ISO_DATE.match(value):
            y = int(m.group(1))
            if m.group(3):
                d = date(y, int(m.group(2)), int(m.group(3)))
                return d, d
            if m.group(2):
                mo = int(m.group(2))
                start = date(y, mo, 1)
                end = date(y + (mo == 12), mo % 12 + 1, 1) - timedelta(days=1)
                return start, end
            return date(y, 1, 1), date(y, 12, 31)
    except ValueError:
        return None
    return None


def times_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """False only when both sides give times and every pair is known to be disjoint."""
    if not a or not b:
        return True
    for x in a:
        rx = _time_range(x)
        for y in b:
            ry = _time_range(y)
            if rx is None or ry is None or (rx[0] <= ry[1] and ry[0] <= rx[1]):
                return True
    return False


def _disjoint(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a) and bool(b) and not (a & b)


def _anchor(shared: frozenset[str]) -> str:
    return "+".join(sorted(shared)[:4])


def _damp(conf: float, a: Frame, b: Frame) -> float:
    """Hedged ("may", "reportedly") or anonymous sides make a weaker dispute, not a different one."""
    for f in (a, b):
        if f.hedged:
            conf *= 0.85
        if f.anonymous:
            conf *= 0.9
    return round(max(0.0, min(1.0, conf)), 3)


def _compatible(x: NumFact, y: NumFact) -> bool:
    def slack(v: float) -> float:
        return 0.0 if math.isinf(v) else abs(v) * _REL_SLACK + 1e-9

    return x.low <= y.high + slack(y.high) and y.low <= x.high + slack(x.high)


def _is_tally_update(x: NumFact, y: NumFact, a: Frame, b: Frame) -> bool:
    """A death toll reported higher a day later by someone else is the toll rising, not a contradiction."""
    if x.cls not in TALLY_CLASSES or a.published is None or b.published is None:
        return False
    if abs(a.published - b.published) < TALLY_UPDATE_AFTER:
        return False
    early, late = (x, y) if a.published <= b.published else (y, x)
    return late.low >= early.low


def _total(f: Frame, key: str) -> NumFact | None:
    """The sum of a claim's several counts of one thing ("12 Somali and 11 Yemeni suspects"), when it has several."""
    parts = [n for n in f.numbers if n.key == key]
    if len(parts) < 2:
        return None
    low, high = sum(n.low for n in parts), sum(n.high for n in parts)
    return NumFact(parts[0].cls, parts[0].dim, parts[0].scope, low, high, " + ".join(n.text for n in parts))


def _sums_agree(key: str, a: Frame, b: Frame) -> bool:
    """One side counts in parts what the other counts whole: "12 Somali and 11 Yemeni suspects" and "23 suspects"."""
    for parts, whole in ((a, b), (b, a)):
        total = _total(parts, key)
        if total is not None and any(n.key == key and _compatible(total, n) for n in whole.numbers):
            return True
    return False


def _numeric(a: Frame, b: Frame) -> list[SlotMatch]:
    if not a.numbers or not b.numbers or a.outlet_voice or b.outlet_voice:
        return []
    # "Reports that the toll is 359 are not correct" denies 359 as surely as "359 did not die".
    pols = (stance_of(a), stance_of(b))
    if pols.count("denies") == 1 and "no_knowledge" not in pols:
        return _denied_number(a, b)
    if pols != ("asserts", "asserts"):
        return []
    if _disjoint(local_places(a), local_places(b)) or not times_overlap(a.times, b.times):
        return []
    best: dict[str, SlotMatch] = {}
    anchor = _anchor(a.place_terms & b.place_terms)
    for x in a.numbers:
        for y in b.numbers:
            if x.key != y.key:
                continue
            if _compatible(x, y) or _is_tally_update(x, y, a, b) or _sums_agree(x.key, a, b):
                match = SlotMatch(x.key, anchor, None, 0.0, f"compatible {x.text!r} ~ {y.text!r}")
            else:
                lo_iv, hi_iv = (x, y) if x.high < y.low else (y, x)
                gap = (hi_iv.low - lo_iv.high) / max(abs(hi_iv.low), abs(lo_iv.high), 1e-9)
                conf = _damp(0.6 + 0.35 * min(1.0, 2 * gap), a, b)
                match = SlotMatch(x.key, anchor, "numeric", conf, f"{x.text!r} vs {y.text!r}")
            prev = best.get(x.key)
            if prev is None or (match.kind is not None and match.confidence > prev.confidence):
                best[x.key] = match
    return list(best.values())


def _denied_number(a: Frame, b: Frame) -> list[SlotMatch]:
    """"3,000 people did not die" against "2,975 dead": a count one side denies and the other asserts."""
    deny, other = (a, b) if stance_of(a) == "denies" else (b, a)
    for x in deny.numbers:
        for y in other.numbers:
            if x.key == y.key and _compatible(x, y):
                conf = _damp(0.8, a, b)
                return [SlotMatch(x.key, "", "numeric", conf, f"denies {x.text!r} vs {y.text!r}")]
    return []


def stance_of(f: Frame) -> Polarity:
    """asserts, denies or no_knowledge: the claim's polarity, or its stance where that denies."""
    return cast(Polarity, f.stance if f.stance in ("denies", "no_knowledge") else f.polarity)


def _act(a: Frame, b: Frame) -> list[SlotMatch]:
    if a.action is None or a.action != b.action:
        return []
    if _disjoint(a.topic, b.topic):
        return []
    family = f"a|{a.action}"
    anchor = _anchor(a.topic & b.topic)
    # What each claim does to the account: a claim that calls it "staged" denies it without a denial verb.
    pols = {stance_of(a), stance_of(b)}

    def match(kind: DisputeKind | None, reason: str) -> list[SlotMatch]:
        if kind is None:
            return [SlotMatch(family, anchor, None, 0.0, reason)]
        # An account and its denial are one question of the event, whichever rule saw it (``_stance`` too).
        return [SlotMatch(ACCOUNT, "", kind, _damp(BASE_CONFIDENCE[kind], a, b), reason)]

    if "asserts" in pols and len(pols) == 2:
        # A denial is about the act as its speaker frames it: "Russia denies its jets struck Idlib" says nothing
        # against "Syrian jets struck Idlib", and neither does a different place. Only named parties can tell two
        # doers apart here: "coalition forces" and "US-backed Kurdish fighters" may be the same side.
        if _disjoint(a.agent_parties, b.agent_parties) or _disjoint(a.place_terms, b.place_terms):
            return []
        if a.outlet_voice or b.outlet_voice or len(a.content & b.content) < MIN_SHARED_CONTENT:
            return []  # the denial must answer this account (the act and whom it concerns), not any mention of it
        kind: DisputeKind = "polarity" if "denies" in pols else "non_confirmation"
        return match(kind, f"{stance_of(a)} vs {stance_of(b)}")
    # Two assertions of one act agree here. Who did it is the parties' question (``_stance``): on real news the
    # actors the parse finds for one act differ between outlets far more often than the accounts do.
    return match(None, "agree" if pols == {"asserts"} else "nobody asserts")


# Content words two sides of one question share at the least: a denial answers an account only when it is about
# the same thing ("baseless allegations" about the killing vs "killed at the consulate" share the victim's name).
MIN_SHARED_CONTENT = 2
ACCOUNT = "s|account"  # the family of "one side asserts, the other denies or cannot confirm"
BLAME = "s|blame"  # the family of "each side holds the other responsible"
MIN_SHARED_ACCOUNT = 3


def _close(a: Frame, b: Frame) -> bool:
    """Two claims about the same thing: ``MIN_SHARED_ACCOUNT`` content words in common, or half of the shorter."""
    shared = len(a.content & b.content)
    return shared >= MIN_SHARED_ACCOUNT or (shared >= 2 and 2 * shared >= min(len(a.content), len(b.content)))


def _stance(a: Frame, b: Frame) -> list[SlotMatch]:
    """Two parties on opposite sides of the event's contested question: one denies what the other asserts, or each
    holds the other responsible. Parties are the speakers' countries or camps ("Kremlin spokesman" -> russia); a
    claim by nobody's camp (an outlet's own voice, "rescuers") takes no side here."""
    if not a.party or not b.party or a.party & b.party:
        return []
    stances = {a.stance, b.stance}
    if a.accused and b.accused:
        # Mutual blame: each side names the other (or at least not itself) as the one responsible; a side may deny
        # its own part while it blames ("did nothing wrong and accused Russia of aggression").
        if (a.accused & b.party) or (b.accused & a.party):
            conf = _damp(BASE_CONFIDENCE["attribution"], a, b)
            return [SlotMatch(BLAME, "", "attribution", conf, f"{sorted(a.accused)} vs {sorted(b.accused)}")]
        return []
    if stances == {"asserts"} or stances == {"accuses"}:
        return []
    shared = a.content & b.content
    if len(shared) < MIN_SHARED_CONTENT or not stances & {"denies", "no_knowledge"}:
        return []  # an accusation against a plain account: nobody denies anything
    deny = a if a.stance in ("denies", "no_knowledge") else b
    other = b if deny is a else a
    if other.stance in ("denies", "no_knowledge"):
        return []  # two denials do not contradict each other
    if other.stance == "accuses" and not (other.accused & deny.party):
        return []  # the accusation is against someone else: the denial does not answer it
    if other.stance != "accuses" and not _close(a, b):
        return []  # a plain account must be close to what is denied
    kind: DisputeKind = "non_confirmation" if deny.stance == "no_knowledge" else "polarity"
    conf = _damp(BASE_CONFIDENCE[kind], a, b)
    reason = f"{deny.stance} vs {other.stance}: {'+'.join(sorted(shared)[:4])}"
    return [SlotMatch(ACCOUNT, "", kind, conf, reason)]


CONTRAST_CONFIDENCE = 0.6


def _contrast(a: Frame, b: Frame) -> list[SlotMatch]:
    """Sources of different sides giving opposite answers to one of the questions of ``contrasts.toml``: "a civilian
    airship used for research" (China) against "a surveillance balloon" (the Pentagon). Sources of one side, or of
    no known side, are not set against each other here: a toll's "botched operation" and a prosecutor's
    "premeditated" may both be true at different times, and only named sides make a disagreement of it."""
    if a.outlet_voice or b.outlet_voice or not (a.party or b.party) or (a.party & b.party):
        return []
    out = []
    for label, pole in a.answers:
        other = next((p for q, p in b.answers if q == label), None)
        if other is not None and other != pole:
            out.append(SlotMatch(f"c|{label}", "", "other", _damp(CONTRAST_CONFIDENCE, a, b), f"{pole} vs {other}"))
    return out


def _counts_alike(a: Frame, b: Frame) -> bool:
    """Both claims count the same thing: whatever one denies of the other is a question of numbers."""
    return bool({n.key for n in a.numbers} & {n.key for n in b.numbers})


def compare(a: Frame, b: Frame) -> list[SlotMatch]:
    """Every slot the two frames share, each with a conflict kind or None. Two counts of one thing are the numeric
    rule's alone: "reports that the toll is 359 are not correct" against "the toll was 359" is one disagreement
    about a number, not a second one about an account."""
    if not a.slots & b.slots:
        return []
    if _counts_alike(a, b):
        return _numeric(a, b)
    act = _act(a, b)
    if any(m.kind for m in act):
        return _numeric(a, b) + act + _contrast(a, b)
    return _numeric(a, b) + act + _stance(a, b) + _contrast(a, b)
