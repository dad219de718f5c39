"""``send()``: tell people something, in the caller's transaction, once.

A module's event consumer decides who is told (``Recipient``) and what (``Message`` + values);
``send`` picks each person's channels (the message's defaults, then their own preferences), their
language and quiet hours, words the message (the city's wording or the default) and writes:

- one ``notification`` per person (the bell), and
- one ``notification_delivery`` per person and outside channel (e-mail, SMS),

each unique per (source, person[, channel]): the source is the event being handled, so the same
event delivered twice (at least once is the outbox's promise) tells nobody twice. After the
transaction commits, the new bell entries are pushed to the people's screens over Redis and the
deliveries are handed to the workers; what does not get through then is swept later.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from kotalive import live
from kotalive.context import TenantContext
from kotalive.db import TenantSession
from kotalive.events import current_event
from kotalive.notify.messages import Message, Recipient, Wording, render, render_wording, wording_for
from kotalive.notify.models import Delivery, MessageTemplate, Notification, Preference, Profile

log = logging.getLogger(__name__)

_PENDING = "kotalive_notify_pending"
_HOOKED = "kotalive_notify_hooked"
SMS_MAX = 640


@dataclass(frozen=True, slots=True)
class Sent:
    notifications: int  # new bell entries
    deliveries: int  # new e-mails, SMS
    duplicates: int  # already told (a redelivered event)


def source_of(message: Message, source: str | None) -> str:
    if source:
        return source[:200]
    handling = current_event()
    if handling is None:
        raise ValueError(f"notify.send({message.key}) outside an event consumer needs an explicit source")
    return f"event:{handling.id}:{message.key}"


def in_quiet_hours(now_local: dt.datetime, start: dt.time | None, end: dt.time | None) -> dt.datetime | None:
    """When the quiet hours that hold ``now_local`` end, or None if it is not quiet now."""
    if start is None or end is None or start == end:
        return None
    t = now_local.timetz().replace(tzinfo=None)
    if start < end:
        quiet = start <= t < end
        ends_on = now_local.date()
    else:  # across midnight, e.g. 22:00-06:00
        quiet = t >= start or t < end
        ends_on = now_local.date() + dt.timedelta(days=1) if t >= start else now_local.date()
    if not quiet:
        return None
    return dt.datetime.combine(ends_on, end, now_local.tzinfo)


async def send(
    session: TenantSession,
    message: Message,
    recipients: Iterable[Recipient],
    values: Mapping[str, Any],
    *,
    urgent: bool = False,
    source: str | None = None,
    channels: Sequence[str] | None = None,
) -> Sent:
    """Tell ``recipients`` (of the session's city) ``message`` with ``values``; see the module
    docstring. ``channels`` narrows the channels for this one send (e.g. only "inapp").
    ``urgent`` messages ignore quiet hours."""
    tenant = session.tenant
    key = source_of(message, source)
    people = list({(r.kind, r.id): r for r in recipients if r.kind in ("citizen", "employee")}.values())
    if not people:
        return Sent(0, 0, 0)
    ids = [(r.kind, r.id) for r in people]
    prefs = await _preferences(session, ids, message.key)
    profiles = await _profiles(session, ids)
    overrides = await _overrides(session, message.key)
    now = dt.datetime.now(dt.UTC)
    zone = ZoneInfo(tenant.timezone)
    link = render(message.link, values) if message.link else None

    bell_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for person in people:
        profile = profiles.get((person.kind, person.id))
        lang = (profile.language if profile else None) or person.language or tenant.locale or "id"
        wanted = _channels_for(message, person, prefs, channels)
        if "inapp" in wanted:
            words = _words(message, lang, overrides, "inapp", values)
            bell_rows.append(
                {
                    "source": key,
                    "recipient_kind": person.kind,
                    "recipient_id": person.id,
                    "message": message.key,
                    "title": words.title[:300],
                    "body": words.body[:2000],
                    "link": link,
                    "urgent": urgent,
                    "data": {
                        k: v for k, v in values.items() if isinstance(v, (str, int, float, bool)) or v is None
                    },
                }
            )
        due = now
        if not urgent and profile is not None:
            until = in_quiet_hours(now.astimezone(zone), profile.quiet_from, profile.quiet_until)
            if until is not None:
                due = until.astimezone(dt.UTC)
        for channel, address in (("email", person.email), ("sms", person.phone)):
            if channel not in wanted or not address:
                continue
            words = _words(message, lang, overrides, channel, values)
            body = words.body if channel == "email" else _sms_text(words)
            delivery_rows.append(
                {
                    "source": key,
                    "recipient_kind": person.kind,
                    "recipient_id": person.id,
                    "channel": channel,
                    "message": message.key,
                    "address": address,
                    "subject": words.title[:300] if channel == "email" else None,
                    "body": body,
                    "urgent": urgent,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": due,
                }
            )
    new_bells: list[dict[str, Any]] = []
    if bell_rows:
        result = await session.execute(
            insert(Notification)
            .values(bell_rows)
            .on_conflict_do_nothing(index_elements=["source", "recipient_kind", "recipient_id"])
            .returning(
                Notification.id,
                Notification.recipient_kind,
                Notification.recipient_id,
                Notification.title,
                Notification.body,
                Notification.link,
                Notification.urgent,
                Notification.message,
                Notification.created_at,
            )
        )
        new_bells = [dict(r._mapping) for r in result]
    new_deliveries: list[tuple[int, dt.datetime]] = []
    if delivery_rows:
        result = await session.execute(
            insert(Delivery)
            .values(delivery_rows)
            .on_conflict_do_nothing(index_elements=["source", "recipient_kind", "recipient_id", "channel"])
            .returning(Delivery.id, Delivery.next_attempt_at)
        )
        new_deliveries = [(r.id, r.next_attempt_at) for r in result]
    duplicates = (len(bell_rows) - len(new_bells)) + (len(delivery_rows) - len(new_deliveries))
    if new_bells or new_deliveries:
        _after_commit(session, tenant, new_bells, [i for i, at in new_deliveries if at <= now])
    return Sent(len(new_bells), len(new_deliveries), duplicates)


def _sms_text(words: Wording) -> str:
    text = words.body if words.body.startswith(words.title) else f"{words.title}: {words.body}"
    return text if len(text) <= SMS_MAX else text[: SMS_MAX - 1] + "…"


def _words(
    message: Message,
    lang: str,
    overrides: Mapping[tuple[str, str], tuple[str | None, str]],
    channel: str,
    values: Mapping[str, Any],
) -> Wording:
    fallback = message.wording.get(lang) or message.wording["id"]
    return render_wording(wording_for(message, lang, overrides, channel), values, fallback)


def _channels_for(
    message: Message,
    person: Recipient,
    prefs: Mapping[tuple[str, int], Mapping[tuple[str, str], bool]],
    narrowed: Sequence[str] | None,
) -> set[str]:
    wanted = set(message.channels.get(person.kind, ("inapp",)))
    own = prefs.get((person.kind, person.id), {})
    for channel in ("inapp", "email", "sms"):
        for scope in ("*", message.key):  # the specific choice wins over the general one
            choice = own.get((scope, channel))
            if choice is True:
                wanted.add(channel)
            elif choice is False:
                wanted.discard(channel)
    if narrowed is not None:
        wanted &= set(narrowed)
    return wanted


async def _preferences(
    session: TenantSession, ids: list[tuple[str, int]], key: str
) -> dict[tuple[str, int], dict[tuple[str, str], bool]]:
    rows = await session.execute(
        select(Preference).where(
            tuple_(Preference.recipient_kind, Preference.recipient_id).in_(ids),
            Preference.message.in_(("*", key)),
        )
    )
    out: dict[tuple[str, int], dict[tuple[str, str], bool]] = {}
    for p in rows.scalars():
        out.setdefault((p.recipient_kind, p.recipient_id), {})[(p.message, p.channel)] = p.enabled
    return out


async def _profiles(session: TenantSession, ids: list[tuple[str, int]]) -> dict[tuple[str, int], Profile]:
    rows = await session.execute(
        select(Profile).where(tuple_(Profile.recipient_kind, Profile.recipient_id).in_(ids))
    )
    return {(p.recipient_kind, p.recipient_id): p for p in rows.scalars()}


async def _overrides(session: TenantSession, key: str) -> dict[tuple[str, str], tuple[str | None, str]]:
    rows = await session.execute(select(MessageTemplate).where(MessageTemplate.message == key))
    return {(t.channel, t.language): (t.subject, t.body) for t in rows.scalars()}


# ---- after commit: screens and workers -----------------------------------------------------------


def _after_commit(
    session: TenantSession, tenant: TenantContext, bells: list[dict[str, Any]], due: list[int]
) -> None:
    sync = session.sync_session
    pending = sync.info.setdefault(_PENDING, {"bells": [], "due": []})
    pending["bells"] += bells
    pending["due"] += due
    if not sync.info.get(_HOOKED):
        sync.info[_HOOKED] = True
        sync.info["kotalive_notify_tenant"] = tenant
        event.listen(sync, "after_commit", _committed)
        event.listen(sync, "after_rollback", _rolled_back)


def _rolled_back(sync: Session) -> None:
    sync.info.pop(_PENDING, None)


_tasks: set[asyncio.Task[None]] = set()


def _committed(sync: Session) -> None:
    pending = sync.info.pop(_PENDING, None)
    tenant: TenantContext | None = sync.info.get("kotalive_notify_tenant")
    if not pending or tenant is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # the sweeper sends the deliveries; the bells are in the database
    task = loop.create_task(_hand_over(tenant, pending["bells"], pending["due"]), name="notify-after-commit")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _hand_over(tenant: TenantContext, bells: list[dict[str, Any]], due: list[int]) -> None:
    from kotalive.jobs import current_broker

    broker = current_broker()
    if broker is None:
        return
    try:
        if bells:
            await asyncio.to_thread(_publish_bells, broker, tenant, bells)
        if due:
            from kotalive.notify.jobs import deliver_job

            message = deliver_job.message_for(tenant, due)
            await asyncio.to_thread(broker.enqueue, message)
    except Exception as exc:  # Redis away: the bells are in the database, the sweeper sends the rest
        log.warning("notifications of %s not handed over at once (%s); the sweeper will", tenant.slug, exc)


def _publish_bells(broker: Any, tenant: TenantContext, bells: list[dict[str, Any]]) -> None:
    live.publish_many_sync(
        broker.client,
        [
            (
                live.person_channel(tenant, bell["recipient_kind"], bell["recipient_id"]),
                "notification",
                {
                    "id": bell["id"],
                    "title": bell["title"],
                    "body": bell["body"],
                    "link": bell["link"],
                    "urgent": bell["urgent"],
                    "message": bell["message"],
                    "created_at": bell["created_at"].isoformat(),
                },
            )
            for bell in bells
        ],
    )


async def wait_for_hand_overs(within: float = 10.0) -> None:
    """Wait for this loop's pending after-commit hand-overs (tests, shutdown)."""
    loop = asyncio.get_running_loop()
    pending = [t for t in list(_tasks) if t.get_loop() is loop and not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=within)
