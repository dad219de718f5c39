"""Typed settings read once from the environment (``KOTALIVE_*``) and frozen.

Every setting is listed in ``SETTINGS_DOC`` so the README table and the code cannot drift apart
(``kotalive settings`` prints it).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# name, default, meaning
SETTINGS_DOC: tuple[tuple[str, str, str], ...] = (
    (
        "KOTALIVE_DATABASE_URL",
        "(embedded)",
        "PostgreSQL URL, e.g. postgresql://user@host:5432/kotalive. "
        "Unset: `make run` starts an embedded PostgreSQL under .kotalive/.",
    ),
    (
        "KOTALIVE_REDIS_URL",
        "(embedded)",
        "Redis URL, e.g. redis://127.0.0.1:6379/0. "
        "Unset: `make run` starts an embedded Redis under .kotalive/.",
    ),
    ("KOTALIVE_ENV", "development", "development, test or production."),
    ("KOTALIVE_SECRET_KEY", "(dev key)", "Signs sessions and tokens. Required in production."),
    ("KOTALIVE_BASE_DOMAIN", "localhost", "A city answers on <slug>.<base domain> by default."),
    ("KOTALIVE_PLATFORM_HOST", "localhost", "Host of the platform console and platform API."),
    ("KOTALIVE_TRUSTED_PROXIES", "", "Comma-separated IPs/CIDRs whose X-Forwarded-Host/-For are trusted."),
    ("KOTALIVE_HOST", "127.0.0.1", "Address `kotalive serve` binds."),
    ("KOTALIVE_PORT", "8000", "Port `kotalive serve` binds."),
    ("KOTALIVE_DATA_DIR", ".kotalive", "Embedded servers, uploads and exports live here."),
    ("KOTALIVE_MODULES", "laksa,liveroom,hotline112", "Modules the process loads (entry points)."),
    (
        "KOTALIVE_DB_POOL_SIZE",
        "20",
        "SQLAlchemy pool size per process: at least the requests served at once "
        "(connections beyond it are closed on return, and a new one costs a handshake and cold caches).",
    ),
    ("KOTALIVE_DB_MAX_OVERFLOW", "10", "Extra connections above the pool size under load."),
    (
        "KOTALIVE_DB_POOL_RECYCLE",
        "1800",
        "Seconds before a pooled connection is replaced "
        "(bounds PostgreSQL backend memory grown by per-city catalogue caches).",
    ),
    (
        "KOTALIVE_DB_STATEMENT_CACHE",
        "4000",
        "asyncpg prepared statements kept per connection: "
        "per-city SQL text multiplies statements (cities x hot statements).",
    ),
    (
        "KOTALIVE_TENANT_CACHE_SECONDS",
        "30",
        "Longest a process trusts its host -> city map without hearing of a change.",
    ),
    (
        "KOTALIVE_LIVE_NAMESPACE",
        "kl.<database name>",
        "Prefix of the live-update pub/sub channels. Redis pub/sub ignores the database number, so "
        "deployments sharing one Redis need different prefixes (the default differs per database).",
    ),
    ("KOTALIVE_MIGRATION_LOCK_TIMEOUT", "5s", "lock_timeout for each city's migration transaction."),
    ("KOTALIVE_OUTBOX_SWEEP_SECONDS", "15", "How often the scheduler sweeps unsent outbox events."),
    (
        "KOTALIVE_OUTBOX_RECONCILE_SECONDS",
        "60",
        "A sent event still missing a consumer's receipt this long after is sent to it again (the wait doubles per try).",
    ),
    (
        "KOTALIVE_NOTIFY_RETRY_SECONDS",
        "30",
        "First wait before an e-mail, SMS or webhook is tried again; it doubles per attempt (at most an hour).",
    ),
    (
        "KOTALIVE_NOTIFY_LEASE_SECONDS",
        "120",
        "How long a worker holds a message it is sending; a worker that dies leaves it to be sent again after this.",
    ),
    ("KOTALIVE_WORKER_PROCESSES", "1", "Dramatiq worker processes started by `kotalive worker`."),
    (
        "KOTALIVE_WORKER_POLL_MS",
        "100",
        "How soon an idle worker looks at its queues again, in milliseconds (Dramatiq's worker timeout).",
    ),
    ("KOTALIVE_WORKER_THREADS", "4", "Dramatiq threads per worker process."),
    ("KOTALIVE_LOG_LEVEL", "INFO", "Log level."),
    (
        "KOTALIVE_DATA_KEYS",
        "(derived in dev)",
        "Comma-separated Fernet keys encrypting personal data (NIK) and "
        "integration secrets, newest first; add a new key in front to rotate without downtime. Required in production.",
    ),
    (
        "KOTALIVE_LOOKUP_KEY",
        "(derived in dev)",
        "HMAC key for NIK lookup hashes. Required in production; never changed without re-hashing.",
    ),
    ("KOTALIVE_SESSION_MAX_AGE", "28800", "Seconds a login session lives (cookie and server side)."),
    (
        "KOTALIVE_AML_MATCH_MINUTES",
        "10",
        "How long a 112 caller location (AML) that arrived before its call waits to be matched to it.",
    ),
    (
        "KOTALIVE_MOU_WARNING_DAYS",
        "60",
        "The platform console marks a city whose MoU expires within this many days.",
    ),
    (
        "KOTALIVE_PLATFORM_MAIL_URL",
        "(none)",
        "The platform's own mail server, for mail sent before a city has one (the first city admin's invitation), "
        "e.g. smtp://user:password@mail.example.id:587/?security=starttls&from=noreply@example.id. "
        "Unset: the console shows the invitation to pass on by hand.",
    ),
    (
        "KOTALIVE_COOKIE_SECURE",
        "true",
        "Secure flag on cookies; false only for plain-http development on a host other than *.localhost.",
    ),
    ("KOTALIVE_ARGON2_TIME_COST", "2", "Argon2id passes per password hash (see `make bench`: 50-100 ms)."),
    ("KOTALIVE_ARGON2_MEMORY_KIB", "32768", "Argon2id memory per password hash, in KiB."),
)

_DEV_SECRET = "kotalive-development-secret-not-for-production"


class SettingsError(ValueError):
    """A setting has a value the platform cannot use; the message names the variable."""


def _live_namespace(database_url: str) -> str:
    """``kl.<database name>``: city ids restart in every database, and pub/sub channels are shared
    by every client of a Redis server, whatever database number it uses."""
    name = database_url.rsplit("/", 1)[-1].split("?", 1)[0] if database_url else ""
    return f"kl.{name}" if name else "kl"


def _asyncpg_url(url: str) -> str:
    """Accept a plain ``postgresql://`` URL and return the SQLAlchemy asyncpg form."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in (
        "postgres",
        "postgresql",
        "postgresql+asyncpg",
        "postgresql+psycopg",
        "postgresql+psycopg2",
    ):
        scheme = "postgresql+asyncpg"
    else:
        raise SettingsError(
            f"KOTALIVE_DATABASE_URL: expected a postgresql:// URL, got scheme {parts.scheme!r}"
        )
    query = dict(parse_qsl(parts.query))
    if "sslmode" in query:  # libpq spelling -> asyncpg's (never dropped: that would weaken TLS)
        query["ssl"] = query.pop("sslmode")
    if "ssl" not in query and (
        parts.hostname in (None, "", "localhost", "127.0.0.1", "::1") or "host" in query
    ):
        # Loopback or a unix socket: asyncpg's default ("prefer") would try a TLS handshake on
        # every new connection for traffic that never leaves the machine.
        query["ssl"] = "disable"
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def plain_postgres_url(url: str) -> str:
    """The libpq form of a database URL (for psql, pg_dump and asyncpg.connect)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.pop("prepared_statement_cache_size", None)  # SQLAlchemy's, not libpq's
    if "ssl" in query:
        query["sslmode"] = query.pop("ssl")
    return urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), parts.fragment))


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: expected a whole number, got {raw!r}") from exc


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise SettingsError(f"KOTALIVE_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR") from exc
    return tuple(nets)


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = ""
    redis_url: str = ""
    env: str = "development"
    secret_key: str = _DEV_SECRET
    base_domain: str = "localhost"
    platform_host: str = "localhost"
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = field(default_factory=lambda: Path(".kotalive"))
    modules: tuple[str, ...] = ("laksa", "liveroom", "hotline112")
    db_pool_size: int = 20
    db_max_overflow: int = 10
    db_pool_recycle: int = 1800
    db_statement_cache: int = 4000
    tenant_cache_seconds: int = 30
    live_namespace: str = ""
    migration_lock_timeout: str = "5s"
    outbox_sweep_seconds: int = 15
    outbox_reconcile_seconds: int = 60
    notify_retry_seconds: int = 30
    notify_lease_seconds: int = 120
    worker_processes: int = 1
    worker_poll_ms: int = 100
    worker_threads: int = 4
    log_level: str = "INFO"
    data_keys: tuple[str, ...] = ()
    lookup_key: str = ""
    session_max_age: int = 28800
    cookie_secure: bool = True
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 32768
    aml_match_minutes: int = 10
    mou_warning_days: int = 60
    platform_mail_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        kind = e.get("KOTALIVE_ENV", "development")
        if kind not in ("development", "test", "production"):
            raise SettingsError(f"KOTALIVE_ENV: expected development, test or production, got {kind!r}")
        secret = e.get("KOTALIVE_SECRET_KEY") or _DEV_SECRET
        if kind == "production" and secret == _DEV_SECRET:
            raise SettingsError("KOTALIVE_SECRET_KEY: must be set in production")
        db = e.get("KOTALIVE_DATABASE_URL", "")
        redis = e.get("KOTALIVE_REDIS_URL", "")
        if redis and not redis.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"KOTALIVE_REDIS_URL: expected a redis:// URL, got {redis!r}")
        modules = tuple(
            m.strip() for m in e.get("KOTALIVE_MODULES", "laksa,liveroom,hotline112").split(",") if m.strip()
        )
        data_keys = tuple(k.strip() for k in e.get("KOTALIVE_DATA_KEYS", "").split(",") if k.strip())
        lookup_key = e.get("KOTALIVE_LOOKUP_KEY", "")
        if kind == "production" and not data_keys:
            raise SettingsError("KOTALIVE_DATA_KEYS: must be set in production (Fernet keys, newest first)")
        if kind == "production" and not lookup_key:
            raise SettingsError("KOTALIVE_LOOKUP_KEY: must be set in production")
        secure = e.get("KOTALIVE_COOKIE_SECURE", "true").lower()
        if secure not in ("true", "false", "1", "0", "yes", "no"):
            raise SettingsError(f"KOTALIVE_COOKIE_SECURE: expected true or false, got {secure!r}")
        return cls(
            database_url=_asyncpg_url(db) if db else "",
            redis_url=redis,
            env=kind,
            secret_key=secret,
            base_domain=e.get("KOTALIVE_BASE_DOMAIN", "localhost").lower(),
            platform_host=e.get("KOTALIVE_PLATFORM_HOST", "localhost").lower(),
            trusted_proxies=_networks(e.get("KOTALIVE_TRUSTED_PROXIES", "")),
            host=e.get("KOTALIVE_HOST", "127.0.0.1"),
            port=_int(e, "KOTALIVE_PORT", 8000),
            data_dir=Path(e.get("KOTALIVE_DATA_DIR", ".kotalive")),
            modules=modules,
            db_pool_size=_int(e, "KOTALIVE_DB_POOL_SIZE", 20),
            db_max_overflow=_int(e, "KOTALIVE_DB_MAX_OVERFLOW", 10),
            db_pool_recycle=_int(e, "KOTALIVE_DB_POOL_RECYCLE", 1800),
            db_statement_cache=_int(e, "KOTALIVE_DB_STATEMENT_CACHE", 4000),
            tenant_cache_seconds=_int(e, "KOTALIVE_TENANT_CACHE_SECONDS", 30),
            live_namespace=e.get("KOTALIVE_LIVE_NAMESPACE", "") or _live_namespace(db),
            migration_lock_timeout=e.get("KOTALIVE_MIGRATION_LOCK_TIMEOUT", "5s"),
            outbox_sweep_seconds=_int(e, "KOTALIVE_OUTBOX_SWEEP_SECONDS", 15),
            outbox_reconcile_seconds=_int(e, "KOTALIVE_OUTBOX_RECONCILE_SECONDS", 60),
            notify_retry_seconds=_int(e, "KOTALIVE_NOTIFY_RETRY_SECONDS", 30),
            notify_lease_seconds=_int(e, "KOTALIVE_NOTIFY_LEASE_SECONDS", 120),
            worker_processes=_int(e, "KOTALIVE_WORKER_PROCESSES", 1),
            worker_poll_ms=_int(e, "KOTALIVE_WORKER_POLL_MS", 100),
            worker_threads=_int(e, "KOTALIVE_WORKER_THREADS", 4),
            log_level=e.get("KOTALIVE_LOG_LEVEL", "INFO").upper(),
            data_keys=data_keys,
            lookup_key=lookup_key,
            session_max_age=_int(e, "KOTALIVE_SESSION_MAX_AGE", 28800),
            cookie_secure=secure in ("true", "1", "yes"),
            argon2_time_cost=_int(e, "KOTALIVE_ARGON2_TIME_COST", 2),
            argon2_memory_kib=_int(e, "KOTALIVE_ARGON2_MEMORY_KIB", 32768),
            aml_match_minutes=_int(e, "KOTALIVE_AML_MATCH_MINUTES", 10),
            mou_warning_days=_int(e, "KOTALIVE_MOU_WARNING_DAYS", 60),
            platform_mail_url=e.get("KOTALIVE_PLATFORM_MAIL_URL", ""),
        )

    def require_services(self) -> Settings:
        """Fail with a clear message when the database or Redis URL is missing."""
        if not self.database_url:
            raise SettingsError(
                "KOTALIVE_DATABASE_URL is not set (use `make run`, which starts an embedded one)"
            )
        if not self.redis_url:
            raise SettingsError(
                "KOTALIVE_REDIS_URL is not set (use `make run`, which starts an embedded one)"
            )
        return self

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def city_host(self, slug: str) -> str:
        return f"{slug}.{self.base_domain}"
