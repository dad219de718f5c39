"""``kotalive staff``: platform staff accounts (password + TOTP), and ``kotalive employees sync``.

    kotalive staff create ops@example.go.id --name "Ops" --role platform_admin
    kotalive staff list
    kotalive staff deactivate ops@example.go.id
    kotalive employees sync tangerang       # one city's Simpeg sync, here and now

Self-contained (no import of kotalive.cli, which registers these groups).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

T = TypeVar("T")


def _fail(message: str, code: int = 2) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(database)`` with the settings from the environment."""
    from kotalive.db import Database, install_database
    from kotalive.settings import Settings, SettingsError

    try:
        settings = Settings.from_env().require_services()
    except SettingsError as exc:
        _fail(str(exc))
        raise

    async def main() -> T:
        from kotalive.db import current_database
        from kotalive.registry import load

        load(settings.modules).import_models()
        db = Database(settings)
        previous = current_database()
        install_database(db)
        try:
            return await work(db)
        finally:
            install_database(previous)
            await db.dispose()

    return asyncio.run(main())


@click.group()
def staff() -> None:
    """Platform staff accounts: password plus TOTP, for the platform host only."""


@staff.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The person's name.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    default=("platform_operator",),
    show_default=True,
    type=click.Choice(["platform_admin", "platform_operator"]),
    help="Repeat for several.",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (else one is generated)."
)
@click.option("--reset", is_flag=True, help="Reset an existing account's password, TOTP secret and roles.")
def staff_create(email: str, name: str, roles: tuple[str, ...], password_stdin: bool, reset: bool) -> None:
    """Create an account; prints its password (if generated) and the TOTP provisioning URI."""
    from kotalive.auth.passwords import WeakPassword
    from kotalive.auth.platform_staff import StaffInputError, create_staff

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None

    async def work(db: Any) -> Any:
        async with db.platform_session() as session:
            made = await create_staff(
                session, db.settings, email=email, name=name, roles=roles, password=password, replace=reset
            )
            await session.commit()
            return made

    try:
        made = _run(work)
    except StaffInputError as exc:
        _fail(str(exc))
        return
    except WeakPassword as exc:
        _fail(f"password: {exc}")
        return
    click.echo(f"{'reset' if reset else 'created'} {made.staff.email} ({', '.join(made.staff.roles)})")
    if password is None:
        click.echo(f"password:    {made.password}")
    click.echo(f"TOTP secret: {made.totp_secret}")
    click.echo(f"TOTP URI:    {made.provisioning_uri}")
    click.echo("Add the URI (or the secret) to an authenticator app; log in on the platform host at /login.")


@staff.command("list")
def staff_list() -> None:
    """Every platform staff account."""
    from sqlalchemy import select

    from kotalive.auth.models import PlatformStaff

    async def work(db: Any) -> list[PlatformStaff]:
        async with db.platform_session() as session:
            return list(await session.scalars(select(PlatformStaff).order_by(PlatformStaff.email)))

    for s in _run(work):
        last = s.last_login_at.isoformat(timespec="minutes") if s.last_login_at else "never"
        click.echo(
            f"{s.email:<40} {','.join(s.roles):<34} {'active' if s.active else 'inactive':<9} last login {last}"
        )


@staff.command("deactivate")
@click.argument("email")
def staff_deactivate(email: str) -> None:
    """Stop an account from logging in (its open sessions end within their lifetime or at once via Redis)."""
    from kotalive.auth import audit
    from kotalive.auth.platform_staff import find_staff

    async def work(db: Any) -> int | None:
        async with db.platform_session() as session:
            found = await find_staff(session, email)
            if found is None:
                return None
            found.active = False
            audit.record_platform(
                session, "staff.deactivated", target_kind="staff", target_id=found.id, actor_label="cli"
            )
            await session.commit()
            import redis.asyncio as aioredis

            from kotalive.auth.sessions import SessionStore

            redis = aioredis.from_url(db.settings.redis_url)
            try:
                await SessionStore(redis, db.settings.session_max_age).revoke_subject(
                    None, "platform_staff", found.id
                )
            finally:
                await redis.aclose()
            return found.id

    if _run(work) is None:
        _fail(f"no account {email}", 1)
    click.echo(f"{email} can no longer log in")


@click.group()
def employees() -> None:
    """A city's employees, from its Simpeg."""


@employees.command("sync")
@click.argument("slug")
def employees_sync(slug: str) -> None:
    """Run one city's Simpeg sync now (the scheduler also runs it every hour)."""
    from kotalive.auth.employees import SyncRefused, sync_city
    from kotalive.integrations.http import ConfigError, IntegrationError
    from kotalive.tenants.directory import TenantDirectory

    async def work(db: Any) -> Any:
        city = await TenantDirectory(db).by_slug(slug)
        if city is None:
            _fail(f"tenant: no city {slug!r}", 1)
        return await sync_city(db.settings, city)

    try:
        report = _run(work)
    except (IntegrationError, ConfigError, SyncRefused) as exc:
        _fail(str(exc), 1)
        return
    if report is None:
        _fail(f"{slug} has no Simpeg connected (integration 'simpeg')", 1)
        return
    click.echo(f"{slug}: {report.summary()}")
