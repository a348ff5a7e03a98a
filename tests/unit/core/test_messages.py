"""Every message on a topic carries its ``type``, matches its schema, and comes back whole through its topic's one
decoder; anything else on a topic is a ``MessageError`` with the reason (the stages dead-letter it)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest

from newsrift import messages, topics
from newsrift.errors import MessageError
from newsrift.messages import (
    AlertMessage,
    AlertRetryMessage,
    AnalysedArticle,
    ClaimMessage,
    DisputeChangeMessage,
    EventMessage,
    HandoverMessage,
    Message,
    MoveMessage,
    PlacementMessage,
    RawArticleMessage,
    SettleTick,
    SweepTick,
)
from newsrift.model import Event, RawArticle
from newsrift.records import DisputeChange, DisputeRecord, Emitted, Handover, Retry
from newsrift.stages.alerts import alert_from_change
from tests.unit.core.test_contracts import ARTICLE, CLAIM, DISPUTE, T, validate

CLAIM_E = dataclasses.replace(CLAIM, event_id="e1")
ALERT = alert_from_change(DisputeChange(DISPUTE, "new")).to_json()

# (topic, message, schema or None)
CASES: list[tuple[str, Message, str | None]] = [
    (topics.RAW_ARTICLES, RawArticleMessage(RawArticle(article_id="a", outlet_id="o", url="u", title="t",
                                                       published=T)), "raw_article.v1"),
    (topics.ARTICLES, AnalysedArticle(ARTICLE, (CLAIM,)), "analyzed_article.v1"),
    (topics.ASSIGN, AnalysedArticle(ARTICLE), "analyzed_article.v1"),
    (topics.ASSIGN, SettleTick(T), "assign_settle.v1"),
    (topics.PLACEMENTS, PlacementMessage("a1", "e1", "a0", 0.9, ("o1", "o2")), "placement.v1"),
    (topics.EVENTS, EventMessage(Event("e1", "title", ("a1",), T, T, article_count=1)), "event.v1"),
    (topics.CLAIMS, ClaimMessage(CLAIM_E, "a0", {"a1": ["o1"]}), "claim.v1"),
    (topics.CLAIMS, MoveMessage("e2", ("a1",), ("c1",)), "claim_move.v1"),
    (topics.CLAIMS, HandoverMessage(Handover([(CLAIM_E, ["o1"])], {"d1": DisputeRecord(
        "n|deaths|-|-", "", ["c1", "c2"], ["numeric"], "numeric", "growing", 0.7, T, T, ["a note"],
        Emitted(["a", "b"], ["c1", "c2"], "numeric", "growing", ["o1"]))})), "claim_handover.v1"),
    (topics.CLAIMS, SweepTick(T), "claim_sweep.v1"),
    (topics.DISPUTES, DisputeChangeMessage(DisputeChange(DISPUTE, "new")), None),
    (topics.ALERTS, AlertMessage(ALERT | {"watchlists": ["syria"]}), "alert.v1"),
    (topics.ALERT_RETRY, AlertRetryMessage(Retry("webhook", ALERT, 1, T, T + timedelta(seconds=30), "503")),
     "alert_retry.v1"),
]


@pytest.mark.parametrize(("topic", "message", "schema"), CASES, ids=[f"{c[0]}:{c[1].TYPE}" for c in CASES])
def test_a_message_is_tagged_matches_its_schema_and_decodes_whole(topic: str, message: Message,
                                                                   schema: str | None) -> None:
    wire = messages.encode(message)
    data = json.loads(wire)
    assert data["type"] == message.TYPE
    if schema is not None:
        validate(schema, data)
    assert messages.decoder(topic)(wire) == message


def test_every_topic_has_one_decoder_and_every_message_type_one_topic_family() -> None:
    assert set(messages.DECODERS) == {spec.name for spec in topics.TOPICS}
    assert {m.TYPE for _, m, _ in CASES} == {t for d in messages.DECODERS.values() for t in d.types}


@pytest.mark.parametrize(("value", "why"), [
    (b'{"to": "e2", "articles": [], "claims": []}', "no 'type' on news.claims.v1, which carries claim, handover, "
                                                    "move, sweep"),
    (b'{"type": "settle", "at": "2018-02-14T00:00:00Z"}', "type 'settle' on news.claims.v1"),
    (b'{"type": 7}', "type '7' on news.claims.v1"),
    (b'{"type": "move", "articles": []}', "move message without a target event"),
    (b'{"type": "move", "to": "e2", "claims": [1]}', "'claims' must be a list of strings"),
    (b'{"type": "sweep"}', "missing field 'at'"),
    (b'{"type": "sweep", "at": 5}', "'at' must be an ISO 8601 time string, not int"),
    (b'{"type": "handover", "claims": {}}', "'claims' must be a list of objects"),
    (b'{"type": "claim", "claim_id": "c"}', "missing field"),
    (b"[]", "expected a JSON object"),
    (b"{nope", "not JSON"),
])
def test_what_the_claims_topic_does_not_carry_is_a_message_error_with_the_reason(value: bytes, why: str) -> None:
    with pytest.raises(MessageError, match=why.replace("(", r"\(").replace("'", "'")):
        messages.CLAIMS(value)


def test_a_claim_without_its_event_is_refused() -> None:
    with pytest.raises(MessageError, match="claim has no event_id"):
        messages.CLAIMS(messages.encode(ClaimMessage(CLAIM)))


def test_an_untagged_raw_article_is_refused_and_an_unknown_topic_has_no_decoder() -> None:
    raw = RawArticle(article_id="a", outlet_id="o", url="u", title="t")
    with pytest.raises(MessageError, match=r"no 'type' on news\.articles\.raw\.v1"):
        messages.RAW_ARTICLES(json.dumps(raw.to_json()))
    with pytest.raises(MessageError, match="no messages are defined"):
        messages.decoder("news.nothing.v1")


def test_ticks_keep_their_time() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert messages.ASSIGN(messages.encode(SettleTick(now))) == SettleTick(now)
