"""Scheduled alert retries (newsrift/stages/alerts/retry.py) and how one delivery pass sorts sinks into delivered,
retrying and dead-lettered (newsrift/stages/alerts/runtime.deliver_all)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from newsrift import messages
from newsrift.errors import MessageError
from newsrift.messages import AlertRetryMessage
from newsrift.records import Retry
from newsrift.settings import Settings
from newsrift.stages.alerts import Alert, AlertSink, DeliveryError
from newsrift.stages.alerts.retrier import AlertRetrier
from newsrift.stages.alerts.retry import RetryPolicy, SettledAttempts, decide, hand_over
from newsrift.stages.alerts.runtime import deliver_all, retry_policy
from newsrift.streaming import decode, encode
from tests.unit.core.test_contracts import validate

T0 = datetime(2018, 2, 14, 12, tzinfo=timezone.utc)


def test_delays_double_from_the_first_up_to_the_cap() -> None:
    policy = RetryPolicy(first_delay=timedelta(seconds=30), max_delay=timedelta(minutes=10))
    assert [policy.delay(n).total_seconds() for n in range(1, 9)] == [30, 60, 120, 240, 480, 600, 600, 600]
    assert policy.delay(10_000) == timedelta(minutes=10)
    # A long first delay reaches attempt 40 within a day; 2**39 first delays must not overflow a timedelta.
    slow = RetryPolicy(first_delay=timedelta(seconds=300), max_delay=timedelta(minutes=10))
    assert [slow.delay(n) for n in (1, 2, 39, 40, 61, 500)] == [timedelta(minutes=5)] + [timedelta(minutes=10)] * 5
    with pytest.raises(ValueError, match="1-based"):
        policy.delay(0)


@pytest.mark.parametrize(("first", "most", "give_up"), [(0, 10, 100), (20, 10, 100), (1, 10, -1)])
def test_a_policy_that_makes_no_sense_is_refused(first: float, most: float, give_up: float) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(timedelta(seconds=first), timedelta(seconds=most), timedelta(seconds=give_up))


def test_retries_follow_the_schedule_until_the_give_up_time(make_alert: Callable[[int], Alert]) -> None:
    policy = RetryPolicy(timedelta(seconds=30), timedelta(minutes=10), timedelta(hours=1))
    alert = make_alert(1).to_json()
    retry = policy.first("webhook", alert, "HTTP 503", T0)
    assert retry is not None
    assert (retry.attempt, retry.due, retry.first_failed, retry.sink) == (1, T0 + timedelta(seconds=30), T0, "webhook")
    dues = [retry.due]
    while True:
        # Each retry fails the moment it is due.
        following = policy.after_failure(retry, f"HTTP 503 (try {retry.attempt})", retry.due)
        if following is None:
            break
        assert following.attempt == retry.attempt + 1
        assert following.first_failed == T0 and following.alert == alert
        assert following.error == f"HTTP 503 (try {retry.attempt})"
        retry = following
        dues.append(retry.due)
    # 0:30, 1:30, 3:30, 7:30, 15:30, 25:30, 35:30, 45:30, 55:30; the next (65:30) is past the hour.
    assert [round((d - T0).total_seconds() / 60, 1) for d in dues] == [0.5, 1.5, 3.5, 7.5, 15.5, 25.5, 35.5, 45.5,
                                                                        55.5]
    assert "gave up after 9 retries since 2018-02-14T12:00:00Z" in retry.describe()


def test_no_retry_at_all_when_giving_up_at_once(make_alert: Callable[[int], Alert]) -> None:
    policy = RetryPolicy(timedelta(seconds=30), timedelta(minutes=10), timedelta(0))
    assert policy.first("webhook", make_alert(1).to_json(), "HTTP 503", T0) is None


def test_the_alerts_agent_hands_failing_sinks_over_or_dead_letters_them(make_alert: Callable[[int], Alert]) -> None:
    alert = make_alert(7).to_json()
    failing = {"webhook": "HTTP 503", "email": "SMTP 451"}
    retries, dead = hand_over(failing, alert, T0, RetryPolicy())
    assert dead == {}
    assert [(r.sink, r.attempt, r.error, r.due) for r in retries] == [
        ("webhook", 1, "HTTP 503", T0 + timedelta(seconds=30)), ("email", 1, "SMTP 451", T0 + timedelta(seconds=30))]
    retries, dead = hand_over(failing, alert, T0, RetryPolicy(give_up_after=timedelta(0)))
    assert (retries, dead) == ([], failing)


def test_settled_attempts_forget_the_oldest_alerts_first(make_alert: Callable[[int], Alert]) -> None:
    seen = SettledAttempts(keep=2)
    first, second, third = (Retry("webhook", make_alert(n).to_json(), 1, T0, T0, "") for n in (8, 9, 10))
    seen.add(first, final=True)
    seen.add(second, final=False)
    seen.add(third, final=False)
    assert not seen.settled(first)  # forgotten: past the two kept
    assert seen.settled(second) and seen.settled(third)
    assert not seen.settled(dataclasses.replace(third, attempt=2))


def test_a_retry_record_round_trips_and_matches_its_schema(make_alert: Callable[[int], Alert]) -> None:
    retry = RetryPolicy().first("email", make_alert(2).to_json(), "SMTP 451", T0)
    assert retry is not None
    doc = json.loads(encode(retry.to_json()))
    validate("alert_retry.v1", doc)
    assert decode(encode(doc), Retry.from_json) == retry
    assert Alert.from_json(retry.alert).alert_id == make_alert(2).alert_id


@pytest.mark.parametrize(("change", "reason"), [
    ({"attempt": True}, "attempt"),
    ({"attempt": -1}, "attempt"),
    ({"attempt": 0}, "attempt"),
    ({"attempt": "3"}, "attempt"),
    ({"sink": ""}, "sink"),
    ({"alert": {"summary": "no id"}}, "alert"),
    ({"due": 1700000000}, "time string"),
    ({"due": None}, "required times"),
    ({"error": 5}, "error"),
])
def test_a_malformed_retry_is_a_message_error(make_alert: Callable[[int], Alert], change: dict, reason: str) -> None:
    retry = RetryPolicy().first("webhook", make_alert(3).to_json(), "HTTP 503", T0)
    assert retry is not None
    with pytest.raises(MessageError, match=reason):
        decode(encode(retry.to_json() | change), Retry.from_json)
    with pytest.raises(MessageError, match="missing field 'due'"):
        decode(encode({k: v for k, v in retry.to_json().items() if k != "due"}), Retry.from_json)


class _Sink(AlertSink):
    def __init__(self, name: str, error: DeliveryError | None) -> None:
        self.name, self.error, self.sent = name, error, 0

    def send(self, alert: Alert) -> None:
        if self.error is not None:
            raise self.error
        self.sent += 1


def test_one_pass_sorts_sinks_into_delivered_retrying_and_dead(make_alert: Callable[[int], Alert]) -> None:
    ok = _Sink("ok-sink", None)
    down = _Sink("down-sink", DeliveryError("HTTP 503 from the webhook"))
    refused = _Sink("refusing-sink", DeliveryError("HTTP 404 from the webhook", retryable=False))
    outcome = deliver_all([ok, down, refused], make_alert(4), retries=0)
    assert outcome.results == {"ok-sink": "delivered", "down-sink": "retrying", "refusing-sink": "dead_lettered"}
    assert outcome.retry == {"down-sink": "HTTP 503 from the webhook"}
    assert outcome.dead == {"refusing-sink": "HTTP 404 from the webhook"}
    assert ok.sent == 1


def test_the_policy_comes_from_settings() -> None:
    policy = retry_policy(Settings(alert_retry_first_seconds=5, alert_retry_max_seconds=40,
                                   alert_retry_give_up_seconds=3600))
    assert (policy.first_delay, policy.max_delay, policy.give_up_after) == (
        timedelta(seconds=5), timedelta(seconds=40), timedelta(hours=1))
    assert retry_policy(Settings()).give_up_after == timedelta(days=1)


@pytest.mark.parametrize("values", [
    {"alert_retry_first_seconds": 0},
    {"alert_retry_first_seconds": 700},  # past the 600 s cap
    {"alert_retry_give_up_seconds": -1},
    {"alert_retry_give_up_seconds": float("inf")},
    {"alert_retry_first_seconds": float("nan")},
])
def test_retry_settings_out_of_range_are_refused(values: dict) -> None:
    with pytest.raises(ValidationError, match="NEWSRIFT_ALERT_RETRY"):
        Settings(**values)


def test_what_follows_an_attempt(make_alert: Callable[[int], Alert]) -> None:
    policy = RetryPolicy(timedelta(seconds=30), timedelta(minutes=10), timedelta(hours=1))
    retry = policy.first("webhook", make_alert(5).to_json(), "HTTP 503", T0)
    assert retry is not None
    now = retry.due
    assert decide(retry, delivered=True, error="", retryable=False, now=now, policy=policy).action == "done"
    refused = decide(retry, delivered=False, error="HTTP 404", retryable=False, now=now, policy=policy)
    assert (refused.action, refused.reason, refused.record) == ("dead", "HTTP 404", None)
    again = decide(retry, delivered=False, error="HTTP 502", retryable=True, now=now, policy=policy)
    assert again.action == "next" and again.record is not None
    assert (again.record.attempt, again.record.due, again.record.error) == (2, now + timedelta(minutes=1), "HTTP 502")
    late = decide(retry, delivered=False, error="HTTP 502", retryable=True, now=T0 + timedelta(minutes=59, seconds=30),
                  policy=policy)
    assert late.action == "dead" and late.record is None
    assert late.reason.startswith("gave up after 1 retries since 2018-02-14T12:00:00Z") and "HTTP 502" in late.reason


def test_the_retrier_tries_the_named_sink_once_and_decides(make_alert: Callable[[int], Alert]) -> None:
    policy = RetryPolicy(timedelta(seconds=30), timedelta(minutes=10), timedelta(days=1))
    ok = _Sink("webhook", None)
    down = _Sink("email", DeliveryError("SMTP 451 try later"))
    retrier = AlertRetrier(Settings(), [ok, down], policy, clock=lambda: T0 + timedelta(minutes=5))
    alert = make_alert(6).to_json()
    first = policy.first("webhook", alert, "HTTP 503", T0)
    assert first is not None
    assert retrier.attempt(first).action == "done" and ok.sent == 1
    to_email = policy.first("email", alert, "SMTP 451", T0)
    assert to_email is not None
    decision = retrier.attempt(to_email)
    assert decision.action == "next" and decision.record is not None
    assert (decision.record.attempt, decision.record.error) == (2, "SMTP 451 try later")
    assert decision.record.due == T0 + timedelta(minutes=5, seconds=60)
    gone = policy.first("slack", alert, "HTTP 503", T0)
    assert gone is not None
    dead = retrier.attempt(gone)
    assert dead.action == "dead" and "sink 'slack' is not configured" in dead.reason and "webhook, email" in dead.reason
    broken = Retry("webhook", {"alert_id": "x", "summary": "no dispute"}, 1, T0, T0, "HTTP 503")
    assert retrier.attempt(broken).action == "dead"
    assert ok.sent == 1


# -- the retrier's loop, over in-memory stand-ins for its two Kafka clients (its Kafka use is tested for real in
# tests/integration/test_alert_retries.py; these check the bookkeeping around it)

class _Msg:
    def __init__(self, tp: Any, offset: int, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = tp.topic, tp.partition, offset, b"k", value


class _Consumer:
    def __init__(self, records: dict[Any, list[bytes]], stop: threading.Event, polls: int) -> None:
        self.log = {tp: [_Msg(tp, i, v) for i, v in enumerate(vals)] for tp, vals in records.items()}
        self.position = {tp: 0 for tp in records}
        self.paused_set: set[Any] = set()
        self.committed: list[tuple[int, int]] = []
        self.stop, self.polls, self.fail_commits = stop, polls, 0
        self.on_poll: Callable[[int], None] = lambda n: None
        self.n = 0

    def poll(self, timeout_ms: int = 0) -> dict[Any, list[_Msg]]:
        self.n += 1
        self.on_poll(self.n)
        if self.n >= self.polls:
            self.stop.set()
        out = {}
        for tp, msgs in self.log.items():
            if tp not in self.paused_set and self.position[tp] < len(msgs):
                out[tp] = msgs[self.position[tp]:self.position[tp] + 10]
                self.position[tp] += len(out[tp])
        return out

    def paused(self) -> set[Any]:
        return set(self.paused_set)

    def pause(self, tp: Any) -> None:
        self.paused_set.add(tp)

    def resume(self, tp: Any) -> None:
        self.paused_set.discard(tp)

    def seek(self, tp: Any, offset: int) -> None:
        self.position[tp] = offset

    def commit(self, offsets: dict[Any, Any], timeout_ms: int | None = None) -> None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise KafkaError("commit failed")
        for tp, om in offsets.items():
            self.committed.append((tp.partition, om.offset))


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> Any:
        self.sent.append((topic, json.loads(value)))
        return type("Ack", (), {"get": lambda self, timeout=None: None})()


def _retrier(sinks: list[AlertSink], now: list[datetime]) -> AlertRetrier:
    policy = RetryPolicy(timedelta(seconds=30), timedelta(minutes=10), timedelta(days=1))
    return AlertRetrier(Settings(topic_prefix="t."), sinks, policy, clock=lambda: now[0])


def _record(make_alert: Callable[[int], Alert], n: int, sink: str, due: datetime) -> bytes:
    retry = Retry(sink, make_alert(n).to_json(), 1, T0, due, "HTTP 503")
    return messages.encode(AlertRetryMessage(retry))


def test_a_retry_not_due_pauses_its_partition_only(make_alert: Callable[[int], Alert]) -> None:
    ok = _Sink("webhook", None)
    now = [T0]
    p0, p1 = TopicPartition("t.news.alerts.retry.v1", 0), TopicPartition("t.news.alerts.retry.v1", 1)
    stop = threading.Event()
    consumer = _Consumer({p0: [_record(make_alert, 1, "webhook", T0 + timedelta(minutes=10)),
                               _record(make_alert, 2, "webhook", T0)],
                          p1: [_record(make_alert, 3, "webhook", T0), _record(make_alert, 4, "webhook", T0)]},
                         stop, polls=6)
    consumer.on_poll = lambda n: now.__setitem__(0, T0 + timedelta(minutes=11)) if n == 3 else None
    producer = _Producer()
    _retrier([ok], now)._loop(stop, consumer, producer)  # type: ignore[arg-type]
    # Partition 1 went on at once; partition 0 waited for its first record, then took the one behind it.
    assert consumer.committed == [(1, 1), (1, 2), (0, 1), (0, 2)]
    assert ok.sent == 4 and producer.sent == [] and consumer.paused_set == set()


def test_a_record_read_again_is_not_settled_twice(make_alert: Callable[[int], Alert]) -> None:
    down = _Sink("webhook", DeliveryError("HTTP 503"))
    now = [T0]
    p0 = TopicPartition("t.news.alerts.retry.v1", 0)
    stop = threading.Event()
    consumer = _Consumer({p0: [_record(make_alert, 1, "webhook", T0)]}, stop, polls=3)
    consumer.fail_commits = 1
    producer = _Producer()
    retrier = _retrier([down], now)
    with pytest.raises(KafkaError):  # the next retry is out, its commit is not: run() starts over
        retrier._loop(stop, consumer, producer)  # type: ignore[arg-type]
    assert [topic for topic, _ in producer.sent] == ["t.news.alerts.retry.v1"]
    consumer.position[p0] = 0  # the new consumer starts at the committed offset
    retrier._loop(stop, consumer, producer)  # type: ignore[arg-type]
    assert len(producer.sent) == 1  # one chain, not two
    assert consumer.committed == [(0, 1)]


def test_a_held_record_of_a_partition_assigned_afresh_is_dropped(make_alert: Callable[[int], Alert]) -> None:
    ok = _Sink("webhook", None)
    now = [T0]
    p0 = TopicPartition("t.news.alerts.retry.v1", 0)
    stop = threading.Event()
    consumer = _Consumer({p0: [_record(make_alert, 1, "webhook", T0 + timedelta(minutes=1))]}, stop, polls=5)

    def lose_membership(n: int) -> None:
        if n == 2:  # the group forgot this member: assigned again, unpaused, back at the committed offset
            consumer.paused_set.clear()
            consumer.position[p0] = 0
        if n == 4:
            now[0] = T0 + timedelta(minutes=2)

    consumer.on_poll = lose_membership
    _retrier([ok], now)._loop(stop, consumer, _Producer())  # type: ignore[arg-type]
    assert ok.sent == 1 and consumer.committed == [(0, 1)]


def test_a_record_that_keeps_breaking_the_retrier_is_dead_lettered(make_alert: Callable[[int], Alert]) -> None:
    class Broken(_Sink):
        def send(self, alert: Alert) -> None:
            raise RuntimeError("a bug")

    now = [T0]
    p0 = TopicPartition("t.news.alerts.retry.v1", 0)
    producer = _Producer()
    retrier = _retrier([Broken("webhook", None)], now)
    # A sink that raises something else than DeliveryError is a retryable failure, not a crash:
    stop = threading.Event()
    retrier._loop(stop, _Consumer({p0: [_record(make_alert, 1, "webhook", T0)]}, stop, polls=2),  # type: ignore
                  producer)
    assert [(t, r["attempt"], r["error"]) for t, r in producer.sent] == [
        ("t.news.alerts.retry.v1", 2, "RuntimeError: a bug")]
    # One that breaks the settling itself five times goes to the retry topic's dead letters.
    producer.sent.clear()
    retrier.attempt = lambda retry: (_ for _ in ()).throw(RuntimeError("worse"))  # type: ignore[method-assign]
    for _ in range(5):
        stop = threading.Event()
        with pytest.raises(RuntimeError):
            retrier._loop(stop, _Consumer({p0: [_record(make_alert, 2, "webhook", T0)]}, stop, polls=2),  # type: ignore
                          producer)
    stop = threading.Event()
    consumer = _Consumer({p0: [_record(make_alert, 2, "webhook", T0)]}, stop, polls=2)
    retrier._loop(stop, consumer, producer)  # type: ignore[arg-type]
    assert [t for t, _ in producer.sent] == ["t.news.alerts.retry.v1.dlq"]
    assert producer.sent[0][1]["stage"] == "retry_alerts" and consumer.committed == [(0, 1)]
