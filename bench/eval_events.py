"""Event clustering quality on ECB+ dev, streamed in shuffled order, against a TF-IDF average-link batch baseline.

ECB+ (Cybulska and Vossen, LREC 2014, CC BY 3.0) has no publication times and each topic holds two events of the
same kind (two rehab check-ins, two earthquakes) that happened years apart. Articles are shuffled (seeded) and given
times one minute apart, so the whole stream falls inside one decay window: time cannot separate the two events of a
topic and the text has to. Gold is the ``event`` field.

    .venv/bin/python bench/eval_events.py                      # all topics, 5 seeds, plus baseline and throughput
    .venv/bin/python bench/eval_events.py --topics 21-35       # held-out topics only
    .venv/bin/python bench/eval_events.py --threshold 0.24 --merge-threshold 0.4 --throughput 0
    .venv/bin/python bench/eval_events.py --feature-ceiling   # batch clustering of the same features, for scale
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from newsrift.model import Article  # noqa: E402
from newsrift.stages.events.core import ClusterConfig, EventClusterer, features  # noqa: E402

ECB = ROOT.parent / "shared" / "data" / "ecbplus-dev" / "articles.jsonl"
DEV = ROOT.parent / "shared" / "data" / "disputes-dev"
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def load(path: Path, topics: set[int] | None) -> list[dict]:
    docs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [d for d in docs if topics is None or d["topic"] in topics]


def parse_topics(spec: str) -> set[int] | None:
    if spec == "all":
        return None
    out: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def bcubed(gold: Sequence[str], pred: Sequence[str]) -> tuple[float, float, float]:
    pair = Counter(zip(gold, pred, strict=True))
    g, p = Counter(gold), Counter(pred)
    n = len(gold)
    prec = sum(c * c / p[pp] for (_, pp), c in pair.items()) / n
    rec = sum(c * c / g[gg] for (gg, _), c in pair.items()) / n
    return prec, rec, 2 * prec * rec / (prec + rec)


def articles(docs: list[dict], seed: int) -> list[Article]:
    order = list(docs)
    random.Random(seed).shuffle(order)
    return [Article(article_id=d["id"], outlet_id="ecb", url="", title=d["title"], text=d["text"],
                    content_hash=d["id"], published=T0 + timedelta(minutes=i)) for i, d in enumerate(order)]


def run_online(docs: list[dict], seed: int, config: ClusterConfig) -> tuple[list[str], list[str], list[str], int]:
    """Gold, the events at the end of the stream (after the settle the worker's idle tick makes), the event each
    article got when it arrived, and the number of articles moved by settles."""
    arts = articles(docs, seed)
    c = EventClusterer({}, config)
    moved = 0
    arrival = []
    for a in arts:
        got = c.assign(a)
        c.moves_sent()  # what the worker does once it has sent them
        arrival.append(got.event_id)
        moved += sum(len(m.article_ids) for m in got.moves)
    moved += sum(len(m.article_ids) for m in c.settle())
    gold_of = {d["id"]: d["event"] for d in docs}
    ids = [a.article_id for a in arts]
    return [gold_of[i] for i in ids], [c.event_of(i) or "?" for i in ids], arrival, moved


def dev_run(dates: bool, config: ClusterConfig, order_seed: int | None = None) -> dict[str, Any]:
    """The disputes-dev set through the assign stage (reprints, then events) in ``newsrift analyze``'s order, without
    spaCy (``article.entities`` empty; ``analyze`` fills them): B-cubed over events and reprint pairs as
    ``../shared/tools/score.py`` counts them. ``dates=False`` removes every publication date first; ``order_seed``
    shuffles the input lines first."""
    from newsrift.model import parse_time
    from newsrift.stages.events.assign import Assigner
    from newsrift.stages.events.dates import arrival_order
    from newsrift.stages.normalize.core import content_hash

    recs = [json.loads(line) for line in (DEV / "articles.jsonl").read_text().splitlines() if line.strip()]
    labels = json.loads((DEV / "labels.json").read_text())
    if order_seed is not None:
        random.Random(order_seed).shuffle(recs)
    arts = [(n, Article(article_id=r["id"], outlet_id=r["outlet"], url=r.get("url") or "", title=r.get("title") or "",
                        text=r["text"], content_hash=content_hash(r["text"]),
                        published=parse_time(r.get("published")) if dates else None))
            for n, r in enumerate(recs)]
    assigner = Assigner({}, {}, config)
    dup: dict[str, str | None] = {}
    for _, a in arrival_order(arts):
        p = assigner.place(a)
        assigner.moves_sent()
        dup[a.article_id] = p.duplicate_of
    assigner.settle()
    assigner.moves_sent()
    ids = [r["id"] for r in recs]
    gold = {r["id"]: r["event_id"] for r in recs}
    pred = {i: assigner.event_of(i) or "?" for i in ids}
    p, r, f = bcubed([gold[i] for i in ids], [pred[i] for i in ids])
    gold_dup = {i: n for n, g in enumerate(labels["duplicates"]) for i in g["article_ids"]}

    def root(i: str) -> str:
        seen = set()
        while dup.get(i) and i not in seen:
            seen.add(i)
            i = dup[i] or i
        return i

    tp = fp = fn = 0
    for x, y in itertools.combinations(ids, 2):
        g = x in gold_dup and gold_dup.get(x) == gold_dup.get(y)
        q = root(x) == root(y)
        tp += g and q
        fp += q and not g
        fn += g and not q
    split = {}
    for ev in sorted(set(gold.values())):
        split[ev] = sorted(Counter(pred[i] for i in ids if gold[i] == ev).values(), reverse=True)
    return {"p": p, "r": r, "f": f, "events": len(set(pred.values())),
            "dup_p": tp / (tp + fp) if tp + fp else 1.0, "dup_r": tp / (tp + fn) if tp + fn else 1.0,
            "split": split, "pred": pred, "gold": gold}


def dev_report(config: ClusterConfig, orders: int = 3) -> None:
    for dates in (True, False):
        rows = [dev_run(dates, config, None if k == 0 else k) for k in range(orders)]
        first = rows[0]
        parts = {ev: c for ev, c in first["split"].items() if len(c) > 1}
        print(f"disputes-dev {'dates as given' if dates else 'dates removed '}: B3 P={first['p']:.4f} "
              f"R={first['r']:.4f} F1={first['f']:.4f} events={first['events']} (target "
              f"{0.95 if dates else 0.90}); reprints P={first['dup_p']:.3f} R={first['dup_r']:.3f} (target 0.9/0.9); "
              f"F1 over {orders - 1} shuffled input orders: "
              f"{' '.join(format(x['f'], '.3f') for x in rows[1:])}; split: {parts or 'none'}")
        merged = Counter(first["pred"][i] for i in first["pred"])
        mixed = [e for e in merged if len({first["gold"][i] for i in first["pred"] if first["pred"][i] == e}) > 1]
        if mixed:
            print("  mixed events: " + "; ".join(
                ",".join(sorted(i for i in first["pred"] if first["pred"][i] == e)) for e in mixed))


def baseline(docs: list[dict], threshold: float) -> list[str]:
    """TF-IDF (sublinear, English stop words) and cosine average-link agglomerative clustering, all docs at once."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    x = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=1).fit_transform(
        [d["title"] + "\n" + d["text"] for d in docs])
    labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                     distance_threshold=threshold).fit_predict(x.toarray())
    return [str(v) for v in labels]


class CountingStore(dict):
    """A dict that keeps each value as JSON, like a Faust table, and counts writes (each one a changelog message in
    the worker) and their bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.bytes = 0

    def __setitem__(self, key: str, value: object) -> None:
        text = json.dumps(value)
        self.writes += 1
        self.bytes += len(key) + len(text)
        super().__setitem__(key, text)

    def __delitem__(self, key: str) -> None:
        self.writes += 1
        super().__delitem__(key)

    def __getitem__(self, key: str) -> object:
        return json.loads(super().__getitem__(key))

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        return self[key] if key in self else default

    def items(self):  # type: ignore[no-untyped-def,override]
        return ((k, self[k]) for k in list(self.keys()))


def synthetic_story(i: int, rng: random.Random, docs: list[dict], when: datetime) -> Article:
    """A story of its own: invented names (its people and places, in title and text) and rare words among common
    prose (a random draw of one ECB+ article's words, so stories share vocabulary but not sentences)."""
    syllables = ("ka", "lo", "mi", "ra", "ven", "tor", "su", "dal", "ne", "quin", "bor", "ze", "lan", "fi", "gro")
    names = ["".join(rng.choice(syllables) for _ in range(3)).capitalize() + str(i) for _ in range(8)]
    prose = rng.choice(docs)["text"].split()
    common = rng.sample(prose, min(120, len(prose)))
    text = " ".join(common) + ". " + ". ".join(f"Officials said {a} met {b}" for a, b in itertools.pairwise(names))
    return Article(article_id=f"w{i}", outlet_id="x", url="", title=" ".join(names[:4]), text=text,
                   content_hash=str(i), published=when)


def throughput(live_counts: list[int], n: int, config: ClusterConfig) -> list[dict[str, float]]:
    """Articles/s of ``n`` ECB+ articles arriving when the store already holds each of ``live_counts`` live events
    (one synthetic story each, all within the settle window), per CPU second of this process too, and store writes
    and bytes per article over the whole run. The stores are built first; then the timed articles go to each store
    in turn, ``settle_every`` at a time, so that a machine shared with other jobs slows every store alike."""
    docs = load(ECB, None)
    rng = random.Random(0)
    runs = []
    for live_events in live_counts:
        store = CountingStore()
        c = EventClusterer(store, config)
        i = 0
        while c.live_events() < live_events and i < 2 * live_events:
            c.assign(synthetic_story(i, rng, docs, T0 + timedelta(seconds=i)))
            c.moves_sent()
            i += 1
        arts = [Article(article_id="t" + a.article_id, outlet_id="x", url="", title=a.title, text=a.text,
                        content_hash=a.content_hash, published=T0 + timedelta(seconds=i + k))
                for k, a in enumerate(articles(docs, 1)[:n])]
        runs.append({"c": c, "store": store, "arts": arts, "stories": i, "live": c.live_events(), "wall": 0.0,
                     "cpu": 0.0})
    step = max(1, config.settle_every)
    for lo in range(0, n, step):
        for run in runs:
            start, cpu = time.perf_counter(), time.process_time()
            for a in run["arts"][lo: lo + step]:
                run["c"].assign(a)
                run["c"].moves_sent()
            run["wall"] += time.perf_counter() - start
            run["cpu"] += time.process_time() - cpu
    out = []
    for run in runs:
        done = len(run["arts"])
        total = run["stories"] + done
        out.append({"rate": done / run["wall"], "cpu_rate": done / run["cpu"], "live": run["live"],
                    "writes": run["store"].writes / total, "kib": run["store"].bytes / total / 1024})
    return out


def _heaviest(counts: dict[str, float]) -> str | None:
    return max(counts, key=lambda t: (counts[t], t)) if counts else None


def feature_ceiling(docs: list[dict], config: ClusterConfig) -> None:
    """What the clusterer's own features allow when order and partial knowledge are taken away: every article's
    channels weighted with IDF from the whole set, pairwise scores with the year conflict, then agglomerative
    clustering with all articles at once. The cut is tuned on topics 1-20 and applied to 21-35 (and to all)."""
    import math

    import numpy as np

    arts = articles(docs, 0)
    feats = [features(a, config.title_weight) for a in arts]
    gold = [{d["id"]: d["event"] for d in docs}[a.article_id] for a in arts]
    topic = [int(a.article_id.split("_")[0]) for a in arts]
    n = len(arts)
    score = np.zeros((n, n))
    rare = np.zeros((n, n))  # words both articles hold that at most 3 articles of the whole set hold
    tops: dict[str, list[str | None]] = {}
    for ch, weight in config.weights:
        df = Counter(t for f in feats for t in f[ch])
        vocab = {t: i for i, t in enumerate(df)}
        x = np.zeros((n, len(vocab)))
        for i, f in enumerate(feats):
            for t, c in f[ch].items():
                x[i, vocab[t]] = (1.0 + math.log(c)) * math.log((n + 1) / df[t])
        if ch == "w":
            has_rare = (x > 0)[:, [df[t] <= 3 for t in vocab]].astype(float)
            rare = has_rare @ has_rare.T
        norms = np.linalg.norm(x, axis=1)
        x = x / np.where(norms == 0, 1.0, norms)[:, None]
        score += weight * (x @ x.T)
        tops[ch] = [_heaviest(f[ch]) for f in feats]
    for ch, penalty in config.conflicts:
        for i in range(n):
            for j in range(n):
                ti, tj = tops[ch][i], tops[ch][j]
                if ti and tj and ti not in feats[j][ch] and tj not in feats[i][ch]:
                    score[i, j] -= penalty
    for bonus in (0.0, 0.05, 0.1):
        # Hindsight evidence: a shared word that turns out rare (df 2-3 once every article is in) marks one event.
        # A stream cannot know which words will stay rare: the settler counts them again at each settle.
        _ceiling_rows(score + bonus * np.minimum(rare, 1.0), gold, topic, "" if not bonus else
                      f" + {bonus} for a shared word in <= 3 articles")


def _ceiling_rows(score: Any, gold: list[str], topic: list[int], label: str) -> None:
    import numpy as np
    from sklearn.cluster import AgglomerativeClustering

    n = len(gold)
    distance = np.clip(1.0 - score, 0.0, None)
    np.fill_diagonal(distance, 0.0)

    def cluster(idx: list[int], linkage: str, cut: float) -> tuple[float, float, float]:
        labels = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage=linkage,
                                         distance_threshold=cut).fit_predict(distance[np.ix_(idx, idx)])
        return bcubed([gold[i] for i in idx], [str(v) for v in labels])

    dev = [i for i in range(n) if topic[i] <= 20]
    held = [i for i in range(n) if topic[i] > 20]
    cuts = [round(0.70 + 0.01 * k, 2) for k in range(30)]
    for linkage in ("average", "complete"):
        cut = max(cuts, key=lambda c: cluster(dev, linkage, c)[2])
        best_all = max(cuts, key=lambda c: cluster(list(range(n)), linkage, c)[2])
        d, h, a = cluster(dev, linkage, cut), cluster(held, linkage, cut), cluster(list(range(n)), linkage, cut)
        print(f"ceiling{label} {linkage}-link batch, cut {cut} tuned on 1-20: 1-20 F1={d[2]:.4f}  21-35 P={h[0]:.4f} "
              f"R={h[1]:.4f} F1={h[2]:.4f}  all F1={a[2]:.4f}  (best cut on all {best_all}: "
              f"F1={cluster(list(range(n)), linkage, best_all)[2]:.4f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", default="all", help="'all' or ranges such as 1-20 or 21-35")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--baseline-threshold", type=float, default=0.85,
                    help="cosine distance cut for the batch baseline (tuned on topics 1-20)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--throughput", default="500,5000",
                    help="live events before the throughput runs, comma-separated; 0 skips them")
    ap.add_argument("--threshold", type=float, help="join threshold instead of the shipped one")
    ap.add_argument("--merge-threshold", type=float, help="event-merge threshold instead of the shipped one")
    ap.add_argument("--settle-cut", type=float, help="settle cut instead of the shipped one")
    ap.add_argument("--settle-every", type=int, help="articles between settles (0: no settling)")
    ap.add_argument("--dev", action="store_true", help="only the disputes-dev set (dates as given and removed)")
    ap.add_argument("--no-dev", action="store_true", help="skip the disputes-dev set")
    ap.add_argument("--feature-ceiling", action="store_true",
                    help="only cluster the same features in batch (whole-set IDF, all topics) and exit")
    args = ap.parse_args()
    if args.feature_ceiling:
        feature_ceiling(load(ECB, None), ClusterConfig())
        return
    cfg = ClusterConfig()
    if args.threshold is not None:
        cfg = dataclasses.replace(cfg, threshold=args.threshold)
    if args.merge_threshold is not None:
        cfg = dataclasses.replace(cfg, merge_threshold=args.merge_threshold)
    if args.settle_cut is not None:
        cfg = dataclasses.replace(cfg, settle_cut=args.settle_cut)
    if args.settle_every is not None:
        cfg = dataclasses.replace(cfg, settle_every=args.settle_every)
    if not args.no_dev:
        dev_report(cfg)
        if args.dev:
            return
    docs = load(ECB, parse_topics(args.topics))
    print(f"ECB+ dev topics={args.topics} docs={len(docs)} gold_events={len({d['event'] for d in docs})}")
    print(f"config {cfg}")
    from sklearn.metrics import adjusted_rand_score

    rows = []
    for seed in range(args.seeds):
        gold, pred, arrival, moved = run_online(docs, seed, cfg)
        topic = [int(g.split("_")[0]) if "_" in g else 0 for g in gold]
        p, r, f = bcubed(gold, pred)
        ari = adjusted_rand_score(gold, pred)
        first = bcubed(gold, arrival)[2]
        # The same stream scored on the tuning topics and on the held-out ones (a stream of one half alone would
        # be another stream: fewer articles, other document frequencies).
        halves = [bcubed([g for g, t in zip(gold, topic, strict=True) if sel(t)],
                         [x for x, t in zip(pred, topic, strict=True) if sel(t)])[2]
                  if any(sel(t) for t in topic) else float("nan")
                  for sel in (lambda t: t <= 20, lambda t: t > 20)]
        rows.append((p, r, f, ari, first, *halves))
        print(f"online seed={seed} B3 P={p:.4f} R={r:.4f} F1={f:.4f} ARI={ari:.4f} events={len(set(pred))} "
              f"moved={moved} (at arrival F1={first:.4f}; topics 1-20 F1={halves[0]:.4f}, 21-35 F1={halves[1]:.4f})")
    mean = [sum(col) / len(rows) for col in zip(*rows, strict=True)]
    print(f"online mean over {len(rows)} seeds: B3 P={mean[0]:.4f} R={mean[1]:.4f} F1={mean[2]:.4f} "
          f"ARI={mean[3]:.4f} (min F1={min(r[2] for r in rows):.4f}); at arrival, before later settles: "
          f"F1={mean[4]:.4f}; topics 1-20 F1={mean[5]:.4f}, 21-35 F1={mean[6]:.4f} (target: mean F1 >= 0.92)")
    if not args.no_baseline:
        gold = [d["event"] for d in docs]
        pred = baseline(docs, args.baseline_threshold)
        p, r, f = bcubed(gold, pred)
        print(f"baseline tfidf average-link batch (distance<{args.baseline_threshold}): B3 P={p:.4f} R={r:.4f} "
              f"F1={f:.4f} ARI={adjusted_rand_score(gold, pred):.4f} events={len(set(pred))}")
    runs = [int(x) for x in str(args.throughput).split(",") if int(x)]
    if runs:
        found = throughput(runs, 400, cfg)
        for t in found:
            print(f"throughput: {t['rate']:.0f} articles/s ({t['cpu_rate']:.0f} per CPU second) on one core with "
                  f"{t['live']:.0f} live events in the store (JSON-valued store); {t['writes']:.1f} store writes and "
                  f"{t['kib']:.1f} KiB per article")
        side = "  |  ".join(f"{t['live']:,.0f} live events: {t['rate']:.0f}/s ({t['cpu_rate']:.0f}/CPU s)"
                            for t in found)
        ratio = found[0]["cpu_rate"] / found[-1]["cpu_rate"] if len(found) > 1 else 1.0
        print(f"throughput side by side: {side}  |  first/last per CPU s {ratio:.2f} (target: flat, about 1.0)")


if __name__ == "__main__":
    main()
