"""The notification core without Laksa in the way: quiet hours, preferences, the city's wording in a
sandbox, the bell API and its stream, webhook settings."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from laksa_support import citizen, employee
from sqlalchemy import select, update

from kotalive.auth.models import Employee
from kotalive.context import use_tenant
from kotalive.notify import Message, Recipient, Wording, send
from kotalive.notify.dispatch import in_quiet_hours
from kotalive.notify.models import Delivery, Notification

WIB = ZoneInfo("Asia/Jakarta")
HELLO = Message(
    key="laksa.routed",  # a key the city admin can reword (it is Laksa's)
    description="test",
    wording={
        "id": Wording("Halo {{ name }}", "Isi untuk {{ name }}"),
        "en": Wording("Hello {{ name }}", "For {{ name }}"),
    },
    channels={"employee": ("inapp", "email"), "citizen": ("inapp",)},
    sample={"name": "Siti"},
    link="/x/{{ name }}",
)


def at(h: int, m: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 1, h, m, tzinfo=WIB)


@pytest.mark.parametrize(
    ("now", "start", "end", "until"),
    [
        (at(23), dt.time(22), dt.time(6), dt.datetime(2026, 12, 2, 6, tzinfo=WIB)),
        (at(3), dt.time(22), dt.time(6), dt.datetime(2026, 12, 1, 6, tzinfo=WIB)),
        (at(7), dt.time(22), dt.time(6), None),
        (at(13), dt.time(12), dt.time(14), dt.datetime(2026, 12, 1, 14, tzinfo=WIB)),
        (at(14), dt.time(12), dt.time(14), None),
        (at(13), None, None, None),
    ],
)
def test_quiet_hours(now, start, end, until) -> None:
    assert in_quiet_hours(now, start, end) == until


async def people(database, city):
    async with database.tenant_session(city) as s:
        e = Employee(nip="1" * 18, name="Eko", email="eko@kota.test", phone="+6281299990000", active=True)
        s.add(e)
        await s.commit()
        return Recipient("employee", e.id, e.name, email=e.email, phone=e.phone)


async def test_send_words_by_language_and_dedupes_by_source(database, make_city) -> None:
    city = await make_city("kabar")
    eko = await people(database, city)
    with use_tenant(city):
        async with database.tenant_session(city) as s:
            first = await send(s, HELLO, [eko, eko], {"name": "Eko"}, source="test:1")
            again = await send(s, HELLO, [eko], {"name": "Eko"}, source="test:1")
            english = await send(
                s,
                HELLO,
                [Recipient("employee", eko.id, language="en", email=eko.email)],
                {"name": "Eko"},
                source="test:2",
            )
            await s.commit()
    assert (first.notifications, first.deliveries) == (1, 1)
    assert (again.notifications, again.deliveries, again.duplicates) == (0, 0, 2)
    assert english.notifications == 1
    async with database.tenant_session(city) as s:
        bells = list(await s.scalars(select(Notification).order_by(Notification.id)))
        mails = list(await s.scalars(select(Delivery)))
    assert [(b.title, b.link) for b in bells] == [("Halo Eko", "/x/Eko"), ("Hello Eko", "/x/Eko")]
    assert [(m.channel, m.address, m.subject) for m in mails] == [
        ("email", "eko@kota.test", "Halo Eko"),
        ("email", "eko@kota.test", "Hello Eko"),
    ]
    with use_tenant(city), pytest.raises(ValueError, match="explicit source"):
        async with database.tenant_session(city) as s:
            await send(s, HELLO, [eko], {"name": "x"})


async def test_preferences_and_quiet_hours_shape_the_deliveries(app, client_for, database, make_city) -> None:
    city = await make_city("kabar")
    eko = await employee(app, client_for, database, city, "pupr", name="Eko")
    async with database.tenant_session(city) as s:
        await s.execute(
            update(Employee).where(Employee.id == eko.id).values(email="eko@kota.test", phone="081299990000")
        )
        await s.commit()
    bad = await eko.put(
        "/api/v1/notifications/preferences", json={"quiet_from": "25:00", "quiet_until": "06:00"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "quiet_from"
    unknown = await eko.put("/api/v1/notifications/preferences", json={"channels": {"nope": {"email": True}}})
    assert unknown.status_code == 422
    ok = await eko.put(
        "/api/v1/notifications/preferences",
        json={
            "quiet_from": "00:00",
            "quiet_until": "23:59",
            "channels": {"*": {"sms": True}, "laksa.routed": {"email": False}},
        },
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["channels"] == {"*": {"sms": True}, "laksa.routed": {"email": False}}
    me = Recipient("employee", eko.id, email="eko@kota.test", phone="+6281299990000")
    with use_tenant(city):
        async with database.tenant_session(city) as s:
            await send(s, HELLO, [me], {"name": "Eko"}, source="quiet")
            await send(s, HELLO, [me], {"name": "Eko"}, source="urgent", urgent=True)
            await s.commit()
    async with database.tenant_session(city) as s:
        rows = list(await s.scalars(select(Delivery).order_by(Delivery.id)))
    assert [(d.source, d.channel) for d in rows] == [("quiet", "sms"), ("urgent", "sms")]
    now = dt.datetime.now(dt.UTC)
    assert rows[0].next_attempt_at > now + dt.timedelta(minutes=1)  # held until the quiet hours end
    assert rows[1].next_attempt_at <= now  # urgent: now


async def test_the_city_rewords_a_message_in_a_sandbox(app, client_for, database, make_city) -> None:
    city = await make_city("kabar")
    admin = await employee(app, client_for, database, city, None, roles=("city_admin",))
    url = "/api/v1/notifications/admin/messages/laksa.routed/inapp/id"
    attacks = [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ summary.__init__.__globals__ }}",
        "{% for x in range(10**9) %}{% endfor %}",
        "{{ undefined_name }}",
        "{% if %}",
    ]
    for body in attacks[:2] + attacks[3:]:
        r = await admin.put(url, json={"body": body})
        assert r.status_code == 422, (body, r.text)
    ok = await admin.put(
        url, json={"subject": "Aduan #{{ id }} masuk", "body": "{{ agency }} — {{ summary }}"}
    )
    assert ok.status_code == 200, ok.text
    listed = {m["key"]: m for m in (await admin.get("/api/v1/notifications/admin/messages")).json()}
    assert listed["laksa.routed"]["city"] == [
        {
            "channel": "inapp",
            "language": "id",
            "subject": "Aduan #{{ id }} masuk",
            "body": "{{ agency }} — {{ summary }}",
        }
    ]
    assert {"laksa.resolved", "laksa.emergency", "laksa.digest"} <= set(listed)
    citizen_ = await citizen(app, client_for, database, city)
    assert (await citizen_.put(url, json={"body": "x"})).status_code == 403
    assert (await admin.delete(url)).status_code == 200


async def test_the_bell_is_ones_own(app, client_for, database, make_city) -> None:
    city = await make_city("kabar")
    siti = await citizen(app, client_for, database, city)
    budi = await citizen(app, client_for, database, city, "Budi")
    with use_tenant(city):
        async with database.tenant_session(city) as s:
            await send(s, HELLO, [Recipient("citizen", siti.id)], {"name": "Siti"}, source="own")
            await s.commit()
    assert (await siti.get("/api/v1/notifications/unread")).json() == {"unread": 1}
    assert (await budi.get("/api/v1/notifications")).json()["items"] == []
    theirs = (await siti.get("/api/v1/notifications")).json()["items"][0]["id"]
    assert (await budi.post("/api/v1/notifications/read", json={"ids": [theirs]})).json()["marked"] == 0
    assert (await siti.get("/api/v1/notifications/unread")).json() == {"unread": 1}
    snapshot = await siti.get("/api/v1/notifications/stream?once=true")
    assert snapshot.status_code == 200, snapshot.text
    assert snapshot.headers["content-type"].startswith("text/event-stream")
    assert "event: unread" in snapshot.text and '"unread":1' in snapshot.text
    page = await siti.client.get("/notifikasi", headers={"accept": "text/html"})
    assert page.status_code == 200 and "Halo Siti" in page.text
    anonymous = client_for(city.primary_host)
    assert (
        await anonymous.get("/api/v1/notifications", headers={"accept": "application/json"})
    ).status_code == 401


async def test_webhook_settings_are_checked_and_the_secret_shown_once(
    app, client_for, database, make_city
) -> None:
    city = await make_city("kabar")
    admin = await employee(app, client_for, database, city, None, roles=("city_admin",))
    for body, field in (
        ({"name": "x", "url": "http://evil.example/hook", "events": ["*"]}, "url"),
        ({"name": "x", "url": "ftp://a/b", "events": ["*"]}, "url"),
        ({"name": "x", "url": "https://a.example/h", "events": []}, "events"),
        ({"name": "x", "url": "https://a.example/h", "events": ["laksa.*"], "secret": "short"}, "secret"),
    ):
        r = await admin.post("/api/v1/notifications/admin/webhooks", json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    made = await admin.post(
        "/api/v1/notifications/admin/webhooks",
        json={"name": "Dasbor", "url": "https://dasbor.example/h", "events": ["laksa.*"]},
    )
    assert made.status_code == 201 and len(made.json()["secret"]) >= 32
    listed = (await admin.get("/api/v1/notifications/admin/webhooks")).json()
    assert listed == [
        {
            "id": made.json()["id"],
            "name": "Dasbor",
            "url": "https://dasbor.example/h",
            "events": ["laksa.*"],
            "active": True,
        }
    ]
    assert made.json()["secret"] not in str(listed)
