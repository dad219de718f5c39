"""Onboarding in the platform console: the wizard's checks beside each field, then provisioning in
a real Dramatiq worker with its progress, the first city admin's grant and invitation e-mail on a
real SMTP server, a failure shown with a retry that resumes; and rollouts of a wave with their
progress, and the drift report."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from notify_support import SmtpServer
from sqlalchemy import select, text
from support import wait_until
from test_console import PLATFORM, audit_actions, csrf, field_error, post, staff_client

from kotalive.admin.console.models import ConsoleTask
from kotalive.auth.crypto import Vault
from kotalive.auth.models import Employee, RoleGrant
from kotalive.context import schema_for
from kotalive.db import quote_ident
from kotalive.tenants.integrations import get_integration
from kotalive.tenants.models import Domain, MigrationRun, Tenant, TenantModule

NIP = "198703122010011004"
ISSUER = "https://sso.kota.test/realms/pegawai"
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[106.60, -6.20], [106.70, -6.20], [106.70, -6.10], [106.60, -6.10], [106.60, -6.20]]],
}
BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[106.60, -6.20], [106.70, -6.10], [106.70, -6.20], [106.60, -6.10], [106.60, -6.20]]],
}


@pytest.fixture
def smtp() -> Any:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def console_worker(settings: Any, modules: Any, smtp: SmtpServer) -> AsyncIterator[Any]:
    """A real Dramatiq worker (own Redis namespace) whose settings name the test SMTP server as the
    platform's mail server: the console's jobs run here."""
    from dramatiq import Worker

    from kotalive.jobs import create_broker, use_jobs

    mail = f"smtp://127.0.0.1:{smtp.port}/?security=none&from=platform@kotalive.test&timeout=5"
    worker_settings = settings.with_(platform_mail_url=mail)
    namespace = f"kotalive-test-{uuid.uuid4().hex[:10]}"
    broker = create_broker(worker_settings, namespace=namespace)
    with use_jobs(worker_settings, modules, broker=broker):
        worker = Worker(broker, worker_threads=1, worker_timeout=50)
        worker.start()
        try:
            yield broker
        finally:
            await asyncio.to_thread(worker.stop, 5000)
    keys = list(broker.client.scan_iter(f"{namespace}:*"))
    if keys:
        broker.client.delete(*keys)
    broker.close()


def city_form(slug: str, **changes: str) -> dict[str, str]:
    return {
        "name": f"Kota Uji {slug}",
        "slug": slug,
        "kind": "kota",
        "region_code": "3671",
        "timezone": "Asia/Jakarta",
        "boundary": json.dumps(SQUARE),
        "mou_number": "119/MoU/2026",
        "mou_signed_on": "2026-01-15",
        "mou_expires_on": "2029-01-14",
        **changes,
    }


async def task_of(database: Any, location: str) -> ConsoleTask:
    task_id = int(re.search(r"/console/onboarding/(\d+)", location).group(1))  # type: ignore[union-attr]
    async with database.platform_session() as s:
        task = await s.get(ConsoleTask, task_id)
    assert task is not None
    return task


async def wait_finished(client: Any, path: str, within: float = 30.0) -> str:
    """Poll a progress fragment until it says it is finished (as the page's script does)."""
    last: list[str] = []

    async def finished() -> bool:
        r = await client.get(path)
        last[:] = [r.text]
        return r.status_code == 200 and "data-finished" in r.text

    try:
        await wait_until(finished, f"{path} to finish", within)
    except AssertionError:
        raise AssertionError(last[0] if last else path) from None
    return last[0]


async def test_each_step_refuses_bad_answers_beside_the_field(app, client_for, make_city, database) -> None:
    taken = await make_city("taken")
    async with await staff_client(app, client_for) as op:
        r = await post(
            op,
            "/console/onboarding",
            city_form(
                taken.slug,
                name="",
                region_code="9999",
                boundary=json.dumps(BOWTIE),
                mou_signed_on="2026-05-01",
                mou_expires_on="2026-04-01",
            ),
        )
        assert r.status_code == 422
        assert field_error(r.text, "name") == "Wajib diisi."
        assert "sudah dipakai" in field_error(r.text, "slug")
        assert "9999 bukan kode wilayah" in field_error(r.text, "region_code")
        assert "bukan poligon yang sah" in field_error(r.text, "boundary")
        assert "sesudah tanggal penandatanganan" in field_error(r.text, "mou_expires_on")
        assert 'aria-describedby="f-slug-help f-slug-error"' in r.text and 'aria-invalid="true"' in r.text
        not_json = await post(
            op, "/console/onboarding", city_form("kota-x" + uuid.uuid4().hex[:4], boundary="{")
        )
        assert "Bukan JSON yang sah" in field_error(not_json.text, "boundary")
        point = await post(
            op,
            "/console/onboarding",
            city_form("kota-y" + uuid.uuid4().hex[:4], boundary='{"type": "Point", "coordinates": [1, 2]}'),
        )
        assert "GeoJSON Polygon" in field_error(point.text, "boundary")
        reserved = await post(op, "/console/onboarding", city_form("console"))
        assert "reserved" in field_error(reserved.text, "slug")
        english = await op.post(
            "/console/onboarding?lang=en",
            data={"_csrf_token": await csrf(op), **city_form("Bad Slug!", region_code="12")},
        )
        assert "lower-case letters" in field_error(english.text, "slug")
        assert "A region code has 4 digits." == field_error(english.text, "region_code")
        await op.get("/console/?lang=id")  # the choice sticks (a cookie): back to Indonesian

        slug = f"wiz-{uuid.uuid4().hex[:6]}"
        started = await post(op, "/console/onboarding", city_form(slug))
        assert started.status_code == 303
        step2 = started.headers["location"]
        assert step2.endswith("/step/domains")
        # the form proposes <slug>.<base domain>
        assert f"{slug}.kota.test" in (await op.get(step2)).text
        # a step not reached yet sends back to the furthest one
        task = await task_of(database, step2)
        ahead = await op.get(f"/console/onboarding/{task.id}/step/admin")
        assert ahead.status_code == 303 and ahead.headers["location"].endswith("/step/domains")
        bad_hosts = await post(
            op, step2, {"domains": f"ok-{slug}.go.test\nnot a host\n{taken.primary_host}\nok-{slug}.go.test"}
        )
        assert bad_hosts.status_code == 422
        message = field_error(bad_hosts.text, "domains")
        assert "not a host bukan nama host" in message and f"{taken.primary_host} sudah dipakai" in message
        assert "ditulis dua kali" in message
        assert (await post(op, step2, {"domains": ""})).status_code == 422
        step3 = (await post(op, step2, {"domains": f"{slug}.kota.test"})).headers["location"]
        bad_config = await op.post(
            step3,
            data={
                "_csrf_token": await csrf(op),
                "modules": ["laksa"],
                "config_laksa": "[1, 2]",
                "config_liveroom": "{oops",
            },
        )
        assert bad_config.status_code == 422
        assert "objek JSON" in field_error(bad_config.text, "config_laksa")
        assert "Bukan JSON yang sah" in field_error(bad_config.text, "config_liveroom")
        step4 = (await op.post(step3, data={"_csrf_token": await csrf(op), "modules": ["laksa"]})).headers[
            "location"
        ]
        bad_admin = await post(op, step4, {"admin_name": "", "admin_email": "nope", "admin_nip": "123"})
        assert bad_admin.status_code == 422
        assert field_error(bad_admin.text, "admin_name") == "Wajib diisi."
        assert "alamat surel yang sah" in field_error(bad_admin.text, "admin_email")
        assert field_error(bad_admin.text, "admin_nip") == "NIP terdiri dari 18 angka."
    async with database.platform_session() as s:  # nothing is made before the last step
        assert await s.scalar(select(Tenant).where(Tenant.slug == slug)) is None
    # Someone makes a city with this slug (same name and region) while the draft waits: submitting
    # refuses, rather than taking that city over.
    await make_city(slug=slug, name=f"Kota Uji {slug}", region_code="3671")
    async with await staff_client(app, client_for) as op:
        late = await post(op, step4, {"admin_name": "Siti", "admin_email": "s@kota.test", "admin_nip": NIP})
        assert late.status_code == 422 and "sudah dipakai kota lain sejak langkah 1" in late.text


async def test_a_city_is_onboarded_end_to_end_and_its_admin_is_invited(
    app, client_for, database, settings, console_worker, smtp, wait_for_status
) -> None:
    slug = f"onb-{uuid.uuid4().hex[:6]}"
    host, second = f"{slug}.kota.test", f"lapor.{slug}.go.test"
    email = f"admin.{slug}@kota.test"
    async with await staff_client(app, client_for, name="Operator Satu") as op:
        step2 = (await post(op, "/console/onboarding", city_form(slug))).headers["location"]
        step3 = (await post(op, step2, {"domains": f"{host}\n{second}"})).headers["location"]
        step4 = (
            await op.post(
                step3,
                data={
                    "_csrf_token": await csrf(op),
                    "modules": ["laksa", "hotline112"],
                    "config_laksa": '{"sla_hours": 48}',
                },
            )
        ).headers["location"]
        admin = {"admin_name": "Siti Rahayu", "admin_email": email, "admin_nip": "1987 0312 2010 0110 04"}
        no_url = await post(op, step4, {**admin, "oidc_issuer": "sso.kota.test", "oidc_client_id": "kl"})
        assert no_url.status_code == 422 and "https://" in field_error(no_url.text, "oidc_issuer")
        done = await post(
            op,
            step4,
            {
                **admin,
                "oidc_issuer": ISSUER,
                "oidc_client_id": "kotalive-web",
                "oidc_client_secret": "s3cret-value",
            },
        )
        assert done.status_code == 303
        progress_page = done.headers["location"]
        task = await task_of(database, progress_page)
        page = await op.get(progress_page)
        assert page.status_code == 200 and 'data-poll="/console/onboarding/' in page.text
        fragment = await wait_finished(op, f"/console/onboarding/{task.id}/progress")
        assert 'data-status="done"' in fragment, fragment
        for step in ("registered", "schema", "seeded", "active", "login", "invitation"):
            assert re.search(rf'class="done" data-step="{step}"', fragment), (step, fragment)
        assert f"terkirim ke {email}" in fragment
        assert f"http://{host}/staff/login" in fragment or f"https://{host}/staff/login" in fragment

    # The city answers on both hosts, with the modules chosen
    async with client_for(second) as c:
        info = (await wait_for_status(c, "/api/v1/city", 200)).json()  # type: ignore[attr-defined]
    assert info["slug"] == slug and info["modules"] == ["hotline112", "laksa"]
    async with database.platform_session() as s:
        tenant = await s.scalar(select(Tenant).where(Tenant.slug == slug))
        assert tenant is not None and tenant.status == "active" and tenant.mou_number == "119/MoU/2026"
        assert tenant.boundary == SQUARE and tenant.region_code == "3671"
        primary = await s.scalar(select(Domain.host).where(Domain.tenant_id == tenant.id, Domain.is_primary))
        config = await s.get(TenantModule, (tenant.id, "laksa"))
    assert primary == host and config is not None and config.config == {"sla_hours": 48}

    # The first admin: an employee with the city_admin grant, and the invitation in the mailbox
    ctx = app.state.directory
    city = await ctx.by_host(host)
    async with database.tenant_session(city) as s:
        employee = await s.scalar(select(Employee).where(Employee.nip == NIP))
        assert employee is not None and employee.email == email and employee.name == "Siti Rahayu"
        roles = set(
            await s.scalars(
                select(RoleGrant.role).where(
                    RoleGrant.subject_id == employee.id, RoleGrant.subject_kind == "employee"
                )
            )
        )
    assert roles == {"city_admin"}
    # Its employee login is connected, the secret stored encrypted (never in the task's row).
    async with database.tenant_session(city) as s:
        login = await get_integration(s, Vault.from_settings(settings), "oidc")
    assert (
        login is not None
        and login.config["issuer"] == ISSUER
        and login.secrets == {"client_secret": "s3cret-value"}
    )
    async with database.platform_session() as s:
        row = await s.scalar(select(ConsoleTask).where(ConsoleTask.data["city"]["slug"].astext == slug))
    assert row is not None and "s3cret-value" not in json.dumps(row.data)
    await wait_until(lambda: smtp.mailbox.to(email), "the invitation e-mail", 10)
    mail = smtp.mailbox.to(email)[0]
    assert f"Kota Uji {slug}" in mail["Subject"]
    body = mail.get_payload(decode=True).decode()
    assert "Siti Rahayu" in body and "/staff/login" in body and NIP in body

    # "Send again": this web process has no platform mail server configured, and says so.
    async with await staff_client(app, client_for) as op:
        again = await post(op, f"/console/onboarding/{task.id}/resend", {})
        assert (
            again.status_code == 303
            and "notice=admin.console.notice.invitation_not_configured" in again.headers["location"]
        )
        shown = (await op.get(again.headers["location"])).text
        assert "Server surel platform belum diatur" in shown

    # The switch works on the city's host: laksa off, its pages are gone
    async with await staff_client(app, client_for, "platform_admin") as adm:
        assert (await post(adm, f"/console/cities/{slug}/modules", {"module": "laksa"})).status_code == 303
    async with client_for(host) as c:
        await wait_for_status(c, "/peta", 404)

    actions = await audit_actions(database)
    assert {
        "console.onboarding.started",
        "console.onboarding.step",
        "console.onboarding.submitted",
        "console.city.onboarded",
        "console.invitation.resent",
        "console.module.off",
    } <= set(actions)
    async with database.tenant_session(city) as s:
        city_audit = list(
            await s.execute(text(f"SELECT action, actor_kind FROM {schema_for(city.id)}.audit_entry"))  # noqa: S608
        )
    assert ("role.granted", "platform_staff") in [tuple(r) for r in city_audit]


async def test_a_failed_onboarding_says_what_to_do_and_resumes(
    app, client_for, database, console_worker, make_city
) -> None:
    slug = f"fail-{uuid.uuid4().hex[:6]}"
    host = f"{slug}.kota.test"
    async with await staff_client(app, client_for) as op:
        step2 = (await post(op, "/console/onboarding", city_form(slug))).headers["location"]
        step3 = (await post(op, step2, {"domains": host})).headers["location"]
        step4 = (await op.post(step3, data={"_csrf_token": await csrf(op), "modules": ["laksa"]})).headers[
            "location"
        ]
        # Another city takes the host between the wizard and provisioning.
        thief = await make_city("thief", domains=[host])
        done = await post(
            op, step4, {"admin_name": "Budi", "admin_email": f"b.{slug}@kota.test", "admin_nip": NIP}
        )
        task = await task_of(database, done.headers["location"])
        fragment = await wait_finished(op, f"/console/onboarding/{task.id}/progress")
        assert 'data-status="failed"' in fragment and "already belongs to another city" in fragment
        assert "Coba lagi" in fragment and "Perbaiki isian" in fragment
        # The host is given back; retry resumes and the city comes up.
        async with database.platform_session() as s, s.begin():
            await s.execute(Domain.__table__.delete().where(Domain.host == host))
        _ = thief
        retried = await post(op, f"/console/onboarding/{task.id}/retry", {})
        assert retried.status_code == 303
        fragment = await wait_finished(op, f"/console/onboarding/{task.id}/progress")
        assert 'data-status="done"' in fragment, fragment
        # a finished onboarding cannot be retried or changed
        again = await post(op, f"/console/onboarding/{task.id}/retry", {})
        assert again.status_code == 409
        closed = await post(op, f"/console/onboarding/{task.id}/step/city", city_form(slug))
        assert closed.status_code == 409
    assert "console.onboarding.retried" in await audit_actions(database)


async def set_revision(conn: Any, tenant_id: int, revision: str | None) -> None:
    """Write a city's recorded Alembic revision (None: the one the registry says it has)."""
    table = f"{quote_ident(schema_for(tenant_id))}.alembic_version"
    if revision is None:
        sql = f"UPDATE {table} SET version_num = (SELECT schema_revision FROM platform.tenant WHERE id = :id)"  # noqa: S608
        await conn.execute(text(sql), {"id": tenant_id})
    else:
        await conn.execute(text(f"UPDATE {table} SET version_num = :rev"), {"rev": revision})  # noqa: S608


async def test_a_wave_migrates_canary_first_with_progress_and_a_failing_city(
    app, client_for, database, console_worker, make_city
) -> None:
    wave = f"canary-{uuid.uuid4().hex[:5]}"
    cities = [await make_city("roll", wave=wave) for _ in range(3)]
    broken = cities[1]
    async with database.engine.begin() as conn:  # a city whose recorded revision no release knows
        await set_revision(conn, broken.id, "bogus1")
    try:
        async with await staff_client(app, client_for) as op:
            page = await op.get("/console/rollouts")
            assert page.status_code == 200 and all(c.slug in page.text for c in cities)
            unknown = await post(op, "/console/rollouts", {"wave": "no-such-wave"})
            assert unknown.status_code == 422 and "tidak ada" in unknown.text
            started = await post(op, "/console/rollouts", {"wave": wave})
            assert started.status_code == 303
            run = started.headers["location"]
            fragment = await wait_finished(op, run + "/progress")
            assert 'data-status="failed"' in fragment
            for c in cities:
                expected = "failed" if c is broken else "ok"
                assert f'data-slug="{c.slug}" data-result="{expected}"' in fragment, (c.slug, fragment)
            assert "bogus1" in fragment and "3 dari 3 kota" in fragment
            async with database.platform_session() as s:
                runs = list(
                    await s.scalars(
                        select(MigrationRun).where(MigrationRun.tenant_id.in_([c.id for c in cities]))
                    )
                )
                bad = await s.get(Tenant, broken.id)
            assert len(runs) == 3 and sum(not r.ok for r in runs) == 1
            assert (
                bad is not None
                and bad.last_migration_ok is False
                and "bogus1" in (bad.last_migration_error or "")
            )
            city_page = (await op.get(f"/console/cities/{broken.slug}")).text
            assert "bogus1" in city_page
            # fixed by hand, retry migrates only the failed city
            async with database.engine.begin() as conn:
                await set_revision(conn, broken.id, bad.schema_revision)
            await post(op, run + "/retry", {})
            fragment = await wait_finished(op, run + "/progress")
            assert 'data-status="done"' in fragment
            async with database.platform_session() as s:
                after = list(
                    await s.scalars(
                        select(MigrationRun).where(MigrationRun.tenant_id.in_([c.id for c in cities]))
                    )
                )
            assert len(after) == 4  # the two cities that had migrated were not run again
            # a wave is assigned from the rollouts page (and a bad name is refused)
            bad_wave = await post(
                op, f"/console/cities/{cities[0].slug}/wave", {"wave": "Bad Wave", "back": "rollouts"}
            )
            assert bad_wave.status_code == 422 and "huruf kecil" in bad_wave.text
            moved = await post(
                op, f"/console/cities/{cities[0].slug}/wave", {"wave": "wave-2", "back": "rollouts"}
            )
            assert moved.status_code == 303 and moved.headers["location"].startswith("/console/rollouts")
    finally:
        async with database.engine.begin() as conn:
            await set_revision(conn, broken.id, None)
    assert {
        "console.rollout.started",
        "console.rollout.finished",
        "console.rollout.retried",
        "console.wave.set",
    } <= set(await audit_actions(database))


async def test_the_drift_report_shows_a_city_changed_by_hand(app, client_for, database, make_city) -> None:
    city = await make_city("drift")
    async with database.engine.begin() as conn:
        await conn.exec_driver_sql(f'ALTER TABLE "{schema_for(city.id)}".agency ADD COLUMN by_hand text')
    try:
        async with await staff_client(app, client_for) as op:
            assert "data-drifted" not in (await op.get("/console/drift")).text  # only on demand
            report = (await op.get("/console/drift?run=1")).text
            section = report[report.index(f'data-slug="{city.slug}"') :].split("</section>")[0]
            assert "extra column agency.by_hand" in section
    finally:
        async with database.engine.begin() as conn:
            await conn.exec_driver_sql(f'ALTER TABLE "{schema_for(city.id)}".agency DROP COLUMN by_hand')
    _ = PLATFORM
