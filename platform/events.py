"""Domain events and the per-city outbox (ARCHITECTURE §6).

A service calls ``publish(session, "laksa.complaint_submitted", {...})``: the event is written to
the city's ``outbox_event`` table in the same transaction as the change. Right after commit a relay
hands what that transaction wrote to Dramatiq (the fast path, in the background: it never raises
into the caller); ``sweep_outbox`` re-sends whatever is still unsent, oldest first, so a crash or
Redis being down only delays delivery. Both take their rows with ``FOR UPDATE SKIP LOCKED``, so two
relays never send the same event at the same time.

Delivery is one Dramatiq message per (event, consumer). Consumers are the subscribers modules
declare in ``ModuleSpec.subscribers`` (plus any registered in-process with ``register_consumer``).
``dispatch_event`` runs a consumer inside the event's city, in one transaction with its
``event_receipt`` row, so a redelivered message is a no-op: delivery at least once, effects once.

A message can still vanish after it was handed over: a Redis that restarts empty, a fetch whose
answer died with the connection, a worker's in-memory delay queue dropped on a connection error.
So ``reconcile_outbox`` (run with every sweep) looks at events sent ``KOTALIVE_OUTBOX_RECONCILE_SECONDS``
ago: an event with every consumer's receipt is *settled*; one missing a receipt is sent again to
the consumers that lack it, the wait doubling per try, and after ``RECONCILE_MAX_RESENDS`` more sends it
is settled with the names of the consumers that never answered in ``last_error`` (and a log error).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import json
import logging
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dramatiq
from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    String,
    Text,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, Session, mapped_column

from kotalive.context import TenantContext, current_tenant, use_tenant
from kotalive.db import TenantBase, TenantSession, get_database
from kotalive.jobs import MODULE_OPTION, current_broker, get_broker, tenant_actor
from kotalive.registry import EventHandler, resolve

if TYPE_CHECKING:
    from dramatiq.broker import Broker

    from kotalive.registry import LoadedModules

log = logging.getLogger(__name__)

EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
MAX_NAME_LENGTH = 128  # outbox_event.event_type and event_receipt.consumer
DEFAULT_SWEEP_LIMIT = 500
RECONCILE_MAX_RESENDS = 9  # the wait doubling from a minute: given up some 17 hours after the first send


class InvalidEvent(ValueError):
    """An event type or payload that the outbox cannot carry; the message says what to change."""


class UnknownConsumer(LookupError):
    """A delivery names a consumer this process does not know (e.g. during a deploy); retried."""


class OutboxEvent(TenantBase):
    __tablename__ = "outbox_event"
    __table_args__ = (
        Index("ix_outbox_event_unsent", "id", postgresql_where=text("sent_at IS NULL")),
        Index(
            "ix_outbox_event_unsettled",
            "id",
            postgresql_where=text("sent_at IS NOT NULL AND settled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Every consumer's receipt seen (or given up on): the reconciliation looks no further.
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resends: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class EventReceipt(TenantBase):
    """One row per (event, consumer) handled: delivery is at least once, effects exactly once."""

    __tablename__ = "event_receipt"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    consumer: Mapped[str] = mapped_column(String(128), primary_key=True)
    handled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# ---- consumers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Consumer:
    """One reaction to one event type; ``name`` is its dedupe key in ``event_receipt``."""

    name: str
    event_type: str
    handler: EventHandler | str  # a callable, or "package.module:function"
    module: str | None = None  # its ModuleSpec: switched off for a city -> skipped there

    def resolve(self) -> EventHandler:
        handler = resolve(self.handler) if isinstance(self.handler, str) else self.handler
        if not callable(handler):
            raise TypeError(f"consumer {self.name}: {self.handler!r} is not callable")
        return handler


_modules: LoadedModules | None = None
_registered: dict[str, dict[str, Consumer]] = {}  # event type -> consumer name -> consumer


def install_modules(modules: LoadedModules | None) -> LoadedModules | None:
    """Use these modules' subscribers as consumers in this process; returns the previous ones."""
    global _modules
    previous, _modules = _modules, modules
    return previous


def _module_consumers(event_type: str) -> list[Consumer]:
    if _modules is None:
        return []
    return [
        Consumer(name=name, event_type=event_type, handler=path, module=name.partition(":")[0])
        for name, path in _modules.subscribers_for(event_type)
    ]


# Reactions of the core to every event of a city (the event type "*"): outbound webhooks.
CORE_CONSUMERS: tuple[Consumer, ...] = (
    Consumer(name="core:webhooks", event_type="*", handler="kotalive.notify.webhooks:fan_out"),
)


def consumers_for(event_type: str) -> list[Consumer]:
    return [
        *_module_consumers(event_type),
        *_registered.get(event_type, {}).values(),
        *(c for c in CORE_CONSUMERS if c.event_type in ("*", event_type)),
        *_registered.get("*", {}).values(),
    ]


def find_consumer(event_type: str, name: str) -> Consumer | None:
    for consumer in consumers_for(event_type):
        if consumer.name == name:
            return consumer
    return None


@dataclass(frozen=True, slots=True)
class DeliveredEvent:
    """The event a consumer is handling right now: its id makes effects idempotent further down
    (a notification per event and recipient, for instance)."""

    id: int
    event_type: str
    consumer: str


_current_event: contextvars.ContextVar[DeliveredEvent | None] = contextvars.ContextVar(
    "kotalive_event", default=None
)


def current_event() -> DeliveredEvent | None:
    return _current_event.get()


def register_consumer(
    event_type: str,
    handler: EventHandler | str,
    *,
    name: str | None = None,
    module: str | None = None,
) -> Consumer:
    """Add a consumer in this process (tests, or core reactions that are not a module's);
    ``event_type`` "*" receives every event."""
    _check_event_type(event_type, wildcard=True)
    if name is None:
        if isinstance(handler, str):
            name = f"{handler}:{event_type}"
        else:
            name = f"{handler.__module__}.{handler.__qualname__}:{event_type}"
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidEvent(f"consumer name must be 1-{MAX_NAME_LENGTH} characters, got {name!r}")
    if find_consumer(event_type, name) is not None:
        raise InvalidEvent(f"a consumer named {name!r} already handles {event_type}")
    consumer = Consumer(name=name, event_type=event_type, handler=handler, module=module)
    updated = dict(_registered_for(event_type))
    updated[name] = consumer
    _set_registered(event_type, updated)
    return consumer


def unregister_consumer(consumer: Consumer) -> None:
    remaining = {k: v for k, v in _registered_for(consumer.event_type).items() if k != consumer.name}
    _set_registered(consumer.event_type, remaining)


def _registered_for(event_type: str) -> dict[str, Consumer]:
    return _registered.get(event_type, {})


def _set_registered(event_type: str, consumers: dict[str, Consumer]) -> None:
    # Replace, never mutate: worker threads read these dicts while a test registers.
    if consumers:
        _registered[event_type] = consumers
    else:
        _registered.pop(event_type, None)


@contextmanager
def subscribed(
    event_type: str,
    handler: EventHandler | str,
    *,
    name: str | None = None,
    module: str | None = None,
) -> Iterator[Consumer]:
    """``with subscribed("laksa.complaint_submitted", handler, name=...):`` a consumer for the block."""
    consumer = register_consumer(event_type, handler, name=name, module=module)
    try:
        yield consumer
    finally:
        unregister_consumer(consumer)


# ---- publishing ----------------------------------------------------------------------------------

_PENDING = "kotalive_outbox_pending"
_HOOKED = "kotalive_outbox_hooked"
_BIND = "kotalive_outbox_bind"


def _check_event_type(event_type: str, *, wildcard: bool = False) -> None:
    if wildcard and event_type == "*":
        return
    if not isinstance(event_type, str) or not EVENT_TYPE_PATTERN.match(event_type):
        raise InvalidEvent(
            f"event type {event_type!r}: use '<module>.<what_happened>' in lower case, "
            "e.g. 'laksa.complaint_submitted'"
        )
    if len(event_type) > MAX_NAME_LENGTH:
        raise InvalidEvent(f"event type {event_type!r} is longer than {MAX_NAME_LENGTH} characters")


def _check_value(value: Any, where: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEvent(f"{where} is {value!r}; JSON has no NaN or infinity")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidEvent(f"{where} has the key {key!r}; JSON object keys are strings")
            _check_value(item, f"{where}[{key!r}]")
        return
    kind = type(value).__name__
    if hasattr(value, "_sa_instance_state"):
        hint = "events carry ids and values, never ORM objects: pass its id and the values needed"
    elif isinstance(value, (dt.datetime, dt.date, dt.time)):
        hint = "pass value.isoformat()"
    else:
        hint = "pass a string, number, boolean, None, list or dict (e.g. str(value))"
    raise InvalidEvent(f"{where} is a {kind}, which JSON cannot carry; {hint}")


def validate_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A plain JSON copy of ``payload``, or ``InvalidEvent`` naming the offending key."""
    if not isinstance(payload, dict):
        raise InvalidEvent(f"an event payload is a dict of ids and values, got a {type(payload).__name__}")
    _check_value(payload, "payload")
    copy: dict[str, Any] = json.loads(json.dumps(payload, allow_nan=False))
    return copy


def publish(session: TenantSession, event_type: str, payload: dict[str, Any]) -> OutboxEvent:
    """Write an event to the session's city outbox, in the caller's transaction.

    After that transaction commits, the events it wrote are handed to Dramatiq in the background
    (errors are logged, never raised here; the sweeper retries). After a rollback nothing is sent.
    """
    if not isinstance(session, TenantSession):
        raise TypeError("publish() needs the city's TenantSession (kotalive.db.tenant_session)")
    _check_event_type(event_type)
    row = OutboxEvent(event_type=event_type, payload=validate_payload(payload), attempts=0)
    session.add(row)
    sync = session.sync_session
    sync.info.setdefault(_PENDING, []).append(row)
    if not sync.info.get(_HOOKED):
        sync.info[_HOOKED] = True
        sync.info[_BIND] = session.bind
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_rollback", _after_rollback)
    return row


def _after_rollback(sync: Session) -> None:
    sync.info.pop(_PENDING, None)


def _after_commit(sync: Session) -> None:
    pending: list[OutboxEvent] = sync.info.pop(_PENDING, None) or []
    ids = []
    for row in pending:
        identity: tuple[Any, ...] | None = sa_inspect(row).identity
        if identity:
            ids.append(int(identity[0]))
    if not ids:
        return
    tenant: TenantContext | None = getattr(sync, "kotalive_tenant", None)
    bind: AsyncEngine | None = sync.info.get(_BIND)
    if tenant is None or bind is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log.warning("outbox events %s committed outside an event loop; the sweeper will send them", ids)
        return
    task = loop.create_task(_fast_path(bind, tenant, ids), name=f"outbox-relay-{tenant.id}")
    _relay_tasks.add(task)
    task.add_done_callback(_relay_tasks.discard)


_relay_tasks: set[asyncio.Task[None]] = set()


async def _fast_path(bind: AsyncEngine, tenant: TenantContext, ids: list[int]) -> None:
    try:
        broker = current_broker()
        if broker is None:
            log.debug("no broker in this process; outbox events %s wait for the sweeper", ids)
            return
        await _relay(bind, tenant, broker, ids=ids, limit=len(ids))
    except Exception as exc:
        log.warning(
            "outbox fast path for city %s (events %s) failed: %s; the sweeper will send them",
            tenant.slug,
            ids,
            exc,
        )


async def wait_for_relays(within: float = 10.0) -> None:
    """Wait for this event loop's pending fast-path relays (tests, graceful shutdown)."""
    loop = asyncio.get_running_loop()
    pending = [t for t in list(_relay_tasks) if t.get_loop() is loop and not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=within)


# ---- relaying ------------------------------------------------------------------------------------


def _plan(
    tenant_id: int, rows: Sequence[Any], *, only: dict[int, set[str]] | None = None
) -> list[tuple[int, list[dramatiq.Message[Any]]]]:
    """One message per (event, consumer); ``only``: event id -> the consumers to send it to."""
    plan = []
    for row in rows:
        messages = [
            dispatch_event.message_for(
                tenant_id,
                row.id,
                consumer.name,
                row.event_type,
                row.payload,
                message_options={MODULE_OPTION: consumer.module} if consumer.module else None,
            )
            for consumer in consumers_for(row.event_type)
            if only is None or consumer.name in only[row.id]
        ]
        plan.append((row.id, messages))
    return plan


def _enqueue_plan(
    broker: Broker, plan: list[tuple[int, list[dramatiq.Message[Any]]]]
) -> tuple[list[int], tuple[int, str] | None]:
    """Blocking: send event by event; stop at the first failure (Redis away: no point going on)."""
    sent: list[int] = []
    for event_id, messages in plan:
        try:
            for message in messages:
                broker.enqueue(message)
        except Exception as exc:
            return sent, (event_id, f"{type(exc).__name__}: {exc}"[:1000])
        sent.append(event_id)
    return sent, None


async def _relay(
    bind: AsyncEngine, tenant: TenantContext, broker: Broker, *, ids: Sequence[int] | None, limit: int
) -> int:
    """Send unsent events (these ``ids``, or the oldest) and mark them sent; returns how many."""
    stmt = select(OutboxEvent.id, OutboxEvent.event_type, OutboxEvent.payload).where(
        OutboxEvent.sent_at.is_(None)
    )
    if ids is not None:
        stmt = stmt.where(OutboxEvent.id.in_(list(ids)))
    stmt = stmt.order_by(OutboxEvent.id).limit(limit).with_for_update(skip_locked=True)
    async with bind.begin() as conn:
        rows = (await conn.execute(stmt)).all()
        if not rows:
            return 0
        plan = _plan(tenant.id, rows)
        sent, failure = await asyncio.to_thread(_enqueue_plan, broker, plan)
        if sent:
            await conn.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(sent))
                .values(sent_at=func.now(), attempts=OutboxEvent.attempts + 1, last_error=None)
            )
        if failure is not None:
            event_id, error = failure
            await conn.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event_id)
                .values(attempts=OutboxEvent.attempts + 1, last_error=error)
            )
            log.warning(
                "outbox of city %s: event %s not sent (%s); %d left for the next sweep",
                tenant.slug,
                event_id,
                error,
                len(rows) - len(sent),
            )
    return len(sent)


async def sweep_outbox(tenant: TenantContext, limit: int = DEFAULT_SWEEP_LIMIT) -> int:
    """Send up to ``limit`` of the city's unsent events, oldest first; returns how many were sent.

    Rows are taken with ``FOR UPDATE SKIP LOCKED``: concurrent sweepers (and fast paths) split the
    work instead of sending the same events twice."""
    database = get_database()
    return await _relay(database.city_engine(tenant), tenant, get_broker(), ids=None, limit=limit)


def _expected_consumers(tenant: TenantContext, event_type: str) -> set[str]:
    """The consumers that must leave a receipt in this city (a switched-off module's skip theirs)."""
    return {c.name for c in consumers_for(event_type) if not c.module or tenant.has_module(c.module)}


async def reconcile_outbox(
    tenant: TenantContext, limit: int = DEFAULT_SWEEP_LIMIT, *, grace_seconds: int | None = None
) -> dict[str, int]:
    """Settle the city's sent events whose consumers all left a receipt; send the others again to
    the consumers that lack one. Returns counts: ``settled``, ``resent``, ``given_up``."""
    database = get_database()
    grace = grace_seconds if grace_seconds is not None else database.settings.outbox_reconcile_seconds
    receipts = (
        select(func.coalesce(func.array_agg(EventReceipt.consumer), text("'{}'::varchar[]")))
        .where(EventReceipt.event_id == OutboxEvent.id)
        .scalar_subquery()
    )
    wait = func.make_interval(
        0, 0, 0, 0, 0, 0, max(1, grace) * func.power(2, func.least(OutboxEvent.resends, 10))
    )
    stmt = (
        select(OutboxEvent.id, OutboxEvent.event_type, OutboxEvent.payload, OutboxEvent.resends, receipts)
        .where(
            OutboxEvent.sent_at.is_not(None),
            OutboxEvent.settled_at.is_(None),
            OutboxEvent.sent_at < func.now() - wait,
        )
        .order_by(OutboxEvent.id)
        .limit(limit)
        .with_for_update(of=OutboxEvent, skip_locked=True)
    )
    counts = {"settled": 0, "resent": 0, "given_up": 0}
    async with database.city_engine(tenant).begin() as conn:
        rows = (await conn.execute(stmt)).all()
        missing = {row.id: _expected_consumers(tenant, row.event_type) - set(row[4]) for row in rows}
        done = [row.id for row in rows if not missing[row.id]]
        given_up = [row for row in rows if missing[row.id] and row.resends >= RECONCILE_MAX_RESENDS]
        again = [row for row in rows if missing[row.id] and row.resends < RECONCILE_MAX_RESENDS]
        if done:
            await conn.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(done)).values(settled_at=func.now())
            )
        for row in given_up:
            names = ", ".join(sorted(missing[row.id]))
            log.error(
                "outbox of city %s: event %s (%s) never handled by %s after %d sends; given up",
                tenant.slug,
                row.id,
                row.event_type,
                names,
                row.resends + 1,
            )
            await conn.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == row.id)
                .values(
                    settled_at=func.now(),
                    last_error=f"never handled by {names} after {row.resends + 1} sends",
                )
            )
        sent: list[int] = []
        if again:
            plan = _plan(tenant.id, again, only=missing)
            sent, failure = await asyncio.to_thread(_enqueue_plan, get_broker(), plan)
            if failure is not None:
                log.warning("outbox of city %s: reconciliation stopped: %s", tenant.slug, failure[1])
        for event_id in sent:
            names = ", ".join(sorted(missing[event_id]))
            log.warning(
                "outbox of city %s: event %s had no receipt of %s; sent to them again",
                tenant.slug,
                event_id,
                names,
            )
            await conn.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == event_id)
                .values(
                    sent_at=func.now(),
                    resends=OutboxEvent.resends + 1,
                    last_error=f"no receipt of {names}; sent again",
                )
            )
        counts.update(settled=len(done), resent=len(sent), given_up=len(given_up))
    return counts


# ---- delivering ----------------------------------------------------------------------------------


async def deliver(
    tenant: TenantContext, event_id: int, consumer_name: str, event_type: str, payload: dict[str, Any]
) -> bool:
    """Run one consumer for one event inside ``tenant``, once: False if it had already run."""
    consumer = find_consumer(event_type, consumer_name)
    if consumer is None:
        raise UnknownConsumer(f"no consumer {consumer_name!r} for {event_type} in this process")
    handler = consumer.resolve()
    with use_tenant(tenant):
        session = get_database().tenant_session(tenant)
        try:
            async with session.begin():
                first = await session.execute(
                    pg_insert(EventReceipt)
                    .values(event_id=event_id, consumer=consumer_name)
                    .on_conflict_do_nothing(index_elements=["event_id", "consumer"])
                    .returning(EventReceipt.event_id)
                )
                if first.first() is None:
                    log.info(
                        "event %s of %s already handled by %s; skipped", event_id, tenant.slug, consumer_name
                    )
                    return False
                token = _current_event.set(DeliveredEvent(event_id, event_type, consumer_name))
                try:
                    await handler(event_type, payload, session)
                finally:
                    _current_event.reset(token)
        finally:
            await session.close()
    return True


@tenant_actor(
    actor_name="kotalive.events.dispatch",
    queue_name="events",
    max_retries=20,
    max_age=7 * 24 * 3_600_000,  # a long worker outage must not drop events
)
async def dispatch_event(event_id: int, consumer: str, event_type: str, payload: dict[str, Any]) -> None:
    await deliver(current_tenant(), event_id, consumer, event_type, payload)


@tenant_actor(
    actor_name="kotalive.events.sweep_outbox", queue_name="default", max_retries=2, time_limit=60_000
)
async def sweep_outbox_job(limit: int = DEFAULT_SWEEP_LIMIT) -> None:
    sent = await sweep_outbox(current_tenant(), limit)
    if sent:
        log.info("outbox sweep of %s sent %d event(s)", current_tenant().slug, sent)
    await reconcile_outbox(current_tenant(), limit)


__all__ = [
    "Consumer",
    "EventReceipt",
    "InvalidEvent",
    "OutboxEvent",
    "UnknownConsumer",
    "consumers_for",
    "current_event",
    "deliver",
    "dispatch_event",
    "find_consumer",
    "install_modules",
    "publish",
    "reconcile_outbox",
    "register_consumer",
    "subscribed",
    "sweep_outbox",
    "sweep_outbox_job",
    "unregister_consumer",
    "validate_payload",
    "wait_for_relays",
]
