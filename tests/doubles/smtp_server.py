"""A local SMTP server (aiosmtpd, RFC 5321) on 127.0.0.1 that keeps every message it is sent, parsed, for tests
of e-mail notifications to read back. It speaks real SMTP over TCP, so the client is exercised end to end:
the envelope, the headers' encoding (a Russian subject must come back as Russian) and the body's charset.

`SmtpServer` is a context manager serving on a free port (aiosmtpd's `Controller` runs its own event loop in a
thread); the `smtp_server_session` fixture shares one per session and `smtp` hands each test that server with
its inbox emptied (register them with `pytest_plugins = ["tests.doubles.smtp_server"]` in tests/conftest.py).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import Any, Self

import pytest
from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


class _Collector:
    """aiosmtpd's handler: accepts every message and keeps it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: list[ReceivedMail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.received.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class SmtpServer:
    host = "127.0.0.1"

    def __init__(self) -> None:
        self._collector = _Collector()
        self.port = free_port()
        self._controller = Controller(self._collector, hostname=self.host, port=self.port)

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[ReceivedMail]:
        """What it was sent, oldest first."""
        with self._collector._lock:
            return list(self._collector.received)

    def reset(self) -> None:
        with self._collector._lock:
            self._collector.received.clear()


@pytest.fixture(scope="session", name="smtp_server_session")
def smtp_server_session_fixture() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture(name="smtp")
def smtp_fixture(smtp_server_session: SmtpServer) -> Iterator[SmtpServer]:
    """The session's SMTP server with an empty inbox for this test."""
    smtp_server_session.reset()
    yield smtp_server_session
    smtp_server_session.reset()
