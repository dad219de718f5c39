"""Live updates: every screen that opened its stream hears what is published on its channel,
however many open at once on a fresh web process (the real app, its ChannelsPlugin, real Redis)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from support import wait_until

from kotalive import live
from kotalive.settings import Settings

SCREENS = 30


async def test_screens_subscribing_at_once_on_a_fresh_process_all_hear_their_channel(
    app: Any, settings: Settings
) -> None:
    plugin = app.state.channels
    channels = [live.topic_channel(10_000 + n, f"test:{uuid.uuid4().hex[:8]}") for n in range(SCREENS)]
    subscribers = await asyncio.gather(*(live.subscribe(plugin, [c]) for c in channels))
    heard: dict[str, list[bytes]] = {c: [] for c in channels}
    tasks = []
    for channel, subscriber in zip(channels, subscribers, strict=True):

        async def drain(subscriber: Any = subscriber, channel: str = channel) -> None:
            async for message in subscriber.iter_events():
                heard[channel].append(message)

        tasks.append(asyncio.create_task(drain()))
    redis = aioredis.from_url(settings.redis_url)
    try:
        # One Redis pub/sub connection of this process carries every channel.
        async def subscribed() -> bool:
            counts = dict(await redis.pubsub_numsub(*channels))
            return all(counts.get(c.encode(), 0) == 1 for c in channels)

        await wait_until(subscribed, "Redis to count one subscriber per channel")
        for channel in channels:
            await redis.publish(channel, live.encode("ping", {"channel": channel}))
        await wait_until(lambda: all(heard.values()), f"every screen to hear its channel: {heard}", 5)
        assert all(len(messages) == 1 for messages in heard.values())
    finally:
        for task in tasks:
            task.cancel()
        for subscriber in subscribers:
            await plugin.unsubscribe(subscriber)
        await redis.aclose()


def test_each_database_has_its_own_channel_namespace() -> None:
    """City ids restart in every database and Redis pub/sub ignores the database number: two
    deployments (or test runs) on one Redis must not name the same channel for their city 1."""
    one = Settings.from_env(
        {"KOTALIVE_DATABASE_URL": "postgresql://h/kotalive_a", "KOTALIVE_REDIS_URL": "redis://h/1"}
    )
    two = Settings.from_env(
        {
            "KOTALIVE_DATABASE_URL": "postgresql://h/kotalive_b?sslmode=require",
            "KOTALIVE_REDIS_URL": "redis://h/1",
        }
    )
    named = Settings.from_env(
        {
            "KOTALIVE_DATABASE_URL": "postgresql://h/kotalive_a",
            "KOTALIVE_REDIS_URL": "redis://h/1",
            "KOTALIVE_LIVE_NAMESPACE": "staging",
        }
    )
    assert (one.live_namespace, two.live_namespace, named.live_namespace) == (
        "kl.kotalive_a",
        "kl.kotalive_b",
        "staging",
    )
    previous = live.install_namespace(one.live_namespace)
    try:
        first = live.topic_channel(1, "hotline112.calls")
        live.install_namespace(two.live_namespace)
        assert live.topic_channel(1, "hotline112.calls") != first
        assert first.startswith("kl.kotalive_a:1:")
    finally:
        live.install_namespace(previous)
    for bad in ("", "a:b", "kl*"):
        with pytest.raises(ValueError):
            live.install_namespace(bad)


async def test_the_app_publishes_under_its_databases_namespace(app: Any, settings: Settings) -> None:
    assert live.CHANNEL_PREFIX == settings.live_namespace != "kl"
