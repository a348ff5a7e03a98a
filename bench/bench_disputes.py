"""Dispute-stage latency and throughput: N synthetic claims over E events through ``DisputeDetector.update``.

    .venv/bin/python bench/bench_disputes.py [--claims 10000] [--events 500] [--seed 7] [--json-state]

Latency is claim arrival -> changes returned, per claim, including reading and writing the event's state.
``--json-state`` also encodes the event state to JSON and back around every update (``EventDisputes`` codec and
``json``), as the streaming stage does with its Faust table (the realistic streaming cost). Claims of all events
are interleaved in time order.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsrift.model import Claim, Quantity  # noqa: E402
from newsrift.stages.disputes import DisputeDetector, EventDisputes  # noqa: E402

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)
SPEAKERS = [
    "police",
    "health ministry",
    "Red Cross",
    "army spokesman",
    "witnesses",
    "state media",
    "UN",
    "local officials",
    "rebel commander",
    "hospital director",
    "interior ministry",
    "activists",
]
PLACES = ["Aleppo", "Idlib", "Khasham", "Gaza", "Kharkiv", "Mogadishu", "Derna", "Kabul"]
ACTORS = ["Russian forces", "Ukrainian forces", "government forces", "rebels", "Israel", "Hamas", "coalition"]
COUNTED = ["killed", "wounded", "casualties", "people", "troops"]


def synth(n_claims: int, n_events: int, seed: int) -> list[Claim]:
    rnd = random.Random(seed)
    out: list[Claim] = []
    for i in range(n_claims):
        ev = rnd.randrange(n_events)
        place = PLACES[ev % len(PLACES)]
        speaker = rnd.choice(SPEAKERS)
        t = T0 + timedelta(minutes=i)
        kind = rnd.random()
        common: dict[str, Any] = {
            "claim_id": f"c{i}",
            "article_id": f"a{i // 3}",
            "outlet_id": f"o{rnd.randrange(40)}",
            "speaker": speaker,
            "speaker_type": "organisation",
            "cue": "said",
            "start": 0,
            "event_id": f"ev{ev}",
            "published": t,
            "places": (place,),
        }
        if kind < 0.5:
            base = 10 + ev % 90
            value = base if rnd.random() < 0.7 else base * rnd.choice([3, 5, 10])
            approx = rnd.choice(["exact", "about", "over", "at_least"])
            counted = rnd.choice(COUNTED)
            text = f"{value} {counted}"
            c = Claim(
                **common,
                text=text,
                end=len(text),
                action="kill",
                quantities=(Quantity(text, value, None, approx, counted),),
            )
        else:
            agent = ACTORS[(ev + (rnd.random() < 0.2)) % len(ACTORS)]
            pol = rnd.choices(["asserts", "denies", "no_knowledge"], [0.7, 0.2, 0.1])[0]
            text = f"{agent} struck {place}"
            c = Claim(
                **common,
                text=text,
                end=len(text),
                polarity=pol,  # type: ignore[arg-type]
                action=rnd.choice(["strike", "hit", "shell"]),
                actors=(agent, f"{place} market"),
            )
        out.append(c)
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def run(claims: list[Claim], json_state: bool) -> dict[str, Any]:
    det = DisputeDetector()
    table: dict[str, Any] = {}
    lat: list[float] = []
    counts: dict[str, int] = {}
    start = time.perf_counter()
    for c in claims:
        assert c.published is not None and c.event_id is not None
        t0 = time.perf_counter()
        raw = table.get(c.event_id)
        if raw is None:
            state = EventDisputes()
        else:
            state = EventDisputes.from_json(json.loads(raw)) if json_state else raw
        changes = det.update(state, c, c.published)
        table[c.event_id] = json.dumps(state.to_json()) if json_state else state
        lat.append(time.perf_counter() - t0)
        for ch in changes:
            counts[ch.change] = counts.get(ch.change, 0) + 1
    wall = time.perf_counter() - start
    return {
        "claims": len(claims),
        "events": len(table),
        "json_state": json_state,
        "p50_ms": pct(lat, 50) * 1e3,
        "p95_ms": pct(lat, 95) * 1e3,
        "p99_ms": pct(lat, 99) * 1e3,
        "max_ms": max(lat) * 1e3,
        "mean_ms": statistics.fmean(lat) * 1e3,
        "claims_per_s": len(claims) / wall,
        "changes": counts,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json-state", action="store_true")
    args = ap.parse_args(argv)
    claims = synth(args.claims, args.events, args.seed)
    r = run(claims, args.json_state)
    print(f"claims={r['claims']} events={r['events']} json_state={r['json_state']}")
    print(
        f"latency ms: p50={r['p50_ms']:.3f} p95={r['p95_ms']:.3f} p99={r['p99_ms']:.3f} max={r['max_ms']:.3f} "
        f"mean={r['mean_ms']:.3f}"
    )
    print(f"throughput: {r['claims_per_s']:.0f} claims/s")
    print(f"changes: {json.dumps(r['changes'], sort_keys=True)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
