"""Unit simulator: the mobile terminals of a city's 112 units (ambulances, fire engines, police,
hearses, Dishub patrols), over real HTTP with each unit's terminal token.

Each simulated terminal polls ``GET /api/v1/hotline112/terminal`` (its unit and current assignment,
with the incident's location). When the unit is dispatched it reports ``en_route``, drives to the
incident along a straight line at its type's average speed, posting its position to
``POST /api/v1/hotline112/terminal/position`` every ``interval_s`` seconds, and reports ``on_scene``
on arrival (``POST /api/v1/hotline112/terminal/status``). With ``full_cycle`` it then stays on
scene for a while, takes a patient to hospital (ambulances, when a hospital is given:
``transporting`` -> ``at_hospital``), reports ``back_in_service``, drives back to its base and
reports ``available``.

``time_scale`` runs the world faster for demos: at 10 a unit covers in 2 s what it would in 20 s
(positions still every ``interval_s`` real seconds, ten times further apart).

The demo cities' units (``DEMO_UNITS``) and their terminal tokens (``demo_terminal_token``,
derivable on purpose: development only) are what `make run` seeds, so
``kotalive-simulators units drive --demo tangerang`` drives them.

Development and test tooling only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from kotalive_simulators.telephony import city_client

TERMINAL_PATH = "/api/v1/hotline112/terminal"
# Average road speed per unit type in km/h (the platform's defaults; a city may change its own).
SPEED_KMH = {"ambulance": 40.0, "fire_engine": 35.0, "police": 45.0, "hearse": 30.0, "dishub": 35.0}
EARTH_RADIUS_M = 6_371_000.0


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, h)))


def toward(a: tuple[float, float], b: tuple[float, float], metres: float) -> tuple[float, float]:
    """The point ``metres`` from ``a`` on the straight line to ``b`` (``b`` itself when closer)."""
    total = distance_m(a, b)
    if total <= metres or total == 0:
        return b
    f = metres / total
    return (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)


# ---- demo units ----------------------------------------------------------------------------------

DEMO_TOKEN_KEY = b"kotalive-demo-terminal-2026"  # development only: demo tokens are derivable


def demo_terminal_token(city: str, call_sign: str) -> str:
    """The demo terminal token of a demo unit (the same at every `make run`; development only)."""
    digest = hmac.new(DEMO_TOKEN_KEY, f"{city}:{call_sign}".encode(), hashlib.sha256).hexdigest()
    return f"demo-{digest[:40]}"


@dataclass(frozen=True, slots=True)
class DemoUnit:
    call_sign: str
    type: str  # ambulance | fire_engine | police | hearse | dishub
    agency: str  # the catalogue agency code (damkar, dinkes, polres, dinsos, dishub)
    name: str
    base: tuple[float, float]  # (lat, lon) of its station, inside the city
    crew: tuple[tuple[str, str], ...]  # (name, role)

    def crew_json(self) -> list[dict[str, str]]:
        return [{"name": n, "role": r} for n, r in self.crew]


def _units(
    rows: Sequence[tuple[str, str, str, str, tuple[float, float], tuple[tuple[str, str], ...]]],
) -> tuple[DemoUnit, ...]:
    return tuple(DemoUnit(*row) for row in rows)


# Stations near the kecamatan centres of each demo city (the approximate demo boundaries are drawn
# around the same centres, so every base is inside the city). Crews are invented.
DEMO_UNITS: dict[str, tuple[DemoUnit, ...]] = {
    "tangerang": _units(
        [
            ("DMK-TNG-01", "fire_engine", "damkar", "Pemadam Pos Tangerang", (-6.1765, 106.6335),
             (("Yoga Pratama", "komandan regu"), ("Bayu Saputra", "pengemudi"), ("Iwan Kurnia", "pemadam"))),
            ("DMK-TNG-02", "fire_engine", "damkar", "Pemadam Pos Ciledug", (-6.2315, 106.7125),
             (("Rudi Hartono", "komandan regu"), ("Joko Susilo", "pengemudi"))),
            ("DMK-TNG-03", "fire_engine", "damkar", "Pemadam Pos Neglasari", (-6.1405, 106.6395),
             (("Dedi Mulyana", "komandan regu"), ("Fajar Nugroho", "pengemudi"))),
            ("AMB-TNG-01", "ambulance", "dinkes", "Ambulans PSC 119 Karawaci", (-6.1895, 106.6125),
             (("dr. Ratih Kumalasari", "dokter"), ("Sri Wahyuni", "perawat"), ("Eko Prasetyo", "pengemudi"))),
            ("AMB-TNG-02", "ambulance", "dinkes", "Ambulans PSC 119 Pinang", (-6.2215, 106.6685),
             (("Nurul Aini", "perawat"), ("Agung Wibisono", "pengemudi"))),
            ("AMB-TNG-03", "ambulance", "dinkes", "Ambulans PSC 119 Batuceper", (-6.1605, 106.6595),
             (("Maya Sari", "perawat"), ("Hadi Purnomo", "pengemudi"))),
            ("POL-TNG-01", "police", "polres", "Patroli Polres Tangerang Kota 1", (-6.1850, 106.6500),
             (("Bripka Andika", "komandan patroli"), ("Briptu Rahmat", "pengemudi"))),
            ("POL-TNG-02", "police", "polres", "Patroli Polres Tangerang Kota 2", (-6.2095, 106.7145),
             (("Bripka Sutrisno", "komandan patroli"), ("Briptu Arif", "pengemudi"))),
            ("JNZ-TNG-01", "hearse", "dinsos", "Mobil Jenazah Dinsos", (-6.1700, 106.5905),
             (("Lestari Handayani", "pendamping"), ("Slamet Riyadi", "pengemudi"))),
            ("DSH-TNG-01", "dishub", "dishub", "Patroli Dishub Jatiuwung", (-6.1955, 106.5785),
             (("Teguh Santoso", "kepala regu"), ("Rian Hidayat", "petugas"))),
            ("DSH-TNG-02", "dishub", "dishub", "Patroli Dishub Cipondoh", (-6.1850, 106.6895),
             (("Fikri Maulana", "petugas"), ("Dani Setiawan", "pengemudi"))),
        ]
    ),
    "bekasi": _units(
        [
            ("DMK-BKS-01", "fire_engine", "damkar", "Pemadam Pos Bekasi Timur", (-6.2450, 107.0195),
             (("Rizal Fahmi", "komandan regu"), ("Ahmad Fauzi", "pengemudi"), ("Budi Santoso", "pemadam"))),
            ("DMK-BKS-02", "fire_engine", "damkar", "Pemadam Pos Bekasi Barat", (-6.2305, 106.9655),
             (("Hendra Gunawan", "komandan regu"), ("Wawan Setiawan", "pengemudi"))),
            ("DMK-BKS-03", "fire_engine", "damkar", "Pemadam Pos Jatiasih", (-6.3055, 106.9595),
             (("Asep Saepudin", "komandan regu"), ("Dodi Kurniawan", "pengemudi"))),
            ("AMB-BKS-01", "ambulance", "dinkes", "Ambulans PSC 119 Bekasi Selatan", (-6.2605, 106.9895),
             (("dr. Melati Kusumawardani", "dokter"), ("Siti Aminah", "perawat"), ("Yusuf Maulana", "pengemudi"))),
            ("AMB-BKS-02", "ambulance", "dinkes", "Ambulans PSC 119 Bekasi Utara", (-6.2055, 106.9995),
             (("Rina Marlina", "perawat"), ("Taufik Hidayat", "pengemudi"))),
            ("AMB-BKS-03", "ambulance", "dinkes", "Ambulans PSC 119 Pondok Gede", (-6.2895, 106.9045),
             (("Dewi Lestari", "perawat"), ("Anton Wijaya", "pengemudi"))),
            ("POL-BKS-01", "police", "polres", "Patroli Polres Metro Bekasi Kota 1", (-6.2380, 106.9900),
             (("Bripka Gunadi", "komandan patroli"), ("Briptu Fadli", "pengemudi"))),
            ("POL-BKS-02", "police", "polres", "Patroli Polres Metro Bekasi Kota 2", (-6.3045, 107.0395),
             (("Bripka Saputra", "komandan patroli"), ("Briptu Ilham", "pengemudi"))),
            ("JNZ-BKS-01", "hearse", "dinsos", "Mobil Jenazah Dinsos", (-6.2745, 106.9255),
             (("Ade Irawan", "pendamping"), ("Ujang Hermawan", "pengemudi"))),
            ("DSH-BKS-01", "dishub", "dishub", "Patroli Dishub Rawalumbu", (-6.2845, 107.0195),
             (("Irwan Setiadi", "kepala regu"), ("Bagus Prakoso", "petugas"))),
            ("DSH-BKS-02", "dishub", "dishub", "Patroli Dishub Medan Satria", (-6.1955, 106.9605),
             (("Reza Pahlevi", "petugas"), ("Ari Wibowo", "pengemudi"))),
        ]
    ),
}  # fmt: skip

# A hospital per demo city, where the simulated ambulances take patients in a full cycle.
DEMO_HOSPITAL: dict[str, tuple[float, float]] = {
    "tangerang": (-6.1830, 106.6290),  # RSUD Kota Tangerang (approximately)
    "bekasi": (-6.2460, 107.0010),  # RSUD dr. Chasbullah Abdulmadjid (approximately)
}


def demo_tokens(city: str) -> dict[str, str]:
    """call sign -> terminal token of a demo city's units."""
    return {u.call_sign: demo_terminal_token(city, u.call_sign) for u in DEMO_UNITS.get(city, ())}


# ---- the terminal --------------------------------------------------------------------------------


class TerminalError(RuntimeError):
    def __init__(self, what: str, response: httpx.Response | None = None, detail: str = "") -> None:
        status = response.status_code if response is not None else None
        text = detail or (response.text[:300] if response is not None else "")
        super().__init__(f"{what}: {status} {text}".strip())
        self.status = status


@dataclass(slots=True)
class TerminalView:
    """What ``GET /api/v1/hotline112/terminal`` says: the unit, and the incident it is sent to."""

    unit_id: int | None
    call_sign: str
    type: str
    status: str
    position: tuple[float, float] | None
    base: tuple[float, float] | None
    incident_id: int | None = None
    incident_at: tuple[float, float] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def _point(data: Any, lat: str = "lat", lon: str = "lon") -> tuple[float, float] | None:
    if not isinstance(data, dict):
        return None
    a, b = data.get(lat), data.get(lon)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return (float(a), float(b))
    return None


def parse_terminal(body: dict[str, Any]) -> TerminalView:
    """The terminal's answer: ``{"unit": {id, call_sign, type, status, lat, lon, base_lat, base_lon},
    "assignment": {..., "incident": {id, lat, lon, ...}} | null}``."""
    unit = body.get("unit")
    if not isinstance(unit, dict) or "status" not in unit:
        raise TerminalError("terminal answer without a unit", detail=str(body)[:300])
    assignment = body.get("assignment")
    incident = assignment.get("incident") if isinstance(assignment, dict) else None
    return TerminalView(
        unit_id=unit.get("id"),
        call_sign=str(unit.get("call_sign", "?")),
        type=str(unit.get("type") or unit.get("type_code") or ""),
        status=str(unit["status"]),
        position=_point(unit),
        base=_point(unit, "base_lat", "base_lon"),
        incident_id=incident.get("id") if isinstance(incident, dict) else None,
        incident_at=_point(incident),
        raw=body,
    )


class Terminal:
    """One unit's terminal: its token, over an HTTP client on the city's host."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.requests = 0

    async def view(self) -> TerminalView:
        self.requests += 1
        r = await self.client.get(TERMINAL_PATH, headers=self.headers)
        if r.status_code != 200:
            raise TerminalError("GET terminal", r)
        return parse_terminal(r.json())

    async def position(self, point: tuple[float, float]) -> None:
        self.requests += 1
        body = {"lat": round(point[0], 7), "lon": round(point[1], 7), "at": _now()}
        r = await self.client.post(f"{TERMINAL_PATH}/position", json=body, headers=self.headers)
        if r.status_code not in (200, 201, 202, 204):
            raise TerminalError("POST terminal/position", r)

    async def status(self, status: str) -> None:
        self.requests += 1
        r = await self.client.post(f"{TERMINAL_PATH}/status", json={"status": status}, headers=self.headers)
        if r.status_code not in (200, 201, 202, 204):
            raise TerminalError(f"POST terminal/status {status}", r)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(slots=True)
class Trip:
    """What one unit did for one incident: statuses with their moments, positions sent."""

    call_sign: str
    incident_id: int | None
    statuses: list[tuple[str, float]] = field(default_factory=list)  # (status, time.time())
    positions: int = 0
    metres: float = 0.0


class UnitDriver:
    """Drives one unit through its dispatch cycle whenever it is dispatched."""

    def __init__(
        self,
        terminal: Terminal,
        *,
        time_scale: float = 1.0,
        interval_s: float = 2.0,
        poll_s: float = 1.0,
        speed_kmh: float | None = None,
        full_cycle: bool = False,
        on_scene_s: float = 60.0,
        hospital: tuple[float, float] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if time_scale <= 0 or interval_s <= 0 or poll_s <= 0:
            raise ValueError("time_scale, interval_s and poll_s must be more than 0")
        self.terminal = terminal
        self.time_scale = time_scale
        self.interval_s = interval_s
        self.poll_s = poll_s
        self.speed_kmh = speed_kmh
        self.full_cycle = full_cycle
        self.on_scene_s = on_scene_s
        self.hospital = hospital
        self.log = log or (lambda line: None)
        self.trips: list[Trip] = []
        self.errors: list[str] = []
        self.call_sign = "?"

    def speed_of(self, view: TerminalView) -> float:
        return self.speed_kmh or SPEED_KMH.get(view.type, 35.0)

    async def drive(
        self, trip: Trip, start: tuple[float, float], goal: tuple[float, float], speed_kmh: float
    ) -> tuple[float, float]:
        """Positions every ``interval_s`` along the line from ``start`` to ``goal``; returns ``goal``."""
        step = speed_kmh / 3.6 * self.interval_s * self.time_scale
        here = start
        while here != goal:
            await asyncio.sleep(self.interval_s)
            nxt = toward(here, goal, step)
            trip.metres += distance_m(here, nxt)
            here = nxt
            await self.terminal.position(here)
            trip.positions += 1
        return here

    async def report(self, trip: Trip, status: str) -> None:
        await self.terminal.status(status)
        trip.statuses.append((status, time.time()))
        self.log(
            f"{self.call_sign} {status}" + (f" (incident {trip.incident_id})" if trip.incident_id else "")
        )

    async def respond(self, view: TerminalView) -> Trip:
        """From dispatched (or en route) to on scene, and on through the cycle if ``full_cycle``."""
        trip = Trip(view.call_sign, view.incident_id)
        self.trips.append(trip)
        speed = self.speed_of(view)
        if view.status == "dispatched":
            await self.report(trip, "en_route")
        here = view.position or view.base or view.incident_at
        goal = view.incident_at
        if here is not None and goal is not None:
            self.log(
                f"{view.call_sign} driving {distance_m(here, goal):.0f} m to incident {view.incident_id} "
                f"at {speed:.0f} km/h (x{self.time_scale:g})"
            )
            here = await self.drive(trip, here, goal, speed)
        await self.report(trip, "on_scene")
        if not self.full_cycle:
            return trip
        await asyncio.sleep(self.on_scene_s / self.time_scale)
        if view.type == "ambulance" and self.hospital is not None and here is not None:
            await self.report(trip, "transporting")
            here = await self.drive(trip, here, self.hospital, speed)
            await self.report(trip, "at_hospital")
            await asyncio.sleep(min(self.on_scene_s, 30.0) / self.time_scale)
        await self.report(trip, "back_in_service")
        if here is not None and view.base is not None:
            await self.drive(trip, here, view.base, speed)
        await self.report(trip, "available")
        return trip

    async def run(self, stop: asyncio.Event, *, trips: int | None = None) -> list[Trip]:
        """Poll and respond until ``stop`` is set (or ``trips`` trips are done)."""
        while not stop.is_set() and (trips is None or len(self.trips) < trips):
            try:
                view = await self.terminal.view()
                self.call_sign = view.call_sign
                if view.status in ("dispatched", "en_route") and view.incident_id is not None:
                    await self.respond(view)
                    continue
            except (TerminalError, httpx.HTTPError) as exc:
                self.errors.append(str(exc))
                self.log(f"{self.call_sign}: {exc}")
                if isinstance(exc, TerminalError) and exc.status == 401:
                    return self.trips  # a revoked or wrong token: nothing more to do
            try:
                await asyncio.wait_for(stop.wait(), self.poll_s)
            except TimeoutError:
                pass
        return self.trips


async def drive_units(
    city_url: str,
    tokens: Sequence[str],
    stop: asyncio.Event,
    *,
    connect: str | None = None,
    trips_each: int | None = None,
    **driver_options: Any,
) -> list[UnitDriver]:
    """One driver per token on one HTTP client; returns when ``stop`` is set (or each driver has
    done ``trips_each`` trips)."""
    async with city_client(city_url, connect, max_connections=max(4, len(tokens))) as client:
        drivers = [UnitDriver(Terminal(client, token), **driver_options) for token in tokens]
        await asyncio.gather(*(d.run(stop, trips=trips_each) for d in drivers))
    return drivers
