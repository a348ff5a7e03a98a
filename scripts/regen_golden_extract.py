"""Regenerate the extraction golden files ``tests/golden/extract/<case>.json`` from their inputs.

    .venv/bin/python scripts/regen_golden_extract.py

Inputs are the hand-written sentences of ``tests/golden/extract/cases.jsonl`` and the founding seed article
(``../shared/seed/seed-article.txt``, copied into its golden file so the tests need nothing outside the repo).
Each golden file holds the input text and every claim extracted from it (the fields the dispute stage reads).
Never edit a golden file by hand: run this, then review ``git diff tests/golden/extract`` like code.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from newsrift.model import Article, Claim, stable_id  # noqa: E402
from newsrift.stages.extract import extract_many  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "extract"
CASES = GOLDEN / "cases.jsonl"
SEED = ROOT.parent / "shared" / "seed" / "seed-article.txt"
SEED_ID = "seed-article"
# A Wednesday: "on Tuesday" is the day before, "last week" ISO week 6.
PUBLISHED = datetime(2018, 2, 14, 12, 0, tzinfo=timezone.utc)
OUTLET = "golden"
KEYS = (
    "speaker",
    "speaker_type",
    "speaker_text",
    "carrier",
    "cue",
    "polarity",
    "direct",
    "text",
    "refers_to",
    "start",
    "end",
    "hedges",
    "action",
    "actors",
    "places",
    "times",
)


def summary(c: Claim) -> dict[str, Any]:
    """The reviewed part of a claim (ids and the article fields are derived, so they are left out)."""
    d: dict[str, Any] = {k: getattr(c, k) for k in KEYS}
    d = {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
    d["quantities"] = [{k: v for k, v in q.to_json().items() if k not in ("start", "end")} for q in c.quantities]
    if d["refers_to"] is None:
        del d["refers_to"]  # shown only on the denials that point back
    return d


def article(case_id: str, text: str) -> Article:
    return Article(
        article_id=case_id,
        outlet_id=OUTLET,
        url=f"https://golden.invalid/{case_id}",
        title="",
        text=text,
        content_hash=stable_id(text),
        published=PUBLISHED,
    )


def inputs() -> list[tuple[str, str]]:
    """(case id, text) of every golden input: the hand-written cases, then the seed article when it is here."""
    out = [(c["id"], c["text"]) for c in map(json.loads, CASES.read_text(encoding="utf-8").splitlines())]
    if SEED.exists():
        out.append((SEED_ID, SEED.read_text(encoding="utf-8")))
    elif (GOLDEN / f"{SEED_ID}.json").exists():
        out.append((SEED_ID, json.loads((GOLDEN / f"{SEED_ID}.json").read_text(encoding="utf-8"))["text"]))
    return out


def golden_record(case_id: str, text: str, claims: list[Claim]) -> dict[str, Any]:
    return {
        "id": case_id,
        "published": PUBLISHED.isoformat(),
        "outlet_id": OUTLET,
        "text": text,
        "claims": [summary(c) for c in claims],
    }


def main() -> None:
    items = inputs()
    wanted = {f"{case_id}.json" for case_id, _ in items}
    for stale in GOLDEN.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    for art, claims, _ in extract_many(article(i, t) for i, t in items):
        path = GOLDEN / f"{art.article_id}.json"
        rec = golden_record(art.article_id, art.text, claims)
        path.write_text(json.dumps(rec, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(items)} golden files to {GOLDEN}")


if __name__ == "__main__":
    main()
