"""robots.txt against servers on 127.0.0.x that record paths, times and headers: Disallow for feeds and pages,
agent-specific rules, the configured User-Agent, Crawl-delay spacing (lower bounds with wide margins, as in
test_politeness.py) and its cap, and an unreachable robots.txt.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from newsrift.cli.ingest import register
from newsrift.connectors.http import USER_AGENT
from newsrift.connectors.poller import PollConfig, Summary, poll_once
from newsrift.connectors.registry import Feed
from newsrift.connectors.robots import MAX_ROBOTS_BYTES, origin_of, robots_url
from newsrift.connectors.state import StateStore
from newsrift.settings import Settings
from tests.unit.connectors.conftest import ListSink, RouteServer, item, rss
from tests.unit.connectors.test_politeness import HTML, PAGE, XML

TEXT = {"Content-Type": "text/plain"}


def _run(feeds: list[Feed], tmp: Path, cfg: PollConfig | None = None, sink: ListSink | None = None) -> Summary:
    return asyncio.run(poll_once(feeds, StateStore(tmp / "st"), sink or ListSink(), cfg or PollConfig()))


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def _events(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"event={event} ")]


def test_a_disallowed_feed_is_never_fetched_and_said_once(web: Callable[..., RouteServer], tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    srv = web()
    srv.routes["/robots.txt"] = (200, TEXT, b"User-agent: *\nDisallow: /private/\n")
    srv.routes["/private/feed"] = srv.routes["/public/feed"] = (200, XML, rss(item("a", "https://ex.example/a")))
    feeds = [Feed(srv.base + "/private/feed", "ex"), Feed(srv.base + "/public/feed", "ex")]
    cfg = PollConfig(per_host_interval=0)
    with caplog.at_level(logging.INFO, logger="newsrift.connectors"):
        first = _run(feeds, tmp_path, cfg)
        second = _run(feeds, tmp_path, cfg)  # a new run: robots.txt is fetched again, the feed still skipped
    assert (first.ok, first.disallowed, first.failed) == (1, 1, 0)
    assert first.line().endswith(" disallowed=1") and second.disallowed == 1
    assert srv.paths(robots=True) == ["/robots.txt", "/public/feed", "/robots.txt", "/public/feed"]
    said = _events(caplog, "robots_disallowed")
    assert len(said) == 1 and f"url={srv.base}/private/feed" in said[0] and f"robots={srv.base}/robots.txt" in said[0]
    st = StateStore(tmp_path / "st").load(srv.base + "/private/feed")
    assert st.robots == "disallowed" and st.failures == 0 and st.dead_since is None

    # The publisher changes its mind: the feed is fetched again, and the state says so.
    srv.routes["/robots.txt"] = (200, TEXT, b"User-agent: *\nDisallow: /nothing-here\n")
    with caplog.at_level(logging.INFO, logger="newsrift.connectors"):
        third = _run(feeds, tmp_path, cfg)
    assert third.disallowed == 0 and "/private/feed" in srv.paths()
    assert StateStore(tmp_path / "st").load(srv.base + "/private/feed").robots is None
    assert len(_events(caplog, "robots_allowed")) == 1


def test_feeds_list_shows_the_robots_state(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    srv = web()
    srv.routes["/robots.txt"] = (200, TEXT, b"User-agent: *\nDisallow: /feed\n")
    reg = tmp_path / "r.toml"
    reg.write_text(f'[[outlets]]\nid = "ex"\nfeeds = ["{srv.base}/feed"]\n')
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test root"""

    register(app)
    run = CliRunner()
    r = run.invoke(app, ["ingest", "--once", "--registry", str(reg), "--state-dir", str(tmp_path / "st"),
                         "--to-jsonl", str(tmp_path / "o.jsonl")])
    assert r.output.strip().splitlines()[-1].endswith(" disallowed=1")
    listed = run.invoke(app, ["feeds", "list", "--registry", str(reg), "--state-dir", str(tmp_path / "st"),
                              "--to-jsonl", str(tmp_path / "o.jsonl")]).output
    assert f"ex\t{srv.base}/feed\tdisallowed\tfailures=0" in listed
    assert "\trequests=1\trequest_failures=0\trobots=disallowed" in listed  # the robots.txt request was its cost


def test_rules_for_our_agent_and_the_agent_sent(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    srv = web()
    srv.routes["/robots.txt"] = (200, TEXT, b"User-agent: examplebot\nDisallow: /\n\nUser-agent: *\nDisallow:\n")
    srv.routes["/feed"] = (200, XML, rss(item("a", "https://ex.example/a")))
    feeds = [Feed(srv.base + "/feed", "ex")]
    agent = "ExampleBot/2.0 (+https://example.org/bot; ops@example.org)"
    s = _run(feeds, tmp_path / "one", PollConfig(per_host_interval=0, user_agent=agent))
    assert s.disallowed == 1 and srv.paths() == []
    assert [h["user-agent"] for h in srv.headers] == [agent]  # robots.txt itself is asked for with the agent
    s = _run(feeds, tmp_path / "two", PollConfig(per_host_interval=0))  # the default agent is not examplebot
    assert s.ok == 1 and srv.paths() == ["/feed"]
    assert [h["user-agent"] for h in srv.headers[1:]] == [USER_AGENT, USER_AGENT]


def test_the_default_agent_claims_no_url_and_matches_the_setting() -> None:
    assert Settings().user_agent == USER_AGENT == PollConfig().user_agent
    assert "github.com" not in USER_AGENT and USER_AGENT.startswith("newsrift/")


def test_disallowed_pages_are_not_fetched_for_full_text(web: Callable[..., RouteServer], tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    srv = web()
    srv.routes["/robots.txt"] = (200, TEXT, b"User-agent: *\nDisallow: /p/2\n")
    srv.routes["/feed"] = (200, XML, rss(*(item(f"s{i}", f"{srv.base}/p/{i}", description="Teaser.")
                                           for i in (1, 2))))
    srv.routes["/p/1"] = srv.routes["/p/2"] = (200, HTML, PAGE)
    sink = ListSink()
    with caplog.at_level(logging.INFO, logger="newsrift.connectors"):
        s = _run([Feed(srv.base + "/feed", "ex", full_text=True)], tmp_path, PollConfig(per_host_interval=0), sink)
    assert s.new == 2 and srv.paths(robots=True) == ["/robots.txt", "/feed", "/p/1"]
    content = {r.url: r.content or r.summary or "" for r in sink.got}
    assert "Paragraph 3" in content[f"{srv.base}/p/1"] and content[f"{srv.base}/p/2"] == "Teaser."
    skipped = _events(caplog, "full_text_skipped")
    assert len(skipped) == 1 and f"url={srv.base}/p/2" in skipped[0] and "reason=robots_disallowed" in skipped[0]


def test_crawl_delay_spaces_the_requests_to_its_host(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    # No interval of our own: only the Crawl-delay (2 s) keeps the requests apart, the first feed's from the
    # robots.txt request too. 1.5 s leaves room for delivery jitter; load only makes gaps longer.
    srv = web()
    srv.routes["/robots.txt"] = (200, TEXT, b"User-agent: *\nCrawl-delay: 2\n")
    for i in range(2):
        srv.routes[f"/f{i}"] = (200, XML, rss(item(f"t{i}", f"https://ex.example/{i}")))
    s = _run([Feed(f"{srv.base}/f{i}", "ex") for i in range(2)], tmp_path, PollConfig(per_host=2, per_host_interval=0))
    assert s.ok == 2
    times = srv.times()
    assert len(times) == 3 and min(_gaps(times)) >= 1.5, _gaps(times)


def test_a_crawl_delay_over_the_cap_is_capped(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    # An hour's Crawl-delay, capped at 1 s: the run ends (within 30 s, not an hour) with the requests >= 0.5 s apart.
    srv = web()
    srv.routes["/robots.txt"] = (200, TEXT, b"User-agent: *\nCrawl-delay: 3600\n")
    srv.routes["/f"] = (200, XML, rss(item("t", "https://ex.example/t")))

    async def go() -> Summary:
        return await asyncio.wait_for(poll_once([Feed(srv.base + "/f", "ex")], StateStore(tmp_path / "st"),
                                                ListSink(), PollConfig(per_host_interval=0, max_crawl_delay=1.0)), 30)

    assert asyncio.run(go()).ok == 1
    assert min(_gaps(srv.times())) >= 0.5


# 503 and 429 carry a Retry-After that the wait honours (2 h); a 500's is not read, so the wait is the default 600 s.
@pytest.mark.parametrize(("code", "wait"), [(500, 600), (503, 7200), (429, 7200)])
def test_an_unreachable_robots_txt_means_wait_and_retry(web: Callable[..., RouteServer], tmp_path: Path,
                                                        code: int, wait: float) -> None:
    srv = web()
    srv.routes["/robots.txt"] = (code, {"Retry-After": "7200"}, b"")
    srv.routes["/a"] = srv.routes["/b"] = (200, XML, rss(item("t", "https://ex.example/t")))
    t0 = time.time()
    s = _run([Feed(srv.base + "/a", "ex"), Feed(srv.base + "/b", "ex")], tmp_path,
             PollConfig(per_host_interval=0, jitter=0.0))
    assert (s.failed, s.ok) == (2, 0)
    assert srv.paths(robots=True) == ["/robots.txt"]  # asked once for the host, and no feed fetched meanwhile
    st = StateStore(tmp_path / "st").load(srv.base + "/a")
    assert "robots.txt unreachable" in (st.last_error or "") and st.next_due - t0 >= wait - 5


@pytest.mark.parametrize("code", [401, 403, 404, 410])
def test_a_robots_txt_answered_with_4xx_allows_everything(web: Callable[..., RouteServer], tmp_path: Path,
                                                         code: int) -> None:
    srv = web()
    srv.routes["/robots.txt"] = (code, {}, b"User-agent: *\nDisallow: /\n")
    srv.routes["/a"] = (200, XML, rss(item("t", "https://ex.example/t")))
    assert _run([Feed(srv.base + "/a", "ex")], tmp_path, PollConfig(per_host_interval=0)).ok == 1
    st = StateStore(tmp_path / "st").load(srv.base + "/a")
    assert (st.requests, st.request_failures) == (2, 0)  # a missing robots.txt is an answer, not a failure


def test_a_long_robots_txt_is_read_up_to_the_cap(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    srv = web()
    body = b"User-agent: *\nDisallow: /no\nDisallow: /[odd\n" + b"# padding\n" * (MAX_ROBOTS_BYTES // 5)
    srv.routes["/robots.txt"] = (200, TEXT, body)
    srv.routes["/no"] = srv.routes["/yes"] = (200, XML, rss(item("t", "https://ex.example/t")))
    s = _run([Feed(srv.base + "/no", "ex"), Feed(srv.base + "/yes", "ex")], tmp_path, PollConfig(per_host_interval=0))
    assert (s.ok, s.disallowed, s.failed) == (1, 1, 0) and srv.paths() == ["/yes"]


def test_origins() -> None:
    assert origin_of("https://News.Example:443/rss?x=1") == "https://news.example"
    assert origin_of("http://news.example:8080/rss") == "http://news.example:8080"
    assert robots_url("http://user:pw@[::1]:81/a") == "http://[::1]:81/robots.txt"
    assert origin_of("/srv/feed.xml") is None and origin_of("file:///srv/feed.xml") is None
