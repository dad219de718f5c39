"""What every core benchmark shares: a throwaway database, settings, cities, figures and memory.

Run the benchmarks with ``.venv/bin/python -P infra/bench/<script>.py`` (never with the
repository root first on ``sys.path``: ``platform/`` would shadow the standard library).
Nothing here asserts a time: a benchmark measures, prints and records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform as stdlib_platform  # the standard library's, since the repo root is not on sys.path
import re
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil

from kotalive.db import Database, install_database
from kotalive.devserver import Services, ensure_services
from kotalive.migrations.runner import upgrade_platform
from kotalive.registry import LoadedModules, load
from kotalive.settings import Settings, plain_postgres_url
from kotalive.tenants.provisioning import NewCity, TenantService

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS_DIR = REPO / "bench-results"
BASE_DOMAIN = "bench.test"
PLATFORM_HOST = "platform.bench.test"
DB_PREFIX = "kotalive_bench_"


# ---- sizes ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sizes:
    provision_cities: int
    migrate_cities: int
    read_cities: int
    read_seconds: float
    warmup_seconds: float
    connections: int
    repeats: int = 1  # measured runs per endpoint and phase; the best one counts
    hashes: int = 20  # password hashes (and as many verifies) at the configured Argon2id cost
    neighbour_hashes: int = 5  # hashes per neighbouring Argon2id parameter choice
    laksa_complaints: int = 100_000  # complaints bulk-loaded into the big city (benchmark 5)
    laksa_cities: int = 200  # small cities of the many-cities phase
    laksa_city_complaints: int = 1_000  # complaints per small city
    laksa_seconds: float = 10.0  # measured run per Laksa endpoint (16 connections)
    laksa_warmup_seconds: float = 3.0  # warm-up before each measured run
    laksa_latency_seconds: float = 5.0  # 1-connection runs: latency without queueing
    notify_cities: int = 200  # cities of the notification benchmark (6), one SSE listener each
    notify_idle_samples: int = 15  # complaints one at a time, 1.5-3 s apart (a quiet queue)
    notify_busy_seconds: float = 20.0  # Poisson arrivals at notify_busy_rate
    notify_busy_rate: float = 2.0  # complaints per second of the "busy" latency runs
    notify_saturate_seconds: float = 12.0  # closed-loop submissions: notifications per second
    notify_steady_seconds: float = 15.0  # a steady rate below the saturated one: latency under load
    notify_email_seconds: float = 12.0  # runs with e-mail on (to the SMTP sink)
    notify_backlog: int = 600  # complaints queued while the workers are paused, then drained
    liveroom_cities: int = 20  # cities with boards in the many-cities latency run (benchmark 7)
    liveroom_boards: int = 50  # connected boards per city in the latency runs
    liveroom_idle_samples: int = 20  # complaints one at a time, 1.5-3 s apart
    liveroom_busy_seconds: float = 20.0  # Poisson arrivals at liveroom_busy_rate
    liveroom_busy_rate: float = 3.0  # complaints per second of the "busy" runs
    liveroom_capacity_steps: tuple[int, ...] = (1_000, 2_000, 4_000)  # boards on one web process
    liveroom_open_items: int = 10_000  # open items of the paging city
    liveroom_page_requests: int = 200  # timed requests per page (first, deep)
    liveroom_deep_page: int = 100  # the deep page (row 4,951 of 10,000 at 50 a page)
    quick: bool = False

    @classmethod
    def pick(cls, quick: bool) -> Sizes:
        if quick:
            return cls(
                provision_cities=15,
                migrate_cities=20,
                read_cities=20,
                read_seconds=1.0,
                warmup_seconds=1.0,
                connections=16,
                hashes=5,
                neighbour_hashes=2,
                laksa_complaints=10_000,
                laksa_cities=20,
                laksa_city_complaints=200,
                laksa_seconds=1.5,
                laksa_warmup_seconds=0.5,
                laksa_latency_seconds=1.0,
                notify_cities=20,
                notify_idle_samples=3,
                notify_busy_seconds=3.0,
                notify_saturate_seconds=2.0,
                notify_steady_seconds=2.0,
                notify_email_seconds=3.0,
                notify_backlog=100,
                liveroom_cities=3,
                liveroom_idle_samples=4,
                liveroom_busy_seconds=3.0,
                liveroom_capacity_steps=(300,),
                liveroom_open_items=2_000,
                liveroom_page_requests=30,
                liveroom_deep_page=20,
                quick=True,
            )
        return cls(
            provision_cities=200,
            migrate_cities=500,
            read_cities=500,
            read_seconds=10.0,
            warmup_seconds=5.0,
            connections=16,
            repeats=2,
        )


# ---- figures -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Figure:
    name: str
    value: float | int | str | None
    unit: str = ""
    note: str = ""  # goal, ratio meaning, or how it was measured


@dataclass(slots=True)
class BenchResult:
    benchmark: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def add(self, name: str, value: Any, unit: str = "", note: str = "") -> None:
        self.figures.append(Figure(name, value, unit, note))
        say(f"  {name:<44} {fmt(value):>10} {unit:<8} {note}")

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "figures": {f.name: {"value": f.value, "unit": f.unit, "note": f.note} for f in self.figures},
            "details": self.details,
        }


def record_failure(result: BenchResult, exc: BaseException) -> None:
    """A benchmark that breaks reports why and lets the others run."""
    import traceback

    traceback.print_exc()
    result.error = f"{type(exc).__name__}: {exc}"
    say(f"[{result.benchmark}] FAILED: {result.error}")


def say(message: str) -> None:
    print(message, flush=True)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 200 values is the 190th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def ratio(a: float | None, b: float | None) -> float | None:
    if not a or not b:
        return None
    return a / b


# ---- the machine ---------------------------------------------------------------------------------


def source() -> dict[str, Any]:
    """The commit measured, and whether the work tree had changes (figures move with the code)."""
    import subprocess

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def machine() -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": stdlib_platform.python_version(),
        "kernel": stdlib_platform.release(),
    }


# ---- services and the throwaway database ---------------------------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@dataclass(slots=True)
class Bench:
    """One throwaway database with the platform schema, and everything that reaches it."""

    services: Services
    database_url: str
    settings: Settings
    modules: LoadedModules
    db: Database
    tenants: TenantService

    @property
    def database_name(self) -> str:
        return database_name(self.database_url)

    def server_env(self, **overrides: str) -> dict[str, str]:
        """The environment of a `kotalive serve` process on this database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOTALIVE_")}
        env.update(bench_env(self.database_url, self.services.redis_url))
        env.update(overrides)
        return env

    async def reopen(self) -> None:
        """A fresh engine (after `close_connections`, e.g. once the app server has stopped)."""
        self.db = Database(self.settings)
        install_database(self.db)
        self.tenants = TenantService(self.db, self.modules)

    async def close_connections(self) -> None:
        """Drop the harness's pooled connections so only the app's backends remain."""
        await self.db.dispose()


def bench_env(database_url: str, redis_url: str) -> dict[str, str]:
    # "test" as the test suite does: no production secrets to invent, and the kind of
    # environment does not change the request or migration paths measured here.
    return {
        "KOTALIVE_ENV": "test",
        "KOTALIVE_DATABASE_URL": database_url,
        "KOTALIVE_REDIS_URL": redis_url,
        "KOTALIVE_BASE_DOMAIN": BASE_DOMAIN,
        "KOTALIVE_PLATFORM_HOST": PLATFORM_HOST,
        "KOTALIVE_LOG_LEVEL": "WARNING",
    }


_services: Services | None = None


def services() -> Services:
    """The configured PostgreSQL/Redis, else the local ones, else embedded (one per process)."""
    global _services
    if _services is None:
        _services = ensure_services(purpose="test")
    return _services


def stop_services() -> None:
    global _services
    if _services is not None:
        _services.stop()
        _services = None


REDIS_LOCK = "kotalive-test:session-lock"  # the test suite's claim on a Redis database (tests/conftest.py)


@contextmanager
def claimed_redis_database(purpose: str) -> Iterator[str]:
    """A Redis database (1-15) of this run's own, claimed the way test sessions claim theirs.

    For benchmarks whose server writes to Redis (sessions, rate limits, Dramatiq messages of the
    outbox relay): nothing lands in database 0, where a development server or worker could pick
    it up, and test runs on the same Redis skip the database while it is claimed. Emptied when
    claimed and again at the end. A claim left by a killed benchmark run is taken over once its
    process is gone.
    """
    import redis as redis_sync

    url = services().redis_url
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    me = f"bench-{purpose}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    for db in range(15, 0, -1):  # from the top: test sessions claim from 1 upwards
        client = redis_sync.Redis.from_url(f"{base}/{db}")
        try:
            claimed = bool(client.set(REDIS_LOCK, me, nx=True, ex=3 * 3600))
            if not claimed:
                holder = (client.get(REDIS_LOCK) or b"").decode(errors="replace")
                m = re.fullmatch(r"bench-[a-z]+-([0-9]+)-[0-9a-f]{8}", holder)
                if m and not psutil.pid_exists(int(m.group(1))):
                    claimed = bool(client.set(REDIS_LOCK, me, ex=3 * 3600))
        except redis_sync.ResponseError:  # fewer than 16 databases configured
            client.close()
            continue
        if not claimed:
            client.close()
            continue
        client.flushdb()
        client.set(REDIS_LOCK, me, ex=3 * 3600)
        try:
            yield f"{base}/{db}"
        finally:
            if client.get(REDIS_LOCK) == me.encode():
                client.flushdb()
            client.close()
        return
    raise RuntimeError("every Redis database 1-15 is claimed (test runs or other benchmarks)")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(plain_postgres_url(services().database_url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def server_version() -> str:
    conn = await asyncpg.connect(plain_postgres_url(services().database_url))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def drop_orphans() -> list[str]:
    """Drop benchmark databases whose creating process is gone (a run killed with SIGKILL).

    Only when PostgreSQL runs on this machine: process ids mean nothing on another host.
    """
    host = urlsplit(services().database_url).hostname or "localhost"
    if host not in ("127.0.0.1", "localhost", "::1"):
        return []
    conn = await asyncpg.connect(plain_postgres_url(services().database_url))
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", DB_PREFIX.replace("_", r"\_") + "%"
        )
        dropped = []
        for (name,) in names:
            m = re.fullmatch(rf"{DB_PREFIX}[a-z]+_([0-9]+)_[0-9a-f]{{8}}", name)
            if m and not psutil.pid_exists(int(m.group(1))):
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                dropped.append(name)
    finally:
        await conn.close()
    if dropped:
        say(f"dropped {len(dropped)} database(s) left by killed benchmark runs: {', '.join(dropped)}")
    return dropped


@asynccontextmanager
async def throwaway_database(purpose: str) -> AsyncIterator[Bench]:
    """CREATE DATABASE kotalive_bench_<purpose>_<pid>_<random>, migrate the platform schema; DROP it at the end."""
    svc = services()
    await drop_orphans()
    # The creating process's id is in the name, so a later run can drop what a killed run left.
    name = f"{DB_PREFIX}{purpose}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = with_database(svc.database_url, name)
    bench: Bench | None = None
    try:
        settings = Settings.from_env(bench_env(url, svc.redis_url))
        modules = load(settings.modules)
        modules.import_models()
        db = Database(settings)
        install_database(db)
        async with db.engine.begin() as conn:
            await conn.run_sync(upgrade_platform)
        bench = Bench(svc, url, settings, modules, db, TenantService(db, modules))
        yield bench
    finally:
        if bench is not None:
            await bench.db.dispose()
        install_database(None)
        # FORCE: a crashed server or migration worker must not keep the database alive.
        await asyncio.shield(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sigterm_as_interrupt() -> None:
    """Let `finally` blocks (dropping the database, stopping servers) run on SIGTERM too."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


# ---- cities --------------------------------------------------------------------------------------


def new_city(prefix: str, i: int) -> NewCity:
    slug = f"{prefix}-{i:04d}"
    return NewCity(slug=slug, name=f"Kota Bench {prefix.title()} {i}", region_code="3671")


async def provision_cities(
    tenants: TenantService,
    cities: Iterable[NewCity],
    *,
    concurrency: int = 1,
    on_city: Callable[[NewCity, float], None] | None = None,
) -> float:
    """Provision through ``TenantService.provision``, ``concurrency`` cities at a time.

    Returns the wall time in seconds. Concurrency only overlaps round trips: every city still
    takes the real path (registry row, schema, seed, active).
    """
    queue: asyncio.Queue[NewCity] = asyncio.Queue()
    for city in cities:
        queue.put_nowait(city)

    async def worker() -> None:
        while True:
            try:
                city = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            await tenants.provision(city)
            if on_city:
                on_city(city, time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return time.perf_counter() - started


# ---- memory --------------------------------------------------------------------------------------


def private_bytes(pid: int) -> int:
    """Private memory of a process's private mappings (heap, stack), from /proc/<pid>/smaps.

    PostgreSQL backends map shared_buffers as one shared mapping; pages of it that only one
    backend touched count as "private" in USS, so USS overstates what a backend owns. Summing
    Private_Clean + Private_Dirty over private ("p") mappings only leaves the backend's own memory:
    catalogue caches, prepared statements and their plans.
    """
    total = 0
    private_mapping = False
    try:
        with open(f"/proc/{pid}/smaps", encoding="ascii", errors="replace") as f:
            for line in f:
                first = line.split(None, 2)
                if not first:
                    continue
                if "-" in first[0] and len(first) > 1 and len(first[1]) == 4:
                    private_mapping = first[1][3] == "p"
                elif private_mapping and first[0] in ("Private_Clean:", "Private_Dirty:"):
                    total += int(first[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    return total


@dataclass(slots=True)
class BackendMemory:
    backends: int = 0
    rss: int = 0
    pss: int = 0
    private: int = 0
    private_max: int = 0

    def as_mib(self) -> dict[str, float | int]:
        mib = 2**20
        return {
            "backends": self.backends,
            "rss_mib": round(self.rss / mib, 1),
            "pss_mib": round(self.pss / mib, 1),
            "private_mib": round(self.private / mib, 1),
            "private_max_per_backend_mib": round(self.private_max / mib, 1),
        }


def backend_pids(database: str) -> list[int]:
    """PostgreSQL backends connected to ``database``.

    A backend's process title reads "postgres: <cluster>: <user> <database> <client> <state>".
    """
    pids = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        words = " ".join(proc.info.get("cmdline") or ()).split()
        if words[:1] == ["postgres:"] and database in words[2:5]:
            pids.append(proc.info["pid"])
    return pids


def backend_memory(database: str) -> BackendMemory:
    out = BackendMemory()
    for pid in backend_pids(database):
        try:
            info = psutil.Process(pid).memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        own = private_bytes(pid)
        out.backends += 1
        out.rss += info.rss
        out.pss += getattr(info, "pss", 0)
        out.private += own
        out.private_max = max(out.private_max, own)
    return out


# ---- other work on the machine -------------------------------------------------------------------


def cpu_snapshot() -> dict[int, tuple[float, str]]:
    """CPU seconds used so far by every process, with its title."""
    snap: dict[int, tuple[float, str]] = {}
    for proc in psutil.process_iter(["pid", "cpu_times", "cmdline"]):
        times = proc.info.get("cpu_times")
        if times is None:
            continue
        snap[proc.info["pid"]] = (times.user + times.system, " ".join(proc.info.get("cmdline") or ()))
    return snap


def foreign_cpu_pct(
    before: dict[int, tuple[float, str]],
    after: dict[int, tuple[float, str]],
    seconds: float,
    ours: set[int],
    database: str,
) -> tuple[float, list[str]]:
    """CPU (% of one core) that processes other than the benchmark's used during a run.

    Ours: the harness and its children (server, load generator) and the PostgreSQL backends of
    the throwaway database. A high figure means another job shared the machine: compare ratios
    measured in the same run rather than absolute figures.
    """
    used: list[tuple[float, str]] = []
    for pid, (cpu, title) in after.items():
        if pid in ours or pid not in before:
            continue
        words = title.split()
        if words[:1] == ["postgres:"] and database in words[2:5]:
            continue
        used.append((max(0.0, cpu - before[pid][0]), title))
    if not seconds:
        return 0.0, []
    used.sort(reverse=True)
    top = [f"{100 * cpu / seconds:.0f}% {title[:60]}" for cpu, title in used[:3] if cpu > 0]
    return 100 * sum(cpu for cpu, _ in used) / seconds, top


class MachineWatch:
    """Other processes' CPU over a whole benchmark (see foreign_cpu_pct)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.started = time.perf_counter()
        self.before = cpu_snapshot()

    def add_to(self, result: BenchResult, name: str = "other processes' CPU") -> None:
        seconds = time.perf_counter() - self.started
        pct, top = foreign_cpu_pct(self.before, cpu_snapshot(), seconds, our_pids(), self.database)
        result.add(name, round(pct, 1), "% core", "high = the machine was shared")
        result.details["foreign_top"] = top


def our_pids() -> set[int]:
    me = psutil.Process()
    return {me.pid, *(c.pid for c in me.children(recursive=True))}


# ---- the summary ---------------------------------------------------------------------------------


def summary_table(results: Sequence[BenchResult]) -> str:
    rows = [("benchmark", "figure", "value", "unit", "note")]
    for r in results:
        if r.error:
            rows.append((r.benchmark, "FAILED", "", "", r.error[:80]))
        for f in r.figures:
            rows.append((r.benchmark, f.name, fmt(f.value), f.unit, f.note))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) if i != 2 else row[i].rjust(widths[i]) for i in range(4)]
        lines.append("  ".join(cells) + "  " + row[4])
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(line.rstrip() for line in lines)


def figures_json(results: Sequence[BenchResult], *, quick: bool, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "machine": machine(),
        "source": source(),
        "quick": quick,
        **extra,
        "results": {r.benchmark: r.as_json() for r in results},
        "figures": [asdict(f) | {"benchmark": r.benchmark} for r in results for f in r.figures],
    }


def standalone(run: Callable[[Sizes], Any], argv: Sequence[str] | None = None) -> None:
    """``python -P infra/bench/bench_x.py [--quick]``: one benchmark alone."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args, _ = parser.parse_known_args(argv)
    sigterm_as_interrupt()
    try:
        result: BenchResult = asyncio.run(run(Sizes.pick(args.quick)))
    finally:
        stop_services()
    print()
    print(summary_table([result]))
    sys.exit(1 if result.error else 0)


def write_results(
    path: Path, results: Sequence[BenchResult], *, quick: bool, extra: dict[str, Any] | None = None
) -> Path:
    """``figures_json`` of ``results`` written to ``path`` (e.g. bench-results/laksa.json)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    table = summary_table(results)
    data = figures_json(results, quick=quick, extra={**(extra or {}), "summary": table.splitlines()})
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path
