"""Platform staff: password plus TOTP, on the platform host only; a code works once; guessing is
rate-limited; their session opens nothing on a city's host; the CLI creates accounts."""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from kotalive.auth.models import PlatformAuditEntry, PlatformStaff
from kotalive.auth.platform_staff import StaffInputError, create_staff, matching_step
from kotalive.auth.sessions import COOKIE_NAME

PLATFORM = "platform.test"


async def new_staff(database, settings, **extra: Any) -> Any:
    email = f"ops-{secrets.token_hex(4)}@kotalive.test"
    async with database.platform_session() as session:
        made = await create_staff(
            session, settings, email=email, name="Ops Person", roles=["platform_admin"], **extra
        )
        await session.commit()
    return made


async def csrf(client: Any) -> str:
    page = await client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def post_login(client: Any, email: str, password: str, code: str, next_path: str = "/") -> Any:
    token = await csrf(client)
    return await client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": password, "code": code, "next": next_path},
    )


def fresh_code(secret: str, after_step: int | None = None) -> str:
    """A valid code of a step later than ``after_step`` (waits for the next step if it must)."""
    totp = pyotp.TOTP(secret)
    while True:
        step = int(time.time() // 30)
        if after_step is None or step > after_step:
            return totp.at(step * 30)
        time.sleep(0.2)  # pragma: no cover - only when two logins fall in one 30 s step


async def test_password_and_totp_open_the_platform_console(app, client_for, database, settings) -> None:
    made = await new_staff(database, settings)
    async with client_for(PLATFORM, peer=f"10.20.{secrets.randbelow(250)}.1") as c:
        r = await post_login(c, made.staff.email, made.password, fresh_code(made.totp_secret), "/?tab=cities")
        assert r.status_code == 303 and r.headers["location"] == "/?tab=cities"
        assert c.cookies.get(COOKIE_NAME)
        signed_in = await c.get("/login")
        assert signed_in.status_code == 200 and "Anda masuk sebagai Ops Person" in signed_in.text
        assert (await c.get("/login?next=/x")).headers["location"] == "/x"  # already signed in: straight on
        assert (await c.get("/")).status_code == 200
    async with database.platform_session() as session:
        rows = (
            await session.scalars(
                select(PlatformAuditEntry).where(
                    PlatformAuditEntry.target_id == str(made.staff.id),
                    PlatformAuditEntry.action == "staff.login",
                )
            )
        ).all()
        assert len(rows) == 1 and rows[0].actor_kind == "platform_staff"


async def test_wrong_password_or_code_is_refused_without_saying_which(
    app, client_for, database, settings
) -> None:
    made = await new_staff(database, settings)
    async with client_for(PLATFORM, peer="10.30.0.1") as c:
        for password, code in (
            ("wrong-password-123", fresh_code(made.totp_secret)),
            (made.password, "000000" if fresh_code(made.totp_secret) != "000000" else "111111"),
            (made.password, "not-a-code"),
        ):
            r = await post_login(c, made.staff.email, password, code)
            assert r.status_code == 400 and "salah" in r.text, r.text
        nobody = await post_login(c, "nobody@kotalive.test", "whatever-123", "123456")
        assert nobody.status_code == 400 and "salah" in nobody.text
        assert COOKIE_NAME not in c.cookies


async def test_a_code_is_accepted_once(app, client_for, database, settings) -> None:
    made = await new_staff(database, settings)
    code = fresh_code(made.totp_secret)
    async with client_for(PLATFORM, peer="10.40.0.1") as c:
        assert (await post_login(c, made.staff.email, made.password, code)).status_code == 303
        await c.post("/logout", data={"_csrf_token": await csrf(c)})
        assert COOKIE_NAME not in c.cookies or not c.cookies.get(COOKIE_NAME)
    async with client_for(PLATFORM, peer="10.40.0.2") as c:
        replay = await post_login(c, made.staff.email, made.password, code)
        assert replay.status_code == 400
    async with database.platform_session() as session:
        reasons = [
            e.detail.get("reason")
            for e in await session.scalars(
                select(PlatformAuditEntry).where(PlatformAuditEntry.action == "staff.login_failed")
            )
            if e.detail.get("email") == made.staff.email
        ]
        assert reasons == ["code_replayed"]


def test_an_older_code_than_the_last_accepted_one_is_no_use() -> None:
    secret = pyotp.random_base32()
    now = time.time()
    current = pyotp.TOTP(secret).at(now)
    previous = pyotp.TOTP(secret).at(now - 30)
    step = int(now // 30)
    assert matching_step(secret, current, now) == step
    assert matching_step(secret, previous, now) == step - 1  # accepted only if newer than the last step
    assert matching_step(secret, pyotp.TOTP(secret).at(now - 120), now) is None


async def test_guessing_is_locked_out_with_a_clear_message(app, client_for, database, settings) -> None:
    made = await new_staff(database, settings)
    async with client_for(PLATFORM, peer="10.50.0.1") as c:
        for _ in range(5):
            r = await post_login(c, made.staff.email, "guess-" + secrets.token_hex(4), "123456")
            assert r.status_code == 400
        locked = await post_login(c, made.staff.email, made.password, fresh_code(made.totp_secret))
        assert locked.status_code == 429 and "Terlalu banyak percobaan gagal" in locked.text
        assert int(locked.headers["retry-after"]) > 0
        assert COOKIE_NAME not in c.cookies
    # Another address does not unlock the account either.
    async with client_for(PLATFORM, peer="10.50.0.2") as c:
        assert (
            await post_login(c, made.staff.email, made.password, fresh_code(made.totp_secret))
        ).status_code == 429


async def test_one_address_guessing_many_accounts_is_limited(app, client_for, database, settings) -> None:
    async with client_for(PLATFORM, peer="10.60.0.1") as c:
        statuses = [
            (await post_login(c, f"guess{i}@kotalive.test", "guess-password-1", "123456")).status_code
            for i in range(21)
        ]
        assert statuses[:20] == [400] * 20 and statuses[20] == 429


async def test_platform_login_exists_only_on_the_platform_host(
    app, client_for, database, settings, make_city
) -> None:
    made = await new_staff(database, settings)
    city = await make_city("ps-host")
    async with client_for(city.primary_host) as c:
        assert (await c.get("/login")).status_code == 404
        page = await c.get("/")
        token = page.cookies.get("kl_csrf") or c.cookies.get("kl_csrf")
        r = await c.post(
            "/login",
            data={"email": made.staff.email, "password": made.password, "code": fresh_code(made.totp_secret)},
            headers={"x-csrftoken": token},
        )
        assert r.status_code == 404 and COOKIE_NAME not in c.cookies


async def test_a_platform_session_is_refused_on_a_city_host(
    app, client_for, database, settings, make_city
) -> None:
    made = await new_staff(database, settings)
    city = await make_city("ps-city")
    async with client_for(PLATFORM, peer="10.70.0.1") as c:
        assert (
            await post_login(c, made.staff.email, made.password, fresh_code(made.totp_secret))
        ).status_code == 303
        session = c.cookies.get(COOKIE_NAME)
    async with client_for(city.primary_host) as c:
        c.cookies.set(COOKIE_NAME, session)
        r = await c.get("/api/v1/agencies")
        assert r.status_code == 401 and r.json()["error"] == "wrong_site"
        assert (await c.get("/staff", headers={"accept": "application/json"})).status_code == 401


async def test_a_form_without_the_csrf_token_is_refused(app, client_for, database, settings) -> None:
    made = await new_staff(database, settings)
    async with client_for(PLATFORM, peer="10.80.0.1") as c:
        await c.get("/login")
        r = await c.post(
            "/login",
            data={"email": made.staff.email, "password": made.password, "code": fresh_code(made.totp_secret)},
        )
        assert r.status_code == 403 and COOKIE_NAME not in c.cookies


async def test_accounts_are_validated(database, settings) -> None:
    async with database.platform_session() as session:
        for bad, field in (
            ({"email": "not-an-email"}, "email"),
            ({"roles": ["city_admin"]}, "role"),
            ({"roles": []}, "role"),
            ({"name": "  "}, "name"),
        ):
            args = {"email": "x@kotalive.test", "name": "X", "roles": ["platform_operator"], **bad}
            with pytest.raises(StaffInputError) as caught:
                await create_staff(session, settings, **args)
            assert caught.value.field == field
        first = await create_staff(
            session, settings, email="dup@kotalive.test", name="D", roles=["platform_operator"]
        )
        with pytest.raises(StaffInputError):
            await create_staff(
                session, settings, email="DUP@kotalive.test", name="D", roles=["platform_operator"]
            )
        assert first.staff.password_hash != first.password
        await session.rollback()


def test_the_cli_creates_an_account_and_prints_the_totp_uri(settings, database) -> None:
    from kotalive.cli import main

    email = f"cli-{secrets.token_hex(4)}@kotalive.test"
    env = {
        "KOTALIVE_ENV": "test",
        "KOTALIVE_DATABASE_URL": settings.database_url,
        "KOTALIVE_REDIS_URL": settings.redis_url,
        "KOTALIVE_PLATFORM_HOST": settings.platform_host,
    }
    result = CliRunner().invoke(
        main, ["staff", "create", email, "--name", "Cli Ops", "--role", "platform_admin"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/Kota%20Live:" in result.output and "password:" in result.output
    secret = re.search(r"TOTP secret: (\w+)", result.output)
    assert secret and pyotp.TOTP(secret.group(1)).now()
    again = CliRunner().invoke(main, ["staff", "create", email, "--name", "Cli Ops"], env=env)
    assert again.exit_code == 2 and "already has an account" in again.output
    listed = CliRunner().invoke(main, ["staff", "list"], env=env)
    assert email in listed.output


async def test_the_totp_secret_is_stored_encrypted(database, settings) -> None:
    async with database.platform_session() as session:
        made = await create_staff(
            session,
            settings,
            email=f"x-{secrets.token_hex(3)}@kotalive.test",
            name="X",
            roles=["platform_operator"],
        )
        await session.commit()
        stored = await session.scalar(select(PlatformStaff).where(PlatformStaff.id == made.staff.id))
        assert stored is not None and made.totp_secret.encode() not in bytes(stored.totp_secret_encrypted)
