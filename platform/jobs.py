"""Dramatiq jobs that always know their city (ARCHITECTURE §4 rule 6, §6).

- ``@tenant_actor`` declares city work. Sending needs a city in context (or an explicit one with
  ``send_for``), otherwise ``NoTenantContext``; the message carries the city id.
- ``@platform_actor`` declares platform-wide work, explicitly: it runs with no city in context.
- ``TenantMiddleware`` (on Dramatiq's hooks, in the worker) dead-letters a city message that names
  no city, skips and logs messages of a suspended, archived or unknown city and of a module switched
  off for that city, opens the city's context (and the worker's own database) for the actor and
  closes both after every message, so nothing leaks to the next message on that thread.

Jobs are declared lazily: importing a module that defines actors never needs a broker (events.py is
imported by migrations, for instance). ``install_broker`` declares every job on the broker, and
jobs defined later are declared as they appear.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import dramatiq
import redis
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.broker import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    AsyncIO,
    Callbacks,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    SkipMessage,
    TimeLimit,
)
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from kotalive.context import (
    NoTenantContext,
    TenantContext,
    current_tenant,
    current_tenant_or_none,
    use_tenant,
)
from kotalive.settings import Settings, SettingsError

if TYPE_CHECKING:
    from dramatiq.broker import MessageProxy

    from kotalive.db import Database
    from kotalive.registry import LoadedModules
    from kotalive.tenants.directory import TenantDirectory

log = logging.getLogger(__name__)

# Message option: the id of the city a message belongs to.
TENANT_OPTION = "kotalive_tenant_id"
# Actor options: "tenant" or "platform", and the module (ModuleSpec.name) a job belongs to. A
# message may also name a module (an event consumer's), which then decides the module switch.
SCOPE_OPTION = "kotalive_scope"
MODULE_OPTION = "kotalive_module"
TENANT_SCOPE = "tenant"
PLATFORM_SCOPE = "platform"

DEFAULT_NAMESPACE = "kotalive"
DEFAULT_QUEUE = "default"
DEFAULT_MAX_RETRIES = 10
DEFAULT_MIN_BACKOFF_MS = 1_000
DEFAULT_MAX_BACKOFF_MS = 10 * 60_000
DEFAULT_TIME_LIMIT_MS = 5 * 60_000
DEFAULT_MAX_AGE_MS = 24 * 3_600_000
HEARTBEAT_TIMEOUT_MS = 15_000
MAINTENANCE_CHANCE = 10_000  # per million Redis commands
# Dead letters (failed, too old or malformed messages) stay in Redis this long for inspection.
DEAD_LETTER_TTL_MS = 14 * 24 * 3_600_000

# Actor options the broker's middleware (create_broker) understand, checked when a job is defined.
JOB_OPTIONS = frozenset(
    {
        "max_retries",
        "min_backoff",
        "max_backoff",
        "retry_when",
        "throws",
        "on_retry_exhausted",
        "time_limit",
        "max_age",
        "notify_shutdown",
        "on_failure",
        "on_success",
        "pipe_ignore",
        "pipe_target",
    }
)

_QUEUE_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9._-]*$")
_MODULE_PACKAGE = re.compile(r"^kotalive\.modules\.([a-z0-9_]+)(\.|$)")


class JobError(RuntimeError):
    """Jobs are misconfigured (no broker installed, unknown or duplicate actor)."""


# ---- jobs ----------------------------------------------------------------------------------------


@dataclass(eq=False)
class Job:
    """A function run by Dramatiq, bound to a broker only when one is installed."""

    fn: Callable[..., Any]
    name: str
    queue_name: str
    scope: str
    module: str | None = None
    priority: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scope not in (TENANT_SCOPE, PLATFORM_SCOPE):
            raise ValueError(f"job scope must be {TENANT_SCOPE!r} or {PLATFORM_SCOPE!r}, got {self.scope!r}")
        if not _QUEUE_NAME.match(self.queue_name):
            raise ValueError(f"{self.queue_name!r} is not a valid queue name")
        unknown = set(self.options) - JOB_OPTIONS
        if unknown:
            raise ValueError(
                f"job {self.name}: unknown option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(JOB_OPTIONS))}"
            )
        self._run = self._guarded()

    @property
    def is_tenant_job(self) -> bool:
        return self.scope == TENANT_SCOPE

    def _guarded(self) -> Callable[..., Any]:
        """The function Dramatiq calls: a city job refuses to run without a city in context; a
        platform job always runs with none."""
        fn, name, tenant_job = self.fn, self.name, self.is_tenant_job

        def check() -> None:
            if tenant_job and current_tenant_or_none() is None:
                raise NoTenantContext(f"city job {name} ran without a city in context")

        if inspect.iscoroutinefunction(fn):

            async def run_async(*args: Any, **kwargs: Any) -> Any:
                check()
                if tenant_job:
                    return await fn(*args, **kwargs)
                with use_tenant(None):
                    return await fn(*args, **kwargs)

            return functools.wraps(fn)(run_async)

        def run_sync(*args: Any, **kwargs: Any) -> Any:
            check()
            if tenant_job:
                return fn(*args, **kwargs)
            with use_tenant(None):
                return fn(*args, **kwargs)

        return functools.wraps(fn)(run_sync)

    def declare(self, broker: Broker) -> dramatiq.Actor[Any, Any]:
        existing = broker.actors.get(self.name)
        if existing is not None:
            if getattr(existing, "kotalive_job", None) is not self:
                raise JobError(f"another actor named {self.name!r} is already declared on this broker")
            return existing
        options = {SCOPE_OPTION: self.scope, **self.options}
        if self.module:
            options[MODULE_OPTION] = self.module
        invalid = set(options) - broker.actor_options
        if invalid:
            raise ValueError(
                f"job {self.name}: unknown option(s) {', '.join(sorted(invalid))}; "
                f"the broker's middleware accept {', '.join(sorted(broker.actor_options))}"
            )
        actor: dramatiq.Actor[Any, Any] = dramatiq.Actor(
            self._run,
            broker=broker,
            actor_name=self.name,
            queue_name=self.queue_name,
            priority=self.priority,
            options=options,
        )
        actor.kotalive_job = self  # type: ignore[attr-defined]
        return actor

    @property
    def actor(self) -> dramatiq.Actor[Any, Any]:
        """The Dramatiq actor on the installed broker."""
        return self.declare(get_broker())

    # ---- building and sending messages ---------------------------------------------------------

    def message_for(
        self,
        tenant: TenantContext | int | None,
        *args: Any,
        message_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dramatiq.Message[Any]:
        """``message_options`` are Dramatiq message options; everything else goes to the job."""
        opts = dict(message_options or {})
        if self.is_tenant_job:
            tenant_id = tenant.id if isinstance(tenant, TenantContext) else tenant
            if not isinstance(tenant_id, int) or isinstance(tenant_id, bool) or tenant_id <= 0:
                raise NoTenantContext(f"city job {self.name} needs a city, got {tenant!r}")
            opts[TENANT_OPTION] = tenant_id
        elif tenant is not None:
            raise TypeError(f"{self.name} is a platform job; it carries no city")
        return dramatiq.Message(
            queue_name=self.queue_name,
            actor_name=self.name,
            args=args,
            kwargs=kwargs,
            options=opts,
        )

    def message(self, *args: Any, **kwargs: Any) -> dramatiq.Message[Any]:
        """A message for the city in context (a city job) or for the platform (a platform job)."""
        return self.message_for(current_tenant() if self.is_tenant_job else None, *args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> dramatiq.Message[Any]:
        """Enqueue for the city in context; raises ``NoTenantContext`` for a city job without one.

        Blocking network I/O: from async code use ``send_async``."""
        message = self.message(*args, **kwargs)
        return self.actor.broker.enqueue(message)

    def send_for(self, tenant: TenantContext | int, *args: Any, **kwargs: Any) -> dramatiq.Message[Any]:
        """Enqueue a city job for ``tenant``, whatever is in context."""
        message = self.message_for(tenant, *args, **kwargs)
        return self.actor.broker.enqueue(message)

    async def send_async(self, *args: Any, **kwargs: Any) -> dramatiq.Message[Any]:
        message = self.message(*args, **kwargs)  # read the context here, not in the thread
        broker = self.actor.broker
        return await asyncio.to_thread(broker.enqueue, message)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the job here and now (still refusing a city job without a city in context)."""
        return self._run(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Job {self.name} scope={self.scope} module={self.module} queue={self.queue_name}>"


_jobs: dict[str, Job] = {}
_broker: Broker | None = None
_lock = threading.RLock()


def _module_of(fn: Callable[..., Any]) -> str | None:
    match = _MODULE_PACKAGE.match(getattr(fn, "__module__", "") or "")
    return match.group(1) if match else None


def _register(job: Job) -> Job:
    with _lock:
        existing = _jobs.get(job.name)
        if existing is not None and existing.fn is not job.fn:
            same_place = (existing.fn.__module__, existing.fn.__qualname__) == (
                job.fn.__module__,
                job.fn.__qualname__,
            )
            if not same_place:
                raise JobError(
                    f"two jobs are named {job.name!r}: {existing.fn.__module__}.{existing.fn.__qualname__} "
                    f"and {job.fn.__module__}.{job.fn.__qualname__}"
                )
        if _broker is not None and job.name not in _broker.actors:
            job.declare(_broker)
        _jobs[job.name] = job
    return job


def _job_decorator(
    scope: str,
    fn: Callable[..., Any] | None,
    *,
    actor_name: str | None,
    queue_name: str,
    module: str | None,
    priority: int,
    options: dict[str, Any],
) -> Any:
    def wrap(f: Callable[..., Any]) -> Job:
        job = Job(
            f,
            name=actor_name or f"{f.__module__}.{f.__qualname__}",
            queue_name=queue_name,
            scope=scope,
            module=(module if module is not None else _module_of(f)) if scope == TENANT_SCOPE else None,
            priority=priority,
            options=dict(options),
        )
        return _register(job)

    return wrap(fn) if fn is not None else wrap


def tenant_actor(
    fn: Callable[..., Any] | None = None,
    *,
    actor_name: str | None = None,
    queue_name: str = DEFAULT_QUEUE,
    module: str | None = None,
    priority: int = 0,
    **options: Any,
) -> Any:
    """Declare a city job (``async def`` preferred: it runs on the worker's event loop).

    ``actor_name`` defaults to ``<python module>.<function>``. ``module`` (a ModuleSpec name) is
    taken from the package (``kotalive.modules.<name>``) when not given; the worker skips the job
    for a city that has that module switched off. ``options`` are Dramatiq actor options
    (max_retries, min_backoff, max_backoff, time_limit, max_age, throws, ...).
    """
    return _job_decorator(
        TENANT_SCOPE,
        fn,
        actor_name=actor_name,
        queue_name=queue_name,
        module=module,
        priority=priority,
        options=options,
    )


def platform_actor(
    fn: Callable[..., Any] | None = None,
    *,
    actor_name: str | None = None,
    queue_name: str = DEFAULT_QUEUE,
    priority: int = 0,
    **options: Any,
) -> Any:
    """Declare a platform-wide job: it carries no city and always runs with none in context."""
    return _job_decorator(
        PLATFORM_SCOPE,
        fn,
        actor_name=actor_name,
        queue_name=queue_name,
        module=None,
        priority=priority,
        options=options,
    )


def find_job(name: str) -> Job | None:
    return _jobs.get(name)


def registered_jobs() -> dict[str, Job]:
    return dict(_jobs)


# ---- the broker ----------------------------------------------------------------------------------


def redis_client(url: str) -> redis.Redis:
    """A Redis client that gives up quickly: the outbox relay must not hang a request when Redis
    is away (the sweeper delivers later), and the worker reconnects on its own."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=15,
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.2), 3),
    )


def create_broker(
    settings: Settings,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    database: Database | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    min_backoff_ms: int = DEFAULT_MIN_BACKOFF_MS,
    max_backoff_ms: int = DEFAULT_MAX_BACKOFF_MS,
    time_limit_ms: int = DEFAULT_TIME_LIMIT_MS,
    max_age_ms: int | None = DEFAULT_MAX_AGE_MS,
) -> RedisBroker:
    """A Redis broker with retries (exponential backoff), time and age limits, dead letters kept
    for ``DEAD_LETTER_TTL_MS``, async actors on one event loop per worker process, and the tenant
    middleware. ``database``: the worker's database (default: one of its own, made at boot)."""
    if not settings.redis_url:
        raise SettingsError("KOTALIVE_REDIS_URL is not set")
    middleware: list[Middleware] = [
        AgeLimit(max_age=max_age_ms),
        TimeLimit(time_limit=time_limit_ms),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=max_retries, min_backoff=min_backoff_ms, max_backoff=max_backoff_ms),
        AsyncIO(),
        # After AsyncIO: it needs the event loop at boot, and closes its database before the loop.
        TenantMiddleware(settings, database=database),
    ]
    return RedisBroker(
        url=settings.redis_url,
        client=redis_client(settings.redis_url),
        namespace=namespace,
        middleware=middleware,
        dead_message_ttl=DEAD_LETTER_TTL_MS,
        # A worker killed mid-message leaves it "in flight": another worker takes it back once the
        # dead one is silent this long, checked on about one command in a hundred (Dramatiq's
        # defaults, 60 s and one in a thousand, left such messages waiting for minutes).
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def install_broker(broker: Broker | None) -> Broker | None:
    """Make ``broker`` this process's broker and declare every job on it; returns the previous."""
    global _broker
    with _lock:
        previous = _broker
        _broker = broker
        if broker is not None:
            dramatiq.set_broker(broker)
            for job in list(_jobs.values()):
                job.declare(broker)
    return previous


def current_broker() -> Broker | None:
    return _broker


def get_broker() -> Broker:
    if _broker is None:
        raise JobError("no Dramatiq broker installed in this process (kotalive.jobs.install_broker)")
    return _broker


def install_jobs(
    settings: Settings, modules: LoadedModules, *, broker: Broker | None = None
) -> Callable[[], None]:
    """Install a broker (made from ``settings`` unless given), the modules' event consumers and the
    live channels' namespace in this process; returns the function that puts back what was there
    (and closes a broker it made). The web app calls it in its lifespan, so events reach Dramatiq
    right after commit."""
    from kotalive import events, live

    own = broker is None
    installed = broker or create_broker(settings)
    previous_broker = install_broker(installed)
    previous_modules = events.install_modules(modules)
    previous_namespace = live.install_namespace(settings.live_namespace or "kl")

    def undo() -> None:
        live.install_namespace(previous_namespace)
        events.install_modules(previous_modules)
        install_broker(previous_broker)
        if own:
            installed.close()

    return undo


@contextlib.contextmanager
def use_jobs(settings: Settings, modules: LoadedModules, *, broker: Broker | None = None) -> Iterator[Broker]:
    """``install_jobs`` for the life of the block."""
    undo = install_jobs(settings, modules, broker=broker)
    try:
        yield get_broker()
    finally:
        undo()


def enqueue_all(broker: Broker, messages: Sequence[dramatiq.Message[Any]]) -> int:
    """Enqueue in order, stopping at the first failure (which is raised). Blocking."""
    for message in messages:
        broker.enqueue(message)
    return len(messages)


# ---- the worker middleware -----------------------------------------------------------------------


class TenantMiddleware(Middleware):
    """Runs every message inside the city it names, or inside none for a platform job."""

    def __init__(self, settings: Settings, *, database: Database | None = None) -> None:
        self.settings = settings
        self._own_database = database is None
        self.database: Database | None = database
        self.directory: TenantDirectory | None = None
        self._local = threading.local()
        self._listener: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._last_forced_reload = 0.0

    @property
    def actor_options(self) -> set[str]:
        return {SCOPE_OPTION, MODULE_OPTION}

    # ---- worker life ---------------------------------------------------------------------------

    def before_worker_boot(self, broker: Broker, worker: Any) -> None:
        from kotalive.db import Database
        from kotalive.tenants.directory import TenantDirectory

        if get_event_loop_thread() is None:
            raise JobError("TenantMiddleware needs Dramatiq's AsyncIO middleware before it")
        if self.database is None:
            self.database = Database(self.settings)
            self._own_database = True
        self.directory = TenantDirectory(self.database, self.settings.tenant_cache_seconds)
        self._run(self._start_listener())

    def after_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        if get_event_loop_thread() is not None:
            self._run(self._shutdown())

    async def _start_listener(self) -> None:
        from kotalive.tenants.directory import listen_for_invalidation

        assert self.directory is not None
        self._stop = asyncio.Event()
        self._listener = asyncio.create_task(
            listen_for_invalidation(self.settings.redis_url, self.directory, self._stop)
        )

    async def _shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        if self._own_database and self.database is not None:
            await self.database.dispose()
            self.database = None

    @staticmethod
    def _run(coro: Any) -> Any:
        loop_thread = get_event_loop_thread()
        assert loop_thread is not None
        return loop_thread.run_coroutine(coro)

    # ---- every message -------------------------------------------------------------------------

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        self._leave()  # belt and braces: a message always starts with nothing in context
        if current_tenant_or_none() is not None:
            log.error("a city was left in context on this worker thread; clearing it")
            from kotalive.context import set_tenant

            set_tenant(None)

        try:
            actor = broker.get_actor(message.actor_name)
        except Exception:
            self._reject(message, f"no actor named {message.actor_name!r} in this worker")
        scope = actor.options.get(SCOPE_OPTION)
        if scope == PLATFORM_SCOPE:
            self._enter(None)
            return
        if scope != TENANT_SCOPE:
            self._reject(
                message, f"actor {message.actor_name} is neither a tenant_actor nor a platform_actor"
            )

        tenant_id = message.options.get(TENANT_OPTION)
        if not isinstance(tenant_id, int) or isinstance(tenant_id, bool) or tenant_id <= 0:
            self._reject(message, f"city job {message.actor_name} carries no city (got {tenant_id!r})")

        try:
            tenant = self._run(self._find_city(tenant_id))
        except Exception as exc:
            # Not entering a city: the job refuses to run without one, and is retried.
            log.warning(
                "could not look up city %s for %s (message %s): %s",
                tenant_id,
                message.actor_name,
                message.message_id,
                exc,
            )
            return
        if tenant is None:
            self._skip(message, f"city {tenant_id} does not exist")
        if not tenant.is_active:
            self._skip(message, f"city {tenant.slug} (id {tenant.id}) is {tenant.status}")
        module = message.options.get(MODULE_OPTION) or actor.options.get(MODULE_OPTION)
        if module and not tenant.has_module(module):
            self._skip(message, f"module {module} is switched off for {tenant.slug} (id {tenant.id})")
        self._enter(tenant)

    def after_process_message(
        self,
        broker: Broker,
        message: MessageProxy,
        *,
        result: Any | None = None,
        exception: BaseException | None = None,
    ) -> None:
        self._leave()

    def after_skip_message(self, broker: Broker, message: MessageProxy) -> None:
        self._leave()

    async def _find_city(self, tenant_id: int) -> TenantContext | None:
        import time

        assert self.directory is not None
        tenant = await self.directory.by_id(tenant_id)
        if tenant is None and time.monotonic() - self._last_forced_reload > 1.0:
            # Perhaps created after the cache was filled: look again, at most once a second.
            self._last_forced_reload = time.monotonic()
            self.directory.invalidate()
            tenant = await self.directory.by_id(tenant_id)
        return tenant

    def _enter(self, tenant: TenantContext | None) -> None:
        from kotalive.db import use_database

        stack = contextlib.ExitStack()
        stack.enter_context(use_tenant(tenant))
        if self.database is not None:
            stack.enter_context(use_database(self.database))
        self._local.stack = stack

    def _leave(self) -> None:
        stack: contextlib.ExitStack | None = getattr(self._local, "stack", None)
        self._local.stack = None
        if stack is not None:
            stack.close()

    @staticmethod
    def _skip(message: MessageProxy, reason: str) -> NoReturn:
        log.warning("skipped %s (message %s): %s", message.actor_name, message.message_id, reason)
        raise SkipMessage(reason)

    @staticmethod
    def _reject(message: MessageProxy, reason: str) -> NoReturn:
        """Not run; failed, so the broker moves it to the dead letters."""
        log.error(
            "rejected %s (message %s), moved to the dead letters: %s",
            message.actor_name,
            message.message_id,
            reason,
        )
        message.fail()
        raise SkipMessage(reason)


# ---- processes -----------------------------------------------------------------------------------

# Settings handed from ``run_worker`` to the forked worker processes (env is the fallback).
_boot_settings: Settings | None = None


def boot_worker() -> None:
    """``dramatiq kotalive.jobs:boot_worker``: runs in each worker process before its Worker starts.

    Settings from the environment, the process's database, the broker, and the actors of the core
    and of every loaded module."""
    from kotalive import events
    from kotalive.db import Database, install_database
    from kotalive.registry import load

    settings = (_boot_settings or Settings.from_env()).require_services()
    logging.getLogger("kotalive").setLevel(settings.log_level)
    modules = load(settings.modules)
    modules.import_models()
    database = Database(settings)
    install_database(database)
    install_broker(create_broker(settings, database=database))
    events.install_modules(modules)
    from kotalive import live

    live.install_namespace(settings.live_namespace or "kl")
    import kotalive.auth.employees
    import kotalive.notify.jobs  # noqa: F401  (the delivery and sweep jobs)

    modules.import_jobs()
    from kotalive.registry import discover_surfaces, import_surface_jobs

    import_surface_jobs(discover_surfaces())  # the admin's jobs (onboarding, rollouts)


def run_worker(settings: Settings, processes: int | None = None, threads: int | None = None) -> NoReturn:
    """Dramatiq's own process supervisor (signals, restarts, log collection) on ``boot_worker``."""
    from dramatiq.cli import main, make_argument_parser

    global _boot_settings
    try:
        settings.require_services()
    except SettingsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from exc
    _boot_settings = settings
    argv = [
        "kotalive.jobs:boot_worker",
        "--processes",
        str(processes or settings.worker_processes),
        "--threads",
        str(threads or settings.worker_threads),
    ]
    if settings.log_level == "DEBUG":
        argv.append("--verbose")
    # Last, with no value: Dramatiq would otherwise put "." first on sys.path, and from the
    # repository root the folder platform/ could shadow the standard library's platform module
    # for anything imported after that (ARCHITECTURE §2).
    argv.append("--path")
    raise SystemExit(main(make_argument_parser().parse_args(argv)))


def run_scheduler(settings: Settings) -> None:
    """``kotalive scheduler``: see kotalive.scheduler."""
    from kotalive.scheduler import run_scheduler as run

    run(settings)


__all__ = [
    "DEFAULT_NAMESPACE",
    "MODULE_OPTION",
    "PLATFORM_SCOPE",
    "SCOPE_OPTION",
    "TENANT_OPTION",
    "TENANT_SCOPE",
    "Job",
    "JobError",
    "TenantMiddleware",
    "boot_worker",
    "create_broker",
    "current_broker",
    "enqueue_all",
    "find_job",
    "get_broker",
    "install_broker",
    "install_jobs",
    "platform_actor",
    "redis_client",
    "registered_jobs",
    "run_scheduler",
    "run_worker",
    "tenant_actor",
    "use_jobs",
]
