"""How separable are the two same-kind events of an ECB+ topic with the clusterer's features? (docs/events.md)

With the gold events as clusters ("oracle" centroids, built online in a shuffled order with the clusterer's own
learnt IDF), each article is compared with its own event and with the other event of its topic. A classifier fit
on topics 1-20 is scored (ROC AUC) on topics 21-35. If even the best weighting of a feature set cannot separate
the pairs, the target needs new evidence rather than new weights.

    .venv/bin/python bench/probe_events.py
    .venv/bin/python bench/probe_events.py --embeddings .newsrift/cache/ecbplus-minilm   # + sentence embeddings

``--embeddings`` adds a dense channel ``e`` (cosine of an article's embedding with the event's summed embeddings)
from the files ``scripts/embed_ecbplus.py`` writes, to the probe and to the online clusterer (a sweep of its weight
and the join threshold over all topics), to measure what embeddings would add before paying for torch.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_events import ECB, T0, load  # noqa: E402

from newsrift.model import Article  # noqa: E402
from newsrift.stages.events.core import ClusterConfig, EventClusterer  # noqa: E402
from newsrift.stages.events.vectoriser import Vectorised, dot, norm, top  # noqa: E402

_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
CHANNELS = ("w", "b", "p", "y", "d")


def _cos(a: dict[str, float] | None, b: dict[str, float] | None) -> float:
    if not a or not b:
        return 0.0
    return dot(a, b) / ((norm(a) or 1.0) * (norm(b) or 1.0))


def load_embeddings(prefix: str) -> dict[str, dict[str, float]]:
    """article id -> embedding as a sparse-style vector ({dimension: value}), from ``scripts/embed_ecbplus.py``."""
    import numpy as np

    emb = np.load(f"{prefix}.npy")
    ids = json.loads(Path(f"{prefix}.ids.json").read_text())
    return {i: {str(k): float(v) for k, v in enumerate(emb[j])} for j, i in enumerate(ids)}


class _WithEmbeddings(EventClusterer):
    """The shipped clusterer plus a dense channel ``e`` (weight and threshold from the config)."""

    embeddings: ClassVar[dict[str, dict[str, float]]] = {}

    def __init__(self, store: dict[str, object], config: ClusterConfig) -> None:
        super().__init__(store, config)
        vectorise = self.vectoriser.vectorise

        def with_embedding(article: Article, n: int) -> Vectorised:
            v = vectorise(article, n)
            return Vectorised({**v.vector, "e": self.embeddings[article.article_id]}, v.rare, v.turned)

        self.vectoriser.vectorise = with_embedding  # type: ignore[method-assign]


def learn(clusterer: EventClusterer, article: Article, n: int) -> dict[str, dict[str, float]]:
    """Article ``n``'s channels, weighted with the document frequencies learnt so far (its own counted first)."""
    v = clusterer.vectoriser.vectorise(article, n)
    if clusterer.vectoriser.fold_due():
        clusterer.vectoriser.fold(n)
    return {ch: dict(terms) for ch, terms in v.vector.items()}


def online_sweep(embeddings: dict[str, dict[str, float]]) -> None:
    from eval_events import articles as stream
    from eval_events import bcubed

    docs = load(ECB, None)
    gold = {d["id"]: d["event"] for d in docs}
    _WithEmbeddings.embeddings = embeddings
    shipped = ClusterConfig()
    grid = [(0.0, shipped.threshold)] + [(e, t) for e in (0.1, 0.2, 0.3) for t in (0.26, 0.3, 0.34, 0.38, 0.42)]
    for weight, threshold in grid:
        cfg = ClusterConfig(weights=(*shipped.weights, ("e", weight)), threshold=threshold)
        scores = []
        for seed in range(5):
            arts = stream(docs, seed)
            c = _WithEmbeddings({}, cfg)
            for a in arts:
                c.assign(a)
            scores.append(bcubed([gold[a.article_id] for a in arts], [c.event_of(a.article_id) or "?" for a in arts]))
        p, r, f = (sum(x[i] for x in scores) / len(scores) for i in range(3))
        print(f"online, all topics, 5 seeds: e weight {weight:.1f} threshold {threshold:.2f}  "
              f"B3 P={p:.3f} R={r:.3f} F1={f:.4f}", flush=True)


def rows(seed: int, embeddings: dict[str, dict[str, float]] | None = None) -> list[tuple[int, bool, dict[str, float]]]:
    docs = load(ECB, None)
    random.Random(seed).shuffle(docs)
    clusterer = EventClusterer({}, ClusterConfig())
    cents: dict[str, dict[str, dict[str, float]]] = {}
    members: dict[str, list[dict[str, dict[str, float]]]] = {}
    out = []
    for i, d in enumerate(docs):
        art = Article(article_id=d["id"], outlet_id="ecb", url="", title=d["title"], text=d["text"],
                      content_hash=d["id"], published=T0 + timedelta(minutes=i))
        vec = learn(clusterer, art, i + 1)
        nums = {n.replace(",", "") for n in _NUMBER.findall(d["title"] + " " + d["text"])} - {str(k) for k in range(13)}
        vec["n"] = dict.fromkeys(nums, 1.0)
        if embeddings is not None:
            vec["e"] = embeddings[d["id"]]
        for ev, cent in cents.items():
            if ev != d["event"] and not ev.startswith(f"{d['topic']}_"):
                continue
            f = {ch: dot(vec[ch], cent[ch]) / (norm(cent[ch]) or 1.0) if vec.get(ch) and cent.get(ch) else 0.0
                 for ch in (*CHANNELS, "n", *(("e",) if embeddings is not None else ()))}
            top_a, top_c = top(vec.get("p", {}), 5), top(cent.get("p", {}), 5)
            f["names_a_in_event"] = sum(t in cent.get("p", {}) for t in top_a) / (len(top_a) or 1)
            f["names_event_in_a"] = sum(t in vec.get("p", {}) for t in top_c) / (len(top_c) or 1)
            f["nearest_w"] = max(_cos(vec.get("w"), m.get("w")) for m in members[ev])
            f["nearest_p"] = max(_cos(vec.get("p"), m.get("p")) for m in members[ev])
            out.append((d["topic"], ev == d["event"], f))
        cent = cents.setdefault(d["event"], {})
        members.setdefault(d["event"], []).append(vec)
        for ch, v in vec.items():
            c = cent.setdefault(ch, {})
            for t, w in v.items():
                c[t] = c.get(t, 0.0) + w
            cent[ch] = top(c, 400)
    return out


def main() -> None:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser()
    ap.add_argument("--embeddings", help="prefix of the files scripts/embed_ecbplus.py wrote")
    args = ap.parse_args()
    embeddings = load_embeddings(args.embeddings) if args.embeddings else None
    data = [r for seed in range(3) for r in rows(seed, embeddings)]
    names = list(data[0][2])
    x = np.array([[f[n] for n in names] for _, _, f in data])
    y = np.array([pos for _, pos, _ in data])
    train = np.array([topic <= 20 for topic, _, _ in data])
    test = ~train
    print(f"pairs: {len(data)} (own event {int(y.sum())}, other event of the topic {int((~y).sum())}); "
          f"train topics 1-20, test 21-35")
    shipped = dict(ClusterConfig().weights)
    score = np.zeros(len(data))
    for n in CHANNELS:
        score += shipped.get(n, 0.0) * x[:, names.index(n)]
    print(f"shipped weights                 AUC {roc_auc_score(y[test], score[test]):.4f}")
    for label, cols in (("w b p y (logistic)", ["w", "b", "p", "y"]),
                        ("w b p y d (logistic)", list(CHANNELS)),
                        ("all features (logistic)", names),
                        *((("w b p y d e (logistic)", [*CHANNELS, "e"]),) if embeddings else ())):
        idx = [names.index(c) for c in cols]
        model = LogisticRegression(C=10, max_iter=2000).fit(x[train][:, idx], y[train])
        print(f"{label:31} AUC {roc_auc_score(y[test], model.decision_function(x[test][:, idx])):.4f}")
    gbm = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05).fit(x[train], y[train])
    print(f"{'all features (boosted trees)':31} AUC {roc_auc_score(y[test], gbm.predict_proba(x[test])[:, 1]):.4f}")
    for n in names:
        print(f"  {n:18} alone AUC {roc_auc_score(y[test], x[test][:, names.index(n)]):.4f}")
    if embeddings is not None:
        online_sweep(embeddings)


if __name__ == "__main__":
    main()
