"""The ``kotalive`` command: dev, serve, worker, scheduler, db and tenants.

Long work (provisioning, rollouts) prints progress as it goes. Exit codes: 0 done, 1 some city
failed, 2 bad input (the message names the field).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from kotalive.auth.cli import employees, staff
from kotalive.settings import SETTINGS_DOC, Settings, SettingsError

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)
T = TypeVar("T")


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error[/]: {message}")
    sys.exit(code)


class Runtime:
    """What a CLI command needs: settings, database, loaded modules and the tenant service."""

    def __init__(self) -> None:
        from kotalive.db import Database, current_database, install_database
        from kotalive.registry import load
        from kotalive.tenants.provisioning import TenantService

        try:
            self.settings = Settings.from_env().require_services()
        except SettingsError as exc:
            fail(str(exc))
        self.modules = load(self.settings.modules)
        self.modules.import_models()
        self.db = Database(self.settings, None)
        self._previous = current_database()
        install_database(self.db)
        self.tenants = TenantService(self.db, self.modules)

    async def close(self) -> None:
        from kotalive.db import install_database

        install_database(self._previous)
        await self.db.dispose()


def with_runtime(fn: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        async def main() -> T:
            from kotalive.tenants.provisioning import TenantInputError, TenantNotFound, TenantStateError

            rt = Runtime()
            try:
                return await fn(rt, *args, **kwargs)
            except TenantInputError as exc:
                fail(str(exc), 2)
            except (TenantNotFound, TenantStateError) as exc:
                fail(str(exc), 1)
            finally:
                await rt.close()
            raise AssertionError("unreachable")

        return asyncio.run(main())

    return wrapper


class KotaLiveGroup(click.Group):
    """The core's commands plus those the installed modules declare (``ModuleSpec.commands``),
    found through the entry points, so the core never imports a module by name."""

    def _module_commands(self) -> dict[str, click.Command]:
        from kotalive.registry import discover, resolve

        found: dict[str, click.Command] = {}
        for spec in discover().values():
            if spec.commands:
                for command in resolve(spec.commands):
                    if command.name in found or command.name in self.commands:
                        raise click.UsageError(f"two commands are named {command.name!r} ({spec.name})")
                    found[str(command.name)] = command
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self._module_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.commands.get(cmd_name) or self._module_commands().get(cmd_name)


@click.group(cls=KotaLiveGroup)
def main() -> None:
    """Kota Live: one platform, many cities."""


# ---- processes -----------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="Address to bind (default KOTALIVE_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to bind (default KOTALIVE_PORT, 8000).")
@click.option("--workers", type=int, default=1, show_default=True, help="Web processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the web process alone."""
    import uvicorn

    settings = Settings.from_env()
    try:
        settings.require_services()
    except SettingsError as exc:
        fail(str(exc))
    uvicorn.run(
        "kotalive.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=False,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@main.command()
@click.option(
    "--processes", type=int, default=None, help="Worker processes (default KOTALIVE_WORKER_PROCESSES)."
)
@click.option(
    "--threads", type=int, default=None, help="Threads per process (default KOTALIVE_WORKER_THREADS)."
)
def worker(processes: int | None, threads: int | None) -> None:
    """Run Dramatiq workers for every city's jobs."""
    settings = Settings.from_env()
    # Dramatiq reads its idle poll interval once, when it is first imported (the worker processes
    # are forked from this one): an idle queue is looked at again after this many milliseconds.
    os.environ.setdefault("dramatiq_worker_timeout", str(settings.worker_poll_ms))
    from kotalive.jobs import run_worker

    run_worker(settings, processes=processes, threads=threads)


@main.command()
def scheduler() -> None:
    """Enqueue periodic work, one message per city that has the module switched on."""
    from kotalive.jobs import run_scheduler

    run_scheduler(Settings.from_env())


@main.command()
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--no-demo", is_flag=True, help="Do not seed the demo cities.")
def dev(port: int, no_demo: bool) -> None:
    """`make run`: embedded services when unconfigured, migrate, seed demo cities, run everything."""
    from kotalive.devserver import run_dev

    sys.exit(run_dev(port=port, seed_demo=not no_demo))


@main.command("settings")
def settings_cmd() -> None:
    """Every KOTALIVE_* setting with its default and meaning."""
    table = Table("variable", "default", "meaning")
    for name, default, meaning in SETTINGS_DOC:
        table.add_row(name, default, meaning)
    console.print(table)


# ---- database ------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """The platform schema and every city's schema."""


@db.command("upgrade")
@click.option("--parallel", type=int, default=1, show_default=True)
@with_runtime
async def db_upgrade(rt: Runtime, parallel: int) -> None:
    """Migrate the platform schema, then every city (canary wave first)."""
    from kotalive.migrations.runner import upgrade_platform
    from kotalive.tenants.rollout import select_targets

    async with rt.db.engine.begin() as conn:
        step = await conn.run_sync(upgrade_platform)
    console.print(
        f"platform schema: {step.before or 'empty'} -> {step.after} ({step.revisions_applied} revision(s))"
    )
    targets = await select_targets(rt.db, all_cities=True)
    await _run_migration(rt, targets, parallel=parallel, stop_on_error=False)


async def _run_migration(
    rt: Runtime, targets: list[Any], *, parallel: int, stop_on_error: bool, revision: str = "head"
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kotalive.tenants.rollout import migrate, tenant_head

    if not targets:
        console.print("no city to migrate")
        return
    head = tenant_head()
    console.print(f"migrating {len(targets)} city schema(s) to {revision if revision != 'head' else head}")
    failures: list[Any] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("cities", total=len(targets))

        def report(result: Any) -> None:
            progress.advance(task)
            wave = f" \\[{result.wave}]" if result.wave else ""
            if result.ok:
                moved = f"{result.before} -> {result.after}" if result.revisions else f"at {result.after}"
                progress.console.print(f"  [green]ok[/]   {result.slug}{wave}: {moved} ({result.ms:.0f} ms)")
            else:
                failures.append(result)
                progress.console.print(f"  [red]FAIL[/] {result.slug}{wave}: {result.error}")

        results = await migrate(
            rt.db, targets, revision=revision, parallel=parallel, stop_on_error=stop_on_error, progress=report
        )
    done = sum(r.ok for r in results)
    console.print(f"{done} migrated, {len(failures)} failed, {len(targets) - len(results)} not attempted")
    if failures:
        sys.exit(1)


# ---- tenants -------------------------------------------------------------------------------------


@main.group()
def tenants() -> None:
    """Cities: create, list, lifecycle, export, migrations."""


def _date(value: str | None, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{field}: expected a date like 2026-01-31, got {value!r}")
    return None


@tenants.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="e.g. 'Kota Tangerang'")
@click.option(
    "--region-code", required=True, help="Kemendagri code: 4 digits (kota/kabupaten) or 2 (provinsi)"
)
@click.option("--timezone", "timezone_", default="Asia/Jakarta", show_default=True)
@click.option(
    "--kind", type=click.Choice(["kota", "kabupaten", "provinsi"]), default="kota", show_default=True
)
@click.option(
    "--domain", "domains", multiple=True, help="Host of the city (repeatable; the first is primary)."
)
@click.option(
    "--modules", default=None, help="Comma-separated, e.g. laksa,liveroom,hotline112 (default: all)."
)
@click.option("--locale", default="id", show_default=True)
@click.option("--centre", default=None, help="lat,lon of the city centre")
@click.option("--mou-number", default=None)
@click.option("--mou-signed", default=None, help="YYYY-MM-DD")
@click.option("--mou-expires", default=None, help="YYYY-MM-DD")
@click.option("--wave", default=None, help="Rollout wave (canary first).")
@with_runtime
async def tenants_create(
    rt: Runtime,
    slug: str,
    name: str,
    region_code: str,
    timezone_: str,
    kind: str,
    domains: tuple[str, ...],
    modules: str | None,
    locale: str,
    centre: str | None,
    mou_number: str | None,
    mou_signed: str | None,
    mou_expires: str | None,
    wave: str | None,
) -> None:
    """Create (or finish creating) a city. Safe to re-run after an interruption."""
    from kotalive.tenants.provisioning import NewCity

    lat = lon = None
    if centre:
        try:
            lat, lon = (float(x) for x in centre.split(","))
        except ValueError:
            fail(f"centre: expected 'lat,lon' like -6.17,106.63, got {centre!r}")
    city = NewCity(
        slug=slug,
        name=name,
        region_code=region_code,
        timezone=timezone_,
        kind=kind,
        locale=locale,
        domains=list(domains),
        modules=[m.strip() for m in modules.split(",") if m.strip()] if modules else None,
        centre_lat=lat,
        centre_lon=lon,
        mou_number=mou_number,
        mou_signed_on=_date(mou_signed, "mou-signed"),
        mou_expires_on=_date(mou_expires, "mou-expires"),
        wave=wave,
    )
    labels = {
        "registered": "registry row",
        "schema": "schema and tables",
        "seeded": "default catalogue",
        "active": "active",
    }

    def progress(step: str, tenant: Any) -> None:
        console.print(f"  [green]✓[/] {labels[step]}")

    console.print(f"provisioning {slug}")
    tenant = await rt.tenants.provision(city, progress=progress)
    ctx = await rt.tenants.context(slug)
    console.print(
        f"{tenant.name} ({tenant.slug}, id {tenant.id}) is {tenant.status} at http://{ctx.primary_host}"
    )


@tenants.command("list")
@with_runtime
async def tenants_list(rt: Runtime) -> None:
    """Every city with its status, revision and last migration result."""
    rows = await rt.tenants.list()
    if not rows:
        console.print("no cities yet: kotalive tenants create SLUG --name ... --region-code ... --domain ...")
        return
    table = Table()
    for column in ("id", "slug", "name", "status", "wave", "revision", "last migration", "MoU expires"):
        table.add_column(column, no_wrap=column in ("id", "slug", "status"))
    for t in rows:
        last = "-"
        if t.last_migration_at:
            verdict = "ok" if t.last_migration_ok else f"FAILED: {t.last_migration_error}"
            last = f"{t.last_migration_at:%Y-%m-%d %H:%M} {verdict}"
        table.add_row(
            str(t.id),
            t.slug,
            t.name,
            t.status,
            t.wave or "",
            t.schema_revision or "-",
            last,
            str(t.mou_expires_on or ""),
        )
    console.print(table)


def _status_command(verb: str, help_text: str) -> None:
    """suspend / resume / archive: one command each, all the same shape."""

    @tenants.command(verb, help=help_text)
    @click.argument("slug")
    @with_runtime
    async def command(rt: Runtime, slug: str) -> None:
        t = await getattr(rt.tenants, verb)(slug)
        console.print(f"{t.slug} is {t.status}")


for _verb, _help in (
    ("suspend", "Stop serving a city (503) and skip its jobs; data stays."),
    ("resume", "Serve a suspended city again."),
    ("archive", "Retire a city: its hosts answer 404; the data stays until purge."),
):
    _status_command(_verb, _help)


@tenants.command("purge")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_runtime
async def tenants_purge(rt: Runtime, slug: str, yes: bool) -> None:
    """Delete an archived city's schema and registry rows for good."""
    tenant = await rt.tenants.get(slug)
    if tenant.status != "archived":
        fail(f"{slug} is {tenant.status}; archive it before purging", 1)
    if not yes and not click.confirm(f"Delete every row of {tenant.name} ({slug}) for good?", default=False):
        fail("not confirmed; nothing was deleted", 1)
    await rt.tenants.purge(slug)
    console.print(f"{slug} purged")


@tenants.command("export")
@click.argument("slug")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_runtime
async def tenants_export(rt: Runtime, slug: str, out: Path) -> None:
    """Dump one city (registry rows and every table) to a file that `restore` loads."""
    from kotalive.tenants.export import export_city

    manifest = await export_city(
        rt.db, slug, out, progress=lambda name, n: console.print(f"  {name}: {n} rows")
    )
    console.print(f"{slug} exported to {out} ({sum(t['rows'] for t in manifest['tables'])} rows)")


@tenants.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_runtime
async def tenants_restore(rt: Runtime, file: Path) -> None:
    """Load a city exported with `export` (into a database where that city does not exist)."""
    from kotalive.migrations.runner import upgrade_platform
    from kotalive.tenants.export import restore_city

    async with rt.db.engine.begin() as conn:
        await conn.run_sync(upgrade_platform)
    manifest = await restore_city(rt.db, file, progress=lambda name, n: console.print(f"  {name}: {n} rows"))
    console.print(f"{manifest['tenant']['slug']} restored")


@tenants.command("migrate")
@click.option("--all", "all_cities", is_flag=True, help="Every city (canary wave first).")
@click.option("--wave", default=None, help="Only the cities of this wave.")
@click.option("--tenant", "slugs", multiple=True, help="Only this city (repeatable).")
@click.option("--parallel", type=int, default=1, show_default=True, help="Orchestrator processes.")
@click.option("--stop-on-error", is_flag=True, help="Stop at the first failing city.")
@click.option("--revision", default="head", show_default=True)
@with_runtime
async def tenants_migrate(
    rt: Runtime,
    all_cities: bool,
    wave: str | None,
    slugs: tuple[str, ...],
    parallel: int,
    stop_on_error: bool,
    revision: str,
) -> None:
    """Migrate city schemas; each city in its own transaction, its result recorded."""
    from kotalive.tenants.rollout import select_targets

    if not (all_cities or wave or slugs):
        fail("say which cities: --all, --wave NAME or --tenant SLUG")
    targets = await select_targets(rt.db, all_cities=all_cities, wave=wave, slugs=slugs)
    if slugs:
        missing = set(slugs) - {t.slug for t in targets}
        if missing:
            fail(f"tenant: no migratable city {', '.join(sorted(missing))}")
    await _run_migration(rt, targets, parallel=parallel, stop_on_error=stop_on_error, revision=revision)


@tenants.command("wave")
@click.argument("slug")
@click.argument("name")
@with_runtime
async def tenants_wave(rt: Runtime, slug: str, name: str) -> None:
    """Place a city in a rollout wave ('canary' goes first; 'none' removes it)."""
    t = await rt.tenants.set_wave(slug, None if name == "none" else name)
    console.print(f"{t.slug} is in wave {t.wave or '(none)'}")


@tenants.command("module")
@click.argument("slug")
@click.argument("module")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.option(
    "--config",
    "config_json",
    default=None,
    help="The module's settings for this city, as JSON: '{\"key\": 1}'",
)
@with_runtime
async def tenants_module(rt: Runtime, slug: str, module: str, state: str, config_json: str | None) -> None:
    """Switch a module on or off for one city (and set its per-city configuration)."""
    import json

    config = None
    if config_json is not None:
        try:
            config = json.loads(config_json)
        except json.JSONDecodeError as exc:
            fail(f"config: not valid JSON ({exc.msg} at character {exc.pos})")
        if not isinstance(config, dict):
            fail("config: must be a JSON object, e.g. '{\"sla_days\": 3}'")
    await rt.tenants.set_module(slug, module, state == "on", config)
    console.print(
        f"{module} is {state} for {slug}" + (f" with config {config}" if config is not None else "")
    )


def _pairs(values: tuple[str, ...], option: str) -> dict[str, object]:
    import json

    out: dict[str, object] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(f"{option}: expected key=value, got {item!r}")
        try:
            out[key] = json.loads(raw)  # numbers, true/false, objects ("unit_map={...}")
        except json.JSONDecodeError:
            out[key] = raw
    return out


@tenants.command("integration")
@click.argument("slug")
@click.argument("kind", required=False, type=click.Choice(["siak", "simpeg", "sms", "oidc", "smtp"]))
@click.option("--set", "sets", multiple=True, help="A setting, key=value (repeatable).")
@click.option(
    "--secret", "secrets", multiple=True, help="A secret, key=value; stored encrypted (repeatable)."
)
@click.option("--disable", is_flag=True, help="Switch this integration off.")
@click.option("--check", is_flag=True, help="Try the connection after saving.")
@with_runtime
async def tenants_integration(
    rt: Runtime,
    slug: str,
    kind: str | None,
    sets: tuple[str, ...],
    secrets: tuple[str, ...],
    disable: bool,
    check: bool,
) -> None:
    """Connect a city to its SIAK, Simpeg, SMS gateway or OpenID provider (or show what it has)."""
    from kotalive.auth.crypto import Vault
    from kotalive.tenants.connections import (
        SECRET_KEYS,
        ConnectionSettingsError,
        build_client,
        check_connection,
        split_secrets,
    )
    from kotalive.tenants.integrations import get_integration, list_integrations, set_integration

    ctx = await rt.tenants.context(slug)
    vault = Vault.from_settings(rt.settings)
    if kind is None:
        async with rt.db.tenant_session(ctx) as s:
            rows = await list_integrations(s)
        if not rows:
            console.print(
                f"{slug} has no integrations yet: kotalive tenants integration {slug} siak --set ..."
            )
        for row in rows:
            secret_names = sorted(SECRET_KEYS.get(row.kind, ()))
            state = "on" if row.enabled else "off"
            console.print(
                f"{row.kind} ({state}): {row.config}"
                + (f" secrets: {', '.join(secret_names)} (stored)" if row.secrets_encrypted else "")
            )
        return
    async with rt.db.tenant_session(ctx) as s:
        current = await get_integration(s, vault, kind, required=False)
    config = dict(current.config) if current else {}
    stored_secrets = dict(current.secrets) if current else {}
    new_config, misplaced = split_secrets(kind, _pairs(sets, "--set"))
    if misplaced:
        fail(f"{', '.join(misplaced)}: a secret; pass it with --secret so it is stored encrypted")
    config.update(new_config)
    new_secrets = {k: str(v) for k, v in _pairs(secrets, "--secret").items()}
    stored_secrets.update(new_secrets)
    if sets or secrets or disable:
        try:
            build_client(kind, {**config, **stored_secrets})
        except ConnectionSettingsError as exc:
            fail(str(exc))
        async with rt.db.tenant_session(ctx) as s, s.begin():
            await set_integration(s, vault, kind, config=config, secrets=stored_secrets, enabled=not disable)
        console.print(f"{kind} of {slug} saved" + (" (switched off)" if disable else ""))
    if check:
        try:
            console.print(f"[green]ok[/] {await check_connection(kind, {**config, **stored_secrets})}")
        except (ConnectionError, ConnectionSettingsError) as exc:
            fail(str(exc), 1)


@tenants.command("check-drift")
@with_runtime
async def tenants_check_drift(rt: Runtime) -> None:
    """Compare every city schema with the reference built by the migrations."""
    from kotalive.tenants.drift import check_drift

    report = await check_drift(rt.db)
    bad = 0
    for slug, diffs in report.items():
        if diffs:
            bad += 1
            console.print(f"[red]drift[/] {slug}:")
            for d in diffs:
                console.print(f"    {d}")
        else:
            console.print(f"[green]ok[/]    {slug}")
    console.print(f"{len(report)} cities checked, {bad} drifted")
    if bad:
        sys.exit(1)


@tenants.command("seed-demo")
@with_runtime
async def tenants_seed_demo(rt: Runtime) -> None:
    """Create the demo cities (tangerang, bekasi) if they do not exist yet."""
    from kotalive.tenants.demo import seed_demo_cities

    for line in await seed_demo_cities(rt.tenants):
        console.print(line)


main.add_command(staff)
main.add_command(employees)

if __name__ == "__main__":
    main()
