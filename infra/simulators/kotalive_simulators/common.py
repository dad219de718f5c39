"""What the SIAK, Simpeg and SMS simulators share: per-city API keys, JSON errors, fault injection.

Every simulator serves each city under its own path prefix (``/{city}/api/v1/...``), so a city's
base URL is ``http://host:port/{city}``. Faults are per city and set through
``POST /{city}/_control/fail`` {count, status}, ``POST /{city}/_control/delay`` {seconds, count}
and cleared by ``POST /{city}/_control/reset`` (no key: development only, loopback only).
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, post
from litestar.params import FromPath, JSONBody

API_KEY_HEADER = "X-API-Key"


def error(status: int, code: str, message: str) -> Response[dict[str, str]]:
    return Response({"error": code, "message": message}, status_code=status)


@dataclass(slots=True)
class Faults:
    """Injected failures of one city's API: the next ``fail_count`` calls answer ``fail_status``;
    the next ``delay_count`` calls first wait ``delay_seconds``."""

    fail_count: int = 0
    fail_status: int = 503
    delay_count: int = 0
    delay_seconds: float = 0.0

    # Set when the simulator stops: a delayed request ends at once instead of holding up shutdown.
    stopping: bool = False

    async def apply(self) -> Response[dict[str, str]] | None:
        if self.delay_count > 0:
            self.delay_count -= 1
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.delay_seconds
            # Polled, not an asyncio.Event: `stopping` is set from the thread that stops the servers.
            while not self.stopping and (left := deadline - loop.time()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(min(left, 0.05))
        if self.fail_count > 0:
            self.fail_count -= 1
            return error(self.fail_status, "unavailable", "simulated failure")
        return None

    def reset(self) -> None:
        self.fail_count = self.delay_count = 0
        self.fail_status = 503
        self.delay_seconds = 0.0


class CityGate:
    """Checks the city and its API key, then applies that city's faults."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys
        self.faults = {city: Faults() for city in keys}

    async def check(
        self, request: Request[Any, Any, Any], city: str, *, faults: bool = True
    ) -> Response[dict[str, str]] | None:
        expected = self.keys.get(city)
        if expected is None:
            return error(404, "unknown_city", f"no city {city!r} here")
        given = request.headers.get(API_KEY_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return error(401, "unauthorized", f"missing or wrong {API_KEY_HEADER}")
        return await self.faults[city].apply() if faults else None


def control_handlers(gate: CityGate, on_reset: Any = None) -> list[Any]:
    """``/_control`` routes of a simulator (``on_reset(city)`` clears its own state too)."""

    @post("/{city:str}/_control/fail", status_code=200)
    async def fail(city: FromPath[str], data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        faults = gate.faults.get(city)
        if faults is None:
            return error(404, "unknown_city", city)
        faults.fail_count = int(data.get("count", 1))
        faults.fail_status = int(data.get("status", 503))
        return Response({"fail_count": faults.fail_count, "fail_status": faults.fail_status})

    @post("/{city:str}/_control/delay", status_code=200)
    async def delay(city: FromPath[str], data: JSONBody[dict[str, Any]]) -> Response[dict[str, Any]]:
        faults = gate.faults.get(city)
        if faults is None:
            return error(404, "unknown_city", city)
        faults.delay_seconds = float(data.get("seconds", 1.0))
        faults.delay_count = int(data.get("count", 1))
        return Response({"delay_seconds": faults.delay_seconds, "delay_count": faults.delay_count})

    @post("/{city:str}/_control/reset", status_code=200)
    async def reset(city: FromPath[str]) -> Response[dict[str, Any]]:
        faults = gate.faults.get(city)
        if faults is None:
            return error(404, "unknown_city", city)
        faults.reset()
        if on_reset is not None:
            on_reset(city)
        return Response({"reset": city})

    return [fail, delay, reset]
