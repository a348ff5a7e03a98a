"""Sinks against real local servers: delivery, retries, dead letters, rate limit, dedupe across restarts."""

from __future__ import annotations

import email
import json
import time
from collections.abc import Callable
from typing import Any

from newsrift.stages.alerts import Alert, AlertDedupe, Deliverer, EmailSink, RateLimiter, WebhookSink
from tests.unit.alerts.conftest import Receiver, SmtpServer, free_port


class DeadLetters(list[tuple[str, str, str]]):
    def __call__(self, alert: Alert, sink: str, error: BaseException) -> None:
        self.append((alert.alert_id, sink, str(error)))


def deliverer(sink: Any, state: dict[str, Any], dead: DeadLetters, **kw: Any) -> Deliverer:
    return Deliverer(sink, dedupe=AlertDedupe(state), dead_letter=dead, backoff=0.01, **kw)


def test_webhook_delivers_json_once_across_restarts(webhook: Receiver, make_alert: Callable[[int], Alert]) -> None:
    alert, dead = make_alert(1), DeadLetters()
    state: dict[str, Any] = {}
    sink = WebhookSink(webhook.url)
    assert deliverer(sink, state, dead).deliver(alert) == "delivered"
    (req,) = webhook.requests
    assert req["json"] == alert.to_json()
    assert req["headers"]["Idempotency-Key"] == alert.alert_id
    # A restart: a new deliverer over a copy of the persisted dedupe state, and the same alert replayed.
    restored = json.loads(json.dumps(state))
    assert deliverer(WebhookSink(webhook.url), restored, dead).deliver(alert) == "duplicate"
    assert len(webhook.requests) == 1 and dead == []
    sink.close()


def test_slack_payload(webhook: Receiver, make_alert: Callable[[int], Alert]) -> None:
    sink = WebhookSink(webhook.url, slack=True, name="slack")
    assert deliverer(sink, {}, DeadLetters()).deliver(make_alert(2)) == "delivered"
    body = webhook.requests[0]["json"]
    assert set(body) == {"text", "blocks"}
    assert "James Mattis" in body["text"]
    assert [b["type"] for b in body["blocks"]] == ["header", "context", "section", "section"]


def test_webhook_retries_with_backoff_then_delivers(webhook: Receiver, make_alert: Callable[[int], Alert]) -> None:
    webhook.fail_next = 2
    d = deliverer(WebhookSink(webhook.url), {}, DeadLetters(), retries=3)
    assert d.deliver(make_alert(3)) == "delivered"
    assert len(webhook.requests) == 1 and webhook.fail_next == 0
    assert [d.delay(i) for i in (1, 2, 3)] == [0.01, 0.02, 0.04]


def test_webhook_down_goes_to_dead_letter_after_retries(make_alert: Callable[[int], Alert]) -> None:
    dead = DeadLetters()
    state: dict[str, Any] = {}
    alert = make_alert(4)
    sink = WebhookSink(f"http://127.0.0.1:{free_port()}/hook", timeout=1.0)  # nothing listens there
    t0 = time.monotonic()
    assert deliverer(sink, state, dead, retries=2).deliver(alert) == "dead_lettered"
    assert time.monotonic() - t0 >= 0.01 + 0.02
    assert [(a, s) for a, s, _ in dead] == [(alert.alert_id, "webhook")]
    assert "ConnectError" in dead[0][2]
    # Replayed after the restart: not sent again, not dead-lettered twice.
    assert deliverer(sink, json.loads(json.dumps(state)), dead, retries=2).deliver(alert) == "duplicate"
    assert len(dead) == 1


def test_client_errors_are_not_retried(webhook: Receiver, make_alert: Callable[[int], Alert]) -> None:
    webhook.fail_next, webhook.fail_status = 5, 400
    dead = DeadLetters()
    assert deliverer(WebhookSink(webhook.url), {}, dead, retries=4).deliver(make_alert(5)) == "dead_lettered"
    assert webhook.fail_next == 4 and "HTTP 400" in dead[0][2]


def test_rate_limit_is_respected(webhook: Receiver, make_alert: Callable[[int], Alert]) -> None:
    alerts = [make_alert(10 + i) for i in range(5)]
    d = deliverer(WebhookSink(webhook.url), {}, DeadLetters(), limiter=RateLimiter(rate=20, burst=1))
    assert [d.deliver(a) for a in alerts] == ["delivered"] * 5
    times = [r["at"] for r in webhook.requests]
    assert len(times) == 5
    assert times[-1] - times[0] >= 4 / 20 - 0.02  # 5 sends at 20/s with no burst: at least 0.2 s apart end to end


def test_email_over_real_smtp_once_across_restarts(smtp_server: SmtpServer, make_alert: Callable[[int], Alert]) -> None:
    alert, dead = make_alert(20), DeadLetters()
    state: dict[str, Any] = {}
    sink = EmailSink(smtp_server.host, smtp_server.port, sender="newsrift@example.org", recipients=["desk@example.org"])
    assert deliverer(sink, state, dead).deliver(alert) == "delivered"
    assert deliverer(sink, json.loads(json.dumps(state)), dead).deliver(alert) == "duplicate"
    (env,) = smtp_server.inbox.messages
    assert env.rcpt_tos == ["desk@example.org"]
    msg = email.message_from_bytes(env.content)  # type: ignore[arg-type]
    assert msg["Message-ID"] == f"<{alert.alert_id}@newsrift.invalid>"
    assert "non-confirmation dispute" in msg["Subject"]
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    assert "no knowledge of Russian fighters being killed" in body and dead == []


def test_email_server_down_dead_letters(make_alert: Callable[[int], Alert]) -> None:
    dead = DeadLetters()
    sink = EmailSink("127.0.0.1", free_port(), sender="a@example.org", recipients=["b@example.org"], timeout=1)
    assert deliverer(sink, {}, dead, retries=1).deliver(make_alert(21)) == "dead_lettered"
    assert dead[0][1] == "email"


def test_dedupe_first_time_and_prune(make_alert: Callable[[int], Alert]) -> None:
    from datetime import datetime, timedelta, timezone

    state: dict[str, Any] = {}
    dd = AlertDedupe(state, keep_for=timedelta(days=1))
    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert dd.first_time("x", now=t) and not dd.first_time("x", now=t)
    assert dd.prune(t + timedelta(days=2)) == 1 and dd.first_time("x", now=t)


def test_prune_touches_only_the_partition_in_hand_and_only_when_due() -> None:
    from datetime import datetime, timedelta, timezone

    state: dict[str, Any] = {}
    dd = AlertDedupe(state, keep_for=timedelta(days=1), prune_every=timedelta(hours=1))
    t = datetime(2024, 1, 1, tzinfo=timezone.utc)
    dd.mark("old0", "delivered", "webhook", now=t, partition=0)
    dd.mark("old1", "delivered", "webhook", now=t, partition=1)
    dd.mark("new0", "delivered", "webhook", now=t + timedelta(days=2), partition=0)
    later = t + timedelta(days=2, hours=1)
    # A Faust table writes a delete to the changelog partition of the message in hand: partition 1's mark stays.
    assert dd.prune_due(later, partition=0) == 1
    assert not dd.seen("old0", "webhook") and dd.seen("old1", "webhook") and dd.seen("new0", "webhook")
    assert dd.prune_due(later + timedelta(minutes=59), partition=0) is None  # not due again yet
    assert dd.prune_due(later, partition=1) == 1  # each partition keeps its own schedule
    assert dd.prune_due(later + timedelta(hours=1), partition=0) == 0
    assert state["webhook\x1fnew0"]["p"] == 0
    state["webhook\x1fbefore"] = {"outcome": "delivered", "at": "2024-01-01T00:00:00Z"}  # no partition recorded
    assert dd.prune_due(later + timedelta(hours=3), partition=1) == 1 and not dd.seen("before", "webhook")


def test_a_replayed_change_is_delivered_to_the_sinks_a_dead_worker_had_not_marked(
    make_alert: Callable[[int], Alert],
) -> None:
    from newsrift.stages.alerts.runtime import still_to_deliver

    alert = make_alert(31)
    webhook = WebhookSink("http://127.0.0.1:9/hook")
    email_sink = EmailSink("127.0.0.1", 9, sender="a@x", recipients=["b@x"])
    dd = AlertDedupe({})
    assert dd.first_time(alert.alert_id, "topic")  # the worker wrote this, then died while delivering
    both = frozenset({"webhook", "email"})
    assert [s.name for s in still_to_deliver(dd, alert, [webhook, email_sink], both)] == ["webhook", "email"]
    dd.mark(alert.alert_id, "delivered", "webhook")
    assert [s.name for s in still_to_deliver(dd, alert, [webhook, email_sink], both)] == ["email"]
    dd.mark(alert.alert_id, "dead_lettered", "email")
    assert still_to_deliver(dd, alert, [webhook, email_sink], both) == []
    # A sink the plan leaves out (watchlists) is not owed it.
    assert still_to_deliver(AlertDedupe({}), alert, [webhook, email_sink], frozenset({"email"})) == [email_sink]
    webhook.close()
