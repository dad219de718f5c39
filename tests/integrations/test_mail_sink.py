"""The mail sink (infra/simulators, SMTP via aiosmtpd) against the platform's own e-mail sender:
one SMTP port for every demo city, the login names the city, messages kept per city and shown on an
inbox page and a JSON API; refusals on demand; the demo wiring points the cities at it."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from kotalive_simulators import SimulatorHandle

from kotalive.notify.channels import Permanent, Retry, SmtpConfig, make_message_id, send_email
from kotalive.tenants.connections import check_connection
from kotalive.tenants.demo import demo_inboxes, demo_integrations, simulator_urls

AGUS = "agus.setiawan@pemkot-tangerang.test"


def smtp_config(sims: SimulatorHandle, city: str = "tangerang", **overrides: Any) -> SmtpConfig:
    values = {**sims.city_settings(city)["smtp"], **overrides}
    password = values.pop("password")
    return SmtpConfig.from_integration(values, {"password": password} if password else {})


def unique_address() -> str:
    return f"pegawai-{uuid.uuid4().hex[:8]}@pemkot-tangerang.test"


async def test_a_city_mail_lands_in_its_own_mailbox_and_on_the_page(sims: SimulatorHandle) -> None:
    to = unique_address()
    message_id = make_message_id(1, 42)
    subject = "Pengaduan baru #42 untuk Dinas PUPR"
    body = "Lampu jalan (PJU) mati di Cipondoh: Lampu mati <b>di depan gang</b> #lampumati"
    outcome = await send_email(smtp_config(sims), to, subject, body, message_id)
    assert outcome.status_code == 250 and "queued as tangerang-mail-" in (outcome.detail or "")

    [mail] = sims.mail("tangerang", to)
    assert mail.subject == subject and mail.text.strip() == body
    assert mail.to == (to,) and mail.rcpt_to == (to,)
    assert mail.mail_from == "noreply@pemkot-tangerang.test"
    assert "Kota Live - Kota Tangerang" in mail.from_header
    assert mail.message_id == message_id and mail.headers["Auto-Submitted"] == "auto-generated"
    assert sims.mail("bekasi", to) == []  # the login decided the city, not the address

    key = sims.cities["tangerang"].smtp_password
    async with httpx.AsyncClient() as http:
        api = await http.get(
            f"{sims.base_url('sms', 'tangerang')}/api/v1/mail", params={"to": to}, headers={"X-API-Key": key}
        )
        assert api.status_code == 200
        assert [(m["subject"], m["to"], m["message_id"]) for m in api.json()["data"]] == [
            (subject, [to], message_id)
        ]
        other_key = await http.get(
            f"{sims.base_url('sms', 'bekasi')}/api/v1/mail", headers={"X-API-Key": key}
        )
        assert other_key.status_code == 401
        no_key = await http.get(f"{sims.base_url('sms', 'tangerang')}/api/v1/mail")
        assert no_key.status_code == 401
        page = await http.get(sims.mail_inbox_url("tangerang"))
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert subject in page.text and "&lt;b&gt;di depan gang&lt;/b&gt;" in page.text  # escaped
        assert "<b>di depan gang</b>" not in page.text
        unknown = await http.get(f"{sims.base_url('sms', 'karawang')}/mail")
        assert unknown.status_code == 404


async def test_mail_without_the_citys_login_is_refused(sims: SimulatorHandle) -> None:
    to = unique_address()
    with pytest.raises(Permanent, match="530"):
        await send_email(smtp_config(sims, username=None, password=None), to, "s", "b", make_message_id(9, 1))
    with pytest.raises(Permanent, match="535"):
        await send_email(smtp_config(sims, password="wrong"), to, "s", "b", make_message_id(9, 2))
    bekasi_login = {"username": "bekasi", "password": "smtp-tangerang-dev-key"}
    with pytest.raises(Permanent, match="535"):
        await send_email(smtp_config(sims, **bekasi_login), to, "s", "b", make_message_id(9, 3))
    assert sims.mail("tangerang", to) == [] and sims.mail("bekasi", to) == []


async def test_refusals_on_demand_are_temporary_or_permanent(clean_faults: SimulatorHandle) -> None:
    sims = clean_faults
    to = unique_address()
    async with httpx.AsyncClient() as http:
        set_fault = await http.post(
            f"{sims.base_url('sms', 'tangerang')}/_control/mail/fail", json={"count": 1, "code": 451}
        )
        assert set_fault.json() == {"fail_count": 1, "fail_code": 451}
    with pytest.raises(Retry, match="451"):
        await send_email(smtp_config(sims), to, "coba", "satu", make_message_id(1, 1))
    await send_email(smtp_config(sims), to, "coba", "dua", make_message_id(1, 2))
    sims.mail_faults("tangerang").fail_count, sims.mail_faults("tangerang").fail_code = 1, 550
    with pytest.raises(Permanent, match="550"):
        await send_email(smtp_config(sims), to, "coba", "tiga", make_message_id(1, 3))
    assert [m.text.strip() for m in sims.mail("tangerang", to)] == ["dua"]


async def test_reset_empties_one_citys_mailbox() -> None:
    from kotalive_simulators import start_simulators

    with start_simulators() as own:
        for city in ("tangerang", "bekasi"):
            await send_email(smtp_config(own, city), AGUS, "halo", "isi", make_message_id(7, 1))
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{own.base_url('sms', 'tangerang')}/_control/mail/reset")
        assert answer.json() == {"reset": "tangerang"}
        assert own.mail("tangerang") == [] and len(own.mail("bekasi")) == 1


def test_plain_smtplib_works_too(sims: SimulatorHandle) -> None:
    """Any SMTP client, not only the platform's: the standard library's, AUTH PLAIN or LOGIN."""
    settings = sims.city_settings("bekasi")["smtp"]
    to = f"warga-{uuid.uuid4().hex[:6]}@contoh.test"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings["from_address"], to, "Uji smtplib"
    message.set_content("Isi pesan dengan huruf é dan ✓")
    with smtplib.SMTP(settings["host"], settings["port"], timeout=5) as client:
        client.login(settings["username"], settings["password"])
        client.send_message(message)
    [mail] = sims.mail("bekasi", to)
    assert mail.subject == "Uji smtplib" and mail.text.strip() == "Isi pesan dengan huruf é dan ✓"


async def test_the_connection_check_logs_in_to_the_sink(sims: SimulatorHandle) -> None:
    merged = dict(sims.city_settings("tangerang")["smtp"])
    said = await check_connection("smtp", merged)
    assert "answered (250)" in said
    with pytest.raises(ConnectionError, match="smtp"):
        await check_connection("smtp", {**merged, "password": "wrong"})


async def test_the_demo_wiring_points_each_city_at_the_sink() -> None:
    """What `make run` stores as each demo city's "smtp" integration reaches that city's mailbox
    at the sink on base port + 4 (simulators started on fixed, consecutive ports)."""
    from kotalive_simulators import start_simulators

    handle = None
    for _ in range(20):  # five consecutive free ports, found by trying
        base = 20000 + uuid.uuid4().int % 40000
        try:
            handle = start_simulators(base_port=base)
            break
        except OSError:
            continue
    assert handle is not None, "no five consecutive free ports"
    with handle:
        urls = simulator_urls(base)
        assert urls["smtp"] == f"smtp://127.0.0.1:{handle.ports['smtp']}"
        for slug, demo in handle.cities.items():
            config, secrets = demo_integrations(demo, urls)["smtp"]
            assert config["security"] == "none" and config["host"] == "127.0.0.1"
            smtp = SmtpConfig.from_integration(config, secrets)
            await send_email(smtp, AGUS, f"untuk {slug}", "isi", make_message_id(slug, 7))
            assert [m.subject for m in handle.mail(slug)] == [f"untuk {slug}"]
            inboxes = demo_inboxes(urls, slug)
            assert inboxes["mail"] == handle.mail_inbox_url(slug)
            assert inboxes["sms"] == handle.sms_inbox_url(slug)
            async with httpx.AsyncClient() as http:
                assert f"untuk {slug}" in (await http.get(inboxes["mail"])).text
