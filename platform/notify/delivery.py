"""Sending pending deliveries: claim with a lease, send outside any transaction, record the outcome.

1. Claim: due pending rows are taken ``FOR UPDATE SKIP LOCKED`` and their ``next_attempt_at`` is
   moved a lease ahead, in a short transaction of its own. Two workers never send the same row;
   a worker that dies mid-send leaves its rows to be claimed again when the lease runs out.
2. Send: the city's SMTP server, SMS gateway or webhook endpoint, with no connection held.
3. Record: ``sent`` with the provider's answer, or the next attempt after a doubling backoff, or
   ``dead`` after the channel's last attempt (or at once for a permanent refusal); every try is a
   row of ``delivery_attempt``. A channel's rate limit for the city postpones without counting.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update

from kotalive.auth.crypto import Vault
from kotalive.auth.ratelimit import Limit, RateLimiter
from kotalive.context import TenantContext
from kotalive.db import Database
from kotalive.integrations import Misconfigured, SmsConfig
from kotalive.notify import channels
from kotalive.notify.models import Delivery, DeliveryAttempt, WebhookEndpoint
from kotalive.tenants.integrations import IntegrationNotConfigured, get_integration

log = logging.getLogger(__name__)

MAX_ATTEMPTS = {"email": 8, "sms": 5, "webhook": 10}
MAX_BACKOFF_SECONDS = 3600
CLAIM_BATCH = 50
# Sends per minute per city and channel (the gateway's and the mail server's patience).
RATE_LIMITS = {"email": Limit("notify:email", 300, 60), "sms": Limit("notify:sms", 120, 60)}


def backoff(attempts: int, base_seconds: int) -> dt.timedelta:
    """base, 2 base, 4 base ... at most an hour, with a fifth of jitter so retries spread out."""
    seconds = min(MAX_BACKOFF_SECONDS, base_seconds * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=seconds * random.uniform(0.8, 1.2))


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    channel: str
    recipient_kind: str
    recipient_id: int
    address: str
    subject: str | None
    body: str
    attempts: int
    source: str


async def claim(
    database: Database,
    tenant: TenantContext,
    ids: Sequence[int] | None,
    lease_seconds: int,
    *,
    limit: int = CLAIM_BATCH,
) -> list[Claimed]:
    now = dt.datetime.now(dt.UTC)
    async with database.city_connection(tenant) as conn:
        stmt = (
            select(Delivery)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.urgent.desc(), Delivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if ids is not None:
            stmt = stmt.where(Delivery.id.in_(list(ids)))
        rows = (await conn.execute(stmt)).all()
        if not rows:
            return []
        await conn.execute(
            update(Delivery)
            .where(Delivery.id.in_([r.id for r in rows]))
            .values(next_attempt_at=now + dt.timedelta(seconds=lease_seconds), attempts=Delivery.attempts + 1)
        )
    return [
        Claimed(
            r.id,
            r.channel,
            r.recipient_kind,
            r.recipient_id,
            r.address,
            r.subject,
            r.body,
            r.attempts + 1,
            r.source,
        )
        for r in rows
    ]


class _CityChannels:
    """The city's channel settings, read once per batch (and only for the channels it needs)."""

    def __init__(self, database: Database, tenant: TenantContext) -> None:
        self.database = database
        self.tenant = tenant
        self.vault = Vault.from_settings(database.settings)
        self._cache: dict[str, Any] = {}

    async def smtp(self) -> channels.SmtpConfig:
        if "smtp" not in self._cache:
            async with self.database.tenant_session(self.tenant) as session:
                integration = await get_integration(session, self.vault, "smtp")
            assert integration is not None
            self._cache["smtp"] = channels.SmtpConfig.from_integration(
                integration.config, integration.secrets
            )
        config: channels.SmtpConfig = self._cache["smtp"]
        return config

    async def sms(self) -> SmsConfig:
        if "sms" not in self._cache:
            async with self.database.tenant_session(self.tenant) as session:
                integration = await get_integration(session, self.vault, "sms")
            assert integration is not None
            self._cache["sms"] = SmsConfig.from_dict({**integration.config, **integration.secrets})
        config: SmsConfig = self._cache["sms"]
        return config

    async def webhook_secret(self, endpoint_id: int) -> str:
        key = f"webhook:{endpoint_id}"
        if key not in self._cache:
            async with self.database.tenant_session(self.tenant) as session:
                endpoint = await session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or not endpoint.active:
                raise channels.Permanent("the webhook endpoint was removed or switched off")
            self._cache[key] = self.vault.decrypt(endpoint.secret_encrypted)
        secret: str = self._cache[key]
        return secret


async def _send_one(city: _CityChannels, item: Claimed) -> channels.Outcome:
    if item.channel == "email":
        config = await city.smtp()
        message_id = channels.make_message_id(city.tenant.id, item.id)
        return await channels.send_email(config, item.address, item.subject or "", item.body, message_id)
    if item.channel == "sms":
        return await channels.send_sms(await city.sms(), item.address, item.body, f"notify-{item.id}")
    if item.channel == "webhook":
        secret = await city.webhook_secret(item.recipient_id)
        return await channels.send_webhook(
            item.address, secret, item.body, event_type=item.subject or "", delivery_id=item.id
        )
    raise channels.Permanent(f"unknown channel {item.channel}")


async def deliver(
    database: Database,
    tenant: TenantContext,
    ids: Sequence[int] | None = None,
    *,
    redis: Any = None,
    limit: int = CLAIM_BATCH,
) -> dict[str, int]:
    """Send what is due (these ``ids``, or the oldest due); returns counts by outcome."""
    settings = database.settings
    claimed = await claim(database, tenant, ids, settings.notify_lease_seconds, limit=limit)
    counts = {"sent": 0, "retry": 0, "dead": 0, "postponed": 0}
    if not claimed:
        return counts
    city = _CityChannels(database, tenant)
    limiter = RateLimiter(redis) if redis is not None else None
    for item in claimed:
        started = time.monotonic()
        if limiter is not None and item.channel in RATE_LIMITS:
            try:
                verdict = await limiter.hit(RATE_LIMITS[item.channel], str(tenant.id))
            except Exception as exc:  # Redis away: the limit cannot be counted, so do not send now
                log.warning(
                    "rate limit of %s %s unknown (%s); delivery %s postponed",
                    tenant.slug,
                    item.channel,
                    exc,
                    item.id,
                )
                await _postpone(database, tenant, item, 5)
                counts["postponed"] += 1
                continue
            if not verdict.allowed:
                await _postpone(database, tenant, item, verdict.retry_after)
                counts["postponed"] += 1
                continue
        try:
            outcome = await _send_one(city, item)
        except (channels.Retry, IntegrationNotConfigured, Misconfigured) as exc:
            detail = getattr(exc, "detail", None) or str(exc)
            code = getattr(exc, "status_code", None)
            last = item.attempts >= MAX_ATTEMPTS.get(item.channel, 5)
            await _record(
                database,
                tenant,
                item,
                ok=False,
                detail=detail,
                code=code,
                started=started,
                dead=last,
                retry_base=settings.notify_retry_seconds,
            )
            counts["dead" if last else "retry"] += 1
            continue
        except channels.Permanent as exc:
            await _record(
                database,
                tenant,
                item,
                ok=False,
                detail=exc.detail,
                code=exc.status_code,
                started=started,
                dead=True,
                retry_base=settings.notify_retry_seconds,
            )
            counts["dead"] += 1
            continue
        await _record(
            database,
            tenant,
            item,
            ok=True,
            detail=outcome.detail,
            code=outcome.status_code,
            started=started,
            provider_id=outcome.provider_id,
            retry_base=settings.notify_retry_seconds,
        )
        counts["sent"] += 1
    return counts


async def _postpone(database: Database, tenant: TenantContext, item: Claimed, seconds: int) -> None:
    async with database.city_connection(tenant) as conn:
        await conn.execute(
            update(Delivery)
            .where(Delivery.id == item.id, Delivery.status == "pending")
            .values(
                attempts=Delivery.attempts - 1,  # a rate limit is not a failed attempt
                next_attempt_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=max(1, seconds)),
            )
        )


async def _record(
    database: Database,
    tenant: TenantContext,
    item: Claimed,
    *,
    ok: bool,
    detail: str | None,
    code: int | None,
    started: float,
    retry_base: int,
    dead: bool = False,
    provider_id: str | None = None,
) -> None:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any]
    if ok:
        values = {"status": "sent", "sent_at": now, "provider_id": provider_id, "last_error": None}
    elif dead:
        values = {"status": "dead", "last_error": detail}
    else:
        values = {"next_attempt_at": now + backoff(item.attempts, retry_base), "last_error": detail}
    async with database.city_connection(tenant) as conn:
        await conn.execute(
            insert(DeliveryAttempt).values(
                delivery_id=item.id,
                ok=ok,
                status_code=code,
                detail=(detail or "")[:1000] or None,
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        )
        # Only a row still pending is ours to finish: an admin may have retried or removed it.
        await conn.execute(
            update(Delivery).where(Delivery.id == item.id, Delivery.status == "pending").values(**values)
        )
    if not ok:
        log.log(
            logging.WARNING if dead else logging.INFO,
            "%s %s delivery %s (%s attempt %d): %s",
            tenant.slug,
            item.channel,
            item.id,
            "dead after" if dead else "failed",
            item.attempts,
            detail,
        )


async def retry_dead(database: Database, tenant: TenantContext, ids: Sequence[int] | None = None) -> int:
    """An admin's retry of dead letters (all, or these): pending again, attempts start over."""
    async with database.city_connection(tenant) as conn:
        stmt = update(Delivery).where(Delivery.status == "dead")
        if ids is not None:
            stmt = stmt.where(Delivery.id.in_(list(ids)))
        result = await conn.execute(
            stmt.values(status="pending", attempts=0, next_attempt_at=func.now()).returning(Delivery.id)
        )
        return len(result.all())
