"""The city admin's integrations against the simulators (SIAK, OpenID provider, SMTP mail sink),
webhooks with a signed test call to a real loopback receiver, the wording of notifications, and
the audit log page with its filters and CSV."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from test_city_admin import HTML, audit_actions, city_admin, field_error, page_form

from kotalive.tenants.city_models import IntegrationSetting


async def test_siak_oidc_and_smtp_connected_and_tested(app, client_for, database, make_city, sims) -> None:
    city = await make_city("admc")
    admin = await city_admin(app, client_for, database, city)
    conf = sims.city_settings("tangerang")
    listing = await admin.client.get("/admin/integrations", headers=HTML)
    assert listing.status_code == 200 and listing.text.count("Belum terhubung") == 5

    siak = conf["siak"]
    assert (
        await page_form(admin, "/admin/integrations/siak", {**siak, "timeout_seconds": "5", "enabled": "on"})
    ).status_code == 303
    r = await page_form(admin, "/admin/integrations/siak/test", {})
    assert r.status_code == 200 and "SIAK answered" in r.text
    # Switched off and on again with the key field left empty: the stored key is kept throughout.
    plain = {"base_url": siak["base_url"], "api_key": "", "timeout_seconds": "5", "enabled_sent": "1"}
    assert (await page_form(admin, "/admin/integrations/siak", plain)).status_code == 303
    async with database.tenant_session(city) as session:
        assert (await session.get(IntegrationSetting, "siak")).enabled is False  # type: ignore[union-attr]
    assert (await page_form(admin, "/admin/integrations/siak", {**plain, "enabled": "on"})).status_code == 303
    r = await page_form(admin, "/admin/integrations/siak/test", {})
    assert r.status_code == 200 and "SIAK answered" in r.text

    oidc = conf["oidc"]
    bad = await page_form(admin, "/admin/integrations/oidc", {**oidc, "issuer": "nope"})
    assert bad.status_code == 422 and field_error(bad.text, "issuer")
    assert (await page_form(admin, "/admin/integrations/oidc", {**oidc, "enabled": "on"})).status_code == 303
    r = await page_form(admin, "/admin/integrations/oidc/test", {})
    assert r.status_code == 200 and "discovery document" in r.text, r.text[-2000:]
    page = await admin.client.get("/admin/integrations/oidc", headers=HTML)
    assert oidc["client_secret"] not in page.text and "/staff/callback" in page.text

    smtp = dict(conf["smtp"])
    bad = await page_form(admin, "/admin/integrations/smtp", {**smtp, "security": "ssl3"})
    assert bad.status_code == 422 and "starttls" in field_error(bad.text, "security")
    assert (
        await page_form(
            admin, "/admin/integrations/smtp", {**{k: str(v) for k, v in smtp.items()}, "enabled": "on"}
        )
    ).status_code == 303
    r = await page_form(admin, "/admin/integrations/smtp/test", {})
    assert r.status_code == 200 and "SMTP server" in r.text
    # The simulators stop answering a wrong port: the test says why, nothing else changes.
    assert (
        await page_form(
            admin,
            "/admin/integrations/smtp",
            {**{k: str(v) for k, v in smtp.items()}, "port": "1", "enabled": "on"},
        )
    ).status_code == 303
    r = await page_form(admin, "/admin/integrations/smtp/test", {})
    assert r.status_code == 502 and "Koneksi gagal" in r.text

    async with database.tenant_session(city) as session:
        rows = {r.kind: r for r in (await session.scalars(select(IntegrationSetting))).all()}
    assert set(rows) == {"siak", "oidc", "smtp"}
    assert siak["api_key"] not in str(rows["siak"].config) and rows["siak"].secrets_encrypted
    assert (await admin.client.get("/admin/integrations/ldap", headers=HTML)).status_code == 404
    await admin.aclose()


@asynccontextmanager
async def receiver(status: int = 200) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A real HTTP receiver on loopback that answers ``status`` and keeps what it was sent."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                (
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                b"0",
            )
        )
        seen.append(head + await reader.readexactly(length))
        writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook", seen
    finally:
        server.close()
        await server.wait_closed()


async def test_webhooks_added_tested_and_switched_off(app, client_for, database, make_city) -> None:
    city = await make_city("admc")
    admin = await city_admin(app, client_for, database, city)
    bad = await page_form(
        admin,
        "/admin/integrations/webhooks",
        {"name": "Dasbor", "url": "http://example.com/x", "events": "laksa.*"},
    )
    assert bad.status_code == 422 and "https://" in field_error(bad.text, "url")
    async with receiver() as (url, seen):
        added = await page_form(
            admin, "/admin/integrations/webhooks", {"name": "Dasbor", "url": url, "events": "laksa.*"}
        )
        assert added.status_code == 201
        secret = added.text.split('id="new-secret">')[1].split("<")[0]
        from kotalive.notify.models import WebhookEndpoint

        async with database.tenant_session(city) as session:
            endpoint = await session.scalar(select(WebhookEndpoint.id))
        tested = await page_form(admin, f"/admin/integrations/webhooks/{endpoint}/test", {})
        assert tested.status_code == 200 and "HTTP 200" in tested.text
        assert secret not in tested.text  # shown once, when it was made
    # The call was signed with the webhook's secret: the receiver can check it.
    head, _, body = seen[0].partition(b"\r\n\r\n")
    headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
    stamp = headers[b"x-kotalive-timestamp"].decode()
    expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers[b"x-kotalive-signature"].decode() == expected
    async with receiver(500) as (url, _):
        async with database.tenant_session(city) as session:
            row = await session.get(WebhookEndpoint, endpoint)
            assert row is not None
            row.url = url
            await session.commit()
        failed = await page_form(admin, f"/admin/integrations/webhooks/{endpoint}/test", {})
        assert failed.status_code == 502 and "500" in failed.text
    assert (await page_form(admin, f"/admin/integrations/webhooks/{endpoint}/delete", {})).status_code == 303
    assert (
        await page_form(admin, f"/admin/integrations/webhooks/{(endpoint or 0) + 99}/delete", {})
    ).status_code == 404
    assert {"admin.webhook.added", "admin.webhook.tested", "admin.webhook.removed"} <= set(
        await audit_actions(database, city)
    )
    await admin.aclose()


async def test_notification_wording(app, client_for, database, make_city) -> None:
    city = await make_city("admc")
    admin = await city_admin(app, client_for, database, city)
    listing = await admin.client.get("/admin/messages", headers=HTML)
    assert listing.status_code == 200
    key = next(m.key for m in app.state.modules.messages() if m.sample)
    page = await admin.client.get(f"/admin/messages/{key}", headers=HTML)
    assert page.status_code == 200
    bad = await page_form(
        admin, f"/admin/messages/{key}/sms/id", {"sms_id_body": "Halo {{ tidak_ada_nilai_ini }}"}
    )
    assert bad.status_code == 422 and "Teks ditolak" in field_error(bad.text, "sms_id_body")
    message = next(m for m in app.state.modules.messages() if m.key == key)
    name = next(iter(message.sample))
    ok = await page_form(admin, f"/admin/messages/{key}/sms/id", {"sms_id_body": f"Kabar: {{{{ {name} }}}}"})
    assert ok.status_code == 303
    page = await admin.client.get(f"/admin/messages/{key}", headers=HTML)
    assert f"Kabar: {{{{ {name} }}}}" in page.text and "teks kota" in page.text
    assert (await page_form(admin, f"/admin/messages/{key}/sms/id/reset", {})).status_code == 303
    assert (await admin.client.get("/admin/messages/no.such.message", headers=HTML)).status_code == 404
    assert (await page_form(admin, f"/admin/messages/{key}/fax/id", {"fax_id_body": "x"})).status_code == 404
    assert {"admin.wording.set", "admin.wording.reset"} <= set(await audit_actions(database, city))
    await admin.aclose()


async def test_the_audit_log_filters_and_exports(app, client_for, database, make_city) -> None:
    city = await make_city("admc")
    admin = await city_admin(app, client_for, database, city)
    await page_form(admin, "/admin/agencies/import", {})
    page = await admin.client.get("/admin/audit", params={"action": "admin."}, headers=HTML)
    assert page.status_code == 200 and "admin.agency.imported" in page.text
    none = await admin.client.get(
        "/admin/audit",
        params={"action": "login.", "since": "2001-01-01", "until": "2001-01-02"},
        headers=HTML,
    )
    assert 'id="audit-empty"' in none.text
    bad = await admin.client.get("/admin/audit", params={"since": "kemarin"}, headers=HTML)
    assert bad.status_code == 422 and "TTTT-BB-HH" in field_error(bad.text, "since")
    csv_link = page.text.split('id="audit-csv"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert csv_link == "/api/v1/audit/export.csv?action=admin."
    export = await admin.client.get(csv_link.replace("&amp;", "&"))
    assert export.status_code == 200 and "admin.agency.imported" in export.text
    assert "audit.exported" in await audit_actions(database, city)  # the export is itself on the log
    await admin.aclose()


async def test_branding_colours_and_logo_reach_the_citys_pages(app, client_for, database, make_city) -> None:
    from laksa_support import jpeg

    city = await make_city("admc")
    other = await make_city("admc")
    admin = await city_admin(app, client_for, database, city)
    async with client_for(city.primary_host) as visitor:
        home = await visitor.get("/", headers=HTML)
        assert '<link rel="stylesheet" href="/branding.css">' in home.text
        assert "default look" in (await visitor.get("/branding.css")).text
        assert (await visitor.get("/branding/logo")).status_code == 404

    bad = await admin.client.post(
        "/admin/branding",
        data={"_csrf_token": admin.csrf, "primary_colour": "hijau", "accent_colour": "#ffff00"},
        files={"logo": ("logo.png", b"not an image", "image/png")},
        headers=HTML,
    )
    assert bad.status_code == 422
    assert "kode hex" in field_error(bad.text, "primary_colour")
    assert "Terlalu terang" in field_error(bad.text, "accent_colour")  # yellow links on white
    assert "bukan gambar" in field_error(bad.text, "logo")
    ok = await admin.client.post(
        "/admin/branding",
        data={
            "_csrf_token": admin.csrf,
            "display_name": "Kota Uji LIVE",
            "primary_colour": "#1D4ED8",
            "accent_colour": "#036",
        },
        files={"logo": ("logo.jpg", jpeg(900, 300), "image/jpeg")},
        headers=HTML,
    )
    assert ok.status_code == 303, field_error(ok.text, "logo")
    from kotalive.admin.city import branding

    branding.forget(city.schema)
    assert "Kota Uji LIVE · Admin kota" in (await admin.client.get("/admin/", headers=HTML)).text
    async with client_for(city.primary_host) as visitor:
        css = (await visitor.get("/branding.css")).text
        assert "--accent: #1d4ed8" in css and "#003366" in css and "/branding/logo?v=" in css
        logo = await visitor.get("/branding/logo")
        assert logo.status_code == 200 and logo.headers["content-type"] == "image/png"
        from io import BytesIO

        from PIL import Image

        assert Image.open(BytesIO(logo.content)).size[0] <= 480  # re-encoded, smaller
    async with client_for(other.primary_host) as elsewhere:
        assert "default look" in (await elsewhere.get("/branding.css")).text  # one city's look only
    async with client_for("platform.test") as platform:
        assert (await platform.get("/branding.css")).status_code == 404
    assert "admin.branding.changed" in await audit_actions(database, city)
    await admin.aclose()
