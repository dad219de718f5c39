"""Sliding-window limits in Redis, per IP and per account, with a clear retry time.

One sorted set per key: members are hit timestamps; a hit trims the window, counts and adds in
one MULTI round trip. Shared by every web process, so a limit holds across the whole platform.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis


@dataclass(frozen=True, slots=True)
class Limit:
    name: str  # e.g. "login:account"
    max_hits: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after: int  # seconds until the next hit would be allowed (0 when allowed)


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, prefix: str = "kotalive:rl") -> None:
        self.redis = redis
        self.prefix = prefix

    def _key(self, limit: Limit, subject: str) -> str:
        return f"{self.prefix}:{limit.name}:{subject}"

    async def hit(self, limit: Limit, subject: str) -> Verdict:
        """Count one attempt; refuse when the window is full (refused attempts count too)."""
        key = self._key(limit, subject)
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, 0, now - limit.window_seconds)
            pipe.zadd(key, {f"{now}:{uuid.uuid4().hex[:8]}": now})
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.expire(key, limit.window_seconds)
            _, _, count, oldest, _ = await pipe.execute()
        if count <= limit.max_hits:
            return Verdict(True, limit.max_hits - count, 0)
        first = oldest[0][1] if oldest else now
        return Verdict(False, 0, max(1, int(first + limit.window_seconds - now) + 1))

    async def peek(self, limit: Limit, subject: str) -> int:
        key = self._key(limit, subject)
        await self.redis.zremrangebyscore(key, 0, time.time() - limit.window_seconds)
        return int(await self.redis.zcard(key))

    async def reset(self, limit: Limit, subject: str) -> None:
        await self.redis.delete(self._key(limit, subject))
