"""The worker is wired in one place: stage modules are thin, importing them makes nothing, and ``build`` puts every
stage on its topic with its tables."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from newsrift.settings import Settings
from tests.unit.core.streams import FakeStream, event

ROOT = Path(__file__).resolve().parents[3]


def test_every_stage_agent_module_is_at_most_40_lines() -> None:
    agents = sorted((ROOT / "newsrift" / "stages").glob("*/agent.py"))
    assert len(agents) == 5
    long = {p.relative_to(ROOT).as_posix(): n for p in agents if (n := len(p.read_text().splitlines())) > 40}
    assert long == {}


def test_importing_the_worker_makes_no_app_settings_topic_or_table() -> None:
    probe = """
import gc, faust
from newsrift.settings import Settings
import newsrift.runtime.worker, newsrift.runtime.runner, newsrift.runtime.app
import newsrift.runtime.commits, newsrift.runtime.web
for name in ("normalize", "events", "disputes", "alerts", "index"):
    __import__(f"newsrift.stages.{name}.agent")
made = [type(o).__name__ for o in gc.get_objects()
        if isinstance(o, (faust.App, Settings, faust.types.TopicT, faust.types.tables.CollectionT))]
print(made)
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_build_puts_each_stage_on_its_topic_with_its_tables() -> None:
    from newsrift.runtime.worker import build

    settings = Settings(topic_prefix="w.", app_id="wtest")
    rt = build(settings)
    topics = {name: sorted(agent.channel.topics) for name, agent in rt.app.agents.items()}
    assert topics == {
        "analyse_articles": ["w.news.articles.raw.v1"],
        "route_articles": ["w.news.articles.v1"],
        "assign_events": ["w.news.assign.v1"],
        "detect_disputes": ["w.news.claims.v1"],
        "send_alerts": ["w.news.disputes.v1"],
    }
    assert sorted(rt.app.tables) == ["alerts-by-id", "disputes-by-event", "events-store", "reprints-store"]
    assert rt.app.tables["events-store"].partitions == 1
    assert rt.app.conf.id == "wtest"
    # A second worker in the same process is a second app: nothing is shared through module globals.
    other = build(Settings(topic_prefix="v.", app_id="vtest"))
    assert other.app is not rt.app and other.dead_lettered is not rt.dead_lettered


def test_the_runner_decodes_steps_and_dead_letters_each_message_on_its_own() -> None:
    from newsrift import messages, topics
    from newsrift.messages import SweepTick
    from newsrift.runtime.runner import Runtime

    rt = Runtime(Settings())
    seen: list[tuple[bytes, Any]] = []
    rejected: list[tuple[str, bytes, str]] = []
    housekept: list[bytes] = []

    async def step(ctx: Any, message: Any) -> None:
        if ctx.key == b"boom":
            raise RuntimeError("step failed")
        seen.append((ctx.key, message))

    async def reject(stage: str, event: Any, error: Exception, outputs: Any = None) -> None:
        rejected.append((stage, event.key, str(error)))

    async def every(ctx: Any) -> None:
        housekept.append(ctx.key)

    rt.reject = reject  # type: ignore[method-assign]
    rt.stage("sweeper", topics.CLAIMS, step, every=every)
    tick = SweepTick(datetime(2020, 1, 1, tzinfo=timezone.utc))
    good = messages.encode(tick)
    batch = [event(0, b"{no", b"junk"), event(1, b'{"at": "2020-01-01T00:00:00Z"}', b"untagged"),
             event(2, good, b"boom"), event(3, good, b"ok")]
    stream = FakeStream(batch)
    asyncio.run(rt.app.agents["sweeper"].fun(stream))
    assert stream.acked == [0, 1, 2, 3]  # each acked once handled or dead-lettered, in order
    assert seen == [(b"ok", tick)]
    assert [(s, k) for s, k, _ in rejected] == [("sweeper", b"junk"), ("sweeper", b"untagged"), ("sweeper", b"boom")]
    assert "not JSON" in rejected[0][2] and "no 'type'" in rejected[1][2] and rejected[2][2] == "step failed"
    assert housekept == [b"junk", b"untagged", b"boom", b"ok"]  # every message, those that do not decode too
