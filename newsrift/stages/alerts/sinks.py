"""Alert sinks: small plug-ins behind one base class. Each ``send`` delivers one alert or raises DeliveryError.

Sinks are synchronous (httpx.Client, smtplib); an async agent calls them through ``asyncio.to_thread``. Receivers
can dedupe too: the webhook sends ``Idempotency-Key: <alert_id>``, the e-mail a Message-ID derived from it.
"""

from __future__ import annotations

import abc
import json
import smtplib
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx

from newsrift.errors import NewsriftError
from newsrift.stages.alerts.model import Alert

__all__ = ["AlertSink", "DeliveryError", "EmailSink", "WebhookSink", "slack_payload"]


class DeliveryError(NewsriftError):
    """A sink could not deliver an alert. ``retryable`` is False when trying again cannot help (a 4xx, a refused
    recipient); then the alert goes straight to the dead letter."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class AlertSink(abc.ABC):
    """One destination. ``name`` keys rate limits, dedupe entries and dead letters."""

    name: str

    @abc.abstractmethod
    def send(self, alert: Alert) -> None: ...

    def send_notice(self, notice_id: str, subject: str, text: str, data: Mapping[str, Any]) -> None:
        """Deliver an operational notice that is no dispute alert (a feed found dead, say): ``subject`` one line,
        ``text`` the body, ``data`` a JSON-able record. Sinks that cannot say so refuse for good."""
        raise DeliveryError(f"{self.name}: does not deliver notices", retryable=False)

    def close(self) -> None:  # noqa: B027 - optional hook, most sinks hold nothing
        """Release connections."""


def slack_payload(alert: Alert) -> dict[str, Any]:
    """Slack-compatible incoming-webhook body: ``text`` for notifications, ``blocks`` for the layout."""
    d = alert.dispute
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Dispute ({d.kind}): {d.topic}"[:150]}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"*{alert.change}* · status {d.status} · confidence {d.confidence:.2f}"
                    f" · event `{d.event_id}`",
                }
            ],
        },
    ]
    for s in d.sides:
        pol = "" if s.polarity == "asserts" else f" _({s.polarity.replace('_', ' ')})_"
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{s.speaker}*{pol}: \u201c{s.quote[:500]}\u201d\n{', '.join(s.outlets) or 'no outlet'}",
                },
            }
        )
    return {"text": alert.summary[:3000], "blocks": blocks}


class WebhookSink(AlertSink):
    """JSON POST of the alert (or a Slack-compatible body with ``slack=True``)."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "webhook",
        slack: bool = False,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.slack = slack
        self._headers = dict(headers or {})
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._own_client = client is None

    def send(self, alert: Alert) -> None:
        self._post(slack_payload(alert) if self.slack else alert.to_json(), alert.alert_id)

    def send_notice(self, notice_id: str, subject: str, text: str, data: Mapping[str, Any]) -> None:
        body = {"text": text[:3000]} if self.slack else {"notice_id": notice_id, "summary": subject, **data}
        self._post(body, notice_id)

    def _post(self, body: Mapping[str, Any], key: str) -> None:
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, **self._headers}
        try:
            r = self._client.post(self.url, content=json.dumps(body, ensure_ascii=False).encode(), headers=headers)
        except httpx.HTTPError as e:
            raise DeliveryError(f"webhook {self.name}: {type(e).__name__}: {e}") from e
        if r.is_success:
            return
        # 408 and 429 are "later", 5xx is "broken now"; other 4xx mean the request itself is wrong.
        retryable = r.status_code in (408, 429) or r.status_code >= 500
        raise DeliveryError(f"webhook {self.name}: HTTP {r.status_code}", retryable=retryable)

    def close(self) -> None:
        if self._own_client:
            self._client.close()


class EmailSink(AlertSink):
    """Plain-text e-mail over SMTP (optionally STARTTLS and login), one message per alert."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        recipients: Sequence[str],
        name: str = "email",
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        if not recipients:
            raise ValueError("an e-mail sink needs at least one recipient")
        self.name = name
        self.host, self.port = host, port
        self.sender, self.recipients = sender, list(recipients)
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    def message(self, alert: Alert) -> EmailMessage:
        d = alert.dispute
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Subject"] = f"[newsrift] {d.kind.replace('_', '-')} dispute ({alert.change}): {d.topic}"[:200]
        msg["Message-ID"] = f"<{alert.alert_id}@newsrift.invalid>"
        msg["X-Newsrift-Dispute"] = d.dispute_id
        if alert.created is not None:
            msg["Date"] = format_datetime(alert.created)
        lines = [
            alert.summary,
            "",
            f"dispute {d.dispute_id} · event {d.event_id} · status {d.status} · confidence {d.confidence:.2f}",
            "",
        ]
        for s in d.sides:
            lines += [
                f"{s.speaker} ({s.polarity.replace('_', ' ')}), {', '.join(s.outlets)}:",
                f"  \u201c{s.quote}\u201d",
                f"  article {s.article_id}, characters {s.start}-{s.end}",
                "",
            ]
        lines += [f"note: {n}" for n in d.notes]
        msg.set_content("\n".join(lines))
        return msg

    def send(self, alert: Alert) -> None:
        self._deliver(self.message(alert))

    def send_notice(self, notice_id: str, subject: str, text: str, data: Mapping[str, Any]) -> None:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Subject"] = f"[newsrift] {subject}"[:200]
        msg["Message-ID"] = f"<{notice_id}@newsrift.invalid>"
        msg.set_content(text)
        self._deliver(msg)

    def _deliver(self, msg: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError) as e:
            raise DeliveryError(f"email {self.name}: refused: {e}", retryable=False) from e
        except smtplib.SMTPResponseException as e:
            raise DeliveryError(f"email {self.name}: SMTP {e.smtp_code}", retryable=e.smtp_code < 500) from e
        except (TimeoutError, smtplib.SMTPException, OSError) as e:
            raise DeliveryError(f"email {self.name}: {type(e).__name__}: {e}") from e
