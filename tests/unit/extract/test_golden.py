"""Extraction against the hand-written expectations of cases.jsonl and against the reviewed golden files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from spacy.language import Language

from newsrift.model import Claim
from newsrift.stages.extract import extract_claims, extract_many
from scripts.regen_golden_extract import CASES, GOLDEN, article, golden_record

HAND = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines()]
GOLDEN_FILES = sorted(GOLDEN.glob("*.json"))


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        return got is not None and math.isclose(float(got), float(want), rel_tol=1e-9)
    return bool(want == got)


def _claim_matches(want: dict[str, Any], c: Claim) -> bool:
    for k, v in want.items():
        if k == "quantities":
            qs = [q.to_json() for q in c.quantities]
            if v == [] and qs:
                return False
            if not all(any(all(_same(wv, q.get(wk)) for wk, wv in w.items()) for q in qs) for w in v):
                return False
        elif k in ("places", "times"):
            if not set(v) <= set(getattr(c, k)):
                return False
        elif k == "hedges":
            if set(v) != set(c.hedges):
                return False
        elif not _same(v, getattr(c, k)):
            return False
    return True


def test_there_are_enough_cases() -> None:
    assert len(HAND) >= 30
    assert len({c["id"] for c in HAND}) == len(HAND)


@pytest.mark.parametrize("case", HAND, ids=[c["id"] for c in HAND])
def test_case_meets_its_expectations(nlp: Language, case: dict[str, Any]) -> None:
    text = case["text"]
    claims = extract_claims(article(case["id"], text), nlp(text))
    for want in case["expect"]:
        assert any(_claim_matches(want, c) for c in claims), (
            f"no claim matches {want}; got {[c.to_json() for c in claims]}"
        )
    if "count" in case:
        assert len(claims) == case["count"]
    for c in claims:
        quote = text[c.start : c.end]
        assert c.text in quote, "the content lies inside the quoted span"
        assert all(text[q.start : q.end] == q.text for q in c.quantities)


def test_every_input_has_a_golden_file() -> None:
    names = {p.stem for p in GOLDEN_FILES}
    assert {c["id"] for c in HAND} <= names, "run scripts/regen_golden_extract.py"
    assert "seed-article" in names


def test_output_equals_reviewed_golden(nlp: Language) -> None:
    records = [json.loads(p.read_text(encoding="utf-8")) for p in GOLDEN_FILES]
    changed = []
    arts = [article(r["id"], r["text"]) for r in records]
    for rec, (art, claims, _) in zip(records, extract_many(arts), strict=True):
        if golden_record(art.article_id, art.text, claims) != rec:
            changed.append(rec["id"])
    assert not changed, f"extraction changed for {changed}: run scripts/regen_golden_extract.py and review the diff"


def test_golden_files_are_consistent_with_their_text() -> None:
    for p in GOLDEN_FILES:
        rec = json.loads(Path(p).read_text(encoding="utf-8"))
        for c in rec["claims"]:
            assert c["text"] in rec["text"][c["start"] : c["end"]], (p.name, c["text"])
