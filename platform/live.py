"""Live updates for screens: Redis pub/sub channels named per city, and server-sent event streams.

Any process (web or worker) publishes to a channel after its transaction committed; every web
process holds one Redis subscription (Litestar's ChannelsPlugin with the pub/sub backend) and fans
messages out to its connected screens. A channel name always starts with the city's id, so a screen
of one city never subscribes to another's, and a principal's own channel is derived from its login
(never from what the client asks for).

Pub/sub keeps nothing: a screen that was away reloads what it shows from the database (the bell
asks for its unread count when it reconnects), so a lost message only delays what is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import msgspec
from litestar.response import ServerSentEvent, ServerSentEventMessage

from kotalive.context import TenantContext

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 20.0  # below the idle timeouts of common proxies (nginx 60 s)
# The deployment's channel namespace: set from the settings by every process that publishes or
# subscribes (kotalive.jobs.install_jobs, boot_worker), before any channel name is made.
CHANNEL_PREFIX = "kl"


def install_namespace(namespace: str) -> str:
    """Use ``namespace`` as the prefix of every channel from now on; returns the previous one."""
    global CHANNEL_PREFIX
    if not namespace or any(c in namespace for c in ":*?[] "):
        raise ValueError(f"live namespace {namespace!r}: use letters, digits, '.', '-' or '_'")
    previous, CHANNEL_PREFIX = CHANNEL_PREFIX, namespace
    return previous


def person_channel(tenant: TenantContext | int, kind: str, person_id: int) -> str:
    """One person's channel in one city: their bell."""
    tenant_id = tenant.id if isinstance(tenant, TenantContext) else tenant
    return f"{CHANNEL_PREFIX}:{tenant_id}:{kind}:{person_id}"


def topic_channel(tenant: TenantContext | int, topic: str) -> str:
    """A city-wide channel (e.g. ``laksa:agency:7``, ``laksa:triage``)."""
    tenant_id = tenant.id if isinstance(tenant, TenantContext) else tenant
    return f"{CHANNEL_PREFIX}:{tenant_id}:{topic}"


def encode(event: str, data: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"event": event, "data": data})


def publish_sync(redis_client: Any, channel: str, event: str, data: dict[str, Any]) -> None:
    """Blocking publish (a worker thread, or ``asyncio.to_thread``)."""
    redis_client.publish(channel, encode(event, data))


async def publish(redis_client: Any, messages: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """Publish (channel, event, data) messages with an asyncio Redis client; failures are logged,
    never raised: the database already holds the truth."""
    try:
        async with redis_client.pipeline(transaction=False) as pipe:
            for channel, event, data in messages:
                pipe.publish(channel, encode(event, data))
            await pipe.execute()
    except Exception as exc:  # Redis away: screens catch up when they reload
        log.warning("live updates not published (%d message(s)): %s", len(messages), exc)


# ---- after commit ---------------------------------------------------------------------------------

_PENDING = "kotalive_live_pending"
_HOOKED = "kotalive_live_hooked"
_tasks: set[asyncio.Task[None]] = set()


def publish_after_commit(session: Any, channel: str, event: str, data: dict[str, Any]) -> None:
    """Publish (channel, event, data) once ``session``'s transaction commits (never on rollback),
    through the process's broker's Redis, in the background; failures are logged: screens catch
    up from the database when they reconnect."""
    from sqlalchemy import event as sa_event

    sync = session.sync_session
    sync.info.setdefault(_PENDING, []).append((channel, event, data))
    if not sync.info.get(_HOOKED):
        sync.info[_HOOKED] = True
        sa_event.listen(sync, "after_commit", _committed)
        sa_event.listen(sync, "after_rollback", lambda s: s.info.pop(_PENDING, None))


def _committed(sync: Any) -> None:
    pending = sync.info.pop(_PENDING, None)
    if not pending:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(_hand_over(pending), name="live-after-commit")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


# An asyncio Redis client per event loop that has one (the web process's): publishing on it costs
# no thread hop. Loops without one (workers' threads) publish through the broker's blocking client.
_loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def use_loop_client(client: Any) -> Callable[[], None]:
    """Publish this loop's after-commit messages with ``client`` (redis.asyncio); returns undo."""
    loop = asyncio.get_running_loop()
    _loop_clients[loop] = client
    return lambda: _loop_clients.pop(loop, None) and None


async def _hand_over(messages: list[tuple[str, str, dict[str, Any]]]) -> None:
    from kotalive.jobs import current_broker

    own = _loop_clients.get(asyncio.get_running_loop())
    if own is not None:
        await publish(own, messages)
        return
    broker = current_broker()
    if broker is None:
        return
    try:
        await asyncio.to_thread(publish_many_sync, broker.client, messages)  # type: ignore[attr-defined]
    except Exception as exc:  # Redis away: the database holds the truth
        log.warning("live updates not published (%d message(s)): %s", len(messages), exc)


def publish_many_sync(client: Any, messages: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """Blocking: publish (channel, event, data) messages in one pipeline (a worker thread)."""
    with client.pipeline(transaction=False) as pipe:
        for channel, event, data in messages:
            pipe.publish(channel, encode(event, data))
        pipe.execute()


async def wait_for_hand_overs(within: float = 10.0) -> None:
    """Wait for this loop's pending after-commit publishes (tests, shutdown)."""
    loop = asyncio.get_running_loop()
    pending = [t for t in list(_tasks) if t.get_loop() is loop and not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=within)


First = Sequence[tuple[str, Any]] | Callable[[], Awaitable[Sequence[tuple[str, Any]]]]

# One subscribe at a time per event loop. redis-py's asyncio PubSub.connect() checks for its
# connection, awaits a new one and only then keeps it: screens subscribing at once (every browser
# reconnecting after a restart) each open a connection, and all but the last one kept are never
# read, so those screens hear nothing. In turn, the first makes the connection the others reuse.
_subscribe_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def subscribe(channels_plugin: Any, channels: Sequence[str]) -> Any:
    """A subscriber of Litestar's ChannelsPlugin on ``channels``, made one at a time."""
    loop = asyncio.get_running_loop()
    lock = _subscribe_locks.get(loop)
    if lock is None:
        lock = _subscribe_locks[loop] = asyncio.Lock()
    async with lock:
        return await channels_plugin.subscribe(list(channels))


def _seq(data: Any) -> int | None:
    seq = data.get("seq") if isinstance(data, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _message(event: str, data: Any) -> ServerSentEventMessage:
    seq = _seq(data)
    return ServerSentEventMessage(
        event=event, data=msgspec.json.encode(data).decode(), id=str(seq) if seq is not None else None
    )


def sse_stream(
    channels_plugin: Any,
    channels: Sequence[str],
    first: First = (),
    *,
    once: bool = False,
) -> ServerSentEvent:
    """A server-sent event stream of what is published on ``channels``: ``first`` (event, data)
    pairs right away, then every message, and a comment every ``HEARTBEAT_SECONDS`` so idle
    connections stay open. Clients reconnect by themselves (EventSource) and reload their state.
    ``first`` may be a coroutine function: it is run once subscribed, so the state it reads and
    the messages that follow leave no gap. Messages whose data carry an integer ``seq`` (an entry
    of a log the client can resume from with ``Last-Event-ID``) go out with that SSE id, and one
    already sent (replayed by ``first``, then heard live) is not sent again.
    ``once``: only ``first``, then the stream ends."""

    async def initial() -> Sequence[tuple[str, Any]]:
        return await first() if callable(first) else first

    async def events() -> AsyncIterator[ServerSentEventMessage]:
        if once:
            for event, data in await initial():
                yield _message(event, data)
            return
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)

        async def put(message: bytes) -> None:
            with contextlib.suppress(asyncio.QueueFull):  # a stuck screen drops, never blocks others
                queue.put_nowait(message)

        # Subscribed before the first events go out: nothing published meanwhile is missed.
        subscriber = await subscribe(channels_plugin, channels)
        replayed: set[int] = set()  # seqs ``first`` sent: heard live too, they are not sent twice
        try:
            for event, data in await initial():
                seq = _seq(data)
                if seq is not None:
                    replayed.add(seq)
                yield _message(event, data)
            async with subscriber.run_in_background(put):
                while True:
                    try:
                        raw = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                    except TimeoutError:
                        yield ServerSentEventMessage(comment="keep-alive")
                        continue
                    try:
                        decoded = msgspec.json.decode(raw)
                    except msgspec.DecodeError:
                        continue
                    data = decoded.get("data")
                    seq = _seq(data)
                    if seq is not None and seq in replayed:
                        replayed.discard(seq)
                        continue
                    yield _message(str(decoded.get("event") or "message"), data)
        finally:
            await channels_plugin.unsubscribe(subscriber)

    return ServerSentEvent(events())  # it sends Cache-Control: no-cache and X-Accel-Buffering: no itself
