"""Benchmark 3: read throughput of a city endpoint with 1 city vs N cities, and memory.

The real app (`kotalive serve`, one uvicorn process) runs in a subprocess on a loopback port; the
load comes from wrk when installed, else from the Python generator in loadgen.py. Each phase
starts a fresh server, warms it up, then measures fixed-duration runs of
``GET /api/v1/agencies/{id}`` and ``GET /api/v1/agencies`` with ``Host: <slug>.bench.test``:

  1 city          one city provisioned, every request to it;
  N, one host     N cities provisioned, every request to one of them;
  N, spread       requests spread round-robin over all N cities' hosts (the worst case for
                  per-city statement caches: every city's SQL text is a statement of its own);
  N, cache 100    the same with KOTALIVE_DB_STATEMENT_CACHE=100;
  N, recycle 5 s  the same with KOTALIVE_DB_POOL_RECYCLE=5;
  N, pool 10      the same with KOTALIVE_DB_POOL_SIZE=10 (the former default): fewer
                  pooled connections than concurrent requests, so overflow connections churn.

Memory: the app process's RSS (psutil) and the PostgreSQL backends serving the app (found by
the throwaway database's name in their process titles): RSS, PSS and their private memory (see
benchkit.private_bytes), sampled every second and at the end of each phase.

    .venv/bin/python -P infra/bench/bench_reads.py [--quick] [--loadgen auto|wrk|python]
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import psutil
from benchkit import (
    Bench,
    BenchResult,
    Sizes,
    backend_memory,
    cpu_snapshot,
    foreign_cpu_pct,
    new_city,
    our_pids,
    provision_cities,
    ratio,
    record_failure,
    say,
    standalone,
    throwaway_database,
)
from loadgen import pick_generator, target_headers

from kotalive.context import schema_for
from kotalive.settings import plain_postgres_url
from kotalive.tenants.catalogue import DEFAULT_AGENCIES

HERE = Path(__file__).resolve().parent
KOTALIVE = Path(sys.executable).parent / "kotalive"
LOADGEN = HERE / "loadgen.py"
BARE_APP = HERE / "bare_app.py"
PROVISION_CONCURRENCY = 4
SMALL_POOL = 10  # fewer pooled connections than Sizes.connections: the churning pool
SAMPLE_SECONDS = 1.0
MIB = 2**20

BY_ID = "by id"
LIST = "list"


def paths(endpoint: str) -> list[str]:
    if endpoint == BY_ID:
        # ids 1..k exist in every city: the catalogue is seeded in order into a fresh identity
        return [f"/api/v1/agencies/{i}" for i in range(1, len(DEFAULT_AGENCIES) + 1)]
    return ["/api/v1/agencies"]


def spread(hosts: list[str], endpoint: str) -> list[tuple[str, str]]:
    """Round-robin over hosts; consecutive passes over the hosts move on to the next path."""
    ps = paths(endpoint)
    return [(hosts[i % len(hosts)], ps[(i // len(hosts)) % len(ps)]) for i in range(len(hosts) * len(ps))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AppServer:
    """`kotalive serve` on a free loopback port, stopped (and killed if need be) on exit.

    With ``bare_hosts`` ({host: schema}) it runs the yardstick bare_app.py instead.
    """

    def __init__(
        self,
        bench: Bench,
        env: dict[str, str],
        log: Path,
        bare_hosts: dict[str, str] | None = None,
    ) -> None:
        self.bench = bench
        self.env = env
        self.log = log
        self.bare_hosts = bare_hosts
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None
        self.proc: psutil.Process | None = None

    def command(self) -> list[str]:
        if self.bare_hosts is None:
            return [str(KOTALIVE), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        hosts_file = self.log.with_suffix(".hosts.json")
        hosts_file.write_text(json.dumps(self.bare_hosts))
        return [
            sys.executable,
            "-P",
            str(BARE_APP),
            "--port",
            str(self.port),
            "--dsn",
            plain_postgres_url(self.bench.database_url),
            "--hosts-file",
            str(hosts_file),
            "--pool-size",
            str(self.bench.settings.db_pool_size),
            "--statement-cache",
            str(self.bench.settings.db_statement_cache),
        ]

    def _start(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:
            return subprocess.Popen(
                self.command(),
                env=self.bench.server_env(**self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def __aenter__(self) -> AppServer:
        self.popen = self._start()
        self.proc = psutil.Process(self.popen.pid)
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.popen.poll() is not None:
                    raise RuntimeError(f"kotalive serve exited with {self.popen.returncode}; see {self.log}")
                try:
                    r = await client.get(f"http://127.0.0.1:{self.port}/readyz")
                    if r.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"kotalive serve did not become ready in 60 s; see {self.log}")
                await asyncio.sleep(0.2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.popen.wait, 20)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            await asyncio.to_thread(self.popen.wait, 10)

    async def check(self, targets: list[tuple[str, str]]) -> None:
        """Every kind of request answers 200 before we measure (a guard, not a timing)."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            for target in targets[:1] + targets[-1:] if len(targets) > 1 else targets:
                host, path = target[0], target[1]
                r = await client.get(f"http://127.0.0.1:{self.port}{path}", headers=target_headers(target))
                if r.status_code != 200:
                    raise RuntimeError(f"GET {path} on {host}: {r.status_code} {r.text[:300]}")


@dataclass(slots=True)
class Sampler:
    """Memory of the app and its PostgreSQL backends, once a second, in a thread."""

    database: str
    app: psutil.Process
    samples: list[dict[str, float]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> dict[str, float]:
        mem = backend_memory(self.database)
        try:
            rss = self.app.memory_info().rss
        except psutil.NoSuchProcess:
            rss = 0
        return {
            "t": round(time.monotonic(), 2),
            "app_rss_mib": round(rss / MIB, 1),
            **mem.as_mib(),
        }

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.samples.append(self.sample())

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def peak(self, key: str) -> float:
        return max((s[key] for s in self.samples), default=0.0)


async def load(
    generator: str, port: int, targets: list[tuple[str, str]], seconds: float, connections: int
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(targets, f)
        targets_file = f.name
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",
            str(LOADGEN),
            "--port",
            str(port),
            "--targets",
            targets_file,
            "--duration",
            str(seconds),
            "--connections",
            str(connections),
            "--generator",
            generator,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=seconds + 90)
        except TimeoutError:
            proc.kill()
            raise
    finally:
        os.unlink(targets_file)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed ({proc.returncode}): {err.decode()[-1000:]}")
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


async def measured_run(
    bench: Bench, server: AppServer, generator: str, targets: list[tuple[str, str]], sizes: Sizes
) -> dict[str, Any]:
    """One fixed-duration run, with the server's CPU and that of other processes meanwhile."""
    assert server.proc is not None
    cpu0 = server.proc.cpu_times()
    machine0 = cpu_snapshot()
    got = await load(generator, server.port, targets, sizes.read_seconds, sizes.connections)
    machine1 = cpu_snapshot()
    cpu1 = server.proc.cpu_times()
    busy = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    got["server_cpu_pct"] = round(100 * busy / got["seconds"], 1)
    foreign, top = foreign_cpu_pct(machine0, machine1, got["seconds"], our_pids(), bench.database_name)
    got["foreign_cpu_pct"] = round(foreign, 1)
    got["foreign_top"] = top
    return got


async def phase(
    bench: Bench,
    label: str,
    hosts: list[str],
    endpoints: list[str],
    sizes: Sizes,
    generator: str,
    log: Path,
    env: dict[str, str] | None = None,
    bare_hosts: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A fresh server; per endpoint: warm-up, then a measured run. Returns the phase's figures."""
    await bench.close_connections()  # only the app's backends remain on the database
    out: dict[str, Any] = {"label": label, "cities": len(hosts), "env": env or {}, "endpoints": {}}
    say(f"  phase {label!r}: {len(hosts)} host(s), env {env or 'defaults'}")
    async with AppServer(bench, env or {}, log, bare_hosts) as server:
        assert server.proc is not None
        with Sampler(bench.database_name, server.proc) as sampler:
            for endpoint in endpoints:
                targets = spread(hosts, endpoint)
                await server.check(targets)
                await load(generator, server.port, targets, sizes.warmup_seconds, sizes.connections)
                runs = []
                for _ in range(sizes.repeats):
                    runs.append(await measured_run(bench, server, generator, targets, sizes))
                    say(
                        f"    {endpoint:<6} {runs[-1]['rps']:>8,.0f} req/s  p50 {runs[-1]['p50_ms']:.2f} ms  "
                        f"p99 {runs[-1]['p99_ms']:.2f} ms  non-2xx {runs[-1]['non_2xx']}  "
                        f"errors {runs[-1]['errors']}  server CPU {runs[-1]['server_cpu_pct']:.0f}%  "
                        f"generator CPU {runs[-1]['generator_cpu_pct']:.0f}%  "
                        f"other processes {runs[-1]['foreign_cpu_pct']:.0f}%"
                    )
                # the best of the repeats: on a shared machine, interference only ever slows a run
                best = max(runs, key=lambda r: r["rps"])
                best["runs_rps"] = [r["rps"] for r in runs]
                out["endpoints"][endpoint] = best
            end = sampler.sample()
        out["end"] = end
        out["peak"] = {
            "app_rss_mib": sampler.peak("app_rss_mib"),
            "private_mib": sampler.peak("private_mib"),
            "pss_mib": sampler.peak("pss_mib"),
            "backends": sampler.peak("backends"),
        }
        out["samples"] = sampler.samples
    say(
        f"    app RSS {end['app_rss_mib']:.0f} MiB; {end['backends']} backends: "
        f"private {end['private_mib']:.1f} MiB (peak {out['peak']['private_mib']:.1f}), "
        f"PSS {end['pss_mib']:.1f} MiB, RSS {end['rss_mib']:.1f} MiB"
    )
    return out


def rps(p: dict[str, Any], endpoint: str) -> float | None:
    got = p["endpoints"].get(endpoint)
    return got["rps"] if got else None


async def bare_hosts(bench: Bench, hosts: list[str]) -> dict[str, str]:
    """{host: schema} of the given city hosts, for the bare yardstick."""
    wanted = set(hosts)
    return {
        host: schema_for(t.id)
        for t in await bench.tenants.list()
        if (host := bench.settings.city_host(t.slug)) in wanted
    }


async def run(sizes: Sizes, loadgen: str = "auto") -> BenchResult:
    result = BenchResult("reads")
    started = time.perf_counter()
    n = sizes.read_cities
    try:
        generator = pick_generator(loadgen)
        say(
            f"[reads] 1 vs {n} cities, load generator {generator}, {sizes.connections} connections, "
            f"{sizes.warmup_seconds:g} s warm-up + best of {sizes.repeats} x {sizes.read_seconds:g} s runs"
        )
        log = Path(tempfile.gettempdir()) / f"kotalive-bench-serve-{os.getpid()}.log"
        both = [BY_ID, LIST]
        # --quick: the setting variants measure the read by id only, to stay under a minute
        variants = [BY_ID] if sizes.quick else both
        async with throwaway_database("reads") as bench:
            cities = [new_city("read", i) for i in range(n)]
            await provision_cities(bench.tenants, cities[:1])
            hosts = [bench.settings.city_host(c.slug) for c in cities]
            bare_one_hosts = await bare_hosts(bench, hosts[:1])

            async def run_phase(label: str, hs: list[str], endpoints: list[str], **kw: Any) -> dict[str, Any]:
                return await phase(bench, label, hs, endpoints, sizes, generator, log, **kw)

            one = await run_phase("1 city", hosts[:1], both)
            bare_one = await run_phase("bare yardstick, 1 city", hosts[:1], both, bare_hosts=bare_one_hosts)
            say(f"  provisioning {n - 1} more cities")
            await provision_cities(bench.tenants, cities[1:], concurrency=PROVISION_CONCURRENCY)
            bare_all_hosts = await bare_hosts(bench, hosts)
            one_host = await run_phase(f"{n} cities, one host", hosts[:1], [BY_ID])
            many = await run_phase(f"{n} cities, spread", hosts, both)
            bare_many = await run_phase(
                f"bare yardstick, {n} cities, spread", hosts, both, bare_hosts=bare_all_hosts
            )
            small_cache = await run_phase(
                f"{n} cities, statement cache 100",
                hosts,
                variants,
                env={"KOTALIVE_DB_STATEMENT_CACHE": "100"},
            )
            recycled = await run_phase(
                f"{n} cities, pool_recycle 5 s", hosts, variants, env={"KOTALIVE_DB_POOL_RECYCLE": "5"}
            )
            # With more concurrent requests than pooled connections, overflow connections are
            # opened and closed all the time, each with empty statement caches (and the backends'
            # caches die with them, which hides their memory).
            small_pool = await run_phase(
                f"{n} cities, pool {SMALL_POOL}",
                hosts,
                variants,
                env={"KOTALIVE_DB_POOL_SIZE": str(SMALL_POOL)},
            )
            defaults = bench.settings
        phases = [
            one,
            bare_one,
            one_host,
            many,
            bare_many,
            small_cache,
            recycled,
            small_pool,
        ]

        result.add("load generator", generator)
        result.add(
            "connections",
            sizes.connections,
            "",
            f"app pool: {defaults.db_pool_size} + {defaults.db_max_overflow} overflow",
        )
        for endpoint in both:
            result.add(f"1 city: {endpoint}", rps(one, endpoint), "req/s")
            result.add(f"{n} spread: {endpoint}", rps(many, endpoint), "req/s")
            result.add(
                f"  ratio {n} spread / 1 ({endpoint})",
                ratio(rps(many, endpoint), rps(one, endpoint)),
                "x",
                "goal >= 0.9",
            )
        result.add(
            f"{n} cities, one host / 1 city (by id)",
            ratio(rps(one_host, BY_ID), rps(one, BY_ID)),
            "x",
            "registry size alone",
        )
        for endpoint in both:
            result.add(
                f"bare yardstick, 1 city: {endpoint}",
                rps(bare_one, endpoint),
                "req/s",
                "Litestar + raw asyncpg",
            )
            result.add(
                f"  platform / bare, 1 city ({endpoint})",
                ratio(rps(one, endpoint), rps(bare_one, endpoint)),
                "x",
                "ARCHITECTURE §10 aim >= 0.5",
            )
            result.add(
                f"  platform / bare, {n} spread ({endpoint})",
                ratio(rps(many, endpoint), rps(bare_many, endpoint)),
                "x",
                f"bare at {n} spread: {rps(bare_many, endpoint) or 0:,.0f} req/s",
            )
        for endpoint in both:
            result.add(
                f"statement cache 100 / default ({endpoint})",
                ratio(rps(small_cache, endpoint), rps(many, endpoint)),
                "x",
                f"at {n} cities; default {defaults.db_statement_cache}",
            )
        for endpoint in both:
            result.add(
                f"pool_recycle 5 s / default ({endpoint})",
                ratio(rps(recycled, endpoint), rps(many, endpoint)),
                "x",
                f"at {n} cities; default {defaults.db_pool_recycle} s",
            )
        for endpoint in both:
            result.add(
                f"pool {SMALL_POOL} / default pool ({endpoint})",
                ratio(rps(small_pool, endpoint), rps(many, endpoint)),
                "x",
                f"at {n} cities spread; default pool {defaults.db_pool_size}",
            )
        result.add("p99 latency, 1 city (by id)", one["endpoints"][BY_ID]["p99_ms"], "ms")
        result.add(f"p99 latency, {n} spread (by id)", many["endpoints"][BY_ID]["p99_ms"], "ms")
        result.add(
            "server CPU, 1 city (by id)",
            one["endpoints"][BY_ID]["server_cpu_pct"],
            "% core",
            "the app process (one uvicorn worker)",
        )
        result.add(
            "generator CPU, 1 city (by id)",
            one["endpoints"][BY_ID]["generator_cpu_pct"],
            "% core",
            "low = the generator is not the bottleneck",
        )
        foreign = max(e["foreign_cpu_pct"] for p in phases for e in p["endpoints"].values())
        result.add(
            "other processes' CPU, worst run",
            foreign,
            "% core",
            "high = the machine was shared: trust ratios over absolutes",
        )
        memory = (
            (one, "1 city"),
            (many, f"{n} cities"),
            (small_cache, f"{n} cities, cache 100"),
            (recycled, f"{n} cities, recycle 5 s"),
            (small_pool, f"{n} cities, pool {SMALL_POOL}"),
        )
        for p, name in memory:
            result.add(f"app RSS, {name}", p["end"]["app_rss_mib"], "MiB")
        for p, name in memory:
            end = p["end"]
            result.add(
                f"PG backends private, {name}",
                end["private_mib"],
                "MiB",
                f"{end['backends']} backends, max {end['private_max_per_backend_mib']:.1f} MiB each, "
                f"peak {p['peak']['private_mib']:.0f}; PSS {end['pss_mib']:.0f}",
            )
        result.details = {"phases": phases, "server_log": str(log)}
    except Exception as exc:
        record_failure(result, exc)
    result.seconds = time.perf_counter() - started
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    args, rest = parser.parse_known_args()
    standalone(lambda sizes: run(sizes, args.loadgen), rest)
