"""A settle's move through the running worker and real services: the claims leave the old event's dispute state
for the new event's, the old dispute is withdrawn, and the claim documents point at the new event."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from newsrift import messages
from newsrift.messages import ClaimMessage, Message, MoveMessage
from newsrift.settings import Settings
from newsrift.stages.index.core import IndexNames
from newsrift.topics import CLAIMS
from tests.integration.test_worker_outages import _ready_worker
from tests.unit.disputes.helpers import claim, later

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _search(es: Elasticsearch, index: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    es.indices.refresh(index=index)
    return [h["_source"] for h in es.search(index=index, query=query, size=50)["hits"]["hits"]]


def _until(what: str, check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(1)


def test_a_move_hands_claims_on_and_withdraws_the_dispute_they_made(isolated: Settings, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:8]
    ev1, ev2 = f"ev1-{tag}", f"ev2-{tag}"
    killed = claim("Kremlin-linked reporters", "Russian nationals had been killed", action="kill", event=ev1,
                   actors=("Kurdish fighters", "Russian nationals"), outlet="o-rt", cid=f"c1-{tag}",
                   article=f"a1-{tag}", stype="media")
    denied = claim("Russian Foreign Ministry", "Russian citizens were killed", pol="denies", action="kill", event=ev1,
                   actors=("Russian citizens",), outlet="o-tass", cid=f"c2-{tag}", article=f"a2-{tag}", at=later(1))
    unaware = claim("James Mattis", "no knowledge of Russian fighters killed", pol="no_knowledge", action="kill",
                    event=ev2, actors=("coalition forces", "Russian fighters"), outlet="o-ap", cid=f"c3-{tag}",
                    article=f"a3-{tag}", at=later(2))
    names = IndexNames(isolated.index_prefix)
    es = Elasticsearch(isolated.es_url)
    producer = KafkaProducer(bootstrap_servers=isolated.kafka_bootstrap, acks="all")
    topic = isolated.topic(CLAIMS)

    def send(key: str, message: Message) -> None:
        producer.send(topic, key=key.encode(), value=messages.encode(message)).get(30)

    try:
        with _ready_worker(isolated, tmp_path):
            for c in (killed, denied, unaware):
                send(c.event_id or "", ClaimMessage(c))
            first = _until("the dispute in the first event", lambda: _search(
                es, names.alias("disputes"), {"term": {"event_id": ev1}}))
            send(ev1, MoveMessage(ev2, (killed.article_id,), (killed.claim_id,)))
            withdrawn = _until("the first event's dispute withdrawn", lambda: [
                d for d in _search(es, names.alias("disputes"), {"term": {"event_id": ev1}})
                if d["status"] == "withdrawn"])
            second = _until("a dispute in the second event", lambda: _search(
                es, names.alias("disputes"), {"term": {"event_id": ev2}}))
            moved = _until("the moved claim's document in the second event", lambda: [
                c for c in _search(es, names.alias("claims"), {"term": {"claim_id": killed.claim_id}})
                if c["event_id"] == ev2])
            # A claim of the moved article that reaches the old event late is handed on, not kept there.
            late = dataclasses.replace(killed, claim_id=f"c4-{tag}", text="Russian nationals died in the strike",
                                       start=40, end=76)
            send(ev1, MoveMessage(ev2, (killed.article_id,), (late.claim_id,)))
            send(ev1, ClaimMessage(late))
            handed = _until("the late claim indexed under the second event", lambda: [
                c for c in _search(es, names.alias("claims"), {"term": {"claim_id": late.claim_id}})
                if c["event_id"] == ev2])
    finally:
        producer.close()
        es.close()
    assert [d["status"] for d in first] == ["new"]
    sides = {s["claim_id"] for s in withdrawn[0]["sides"]}
    assert sides == {killed.claim_id, denied.claim_id}, withdrawn
    assert {s["claim_id"] for s in second[0]["sides"]} == {killed.claim_id, unaware.claim_id}
    assert moved[0]["article_id"] == killed.article_id
    assert handed
