"""Claim extraction throughput next to bare spaCy, on the same texts, in one run.

    .venv/bin/python bench/bench_extract.py [--n 300] [--batch-size 32] [--rounds 2]

"bare" is ``nlp.pipe`` of the full default ``en_core_web_sm`` pipeline (the floor any spaCy stage pays);
"extract" is ``newsrift.stages.extract.extract_many`` (the same statistical components, newsrift's rule components
inside ``nlp.pipe``, then the claim rules and entity conversion). Rounds alternate the order (bare, extract, extract,
bare, ...) so a neighbour's load on a shared machine hits both sides alike; the best round of each is reported.
Target: extract >= 0.8 x bare articles/s, peak RSS < 1 GiB (this process holds both pipelines, so it overstates
what one worker needs).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402

from newsrift.model import Article, stable_id  # noqa: E402
from newsrift.stages.extract import MODEL, extract_many, load_nlp  # noqa: E402

ECB = ROOT.parent / "shared" / "data" / "ecbplus-dev" / "articles.jsonl"
PUB = datetime(2018, 2, 14, tzinfo=timezone.utc)


def load_articles(n: int) -> list[Article]:
    rows = [json.loads(line) for line in ECB.read_text(encoding="utf-8").splitlines()][:n]
    return [
        Article(
            article_id=r["id"],
            outlet_id="ecbplus",
            url="",
            title=r.get("title") or "",
            text=r["text"],
            content_hash=stable_id(r["text"]),
            published=PUB,
        )
        for r in rows
        if r["text"].strip()
    ]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    t = time.perf_counter()
    n = fn()
    return time.perf_counter() - t, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()

    articles = load_articles(args.n)
    texts = [a.text for a in articles]
    bare_nlp = spacy.load(MODEL)
    ours = load_nlp()
    print(f"articles={len(articles)} chars={sum(map(len, texts))} batch_size={args.batch_size}")
    print(f"bare pipeline:    {bare_nlp.pipe_names}")
    print(f"extract pipeline: {ours.pipe_names}")
    # Warm both (first calls allocate the model's buffers).
    list(bare_nlp.pipe(texts[:8]))
    list(extract_many(articles[:8]))

    def bare() -> int:
        return sum(1 for _ in bare_nlp.pipe(texts, batch_size=args.batch_size))

    claims = 0

    def extract() -> int:
        nonlocal claims
        claims = 0
        n = 0
        for _, cs, _ in extract_many(articles, batch_size=args.batch_size):
            claims += len(cs)
            n += 1
        return n

    best = {"bare": 0.0, "extract": 0.0}
    for r in range(args.rounds):
        order = [("bare", bare), ("extract", extract)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            secs, n = timed(fn)
            rate = n / secs
            best[name] = max(best[name], rate)
            print(f"round {r + 1} {name:8s} {n} articles in {secs:6.2f} s = {rate:6.1f} articles/s")
    ratio = best["extract"] / best["bare"]
    rss = peak_rss_mib()
    print(f"claims per run: {claims}")
    print(f"bare nlp.pipe:   {best['bare']:.1f} articles/s")
    print(f"extract_many:    {best['extract']:.1f} articles/s")
    print(f"ratio:           {ratio:.3f} (target >= 0.8) {'OK' if ratio >= 0.8 else 'BELOW TARGET'}")
    print(f"peak RSS:        {rss:.0f} MiB (target < 1024) {'OK' if rss < 1024 else 'ABOVE TARGET'}")


if __name__ == "__main__":
    main()
