"""Mail sink: one SMTP server (aiosmtpd) for every demo city that keeps what it is sent in memory
instead of delivering it, with an inbox page and a JSON API (contract in ../README.md).

SMTP: plain SMTP on loopback (no TLS: the city's "smtp" integration uses ``security: none``), AUTH
PLAIN or LOGIN with the city's username and password; the login names the city a message belongs
to. Without AUTH, MAIL FROM is refused (530), as a relay for many customers would.

HTTP (on the SMS simulator's port, beside the SMS inbox): ``GET /{city}/api/v1/mail?to=`` (API key =
the city's SMTP password) and ``GET /{city}/mail`` (a page for people; refreshes itself).
"""

from __future__ import annotations

import email
import email.policy
import hmac
import itertools
import logging
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from litestar import MediaType, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from kotalive_simulators.common import CityGate, error

MAILBOX_LIMIT = 1000
DATA_SIZE_LIMIT = 10 * 1024 * 1024
HOSTNAME = "mail.kotalive-simulators.localhost"


class _QuietLoginData(logging.Filter):
    """aiosmtpd 1.4 logs "Session.login_data is deprecated" on every successful AUTH, from its own
    code: that line says nothing to someone reading `make run`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Session.login_data is deprecated")


_smtp_log = logging.getLogger("mail.log")
_smtp_log.addFilter(_QuietLoginData())
# aiosmtpd narrates every SMTP command at INFO; make run's output should show what matters.
_smtp_log.setLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class Mail:
    """One message the sink accepted: the envelope, the headers people read, the plain text."""

    id: str
    mail_from: str  # envelope sender
    rcpt_to: tuple[str, ...]  # envelope recipients
    from_header: str
    to: tuple[str, ...]  # addresses of the To header
    subject: str
    text: str
    message_id: str | None
    headers: dict[str, str]
    received_at: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rcpt_to"] = list(self.rcpt_to)
        data["to"] = list(self.to)
        return data

    def addressed_to(self, address: str) -> bool:
        wanted = address.strip().lower()
        return wanted in {a.lower() for a in (*self.rcpt_to, *self.to)}


def _plain_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        return str(body.get_content())
    except (LookupError, KeyError, ValueError):  # an unknown charset or a broken part
        payload = body.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)


def parse(raw: bytes, *, mail_id: str, mail_from: str, rcpt_to: list[str]) -> Mail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    to = tuple(addr for _, addr in getaddresses([str(v) for v in message.get_all("To", [])]) if addr)
    kept = ("From", "To", "Cc", "Subject", "Message-ID", "Date", "Auto-Submitted", "Content-Type")
    return Mail(
        id=mail_id,
        mail_from=mail_from,
        rcpt_to=tuple(rcpt_to),
        from_header=str(message.get("From", "")),
        to=to,
        subject=str(message.get("Subject", "")),
        text=_plain_text(message),
        message_id=str(message["Message-ID"]) if message.get("Message-ID") else None,
        headers={k: str(message[k]) for k in kept if message.get(k) is not None},
        received_at=datetime.now().astimezone().isoformat(timespec="seconds"),
    )


@dataclass(slots=True)
class MailFaults:
    """The next ``fail_count`` messages of a city are answered ``fail_code`` (451: try again later,
    550: refused for good) instead of being kept."""

    fail_count: int = 0
    fail_code: int = 451

    def reset(self) -> None:
        self.fail_count, self.fail_code = 0, 451


@dataclass
class Mailbox:
    """Every message one city sent, oldest first (bounded)."""

    city: str
    messages: list[Mail] = field(default_factory=list)
    faults: MailFaults = field(default_factory=MailFaults)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> str:
        return f"{self.city}-mail-{next(self._ids):06d}"

    def add(self, mail: Mail) -> None:
        self.messages.append(mail)
        del self.messages[:-MAILBOX_LIMIT]

    def for_address(self, to: str | None) -> list[Mail]:
        return [m for m in self.messages if to is None or m.addressed_to(to)]


class MailSink:
    """The state of the sink and its aiosmtpd handler: ``credentials`` is city -> (username,
    password); the messages are read by the SMTP thread and by tests, hence the lock."""

    def __init__(self, credentials: dict[str, tuple[str, str]]) -> None:
        self.credentials = credentials
        self.by_username = {user: city for city, (user, _) in credentials.items()}
        self.mailboxes = {city: Mailbox(city) for city in credentials}
        self.lock = threading.Lock()

    # ---- reading (tests, the HTTP side) --------------------------------------------------------

    def messages(self, city: str, to: str | None = None) -> list[Mail]:
        with self.lock:
            return self.mailboxes[city].for_address(to)

    def faults(self, city: str) -> MailFaults:
        return self.mailboxes[city].faults

    def reset(self, city: str) -> None:
        with self.lock:
            self.mailboxes[city] = Mailbox(city)

    # ---- SMTP ------------------------------------------------------------------------------------

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username = auth_data.login.decode("utf-8", "replace")
        city = self.by_username.get(username)
        if city is not None:
            expected = self.credentials[city][1].encode()
            if hmac.compare_digest(auth_data.password, expected):
                return AuthResult(success=True, auth_data=city)
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required: log in with the city's SMTP username and password"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            Address(addr_spec=address)
        except (ValueError, IndexError, TypeError):
            return f"553 5.1.3 not a valid address: {address[:100]}"
        if "@" not in address:
            return f"553 5.1.3 not a valid address: {address[:100]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        city = session.auth_data if isinstance(session.auth_data, str) else None
        if city is None or city not in self.mailboxes:
            return "530 5.7.0 Authentication required"
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw).encode()
        with self.lock:
            box = self.mailboxes[city]
            if box.faults.fail_count > 0:
                box.faults.fail_count -= 1
                code = box.faults.fail_code
                return f"{code} {'4.3.0 simulated: try again later' if code < 500 else '5.7.1 simulated refusal'}"
            mail = parse(
                raw, mail_id=box.next_id(), mail_from=envelope.mail_from or "", rcpt_to=envelope.rcpt_tos
            )
            box.add(mail)
        return f"250 2.0.0 OK queued as {mail.id}"

    def protocol(self) -> SMTP:
        """A new SMTP protocol (one per connection) for ``loop.create_server``."""
        return SMTP(
            self,
            hostname=HOSTNAME,
            ident="Kota Live mail sink (development only)",
            data_size_limit=DATA_SIZE_LIMIT,
            enable_SMTPUTF8=True,
            # Loopback only, for development: the password travels without TLS, as the demo's
            # "security: none" says. Mail without AUTH is refused in handle_MAIL.
            auth_require_tls=False,
            authenticator=self.authenticate,
            timeout=60,
        )


# ---- HTTP: the inbox page and the API (served by the SMS simulator's app) -------------------------------


def _page(city: str, messages: list[Mail]) -> str:
    from html import escape

    rows = "".join(
        f"<tr><td>{escape(m.received_at)}</td><td>{escape(m.from_header)}</td>"
        f"<td>{escape(', '.join(m.to or m.rcpt_to))}</td>"
        f"<td><details><summary>{escape(m.subject) or '(no subject)'}</summary>"
        f"<pre>{escape(m.text)}</pre></details></td></tr>"
        for m in reversed(messages)
    )
    return (
        "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Mail inbox {escape(city)}</title>"
        "<style>body{font-family:sans-serif;margin:1rem}td,th{padding:4px 8px;border-bottom:1px solid #ddd;"
        "vertical-align:top;text-align:left}pre{white-space:pre-wrap;margin:.5rem 0}</style>"
        f"<h1>Mail sink: e-mails sent by {escape(city)}</h1>"
        "<table><tr><th>received</th><th>from</th><th>to</th><th>subject</th></tr>"
        f"{rows or '<tr><td colspan=4>nothing sent yet</td></tr>'}</table>"
    )


def mail_http_handlers(sink: MailSink) -> list[Any]:
    gate = CityGate({city: password for city, (_, password) in sink.credentials.items()})

    @get("/{city:str}/api/v1/mail")
    async def list_mail(request: Request[Any, Any, Any], city: FromPath[str]) -> Response[Any]:
        refused = await gate.check(request, city, faults=False)
        if refused is not None:
            return refused
        to = request.query_params.get("to")
        return Response({"data": [m.to_json() for m in sink.messages(city, to)]})

    @get("/{city:str}/mail", media_type=MediaType.HTML)
    async def mail_page(city: FromPath[str]) -> Response[str]:
        if city not in sink.mailboxes:
            return Response("no such city", status_code=404, media_type=MediaType.TEXT)
        return Response(_page(city, sink.messages(city)), media_type=MediaType.HTML)

    @post("/{city:str}/_control/mail/fail", status_code=200)
    async def fail(city: FromPath[str], data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        if city not in sink.mailboxes:
            return error(404, "unknown_city", city)
        code = int(data.get("code", 451))
        if not 400 <= code < 600:
            return error(422, "invalid_code", "code is an SMTP error code, 4xx or 5xx")
        faults = sink.faults(city)
        faults.fail_count, faults.fail_code = int(data.get("count", 1)), code
        return Response({"fail_count": faults.fail_count, "fail_code": faults.fail_code})

    @post("/{city:str}/_control/mail/reset", status_code=200)
    async def reset(city: FromPath[str]) -> Response[dict[str, Any]]:
        if city not in sink.mailboxes:
            return error(404, "unknown_city", city)
        sink.reset(city)
        return Response({"reset": city})

    return [list_mail, mail_page, fail, reset]
