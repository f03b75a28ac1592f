"""Stand-ins for the vendors, shared by the notify tests: a real HTTP server on 127.0.0.1 that
plays a DingTalk/WeCom/Feishu robot (records each POST, answers from a script) and a real SMTP
server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Answer:
    status: int = 200
    body: dict[str, Any] | str = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Posted:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


class RobotServer:
    """Answers each POST with the next scripted `Answer` (then with `default`)."""

    def __init__(self, default: Answer | None = None, *, delay: float = 0.0) -> None:
        self.default = default or Answer()
        self.script: list[Answer] = []
        self.posts: list[Posted] = []
        self.delay = delay
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "/robot/send") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def start(self) -> RobotServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        robot = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if robot.delay:
                    time.sleep(robot.delay)
                with robot._lock:
                    robot.posts.append(
                        Posted(
                            parts.path,
                            query,
                            {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw),
                        )
                    )
                    answer = robot.script.pop(0) if robot.script else robot.default
                body = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
                data = body.encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


class Mailbox:
    """An aiosmtpd handler: refuses recipients starting with "reject" (550) or "busy" (450)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("reject"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy"):
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.received.append((str(envelope.mail_from), list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def mails(self) -> list[EmailMessage]:
        parsed = [message_from_bytes(raw, policy=policy.default) for _, _, raw in self.received]
        return [mail for mail in parsed if isinstance(mail, EmailMessage)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(*, login: tuple[str, str] | None = None) -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on 127.0.0.1; with `login`, it requires AUTH with that user/password."""
    mailbox = Mailbox()
    extra: dict[str, Any] = {}
    if login is not None:

        def authenticator(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
        ) -> AuthResult:
            good = (
                isinstance(auth_data, LoginPassword)
                and (
                    auth_data.login.decode(),
                    auth_data.password.decode(),
                )
                == login
            )
            return AuthResult(success=good, handled=False)  # handled=False: the server answers 535

        extra = {"authenticator": authenticator, "auth_require_tls": False, "auth_required": True}
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
