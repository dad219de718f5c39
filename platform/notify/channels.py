"""The outside channels of a city: its SMTP server, its SMS gateway, its webhook endpoints.

Each sender takes one delivery and either returns the provider's answer (sent) or raises
``Retry`` (try again later: the system is away, slow or busy) or ``Permanent`` (it will never go
through as it is: a refused address, a 4xx webhook answer). Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import aiosmtplib
import httpx

from kotalive.integrations import Misconfigured, Rejected, SmsConfig, SmsGateway, Unavailable

USER_AGENT = "KotaLive-Webhooks/1"
SIGNATURE_HEADER = "X-KotaLive-Signature"


class Retry(Exception):
    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail[:1000]
        self.status_code = status_code


class Permanent(Exception):
    def __init__(self, detail: str, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail[:1000]
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class Outcome:
    provider_id: str | None
    status_code: int | None = None
    detail: str | None = None


# ---- e-mail --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"  # starttls | tls | none (loopback and tests only)
    username: str | None = None
    password: str | None = None
    from_address: str = ""
    from_name: str = "Kota Live"
    timeout_seconds: float = 15.0

    @classmethod
    def from_integration(cls, config: dict[str, Any], secrets: dict[str, str]) -> SmtpConfig:
        host = str(config.get("host") or "").strip()
        sender = str(config.get("from_address") or "").strip()
        if not host or "@" not in sender:
            raise Misconfigured("SMTP", "the smtp integration needs host and from_address")
        security = str(config.get("security") or "starttls")
        if security not in ("starttls", "tls", "none"):
            raise Misconfigured("SMTP", "security must be starttls, tls or none")
        return cls(
            host=host,
            port=int(config.get("port") or (465 if security == "tls" else 587)),
            security=security,
            username=config.get("username") or None,
            password=secrets.get("password") or None,
            from_address=sender,
            from_name=str(config.get("from_name") or "Kota Live"),
            timeout_seconds=float(config.get("timeout_seconds") or 15.0),
        )


def email_message(config: SmtpConfig, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((config.from_name, config.from_address))
    message["To"] = to
    message["Subject"] = subject
    # The delivery's own id: a retried send carries the same Message-ID, so mail systems and
    # clients can drop a copy that a crash between sending and recording made.
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    return message


async def send_email(config: SmtpConfig, to: str, subject: str, body: str, message_id: str) -> Outcome:
    message = email_message(config, to, subject, body, message_id)
    try:
        errors, reply = await aiosmtplib.send(
            message,
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            use_tls=config.security == "tls",
            start_tls=True if config.security == "starttls" else False,
            timeout=config.timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise Permanent(f"the SMTP server refused {to}: {exc}", 550) from None
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600 and exc.code not in (552,):
            raise Permanent(f"SMTP {exc.code}: {exc.message}", exc.code) from None
        raise Retry(f"SMTP {exc.code}: {exc.message}", exc.code) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise Retry(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from None
    if errors:
        raise Permanent(f"the SMTP server refused: {errors}", 550)
    return Outcome(provider_id=message_id, status_code=250, detail=str(reply)[:300])


def make_message_id(tenant_id: int, delivery_id: int) -> str:
    """The same for every try of one delivery (``email.utils.make_msgid`` would add the time and a
    random number, so a retry after a crash could not be recognised as the same message)."""
    # the city's immutable id, not its slug: a purged city recreated under the same slug starts
    # its delivery ids over, and must not repeat another city's Message-IDs
    return f"<notify.{delivery_id}.city{tenant_id}@kotalive>"


# ---- SMS -----------------------------------------------------------------------------------------


async def send_sms(config: SmsConfig, to: str, text: str, reference: str) -> Outcome:
    try:
        async with SmsGateway(config) as gateway:
            provider_id = await gateway.send(to, text, reference)
    except Rejected as exc:
        raise Permanent(f"the SMS gateway refused it: {exc}", exc.status) from None
    except (Unavailable, Misconfigured) as exc:  # the admin may fix the settings: keep trying
        raise Retry(f"SMS gateway: {exc}") from None
    except ValueError as exc:
        raise Permanent(f"not sendable by SMS: {exc}") from None
    return Outcome(provider_id=provider_id, status_code=202)


# ---- webhooks ------------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>.<body>"): a receiver recomputes it and
    refuses old timestamps, so a captured call cannot be replayed later."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def send_webhook(
    url: str, secret: str, body: str, *, event_type: str, delivery_id: int, timeout_seconds: float = 10.0
) -> Outcome:
    raw = body.encode()
    timestamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "x-kotalive-event": event_type,
        "x-kotalive-delivery": str(delivery_id),
        "x-kotalive-timestamp": timestamp,
        SIGNATURE_HEADER.lower(): signature(secret, timestamp, raw),
    }
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False) as client:
            answer = await client.post(url, content=raw, headers=headers)
    except httpx.HTTPError as exc:
        raise Retry(f"webhook unreachable: {type(exc).__name__}: {exc}") from None
    excerpt = answer.text[:300]
    if 200 <= answer.status_code < 300:
        return Outcome(
            provider_id=answer.headers.get("x-request-id"), status_code=answer.status_code, detail=excerpt
        )
    if answer.status_code in (408, 425, 429) or answer.status_code >= 500:
        raise Retry(f"webhook answered {answer.status_code}: {excerpt}", answer.status_code)
    raise Permanent(f"webhook answered {answer.status_code}: {excerpt}", answer.status_code)


def webhook_body(event_id: int, event_type: str, tenant_slug: str, payload: dict[str, Any]) -> str:
    return json.dumps(
        {"id": event_id, "type": event_type, "city": tenant_slug, "data": payload},
        separators=(",", ":"),
        ensure_ascii=False,
    )
