"""Real servers for the licensing tests (an aiosmtpd inbox, the licence service under uvicorn)
and the checks that the harness itself delivers a proper verification mail.

Other licensing test files import `running_inbox`, `running_service` and friends from here.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiosmtpd.controller import Controller

from runtime.licensing.licence import DEVELOPMENT_SIGNING_KEY, issue_licence, load_private_key
from runtime.licensing.server.app import ServiceConfig, add_purchase, create_app
from tests.data.sfm_crafted import BUILD_NUMBER, MODULE_ID

MODULE = MODULE_ID
BUILD = BUILD_NUMBER


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every delivered message."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.arrived:
            self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The first `count` messages, parsed; fails the test if they do not arrive in time."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"expected {count} mails, got {len(self.messages)}"
                self.arrived.wait(left)
            raw = [content for _, content in self.messages[:count]]
        return [
            email.message_from_bytes(content, policy=email.policy.default)  # type: ignore[misc]
            for content in raw
        ]


@contextmanager
def running_inbox() -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 (a free port) collecting mail into an `Inbox`."""
    inbox = Inbox(port=free_port())
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@contextmanager
def running_service(db_dir: Path, smtp_port: int) -> Iterator[str]:
    """The real licence service under uvicorn in a thread; yields its base URL."""
    key = load_private_key(DEVELOPMENT_SIGNING_KEY.read_bytes(), "dev key")
    app = create_app(
        ServiceConfig(
            db_dir=db_dir,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            signing_key=key,
            module_names=((MODULE, "Breakthrough"),),
        )
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="licence-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the service did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def code_from(message: EmailMessage) -> str:
    """The 6-digit code in a verification mail's text."""
    body = message.get_content()
    found = re.findall(r"^\s+(\d{6})\s*$", body, flags=re.MULTILINE)
    assert found, f"no code in the mail:\n{body}"
    return str(found[0])


def dev_licence(hardware_id: str, module_id: str = MODULE, max_build: int = BUILD) -> str:
    """A licence file signed with the development key (the key a default build trusts)."""
    key = load_private_key(DEVELOPMENT_SIGNING_KEY.read_bytes(), "dev key")
    return issue_licence(
        key,
        module_id=module_id,
        hardware_id=hardware_id,
        email="chef@example.com",
        max_build=max_build,
        issued="2026-11-26T07:00:00+00:00",
    )


# ---- the harness's own checks: a real mail, a proper MIME message in German and English ----


def test_verification_mail_is_a_proper_bilingual_mime_message(tmp_path: Path) -> None:
    with running_inbox() as inbox, running_service(tmp_path / "svc", inbox.port) as url:
        add_purchase(tmp_path / "svc", "Chef@Example.com", MODULE, BUILD, int(time.time()))
        answer = httpx.post(
            f"{url}/api/v1/verify",
            json={"module_id": MODULE, "hardware_id": "a" * 32, "email": "chef@example.com"},
        )
        assert answer.status_code == 202
        (mail,) = inbox.wait_for(1)
        assert inbox.messages[0][0] == ["chef@example.com"]
    assert mail["To"] == "chef@example.com"
    assert mail["MIME-Version"] == "1.0"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail["Content-Language"] == "de, en"
    assert "Bestätigungscode" in mail["Subject"] and "verification code" in mail["Subject"]
    body = mail.get_content()
    assert "Bestätigungscode" in body and "15 Minuten" in body
    assert "verification code" in body and "15 minutes" in body
    assert "Breakthrough" in body
    assert re.fullmatch(r"\d{6}", code_from(mail))


def test_header_injection_through_the_address_is_refused(tmp_path: Path) -> None:
    with running_inbox() as inbox, running_service(tmp_path / "svc", inbox.port) as url:
        for evil in (
            "chef@example.com\r\nBcc: victim@example.org",
            "chef@example.com\nSubject: hi",
            "Chef <chef@example.com>",
            "a@b.de, c@d.de",
        ):
            answer = httpx.post(
                f"{url}/api/v1/verify",
                json={"module_id": MODULE, "hardware_id": "a" * 32, "email": evil},
            )
            assert answer.status_code == 400, evil
            assert "email" in answer.json()["error"]
        # A request that does mail, after the refused ones: once its mail is in, a mail of
        # theirs would have been sent before it.
        add_purchase(tmp_path / "svc", "chef@example.com", MODULE, BUILD, int(time.time()))
        sentinel = httpx.post(
            f"{url}/api/v1/verify",
            json={"module_id": MODULE, "hardware_id": "a" * 32, "email": "chef@example.com"},
        )
        assert sentinel.status_code == 202
        inbox.wait_for(1)
        assert [to for to, _ in inbox.messages] == [["chef@example.com"]]
