"""The stages finish every batch whatever one message raises; the index writer splits a refused bulk request.

Kafka and Elasticsearch are stood in for here (unit tests of the stages' own logic); the integration tests use
the real ones.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from newsrift.runtime import bulk as writer
from newsrift.runtime.health import Check
from newsrift.stages.extract.quantities import word_number
from newsrift.stages.index.core import BulkAction


@dataclass
class Msg:
    topic: str
    partition: int = 0
    offset: int = 0


@dataclass
class Event:
    key: bytes
    value: bytes
    message: Msg


def _api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))
    return ApiError("refused", meta=meta, body={})


class FakeES:
    """Refuses a whole bulk request (status) while it holds a document marked bad; fails to connect ``down`` times."""

    def __init__(self, status: int = 400, down: int = 0) -> None:
        self.status, self.down = status, down
        self.written: list[str] = []
        self.calls = 0

    async def bulk(self, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
        self.calls += 1
        if self.down:
            self.down -= 1
            raise ConnectionError("refused")
        docs = operations[1::2]
        if any(d.get("bad") for d in docs):
            raise _api_error(self.status)
        ids = [next(iter(op.values()))["_id"] for op in operations[0::2]]
        self.written.extend(ids)
        return {"items": [{"index": {"status": 201}} for _ in ids]}


def _actions(n: int, bad: set[int]) -> list[BulkAction]:
    return [BulkAction("index", "idx", f"d{i}", {"n": i, "bad": i in bad}) for i in range(n)]


@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_bulk_request_is_split_until_the_bad_documents_stand_alone(status: int) -> None:
    es = FakeES(status)
    failed = asyncio.run(writer.write_bulk(es, _actions(10, {3, 7})))
    assert sorted(a.doc_id for a, _ in failed) == ["d3", "d7"]
    assert all(f"HTTP {status}" in why for _, why in failed)
    assert sorted(es.written) == sorted(f"d{i}" for i in range(10) if i not in (3, 7))


def test_connection_errors_are_still_retried_not_dead_lettered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "backoff", lambda attempt, cap=30.0: 0.0)
    es = FakeES(down=3)
    assert asyncio.run(writer.write_bulk(es, _actions(4, set()))) == []
    assert es.calls == 4 and len(es.written) == 4


def test_a_5xx_for_the_whole_request_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "backoff", lambda attempt, cap=30.0: 0.0)
    es = FakeES(status=503)
    actions = _actions(2, {1})

    async def go() -> None:
        await writer.write_bulk(es, actions)

    async def main() -> None:
        task = asyncio.ensure_future(go())
        await asyncio.sleep(0.05)
        assert not task.done()  # still retrying: a 503 is not the documents' fault
        task.cancel()

    asyncio.run(main())
    assert es.calls > 3 and es.written == []


def test_overflowing_numbers_are_not_quantities() -> None:
    assert word_number("1" * 400) is None
    assert word_number("9" * 305 + " million") is None
    assert word_number("1,200") == 1200


def test_a_400_digit_number_in_an_article_gives_no_infinity() -> None:
    from datetime import datetime, timezone

    from newsrift.model import Article
    from newsrift.stages.normalize.pipeline import analyse_batch
    from newsrift.streaming import encode

    text = f"The ministry said that {'9' * 400} people were killed. Police said 99999999999 days ago 5 died."
    article = Article(article_id="big", outlet_id="o", url="u", title="t", text=text, content_hash="h",
                      published=datetime(9999, 12, 30, tzinfo=timezone.utc), language="en")
    (result,) = analyse_batch([article])
    assert not isinstance(result, Exception)
    assert result["claims"]
    values = [v for c in result["claims"] for q in c["quantities"] for v in (q["low"], q["high"]) if v is not None]
    assert all(math.isfinite(v) for v in values)
    encode(result)  # allow_nan=False: would raise on an infinite quantity


def test_far_times_do_not_cost_the_article() -> None:
    from datetime import datetime, timezone

    from newsrift.stages.extract.claims import normalise_times

    edge = datetime(9999, 12, 31, tzinfo=timezone.utc)
    assert normalise_times(["next week", "tomorrow", "today"], edge) == ["9999-12-31"]
    start = datetime(1, 1, 1, tzinfo=timezone.utc)
    assert normalise_times(["yesterday", "99999999999 days ago", "5 days ago"], start) == []
    assert normalise_times(["3 days ago"], datetime(2018, 2, 14, tzinfo=timezone.utc)) == ["2018-02-11"]


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        self.topics: list[str] = []
        self.rejected: list[tuple[str, bytes, Exception]] = []

    async def send(self, topic: str, key: bytes, value: bytes, *, wait: bool = False, outputs: Any = None) -> None:
        self.topics.append(topic)
        self.sent.append((key, value))

    async def reject(self, stage: str, event: Event, error: Exception, outputs: Any = None) -> None:
        self.rejected.append((stage, event.key, error))


GOOD = {"type": "raw_article", "article_id": "good1", "outlet_id": "o1", "url": "https://o1.example/1", "title": "T",
        "content": "<p>The mayor said five people died.</p>"}


def _runtime(rec: Recorder) -> Any:
    """A worker's runtime whose sends and dead letters go to ``rec`` (its Faust app is made, never started)."""
    from newsrift.runtime.runner import Runtime
    from newsrift.settings import Settings

    rt = Runtime(Settings())
    rt.send = rec.send  # type: ignore[method-assign]
    rt.reject = rec.reject  # type: ignore[method-assign]
    return rt


def _run_analyse(batch: list[Event], analyser: Any, rec: Recorder) -> None:
    from functools import partial

    from newsrift import messages
    from newsrift.runtime.commits import Outputs
    from newsrift.stages.normalize.step import analyse

    rt = _runtime(rec)
    asyncio.run(rt.run_batch("analyse_articles", messages.RAW_ARTICLES, partial(analyse, analyser), batch, {},
                             Outputs()))


def test_the_analyse_batch_handles_every_event_whatever_it_raises() -> None:
    from newsrift.stages.normalize.step import Analyser

    rec = Recorder()

    class Fake(Analyser):
        async def analyse(self, articles: list[Any]) -> list[Any]:
            return [{"article": a.to_json(), "claims": [], "score": float("nan") if a.article_id == "nan1" else 1.0}
                    for a in articles]

    inputs = {
        b"published": {**GOOD, "article_id": "p1", "published": 1700000000},
        b"fetched": {**GOOD, "article_id": "f1", "fetched_at": True},
        b"language": {**GOOD, "article_id": "l1", "language": 7},
        b"content": {**GOOD, "article_id": "c1", "content": ["x"]},
        b"nan": {**GOOD, "article_id": "nan1"},
        b"empty": {**GOOD, "article_id": "e1", "content": ""},
        b"good": GOOD,
    }
    batch = [Event(k, json.dumps(v).encode(), Msg("raw", 0, i)) for i, (k, v) in enumerate(inputs.items())]
    batch.insert(3, Event(b"revision", json.dumps(GOOD).encode()[:-1] + b', "revision": 1e400}', Msg("raw", 0, 9)))
    _run_analyse(batch, Fake(0), rec)
    assert [k for k, _ in rec.sent] == [b"good"] and rec.topics == ["news.articles.v1"]
    why = {k: str(e) for _, k, e in rec.rejected}
    assert set(why) == {b"published", b"fetched", b"language", b"content", b"revision", b"nan", b"empty"}
    assert all(stage == "analyse_articles" for stage, _, _ in rec.rejected)
    assert "'published' must be an ISO 8601" in why[b"published"]
    assert "out of range" in why[b"revision"]
    assert "cannot encode" in why[b"nan"]
    assert "no text" in why[b"empty"]


def test_the_analyse_batch_survives_a_batch_wide_failure() -> None:
    from newsrift.stages.normalize.step import Analyser

    rec = Recorder()

    class Flaky(Analyser):
        async def analyse(self, articles: list[Any]) -> list[Any]:
            if len(articles) > 1 or articles[0].article_id == "boom":
                raise RuntimeError("pool exploded")
            return [{"article": a.to_json(), "claims": []} for a in articles]

    batch = [Event(k.encode(), json.dumps({**GOOD, "article_id": k}).encode(), Msg("raw")) for k in ("a", "boom")]
    _run_analyse(batch, Flaky(0), rec)
    assert [k for k, _ in rec.sent] == [b"a"]
    assert [(k, type(e).__name__) for _, k, e in rec.rejected] == [(b"boom", "RuntimeError")]


def test_a_batch_step_that_fails_as_a_whole_dead_letters_each_of_its_messages() -> None:
    from newsrift import messages
    from newsrift.runtime.commits import Outputs

    rec = Recorder()

    async def broken(ctx: Any, items: list[Any]) -> list[Exception | None]:
        raise RuntimeError("step bug")

    batch = [Event(k.encode(), json.dumps({**GOOD, "article_id": k}).encode(), Msg("raw")) for k in ("a", "b")]
    asyncio.run(_runtime(rec).run_batch("s", messages.RAW_ARTICLES, broken, batch, {}, Outputs()))
    assert [(k, str(e)) for _, k, e in rec.rejected] == [(b"a", "step bug"), (b"b", "step bug")]


@dataclass
class Record:
    """What the indexer's Kafka consumer hands over (aiokafka's ConsumerRecord, the fields it uses)."""

    key: bytes
    value: bytes
    topic: str
    partition: int = 0
    offset: int = 0


def test_the_index_batch_dead_letters_bad_messages_and_indexes_the_rest() -> None:
    from newsrift import topics
    from newsrift.runtime import indexer
    from newsrift.settings import Settings
    from newsrift.stages.index.core import IndexNames

    letters: list[tuple[bytes, str]] = []

    async def to_dlq(record: Record, error: Any) -> None:
        letters.append((record.key, f"{type(error).__name__}: {error}"))

    settings = Settings()
    topic = settings.topic(topics.EVENTS)
    ev = {"type": "event", "event_id": "e1", "title": "t", "article_ids": ["a"]}
    batch = [Record(b"e1", json.dumps(ev).encode(), topic),
             Record(b"nan", b'{"type": "event", "event_id": "e2", "title": NaN}', topic),
             Record(b"time", json.dumps({**ev, "event_id": "e3", "first_seen": 5}).encode(), topic),
             Record(b"bad", json.dumps({**ev, "event_id": "e4", "title": "bad"}).encode(), topic),
             Record(b"odd", json.dumps(ev).encode(), "a.topic.nobody.indexes")]

    class ES(FakeES):
        async def bulk(self, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
            docs = operations[1::2]
            if any(d.get("title") == "bad" for d in docs):
                raise _api_error(400)
            return await super().bulk(operations, refresh)

    es = ES()
    settled: set[int] = set()
    decoders, names = indexer.decoders(settings), IndexNames("x")
    asyncio.run(indexer.index_batch(es, batch, to_dlq, decoders, names, settled))
    assert es.written == ["e1"]
    why = dict(letters)
    assert set(why) == {b"nan", b"time", b"bad", b"odd"}
    assert "NaN" in why[b"nan"] and "first_seen" in why[b"time"] and "refused on its own" in why[b"bad"]
    assert why[b"odd"] == "MessageError: no index takes topic a.topic.nobody.indexes"
    assert settled == {id(r) for r in batch}

    # The dead letter of the refused document fails: what was written or dead-lettered is settled, the refused one
    # is not, and the failure reaches the indexer (which starts over from the last commit: nothing is lost).
    async def failing_dlq(record: Record, error: Any) -> None:
        if record.key == b"bad":
            raise RuntimeError("dlq down")
        letters.append((record.key, str(error)))

    settled = set()
    with pytest.raises(RuntimeError):
        asyncio.run(indexer.index_batch(ES(), batch, failing_dlq, decoders, names, settled))
    assert settled == {id(r) for r in batch if r.key != b"bad"}


def test_a_batch_that_keeps_failing_is_dead_lettered_after_five_tries_not_retried_forever() -> None:
    """A failure of the whole batch that is not Kafka's (a bug here) starts the indexer over from its commits; the
    fifth time the same records fail, they are dead-lettered so that indexing goes on behind them."""
    from aiokafka.errors import KafkaConnectionError

    from newsrift import topics
    from newsrift.runtime import indexer as agent
    from newsrift.settings import Settings

    settings = Settings()
    topic = settings.topic(topics.EVENTS)
    batch = [Record(f"e{i}".encode(), json.dumps({"type": "event", "event_id": f"e{i}", "title": "t"}).encode(),
                    topic, offset=i)
             for i in range(3)]
    letters: list[tuple[bytes, str]] = []

    async def to_dlq(record: Record, error: Any) -> None:
        letters.append((record.key, str(error)))

    class Broken(FakeES):  # an answer of a shape the writer does not expect: a bug, not an outage
        async def bulk(self, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
            return {"items": []}

    indexer = agent.Indexer(settings, agent.IndexerState(), lambda *args: None)
    for _ in range(agent.Indexer.MAX_FAILURES - 1):
        with pytest.raises(ValueError):
            asyncio.run(indexer._write(Broken(), batch, to_dlq))
    assert letters == []
    asyncio.run(indexer._write(Broken(), batch, to_dlq))
    assert [key for key, _ in letters] == [b"e0", b"e1", b"e2"] and "shorter" in letters[0][1]

    # Kafka being away is not the records' fault: never counted, always a start-over.
    bad = [Record(b"x", b"not json", topic)]

    async def kafka_down(record: Record, error: Any) -> None:
        raise KafkaConnectionError("broker away")

    fresh = agent.Indexer(settings, agent.IndexerState(), lambda *args: None)
    for _ in range(agent.Indexer.MAX_FAILURES + 1):
        with pytest.raises(KafkaConnectionError):
            asyncio.run(fresh._write(FakeES(), bad, kafka_down))
    assert not fresh._failures.reached((topic, 0, 0)) and len(letters) == 3


def test_a_start_that_fails_half_way_closes_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The consumer's start fails after the producer started: both Kafka clients are stopped (aiokafka's stop is
    safe on a half-started client) and the Elasticsearch client closed, so restarts leak nothing."""
    from aiokafka.errors import KafkaConnectionError

    from newsrift.runtime import indexer as agent
    from newsrift.settings import Settings

    calls: list[str] = []

    class Client:
        name = ""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        async def start(self) -> None:
            calls.append(f"{self.name}.start")
            if self.name == "consumer":
                raise KafkaConnectionError("no broker")

        async def stop(self) -> None:
            calls.append(f"{self.name}.stop")

    class Producer(Client):
        name = "producer"

    class Consumer(Client):
        name = "consumer"

    class ES:
        async def close(self) -> None:
            calls.append("es.close")

    async def connect() -> ES:
        return ES()

    monkeypatch.setattr(agent, "AIOKafkaProducer", Producer)
    monkeypatch.setattr(agent, "AIOKafkaConsumer", Consumer)
    state = agent.IndexerState()
    with pytest.raises(KafkaConnectionError):
        asyncio.run(agent.Indexer(Settings(), state, lambda *args: None, connect)._run())
    assert calls == ["producer.start", "consumer.start", "consumer.stop", "producer.stop", "es.close"]
    assert not state.running


def test_the_indexer_check_fails_only_while_the_indexer_starts_over() -> None:
    from newsrift.runtime.health import indexer_check

    assert indexer_check(True, None) == Check(True, "consuming")
    assert indexer_check(False, None) == Check(False, "starting")
    assert indexer_check(False, "KafkaError: x") == Check(False, "starting over after: KafkaError: x")
    assert indexer_check(True, "KafkaConnectionError: x").ok


def test_a_dispute_change_that_cannot_be_sent_leaves_the_claim_unrecorded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dispute agent encodes its changes before it writes the event's state: a change that fails (over the size
    limit, here) fails the claim with the state as it was, so a replay of the dead letter opens the dispute."""
    from newsrift import messages
    from newsrift.errors import ProcessingError
    from newsrift.messages import ClaimMessage
    from newsrift.stages.context import Context
    from newsrift.stages.disputes import DisputeDetector
    from newsrift.stages.disputes.step import detect
    from tests.unit.disputes.helpers import claim, later, qty

    states: dict[str, Any] = {}
    rec = Recorder()
    detector = DisputeDetector()
    police = claim("police", "five people were killed", action="kill", places=("Khasham",), cid="s3",
                   article="art-s3", at=later(0), qs=(qty("five people", 5, counted="people"),))
    hospital = claim("hospital", "about 100 people died", action="die", places=("Khasham",), cid="s4",
                     article="art-s4", at=later(1), qs=(qty("about 100", 100, None, "about", "dead"),))

    def handle(c: Any) -> None:
        value = messages.encode(ClaimMessage(c))
        ctx = Context(rec.send, b"ev1", value, tables={"disputes": states})
        asyncio.run(detect(detector, ctx, messages.CLAIMS(value)))

    handle(police)
    before = json.loads(json.dumps(states))
    real = messages.encode

    def too_big(message: Any, what: str | None = None) -> bytes:
        raise ProcessingError(f"{what} is 2000000 bytes encoded, over the 900000-byte message limit")

    monkeypatch.setattr(messages, "encode", too_big)
    with pytest.raises(ProcessingError):
        handle(hospital)
    assert states == before and rec.sent == []  # nothing recorded, nothing sent
    monkeypatch.setattr(messages, "encode", real)
    handle(hospital)  # the dead letter replayed: the dispute opens now
    assert [json.loads(v)["change"] for _, v in rec.sent] == ["new"]


def test_a_patch_of_a_missing_document_is_done_and_other_404s_are_rejections() -> None:
    class Missing(FakeES):
        async def bulk(self, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
            return {"items": [{"update": {"status": 404, "error": "document_missing_exception"}}
                              for _ in operations[0::2]]}

    patch = BulkAction("patch", "claims", "c1", {"event_id": "e2"})
    other = BulkAction("index", "claims", "c2", {"n": 1})
    failed = asyncio.run(writer.write_bulk(Missing(), [patch, other]))
    assert [a.doc_id for a, _ in failed] == ["c2"]
