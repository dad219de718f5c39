"""Benchmark 8: 112, from the telephony system's call event to the call-taker's screen.

One ``kotalive serve`` (defaults, one uvicorn process) on a throwaway database, cities through
``TenantService.provision`` with a telephony integration (webhook secret and AML HMAC key, as a
city connects its telephony system). Call-takers (employees with the ``calltaker`` role, a session
in Redis each) hold ``GET /api/v1/hotline112/calls/stream`` open (server-sent events). Everything
goes over loopback HTTP, signed as the telephony system and the handsets send it, through the
telephony simulator of infra/simulators (``kotalive_simulators.telephony``).

Runs:
  ringing: one ``offered`` event at a time (``POST /hotline112/telephony/events``, signed), 0.1-0.3 s
  apart; the latency is from just before the POST until each screen's ``call`` event with that call
  id (p50/p95 of every screen, and of the last screen per call; goal p95 < 200 ms). The POST's own
  answer time beside it.
  location: right after each ringing call, its AML message (``POST /hotline112/aml``, with the HMAC);
  the latency until each screen's ``location`` event for that call (the accuracy circle on the map).
  recommendation: 2,000 units (fire engines, ambulances, police, hearses, Dishub patrols; 85 %
  dispatchable) inserted by SQL at random points over a 35 x 35 km area, incidents of three types
  (1, 2 and 3 unit types) spread over it; ``GET /api/v1/hotline112/incidents/{id}/recommendations``
  as a dispatcher on one keep-alive connection, and in this process ``dispatch.recommend`` (the
  service: incident, its types, the nearest-units query) and ``dispatch.nearest_units`` (the query
  alone); p50/p95 (goal p95 < 20 ms); EXPLAIN (ANALYZE) of the query.
  sustained: a city of its own, ``rate`` calls/s with AML (Poisson arrivals, random points, 10 % of
  the AML as SMS, 10 % before their call; 2-4 events per call) for ``seconds`` (60; --quick 10),
  played by the telephony simulator with at most 64 requests in flight, one call-taker screen open.
  Then every call and location is accounted for: rows in h112_call and h112_location (and matched
  to their call) against what was sent, ``call``/``location`` events the screen got; latencies of
  each kind of request, how late the simulator fell behind its schedule, server CPU.

Figures and ratios come from one run; nothing asserts a time. Results: bench-results/hotline112.json.

    .venv/bin/python -P infra/bench/bench_hotline112.py [--quick]
    .venv/bin/python -P infra/bench/run_all.py --only hotline112 [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
import httpx
import redis.asyncio as aioredis
from bench_laksa import city_sql, csrf_token
from bench_liveroom import Cpu, say_cpu
from bench_reads import AppServer
from benchkit import (
    RESULTS_DIR,
    Bench,
    BenchResult,
    Sizes,
    claimed_redis_database,
    new_city,
    percentile,
    provision_cities,
    record_failure,
    say,
    server_version,
    standalone,
    throwaway_database,
    write_results,
)

from kotalive.auth.crypto import Vault
from kotalive.auth.models import Employee, RoleGrant
from kotalive.auth.principal import Principal
from kotalive.auth.sessions import COOKIE_NAME, SessionStore
from kotalive.context import TenantContext, use_tenant
from kotalive.integrations.simulators import load as load_simulators
from kotalive.settings import plain_postgres_url
from kotalive.tenants.integrations import set_integration

load_simulators()
from kotalive_simulators import telephony  # noqa: E402  (on sys.path once loaded)

SECRET = "bench-telephony-secret"
AML_KEY = "bench-aml-key"
# Unit types and how many of the 2,000 units each has.
FLEET = {"fire_engine": 500, "ambulance": 600, "police": 500, "hearse": 100, "dishub": 300}
AGENCY_OF = {
    "fire_engine": "damkar",
    "ambulance": "dinkes",
    "police": "polres",
    "hearse": "dinsos",
    "dishub": "dishub",
}
AREA = (-6.36, 106.55, -6.04, 106.87)  # south, west, north, east: about 35 x 35 km around Tangerang
INCIDENT_TYPES = ("fire", "medical", "traffic_accident")  # 2, 1 and 3 unit types
WAIT_SECONDS = 10.0
CONCURRENCY = 16  # requests in flight at most in the sustained run (a telephony system's webhook pool)
SEED = 20261207


@dataclass(frozen=True, slots=True)
class H112Sizes:
    screens: int  # call-taker screens in the latency runs
    samples: int  # ringing calls (each with its AML) in the latency runs
    units: int
    incidents: int
    requests: int  # recommendations timed, over HTTP and in process (each)
    capacity_requests: int  # offered events per closed-loop capacity run
    rate: float  # sustained calls per second
    seconds: float  # sustained run

    @classmethod
    def pick(cls, sizes: Sizes) -> H112Sizes:
        if sizes.quick:
            return cls(
                screens=2,
                samples=30,
                units=2_000,
                incidents=20,
                requests=100,
                capacity_requests=200,
                rate=50.0,
                seconds=10.0,
            )
        return cls(
            screens=5,
            samples=200,
            units=2_000,
            incidents=50,
            requests=500,
            capacity_requests=1000,
            rate=50.0,
            seconds=60.0,
        )


_started = time.perf_counter()


def note(message: str) -> None:
    say(f"[{time.perf_counter() - _started:5.0f} s] {message}")


def pct(values: Sequence[float], p: float) -> float | None:
    return round(percentile(values, p), 2) if values else None


def ms(values: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": round(max(values), 2) if values else None,
    }


# ---- people and cities ---------------------------------------------------------------------------


async def staff(bench: Bench, ctx: TenantContext, store: SessionStore, role: str, n: int) -> list[str]:
    """``n`` employees with ``role``, each with a login session (the tokens)."""
    tokens = []
    async with bench.db.tenant_session(ctx) as session:
        for i in range(n):
            row = Employee(
                nip=f"{random.randrange(10**17, 10**18)}",
                name=f"Bench {role} {i + 1}",
                active=True,
                simpeg_status="aktif",
            )
            session.add(row)
            await session.flush()
            session.add(RoleGrant(subject_kind="employee", subject_id=row.id, role=role, source="admin"))
            principal = Principal("employee", row.id, ctx.id, row.name, frozenset({"employee", role}))
            tokens.append(await store.create(principal))
        await session.commit()
    return tokens


async def connect_telephony(bench: Bench, ctx: TenantContext) -> None:
    async with bench.db.tenant_session(ctx) as session:
        await set_integration(
            session,
            Vault.from_settings(bench.settings),
            "telephony",
            config={"provider": "bench"},
            secrets={"webhook_secret": SECRET, "aml_hmac_key": AML_KEY},
        )
        await session.commit()


# ---- the call-taker's screen ---------------------------------------------------------------------


@dataclass(slots=True)
class Screen:
    """One ``calls/stream``: the arrival time of each call id's first ``call`` event and of each
    location's ``location`` event."""

    port: int
    host: str
    token: str
    calls: dict[str, float] = field(default_factory=dict)  # call_ref -> first seen
    call_ids: dict[str, int] = field(default_factory=dict)  # call_ref -> id
    locations: dict[int, float] = field(default_factory=dict)  # location id -> seen
    location_calls: dict[int, int] = field(default_factory=dict)  # call id -> first location seen (count)
    located: dict[int, float] = field(default_factory=dict)  # call id -> first location seen
    events: int = 0
    error: str | None = None
    _client: httpx.AsyncClient | None = None
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def open(self) -> None:
        self._client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Host": self.host, "Accept": "text/event-stream"},
            cookies={COOKIE_NAME: self.token},
            timeout=httpx.Timeout(10.0, read=None),
        )
        self._task = asyncio.create_task(self._loop())
        await asyncio.wait_for(self._ready.wait(), 15)
        if self.error:
            raise RuntimeError(f"screen on {self.host}: {self.error}")

    async def _loop(self) -> None:
        assert self._client is not None
        try:
            async with self._client.stream("GET", "/api/v1/hotline112/calls/stream") as r:
                if r.status_code != 200:
                    self.error = f"{r.status_code} {(await r.aread())[:200]!r}"
                    self._ready.set()
                    return
                event, data = "", []
                async for line in r.aiter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == "" and (event or data):
                        self.take(event, "\n".join(data), time.perf_counter())
                        event, data = "", []
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self._ready.set()

    def take(self, event: str, raw: str, t: float) -> None:
        self.events += 1
        if event == "calls":
            self._ready.set()
            return
        try:
            data = json.loads(raw)
        except ValueError:
            return
        if event == "call":
            ref = data.get("call_ref")
            if isinstance(ref, str):
                self.calls.setdefault(ref, t)
                self.call_ids.setdefault(ref, int(data["id"]))
        elif event == "location":
            lid, cid = data.get("id"), data.get("call_id")
            if isinstance(lid, int):
                self.locations.setdefault(lid, t)
            if isinstance(cid, int):
                self.located.setdefault(cid, t)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._client is not None:
            await self._client.aclose()


async def until(check: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.002)
    return bool(check())


# ---- runs ----------------------------------------------------------------------------------------


async def phase_latency(
    port: int, host: str, screens: list[Screen], n: int, details: dict[str, Any]
) -> dict[str, Any]:
    """Ringing and location latencies, one call at a time."""
    target = telephony.Target(
        f"http://{host}:{port}", secret=SECRET, aml_hmac_key=AML_KEY, connect="127.0.0.1"
    )
    rng = random.Random(SEED)
    ring_all: list[float] = []
    ring_last: list[float] = []
    ring_post: list[float] = []
    loc_all: list[float] = []
    loc_last: list[float] = []
    loc_post: list[float] = []
    missed = {"ringing": 0, "location": 0}
    run = uuid.uuid4().hex[:6]
    async with target.client(max_connections=4) as client:
        for i in range(n):
            plan = telephony.CallPlan(call_id=f"ring-{run}-{i}", caller=telephony.random_number(rng))
            now = dt.datetime.now(dt.UTC)
            body = json.dumps(telephony.event_payload(plan, "offered", now, plan.call_id)).encode()
            headers = {
                "Content-Type": "application/json",
                telephony.SIGNATURE_HEADER: telephony.sign(SECRET, body),
            }
            t0 = time.perf_counter()
            r = await client.post(telephony.EVENTS_PATH, content=body, headers=headers)
            ring_post.append(1000 * (time.perf_counter() - t0))
            if r.status_code != 200:
                raise RuntimeError(f"offered event: {r.status_code} {r.text[:300]}")
            ok = await until(lambda ref=plan.call_id: all(ref in s.calls for s in screens), WAIT_SECONDS)
            got = [1000 * (s.calls[plan.call_id] - t0) for s in screens if plan.call_id in s.calls]
            ring_all += got
            if ok:
                ring_last.append(max(got))
            else:
                missed["ringing"] += 1
                continue
            call_id = screens[0].call_ids[plan.call_id]
            aml = telephony.AmlPlan(
                lat=rng.uniform(AREA[0], AREA[2]),
                lon=rng.uniform(AREA[1], AREA[3]),
                accuracy_m=rng.uniform(5, 50),
            )
            aml_raw = telephony.aml_body(aml, plan.caller, dt.datetime.now(dt.UTC), AML_KEY)
            t1 = time.perf_counter()
            r = await client.post(
                telephony.AML_PATH,
                content=aml_raw,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            loc_post.append(1000 * (time.perf_counter() - t1))
            if r.status_code != 200:
                raise RuntimeError(f"AML: {r.status_code} {r.text[:300]}")
            ok = await until(lambda cid=call_id: all(cid in s.located for s in screens), WAIT_SECONDS)
            got = [1000 * (s.located[call_id] - t1) for s in screens if call_id in s.located]
            loc_all += got
            if ok:
                loc_last.append(max(got))
            else:
                missed["location"] += 1
            await asyncio.sleep(rng.uniform(0.1, 0.3))
    out = {
        "samples": n,
        "screens": len(screens),
        "ringing_every_screen_ms": ms(ring_all),
        "ringing_last_screen_ms": ms(ring_last),
        "offered_post_ms": ms(ring_post),
        "location_every_screen_ms": ms(loc_all),
        "location_last_screen_ms": ms(loc_last),
        "aml_post_ms": ms(loc_post),
        "missed": missed,
    }
    details["latency"] = out
    note(
        f"  ringing p50 {out['ringing_every_screen_ms']['p50']} / p95 {out['ringing_every_screen_ms']['p95']} ms; "
        f"location p50 {out['location_every_screen_ms']['p50']} / p95 {out['location_every_screen_ms']['p95']} ms; "
        f"missed {missed}"
    )
    return out


async def add_units(conn: asyncpg.Connection, ctx: TenantContext, n: int) -> dict[str, int]:
    """``n`` units by SQL at random points of AREA: 80 % available, 5 % back in service, 15 % out of service."""
    agencies = dict(
        (r["code"], r["id"]) for r in await conn.fetch(city_sql(ctx, "SELECT code, id FROM {city}.agency"))
    )
    rng = random.Random(SEED + 1)
    total = sum(FLEET.values())
    rows = []
    k = 0
    for type_code, count in FLEET.items():
        for _ in range(round(count * n / total)):
            k += 1
            status = rng.choices(("available", "back_in_service", "out_of_service"), weights=(80, 5, 15))[0]
            lat, lon = rng.uniform(AREA[0], AREA[2]), rng.uniform(AREA[1], AREA[3])
            sign = f"B-{type_code[:3].upper()}-{k:05d}"
            rows.append((sign, type_code, agencies[AGENCY_OF[type_code]], status, lat, lon, f"Unit {sign}"))
    await conn.executemany(
        city_sql(
            ctx,
            "INSERT INTO {city}.h112_unit (call_sign, type_code, agency_id, name, crew, status, status_at, lat, lon, "
            "position_at, base_lat, base_lon, active, version) "
            "VALUES ($1, $2, $3, $7, '[]'::jsonb, $4, now(), $5, $6, now(), $5, $6, true, 0)",
        ),
        rows,
    )
    await conn.execute(city_sql(ctx, "ANALYZE {city}.h112_unit"))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[1]] = counts.get(row[1], 0) + 1
    return counts


async def add_incidents(
    conn: asyncpg.Connection, ctx: TenantContext, n: int
) -> list[tuple[int, float, float, str]]:
    rng = random.Random(SEED + 2)
    out = []
    for i in range(n):
        lat, lon = rng.uniform(AREA[0], AREA[2]), rng.uniform(AREA[1], AREA[3])
        kind = INCIDENT_TYPES[i % len(INCIDENT_TYPES)]
        iid = await conn.fetchval(
            city_sql(
                ctx,
                "INSERT INTO {city}.h112_incident (type_code, priority, state, summary, lat, lon, accuracy_m, "
                "location_source, answers, version) VALUES ($1, 'P1', 'open', 'bench', $2, $3, 20, 'map', '{}'::jsonb, 0) "
                "RETURNING id",
            ),
            kind,
            lat,
            lon,
        )
        out.append((int(iid), lat, lon, kind))
    return out


async def phase_recommend(
    bench: Bench,
    conn: asyncpg.Connection,
    ctx: TenantContext,
    port: int,
    dispatcher_token: str,
    sizes: H112Sizes,
    details: dict[str, Any],
) -> dict[str, Any]:
    from kotalive.modules.hotline112 import dispatch

    fleet = await add_units(conn, ctx, sizes.units)
    incidents = await add_incidents(conn, ctx, sizes.incidents)
    note(f"  recommendation: {sum(fleet.values())} units {fleet}, {len(incidents)} incidents")
    rng = random.Random(SEED + 3)
    order = [incidents[rng.randrange(len(incidents))] for _ in range(sizes.requests)]
    http_ms: list[float] = []
    returned: list[int] = []
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Host": ctx.primary_host, "Accept": "application/json"},
        cookies={COOKIE_NAME: dispatcher_token},
        timeout=10.0,
    ) as client:
        for warm in order[:20]:
            r = await client.get(f"/api/v1/hotline112/incidents/{warm[0]}/recommendations")
            if r.status_code != 200:
                raise RuntimeError(f"recommendations: {r.status_code} {r.text[:300]}")
        for iid, _, _, _ in order:
            t0 = time.perf_counter()
            r = await client.get(f"/api/v1/hotline112/incidents/{iid}/recommendations")
            http_ms.append(1000 * (time.perf_counter() - t0))
            if r.status_code != 200:
                raise RuntimeError(f"recommendations: {r.status_code} {r.text[:300]}")
            returned.append(len(r.json()["recommendations"]))
    service_ms: list[float] = []
    query_ms: list[float] = []
    with use_tenant(ctx):
        async with bench.db.tenant_session(ctx) as session:
            for iid, *_ in order[:20]:
                await dispatch.recommend(session, iid)
            for iid, _, _, _ in order:
                t0 = time.perf_counter()
                await dispatch.recommend(session, iid)
                service_ms.append(1000 * (time.perf_counter() - t0))
            types = {"fire": ["fire_engine", "ambulance"], "medical": ["ambulance"],
                     "traffic_accident": ["ambulance", "police", "dishub"]}  # fmt: skip
            for _, lat, lon, kind in order:
                t0 = time.perf_counter()
                await dispatch.nearest_units(session, lat, lon, types[kind], 3)
                query_ms.append(1000 * (time.perf_counter() - t0))
    plan = await explain_nearest(conn, ctx, incidents[0][1], incidents[0][2])
    out = {
        "units": fleet,
        "incidents": len(incidents),
        "http_ms": ms(http_ms),
        "service_ms": ms(service_ms),
        "query_ms": ms(query_ms),
        "recommendations_per_answer": ms([float(x) for x in returned]),
        "explain": plan,
    }
    details["recommendation"] = out
    note(
        f"  recommendation p95: HTTP {out['http_ms']['p95']} ms, service {out['service_ms']['p95']} ms, "
        f"query {out['query_ms']['p95']} ms; EXPLAIN {plan.get('execution_ms')} ms ({plan.get('top')})"
    )
    return out


async def explain_nearest(
    conn: asyncpg.Connection, ctx: TenantContext, lat: float, lon: float
) -> dict[str, Any]:
    from kotalive.modules.hotline112.dispatch import _NEAREST_SQL

    sql = (
        _NEAREST_SQL.replace(":lat", "$1")
        .replace(":lon", "$2")
        .replace(":types", "$3")
        .replace(":per_type", "$4")
    )
    rows = await conn.fetch(
        city_sql(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) " + sql), lat, lon, ["fire_engine", "ambulance"], 3
    )
    plan = json.loads(rows[0][0])[0]
    nodes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(
            node.get("Node Type", "?") + (f" on {node['Relation Name']}" if "Relation Name" in node else "")
        )
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return {"execution_ms": plan.get("Execution Time"), "top": " > ".join(nodes[:6])}


async def phase_sustained(
    bench: Bench,
    conn: asyncpg.Connection,
    ctx: TenantContext,
    port: int,
    screen: Screen,
    server: AppServer,
    sizes: H112Sizes,
    processes: int,
) -> dict[str, Any]:
    prefix = f"load{processes}-{uuid.uuid4().hex[:6]}"
    script = telephony.random_script(
        rate=sizes.rate,
        duration_s=sizes.seconds,
        bbox=AREA,
        seed=SEED + 4,
        aml_share=1.0,
        sms_share=0.1,
        early_aml_share=0.1,
        answer_s=(1.0, 4.0),
        talk_s=(3.0, 10.0),
        abandon_share=0.05,
        prefix=prefix,
    )
    target = telephony.Target(
        f"http://{ctx.primary_host}:{port}", secret=SECRET, aml_hmac_key=AML_KEY, connect="127.0.0.1"
    )
    note(
        f"  sustained: {len(script.calls)} calls ({sizes.rate:g}/s for {sizes.seconds:g} s) with AML, "
        f"{sum(len(c.aml) for c in script.calls)} AML messages"
    )
    meter = Cpu(bench.database_name, server, None)
    cpu0, t0 = meter.snap(), time.perf_counter()
    summary = await telephony.play(script, target, speed=1.0, concurrency=CONCURRENCY)
    elapsed = time.perf_counter() - t0
    cpu = meter.since(cpu0)
    expected_calls = set(summary.calls)
    await until(lambda: expected_calls <= set(screen.calls), WAIT_SECONDS)
    db_calls = await conn.fetchval(
        city_sql(ctx, "SELECT count(*) FROM {city}.h112_call WHERE call_ref LIKE $1"), prefix + "-%"
    )
    db_events = await conn.fetchval(
        city_sql(
            ctx,
            "SELECT count(*) FROM {city}.h112_call_event e JOIN {city}.h112_call c ON c.id = e.call_id "
            "WHERE c.call_ref LIKE $1",
        ),
        prefix + "-%",
    )
    loc = await conn.fetchrow(
        city_sql(
            ctx,
            "SELECT count(*) AS n, count(*) FILTER (WHERE l.call_id IS NOT NULL) AS matched, "
            "count(*) FILTER (WHERE c.call_ref LIKE $1) AS matched_here "
            "FROM {city}.h112_location l LEFT JOIN {city}.h112_call c ON c.id = l.call_id",
        ),
        prefix + "-%",
    )
    rejected = await conn.fetchval(city_sql(ctx, "SELECT count(*) FROM {city}.h112_rejected"))
    # A location left waiting: when it arrived against its call's offer (a race shows here).
    unmatched = await conn.fetch(
        city_sql(
            ctx,
            "SELECT l.caller_number, l.channel, l.received_at, c.call_ref, c.offered_at, c.created_at "
            "FROM {city}.h112_location l LEFT JOIN {city}.h112_call c "
            "ON c.caller_number = l.caller_number AND c.call_ref LIKE $1 WHERE l.call_id IS NULL LIMIT 20",
        ),
        prefix + "-%",
    )
    ids = {ref: cid for ref, cid in screen.call_ids.items() if ref.startswith(prefix)}
    screen_calls = sum(1 for ref in expected_calls if ref in screen.calls)
    screen_located = sum(1 for cid in ids.values() if cid in screen.located)
    counts = summary.counts()
    events_sent = counts["event"]["accepted"] + counts["event"]["duplicates"]
    offers = [s for s in summary.sent if s.kind == "event"]
    offered_seconds = max((c.start_s for c in script.calls), default=0.0)
    out = {
        "calls_planned": len(script.calls),
        "calls_expected": len(expected_calls),
        "locations_expected": summary.locations,
        "seconds": round(elapsed, 2),
        "offered_seconds": round(offered_seconds, 2),
        "calls_per_second": round(len(script.calls) / max(offered_seconds, 1e-9), 1),
        "requests": len(summary.sent),
        "requests_per_second": round(len(summary.sent) / elapsed, 1),
        "failed": len(summary.failed),
        "retried": sum(1 for x in summary.sent if x.retries),
        "failures": [f"{s.kind} {s.status} {s.detail[:120]}" for s in summary.failed[:10]],
        "max_lag_ms": round(summary.max_lag_ms, 1),
        "by_kind": counts,
        "db_calls": int(db_calls),
        "db_events": int(db_events),
        "events_sent_ok": events_sent,
        "db_locations": int(loc["n"]),
        "db_locations_matched": int(loc["matched_here"]),
        "db_rejected": int(rejected),
        "screen_calls": screen_calls,
        "screen_located_calls": screen_located,
        "calls_with_aml": sum(1 for c in script.calls if any(a.valid for a in c.aml)),
        "unmatched": [
            {
                "call_ref": r["call_ref"],
                "channel": r["channel"],
                "received_minus_offered_ms": (
                    round(1000 * (r["received_at"] - r["offered_at"]).total_seconds(), 1)
                    if r["offered_at"]
                    else None
                ),
                "received_minus_created_ms": (
                    round(1000 * (r["received_at"] - r["created_at"]).total_seconds(), 1)
                    if r["created_at"]
                    else None
                ),
            }
            for r in unmatched
        ],
        "cpu": cpu,
        "server_cpu_pct": cpu["server_pct"],
        "others_cpu_pct": cpu["others_pct"],
        "event_requests": len(offers),
    }
    note(
        f"  sustained ({processes} process{'es' if processes > 1 else ''}): {out['requests']} requests in {elapsed:.1f} s ({out['requests_per_second']}/s), "
        f"{out['failed']} failed, lag max {out['max_lag_ms']} ms; DB calls {out['db_calls']}/{out['calls_expected']}, "
        f"locations {out['db_locations']}/{out['locations_expected']} (matched {out['db_locations_matched']}); "
        f"screen {screen_calls} calls, {screen_located} located"
    )
    say_cpu(cpu)
    if out["unmatched"]:
        note(f"  unmatched locations: {out['unmatched'][:5]}")
    return out


# ---- the benchmark -------------------------------------------------------------------------------


async def run(sizes: Sizes) -> BenchResult:
    global _started
    result = BenchResult("hotline112")
    started = _started = time.perf_counter()
    try:
        with claimed_redis_database("hotline") as redis_url:
            await _run(sizes, result, redis_url)
    except Exception as exc:
        record_failure(result, exc)
    result.seconds = time.perf_counter() - started
    try:
        pg = await server_version()
    except Exception:
        pg = None
    path = write_results(
        RESULTS_DIR / "hotline112.json",
        [result],
        quick=sizes.quick,
        extra={"postgresql": pg, "sizes": str(H112Sizes.pick(sizes))},
    )
    note(f"[hotline112] written to {path}")
    return result


class TwoProcesses(AppServer):
    """`kotalive serve --workers 2`: one web process per core."""

    def command(self) -> list[str]:
        return [*super().command(), "--workers", "2"]


async def offer_loop(
    client: httpx.AsyncClient, left: list[int], latencies: list[float], tag: str, rng: random.Random
) -> None:
    """One connection sending ``offered`` events, one after another, until ``left`` is empty."""
    while left:
        i = left.pop()
        plan = telephony.CallPlan(call_id=f"{tag}-{i}-{SEED}", caller=telephony.random_number(rng))
        body = json.dumps(
            telephony.event_payload(plan, "offered", dt.datetime.now(dt.UTC), plan.call_id)
        ).encode()
        headers = {
            "Content-Type": "application/json",
            telephony.SIGNATURE_HEADER: telephony.sign(SECRET, body),
        }
        t0 = time.perf_counter()
        r = await client.post(telephony.EVENTS_PATH, content=body, headers=headers)
        latencies.append(1000 * (time.perf_counter() - t0))
        if r.status_code != 200:
            raise RuntimeError(f"offered event: {r.status_code} {r.text[:300]}")


async def phase_capacity(port: int, host: str, details: dict[str, Any], n: int) -> dict[str, Any]:
    """Closed loop: ``offered`` events as fast as ``c`` connections get answers, for c in 1, 4, 16."""
    target = telephony.Target(f"http://{host}:{port}", secret=SECRET, connect="127.0.0.1")
    rng = random.Random(SEED + 5)
    out: dict[str, Any] = {}
    for conc in (1, 4, 16):
        latencies: list[float] = []
        left = list(range(n))
        async with target.client(max_connections=conc) as client:
            t0 = time.perf_counter()
            await asyncio.gather(
                *(offer_loop(client, left, latencies, f"cap-{conc}", rng) for _ in range(conc))
            )
            elapsed = time.perf_counter() - t0
        out[str(conc)] = {"per_second": round(n / elapsed, 1), "ms": ms(latencies)}
        note(
            f"  capacity, {conc} connections: {n / elapsed:.0f} offered events/s, p95 {pct(latencies, 95)} ms"
        )
    details["capacity"] = out
    return out


async def _run(sizes: Sizes, result: BenchResult, redis_url: str) -> None:
    s = H112Sizes.pick(sizes)
    note(f"[hotline112] {s}; kotalive serve (1 process, then 2); Redis {redis_url}")
    log = Path(tempfile.gettempdir()) / f"kotalive-bench-hotline112-{os.getpid()}.log"
    env = {"KOTALIVE_REDIS_URL": redis_url}
    redis = aioredis.from_url(redis_url)
    details: dict[str, Any] = {"server_log": str(log), "sizes": str(s), "sustained": {}}
    result.details = details
    try:
        async with throwaway_database("hotline") as bench:
            details["database"] = bench.database_name
            store = SessionStore(redis, bench.settings.session_max_age)
            # latency, units and capacity; the sustained stream on 1 process; on 2 processes
            new = [new_city("h112", i) for i in range(3)]
            await provision_cities(bench.tenants, new, concurrency=2)
            cities = [await bench.tenants.context(c.slug) for c in new]
            for ctx in cities:
                await connect_telephony(bench, ctx)
            takers = await staff(bench, cities[0], store, "calltaker", s.screens)
            (dispatcher,) = await staff(bench, cities[0], store, "dispatcher", 1)
            load_takers = [(await staff(bench, c, store, "calltaker", 1))[0] for c in cities[1:]]
            conn = await asyncpg.connect(plain_postgres_url(bench.database_url))
            await bench.close_connections()
            await bench.reopen()
            try:
                for processes, server_class in ((1, AppServer), (2, TwoProcesses)):
                    async with server_class(bench, env, log) as server:
                        await csrf_token(server.port, cities[0].primary_host)  # the app answers the city
                        if processes == 1:
                            screens = [Screen(server.port, cities[0].primary_host, t) for t in takers]
                            for screen in screens:
                                await screen.open()
                            try:
                                note(
                                    f"  latency: {s.samples} calls one at a time, {len(screens)} call-taker screens"
                                )
                                await phase_latency(
                                    server.port, cities[0].primary_host, screens, s.samples, details
                                )
                            finally:
                                for screen in screens:
                                    await screen.close()
                            await phase_recommend(bench, conn, cities[0], server.port, dispatcher, s, details)
                            await phase_capacity(
                                server.port, cities[0].primary_host, details, s.capacity_requests
                            )
                        city = cities[processes]
                        load_screen = Screen(server.port, city.primary_host, load_takers[processes - 1])
                        await load_screen.open()
                        try:
                            details["sustained"][str(processes)] = await phase_sustained(
                                bench, conn, city, server.port, load_screen, server, s, processes
                            )
                        finally:
                            await load_screen.close()
            finally:
                await conn.close()
        figures(result, s, details)
    finally:
        await redis.aclose()


def figures(result: BenchResult, s: H112Sizes, d: dict[str, Any]) -> None:
    lat = d["latency"]
    add = result.add
    add(
        "call event -> ringing on screen p50",
        lat["ringing_every_screen_ms"]["p50"],
        "ms",
        f"{s.screens} screens",
    )
    add("call event -> ringing on screen p95", lat["ringing_every_screen_ms"]["p95"], "ms", "goal < 200 ms")
    add("  ... last screen per call p95", lat["ringing_last_screen_ms"]["p95"], "ms")
    add("  offered event POST p95", lat["offered_post_ms"]["p95"], "ms", "the webhook's own answer")
    add("AML -> location on screen p50", lat["location_every_screen_ms"]["p50"], "ms")
    add("AML -> location on screen p95", lat["location_every_screen_ms"]["p95"], "ms")
    add("  AML POST p95", lat["aml_post_ms"]["p95"], "ms")
    add("  missed (not on screen within 10 s)", sum(lat["missed"].values()), "", "should be 0")
    rec = d["recommendation"]
    n_units = sum(rec["units"].values())
    add("recommendation HTTP p50", rec["http_ms"]["p50"], "ms", f"{n_units} units")
    add("recommendation HTTP p95", rec["http_ms"]["p95"], "ms", "goal < 20 ms")
    add("recommendation service p95", rec["service_ms"]["p95"], "ms", "dispatch.recommend in process")
    add("nearest-units query p95", rec["query_ms"]["p95"], "ms", "dispatch.nearest_units alone")
    add("  EXPLAIN ANALYZE execution", rec["explain"]["execution_ms"], "ms", rec["explain"]["top"][:60])
    cap = d["capacity"]
    for conc, c in cap.items():
        add(f"offered events/s, 1 process, {conc} conn.", c["per_second"], "/s", f"p95 {c['ms']['p95']} ms")
    for processes, sus in d["sustained"].items():
        tag = f"[{processes} proc.]"
        add(f"sustained {tag} calls/s offered", sus["calls_per_second"], "/s",
            f"{sus['calls_planned']} calls in {s.seconds:g} s, {CONCURRENCY} in flight")  # fmt: skip
        add(f"sustained {tag} requests/s answered", sus["requests_per_second"], "/s",
            f"{sus['requests']} events + AML in {sus['seconds']:.0f} s")  # fmt: skip
        add(f"sustained {tag} schedule lag max", sus["max_lag_ms"], "ms", "0 = kept up with the stream")
        add(f"sustained {tag} event POST p95", sus["by_kind"]["event"]["p95_ms"], "ms")
        add(f"sustained {tag} AML POST p95", sus["by_kind"]["aml"]["p95_ms"], "ms")
        add(f"sustained {tag} failed requests", sus["failed"], "", f"{sus['retried']} retried; should be 0")
        add(f"sustained {tag} calls in DB / sent", f"{sus['db_calls']}/{sus['calls_expected']}", "",
            "every call accounted for")  # fmt: skip
        add(f"sustained {tag} events in DB / accepted", f"{sus['db_events']}/{sus['events_sent_ok']}", "")
        add(f"sustained {tag} locations in DB / sent", f"{sus['db_locations']}/{sus['locations_expected']}", "",
            "every AML kept")  # fmt: skip
        add(f"sustained {tag} locations matched / sent",
            f"{sus['db_locations_matched']}/{sus['locations_expected']}", "", "matched to their call")  # fmt: skip
        add(f"sustained {tag} calls on screen / sent", f"{sus['screen_calls']}/{sus['calls_expected']}", "")
        add(f"sustained {tag} CPU server/PG/harness", f"{sus['cpu']['server_pct']:.0f}/{sus['cpu']['pg_pct']:.0f}/"
            f"{sus['cpu']['harness_pct']:.0f}", "% core", f"others {sus['cpu']['others_pct']:.0f} %")  # fmt: skip


if __name__ == "__main__":
    standalone(run)
