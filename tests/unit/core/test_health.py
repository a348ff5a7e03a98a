"""GET /health decisions: which facts make the worker degraded, and the shape of the answer."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from newsrift.runtime.health import Check, elasticsearch_check, health_report, kafka_check

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_kafka_is_failing_while_broker_errors_are_fresh_or_nothing_is_assigned() -> None:
    assert kafka_check(9, []) == Check(True, "9 partitions assigned")
    down = kafka_check(9, ["Unable connect to node with id 1: [Errno 111] Connect call failed"])
    assert not down.ok and "Unable connect to node" in down.detail and down.detail.startswith("1 kinds")
    assert not kafka_check(0, []).ok


def test_elasticsearch_red_or_unreachable_fails_and_yellow_does_not() -> None:
    assert elasticsearch_check("yellow", None).ok and elasticsearch_check("green", None).ok
    assert not elasticsearch_check("red", None).ok
    gone = elasticsearch_check(None, "ConnectionError: refused")
    assert not gone.ok and gone.detail == "unreachable: ConnectionError: refused"


def test_report_is_503_when_any_check_fails_and_carries_the_counters() -> None:
    counters = dict(received_by_topic={"news.articles.raw.v1": 5}, sent_by_topic={"news.claims.v1": 19},
                    dead_lettered_by_stage={"analyse_articles": 1}, events_per_second=2.345)
    code, body = health_report(now=T0 + timedelta(seconds=90), started=T0,
                               checks={"kafka": Check(True, "3 partitions assigned"),
                                       "elasticsearch": Check(True, "cluster status yellow")}, **counters)
    assert code == 200 and body["status"] == "ok" and body["uptime_s"] == 90.0
    assert body["received_by_topic"] == {"news.articles.raw.v1": 5} and body["events_per_second"] == 2.35
    assert body["dead_lettered_by_stage"] == {"analyse_articles": 1} and body["started_at"] == "2026-01-01T00:00:00Z"
    assert body["lag_by_topic"] is None and "lag_error" not in body and body["offset_holes"] is None
    code, body = health_report(now=T0, started=T0, checks={"kafka": Check(True, "ok")},
                               lag_by_topic={"news.claims.v1": 3, "news.articles.raw.v1": 0},
                               offset_holes={"holes": 1, "holes_lost": 0}, **counters)
    # A backlog is reported, not failed: after an outage the worker is expected to be behind.
    assert code == 200 and body["lag_by_topic"] == {"news.articles.raw.v1": 0, "news.claims.v1": 3}
    assert body["offset_holes"] == {"holes": 1, "holes_lost": 0}  # a hole fetched again is reported, not failed
    _, body = health_report(now=T0, started=T0, checks={"kafka": Check(False, "down")},
                            lag_error="not measured: Kafka check failing", **counters)
    assert body["lag_by_topic"] is None and body["lag_error"] == "not measured: Kafka check failing"
    code, body = health_report(now=T0, started=T0,
                               checks={"kafka": Check(True, "ok"), "elasticsearch": Check(False, "unreachable: x")},
                               **counters)
    assert code == 503 and body["status"] == "degraded"
    assert body["checks"] == {"elasticsearch": {"ok": False, "detail": "unreachable: x"},
                              "kafka": {"ok": True, "detail": "ok"}}
