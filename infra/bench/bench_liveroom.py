"""Benchmark 7: the Live Room board, from a citizen's untagged complaint to the operators' boards.

The path measured is the real one, across three processes:
  POST /api/v1/laksa/complaints (a signed-in citizen, no hashtag: the complaint goes to triage) in
  ``kotalive serve``; the outbox rows (``laksa.complaint_submitted`` and
  ``laksa.complaint_awaiting_triage``) commit with the complaint; the relay's fast path hands them
  to Dramatiq; ``kotalive worker`` (KOTALIVE_WORKER_PROCESSES=2, its default idle poll, no
  scheduler) runs the liveroom consumer of each, which writes the board item and a
  ``liveroom_board_event`` row and, after commit, publishes the item on the city's board channel
  (``<namespace>:{tenant_id}:liveroom:board``); the web process fans it out to every
  ``GET /api/v1/liveroom/board/stream`` of the city (server-sent events), where operators
  (employees with the ``liveroom_operator`` role, signed in by a session in Redis) watch. The
  latency is from just before the POST is written to the socket until a board's first ``item``
  event whose ``source_id`` is the complaint.

Setup: ``Sizes.liveroom_cities`` cities (plus one for paging) through ``TenantService.provision``
(every module on), Laksa's high submission limit and the demo boundaries, citizens and employees
by SQL (as bench_laksa.py), 4 BPBD employees per city with ``liveroom_operator``, one session per
board.

Runs:
  latency, 1 city: ``liveroom_boards`` boards of one city (the first opened alone, then the rest;
  a message published straight to the channel shows every one is live), one complaint at a time
  1.5-3 s apart ("idle") and Poisson arrivals at ``liveroom_busy_rate``/s ("busy"): p50/p95 of every
  board's arrival and of the last board per complaint; where the time goes (outbox created_at and
  sent_at, event_receipt.handled_at of the liveroom consumer, the board event's ``at``);
  latency, all cities: as many boards in every city, complaints spread over them (ratio to 1 city);
  connections: a fresh web process, boards of one city opened 50 at a time up to each of
  ``liveroom_capacity_steps``; at each step the server's RSS (per connection), a message published
  straight to the channel and one complaint: how many boards got them and how long the last took;
  paging: ``liveroom_open_items`` open items inserted by SQL into a city of their own, then
  GET /api/v1/liveroom/board?view=open&limit=50, the first page and page ``liveroom_deep_page`` (its
  cursor from walking next_cursor), p50/p95 on one keep-alive connection; EXPLAIN (ANALYZE) of the
  statements the read sends (captured in this process through the module's own read).

Figures and ratios come from one run; nothing asserts a time. Results: bench-results/liveroom.json.

    .venv/bin/python -P infra/bench/bench_liveroom.py [--quick]
    .venv/bin/python -P infra/bench/run_all.py --only liveroom [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
import psutil
import redis.asyncio as aioredis
from bench_laksa import (
    CSRF_COOKIE,
    Captured,
    CityRefs,
    boundaries,
    city_sql,
    csrf_token,
    prepare_city,
    sign_in,
)
from bench_notify import Listener, Post, Submitter, Workers, now, read_response, redis_pids, tree_cpu
from bench_reads import AppServer
from benchkit import (
    RESULTS_DIR,
    Bench,
    BenchResult,
    Sizes,
    claimed_redis_database,
    cpu_snapshot,
    foreign_cpu_pct,
    new_city,
    our_pids,
    percentile,
    provision_cities,
    ratio,
    record_failure,
    say,
    server_version,
    standalone,
    throwaway_database,
    write_results,
)

from kotalive import live
from kotalive.auth.principal import Principal
from kotalive.auth.sessions import COOKIE_NAME, SessionStore
from kotalive.settings import plain_postgres_url

WORKER_PROCESSES = 2
PROVISION_CONCURRENCY = 4
SIGNED_IN = 4  # citizens with a session per city
OPERATORS = 4  # BPBD employees per city with liveroom_operator (the boards' sessions cycle them)
OPEN_BATCH = 50  # boards opened at once
IDLE_GAP = (1.5, 3.0)
WAIT_SECONDS = 15.0  # at most this long for every board to show a complaint
PROBE_SECONDS = 20.0  # at most this long for every board to get a probe at the capacity steps
BOARD_TOPIC = "liveroom:board"  # kotalive.modules.liveroom.services.BOARD_TOPIC
TEXTS = (
    "Ada lubang besar di jalan depan pasar, mohon segera diperbaiki",
    "Pohon tumbang menutup sebagian jalan di dekat sekolah",
    "Sampah menumpuk di pinggir kali sudah seminggu tidak diangkut",
    "Saluran air tersumbat dan meluap ke jalan setiap hujan",
    "Trotoar rusak dan membahayakan pejalan kaki di dekat halte",
    "Kabel menjuntai rendah di gang RT 03, berbahaya untuk anak-anak",
)
STATES = ("new", "claimed", "routed", "forwarded", "acknowledged", "escalated")
PRIORITY_OF_RANK = ("emergency", "high", "normal", "low")
SEED = 20261202

_started = time.perf_counter()


def note(message: str) -> None:
    say(f"[{time.perf_counter() - _started:5.0f} s] {message}")


def pct(values: Sequence[float], p: float) -> float | None:
    return round(percentile(values, p), 1) if values else None


def ms(values: Sequence[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50": pct(values, 50),
        "p95": pct(values, 95),
        "p99": pct(values, 99),
        "max": round(max(values), 1) if values else None,
    }


def raise_fd_limit() -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard limit: this process and the servers it starts (which
    inherit it) hold one descriptor per board connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


# ---- people --------------------------------------------------------------------------------------


async def add_operators(conn: asyncpg.Connection, refs: CityRefs) -> list[int]:
    """The city's BPBD employees get the liveroom_operator role (as the demo's operators have)."""
    bpbd = refs.agencies.get("bpbd") or next(iter(refs.agencies.values()))
    ids = refs.employees[bpbd][:OPERATORS]
    await conn.execute(
        city_sql(
            refs.ctx,
            "INSERT INTO {city}.role_grant (subject_kind, subject_id, role, source) "
            "SELECT 'employee', id, 'liveroom_operator', 'admin' FROM unnest($1::bigint[]) AS id",
        ),
        ids,
    )
    return ids


class Sessions:
    """Board sessions in Redis, made on demand: one per board (an operator on their own screen)."""

    def __init__(self, store: SessionStore, refs: CityRefs, operators: list[int]) -> None:
        self.store = store
        self.refs = refs
        self.operators = operators
        self.agency = refs.agencies.get("bpbd")
        self.tokens: list[str] = []

    async def token(self, n: int) -> str:
        while len(self.tokens) <= n:
            ident = self.operators[len(self.tokens) % len(self.operators)]
            principal = Principal(
                "employee",
                ident,
                self.refs.ctx.id,
                f"Operator {ident}",
                frozenset({"employee", "liveroom_operator"}),
                frozenset({self.agency}) if self.agency else frozenset(),
            )
            self.tokens.append(await self.store.create(principal))
        return self.tokens[n]


# ---- the boards ----------------------------------------------------------------------------------


class Board(Listener):
    """An operator's board stream: the arrival time of each complaint's first ``item`` event."""

    def __init__(
        self, port: int, index: int, city: int, refs: CityRefs, token: str, csrf: str, seen: dict[Any, float]
    ) -> None:
        super().__init__(port, index, refs, csrf, seen)
        self.city = city
        self.token = token
        self.per_source: dict[int, int] = {}

    @property
    def channel(self) -> str:
        return live.topic_channel(self.refs.ctx.id, BOARD_TOPIC)

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writer.write(
            (
                "GET /api/v1/liveroom/board/stream HTTP/1.1\r\n"
                f"Host: {self.refs.host}\r\n"
                "Accept: text/event-stream\r\n"
                f"Cookie: {COOKIE_NAME}={self.token}; {CSRF_COOKIE}={self.csrf}\r\n\r\n"
            ).encode("latin-1")
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        if int(head[9:12]) != 200:
            raise RuntimeError(f"board stream on {self.refs.host}: {head[:300]!r}")
        self._chunked = b"transfer-encoding: chunked" in head.lower()
        event, data = await self._next()
        if event != "hello":
            raise RuntimeError(f"board stream on {self.refs.host}: first event {event!r}, not 'hello'")
        self.unread = json.loads(data)
        self.task = asyncio.create_task(self._loop(), name=f"board-{self.index}")

    async def _loop(self) -> None:
        try:
            while True:
                event, data = await self._next()
                t = now()
                if event != "item":
                    continue
                self.events += 1
                source = json.loads(data).get("source_id")
                if isinstance(source, int):
                    self.per_source[source] = self.per_source.get(source, 0) + 1
                    self.seen.setdefault((self.index, source), t)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"


class UntaggedSubmitter(Submitter):
    """Citizens' JSON posts without a hashtag: Laksa sends them to triage, i.e. to the board."""

    def request(self, city: int) -> bytes:
        self.n += 1
        refs = self.cities[city]
        lat, lon = self.spots[self.n % len(self.spots)]
        text = f"{TEXTS[self.n % len(TEXTS)]} (laporan {self.n})"
        body = json.dumps({"description": text, "lat": lat, "lon": lon}).encode()
        token = refs.citizen_tokens[self.n % len(refs.citizen_tokens)]
        head = (
            "POST /api/v1/laksa/complaints HTTP/1.1\r\n"
            f"Host: {refs.host}\r\n"
            "Accept: application/json\r\n"
            f"Cookie: {COOKIE_NAME}={token}; {CSRF_COOKIE}={self.csrf}\r\n"
            f"X-CSRFToken: {self.csrf}\r\n"
            "Content-Type: application/json\r\n"
            f"Idempotency-Key: bench-liveroom-{uuid.uuid4().hex}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode("latin-1") + body


async def subscribed(redis: Any, channels: Sequence[str], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        counts = await redis.pubsub_numsub(*channels)
        if all(n >= 1 for _, n in counts):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{sum(1 for _, n in counts if n < 1)} board channels without a subscriber")
        await asyncio.sleep(0.05)


_probe_ids = iter(range(-1, -(10**9), -1))


async def probe(redis: Any, boards: Sequence[Board], within: float) -> dict[str, Any]:
    """An ``item`` published straight to each city's board channel (a made-up negative source_id):
    how many boards got it, and when the last did."""
    source = next(_probe_ids)
    channels = sorted({b.channel for b in boards})
    data = {"id": 0, "kind": "complaint", "source_id": source, "state": "new", "title": "probe"}
    t0 = now()
    async with redis.pipeline(transaction=False) as pipe:
        for ch in channels:
            pipe.publish(ch, live.encode("item", data))
        receivers = await pipe.execute()
    seen = boards[0].seen
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if all((b.index, source) in seen for b in boards):
            break
        await asyncio.sleep(0.02)
    arrivals = [1000 * (seen[(b.index, source)] - t0) for b in boards if (b.index, source) in seen]
    return {
        "boards": len(boards),
        "got": len(arrivals),
        "redis_receivers": int(sum(receivers)),
        "first_ms": round(min(arrivals), 1) if arrivals else None,
        "last_ms": round(max(arrivals), 1) if arrivals else None,
        "p50_ms": pct(arrivals, 50),
    }


async def open_boards(
    port: int,
    cities: list[CityRefs],
    sessions: list[Sessions],
    csrf: str,
    seen: dict[Any, float],
    plan: Sequence[tuple[int, int]],
    start_index: int,
    first_alone: bool,
) -> list[Board]:
    """Boards for (city, n-th session) in ``plan``, OPEN_BATCH at a time; the very first alone
    when ``first_alone`` (it makes the web process's pub/sub connection)."""
    boards = []
    for k, (c, n) in enumerate(plan):
        boards.append(Board(port, start_index + k, c, cities[c], await sessions[c].token(n), csrf, seen))
    rest = boards
    if first_alone and boards:
        await boards[0].open()
        rest = boards[1:]
    for k in range(0, len(rest), OPEN_BATCH):
        await asyncio.gather(*(b.open() for b in rest[k : k + OPEN_BATCH]))
    return boards


async def close_boards(boards: Sequence[Board]) -> None:
    for b in boards:
        await b.close()


# ---- CPU -----------------------------------------------------------------------------------------


class Cpu:
    """CPU of the server, the workers, PostgreSQL (this database), Redis and others over a run."""

    def __init__(self, database: str, server: Any, workers: Workers | None) -> None:
        self.database = database
        self.server = server
        self.workers = workers

    def snap(self) -> dict[str, Any]:
        return {
            "t": time.perf_counter(),
            "machine": cpu_snapshot(),
            "server": tree_cpu(self.server.proc) if self.server is not None else {},
            "workers": self.workers.cpu() if self.workers is not None else {},
            "harness": time.process_time(),
        }

    def since(self, s0: dict[str, Any]) -> dict[str, Any]:
        s1 = self.snap()
        seconds = s1["t"] - s0["t"]
        m0, m1 = s0["machine"], s1["machine"]

        def backend(title: str) -> bool:
            words = title.split()
            return words[:1] == ["postgres:"] and self.database in words[2:5]

        def delta(a: dict[int, float], b: dict[int, float]) -> float:
            return sum(max(0.0, v - a.get(pid, 0.0)) for pid, v in b.items())

        pg = sum(max(0.0, c - m0.get(p, (0.0, ""))[0]) for p, (c, title) in m1.items() if backend(title))
        rpids = redis_pids()
        rd = sum(max(0.0, m1[p][0] - m0.get(p, (0.0, ""))[0]) for p in rpids if p in m1)
        others, top = foreign_cpu_pct(m0, m1, seconds, our_pids() | rpids, self.database)

        def p100(x: float) -> float:
            return round(100 * x / seconds, 1) if seconds else 0.0

        return {
            "seconds": round(seconds, 2),
            "server_pct": p100(delta(s0["server"], s1["server"])),
            "workers_pct": p100(delta(s0["workers"], s1["workers"])),
            "pg_pct": p100(pg),
            "redis_pct": p100(rd),
            "harness_pct": p100(s1["harness"] - s0["harness"]),
            "others_pct": round(others, 1),
            "others_top": top,
        }


def say_cpu(cpu: dict[str, Any]) -> None:
    note(
        f"      CPU % of a core: server {cpu['server_pct']:.0f}, workers {cpu['workers_pct']:.0f}, "
        f"PG {cpu['pg_pct']:.0f}, Redis {cpu['redis_pct']:.0f}, harness {cpu['harness_pct']:.0f}, "
        f"others {cpu['others_pct']:.0f} {cpu['others_top'][:2]}"
    )


# ---- latency -------------------------------------------------------------------------------------


class Latency:
    def __init__(
        self,
        conn: asyncpg.Connection,
        cities: list[CityRefs],
        submitter: Submitter,
        boards: list[Board],
        seen: dict[Any, float],
        cpu: Cpu,
    ) -> None:
        self.conn = conn
        self.cities = cities
        self.submitter = submitter
        self.boards = boards
        self.seen = seen
        self.cpu = cpu
        self.by_city: dict[int, list[Board]] = {}
        for b in boards:
            self.by_city.setdefault(b.city, []).append(b)

    def all_seen(self, p: Post) -> bool:
        return p.complaint is not None and all(
            (b.index, p.complaint) in self.seen for b in self.by_city.get(p.city, ())
        )

    async def wait(self, posts: Sequence[Post], within: float) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < within:
            if all(self.all_seen(p) for p in posts if p.complaint is not None):
                break
            await asyncio.sleep(0.02)
        return time.perf_counter() - started

    async def idle(
        self, samples: int, pick: Callable[[int], int], seed: int
    ) -> tuple[list[Post], dict[str, Any]]:
        rng = random.Random(seed)
        posts: list[Post] = []
        await asyncio.sleep(rng.uniform(*IDLE_GAP))
        s0 = self.cpu.snap()
        for i in range(samples):
            p = await self.submitter.post(pick(i))
            posts.append(p)
            await self.wait([p], WAIT_SECONDS)
            await asyncio.sleep(rng.uniform(*IDLE_GAP))
        return posts, self.cpu.since(s0)

    async def busy(
        self, rate: float, seconds: float, pick: Callable[[int], int], seed: int
    ) -> tuple[list[Post], dict[str, Any]]:
        s0 = self.cpu.snap()
        posts = await self.submitter.paced(rate, seconds, pick, poisson=True, seed=seed)
        await self.wait(posts, WAIT_SECONDS)
        return posts, self.cpu.since(s0)

    async def measure(self, label: str, posts: Sequence[Post], cpu: dict[str, Any]) -> dict[str, Any]:
        per_board, last, first, missing = [], [], [], 0
        events_per_complaint: list[int] = []
        for p in posts:
            if p.complaint is None:
                continue
            boards = self.by_city.get(p.city, [])
            arr = [self.seen.get((b.index, p.complaint)) for b in boards]
            got = [1000 * (t - p.sent) for t in arr if t is not None]
            missing += len(arr) - len(got)
            per_board += got
            if got:
                first.append(min(got))
            if got and len(got) == len(arr):
                last.append(max(got))
            if boards:
                events_per_complaint.append(boards[0].per_source.get(p.complaint, 0))
        path = await self.path(posts)
        got = {
            "posts": len(posts),
            "refused_or_failed": sum(1 for p in posts if p.complaint is None),
            "boards_per_city": len(next(iter(self.by_city.values()), [])),
            "per_board_ms": ms(per_board),
            "last_board_ms": ms(last),
            "first_board_ms": ms(first),
            "missing_arrivals": missing,
            "post_ms": ms([1000 * (p.answered - p.sent) for p in posts if p.complaint is not None]),
            "item_events_per_complaint": sorted(set(events_per_complaint)),
            "path": path,
            "cpu": cpu,
        }
        pb, lb = got["per_board_ms"], got["last_board_ms"]
        note(
            f"    {label:<28} n {len(posts):>3}  per board p50 {pb['p50']} p95 {pb['p95']}  last board p50 "
            f"{lb['p50']} p95 {lb['p95']} max {lb['max']} ms  POST p50 {got['post_ms']['p50']}  "
            f"refused {got['refused_or_failed']}  missing {missing}  item events/complaint {got['item_events_per_complaint']}"
        )
        st = path["stages"]
        note(
            "      medians (p95) ms: "
            + ", ".join(f"{k} {v['p50']} ({v['p95']})" for k, v in st.items())
            + f"; first item from {path['first_event_types']}"
        )
        say_cpu(cpu)
        return got

    async def path(self, posts: Sequence[Post]) -> dict[str, Any]:
        """Milestones per complaint (ms after the POST was written), for the event whose board
        item came first: tx = the handler's transaction (outbox_event.created_at); relay = the
        fast path (sent_at); pickup = the liveroom consumer's receipt (event_receipt.handled_at);
        board_event = liveroom_board_event.at (the consumer's transaction); board = the first board;
        last = the last board. Also the awaiting_triage event's own pickup."""
        by_city: dict[int, list[Post]] = {}
        for p in posts:
            if p.complaint is not None:
                by_city.setdefault(p.city, []).append(p)
        stages: dict[str, list[float]] = {
            k: []
            for k in (
                "POST->tx",
                "tx->relay",
                "relay->pickup",
                "pickup->board_event",
                "board_event->first board",
                "first->last board",
            )
        }
        triage_pickup: list[float] = []
        first_types: dict[str, int] = {}
        for c, ps in by_city.items():
            ctx = self.cities[c].ctx
            rows = await self.conn.fetch(
                city_sql(
                    ctx,
                    "SELECT (o.payload->>'complaint_id')::bigint AS complaint, o.event_type, "
                    "extract(epoch FROM o.created_at)::float8 AS tx, "
                    "extract(epoch FROM o.sent_at)::float8 AS relay, "
                    "extract(epoch FROM r.handled_at)::float8 AS pickup "
                    "FROM {city}.outbox_event o LEFT JOIN {city}.event_receipt r "
                    "ON r.event_id = o.id AND r.consumer = 'liveroom:' || o.event_type "
                    "WHERE o.event_type IN ('laksa.complaint_submitted', 'laksa.complaint_awaiting_triage') "
                    "AND (o.payload->>'complaint_id')::bigint = ANY($1::bigint[])",
                ),
                [p.complaint for p in ps],
            )
            events: dict[int, list[Any]] = {}
            for r in rows:
                events.setdefault(r["complaint"], []).append(r)
            board_at = {
                r["source_id"]: r["at"]
                for r in await self.conn.fetch(
                    city_sql(
                        ctx,
                        "SELECT i.source_id, extract(epoch FROM min(e.at))::float8 AS at "
                        "FROM {city}.liveroom_board_event e JOIN {city}.liveroom_item i ON i.id = e.item_id "
                        "WHERE i.kind = 'complaint' AND i.source_id = ANY($1::bigint[]) GROUP BY i.source_id",
                    ),
                    [p.complaint for p in ps],
                )
            }
            boards = self.by_city.get(c, [])
            for p in ps:
                evs = [
                    e
                    for e in events.get(p.complaint, [])
                    if e["pickup"] is not None and e["relay"] is not None
                ]
                arr = [self.seen.get((b.index, p.complaint)) for b in boards]
                if not evs or p.complaint not in board_at or not arr or any(t is None for t in arr):
                    continue
                for e in evs:
                    if e["event_type"] == "laksa.complaint_awaiting_triage":
                        triage_pickup.append(1000 * (e["pickup"] - p.sent))
                e = min(evs, key=lambda e: e["pickup"])
                first_types[e["event_type"]] = first_types.get(e["event_type"], 0) + 1
                t_first, t_last = min(arr), max(arr)  # type: ignore[type-var]
                stages["POST->tx"].append(1000 * (e["tx"] - p.sent))
                stages["tx->relay"].append(1000 * (e["relay"] - e["tx"]))
                stages["relay->pickup"].append(1000 * (e["pickup"] - e["relay"]))
                stages["pickup->board_event"].append(1000 * (board_at[p.complaint] - e["pickup"]))
                stages["board_event->first board"].append(1000 * (t_first - board_at[p.complaint]))
                stages["first->last board"].append(1000 * (t_last - t_first))
        return {
            "stages": {k: ms(v) for k, v in stages.items()},
            "awaiting_triage_pickup_ms": ms(triage_pickup),
            "first_event_types": first_types,
        }


# ---- paging --------------------------------------------------------------------------------------


async def insert_items(conn: asyncpg.Connection, refs: CityRefs, n: int) -> dict[str, int]:
    """``n`` open items (states cycled over the open ones, rank 0-3) with SQL, then ANALYZE."""
    states = list(STATES)
    await conn.execute(
        city_sql(
            refs.ctx,
            "INSERT INTO {city}.liveroom_item (kind, source_id, state, source_state, title, priority, "
            "emergency, rank, sla, kecamatan_code, lat, lon, forwarded_to, source_seq, version, appeared_at) "
            "SELECT 'complaint', 1000000 + i, ($2::text[])[1 + i % 6], 'triage', 'Laporan bench ' || i, "
            "($3::text[])[1 + (i * 7) % 4], (i * 7) % 4 = 0, (i * 7) % 4, 'ok', '36.71.0' || (i % 9), "
            "-6.2 + (i % 100) * 0.0003, 106.6 + (i % 77) * 0.0003, '{}', 0, 1, "
            "now() - make_interval(secs => i) FROM generate_series(1, $1) AS i",
        ),
        n,
        states,
        list(PRIORITY_OF_RANK),
    )
    await conn.execute(city_sql(refs.ctx, "ANALYZE {city}.liveroom_item"))
    rows = await conn.fetch(
        city_sql(refs.ctx, "SELECT state, count(*) AS n FROM {city}.liveroom_item GROUP BY 1")
    )
    return {r["state"]: int(r["n"]) for r in rows}


async def explain_board(
    bench: Bench, conn: asyncpg.Connection, refs: CityRefs, deep_page: int
) -> dict[str, Any]:
    """The statements reads.board sends (first page, and the deep page's), EXPLAIN (ANALYZE, BUFFERS)."""
    from kotalive.context import use_tenant
    from kotalive.modules.liveroom import reads

    cursor: str | None = None
    with use_tenant(refs.ctx):
        async with bench.db.tenant_session(refs.ctx) as session:
            for _ in range(deep_page - 1):
                _, cursor, _ = await reads.board(
                    session, reads.BoardFilter(view="open"), cursor=cursor, limit=50
                )
            out: dict[str, Any] = {"deep_cursor": cursor}
            for label, cur in (("first", None), ("deep", cursor)):
                with Captured(bench) as cap:
                    await reads.board(session, reads.BoardFilter(view="open"), cursor=cur, limit=50)
                plans = []
                for statement, params in cap.statements:
                    args = list(params or ())
                    await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *args)  # warm
                    lines = [r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *args)]
                    text = "\n".join(lines)
                    plans.append(
                        {
                            "statement": " ".join(statement.split())[:600],
                            "uses_board_index": "ix_liveroom_item_board" in text,
                            "exec_ms": next(
                                (
                                    float(ln.split(":")[1].split()[0])
                                    for ln in lines
                                    if "Execution Time" in ln
                                ),
                                None,
                            ),
                            "plan": lines,
                        }
                    )
                out[label] = plans
    return out


async def get_json(reader: Any, writer: Any, host: str, path: str, token: str, csrf: str) -> tuple[int, Any]:
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
            f"Cookie: {COOKIE_NAME}={token}; {CSRF_COOKIE}={csrf}\r\n\r\n"
        ).encode("latin-1")
    )
    status, _, body = await read_response(reader)
    return status, json.loads(body) if body else None


async def paging(
    port: int, refs: CityRefs, token: str, csrf: str, requests: int, deep_page: int
) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    base = "/api/v1/liveroom/board?view=open&limit=50"
    try:
        walk: list[float] = []
        cursor = None
        for _ in range(deep_page - 1):  # the deep page's cursor, as a screen scrolling down gets it
            t0 = time.perf_counter()
            status, body = await get_json(
                reader, writer, refs.host, base + (f"&cursor={cursor}" if cursor else ""), token, csrf
            )
            walk.append(1000 * (time.perf_counter() - t0))
            if status != 200:
                raise RuntimeError(f"board page: {status} {str(body)[:300]}")
            cursor = body["next_cursor"]
            if cursor is None:
                break
        out: dict[str, Any] = {"walk_ms": ms(walk), "deep_cursor": cursor, "deep_page": deep_page}
        for label, path in (("first", base), ("deep", base + f"&cursor={cursor}")):
            times, errors, items = [], 0, 0
            for i in range(requests + 5):
                t0 = time.perf_counter()
                status, body = await get_json(reader, writer, refs.host, path, token, csrf)
                if i >= 5:
                    times.append(1000 * (time.perf_counter() - t0))
                if status != 200:
                    errors += 1
                else:
                    items = len(body["items"])
                    out.setdefault("counts", body.get("counts"))
            out[label] = {**ms(times), "errors": errors, "items": items}
            note(
                f"    page {label}: p50 {out[label]['p50']} p95 {out[label]['p95']} ms, {items} items, errors {errors}"
            )
        return out
    finally:
        writer.close()


# ---- the benchmark -------------------------------------------------------------------------------


async def run(sizes: Sizes) -> BenchResult:
    global _started
    result = BenchResult("liveroom")
    started = _started = time.perf_counter()
    try:
        with claimed_redis_database("liveroom") as redis_url:
            await _run(sizes, result, redis_url)
    except Exception as exc:
        record_failure(result, exc)
    result.seconds = time.perf_counter() - started
    try:
        pg = await server_version()
    except Exception:
        pg = None
    path = write_results(
        RESULTS_DIR / "liveroom.json",
        [result],
        quick=sizes.quick,
        extra={"postgresql": pg, "sizes": str(sizes)},
    )
    note(f"[liveroom] written to {path}")
    return result


async def _run(sizes: Sizes, result: BenchResult, redis_url: str) -> None:
    n = sizes.liveroom_cities
    fd = raise_fd_limit()
    note(
        f"[liveroom] {n} cities, {sizes.liveroom_boards} boards each; kotalive serve + kotalive worker "
        f"({WORKER_PROCESSES} processes); Redis {redis_url}; RLIMIT_NOFILE {fd[0]}"
    )
    log = Path(tempfile.gettempdir()) / f"kotalive-bench-liveroom-{os.getpid()}.log"
    wlog = log.with_suffix(".worker.log")
    env = {"KOTALIVE_REDIS_URL": redis_url}
    redis = aioredis.from_url(redis_url)
    details: dict[str, Any] = {
        "server_log": str(log),
        "worker_log": str(wlog),
        "worker_processes": WORKER_PROCESSES,
        "fd_limit": fd[0],
        "runs": {},
    }
    result.details = details
    runs = details["runs"]
    machine0 = cpu_snapshot()
    t_machine = time.perf_counter()
    try:
        async with throwaway_database("liveroom") as bench:
            details["database"] = bench.database_name
            store = SessionStore(redis, bench.settings.session_max_age)
            conn = await asyncpg.connect(plain_postgres_url(bench.database_url))
            try:
                t0 = time.perf_counter()
                new = [new_city("room", i) for i in range(n + 1)]  # the last: the paging city
                await provision_cities(bench.tenants, new, concurrency=PROVISION_CONCURRENCY)
                cities: list[CityRefs] = []
                sessions: list[Sessions] = []
                for city in new:
                    refs = await prepare_city(bench, conn, city.slug, 0, SIGNED_IN)
                    await sign_in(store, refs, SIGNED_IN)
                    sessions.append(Sessions(store, refs, await add_operators(conn, refs)))
                    cities.append(refs)
                page_city = n
                shapes = await boundaries(conn, cities[0].ctx)
                spots = [(s.lat, s.lon) for s in shapes.spots(4096, SEED)]
                states = await insert_items(conn, cities[page_city], sizes.liveroom_open_items)
                details["setup"] = {"setup_s": round(time.perf_counter() - t0, 1), "paging_states": states}
                note(
                    f"  {n + 1} cities ready in {time.perf_counter() - t0:.1f} s; paging city items {states}"
                )
                details["explain"] = await explain_board(
                    bench, conn, cities[page_city], sizes.liveroom_deep_page
                )
                for label in ("first", "deep"):
                    for pl in details["explain"][label]:
                        note(
                            f"    EXPLAIN {label}: board index {pl['uses_board_index']}, {pl['exec_ms']} ms: "
                            f"{pl['statement'][:110]}"
                        )
                await bench.close_connections()

                async with Workers(bench, env, wlog) as workers:
                    await phases_latency(
                        bench, conn, cities[:n], sessions, spots, redis, workers, env, log, sizes, runs
                    )
                    await phase_capacity(
                        bench, conn, cities, sessions, spots, redis, workers, env, log, sizes, details
                    )
                    async with AppServer(bench, env, log) as server:
                        csrf = await csrf_token(server.port, cities[page_city].host)
                        note(f"  paging: {sizes.liveroom_open_items} open items, view=open&limit=50")
                        details["paging"] = await paging(
                            server.port,
                            cities[page_city],
                            await sessions[page_city].token(0),
                            csrf,
                            sizes.liveroom_page_requests,
                            sizes.liveroom_deep_page,
                        )
            finally:
                await conn.close()
        details["worker_failures"] = worker_failures(wlog)
        secs = time.perf_counter() - t_machine
        others, top = foreign_cpu_pct(
            machine0, cpu_snapshot(), secs, our_pids() | redis_pids(), details["database"]
        )
        details["others_whole_run"] = {"pct": round(others, 1), "top": top}
        figures(result, sizes, details)
    finally:
        await redis.aclose()


async def phases_latency(
    bench: Bench,
    conn: asyncpg.Connection,
    cities: list[CityRefs],
    sessions: list[Sessions],
    spots: list[tuple[float, float]],
    redis: Any,
    workers: Workers,
    env: dict[str, str],
    log: Path,
    sizes: Sizes,
    runs: dict[str, Any],
) -> None:
    n, per = len(cities), sizes.liveroom_boards
    async with AppServer(bench, env, log) as server:
        csrf = await csrf_token(server.port, cities[0].host)
        seen: dict[Any, float] = {}
        submitter = UntaggedSubmitter(server.port, cities, spots, csrf)
        cpu = Cpu(bench.database_name, server, workers)
        try:
            # Warm-up: every city a few complaints (statements, caches of the web process and workers).
            warm = await submitter.closed(4, lambda i: i % n, count=3 * n)
            await asyncio.sleep(2.0)
            if any(p.complaint is None for p in warm):
                raise RuntimeError(f"warm-up refused: {submitter.samples[:3]}")

            note(f"  latency, 1 city: {per} boards")
            boards = await open_boards(
                server.port, cities, sessions, csrf, seen, [(0, k) for k in range(per)], 0, True
            )
            await subscribed(redis, [boards[0].channel])
            pr = await probe(redis, boards, 5.0)
            note(f"    probe: {pr['got']}/{pr['boards']} boards, last {pr['last_ms']} ms")
            if pr["got"] < len(boards):
                raise RuntimeError(f"{len(boards) - pr['got']} boards get nothing published on their channel")
            lat = Latency(conn, cities, submitter, boards, seen, cpu)
            posts, c = await lat.idle(sizes.liveroom_idle_samples, lambda i: 0, SEED + 1)
            runs["idle, 1 city"] = await lat.measure("idle, 1 city", posts, c)
            posts, c = await lat.busy(
                sizes.liveroom_busy_rate, sizes.liveroom_busy_seconds, lambda i: 0, SEED + 2
            )
            runs["busy, 1 city"] = await lat.measure(f"busy {sizes.liveroom_busy_rate:g}/s, 1 city", posts, c)

            note(f"  latency, {n} cities: {per} boards each")
            more = await open_boards(
                server.port,
                cities,
                sessions,
                csrf,
                seen,
                [(c, k) for c in range(1, n) for k in range(per)],
                len(boards),
                False,
            )
            boards += more
            await subscribed(redis, sorted({b.channel for b in boards}))
            pr = await probe(redis, boards, 5.0)
            note(f"    probe: {pr['got']}/{pr['boards']} boards, last {pr['last_ms']} ms")
            if pr["got"] < len(boards):
                raise RuntimeError(f"{len(boards) - pr['got']} boards get nothing published on their channel")
            lat = Latency(conn, cities, submitter, boards, seen, cpu)
            posts, c = await lat.idle(sizes.liveroom_idle_samples, lambda i: i % n, SEED + 3)
            runs[f"idle, {n} cities"] = await lat.measure(f"idle, {n} cities", posts, c)
            posts, c = await lat.busy(
                sizes.liveroom_busy_rate, sizes.liveroom_busy_seconds, lambda i: i % n, SEED + 4
            )
            runs[f"busy, {n} cities"] = await lat.measure(
                f"busy {sizes.liveroom_busy_rate:g}/s, {n} cities", posts, c
            )
            runs["board_errors"] = [b.error for b in boards if b.error][:5]
            await close_boards(boards)
        finally:
            submitter.close()


def worker_failures(wlog: Path) -> dict[str, int]:
    """Messages the workers failed (Dramatiq retries them with a backoff), by consumer and cause."""
    out: dict[str, int] = {}
    consumer = None
    with contextlib.suppress(FileNotFoundError), open(wlog, encoding="utf-8", errors="replace") as f:
        for line in f:
            if "Failed to process message" in line:
                m = line.split("kotalive.events.dispatch(", 1)
                consumer = m[1].split(",")[1].strip(" '") if len(m) > 1 else "?"
                out[consumer] = out.get(consumer, 0) + 1
            elif consumer and line.startswith("sqlalchemy.") and "Error" in line:
                cause = f"{consumer}: {line.split(':', 2)[1].strip()[:60]}"
                out[cause] = out.get(cause, 0) + 1
                consumer = None
    return out


def rss(proc: psutil.Process | None) -> int:
    return proc.memory_info().rss if proc is not None else 0


async def phase_capacity(
    bench: Bench,
    conn: asyncpg.Connection,
    cities: list[CityRefs],
    sessions: list[Sessions],
    spots: list[tuple[float, float]],
    redis: Any,
    workers: Workers,
    env: dict[str, str],
    log: Path,
    sizes: Sizes,
    details: dict[str, Any],
) -> None:
    """A fresh web process; boards of city 0 opened up to each step: RSS, a probe, one complaint."""
    note(f"  connections: one web process, boards of one city up to {sizes.liveroom_capacity_steps[-1]}")
    steps: list[dict[str, Any]] = []
    details["capacity"] = steps
    async with AppServer(bench, env, log) as server:
        csrf = await csrf_token(server.port, cities[0].host)
        seen: dict[Any, float] = {}
        submitter = UntaggedSubmitter(server.port, cities, spots, csrf)
        cpu = Cpu(bench.database_name, server, workers)
        boards: list[Board] = []
        try:
            warm = await submitter.closed(2, lambda i: 0, count=4)
            boards = await open_boards(server.port, cities, sessions, csrf, seen, [(0, 0)], 0, True)
            await subscribed(redis, [boards[0].channel])
            await asyncio.sleep(1.0)
            base = rss(server.proc)
            details["capacity_base_rss_mib"] = round(base / 2**20, 1)
            note(f"    server RSS with 1 board: {base / 2**20:.1f} MiB (after {len(warm)} warm-up posts)")
            for target in sizes.liveroom_capacity_steps:
                s0 = cpu.snap()
                t0 = time.perf_counter()
                try:
                    boards += await open_boards(
                        server.port,
                        cities,
                        sessions,
                        csrf,
                        seen,
                        [(0, k) for k in range(len(boards), target)],
                        len(boards),
                        False,
                    )
                except Exception as exc:
                    steps.append(
                        {"target": target, "error": f"{type(exc).__name__}: {exc}"[:300], "open": len(boards)}
                    )
                    note(f"    opening to {target} failed after {len(boards)}: {exc}")
                    break
                opened_s = time.perf_counter() - t0
                open_cpu = cpu.since(s0)
                await asyncio.sleep(2.0)
                mem = rss(server.proc)
                pr = await probe(redis, boards, PROBE_SECONDS)
                await asyncio.sleep(1.0)
                pr2 = await probe(redis, boards, PROBE_SECONDS)
                p = await submitter.post(0)
                lat = Latency(conn, cities, submitter, boards, seen, cpu)
                await lat.wait([p], PROBE_SECONDS)
                arr = [seen.get((b.index, p.complaint)) for b in boards] if p.complaint is not None else []
                got = [1000 * (t - p.sent) for t in arr if t is not None]
                step = {
                    "target": target,
                    "open": len(boards),
                    "open_s": round(opened_s, 2),
                    "opens_per_s": round((target - (steps[-1]["open"] if steps else 1)) / opened_s, 1)
                    if opened_s
                    else None,
                    "open_cpu": open_cpu,
                    "rss_mib": round(mem / 2**20, 1),
                    "kib_per_connection": round((mem - base) / 1024 / max(1, len(boards) - 1), 1),
                    "probe": pr,
                    "probe_again": pr2,
                    "complaint": {
                        "got": len(got),
                        "first_ms": round(min(got), 1) if got else None,
                        "p50_ms": pct(got, 50),
                        "last_ms": round(max(got), 1) if got else None,
                        "status": p.status,
                        "post_ms": round(1000 * (p.answered - p.sent), 1),
                    },
                    "harness_rss_mib": round(psutil.Process().memory_info().rss / 2**20, 1),
                    "errors": [b.error for b in boards if b.error][:3],
                }
                steps.append(step)
                note(
                    f"    {len(boards)} boards open in {opened_s:.1f} s; server RSS {step['rss_mib']} MiB "
                    f"({step['kib_per_connection']} KiB/connection); probe {pr['got']}/{len(boards)} (last "
                    f"{pr['last_ms']} ms); complaint {len(got)}/{len(boards)} (first {step['complaint']['first_ms']}, "
                    f"last {step['complaint']['last_ms']} ms); errors {sum(1 for b in boards if b.error)}"
                )
        finally:
            submitter.close()
            await close_boards(boards)


def figures(result: BenchResult, sizes: Sizes, details: dict[str, Any]) -> None:
    runs = details["runs"]
    n, rate = sizes.liveroom_cities, sizes.liveroom_busy_rate

    def latency(name: str, got: dict[str, Any], extra: str = "") -> None:
        pb, lb = got["per_board_ms"], got["last_board_ms"]
        result.add(
            name,
            pb["p95"],
            "ms p95",
            f"per board p50 {pb['p50']}; last board p50 {lb['p50']}, p95 {lb['p95']}, max {lb['max']}; "
            f"n={got['posts']} x {got['boards_per_city']} boards{extra}; goal p95 < 1000",
        )

    one_idle, one_busy = runs["idle, 1 city"], runs["busy, 1 city"]
    many_idle, many_busy = runs[f"idle, {n} cities"], runs[f"busy, {n} cities"]
    latency(
        f"latency to {sizes.liveroom_boards} boards, 1 city, idle", one_idle, "; one at a time, 1.5-3 s apart"
    )
    latency(f"latency to {sizes.liveroom_boards} boards, 1 city, {rate:g}/s", one_busy, "; Poisson")
    latency(f"latency, {n} cities with boards, idle", many_idle)
    latency(f"latency, {n} cities with boards, {rate:g}/s", many_busy, "; Poisson, spread")
    result.add(
        f"  ratio p95 {n} cities / 1 city (per board)",
        ratio(many_idle["per_board_ms"]["p95"], one_idle["per_board_ms"]["p95"]),
        "x",
        f"idle; at {rate:g}/s: {ratio(many_busy['per_board_ms']['p95'], one_busy['per_board_ms']['p95']) or 0:.2f}x",
    )
    st = one_idle["path"]["stages"]
    names = {
        "POST->tx": "outbox_event.created_at",
        "tx->relay": "outbox_event.sent_at (fast path)",
        "relay->pickup": "event_receipt.handled_at, liveroom consumer (Dramatiq queue)",
        "pickup->board_event": "liveroom_board_event.at",
        "board_event->first board": "consumer's work + commit + publish + fan-out",
        "first->last board": f"across {sizes.liveroom_boards} boards",
    }
    for k, what in names.items():
        result.add(f"  {k}", st[k]["p50"], "ms median", f"p95 {st[k]['p95']}; 1 city, idle; {what}")
    result.add(
        "  first item from",
        ", ".join(
            f"{k.removeprefix('laksa.')} {v}" for k, v in one_idle["path"]["first_event_types"].items()
        ),
        "",
        f"awaiting_triage's own pickup p50 {one_idle['path']['awaiting_triage_pickup_ms']['p50']} ms; "
        f"item events per complaint {one_idle['item_events_per_complaint']}",
    )
    result.add(
        "POST answered, 1 city, idle",
        one_idle["post_ms"]["p50"],
        "ms p50",
        f"p95 {one_idle['post_ms']['p95']}",
    )

    steps = details.get("capacity", [])
    ok = [s for s in steps if "error" not in s]
    for s in ok:
        result.add(
            f"boards held by one web process, step {s['target']:,}",
            s["open"],
            "conns",
            f"probe reached {s['probe']['got']}, complaint {s['complaint']['got']}; "
            f"opened at {s['opens_per_s']}/s (server {s['open_cpu']['server_pct']} % core)",
        )
        result.add(
            f"  memory per connection at {s['open']:,}",
            s["kib_per_connection"],
            "KiB",
            f"server RSS {details['capacity_base_rss_mib']} -> {s['rss_mib']} MiB",
        )
        result.add(
            f"  fan-out to {s['open']:,} boards, last",
            s["probe"]["last_ms"],
            "ms",
            f"published to Redis -> last board; p50 {s['probe']['p50_ms']}; again 1 s later: last "
            f"{s['probe_again']['last_ms']}, p50 {s['probe_again']['p50_ms']}; a complaint: first "
            f"{s['complaint']['first_ms']}, last {s['complaint']['last_ms']} ms after the POST",
        )
    for s in steps:
        if "error" in s:
            result.add(
                f"boards, step {s['target']:,}", "failed", "", f"after {s['open']}: {s['error'][:100]}"
            )

    pg = details["paging"]
    for label, name in (("first", "first page"), ("deep", f"page {pg['deep_page']}")):
        plans = details["explain"][label]
        main = plans[0] if plans else {}
        result.add(
            f"board {name}, {sizes.liveroom_open_items:,} open items",
            pg[label]["p50"],
            "ms p50",
            f"p95 {pg[label]['p95']}; {pg[label]['items']} items; errors {pg[label]['errors']}; "
            f"item query uses ix_liveroom_item_board: {main.get('uses_board_index')} ({main.get('exec_ms')} ms); "
            f"all statements {sum(p['exec_ms'] or 0 for p in plans):.1f} ms",
        )
    all_runs = [r for k, r in runs.items() if isinstance(r, dict)]
    result.add(
        "posts refused or failed, all runs", sum(r["refused_or_failed"] for r in all_runs), "", "should be 0"
    )
    wf = details.get("worker_failures", {})
    result.add(
        "worker messages failed (retried)",
        sum(v for k, v in wf.items() if ": " not in k),
        "",
        "; ".join(f"{k} {v}" for k, v in wf.items())[:300] + " (should be 0)",
    )
    result.add(
        "board arrivals missing, all runs", sum(r["missing_arrivals"] for r in all_runs), "", "should be 0"
    )
    worst = max(
        [r["cpu"]["others_pct"] for r in all_runs] + [s["open_cpu"]["others_pct"] for s in ok] + [0.0]
    )
    result.add(
        "other processes' CPU, worst run",
        worst,
        "% core",
        f"whole benchmark {details['others_whole_run']['pct']} % (processes alive at its start); "
        "high = the machine was shared",
    )


if __name__ == "__main__":
    standalone(run)
