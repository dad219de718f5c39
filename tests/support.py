"""Helpers the tests import (``pythonpath = ["tests"]``; the repository root never goes on sys.path)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from dramatiq.brokers.redis import RedisBroker


async def wait_until(check: Callable[[], Any], what: str, within: float = 5.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; bounded, never a fixed sleep."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


def settled(broker: RedisBroker, *queues: str) -> Callable[[], bool]:
    """True once every message of these queues has been acked or dead-lettered."""
    return lambda: all(broker.do_qsize(q) == 0 for q in queues or ("events", "default", "notify"))
