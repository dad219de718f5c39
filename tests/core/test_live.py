"""Live updates: every screen that opened its stream hears what is published on its channel,
however many open at once on a fresh web process (the real app, its ChannelsPlugin, real Redis)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

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
