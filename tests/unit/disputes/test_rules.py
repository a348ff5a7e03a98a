"""Rule properties (symmetry, bounds, unit and wording equivalences) and the labelled dev set as a gate."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.eval_disputes import evaluate
from newsrift.stages.disputes import compare, frame_of
from newsrift.stages.disputes.frames import answers as frames_answers
from newsrift.stages.disputes.frames import counted_class, interval_of, normalise_unit
from newsrift.stages.disputes.rules import times_overlap
from tests.unit.disputes.helpers import claim, qty

ROOT = Path(__file__).resolve().parents[3]
APPROX = ["exact", "about", "over", "under", "at_least", "at_most", "range", "vague"]
COUNTED = ["killed", "dead", "casualties", "wounded", "troops", "people", "killed or wounded"]


def _kinds(a: object, b: object) -> list[tuple[str, str | None]]:
    return sorted((m.family, m.kind) for m in compare(a, b))  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(APPROX), st.floats(0, 1e4), st.floats(0, 1e4), st.sampled_from(COUNTED)),
        min_size=1,
        max_size=2,
    ),
    st.lists(
        st.tuples(st.sampled_from(APPROX), st.floats(0, 1e4), st.floats(0, 1e4), st.sampled_from(COUNTED)),
        min_size=1,
        max_size=2,
    ),
    st.sampled_from(["asserts", "denies", "no_knowledge"]),
    st.sampled_from(["kill", "die", "attack"]),
)
def test_compare_is_symmetric_and_bounded(qa: list, qb: list, pol: str, action: str) -> None:
    def mk(who: str, qs: list, p: str) -> object:
        return frame_of(
            claim(
                who,
                "x",
                action=action,
                pol=p,  # type: ignore[arg-type]
                qs=tuple(qty(f"{lo:g}", lo, hi, ap, c) for ap, lo, hi, c in qs),
            )
        )

    a, b = mk("a", qa, "asserts"), mk("b", qb, pol)
    assert _kinds(a, b) == _kinds(b, a)
    for m in compare(a, b):  # type: ignore[arg-type]
        assert 0.0 <= m.confidence <= 1.0


def test_unit_and_wording_equivalences() -> None:
    pp, bp = normalise_unit("percentage points"), normalise_unit("basis points")
    iv_pp = interval_of(qty("0.75 percentage points", 0.75), pp[1])
    iv_bp = interval_of(qty("75 basis points", 75), bp[1])
    assert pp[0] == bp[0] == "pp" and iv_pp is not None and iv_bp is not None
    assert iv_pp[0] <= iv_bp[1] and iv_bp[0] <= iv_pp[1]
    assert counted_class("casualties", None) == counted_class("killed or wounded", None) == "casualties"
    assert counted_class("people", "kill") == counted_class("dead", None) == "deaths"
    assert counted_class("wounded", None) != counted_class("killed", None)
    assert interval_of(qty("dozens", None, None, "vague")) == (24, 99)
    assert times_overlap(("2018-W06",), ("2018-02-07",)) and not times_overlap(("2024-03-04",), ("2024-03-05",))


def test_team_pairs_keep_their_single_rules() -> None:
    pairs = [json.loads(x) for x in (ROOT / "tests/fixtures/disputes/pairs.jsonl").read_text().splitlines() if x]
    assert len(pairs) >= 40
    r = evaluate(pairs)
    # The team-written pairs test single rules; real news (bench/eval_real.py) is the quality figure. Who did an
    # act and when or where it happened are not judged from the parse's actors any more (too noisy on real news),
    # so attribution and "other" pairs of this set are not gated here.
    assert r["overall"]["precision"] >= 0.9
    for kind in ("numeric", "polarity", "non_confirmation"):
        assert r["per_kind"][kind]["recall"] >= 0.6, kind
    assert r["flagged_lookalikes"] == []


def test_a_count_called_incorrect_is_a_numeric_question_not_a_second_account_dispute() -> None:
    """"Reports that the toll is 120 are not correct" denies the number 120 (no denial verb, polarity asserts): one
    numeric disagreement with whoever said 120, and nothing with whoever said 80."""
    denial = frame_of(claim("health ministry", "media reports saying that the death toll is 120 are not correct",
                            action="kill", qs=(qty("120", 120, counted="death toll"),)))
    said_120 = frame_of(claim("police spokesman", "the death toll was 120 people", action="kill",
                              qs=(qty("120 people", 120, counted="dead"),)))
    said_80 = frame_of(claim("city officials", "the death toll was 80 people", action="kill",
                             qs=(qty("80 people", 80, counted="dead"),)))
    assert _kinds(denial, said_120) == [("n|deaths|-|*", "numeric")]
    assert all(kind is None for _, kind in _kinds(denial, said_80))


def test_blame_against_blame_even_when_one_side_also_denies() -> None:
    """"Its vessels did nothing wrong and it accused Russia of aggression" denies and blames at once: against a
    Russian side blaming Ukraine it is mutual blame. A party named in a denial is otherwise the accuser, not the
    accused: "rejected claims of the United States blaming it" blames nobody."""
    kyiv = frame_of(claim("Ukrainian government", "its vessels did nothing wrong and it accused Russia of aggression"))
    moscow = frame_of(claim("Russian foreign ministry", "the Ukrainian side is responsible for the provocation"))
    tehran = frame_of(claim("Iranian government", "claims of the United States blaming it for the attack",
                            pol="denies"))
    assert kyiv.stance == "denies" and kyiv.accused == {"russia"}
    assert ("s|blame", "attribution") in _kinds(kyiv, moscow)
    assert tehran.accused == frozenset()


def test_sides_of_different_camps_giving_opposite_answers_to_one_question_disagree() -> None:
    """"A civilian airship used for research" (China) against "a spy balloon" (the Pentagon): one question of
    ``contrasts.toml`` answered both ways by two camps. One camp's two answers, a negated answer and a claim giving
    both answers are not set against anything."""
    china = frame_of(claim("Chinese government", "it is a civilian airship used for weather research"))
    pentagon = frame_of(claim("Pentagon", "it is a spy balloon that can change course"))
    steered = frame_of(claim("US officials", "the balloon steered toward the base"))
    assert ("c|civilian or military purpose", "other") in _kinds(china, pentagon)
    assert not [m for m in compare(pentagon, steered) if m.family.startswith("c|")]  # one camp
    assert frames_answers("it was not a spy balloon") == frozenset()
    assert frames_answers("a civilian airship, not a spy balloon but a weather balloon") == frozenset(
        {("civilian or military purpose", "civilian")})
    assert frames_answers("a spy balloon or a weather balloon") == frozenset()  # both answers: none
