"""Build the labelled reprint set in tests/fixtures/reprints/ from ECB+ dev texts (CC BY 3.0, see README there).

Every ECB+ event has several articles written independently by different outlets: those are the "related but
different" negatives (same event, own wording). From one article per event (the "original") the script derives wire
copies the way syndication edits them: exact copy, new byline/dateline, edited lead, boilerplate appended, end cut,
and all of these at once. Articles of other events are the easy negatives.

ECB+ itself holds some syndicated copies among the same-event articles. Those cannot be called "rewrites", so an
article with a fifth or more of its 8-word runs in an already chosen article is left out (a conservative label,
not a decision by the detector under test). Rewrites that share a quote or a few phrases stay in: they are the hard
negatives.

    .venv/bin/python scripts/make_reprint_set.py   # rewrites tests/fixtures/reprints/pairs.jsonl
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ECB = ROOT.parent / "shared" / "data" / "ecbplus-dev" / "articles.jsonl"
OUT = ROOT / "tests" / "fixtures" / "reprints" / "pairs.jsonl"
SEED = 4
MAX_CHARS = 1800  # keeps the fixture under 500 KB
MIN_WORDS = 60
SYNDICATED = 0.2

BYLINES = ["By Staff and wire reports\n", "By ASSOCIATED PRESS\n", "From our wire services\n",
           "By Reuters staff | Edited by the Metro desk\n", "PARIS (AFP) - ", "NEW YORK (Reuters) - "]
BOILERPLATE = [
    "\nCopyright 2013 The Associated Press. All rights reserved. This material may not be published, broadcast, "
    "rewritten or redistributed.",
    "\nRelated: Read more stories like this. Sign up for our newsletter and follow us on Twitter and Facebook.",
    "\n(Reporting by staff; editing by the wire desk.) Click here to subscribe to our daily briefing.",
    "\nComments are closed. Share this article: Facebook Twitter Email. More from this section.",
]
NEW_LEADS = ["In a development that drew wide attention on Monday, officials confirmed the news.",
             "Here is what we know so far.", "UPDATED with new details throughout.",
             "This story has been updated."]
_SENT = re.compile(r"(?<=[.!?])\s+|\n+")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _grams(text: str, k: int = 8) -> set[str]:
    w = _words(text)
    return {" ".join(w[i : i + k]) for i in range(len(w) - k + 1)}


def _sentences(text: str) -> list[str]:
    return [s for s in _SENT.split(text) if s.strip()]


def variant(text: str, kind: str, rng: random.Random) -> str:
    sents = _sentences(text)
    if kind == "exact":
        return text
    if kind == "byline":
        return rng.choice(BYLINES) + text
    if kind == "boilerplate":
        return text + rng.choice(BOILERPLATE)
    if kind == "lead_edit":  # the copy desk replaces the opening sentence
        return " ".join([rng.choice(NEW_LEADS), *sents[1:]])
    if kind == "truncated":  # a print slot: the story cut after 60-80 % of its sentences
        keep = max(2, round(len(sents) * rng.uniform(0.6, 0.8)))
        return " ".join(sents[:keep])
    if kind == "combined":
        keep = max(2, round(len(sents) * 0.75))
        return rng.choice(BYLINES) + " ".join([rng.choice(NEW_LEADS), *sents[1:keep]]) + rng.choice(BOILERPLATE)
    raise ValueError(kind)


def main() -> None:
    rng = random.Random(SEED)
    docs = [json.loads(line) for line in ECB.read_text().splitlines() if line.strip()]
    by_event: dict[str, list[dict]] = defaultdict(list)
    for d in docs:
        d["text"] = d["text"][:MAX_CHARS].rsplit(" ", 1)[0] if len(d["text"]) > MAX_CHARS else d["text"]
        by_event[d["event"]].append(d)
    kinds = ["exact", "byline", "boilerplate", "lead_edit", "truncated", "combined"]
    items: list[dict] = []
    chosen_grams: set[str] = set()
    for event in sorted(by_event):
        pool = sorted(by_event[event], key=lambda d: d["id"])
        rng.shuffle(pool)
        picked: list[dict] = []
        for d in pool:
            if len(_words(d["text"])) < MIN_WORDS:
                continue  # a one-line ECB article is a headline, not a story to syndicate
            g = _grams(d["text"])
            if not g or len(g & chosen_grams) >= SYNDICATED * len(g):
                continue
            chosen_grams |= g
            picked.append(d)
            if len(picked) == 3:
                break
        for i, d in enumerate(picked):
            items.append({"id": d["id"], "outlet": f"outlet-{d['id']}", "title": d["title"], "text": d["text"],
                          "event": event, "kind": "original" if i == 0 else "rewrite", "expect": None})
        if not picked:
            continue
        orig = picked[0]
        for kind in rng.sample(kinds, 2):
            items.append({"id": f"{orig['id']}~{kind}", "outlet": f"carrier-{kind}", "title": orig["title"],
                          "text": variant(orig["text"], kind, rng), "event": event, "kind": kind,
                          "expect": orig["id"]})
    # Arrival order: shuffled, but a copy never arrives before the article it copies.
    rng.shuffle(items)
    emitted: set[str] = set()
    waiting: dict[str, list[dict]] = defaultdict(list)
    ordered: list[dict] = []
    for it in items:
        if it["expect"] and it["expect"] not in emitted:
            waiting[it["expect"]].append(it)
            continue
        ordered.append(it)
        emitted.add(it["id"])
        ordered.extend(waiting.pop(it["id"], []))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w") as f:
        for i, it in enumerate(ordered):
            f.write(json.dumps({"seq": i, **it}, ensure_ascii=False) + "\n")
    pos = sum(1 for it in ordered if it["expect"])
    print(f"wrote {OUT.relative_to(ROOT)}: {len(ordered)} articles, {pos} reprints, "
          f"{len(ordered) - pos} not reprints, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
