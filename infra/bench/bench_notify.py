"""Benchmark 6: notifications, from a citizen's complaint to the agency's bell (and e-mail).

The path measured is the real one, across three processes:
  POST /api/v1/laksa/complaints (a signed-in citizen, "#lampumati": the hashtag rule routes it to
  PUPR) in ``kotalive serve``; the outbox rows commit with the complaint; the relay's fast path
  hands the events to Dramatiq right after commit; ``kotalive worker`` (KOTALIVE_WORKER_PROCESSES=2,
  no scheduler: nothing here waits for a sweep) runs ``laksa:on_routed``, which writes a bell entry
  for every active PUPR employee (and an e-mail delivery for those with an address) and, after its
  commit, publishes each entry on the person's Redis channel; the web process fans it out to
  ``GET /api/v1/notifications/stream`` (server-sent events), where a PUPR employee of the city
  listens. The latency is from just before the POST is written to the socket until that
  listener's "notification" event for the complaint arrives.

Setup: ``Sizes.notify_cities`` cities through ``TenantService.provision`` with Laksa switched on
(a high submission limit), the demo boundaries, 4 citizens and 4 employees per agency (SQL, as in
bench_laksa.py), real login sessions in Redis; every city's ``smtp`` integration points at a local
SMTP sink (aiosmtpd, a subprocess of this script); employees have no e-mail address except in the
e-mail runs. One SSE listener per city (its first PUPR employee) stays connected throughout.

Runs:
  the SSE check: two fresh web processes, each with every listener opened at once (50 at a time,
  as browsers reconnect after a restart), and a message published straight to each channel: how
  many streams are live (all, since live.subscribe serialises redis-py's racy PubSub.connect);
  then one server and one worker, the first listener opened alone, then the rest (all live):
  latency, one complaint at a time 1.5-3 s apart ("idle": the worker's queue goes quiet between
  them), and Poisson arrivals at ``notify_busy_rate``/s ("busy"), 1 city and spread over all;
  where the time goes for each sample (database timestamps of the outbox and receipt rows, a
  Redis subscriber of this harness on the listeners' channels, the SSE arrival);
  saturated: closed-loop submissions on 8 connections, notifications per second seen by the
  listeners and bell rows written, 1 city vs spread (ratio), then the drain once submissions stop;
  steady: 70 % of the saturated rate, 1 city and spread: latency under load;
  queue drained: the worker processes stopped (SIGSTOP) while ``notify_backlog`` complaints are
  submitted, then resumed: the workers' own notifications per second, 1 city vs spread;
  e-mail on: 1 city at 1/s (e-mail latency to the sink), and the queue-drained run spread over
  all cities (e-mails per second; in-app per second with e-mail on / off);
  the runs above keep Dramatiq's own idle poll cap (``dramatiq_worker_timeout=1000``); the last
  runs, a second server and a worker with the project's default (``KOTALIVE_WORKER_POLL_MS``,
  100 ms): idle, busy and e-mail latency and the workers' idle CPU, against Dramatiq's default.

Figures and ratios come from one run; nothing asserts a time. Results: bench-results/notify.json.

    .venv/bin/python -P infra/bench/bench_notify.py [--quick]
    .venv/bin/python -P infra/bench/run_all.py --only notify [--quick]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
import psutil
import redis.asyncio as aioredis
from bench_laksa import CSRF_COOKIE, CityRefs, boundaries, city_sql, csrf_token, prepare_city, sign_in
from bench_reads import KOTALIVE, AppServer, free_port
from benchkit import (
    RESULTS_DIR,
    Bench,
    BenchResult,
    Sizes,
    claimed_redis_database,
    cpu_snapshot,
    foreign_cpu_pct,
    median,
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
from kotalive.auth.crypto import Vault
from kotalive.auth.sessions import COOKIE_NAME, SessionStore
from kotalive.settings import plain_postgres_url
from kotalive.tenants.integrations import set_integration

SELF = Path(__file__).resolve()
WORKER_PROCESSES = 2
PROVISION_CONCURRENCY = 4
SIGNED_IN = 4  # citizens with a session per city
SUBMIT_CONNECTIONS = 8  # closed-loop submitters of the saturated runs
STEADY_SHARE = 0.7  # the steady runs' rate: this share of the saturated rate
IDLE_GAP = (1.5, 3.0)  # seconds between idle samples (after the previous one was seen)
EMAIL_RATE = 1.0  # complaints per second of the 1-city e-mail latency run (4 e-mails each)
KEEP_ALIVE_SECONDS = 3.0  # idle connections older than this are not reused
DRAIN_SECONDS = 60.0  # at most this long for the backlog of a saturated run to be seen
WAIT_SECONDS = 15.0  # at most this long for the last notification of a latency run
POLL_MS_FIX = "100"  # dramatiq_worker_timeout of the last run: the project's KOTALIVE_WORKER_POLL_MS
POLL_MS_DRAMATIQ = "1000"  # Dramatiq's own default, which the main runs keep for comparison
POST_TEXT = "Lampu jalan mati sejak tiga hari, gelap sekali di malam hari #lampumati"
SEED = 20261201
LOCATION = re.compile(rb"(?im)^location: /api/v1/laksa/complaints/([0-9]+)")
COMPLAINT_LINK = re.compile(r"/laksa/([0-9]+)")
MAIL_CITY = re.compile(r"@c([0-9]+)\.bench\.test")
MAIL_COMPLAINT = re.compile(r"#([0-9]+)")


def now() -> float:
    return time.time()  # wall clock: compared with PostgreSQL's now() and other processes


_started = time.perf_counter()


def note(message: str) -> None:
    """``say`` with the seconds since the benchmark began."""
    say(f"[{time.perf_counter() - _started:5.0f} s] {message}")


# ---- HTTP on raw keep-alive sockets ---------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length: int | None = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, head, bytes(body)
            body += chunk[:-2]
    if length is None:
        raise ValueError("response without content-length")
    return status, head, await reader.readexactly(length)


@dataclass(slots=True)
class Post:
    city: int  # index into the harness's cities
    sent: float
    answered: float = 0.0
    status: int = 0
    complaint: int | None = None
    error: str | None = None


class Submitter:
    """Signed-in citizens' JSON posts (#lampumati) on keep-alive connections of its own."""

    def __init__(self, port: int, cities: list[CityRefs], spots: Sequence[tuple[float, float]], csrf: str):
        self.port = port
        self.cities = cities
        self.spots = spots
        self.csrf = csrf
        # idle keep-alive connections and when they were last used (uvicorn closes them after 5 s)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.n = 0
        self.samples: list[str] = []

    def request(self, city: int) -> bytes:
        self.n += 1
        refs = self.cities[city]
        lat, lon = self.spots[self.n % len(self.spots)]
        body = json.dumps({"description": POST_TEXT, "lat": lat, "lon": lon}).encode()
        token = refs.citizen_tokens[self.n % len(refs.citizen_tokens)]
        head = (
            "POST /api/v1/laksa/complaints HTTP/1.1\r\n"
            f"Host: {refs.host}\r\n"
            "Accept: application/json\r\n"
            f"Cookie: {COOKIE_NAME}={token}; {CSRF_COOKIE}={self.csrf}\r\n"
            f"X-CSRFToken: {self.csrf}\r\n"
            "Content-Type: application/json\r\n"
            f"Idempotency-Key: bench-notify-{uuid.uuid4().hex}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode("latin-1") + body

    async def post(self, city: int) -> Post:
        raw = self.request(city)
        for attempt in (1, 2):
            while self.idle and time.monotonic() - self.idle[-1][2] > KEEP_ALIVE_SECONDS:
                self.idle.pop()[1].close()
            while self.idle and time.monotonic() - self.idle[0][2] > KEEP_ALIVE_SECONDS:
                self.idle.pop(0)[1].close()
            reused = bool(self.idle)
            if reused:
                reader, writer, _ = self.idle.pop()
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            p = Post(city, now())
            writer.write(raw)
            try:
                status, head, body = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
                writer.close()
                p.answered, p.error = now(), f"{type(exc).__name__}: {exc}"
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection (uvicorn: after 5 s)
                if len(self.samples) < 3:
                    self.samples.append(p.error)
                return p
            break
        p.answered, p.status = now(), status
        m = LOCATION.search(head)
        if status == 201 and m:
            p.complaint = int(m.group(1))
        elif len(self.samples) < 3:
            self.samples.append(f"{status} {body[:300].decode(errors='replace')}")
        self.idle.append((reader, writer, time.monotonic()))
        return p

    async def paced(
        self, rate: float, seconds: float, pick: Callable[[int], int], *, poisson: bool, seed: int
    ) -> list[Post]:
        """Open loop: arrivals at ``rate`` per second (Poisson, or evenly spaced) for ``seconds``."""
        rng = random.Random(seed)
        started = time.perf_counter()
        t, i = 0.0, 0
        tasks: list[asyncio.Task[Post]] = []
        while True:
            t += rng.expovariate(rate) if poisson else 1.0 / rate
            if t >= seconds:
                break
            await asyncio.sleep(max(0.0, started + t - time.perf_counter()))
            tasks.append(asyncio.create_task(self.post(pick(i))))
            i += 1
        return list(await asyncio.gather(*tasks))

    async def closed(
        self,
        connections: int,
        pick: Callable[[int], int],
        *,
        seconds: float | None = None,
        count: int | None = None,
    ) -> list[Post]:
        """Closed loop on ``connections``: until ``seconds`` have passed or ``count`` posts were made."""
        deadline = time.perf_counter() + (seconds if seconds is not None else 3600.0)
        out: list[Post] = []
        counter = iter(range(count if count is not None else 10**9))

        async def loop() -> None:
            while time.perf_counter() < deadline:
                i = next(counter, None)
                if i is None:
                    return
                out.append(await self.post(pick(i)))

        await asyncio.gather(*(loop() for _ in range(connections)))
        return out

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


# ---- the listeners ---------------------------------------------------------------------------------


class Listener:
    """A PUPR employee's bell stream: the arrival time of each complaint's notification."""

    def __init__(self, port: int, index: int, refs: CityRefs, csrf: str, seen: dict[tuple[int, int], float]):
        self.port = port
        self.index = index
        self.refs = refs
        self.csrf = csrf
        self.seen = seen
        self.events = 0
        self.error: str | None = None
        self.unread: Any = None
        self._buf = ""
        self._pending: list[tuple[str, str]] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._chunked = False
        self.task: asyncio.Task[None] | None = None

    @property
    def channel(self) -> str:
        return live.person_channel(self.refs.ctx.id, "employee", self.refs.employee_id)

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writer.write(
            (
                "GET /api/v1/notifications/stream HTTP/1.1\r\n"
                f"Host: {self.refs.host}\r\n"
                "Accept: text/event-stream\r\n"
                f"Cookie: {COOKIE_NAME}={self.refs.employee_token}; {CSRF_COOKIE}={self.csrf}\r\n\r\n"
            ).encode("latin-1")
        )
        head = await self._reader.readuntil(b"\r\n\r\n")
        if int(head[9:12]) != 200:
            raise RuntimeError(f"SSE on {self.refs.host}: {head[:200]!r}")
        self._chunked = b"transfer-encoding: chunked" in head.lower()
        event, data = await self._next()
        if event != "unread":
            raise RuntimeError(f"SSE on {self.refs.host}: first event {event!r}, not 'unread'")
        self.unread = json.loads(data)
        self.task = asyncio.create_task(self._loop(), name=f"sse-{self.refs.host}")

    async def _chunk(self) -> bytes:
        assert self._reader is not None
        if not self._chunked:
            data = await self._reader.read(65536)
            if not data:
                raise ConnectionError("stream closed")
            return data
        size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
        data = await self._reader.readexactly(size + 2)
        if size == 0:
            raise ConnectionError("stream ended")
        return data[:-2]

    async def _next(self) -> tuple[str, str]:
        while not self._pending:
            self._buf = (self._buf + (await self._chunk()).decode()).replace("\r\n", "\n")
            *blocks, self._buf = self._buf.split("\n\n")
            for block in blocks:
                event, data = "message", []
                for line in block.split("\n"):
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
                if data:
                    self._pending.append((event, "\n".join(data)))
        return self._pending.pop(0)

    async def _loop(self) -> None:
        try:
            while True:
                event, data = await self._next()
                t = now()  # parsing is microseconds: the chunk's arrival
                if event != "notification":
                    continue
                self.events += 1
                m = COMPLAINT_LINK.search(json.loads(data).get("link") or "")
                if m:
                    self.seen.setdefault((self.index, int(m.group(1))), t)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self._writer is not None:
            self._writer.close()


class Probe:
    """This harness's own Redis subscription to the listeners' channels: when a bell was published."""

    def __init__(self, redis: Any, listeners: list[Listener]) -> None:
        self.redis = redis
        self.by_channel = {ls.channel: ls.index for ls in listeners}
        self.seen: dict[tuple[int, int], float] = {}
        self.pubsub: Any = None
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Probe:
        self.pubsub = self.redis.pubsub()
        await self.pubsub.subscribe(*self.by_channel)
        self.task = asyncio.create_task(self._loop())
        return self

    async def _loop(self) -> None:
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            t = now()
            if message is None or message.get("type") != "message":
                continue
            index = self.by_channel.get(message["channel"].decode())
            try:
                link = json.loads(message["data"])["data"].get("link") or ""
            except (ValueError, KeyError, TypeError):
                continue
            m = COMPLAINT_LINK.search(link)
            if index is not None and m:
                self.seen.setdefault((index, int(m.group(1))), t)

    async def __aexit__(self, *exc: object) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.pubsub is not None:
            await self.pubsub.aclose()


# ---- other processes: the worker and the SMTP sink ----------------------------------------------


def tree_cpu(proc: psutil.Process | None) -> dict[int, float]:
    """CPU seconds of a process and its descendants, by pid."""
    if proc is None:
        return {}
    out: dict[int, float] = {}
    with contextlib.suppress(psutil.NoSuchProcess):
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(max(0.0, v - before.get(pid, 0.0)) for pid, v in after.items())


class Workers:
    """``kotalive worker`` (Dramatiq's supervisor and its worker processes) on the benchmark's
    database and Redis; stopped with SIGTERM (killed if need be) on exit."""

    def __init__(self, bench: Bench, env: dict[str, str], log: Path, **extra: str) -> None:
        self.bench = bench
        self.env = {**env, "KOTALIVE_WORKER_PROCESSES": str(WORKER_PROCESSES), **extra}
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None
        self.proc: psutil.Process | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:
            return subprocess.Popen(
                [str(KOTALIVE), "worker"],
                env=self.bench.server_env(**self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def _ready(self, start: int) -> bool:
        """Dramatiq logs "Worker process is ready for action." once per worker process."""
        with open(self.log, "rb") as f:
            f.seek(start)
            return f.read().count(b"ready for action") >= WORKER_PROCESSES

    async def __aenter__(self) -> Workers:
        start = self.log.stat().st_size if self.log.exists() else 0
        self.popen = self._start()
        self.proc = psutil.Process(self.popen.pid)
        deadline = time.monotonic() + 60
        while not self._ready(start):
            if self.popen.poll() is not None:
                raise RuntimeError(f"kotalive worker exited with {self.popen.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"kotalive worker not ready in 60 s; see {self.log}")
            await asyncio.sleep(0.2)
        return self

    def cpu(self) -> dict[int, float]:
        return tree_cpu(self.proc)

    def _tree(self) -> list[psutil.Process]:
        if self.proc is None:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            return [self.proc, *self.proc.children(recursive=True)]
        return []

    def pause(self) -> None:
        """SIGSTOP this worker's processes (by pid): the events queue up in Redis meanwhile."""
        for p in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                p.suspend()

    def resume(self) -> None:
        for p in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                p.resume()

    async def __aexit__(self, *exc: object) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        children = []
        with contextlib.suppress(psutil.NoSuchProcess):
            children = self.proc.children(recursive=True) if self.proc else []
        self.popen.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.popen.wait, 30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            await asyncio.to_thread(self.popen.wait, 10)
        for child in children:  # only the processes this worker started
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def smtp_sink_main() -> None:
    """``bench_notify.py --smtp-sink``: an SMTP server on loopback that accepts everything and
    prints one JSON line per message (arrival time, To, Subject); stops when stdin closes."""
    import email
    import email.policy

    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            t = now()
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            sys.stdout.write(json.dumps([t, str(message["To"]), str(message["Subject"])]) + "\n")
            sys.stdout.flush()
            return "250 OK"

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    sys.stdout.write(f"READY {port}\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()
    finally:
        controller.stop()


class SmtpSink:
    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.mails: list[tuple[float, str, str]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SmtpSink:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",
            str(SELF),
            "--smtp-sink",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        if not line.startswith(b"READY "):
            raise RuntimeError(f"SMTP sink did not start: {line!r}")
        self.port = int(line.split()[1])
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            t, to, subject = json.loads(line)
            self.mails.append((float(t), to, subject))

    def cpu(self) -> dict[int, float]:
        return tree_cpu(psutil.Process(self.proc.pid)) if self.proc and self.proc.returncode is None else {}

    def settings(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "from_address": "laksa@bench.test",
            "from_name": "Laksa Bench",
            "timeout_seconds": 10,
        }

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


# ---- measuring -------------------------------------------------------------------------------------


def redis_pids() -> set[int]:
    out = set()
    for proc in psutil.process_iter(["pid", "name"]):
        if (proc.info.get("name") or "").startswith("redis-server"):
            out.add(proc.info["pid"])
    return out


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


@dataclass(slots=True)
class Harness:
    bench: Bench
    conn: asyncpg.Connection
    cities: list[CityRefs]
    server: AppServer
    workers: Workers
    sink: SmtpSink
    submitter: Submitter
    listeners: list[Listener]
    redis: Any
    seen: dict[tuple[int, int], float] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_posts: list[Post] = field(default_factory=list)

    # ---- CPU over a run ----

    def snapshot(self) -> dict[str, Any]:
        assert self.server.proc is not None
        return {
            "t": time.perf_counter(),
            "machine": cpu_snapshot(),
            "server": tree_cpu(self.server.proc),
            "workers": self.workers.cpu(),
            "sink": self.sink.cpu(),
            "harness": time.process_time(),
        }

    def cpu_since(self, s0: dict[str, Any]) -> dict[str, Any]:
        s1 = self.snapshot()
        seconds = s1["t"] - s0["t"]
        db = self.bench.database_name
        m0, m1 = s0["machine"], s1["machine"]

        def backend(title: str) -> bool:
            words = title.split()
            return words[:1] == ["postgres:"] and db in words[2:5]

        pg = sum(max(0.0, c - m0.get(p, (0.0, ""))[0]) for p, (c, title) in m1.items() if backend(title))
        rpids = redis_pids()
        rd = sum(max(0.0, m1[p][0] - m0.get(p, (0.0, ""))[0]) for p in rpids if p in m1)
        others, top = foreign_cpu_pct(m0, m1, seconds, our_pids() | rpids, db)

        def p100(x: float) -> float:
            return round(100 * x / seconds, 1) if seconds else 0.0

        return {
            "seconds": round(seconds, 2),
            "server_pct": p100(cpu_delta(s0["server"], s1["server"])),
            "workers_pct": p100(cpu_delta(s0["workers"], s1["workers"])),
            "pg_pct": p100(pg),
            "redis_pct": p100(rd),
            "harness_pct": p100(s1["harness"] - s0["harness"]),
            "sink_pct": p100(cpu_delta(s0["sink"], s1["sink"])),
            "others_pct": round(others, 1),
            "others_top": top,
        }

    # ---- waiting for what was submitted ----

    async def wait_seen(self, posts: Sequence[Post], within: float) -> float:
        """Until every accepted post's notification was seen (or ``within`` s); the time it took."""
        started = time.perf_counter()
        wanted = [(p.city, p.complaint) for p in posts if p.complaint is not None]
        while time.perf_counter() - started < within:
            if all(k in self.seen for k in wanted):
                break
            await asyncio.sleep(0.02)
        return time.perf_counter() - started

    def say_cpu(self, label: str, cpu: dict[str, Any]) -> None:
        note(
            f"      CPU % of a core: server {cpu['server_pct']:.0f}, workers {cpu['workers_pct']:.0f}, "
            f"PG {cpu['pg_pct']:.0f}, Redis {cpu['redis_pct']:.0f}, harness {cpu['harness_pct']:.0f}, "
            f"SMTP sink {cpu['sink_pct']:.0f}, others {cpu['others_pct']:.0f} {cpu['others_top'][:2]}"
        )

    # ---- where the time goes ----

    async def path_times(self, posts: Sequence[Post], probe: Probe | None) -> dict[str, Any]:
        """Per sample, the milestones along the path (ms after the POST was written):
        tx = the handler's transaction began (outbox_event.created_at, PostgreSQL's now());
        answered = the POST's answer arrived here; relay = the fast path's transaction began
        (outbox_event.sent_at); pickup = the consumer's transaction began (event_receipt.handled_at
        of laksa:on_routed); published = this harness's Redis subscriber got the bell;
        sse = the listener got it."""
        by_city: dict[int, list[int]] = {}
        for p in posts:
            if p.complaint is not None:
                by_city.setdefault(p.city, []).append(p.complaint)
        rows: dict[tuple[int, int], Any] = {}
        for city, ids in by_city.items():
            for r in await self.conn.fetch(
                city_sql(
                    self.cities[city].ctx,
                    "SELECT (o.payload->>'complaint_id')::bigint AS complaint, "
                    "extract(epoch FROM o.created_at)::float8 AS tx, "
                    "extract(epoch FROM o.sent_at)::float8 AS relay, "
                    "extract(epoch FROM r.handled_at)::float8 AS pickup "
                    "FROM {city}.outbox_event o LEFT JOIN {city}.event_receipt r "
                    "ON r.event_id = o.id AND r.consumer LIKE 'laksa:%' "
                    "WHERE o.event_type = 'laksa.complaint_routed' "
                    "AND (o.payload->>'complaint_id')::bigint = ANY($1::bigint[])",
                ),
                ids,
            ):
                rows[(city, r["complaint"])] = r
        stages: dict[str, list[float]] = {
            k: [] for k in ("tx", "commit_to_relay", "queue", "consumer", "fan_out", "answered")
        }
        samples = []
        for p in posts:
            if p.complaint is None:
                continue
            key = (p.city, p.complaint)
            r = rows.get(key)
            sse = self.seen.get(key)
            pub = probe.seen.get(key) if probe else None
            if r is None or sse is None or r["relay"] is None or r["pickup"] is None:
                continue
            sample = {
                "tx": 1000 * (r["tx"] - p.sent),
                "answered": 1000 * (p.answered - p.sent),
                "relay": 1000 * (r["relay"] - p.sent),
                "pickup": 1000 * (r["pickup"] - p.sent),
                "published": 1000 * (pub - p.sent) if pub else None,
                "sse": 1000 * (sse - p.sent),
            }
            samples.append({k: round(v, 2) if v is not None else None for k, v in sample.items()})
            stages["tx"].append(sample["tx"])
            stages["answered"].append(sample["answered"])
            stages["commit_to_relay"].append(sample["relay"] - sample["tx"])
            stages["queue"].append(sample["pickup"] - sample["relay"])
            if sample["published"] is not None:
                stages["consumer"].append(sample["published"] - sample["pickup"])
                stages["fan_out"].append(sample["sse"] - sample["published"])
        return {"stages": {k: ms(v) | {"median": pct(v, 50)} for k, v in stages.items()}, "samples": samples}

    # ---- the runs ----

    def latencies(self, posts: Sequence[Post]) -> tuple[list[float], int]:
        lat, missing = [], 0
        for p in posts:
            if p.complaint is None:
                continue
            t = self.seen.get((p.city, p.complaint))
            if t is None:
                missing += 1
            else:
                lat.append(1000 * (t - p.sent))
        return lat, missing

    def record(self, label: str, posts: Sequence[Post], extra: dict[str, Any]) -> dict[str, Any]:
        lat, missing = self.latencies(posts)
        refused = sum(1 for p in posts if p.complaint is None)
        got = {
            "posts": len(posts),
            "refused_or_failed": refused,
            "missing": missing,
            "latency_ms": ms(lat),
            "post_ms": ms([1000 * (p.answered - p.sent) for p in posts if p.complaint is not None]),
            **extra,
        }
        self.runs[label] = got
        self.last_posts = list(posts)
        lm = got["latency_ms"]
        note(
            f"    {label:<44} n {lm['n']:>5}  p50 {lm['p50']} p95 {lm['p95']} max {lm['max']} ms  "
            f"POST p50 {got['post_ms']['p50']} ms  refused {refused}  missing {missing}"
        )
        if self.submitter.samples:
            note(f"      first refusals: {self.submitter.samples}")
            self.submitter.samples.clear()
        return got

    async def idle(self, label: str, samples: int, pick: Callable[[int], int], seed: int) -> dict[str, Any]:
        """One complaint at a time, each after the previous one was seen and a 1.5-3 s pause."""
        rng = random.Random(seed)
        posts: list[Post] = []
        async with Probe(self.redis, self.listeners) as probe:
            await asyncio.sleep(rng.uniform(*IDLE_GAP))
            s0 = self.snapshot()
            for i in range(samples):
                p = await self.submitter.post(pick(i))
                posts.append(p)
                await self.wait_seen([p], WAIT_SECONDS)
                await asyncio.sleep(rng.uniform(*IDLE_GAP))
            cpu = self.cpu_since(s0)
            await asyncio.sleep(0.2)
            times = await self.path_times(posts, probe)
        got = self.record(label, posts, {"cpu": cpu, "path": times, "gap_s": list(IDLE_GAP)})
        self.say_stages(times)
        return got

    async def busy(
        self,
        label: str,
        rate: float,
        seconds: float,
        pick: Callable[[int], int],
        seed: int,
        *,
        poisson: bool = True,
    ) -> dict[str, Any]:
        async with Probe(self.redis, self.listeners) as probe:
            s0 = self.snapshot()
            posts = await self.submitter.paced(rate, seconds, pick, poisson=poisson, seed=seed)
            waited = await self.wait_seen(posts, WAIT_SECONDS)
            cpu = self.cpu_since(s0)
            await asyncio.sleep(0.2)
            times = await self.path_times(posts, probe)
        got = self.record(
            label,
            posts,
            {"cpu": cpu, "path": times, "rate": rate, "seconds": seconds, "waited_after_s": round(waited, 2)},
        )
        self.say_stages(times)
        self.say_cpu(label, cpu)
        return got

    def say_stages(self, times: dict[str, Any]) -> None:
        st = times["stages"]
        parts = [
            f"{name} {st[key]['median']} ({st[key]['p95']})"
            for key, name in (
                ("tx", "POST→tx"),
                ("commit_to_relay", "tx→relay"),
                ("queue", "relay→pickup"),
                ("consumer", "pickup→published"),
                ("fan_out", "published→SSE"),
            )
        ]
        note(f"      medians (p95) ms: {', '.join(parts)}; POST answered {st['answered']['median']}")

    async def bell_rows(self, cities: Sequence[int], since: float, until: float) -> int:
        total = 0
        for c in cities:
            total += int(
                await self.conn.fetchval(
                    city_sql(
                        self.cities[c].ctx,
                        "SELECT count(*) FROM {city}.notification WHERE created_at >= to_timestamp($1) "
                        "AND created_at < to_timestamp($2)",
                    ),
                    since,
                    until,
                )
            )
        return total

    async def saturate(
        self, label: str, seconds: float, pick: Callable[[int], int], cities: Sequence[int]
    ) -> dict[str, Any]:
        """Closed-loop submissions for ``seconds``, then the drain: notifications per second."""
        mails0 = len(self.sink.mails)
        s0 = self.snapshot()
        t0 = now()
        posts = await self.submitter.closed(SUBMIT_CONNECTIONS, pick, seconds=seconds)
        t1 = now()
        cpu = self.cpu_since(s0)
        backlog_at_end = sum(
            1 for p in posts if p.complaint is not None and (p.city, p.complaint) not in self.seen
        )
        s1 = self.snapshot()
        drain = await self.wait_seen(posts, DRAIN_SECONDS)
        t2 = now()
        cpu_drain = self.cpu_since(s1)
        ok = [p for p in posts if p.complaint is not None]
        keys = {(p.city, p.complaint) for p in ok}
        warm = t0 + min(1.0, seconds / 4)  # the window leaves out the first second
        in_window = sum(1 for k in keys if k in self.seen and warm <= self.seen[k] < t1)
        in_drain = sum(1 for k in keys if k in self.seen and self.seen[k] >= t1)
        rows = await self.bell_rows(cities, warm, t1)
        rows_all = await self.bell_rows(cities, t0, t2 + 1)
        mails = self.sink.mails[mails0:]
        mails_window = sum(1 for t, _, _ in mails if warm <= t < t1)
        got = self.record(
            label,
            posts,
            {
                "seconds": round(t1 - t0, 2),
                "submitted_per_s": round(len(ok) / (t1 - t0), 1),
                "seen_per_s": round(in_window / (t1 - warm), 1),
                "bell_rows_per_s": round(rows / (t1 - warm), 1),
                "bell_rows": rows_all,
                "backlog_at_end": backlog_at_end,
                "drain_s": round(drain, 2),
                "seen_per_s_draining": round(in_drain / (t2 - t1), 1) if t2 > t1 and in_drain else None,
                "emails": len(mails),
                "emails_per_s": round(mails_window / (t1 - warm), 1),
                "emails_after_submissions_s": round(max(t for t, _, _ in mails) - t1, 2) if mails else None,
                "cpu": cpu,
                "cpu_drain": cpu_drain,
            },
        )
        note(
            f"      submitted {got['submitted_per_s']}/s, seen at SSE {got['seen_per_s']}/s, bell rows "
            f"{got['bell_rows_per_s']}/s, e-mails {got['emails_per_s']}/s; backlog at the end {backlog_at_end}, "
            f"drained in {got['drain_s']} s ({got['seen_per_s_draining']}/s)"
        )
        self.say_cpu(label, cpu)
        return got

    async def mails_settled(self, since: int, expect: int, quiet: float = 1.0, within: float = 30.0) -> None:
        """Until ``expect`` e-mails reached the sink since ``since``, or none did for ``quiet`` s."""
        deadline = time.monotonic() + within
        started = now()
        while time.monotonic() < deadline:
            got = len(self.sink.mails) - since
            last = self.sink.mails[-1][0] if got else started
            if got >= expect or now() - last >= quiet:
                return
            await asyncio.sleep(0.1)

    async def backlog(
        self, label: str, count: int, pick: Callable[[int], int], cities: Sequence[int], *, emails: int = 0
    ) -> dict[str, Any]:
        """The workers paused (SIGSTOP) while ``count`` complaints are submitted, then resumed: how
        fast they turn a queue of events into bell entries, pushes and e-mails, with the web
        process idle but for the fan-out."""
        mails0 = len(self.sink.mails)
        self.workers.pause()
        try:
            posts = await self.submitter.closed(SUBMIT_CONNECTIONS, pick, count=count)
            await asyncio.sleep(0.5)  # the last fast-path relays
        finally:
            self.workers.resume()
        s0 = self.snapshot()
        t0 = now()
        waited = await self.wait_seen(posts, DRAIN_SECONDS)
        cpu = self.cpu_since(s0)
        ok = [p for p in posts if p.complaint is not None]
        times = sorted(self.seen[(p.city, p.complaint)] for p in ok if (p.city, p.complaint) in self.seen)
        t_last = times[-1] if times else t0
        # The rate between the 5th and the 95th percentile of arrivals: the start-up and the tail
        # (the last few messages of one process) left out.
        cut = len(times) // 20
        lo, hi = (times[cut], times[-1 - cut]) if times else (t0, t0)
        mid = len(times) - 2 * cut
        if emails:
            await self.mails_settled(mails0, emails * len(ok))
        mails = sorted(t for t, _, _ in self.sink.mails[mails0:])
        rows = await self.bell_rows(cities, t0 - 1, t_last + 1)
        got = self.record(
            label,
            posts,
            {
                "backlog": len(ok),
                "drain_s": round(t_last - t0, 2),
                "waited_s": round(waited, 2),
                "seen_per_s": round(len(times) / (t_last - t0), 1) if t_last > t0 else None,
                "seen_per_s_p5_p95": round((mid - 1) / (hi - lo), 1) if hi > lo else None,
                "first_seen_after_resume_s": round(times[0] - t0, 3) if times else None,
                "bell_rows": rows,
                "bell_rows_per_s": round(rows / (t_last - t0), 1) if t_last > t0 else None,
                "emails": len(mails),
                "emails_per_s": round(len(mails) / (mails[-1] - t0), 1) if mails and mails[-1] > t0 else None,
                "emails_done_after_resume_s": round(mails[-1] - t0, 2) if mails else None,
                "cpu": cpu,
            },
        )
        note(
            f"      {len(ok)} queued: seen at SSE {got['seen_per_s']}/s ({got['seen_per_s_p5_p95']}/s p5-p95), "
            f"bell rows {got['bell_rows_per_s']}/s, all seen {got['drain_s']} s after resuming; "
            f"e-mails {len(mails)} ({got['emails_per_s']}/s, the last {got['emails_done_after_resume_s']} s after)"
        )
        self.say_cpu(label, cpu)
        return got


# ---- setup -----------------------------------------------------------------------------------------


async def set_emails(h: Harness, cities: Sequence[int], on: bool) -> None:
    """PUPR's employees get an address (c<index>.bench.test) or none."""
    for c in cities:
        refs = h.cities[c]
        await h.conn.execute(
            city_sql(
                refs.ctx,
                "UPDATE {city}.employee SET email = CASE WHEN $2 THEN 'staf' || id || '@c' || $3 || "
                "'.bench.test' ELSE NULL END WHERE agency_id = $1",
            ),
            refs.pupr,
            on,
            str(c),
        )


def mail_latencies(
    h: Harness, posts: Sequence[Post], mails: Sequence[tuple[float, str, str]]
) -> dict[str, Any]:
    """ms from the POST to the first and to the last of the complaint's e-mails at the sink."""
    by_key: dict[tuple[int, int], list[float]] = {}
    for t, to, subject in mails:
        mc, mk = MAIL_CITY.search(to), MAIL_COMPLAINT.search(subject)
        if mc and mk:
            by_key.setdefault((int(mc.group(1)), int(mk.group(1))), []).append(t)
    first, last, counts = [], [], []
    for p in posts:
        if p.complaint is None:
            continue
        got = by_key.get((p.city, p.complaint))
        counts.append(len(got or []))
        if got:
            first.append(1000 * (min(got) - p.sent))
            last.append(1000 * (max(got) - p.sent))
    return {"first": ms(first), "last": ms(last), "mails_per_complaint": median(counts) if counts else None}


async def delivery_states(h: Harness, cities: Sequence[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cities:
        for r in await h.conn.fetch(
            city_sql(
                h.cities[c].ctx, "SELECT status, count(*) AS n FROM {city}.notification_delivery GROUP BY 1"
            )
        ):
            out[r["status"]] = out.get(r["status"], 0) + int(r["n"])
    return out


async def send_durations(h: Harness, cities: Sequence[int]) -> dict[str, Any]:
    """What one send took, as the delivery engine recorded it (connect, EHLO, MAIL, RCPT, DATA, QUIT)."""
    values: list[float] = []
    for c in cities:
        values += [
            float(r[0])
            for r in await h.conn.fetch(
                city_sql(h.cities[c].ctx, "SELECT duration_ms FROM {city}.delivery_attempt WHERE ok")
            )
        ]
    return ms(values)


async def unsent_events(h: Harness, cities: Sequence[int]) -> int:
    total = 0
    for c in cities:
        total += int(
            await h.conn.fetchval(
                city_sql(h.cities[c].ctx, "SELECT count(*) FROM {city}.outbox_event WHERE sent_at IS NULL")
            )
        )
    return total


async def idle_cpu(h: Harness, seconds: float) -> dict[str, Any]:
    """CPU with nothing to do: the workers' polling of their queues, Redis answering it."""
    s0 = h.snapshot()
    await asyncio.sleep(seconds)
    return h.cpu_since(s0)


async def live_listeners(redis: Any, listeners: Sequence[Listener]) -> list[Listener]:
    """Which listeners get a message published straight to their channel (within 2 s)."""
    before = {id(ls): ls.events for ls in listeners}
    data = {"id": 0, "title": "probe", "body": "", "link": "/staff/laksa/0", "urgent": False}
    async with redis.pipeline(transaction=False) as pipe:
        for ls in listeners:
            pipe.publish(ls.channel, live.encode("notification", data))
        await pipe.execute()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if all(ls.events > before[id(ls)] for ls in listeners):
            break
        await asyncio.sleep(0.05)
    return [ls for ls in listeners if ls.events > before[id(ls)]]


async def subscribed(redis: Any, listeners: Sequence[Listener]) -> None:
    """Until Redis counts a subscriber on every listener's channel (the stream sends "unread"
    before it subscribes)."""
    deadline = time.monotonic() + 30
    while True:
        counts = await redis.pubsub_numsub(*(ls.channel for ls in listeners))
        if all(n >= 1 for _, n in counts):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{sum(1 for _, n in counts if n < 1)} SSE listeners not subscribed after 30 s"
            )
        await asyncio.sleep(0.05)


async def open_at_once(port: int, listeners: Sequence[Listener]) -> None:
    for k in range(0, len(listeners), 50):
        await asyncio.gather(*(ls.open() for ls in listeners[k : k + 50]))


async def fanout_check(
    bench: Bench, env: dict[str, str], log: Path, cities: list[CityRefs], redis: Any
) -> dict[str, Any]:
    """A fresh web process, and one SSE listener per city opened as browsers reconnect after a
    restart: all at once (50 at a time). A message published straight to each channel then shows
    which streams are live. (The measured runs use another server whose streams open race-free.)"""
    async with AppServer(bench, env, log) as server:
        csrf = await csrf_token(server.port, cities[0].host)
        listeners = [Listener(server.port, i, refs, csrf, {}) for i, refs in enumerate(cities)]
        try:
            await open_at_once(server.port, listeners)
            await subscribed(redis, listeners)
            db = str(redis.connection_pool.connection_kwargs.get("db", 0))
            pubsub = sum(1 for c in await redis.client_list(_type="pubsub") if str(c.get("db")) == db)
            alive = await live_listeners(redis, listeners)
        finally:
            for ls in listeners:
                await ls.close()
    note(
        f"  {len(listeners)} SSE listeners opened at once on a fresh server: {len(alive)} get what is published "
        f"on their channel; {pubsub} pub/sub connections on this Redis database (2 expected with no worker: "
        "the web's channels and tenant directory)"
    )
    return {
        "listeners": len(listeners),
        "live_after_concurrent_open": len(alive),
        "redis_pubsub_connections": pubsub,
    }


async def open_listeners(h: Harness, port: int, csrf: str) -> None:
    """One SSE listener per city, race-free: the first alone (its subscription makes the web
    process's pub/sub connection), then the rest 50 at a time; every stream must be live."""
    h.listeners = [Listener(port, i, refs, csrf, h.seen) for i, refs in enumerate(h.cities)]
    await h.listeners[0].open()
    await subscribed(h.redis, h.listeners[:1])
    await open_at_once(port, h.listeners[1:])
    await subscribed(h.redis, h.listeners)
    alive = await live_listeners(h.redis, h.listeners)
    if len(alive) < len(h.listeners):
        raise RuntimeError(
            f"{len(h.listeners) - len(alive)} SSE listeners get nothing though opened after the first"
        )
    note(f"  {len(h.listeners)} SSE listeners open, all live")


# ---- the benchmark ---------------------------------------------------------------------------------


async def run(sizes: Sizes) -> BenchResult:
    global _started
    result = BenchResult("notify")
    started = _started = time.perf_counter()
    try:
        with claimed_redis_database("notify") as redis_url:
            await _run(sizes, result, redis_url)
    except Exception as exc:
        record_failure(result, exc)
    result.seconds = time.perf_counter() - started
    try:
        pg = await server_version()
    except Exception:
        pg = None
    path = write_results(
        RESULTS_DIR / "notify.json",
        [result],
        quick=sizes.quick,
        extra={"postgresql": pg, "sizes": str(sizes)},
    )
    note(f"[notify] written to {path}")
    return result


async def _run(sizes: Sizes, result: BenchResult, redis_url: str) -> None:
    n = sizes.notify_cities
    note(
        f"[notify] {n} cities, one SSE listener each; kotalive serve + kotalive worker "
        f"({WORKER_PROCESSES} processes), no scheduler; Redis {redis_url}"
    )
    log = Path(tempfile.gettempdir()) / f"kotalive-bench-notify-{os.getpid()}.log"
    wlog = log.with_suffix(".worker.log")
    env = {"KOTALIVE_REDIS_URL": redis_url}
    redis = aioredis.from_url(redis_url)
    details: dict[str, Any] = {
        "server_log": str(log),
        "worker_log": str(wlog),
        "redis_db": redis_url.rsplit("/", 1)[-1],
        "worker_processes": WORKER_PROCESSES,
        "scheduler": "not running (the fast path relays every event; nothing here waits for a sweep)",
    }
    result.details = details
    try:
        async with throwaway_database("notify") as bench, SmtpSink() as sink:
            details["worker_threads"] = bench.settings.worker_threads
            store = SessionStore(redis, bench.settings.session_max_age)
            conn = await asyncpg.connect(plain_postgres_url(bench.database_url))
            try:
                t0 = time.perf_counter()
                new = [new_city("notify", i) for i in range(n)]
                await provision_cities(bench.tenants, new, concurrency=PROVISION_CONCURRENCY)
                provisioned = time.perf_counter() - t0
                vault = Vault.from_settings(bench.settings)
                cities: list[CityRefs] = []
                for city in new:
                    refs = await prepare_city(bench, conn, city.slug, 0, SIGNED_IN)
                    await sign_in(store, refs, SIGNED_IN)
                    async with bench.db.tenant_session(refs.ctx) as session:
                        await set_integration(session, vault, "smtp", config=sink.settings(), secrets={})
                        await session.commit()
                    cities.append(refs)
                shapes = await boundaries(conn, cities[0].ctx)
                spots = [(s.lat, s.lon) for s in shapes.spots(4096, SEED)]
                pupr_staff = len(cities[0].employees[cities[0].pupr])
                details["setup"] = {
                    "cities": n,
                    "provision_s": round(provisioned, 1),
                    "setup_s": round(time.perf_counter() - t0, 1),
                    "pupr_employees_per_city": pupr_staff,
                }
                note(
                    f"  {n} cities provisioned in {provisioned:.1f} s; boundaries, people, sessions, SMTP: "
                    f"{time.perf_counter() - t0:.1f} s; {pupr_staff} PUPR employees per city"
                )
                await bench.close_connections()
                details["fanout_check"] = await fanout_check(bench, env, log, cities, redis)
                details["fanout_check_2"] = await fanout_check(bench, env, log, cities, redis)
                async with (
                    AppServer(bench, env, log) as server,
                    Workers(bench, env, wlog, dramatiq_worker_timeout=POLL_MS_DRAMATIQ) as workers,
                ):
                    csrf = await csrf_token(server.port, cities[0].host)
                    h = Harness(
                        bench,
                        conn,
                        cities,
                        server,
                        workers,
                        sink,
                        Submitter(server.port, cities, spots, csrf),
                        [],
                        redis,
                    )
                    try:
                        await open_listeners(h, server.port, csrf)
                        await phases(h, sizes, details)
                    finally:
                        h.submitter.close()
                        for ls in h.listeners:
                            await ls.close()
                    details["listener_errors"] = [ls.error for ls in h.listeners if ls.error][:5]
                    details["unsent_outbox_events"] = await unsent_events(h, range(n))
                    details["deliveries"] = await delivery_states(h, range(n))
                # The last run: the worker again, with Dramatiq's idle poll capped at 100 ms.
                async with (
                    AppServer(bench, env, log) as server,
                    Workers(bench, env, wlog, dramatiq_worker_timeout=POLL_MS_FIX) as workers,
                ):
                    csrf = await csrf_token(server.port, cities[0].host)
                    h2 = Harness(
                        bench,
                        conn,
                        cities,
                        server,
                        workers,
                        sink,
                        Submitter(server.port, cities, spots, csrf),
                        [],
                        redis,
                    )
                    h2.runs = h.runs
                    try:
                        await open_listeners(h2, server.port, csrf)
                        await phases_fix(h2, sizes, details)
                    finally:
                        h2.submitter.close()
                        for ls in h2.listeners:
                            await ls.close()
                details["runs"] = h.runs
            finally:
                await conn.close()
        figures(result, sizes, details)
    finally:
        await redis.aclose()


async def diagnose(h: Harness, posts: Sequence[Post], label: str, details: dict[str, Any]) -> None:
    """Posts whose notification no listener saw: do those listeners still get a message published
    straight to their channel? (Recorded; a benchmark figure counts every unseen notification.)"""
    lost = sorted({p.city for p in posts if p.complaint is not None and (p.city, p.complaint) not in h.seen})
    if not lost:
        return
    ls = [h.listeners[c] for c in lost]
    alive = await live_listeners(h.redis, ls)
    counts = await h.redis.pubsub_numsub(*(x.channel for x in ls))
    got = {
        "where": label,
        "cities": lost,
        "probe_reaches_now": [x.index for x in alive],
        "numsub": [int(n) for _, n in counts],
        "errors": [x.error for x in ls if x.error],
    }
    details.setdefault("lost", []).append(got)
    note(f"    NOT SEEN at {label}: {got}")


async def phases(h: Harness, sizes: Sizes, details: dict[str, Any]) -> None:
    n = len(h.cities)
    one = [0]
    everyone = list(range(n))

    def to_one(i: int) -> int:
        return 0

    def spread(i: int) -> int:
        return i % n

    # Warm-up: every city once or twice (statements, caches in the web process and both workers).
    note("  warm-up")
    warm = await h.submitter.closed(4, to_one, count=40)
    warm += await h.submitter.closed(SUBMIT_CONNECTIONS, spread, count=2 * n)
    await h.wait_seen(warm, DRAIN_SECONDS)
    await diagnose(h, warm, "warm-up", details)
    refused = [p for p in warm if p.complaint is None]
    if refused or any(h.latencies(warm)[1:]):
        rows = await h.bell_rows(everyone, 0, now() + 60)
        raise RuntimeError(
            f"warm-up: {len(refused)} posts refused or failed ({h.submitter.samples[:3]}), "
            f"{h.latencies(warm)[1]} notifications not seen; listeners saw {sum(ls.events for ls in h.listeners)} "
            f"events, errors {[ls.error for ls in h.listeners if ls.error][:3]}; {rows} bell rows; "
            f"{await unsent_events(h, everyone)} outbox events unsent"
        )
    details["idle_cpu_default"] = await idle_cpu(h, 2.0 if sizes.quick else 5.0)
    note(
        f"    idle: workers {details['idle_cpu_default']['workers_pct']} % of a core, Redis {details['idle_cpu_default']['redis_pct']} %"
    )

    note("  latency")
    await h.idle("idle, 1 city", sizes.notify_idle_samples, to_one, SEED + 1)
    await h.busy(
        f"busy {sizes.notify_busy_rate:g}/s, 1 city",
        sizes.notify_busy_rate,
        sizes.notify_busy_seconds,
        to_one,
        SEED + 2,
    )
    await h.idle(f"idle, {n} spread", sizes.notify_idle_samples, spread, SEED + 3)
    await h.busy(
        f"busy {sizes.notify_busy_rate:g}/s, {n} spread",
        sizes.notify_busy_rate,
        sizes.notify_busy_seconds,
        spread,
        SEED + 4,
    )

    note("  throughput")
    sat_one = await h.saturate("saturated, 1 city", sizes.notify_saturate_seconds, to_one, one)
    sat_spread = await h.saturate(f"saturated, {n} spread", sizes.notify_saturate_seconds, spread, everyone)
    capacity = min(
        sat_one["seen_per_s"],
        sat_one["submitted_per_s"],
        sat_spread["seen_per_s"],
        sat_spread["submitted_per_s"],
    )
    rate = max(1.0, round(STEADY_SHARE * capacity))
    details["steady_rate"] = rate
    await h.busy(
        f"steady {rate:g}/s, 1 city", rate, sizes.notify_steady_seconds, to_one, SEED + 5, poisson=False
    )
    await h.busy(
        f"steady {rate:g}/s, {n} spread", rate, sizes.notify_steady_seconds, spread, SEED + 6, poisson=False
    )

    note("  a queue of events: the workers paused while complaints are submitted, then resumed")
    count = sizes.notify_backlog
    await h.backlog(f"backlog {count}, 1 city", count, to_one, one)
    await h.backlog(f"backlog {count}, {n} spread", count, spread, everyone)

    note("  e-mail on (PUPR's employees get an address; every city's SMTP integration is the sink)")
    await set_emails(h, everyone, True)
    try:
        mails0 = len(h.sink.mails)
        got = await h.busy(
            f"e-mail on, {EMAIL_RATE:g}/s, 1 city", EMAIL_RATE, sizes.notify_email_seconds, to_one, SEED + 7
        )
        staff = len(h.cities[0].employees[h.cities[0].pupr])
        await h.mails_settled(mails0, staff * len(h.last_posts))
        got["email"] = mail_latencies(h, h.last_posts, h.sink.mails[mails0:])
        note(f"      e-mail latency ms: first {got['email']['first']}, last {got['email']['last']}")
        # Spread, so no city passes its e-mail rate limit (300 a minute) during the run.
        mails1 = len(h.sink.mails)
        back = await h.backlog(
            f"e-mail on, backlog {count}, {n} spread", count, spread, everyone, emails=staff
        )
        back["email"] = mail_latencies(h, h.last_posts, h.sink.mails[mails1:])
        back["smtp_send_ms"] = await send_durations(h, everyone)
        note(f"      one SMTP send (delivery_attempt.duration_ms): {back['smtp_send_ms']}")
    finally:
        await set_emails(h, everyone, False)


async def phases_fix(h: Harness, sizes: Sizes, details: dict[str, Any]) -> None:
    n = len(h.cities)

    def to_one(i: int) -> int:
        return 0

    note(
        f"  the worker with dramatiq_worker_timeout={POLL_MS_FIX} (idle poll cap {POLL_MS_FIX} ms; default 1000)"
    )
    warm = await h.submitter.closed(4, lambda i: i % n, count=n)
    await h.wait_seen(warm, 10)
    await diagnose(h, warm, "warm-up, second server", details)
    details["idle_cpu_fix"] = await idle_cpu(h, 2.0 if sizes.quick else 5.0)
    note(
        f"    idle: workers {details['idle_cpu_fix']['workers_pct']} % of a core, Redis {details['idle_cpu_fix']['redis_pct']} %"
    )
    await h.idle(f"idle, 1 city, poll {POLL_MS_FIX} ms", sizes.notify_idle_samples, to_one, SEED + 1)
    await h.busy(
        f"busy {sizes.notify_busy_rate:g}/s, 1 city, poll {POLL_MS_FIX} ms",
        sizes.notify_busy_rate,
        sizes.notify_busy_seconds,
        to_one,
        SEED + 2,
    )
    await set_emails(h, [0], True)
    try:
        mails0 = len(h.sink.mails)
        got = await h.busy(
            f"e-mail on, {EMAIL_RATE:g}/s, 1 city, poll {POLL_MS_FIX} ms",
            EMAIL_RATE,
            sizes.notify_email_seconds,
            to_one,
            SEED + 7,
        )
        await h.mails_settled(mails0, len(h.cities[0].employees[h.cities[0].pupr]) * len(h.last_posts))
        got["email"] = mail_latencies(h, h.last_posts, h.sink.mails[mails0:])
        note(f"      e-mail latency ms: first {got['email']['first']}, last {got['email']['last']}")
    finally:
        await set_emails(h, [0], False)


def figures(result: BenchResult, sizes: Sizes, details: dict[str, Any]) -> None:
    runs: dict[str, dict[str, Any]] = details["runs"]
    n = sizes.notify_cities
    rate = sizes.notify_busy_rate

    def run_(prefix: str, *, fix: bool = False) -> dict[str, Any]:
        for label, got in runs.items():
            if label.startswith(prefix) and ("poll" in label) == fix:
                return got
        raise KeyError(prefix)

    st = details["setup"]
    result.add(
        "cities",
        n,
        "",
        f"one SSE listener each; {st['pupr_employees_per_city']} PUPR employees per city; setup {st['setup_s']} s",
    )
    result.add(
        "worker",
        f"{WORKER_PROCESSES} x {details['worker_threads']}",
        "proc x thr",
        "kotalive worker, KOTALIVE_WORKER_PROCESSES=2; no scheduler",
    )

    f1, f2 = details["fanout_check"], details["fanout_check_2"]
    result.add(
        "SSE streams live, opened at once",
        f"{f1['live_after_concurrent_open']}/{f1['listeners']}",
        "",
        f"a second fresh server: {f2['live_after_concurrent_open']}/{f2['listeners']}; "
        f"{f1['redis_pubsub_connections']} and {f2['redis_pubsub_connections']} pub/sub connections "
        "(2 expected: a stream that is not live means redis-py's PubSub.connect race is back)",
    )

    def latency(name: str, got: dict[str, Any], note: str = "") -> None:
        lm = got["latency_ms"]
        result.add(
            name,
            lm["p95"],
            "ms p95",
            f"p50 {lm['p50']}, max {lm['max']}; n={lm['n']}"
            + (f"; {note}" if note else "")
            + "; goal p95 < 1000",
        )

    idle_one = run_("idle, 1 city")
    latency(
        "in-app latency, 1 city, idle", idle_one, f"one at a time, {IDLE_GAP[0]:g}-{IDLE_GAP[1]:g} s apart"
    )
    latency(f"in-app latency, 1 city, {rate:g}/s", run_(f"busy {rate:g}/s, 1 city"), "Poisson arrivals")
    latency(f"in-app latency, {n} spread, idle", run_(f"idle, {n} spread"))
    latency(
        f"in-app latency, {n} spread, {rate:g}/s", run_(f"busy {rate:g}/s, {n} spread"), "Poisson arrivals"
    )
    stages = idle_one["path"]["stages"]
    for key, name, note in (
        ("tx", "POST written -> handler transaction", "outbox_event.created_at"),
        ("commit_to_relay", "  -> relay transaction (handler, commit)", "outbox_event.sent_at"),
        ("queue", "  -> worker pickup (Dramatiq queue)", "event_receipt.handled_at of laksa:on_routed"),
        ("consumer", "  -> published (consumer, commit)", "this harness's Redis subscriber"),
        ("fan_out", "  -> SSE event (web fan-out)", "the listener"),
    ):
        result.add(
            name, stages[key]["median"], "ms median", f"p95 {stages[key]['p95']}; 1 city, idle; {note}"
        )
    result.add(
        "POST answered, 1 city, idle",
        idle_one["post_ms"]["p50"],
        "ms p50",
        f"p95 {idle_one['post_ms']['p95']}",
    )

    sat_one, sat_spread = run_("saturated, 1 city"), run_(f"saturated, {n} spread")
    for name, got in (("1 city", sat_one), (f"{n} spread", sat_spread)):
        result.add(
            f"notifications/s at SSE, saturated, {name}",
            got["seen_per_s"],
            "/s",
            f"submitted {got['submitted_per_s']}/s on {SUBMIT_CONNECTIONS} connections; "
            f"backlog {got['backlog_at_end']} drained in {got['drain_s']} s",
        )
        result.add(
            f"  bell rows written/s, {name}",
            got["bell_rows_per_s"],
            "/s",
            f"{sizes_rows(got)} rows in all; one per PUPR employee",
        )
        result.add(
            f"  latency p95, saturated, {name}",
            got["latency_ms"]["p95"],
            "ms",
            f"p50 {got['latency_ms']['p50']}; POST p50 {got['post_ms']['p50']} ms: queueing in the web process",
        )
    result.add(
        f"  ratio {n} spread / 1 city (notifications/s)",
        ratio(sat_spread["seen_per_s"], sat_one["seen_per_s"]),
        "x",
        f"submissions {ratio(sat_spread['submitted_per_s'], sat_one['submitted_per_s']) or 0:.2f}x",
    )
    steady = details["steady_rate"]
    s_one, s_spread = run_(f"steady {steady:g}/s, 1 city"), run_(f"steady {steady:g}/s, {n} spread")
    latency(
        f"in-app latency, steady {steady:g}/s, 1 city", s_one, f"{STEADY_SHARE:.0%} of the saturated rate"
    )
    latency(f"in-app latency, steady {steady:g}/s, {n} spread", s_spread)
    result.add(
        f"  ratio p95 {n} spread / 1 city, steady",
        ratio(s_spread["latency_ms"]["p95"], s_one["latency_ms"]["p95"]),
        "x",
    )

    mail_one = run_(f"e-mail on, {EMAIL_RATE:g}/s, 1 city")
    em = mail_one["email"]
    result.add(
        f"e-mail latency to the sink, 1 city, {EMAIL_RATE:g}/s",
        em["first"]["p95"],
        "ms p95",
        f"first of the complaint's e-mails, p50 {em['first']['p50']}; last of {em['mails_per_complaint']}: "
        f"p50 {em['last']['p50']}, p95 {em['last']['p95']}",
    )
    latency(f"in-app latency, e-mail on, 1 city, {EMAIL_RATE:g}/s", mail_one)
    b_one, b_spread = (
        run_(f"backlog {sizes.notify_backlog}, 1 city"),
        run_(f"backlog {sizes.notify_backlog}, {n} spread"),
    )
    for name, got in (("1 city", b_one), (f"{n} spread", b_spread)):
        result.add(
            f"notifications/s, queue drained, {name}",
            got["seen_per_s"],
            "/s",
            f"{got['backlog']} complaints queued with the workers paused; p5-p95 {got['seen_per_s_p5_p95']}/s; "
            f"bell rows {got['bell_rows_per_s']}/s",
        )
    result.add(
        f"  ratio {n} spread / 1 city (queue drained)",
        ratio(b_spread["seen_per_s"], b_one["seen_per_s"]),
        "x",
        "the workers alone (and PostgreSQL): no submissions meanwhile",
    )
    for name, got in (("1 city", b_one), (f"{n} spread", b_spread)):
        c = got["cpu"]
        result.add(
            f"  workers' CPU, queue drained, {name}",
            c["workers_pct"],
            "% core",
            f"of 200 (2 processes); PG {c['pg_pct']}, server {c['server_pct']}, Redis {c['redis_pct']}, "
            f"others {c['others_pct']}",
        )
    b_mail = run_(f"e-mail on, backlog {sizes.notify_backlog}, {n} spread")
    result.add(
        f"e-mails/s to the SMTP sink, queue drained, {n} spread",
        b_mail["emails_per_s"],
        "/s",
        f"{b_mail['emails']} e-mails, the last {b_mail['emails_done_after_resume_s']} s after resuming; "
        f"{b_mail['email']['mails_per_complaint']} per complaint; one send p50 {b_mail['smtp_send_ms']['p50']} ms "
        f"(p95 {b_mail['smtp_send_ms']['p95']}), a connection each",
    )
    result.add(
        f"  notifications/s, e-mail on, {n} spread",
        b_mail["seen_per_s"],
        "/s",
        f"in-app, queue drained; workers {b_mail['cpu']['workers_pct']} % core, sink {b_mail['cpu']['sink_pct']} %",
    )
    result.add(
        "  ratio e-mail on / off (notifications/s)",
        ratio(b_mail["seen_per_s"], b_spread["seen_per_s"]),
        "x",
        f"{n} spread, queue drained: e-mail jobs run on the same workers, first come first served",
    )
    d = details.get("deliveries", {})
    result.add(
        "e-mail deliveries sent / pending / dead",
        f"{d.get('sent', 0)}/{d.get('pending', 0)}/{d.get('dead', 0)}",
        "",
        "pending: postponed by the city's rate limit (300/min) or not yet sent; no sweeper ran",
    )

    fix_idle = run_("idle, 1 city", fix=True)
    latency(f"in-app latency, 1 city, idle, poll {POLL_MS_FIX} ms", fix_idle, "dramatiq_worker_timeout")
    result.add(
        f"  ratio p95 poll {POLL_MS_FIX} ms / default, idle",
        ratio(fix_idle["latency_ms"]["p95"], idle_one["latency_ms"]["p95"]),
        "x",
        f"queue wait median {fix_idle['path']['stages']['queue']['median']} vs {stages['queue']['median']} ms",
    )
    latency(
        f"in-app latency, 1 city, {rate:g}/s, poll {POLL_MS_FIX} ms",
        run_(f"busy {rate:g}/s, 1 city", fix=True),
    )
    em_fix = run_(f"e-mail on, {EMAIL_RATE:g}/s, 1 city", fix=True)["email"]
    result.add(
        f"e-mail latency to the sink, 1 city, {EMAIL_RATE:g}/s, poll {POLL_MS_FIX} ms",
        em_fix["first"]["p95"],
        "ms p95",
        f"first e-mail, p50 {em_fix['first']['p50']} (default poll: {em['first']['p50']}, p95 {em['first']['p95']}); "
        "two queue hops: the event, then the delivery job",
    )
    i0, i1 = details["idle_cpu_default"], details["idle_cpu_fix"]
    result.add(
        "workers' idle CPU, default poll / 100 ms",
        f"{i0['workers_pct']}/{i1['workers_pct']}",
        "% core",
        f"Redis {i0['redis_pct']}/{i1['redis_pct']} %: the price of polling faster",
    )

    for name, got in (("saturated, 1 city", sat_one), (f"saturated, {n} spread", sat_spread)):
        c = got["cpu"]
        result.add(
            f"CPU, {name}",
            c["server_pct"],
            "% core",
            f"server; workers {c['workers_pct']}, PG {c['pg_pct']}, Redis {c['redis_pct']}, "
            f"harness {c['harness_pct']}, sink {c['sink_pct']}, others {c['others_pct']}",
        )
    all_runs = list(runs.values())
    result.add(
        "posts refused or failed, all runs",
        sum(r["refused_or_failed"] for r in all_runs),
        "",
        "should be 0",
    )
    result.add(
        "notifications not seen at SSE, all runs",
        sum(r["missing"] for r in all_runs),
        "",
        f"should be 0; outbox events left unsent {details.get('unsent_outbox_events')}",
    )
    result.add(
        "other processes' CPU, worst run",
        max(r["cpu"]["others_pct"] for r in all_runs),
        "% core",
        "high = the machine was shared",
    )


def sizes_rows(got: dict[str, Any]) -> str:
    return f"{got['bell_rows']:,}"


if __name__ == "__main__":
    if "--smtp-sink" in sys.argv:
        smtp_sink_main()
    else:
        standalone(run)
