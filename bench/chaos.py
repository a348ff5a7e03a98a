"""Chaos bench: real articles through the whole pipeline while the worker, Elasticsearch and the broker fail, then
what reached Elasticsearch against ``analyze`` on the same input, and which of the worker's retries and checks fired.

    .venv/bin/python bench/chaos.py [--seed N] [--quick] [--keep-log PATH]

Starts a Kafka broker and an Elasticsearch node of its own through ``newsrift/cli/services.py`` (a home under /tmp and
free ports, topics ``chaos.*``, indices ``chaos-*``), so it clashes with no other run on the machine, and removes
both and the home at the end, also on Ctrl-C or an error. It publishes the 64 articles of
``../shared/data/disputes-dev/articles.jsonl`` to the raw topic in four waves, as the connectors do, and runs
``newsrift worker`` as a subprocess. Between the waves it SIGKILLs the worker (its whole process group, spaCy
process included) at random moments and starts it again, stops Elasticsearch for a minute and starts it again, and
restarts the broker. Then it waits until every stage's lag is 0 and the indices have stopped changing, and prints,
one figure a line: lost, duplicated and extra documents per kind (articles and claims by id, events by the set of
articles they hold, disputes by kind, topic and the claims of their sides) against ``analyze_file`` over the same
raw articles, and how often the worker logged each ``event=`` of the offset order check and the retries.

``--quick``: two worker kills, Elasticsearch down for 20 s, shorter waits. ``--seed`` picks the fault moments.
Events and disputes depend on the order articles reach the event stage, which differs between the worker (three raw
partitions) and ``analyze`` (arrival order), so their figures are not all fault damage: ``--no-faults`` runs the
same waves without any fault, for that baseline, and ``events.fingerprint`` / ``disputes.fingerprint`` (the article
groups and the disputes in Elasticsearch, hashed) tell whether a run with faults ended where the baseline did.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsrift.cli import services  # noqa: E402
from newsrift.cli.demo import start_worker  # noqa: E402
from newsrift.messages import RawArticleMessage, encode  # noqa: E402
from newsrift.model import RawArticle, parse_time  # noqa: E402
from newsrift.runtime.analyze import analyze_file  # noqa: E402
from newsrift.settings import REPO_ROOT, Settings  # noqa: E402
from newsrift.stages.index.core import IndexNames  # noqa: E402
from newsrift.topics import RAW_ARTICLES, ensure_topics, readers  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "disputes-dev" / "articles.jsonl"
KINDS = ("articles", "claims", "events", "disputes")
OFFSET_EVENTS = ("offset_hole", "offset_hole_filled", "offset_hole_lost", "offset_hole_unfilled",
                 "offset_hole_check_failed")
"""Every ``event=`` the stages' offset order check (newsrift/runtime/commits.py) logs; printed even when 0."""
OTHER_REPAIRS = ("bulk_retry", "bulk_partial_retry", "bulk_split", "index_setup_retry", "index_commit_skipped",
                 "dead_lettered", "nlp_process_died", "log_lines_held")
"""The indexer's and the stages' own retries and give-ups; printed even when 0."""


def say(msg: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_settings(home: Path) -> Settings:
    kp, cp, ep, tp, wp = (free_port() for _ in range(5))
    return Settings(
        home=home, kafka_port=kp, kafka_controller_port=cp, kafka_bootstrap=f"127.0.0.1:{kp}",
        es_port=ep, es_transport_port=tp, es_url=f"http://127.0.0.1:{ep}", es_heap="768m", web_port=wp,
        topic_prefix="chaos.", index_prefix="chaos", app_id="chaos", watchlist=home / "watchlists.json",
    )


def seed_dists(settings: Settings) -> None:
    """The broker jars and the Elasticsearch distribution from the checkout's own home when it has them (else the
    services fetch them through Maven). Elasticsearch writes its config into its distribution: copied, not linked."""
    src = REPO_ROOT / ".newsrift" / "dist"
    dst = settings.home / "dist"
    dst.mkdir(parents=True, exist_ok=True)
    kafka = services.Kafka(settings)
    if (src / kafka.dist.name / ".complete").exists():
        (dst / kafka.dist.name).symlink_to(src / kafka.dist.name)
    es = services.Elasticsearch(settings)
    if (src / es.dist.name / ".complete").exists():
        shutil.copytree(src / es.dist.name, dst / es.dist.name, symlinks=True)


def raw_articles() -> list[RawArticle]:
    """The dev articles as a connector would publish them; a fixed fetch time, so that the worker and ``analyze``
    normalise them alike."""
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    out = []
    for i, line in enumerate(DEV.read_text().splitlines()):
        if not line.strip():
            continue
        d = json.loads(line)
        text = d["text"]
        out.append(RawArticle(
            article_id=d["id"], outlet_id=str(d.get("outlet") or "unknown"), url=str(d.get("url") or ""),
            title=str(d.get("title") or ""), content=text, language=d.get("lang"),
            published=parse_time(d.get("published")), fetched_at=base + timedelta(minutes=i)))
    return out


class Chaos:
    def __init__(self, settings: Settings, rng: random.Random, log_path: Path) -> None:
        self.s = settings
        self.rng = rng
        self.log_path = log_path
        self.worker: subprocess.Popen[bytes] | None = None
        self.faults: Counter[str] = Counter()
        self.es_down_seconds = 0.0
        self.worker_started = 0.0

    # --- worker
    def start_worker(self) -> None:
        self.worker = start_worker(self.s, self.log_path)
        self.worker_started = time.monotonic()
        say(f"worker started (pid {self.worker.pid})")

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since_start(self, offset: int = 0) -> list[str]:
        """The current worker's lines of the log (from byte ``offset`` on)."""
        if self.worker is None:
            return []
        tag = f"] [{self.worker.pid}] ["
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(offset)
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [ln for ln in text.splitlines() if tag in ln]

    def wait_log(self, pattern: str, timeout: float, offset: int = 0) -> bool:
        """Until the current worker logs a line matching ``pattern`` (past byte ``offset`` of the log)."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            self.ensure_worker()
            if any(rx.search(ln) for ln in self.log_since_start(offset)):
                return True
            time.sleep(0.2)
        return False

    def wait_ready(self, timeout: float) -> None:
        """Until the current worker joined its group and recovered its tables (Faust's "Worker ready"); a worker
        started right after a SIGKILL waits there for the dead member's session to expire."""
        t0 = time.monotonic()
        ok = self.wait_log(r"Worker ready", timeout)
        say(f"worker ready after {time.monotonic() - t0:.0f}s" if ok else "worker not ready in time")

    def kill_while_busy(self, lo: float, hi: float, mark: int, timeout: float = 240) -> None:
        """SIGKILL the worker a random ``lo``..``hi`` seconds after it handled a message past byte ``mark`` of the
        log, then start it again: the kill lands while messages are in flight between the stages."""
        busy = self.wait_log(r"event=(articles_analysed|article_placed|indexed|dispute_change)", timeout, mark)
        self.pause(lo, hi)
        self.kill_worker(" while processing" if busy else " (it had processed nothing yet)")
        self.pause(1, 4)
        self.start_worker()

    def kill_worker(self, why: str = "") -> None:
        assert self.worker is not None
        if self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(10)
            self.faults["worker_sigkill"] += 1
            say(f"worker SIGKILLed (pid {self.worker.pid}){why}")
        else:
            self.faults["worker_exited_by_itself"] += 1
            say(f"worker had already exited with {self.worker.returncode}")

    def stop_worker(self) -> None:
        w, self.worker = self.worker, None
        if w is None or w.poll() is not None:
            return
        os.killpg(w.pid, signal.SIGTERM)
        try:
            w.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait(10)

    def ensure_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is not None:
            self.faults["worker_exited_by_itself"] += 1
            say(f"worker exited by itself with {self.worker.returncode}; starting it again")
            self.start_worker()

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.s.web_port}/health", timeout=3) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            try:
                return json.loads(e.read())
            except ValueError:
                return None
        except (OSError, ValueError):
            return None

    # --- services
    def es_outage(self, seconds: float, during: Any = None) -> None:
        es = services.Elasticsearch(self.s)
        t0 = time.monotonic()
        es.down()
        say("elasticsearch stopped")
        self.faults["es_stop"] += 1
        if during is not None:
            time.sleep(min(5.0, seconds / 2))
            during()
        time.sleep(max(0.0, seconds - (time.monotonic() - t0)))
        es.up()
        self.es_down_seconds += time.monotonic() - t0
        say(f"elasticsearch back after {time.monotonic() - t0:.0f}s")

    def broker_restart(self) -> None:
        kafka = services.Kafka(self.s)
        t0 = time.monotonic()
        kafka.down()
        self.faults["broker_restart"] += 1
        say("kafka stopped")
        kafka.up()
        say(f"kafka back after {time.monotonic() - t0:.0f}s")

    def pause(self, lo: float, hi: float) -> None:
        time.sleep(self.rng.uniform(lo, hi))


def publish(settings: Settings, arts: list[RawArticle]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
                             linger_ms=20)
    try:
        for raw in arts:
            producer.send(settings.topic(RAW_ARTICLES), key=raw.article_id.encode(),
                          value=encode(RawArticleMessage(raw)))
        producer.flush(60)
    finally:
        producer.close(10)
    say(f"published {len(arts)} raw articles")


def es_docs(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(settings.es_url, request_timeout=30)
    names = IndexNames(settings.index_prefix)
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        for kind in KINDS:
            es.indices.refresh(index=names.alias(kind), ignore_unavailable=True)
            hits = es.search(index=names.alias(kind), size=10000, query={"match_all": {}},
                             ignore_unavailable=True)["hits"]["hits"]
            out[kind] = [{"_id": h["_id"], **h["_source"]} for h in hits]
    finally:
        es.close()
    return out


def es_counts(settings: Settings) -> tuple[int, ...] | None:
    try:
        docs = es_docs(settings)
    except Exception:
        return None
    return (*(len(docs[k]) for k in KINDS), sum(1 for a in docs["articles"] if a.get("event_id")))


def lag_now(settings: Settings) -> dict[str, int] | None:
    from newsrift.runtime.lag import topic_lag

    waiting = {key for key, _, _, waits in readers(settings) if waits}
    try:
        return {t: n or 0 for t, n in topic_lag(settings, bootstrap_timeout_ms=5000).items() if t not in waiting}
    except Exception:
        return None


def wait_idle(chaos: Chaos, quiet: float, timeout: float) -> tuple[bool, dict[str, int] | None]:
    """Until every stage's lag is 0, the document counts have not changed and the current worker has been ready
    for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last: tuple[int, ...] | None = None
    since = time.monotonic()
    lag: dict[str, int] | None = None
    while time.monotonic() < deadline:
        chaos.ensure_worker()
        lag = lag_now(chaos.s)
        counts = es_counts(chaos.s)
        ready = any("Worker ready" in ln for ln in chaos.log_since_start())
        if lag is None or counts is None or sum(lag.values()) > 0 or counts != last or not ready:
            last, since = counts, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return True, lag
        time.sleep(5)
    return False, lag


# ------------------------------------------------------------------------------------------------- comparison


def expected_docs(arts: list[RawArticle], workdir: Path) -> dict[str, list[dict[str, Any]]]:
    infile, out = workdir / "raw.jsonl", workdir / "analyze.jsonl"
    infile.write_text("".join(json.dumps(a.to_json(), ensure_ascii=False) + "\n" for a in arts))
    analyze_file(infile, out)
    by: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for line in out.read_text().splitlines():
        d = json.loads(line)
        by[d["type"] + "s"].append(d)
    return by


def compare(kind: str, want: list[Any], got: list[Any]) -> dict[str, int]:
    """Keys in ``want`` missing from ``got`` (lost), keys in ``got`` more than once (the copies: duplicated), keys
    in ``got`` not wanted (extra)."""
    w, g = Counter(want), Counter(got)
    return {"expected": len(want), "found": len(got), "lost": sum(1 for k in w if k not in g),
            "duplicated": sum(n - 1 for n in g.values() if n > 1), "extra": sum(1 for k in g if k not in w)}


def figures(want: dict[str, list[dict[str, Any]]], got: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["articles"] = compare("articles", [a["id"] for a in want["articles"]], [a["_id"] for a in got["articles"]])
    out["articles"]["unplaced"] = sum(1 for a in got["articles"] if not a.get("event_id"))
    # Claims by id; and by where they point, for a copy of a claim under another id.
    out["claims"] = compare("claims", [c["id"] for c in want["claims"]], [c["_id"] for c in got["claims"]])
    out["claims"]["same_span_copies"] = sum(
        n - 1 for n in Counter((c.get("article_id"), c.get("start"), c.get("end")) for c in got["claims"]).values()
        if n > 1)
    # Events by the articles they hold (ids are made in arrival order, which the worker does not share).
    live = [e for e in got["events"] if not e.get("merged_into")]
    out["events"] = compare("events", [frozenset(e["article_ids"]) for e in want["events"]],
                            [frozenset(e.get("article_ids") or ()) for e in live])
    out["events"]["merged_docs"] = len(got["events"]) - len(live)
    # And the grouping the article documents carry.
    groups: dict[str, set[str]] = {}
    for a in got["articles"]:
        if a.get("event_id"):
            groups.setdefault(a["event_id"], set()).add(a["_id"])
    want_groups: dict[str, set[str]] = {}
    for a in want["articles"]:
        want_groups.setdefault(a["event_id"], set()).add(a["id"])
    grouping = compare("", [frozenset(v) for v in want_groups.values()], [frozenset(v) for v in groups.values()])
    out["events"]["article_groups_differing"] = grouping["lost"]

    def dkey(d: dict[str, Any]) -> tuple[Any, ...]:
        return (d.get("kind"), d.get("topic"), frozenset(s.get("claim_id") for s in d.get("sides") or ()))

    out["disputes"] = compare("disputes", [dkey(d) for d in want["disputes"]], [dkey(d) for d in got["disputes"]])
    # What Elasticsearch holds, in a few characters: equal between two runs when both hold the same article groups,
    # events and disputes (so a run with faults can be told from the fault-free baseline, ``--no-faults``).
    out["events"]["fingerprint"] = fingerprint([sorted(v) for v in groups.values()])
    out["disputes"]["fingerprint"] = fingerprint([[k[0], k[1], sorted(k[2])] for k in map(dkey, got["disputes"])])
    return out


def fingerprint(items: list[Any]) -> str:
    return hashlib.sha1(json.dumps(sorted(items, key=json.dumps)).encode()).hexdigest()[:12]


def log_events(path: Path) -> tuple[Counter[str], int]:
    events: Counter[str] = Counter()
    errors = 0
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return events, errors
    for line in text.splitlines():
        m = re.search(r"event=(\w+)", line)
        if m:
            events[m.group(1)] += 1
        if "Traceback" in line:
            errors += 1
    return events, errors


# ------------------------------------------------------------------------------------------------------- main


def run(args: argparse.Namespace, home: Path) -> None:
    rng = random.Random(args.seed)
    settings = make_settings(home)
    arts = raw_articles()
    waves = [arts[i::4] for i in range(4)]  # four waves, each a spread of the file
    log_path = home / "logs" / "worker.log"
    chaos = Chaos(settings, rng, log_path)
    say(f"home {home}, kafka {settings.kafka_bootstrap}, es {settings.es_url}, web {settings.web_port}, "
        f"seed {args.seed}, {'quick' if args.quick else 'full'}{', no faults' if args.no_faults else ''}")
    seed_dists(settings)
    t_start = time.monotonic()
    try:
        services.up(settings)
        say("kafka and elasticsearch up")
        ensure_topics(settings)
        chaos.start_worker()
        chaos.wait_ready(240)
        es_seconds = 20.0 if args.quick else 60.0
        faults = not args.no_faults

        # 1. a kill while the first wave is in flight
        mark = chaos.log_size()
        publish(settings, waves[0])
        if faults:
            chaos.kill_while_busy(0, 3, mark)
        # 2. the next wave lands while the new worker waits for its group; Elasticsearch stops while the worker
        #    catches up, and the third wave comes during the outage
        publish(settings, waves[1])
        chaos.wait_ready(240)
        if faults:
            chaos.wait_log(r"event=(articles_analysed|article_placed)", 120)
            chaos.pause(0, 3)
            chaos.es_outage(es_seconds, during=lambda: publish(settings, waves[2]))
            # 3. the broker restarts while the indexer sends what it kept through the outage
            chaos.pause(0, 5)
            chaos.broker_restart()
        else:
            publish(settings, waves[2])
        # 4. a kill while the last wave is in flight
        mark = chaos.log_size()
        publish(settings, waves[3])
        if faults:
            chaos.kill_while_busy(0, 3, mark)
        if faults and not args.quick:
            # 5. a kill in the catch-up after a restart
            mark = chaos.log_size()
            chaos.wait_ready(240)
            chaos.kill_while_busy(0, 2, mark, timeout=30)
        say("faults done; waiting for the pipeline to go idle")
        idle, lag = wait_idle(chaos, quiet=45 if args.quick else 90, timeout=420 if args.quick else 900)
        health = chaos.health()
        t_idle = time.monotonic() - t_start
        want = expected_docs(arts, home)
        got = es_docs(settings)
    finally:
        chaos.stop_worker()
        if args.keep_log:
            try:
                shutil.copyfile(log_path, args.keep_log)
            except OSError:
                pass

    figs = figures(want, got)
    events, tracebacks = log_events(log_path)
    print(f"seed={args.seed}")
    print(f"mode={'quick' if args.quick else 'full'}{'-no-faults' if args.no_faults else ''}")
    print(f"raw_articles_published={len(arts)}")
    for name in ("worker_sigkill", "worker_exited_by_itself", "es_stop", "broker_restart"):
        print(f"fault.{name}={chaos.faults[name]}")
    print(f"fault.es_down_seconds={chaos.es_down_seconds:.0f}")
    print(f"idle_reached={idle}")
    print(f"seconds_to_idle={t_idle:.0f}")
    print(f"final_lag={sum((lag or {}).values()) if lag is not None else 'unknown'}")
    for kind in KINDS:
        for name, value in figs[kind].items():
            print(f"{kind}.{name}={value}")
    for name in OFFSET_EVENTS:
        print(f"log.{name}={events[name]}")
    for name in OTHER_REPAIRS:
        print(f"log.{name}={events[name]}")
    for name, n in sorted(events.items()):
        if name not in OFFSET_EVENTS and name not in OTHER_REPAIRS:
            print(f"log.other.{name}={n}")
    print(f"log.tracebacks={tracebacks}")
    holes = (health or {}).get("offset_holes")
    print(f"health.offset_holes_last_worker={json.dumps(holes, sort_keys=True) if holes is not None else 'none'}")
    if lag:
        print(f"final_lag_by_topic={json.dumps({t: n for t, n in lag.items() if n}, sort_keys=True)}")
    for kind in ("articles", "claims"):
        lost = sorted({a["id"] for a in want[kind]} - {a["_id"] for a in got[kind]})
        if lost:
            print(f"{kind}.lost_ids={' '.join(lost[:40])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="two worker kills, a 20 s Elasticsearch outage, shorter waits")
    ap.add_argument("--no-faults", action="store_true", help="the same waves without faults: the ordering baseline")
    ap.add_argument("--keep-log", type=Path, help="copy the worker's log here before the home is removed")
    args = ap.parse_args()
    if not DEV.exists():
        raise SystemExit(f"no {DEV}")

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    home = Path(tempfile.mkdtemp(prefix="chaos-home-", dir="/tmp"))
    os.chmod(home, 0o755)  # Elasticsearch runs as an unprivileged user when started as root
    settings_for_cleanup: Settings | None = None
    try:
        settings_for_cleanup = Settings(home=home)
        run(args, home)
    except KeyboardInterrupt:
        say("interrupted; cleaning up")
        raise SystemExit(130) from None
    finally:
        # ``down`` stops exactly the pids recorded under this home; the ports do not matter for that.
        if settings_for_cleanup is not None:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                services.down(settings_for_cleanup, purge=True)
            except Exception as e:
                say(f"stopping the services failed: {e}")
        shutil.rmtree(home, ignore_errors=True)
        say("services stopped, home removed")


if __name__ == "__main__":
    main()
