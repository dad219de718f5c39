"""What the notification tests share: a real SMTP server on loopback (aiosmtpd) that keeps what
it receives, can refuse for a while or stall, and a city wired to it and to the SMS simulator."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from dataclasses import dataclass, field
from email.message import Message as EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import update
from support import settled, wait_until

from kotalive.auth.crypto import Vault
from kotalive.auth.models import Citizen, Employee
from kotalive.events import wait_for_relays
from kotalive.notify.dispatch import wait_for_hand_overs
from kotalive.tenants.integrations import set_integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """The SMTP server's handler: the messages it accepted; ``refuse`` answers 451 (try again)."""

    received: list[EmailMessage] = field(default_factory=list)
    refuse: int = 0  # refuse the next this many messages
    stall: threading.Event | None = None  # hold DATA until set (a slow server)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.stall is not None:
            await asyncio.to_thread(self.stall.wait, 30)
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return "451 4.3.0 try again later"
            self.received.append(email.message_from_bytes(envelope.content))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.received if m["To"] == address]


class SmtpServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def settings(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "from_address": "laksa@kota.test",
            "from_name": "Laksa Kota Uji",
            "timeout_seconds": 5,
        }


async def wire(
    database: Any,
    settings: Any,
    city: Any,
    *,
    smtp: SmtpServer | None = None,
    sims: Any = None,
    demo: str = "tangerang",
) -> None:
    """Connect ``city`` to the test SMTP server and the SMS simulator of ``demo``."""
    vault = Vault.from_settings(settings)
    async with database.tenant_session(city) as session:
        if smtp is not None:
            await set_integration(session, vault, "smtp", config=smtp.settings(), secrets={})
        if sims is not None:
            sms = dict(sims.city_settings(demo)["sms"])
            key = sms.pop("api_key")
            await set_integration(session, vault, "sms", config=sms, secrets={"api_key": key})
        await session.commit()


async def with_contact(
    database: Any, city: Any, person: Any, *, email: str | None = None, phone: str | None = None
) -> None:
    """Give a test person an e-mail address or phone number."""
    async with database.tenant_session(city) as s:
        model = Employee if person.principal.kind == "employee" else Citizen
        values = {k: v for k, v in (("email", email), ("phone", phone)) if v}
        await s.execute(update(model).where(model.id == person.id).values(**values))
        await s.commit()


async def settle(broker: Any) -> None:
    """Wait until events, their consumers and the deliveries they made have all been handled."""
    await wait_for_relays()
    await wait_until(settled(broker), "the queues to drain", 20)
    await wait_for_hand_overs()
    await wait_until(settled(broker), "the deliveries to drain", 20)
