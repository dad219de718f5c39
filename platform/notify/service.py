"""Use cases around a person's notifications and a city admin's notification settings."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from kotalive.auth.crypto import Vault
from kotalive.db import TenantSession
from kotalive.notify.messages import LANGUAGES, Message, WordingError, check_wording
from kotalive.notify.models import (
    CHANNELS,
    Delivery,
    DeliveryAttempt,
    MessageTemplate,
    Notification,
    Preference,
    Profile,
    WebhookEndpoint,
)

PAGE = 30


class NotifyInputError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# ---- a person's bell -----------------------------------------------------------------------------


async def unread_count(session: TenantSession, kind: str, person_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.recipient_kind == kind,
                Notification.recipient_id == person_id,
                Notification.read_at.is_(None),
            )
        )
        or 0
    )


async def bell(
    session: TenantSession, kind: str, person_id: int, *, before: int | None = None, limit: int = PAGE
) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(Notification.recipient_kind == kind, Notification.recipient_id == person_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    return list((await session.execute(stmt)).scalars())


async def mark_read(session: TenantSession, kind: str, person_id: int, ids: Sequence[int] | None) -> int:
    """Mark these (or all) of the person's notifications read; another person's ids change nothing."""
    stmt = update(Notification).where(
        Notification.recipient_kind == kind,
        Notification.recipient_id == person_id,
        Notification.read_at.is_(None),
    )
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    result = await session.execute(stmt.values(read_at=func.now()).returning(Notification.id))
    return len(result.all())


# ---- a person's preferences ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preferences:
    quiet_from: str | None
    quiet_until: str | None
    language: str | None
    channels: dict[str, dict[str, bool]]  # message key or "*" -> channel -> wanted


def _hhmm(value: Any, field: str) -> dt.time | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        raise NotifyInputError(field, "use HH:MM, e.g. 22:00")
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise NotifyInputError(field, "use HH:MM, e.g. 22:00") from None


async def preferences(session: TenantSession, kind: str, person_id: int) -> Preferences:
    profile = await session.get(Profile, (kind, person_id))
    rows = (
        await session.execute(
            select(Preference).where(Preference.recipient_kind == kind, Preference.recipient_id == person_id)
        )
    ).scalars()
    channels: dict[str, dict[str, bool]] = {}
    for p in rows:
        channels.setdefault(p.message, {})[p.channel] = p.enabled
    return Preferences(
        quiet_from=profile.quiet_from.strftime("%H:%M") if profile and profile.quiet_from else None,
        quiet_until=profile.quiet_until.strftime("%H:%M") if profile and profile.quiet_until else None,
        language=profile.language if profile else None,
        channels=channels,
    )


async def save_preferences(
    session: TenantSession, kind: str, person_id: int, data: dict[str, Any], known_messages: set[str]
) -> Preferences:
    quiet_from = _hhmm(data.get("quiet_from"), "quiet_from")
    quiet_until = _hhmm(data.get("quiet_until"), "quiet_until")
    if (quiet_from is None) != (quiet_until is None):
        raise NotifyInputError(
            "quiet_until", "give both the start and the end of the quiet hours, or neither"
        )
    language = data.get("language")
    if language not in (None, "", *LANGUAGES):
        raise NotifyInputError("language", "id or en")
    channels = data.get("channels") or {}
    if not isinstance(channels, dict):
        raise NotifyInputError("channels", "an object: message -> channel -> true/false")
    rows = []
    for message, choices in channels.items():
        if message != "*" and message not in known_messages:
            raise NotifyInputError("channels", f"no message {str(message)[:80]!r}")
        if not isinstance(choices, dict):
            raise NotifyInputError("channels", f"{message}: channel -> true/false")
        for channel, enabled in choices.items():
            if channel not in ("inapp", "email", "sms") or not isinstance(enabled, bool):
                raise NotifyInputError("channels", f"{message}: inapp, email or sms, each true or false")
            rows.append(
                {
                    "recipient_kind": kind,
                    "recipient_id": person_id,
                    "message": message,
                    "channel": channel,
                    "enabled": enabled,
                }
            )
    stmt = insert(Profile).values(
        recipient_kind=kind,
        recipient_id=person_id,
        quiet_from=quiet_from,
        quiet_until=quiet_until,
        language=language or None,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["recipient_kind", "recipient_id"],
            set_={"quiet_from": quiet_from, "quiet_until": quiet_until, "language": language or None},
        )
    )
    if "channels" in data:
        await session.execute(
            delete(Preference).where(Preference.recipient_kind == kind, Preference.recipient_id == person_id)
        )
        if rows:
            await session.execute(insert(Preference).values(rows))
    await session.flush()
    return await preferences(session, kind, person_id)


# ---- the city's wording --------------------------------------------------------------------------


async def city_wording(session: TenantSession, key: str) -> list[MessageTemplate]:
    return list(
        (await session.execute(select(MessageTemplate).where(MessageTemplate.message == key))).scalars()
    )


async def set_wording(
    session: TenantSession, message: Message, channel: str, language: str, subject: Any, body: Any, by: str
) -> MessageTemplate:
    if channel not in CHANNELS or channel == "webhook":
        raise NotifyInputError("channel", "inapp, email or sms")
    if language not in LANGUAGES:
        raise NotifyInputError("language", "id or en")
    if not isinstance(body, str) or (subject is not None and not isinstance(subject, str)):
        raise NotifyInputError("body", "text is required")
    title = subject if subject else message.wording[language].title
    try:
        check_wording(title, body, message.sample)
    except WordingError as exc:
        raise NotifyInputError(exc.field, exc.reason) from None
    stmt = insert(MessageTemplate).values(
        message=message.key,
        channel=channel,
        language=language,
        subject=subject or None,
        body=body,
        updated_by=by,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["message", "channel", "language"],
            set_={"subject": subject or None, "body": body, "updated_by": by, "updated_at": func.now()},
        )
    )
    row = await session.get(MessageTemplate, (message.key, channel, language), populate_existing=True)
    assert row is not None
    return row


async def reset_wording(session: TenantSession, key: str, channel: str, language: str) -> None:
    await session.execute(
        delete(MessageTemplate).where(
            MessageTemplate.message == key,
            MessageTemplate.channel == channel,
            MessageTemplate.language == language,
        )
    )


# ---- deliveries and webhooks ---------------------------------------------------------------------


async def deliveries(
    session: TenantSession, status: str | None, *, before: int | None = None, limit: int = 50
) -> list[Delivery]:
    if status not in (None, "pending", "sent", "dead"):
        raise NotifyInputError("status", "pending, sent or dead")
    stmt = select(Delivery).order_by(Delivery.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if before is not None:
        stmt = stmt.where(Delivery.id < before)
    return list((await session.execute(stmt)).scalars())


async def attempts(session: TenantSession, delivery_id: int) -> list[DeliveryAttempt]:
    return list(
        (
            await session.execute(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
        ).scalars()
    )


def _check_url(url: Any) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise NotifyInputError("url", "an https:// address")
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise NotifyInputError(
            "url", "webhooks go to https:// addresses (http only to this machine, for tests)"
        )
    if not parts.hostname:
        raise NotifyInputError("url", "an https:// address with a host")
    return url


async def add_webhook(
    session: TenantSession, vault: Vault, *, name: Any, url: Any, events: Any, secret: Any = None
) -> tuple[WebhookEndpoint, str]:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise NotifyInputError("name", "is required")
    checked = _check_url(url)
    if (
        not isinstance(events, list)
        or not events
        or not all(isinstance(e, str) and re.fullmatch(r"[a-z0-9_.*]{1,128}", e) for e in events)
    ):
        raise NotifyInputError("events", 'a list of event types or patterns, e.g. ["laksa.*"]')
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
        raise NotifyInputError("secret", "at least 16 characters (or leave it out and one is made)")
    shared = secret or secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        name=name.strip(),
        url=checked,
        secret_encrypted=vault.encrypt(shared),
        events=list(events),
        active=True,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, shared


async def list_webhooks(session: TenantSession) -> list[WebhookEndpoint]:
    return list((await session.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.id))).scalars())


async def remove_webhook(session: TenantSession, endpoint_id: int) -> bool:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        return False
    endpoint.active = False
    await session.flush()
    return True
