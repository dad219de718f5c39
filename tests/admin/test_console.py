"""The platform console (/console/ on the platform host): who gets in, the cities list, a city's
page (domains, modules, MoU, suspend/resume), and the audit rows every change leaves."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from sqlalchemy import select

from kotalive.auth.models import PlatformAuditEntry
from kotalive.auth.principal import Principal
from kotalive.auth.sessions import COOKIE_NAME
from kotalive.tenants.models import Domain, Tenant, TenantModule

PLATFORM = "platform.test"


async def staff_client(
    app: Any, client_for: Any, role: str = "platform_operator", name: str = "Operator Uji"
) -> Any:
    principal = Principal(
        kind="platform_staff", id=700_000 + len(role), tenant_id=None, name=name, roles=frozenset({role})
    )
    token = await app.state.auth.sessions.create(principal)
    client = client_for(PLATFORM)
    client.cookies.set(COOKIE_NAME, token)
    return client


async def csrf(client: Any) -> str:
    token = client.cookies.get("kl_csrf")
    if not token:
        await client.get("/console/")
        token = client.cookies.get("kl_csrf")
    assert token
    return str(token)


async def post(client: Any, path: str, data: dict[str, Any]) -> Any:
    return await client.post(path, data={"_csrf_token": await csrf(client), **data})


def field_error(html: str, field: str) -> str:
    """The error message shown under a field (by its id), or ''."""
    m = re.search(rf'id="f-{field}-error" class="field-error">([^<]*)<', html)
    return m.group(1) if m else ""


async def audit_actions(database: Any, tenant_id: int | None = None) -> list[str]:
    async with database.platform_session() as s:
        q = select(PlatformAuditEntry.action).order_by(PlatformAuditEntry.id)
        if tenant_id is not None:
            q = q.where(PlatformAuditEntry.tenant_id == tenant_id)
        return list(await s.scalars(q))


async def test_only_platform_staff_on_the_platform_host_get_in(app, client_for, make_city) -> None:
    city = await make_city("cons")
    async with client_for(PLATFORM) as anon:
        r = await anon.get("/console/", headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/console"
    # On a city's host the console does not exist, whoever asks.
    employee = Principal(
        kind="employee", id=1, tenant_id=city.id, name="Admin Kota", roles=frozenset({"city_admin"})
    )
    token = await app.state.auth.sessions.create(employee)
    async with client_for(city.primary_host) as c:
        c.cookies.set(COOKIE_NAME, token)
        assert (await c.get("/console/")).status_code == 404
        assert (await c.get(f"/console/cities/{city.slug}")).status_code == 404
    async with client_for(city.primary_host) as anon_city:
        assert (await anon_city.get("/console/", headers={"accept": "text/html"})).status_code == 404
    # A city's login is refused on the platform host, never taken for platform staff.
    async with client_for(PLATFORM) as c:
        c.cookies.set(COOKIE_NAME, token)
        assert (await c.get("/console/")).status_code == 401
    # An operator sees cities but may not suspend or export them (platform_admin's work).
    async with await staff_client(app, client_for) as op:
        page = await op.get("/console/")
        assert page.status_code == 200 and city.slug in page.text
        r = await post(op, f"/console/cities/{city.slug}/status", {"action": "suspend", "confirm": city.slug})
        assert r.status_code == 403
        assert (await post(op, f"/console/cities/{city.slug}/export", {})).status_code == 403


async def test_the_cities_list_searches_filters_and_warns_before_the_mou_expires(
    app, client_for, make_city, database, settings
) -> None:
    today = dt.date.today()
    tag = uuid.uuid4().hex[:5]
    soon = await make_city(
        f"mou{tag}",
        name=f"Kota Segera {tag}",
        mou_number="MoU/1/2026",
        mou_signed_on=today - dt.timedelta(days=300),
        mou_expires_on=today + dt.timedelta(days=10),
        wave=f"w{tag}",
    )
    later = await make_city(
        f"mou{tag}",
        name=f"Kota Nanti {tag}",
        mou_number="MoU/2/2026",
        mou_signed_on=today,
        mou_expires_on=today + dt.timedelta(days=settings.mou_warning_days + 30),
    )
    async with await staff_client(app, client_for) as op:
        page = (await op.get(f"/console/?q={tag}")).text
        assert soon.slug in page and later.slug in page
        row = page[page.index(f'data-slug="{soon.slug}"') :].split("</tr>")[0]
        assert "data-mou-warning" in row and "10 hari" in row
        other = page[page.index(f'data-slug="{later.slug}"') :].split("</tr>")[0]
        assert "data-mou-warning" not in other
        expiring = (await op.get(f"/console/?q={tag}&expiring=1")).text
        assert soon.slug in expiring and later.slug not in expiring
        by_wave = (await op.get(f"/console/?wave=w{tag}")).text
        assert soon.slug in by_wave and later.slug not in by_wave
        by_code = (await op.get(f"/console/?q={tag}&status=suspended")).text
        assert soon.slug not in by_code and "Tidak ada kota yang cocok" in by_code
        english = (await op.get(f"/console/?q={tag}&lang=en")).text
        assert "MoU expires in 10 days" in english


async def test_a_city_page_changes_domains_modules_mou_and_status_with_audit_rows(
    app, client_for, make_city, database, wait_for_status
) -> None:
    city = await make_city("page")
    other = await make_city("pageother")
    async with await staff_client(app, client_for, "platform_admin", "Admin Platform") as adm:
        page = await adm.get(f"/console/cities/{city.slug}")
        assert page.status_code == 200 and city.primary_host in page.text
        # hosts: a bad one, another city's, then a good one that answers at once
        bad = await post(adm, f"/console/cities/{city.slug}/domains", {"host": "not a host!"})
        assert bad.status_code == 422 and "bukan nama host yang sah" in field_error(bad.text, "host")
        taken = await post(adm, f"/console/cities/{city.slug}/domains", {"host": other.primary_host})
        assert taken.status_code == 422 and "sudah dipakai kota lain" in field_error(taken.text, "host")
        new_host = f"lapor-{city.slug}.go.test"
        ok = await post(adm, f"/console/cities/{city.slug}/domains", {"host": new_host})
        assert ok.status_code == 303
        async with client_for(new_host) as c:
            await wait_for_status(c, "/api/v1/city", 200)
        primary_gone = await post(
            adm, f"/console/cities/{city.slug}/domains/remove", {"host": city.primary_host}
        )
        assert primary_gone.status_code == 409
        assert (
            await post(adm, f"/console/cities/{city.slug}/domains/primary", {"host": new_host})
        ).status_code == 303
        assert (
            await post(adm, f"/console/cities/{city.slug}/domains/remove", {"host": city.primary_host})
        ).status_code == 303
        async with database.platform_session() as s:
            hosts = dict(
                (
                    await s.execute(select(Domain.host, Domain.is_primary).where(Domain.tenant_id == city.id))
                ).all()
            )
        assert hosts == {new_host: True}

        # module switch: bad JSON is refused beside the field, a good switch takes effect
        bad_json = await post(
            adm,
            f"/console/cities/{city.slug}/modules",
            {"module": "laksa", "enabled": "on", "config": "{sla: 3"},
        )
        assert bad_json.status_code == 422 and "Bukan JSON yang sah" in bad_json.text
        array = await post(
            adm, f"/console/cities/{city.slug}/modules", {"module": "laksa", "enabled": "on", "config": "[1]"}
        )
        assert array.status_code == 422 and "objek JSON" in array.text
        off = await post(
            adm, f"/console/cities/{city.slug}/modules", {"module": "liveroom", "config": '{"note": "later"}'}
        )
        assert off.status_code == 303
        async with database.platform_session() as s:
            row = await s.get(TenantModule, (city.id, "liveroom"))
        assert row is not None and row.enabled is False and row.config == {"note": "later"}

        # MoU: dates in the wrong order are refused on the expiry field
        wrong = await post(
            adm,
            f"/console/cities/{city.slug}/mou",
            {"mou_number": "X/1", "mou_signed_on": "2026-05-01", "mou_expires_on": "2026-01-01"},
        )
        assert wrong.status_code == 422 and "sesudah tanggal penandatanganan" in field_error(
            wrong.text, "mou_expires_on"
        )
        good = await post(
            adm,
            f"/console/cities/{city.slug}/mou",
            {"mou_number": "X/1", "mou_signed_on": "2026-01-01", "mou_expires_on": "2029-01-01"},
        )
        assert good.status_code == 303

        # suspend needs the slug typed; then the city's host answers 503 until it is resumed
        unconfirmed = await post(
            adm, f"/console/cities/{city.slug}/status", {"action": "suspend", "confirm": "yes"}
        )
        assert unconfirmed.status_code == 422 and city.slug in field_error(
            unconfirmed.text, "confirm-suspend"
        )
        assert (
            await post(
                adm, f"/console/cities/{city.slug}/status", {"action": "suspend", "confirm": city.slug}
            )
        ).status_code == 303
        async with client_for(new_host) as c:
            r = await wait_for_status(c, "/", 503)
            assert "dihentikan" in r.text or "suspended" in r.text.lower()
        assert (
            await post(adm, f"/console/cities/{city.slug}/status", {"action": "resume", "confirm": city.slug})
        ).status_code == 303
        async with client_for(new_host) as c:
            await wait_for_status(c, "/", 200)

        exported = await post(adm, f"/console/cities/{city.slug}/export", {})
        assert exported.status_code == 200 and exported.headers["content-type"] == "application/gzip"
        assert exported.content[:2] == b"\x1f\x8b"
        assert city.slug in exported.headers["content-disposition"]

    actions = await audit_actions(database, city.id)
    for expected in (
        "console.domain.added",
        "console.domain.primary",
        "console.domain.removed",
        "console.module.off",
        "console.mou.changed",
        "console.city.suspend",
        "console.city.resume",
        "console.city.exported",
    ):
        assert expected in actions, (expected, actions)
    async with database.platform_session() as s:
        entry = await s.scalar(
            select(PlatformAuditEntry).where(
                PlatformAuditEntry.tenant_id == city.id, PlatformAuditEntry.action == "console.city.suspend"
            )
        )
    assert (
        entry is not None and entry.actor_kind == "platform_staff" and entry.actor_label == "Admin Platform"
    )
    async with await staff_client(app, client_for) as op:
        log = (await op.get(f"/console/audit?city={city.slug}&action=console.city")).text
        assert 'data-action="console.city.suspend"' in log and 'data-action="console.domain.added"' not in log
    async with database.platform_session() as s:
        assert (await s.get(Tenant, city.id)).mou_number == "X/1"  # type: ignore[union-attr]


def test_the_admin_is_a_surface_found_by_entry_point() -> None:
    """The core finds the admin through the ``kotalive.surfaces`` entry point (it never imports
    it): its routes, texts, permissions, jobs and templates come from the spec."""
    import pytest

    from kotalive.auth.roles import PermissionTable
    from kotalive.i18n import translate
    from kotalive.pages import environment
    from kotalive.registry import Permission, discover_surfaces, surface_permissions, surface_routes

    surfaces = discover_surfaces()
    assert [s.name for s in surfaces] == ["admin"]
    paths = {route.path for router in surface_routes(surfaces) for route in getattr(router, "routes", [])}
    assert "/console" in paths and "/console/onboarding/{task_id:int}/step/{step:str}" in paths
    names = {p.name for p in surface_permissions(surfaces)}
    assert {"platform.tenants.onboard", "platform.rollouts.run", "platform.audit.view"} <= names
    assert environment().get_template("admin/forms.html") is not None
    assert translate("admin.console.title", "en") == "Platform Console"
    with pytest.raises(ValueError, match="declared twice"):
        PermissionTable.build(None, [Permission("core.audit.view", "again", ("city_admin",))])


async def test_an_onboarding_no_worker_took_waits_with_a_retry(app, client_for, database) -> None:
    slug = f"wait-{uuid.uuid4().hex[:6]}"
    async with await staff_client(app, client_for) as op:
        form = {
            "name": f"Kota {slug}",
            "slug": slug,
            "kind": "kota",
            "region_code": "3671",
            "timezone": "Asia/Jakarta",
        }
        step2 = (await post(op, "/console/onboarding", form)).headers["location"]
        step3 = (await post(op, step2, {"domains": f"{slug}.kota.test"})).headers["location"]
        step4 = (await post(op, step3, {"modules": "laksa"})).headers["location"]
        done = await post(op, step4, {"admin_name": "A", "admin_email": "a@kota.test", "admin_nip": "1" * 18})
        fragment = (await op.get(done.headers["location"] + "/progress")).text
        assert (
            'data-status="queued"' in fragment and "kotalive worker" in fragment and "Coba lagi" in fragment
        )
        assert "data-finished" not in fragment
        listing = (await op.get("/console/onboarding")).text
        assert f"Kota {slug}" in listing and "menunggu" in listing


async def test_every_console_page_is_worded_in_both_languages(app, client_for, make_city) -> None:
    """No page shows a text key instead of its text, in Indonesian or English."""
    city = await make_city(
        "words", mou_number="1/MoU", mou_signed_on=dt.date(2026, 1, 1), mou_expires_on=dt.date(2026, 2, 1)
    )
    pages = [
        "/console/",
        f"/console/?q={city.slug}",
        "/console/?q=nothing-matches-this",
        f"/console/cities/{city.slug}",
        "/console/onboarding",
        "/console/onboarding/new",
        "/console/rollouts",
        "/console/drift",
        "/console/audit",
    ]
    async with await staff_client(app, client_for, "platform_admin") as adm:
        for lang in ("id", "en"):
            for path in pages:
                r = await adm.get(path + ("&" if "?" in path else "?") + f"lang={lang}")
                assert r.status_code == 200, (path, r.status_code)
                assert f'<html lang="{lang}">' in r.text
                leftovers = re.findall(r"\b(?:admin|platform)\.[a-z_]+\.[a-z_.]+\b", r.text)
                assert leftovers == [], (lang, path, leftovers)
        english = (await adm.get(f"/console/cities/{city.slug}?lang=en")).text
        assert "MoU expired" in english and "Type " + city.slug + " to confirm" in english
