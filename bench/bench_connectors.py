"""Connector benchmark: parse-and-normalise rate on the real feed snapshots, and a polling run over many local feeds.

    .venv/bin/python bench/bench_connectors.py [--feeds 1000] [--items 10] [--passes 3] [--concurrency 32]

The feed server runs in a child process (so its CPU is not counted as the poller's), on 127.0.0.1 with ETags: the
first pass gets 200s, the second 304s, and from the third on a tenth of the feeds has one new item (the mostly-304
steady state). Every feed is on one host here, so the per-host limit is raised to the
global cap for the run (with real outlets each host gets the default of 2).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsrift.connectors.items import entry_to_raw, item_hash, parse_feed  # noqa: E402
from newsrift.connectors.poller import PollConfig, Summary, poll_once  # noqa: E402
from newsrift.connectors.registry import Feed  # noqa: E402
from newsrift.connectors.sinks import JsonlSink  # noqa: E402
from newsrift.connectors.state import StateStore  # noqa: E402

SERVER = r'''
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
items = int(sys.argv[1])

gen = 0  # bumped by GET /bump: every tenth feed then has one more item and a new ETag

def extra(i):
    return 1 if gen and i % 10 == 0 else 0

def feed(i):
    body = "".join(f"<item><title>Story {i}-{k}</title><link>https://outlet{i}.example/news/{k}?utm_source=rss</link>"
                   f"<guid>g-{i}-{k}</guid><pubDate>Tue, 13 Feb 2018 09:{k % 60:02d}:00 +0300</pubDate>"
                   f"<description>Body of story {k} from outlet {i}, long enough to look like a summary.</description>"
                   "</item>" for k in range(items + extra(i)))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Outlet {i}</title>'
            f'<link>https://outlet{i}.example/</link>{body}</channel></rss>').encode()

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        global gen
        if self.path == "/bump":
            gen += 1
            self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers(); return
        i = int(self.path.rsplit("/", 1)[1])
        etag = f'"f{i}-{extra(i)}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304); self.send_header("ETag", etag); self.send_header("Content-Length", "0")
            self.end_headers(); return
        b = feed(i)
        self.send_response(200); self.send_header("ETag", etag); self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass

ThreadingHTTPServer.request_queue_size = 1024
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print(s.server_address[1], flush=True)
s.serve_forever()
'''


def bench_parse(reps: int) -> None:
    files = sorted((ROOT / "tests" / "fixtures" / "feeds").glob("*.[ra][st][so]*")) + \
        sorted((ROOT / "seeds" / "feeds").glob("*.xml"))
    blobs = [(f.name, f.read_bytes()) for f in files]
    now = datetime.now(timezone.utc)
    items = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(reps):
        for name, data in blobs:
            parsed = parse_feed(data, f"https://feeds.example/{name}")
            link = parsed.feed.get("link")
            for e in parsed.entries:
                raw = entry_to_raw(e, feed_url=name, feed_link=link, outlet_id="o", language=None, now=now)
                if raw is not None:
                    item_hash(raw)
                    items += 1
    wall = time.perf_counter() - t0
    print(f"parse+normalise: {len(blobs)} files x {reps} reps = {items} items in {wall:.2f}s wall "
          f"({time.process_time() - c0:.2f}s CPU): {items / wall:,.0f} items/s")


def bench_poll(n_feeds: int, n_items: int, passes: int, concurrency: int) -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(n_items)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        os.environ["NEWSRIFT_ALLOW_PRIVATE_NETWORKS"] = "1"
        feeds = [Feed(f"http://127.0.0.1:{port}/feed/{i}", f"outlet{i}") for i in range(n_feeds)]
        cfg = PollConfig(concurrency=concurrency, per_host=concurrency, per_host_interval=0.0)
        with tempfile.TemporaryDirectory() as tmp:
            store = StateStore(Path(tmp) / "state")
            sink = JsonlSink(Path(tmp) / "out.jsonl")
            try:
                for p in range(passes):
                    if p == 2:  # from the third pass on, a tenth of the feeds has one new item
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/bump", timeout=5).close()
                    t0, c0 = time.perf_counter(), time.process_time()
                    s: Summary = asyncio.run(poll_once(feeds, store, sink, cfg))
                    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                    print(f"poll pass {p + 1}: {n_feeds} feeds in {wall:.2f}s wall, {cpu:.2f}s CPU, "
                          f"{n_feeds / wall:,.0f} requests/s, peak RSS {rss:.0f} MB :: {s.line()}")
                    if s.errors:
                        print(f"  first error: {s.errors[0]}")
            finally:
                sink.close()
    finally:
        server.terminate()
        server.wait(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=10, help="items per local feed")
    ap.add_argument("--passes", type=int, default=3,
                    help="pass 1: all 200s; pass 2: all 304s; pass 3+: 90%% 304s, 10%% 200s with one new item")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--parse-reps", type=int, default=200)
    a = ap.parse_args()
    bench_parse(a.parse_reps)
    bench_poll(a.feeds, a.items, a.passes, a.concurrency)


if __name__ == "__main__":
    main()
