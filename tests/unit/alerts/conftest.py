"""Real local receivers for sink tests: an HTTP webhook receiver and an aiosmtpd SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from newsrift.stages.alerts import Alert, alert_from_change
from newsrift.stages.disputes import DisputeDetector, EventDisputes
from tests.unit.disputes.helpers import claim, later


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    fail_status: int = 503


@pytest.fixture()
def webhook() -> Iterator[Receiver]:
    rec = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                failing = rec.fail_next > 0
                if failing:
                    rec.fail_next -= 1
                else:
                    rec.requests.append(
                        {"at": time.monotonic(), "headers": dict(self.headers), "json": json.loads(body)}
                    )
            self.send_response(rec.fail_status if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield rec
    server.shutdown()
    server.server_close()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: _Inbox


@pytest.fixture()
def smtp_server() -> Iterator[SmtpServer]:
    inbox = _Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield SmtpServer("127.0.0.1", port, inbox)
    ctl.stop()


@pytest.fixture()
def make_alert() -> Callable[[int], Alert]:
    """Alert n: a numeric dispute in event ev-n (distinct ids, deterministic)."""

    def make(n: int = 0) -> Alert:
        det = DisputeDetector()
        state = EventDisputes()
        ev = f"ev-{n}"
        det.update(
            state,
            claim(
                "Kremlin-linked reporters",
                "Russian nationals had been killed",
                event=ev,
                action="kill",
                actors=("US-backed Kurdish fighters", "Russian nationals"),
                outlet="o-rt",
                cid=f"k{n}",
                article=f"ak{n}",
                stype="media",
            ),
            later(0),
        )
        (change,) = det.update(
            state,
            claim(
                "James Mattis",
                "no knowledge of Russian fighters being killed",
                event=ev,
                pol="no_knowledge",
                action="kill",
                cid=f"m{n}",
                article=f"am{n}",
                actors=("US-led coalition", "Russian fighters"),
                outlet="o-ap",
            ),
            later(1),
        )
        return alert_from_change(change)

    return make
