"""Open311 GeoReport v2 at /open311/v2/ on the city's host, over real HTTP with an existing client
library (georeport, extended in tests/open311_support.py with what it lacks), in JSON and XML: a
partner application discovers the services, posts a request with attributes and follows it by id,
by token and through the list filters; staff work on it and the updates feed shows what they did.
Errors come in the spec's format (400/403/404), never as a 500, and nothing personal leaks."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import requests
import xmltodict
from click.testing import CliRunner
from laksa_support import CIPONDOH, OUTSIDE, agency_id, employee, jpeg
from open311_support import Open311Client, issue_key, resolve_to_loopback, serving
from sqlalchemy import select

from kotalive.cli import main
from kotalive.context import use_tenant
from kotalive.geo import snap
from kotalive.modules.laksa import configuration
from kotalive.modules.laksa.domain import SENSITIVE_CELL_DEGREES
from kotalive.modules.laksa.models import Complaint, Media

FORMATS = ["json", "xml"]
FORMATS_CT = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


def rows(value: Any) -> list[dict[str, Any]]:
    """georeport's XML answers: one child is a dict, several a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def ids_of(items: Any) -> set[str]:
    return {str(i["service_request_id"]) for i in rows(items)}


def errors(response: httpx.Response, fmt: str = "json") -> list[dict[str, str]]:
    """The spec's error list, from either format (codes as text)."""
    if fmt == "json":
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        return [{"code": str(e["code"]), "description": e["description"]} for e in response.json()]
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    return [
        {"code": e.findtext("code") or "", "description": e.findtext("description") or ""}
        for e in root.findall("error")
    ]


@pytest.fixture
async def endpoint(app, city, monkeypatch):
    """The city's /open311/v2 over real HTTP: uvicorn on a loopback port, the city's host resolving
    to it."""
    resolve_to_loopback(monkeypatch, city.primary_host)
    async with serving(app) as port:
        yield f"http://{city.primary_host}:{port}/open311/v2"


def post_form(client: httpx.AsyncClient, path: str, pairs: list[tuple[str, str]]) -> Any:
    return client.post(
        path, content=urlencode(pairs), headers={"content-type": "application/x-www-form-urlencoded"}
    )


# ---- discovery and services ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_the_client_discovers_the_services_and_their_definitions(endpoint, city, fmt) -> None:
    client = Open311Client(endpoint, jurisdiction=city.primary_host, output_format=fmt)

    discovery = await asyncio.to_thread(client.get_discovery)
    (production,) = discovery["endpoints"]
    assert production["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert production["url"] == f"https://{city.primary_host}/open311/v2"
    assert production["formats"] == ["text/xml", "application/json"]
    assert production["type"] == "production"
    assert discovery["changeset"] and city.name in discovery["contact"] and discovery["key_service"]

    services = {s["service_code"]: s for s in rows(await asyncio.to_thread(client.get_service_list))}
    assert {"road", "street-lamp", "drainage", "flood", "social", "other"} <= set(services)
    road = services["road"]
    assert road["service_name"] == "Jalan rusak atau berlubang"  # the city speaks Indonesian
    assert road["keywords"] == "jalan, lubang, aspal" and road["group"] == "Infrastruktur"
    assert road["type"] == "realtime"
    truth = {True: "true", False: "false"} if fmt == "xml" else {True: True, False: False}
    assert road["metadata"] == truth[True] and services["drainage"]["metadata"] == truth[False]

    definition = await asyncio.to_thread(client.get_service_definition, "road")
    assert definition["service_code"] == "road"
    attributes = definition["attributes"]
    (size,) = rows(attributes["attribute"] if fmt == "xml" else attributes)
    assert size["code"] == "size" and size["datatype"] == "singlevaluelist"
    assert size["required"] == truth[True] and size["variable"] == truth[True]
    assert size["description"] == "Seberapa besar kerusakannya?"
    values = rows(size["values"]["value"]) if fmt == "xml" else size["values"]
    assert [v["key"] for v in values] == ["small", "medium", "large"]
    assert values[0]["name"] == "Kecil (kurang dari 1 m)"


async def test_an_inactive_category_is_not_a_service(app, client_for, database, city) -> None:
    with use_tenant(city):
        async with database.tenant_session(city) as session:
            await configuration.save_category(session, {"active": False}, code="drainage")
            await session.commit()
    async with client_for(city.primary_host) as c:
        listed = (await c.get("/open311/v2/services.json", headers={"accept-language": "en"})).json()
        assert "drainage" not in {s["service_code"] for s in listed}
        assert {s["service_code"]: s["service_name"] for s in listed}["road"] == "Damaged road or pothole"
        gone = await c.get("/open311/v2/services/drainage.json")
        assert gone.status_code == 404 and "drainage" in errors(gone)[0]["description"]


# ---- a partner application's request, from POST to the list ----------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_partner_posts_a_request_and_follows_it(
    app, client_for, database, city, endpoint, fmt
) -> None:
    key_id, key = await issue_key(database, city, "Aplikasi Warga Banten")
    client = Open311Client(endpoint, api_key=key, output_format=fmt)
    pupr = await agency_id(database, city, "pupr")

    posted = await asyncio.to_thread(
        client.post_service_request,
        "road",
        attributes={"size": "large"},
        lat=str(CIPONDOH[0]),
        long=str(CIPONDOH[1]),
        description="Lubang besar di tengah jalan, hubungi saya di 081234567890 atau siti@example.id",
        email="siti@example.id",
        first_name="Siti",
        last_name="Rahmawati",
        phone="+62 812-3456-7890",
        device_id="android-42",
        account_id="acct-7",
        media_url="https://cdn.example.id/foto/lubang.jpg",
    )
    assert posted.status_code == 201, posted.text
    assert posted.headers["content-type"] == FORMATS_CT[fmt]
    created = client.created(posted)
    rid, token = str(created["service_request_id"]), created["token"]
    assert rid.isdigit() and len(token) >= 20
    assert created["account_id"] == "acct-7"
    assert (
        created["service_notice"] == "Diteruskan ke perangkat daerah: Dinas Pekerjaan Umum dan Penataan Ruang"
    )

    # Stored through the complaint service: a partner's complaint, the contact for staff only.
    async with database.tenant_session(city) as s:
        complaint = await s.scalar(select(Complaint).where(Complaint.id == int(rid)))
    assert complaint is not None
    assert complaint.source == "open311" and complaint.api_key_id == key_id
    assert complaint.open311_token == token and complaint.citizen_id is None
    assert complaint.attributes == {"size": "large"}
    assert complaint.agency_id == pupr and complaint.state == "forwarded"
    assert complaint.contact == {
        "first_name": "Siti",
        "last_name": "Rahmawati",
        "email": "siti@example.id",
        "phone": "+62 812-3456-7890",
        "device_id": "android-42",
        "account_id": "acct-7",
        "media_url": "https://cdn.example.id/foto/lubang.jpg",
    }
    assert complaint.kecamatan == "Cipondoh"

    by_token = await asyncio.to_thread(client.get_service_request_id_from_token, token)
    assert str(by_token["service_request_id"]) == rid and by_token["token"] == token

    one = await asyncio.to_thread(client.get_service_request, rid)
    assert str(one["service_request_id"]) == rid
    assert one["status"] == "open" and one["service_code"] == "road"
    assert one["service_name"] == "Jalan rusak atau berlubang"
    assert one["agency_responsible"] == "Dinas Pekerjaan Umum dan Penataan Ruang"
    # The public text: the number and the address masked, no reporter, no contact, no photo.
    assert one["description"] == "Lubang besar di tengah jalan, hubungi saya di •••••••••••• atau [email]"
    body = json.dumps(one)
    for private in ("Siti", "Rahmawati", "081234567890", "siti@example.id", "android-42", "cdn.example.id"):
        assert private not in body
    assert "media_url" not in one
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", one["requested_datetime"])
    assert one["updated_datetime"].endswith("+07:00") and one["expected_datetime"].endswith("+07:00")
    assert float(one["lat"]) == pytest.approx(CIPONDOH[0]) and float(one["long"]) == pytest.approx(
        CIPONDOH[1]
    )
    assert "Cipondoh" in one["address"]

    # A second request (another service), resolved by PUPR's staff: the filters tell them apart.
    other = client.created(
        await asyncio.to_thread(
            client.post_service_request,
            "drainage",
            address_string="Jl. Gatot Subroto, depan pasar",
            description="Gorong-gorong tersumbat sampah, air meluap ke jalan",
        )
    )
    oid = str(other["service_request_id"])
    staff = await employee(app, client_for, database, city, "pupr")
    done = await staff.post(f"/api/v1/laksa/complaints/{oid}/resolve", json={"note": "Sudah dibersihkan"})
    assert done.status_code == 200, done.text

    def listed(**filters: str) -> set[str]:
        return ids_of(client.get_service_requests(**filters))

    both = {rid, oid}
    assert both <= await asyncio.to_thread(listed)
    assert both == await asyncio.to_thread(listed, service_request_id=f"{rid},{oid}")
    assert {rid} == await asyncio.to_thread(listed, service_request_id=rid)
    # service_request_id overrides every other filter, as the spec says.
    assert both == await asyncio.to_thread(listed, service_request_id=f"{rid},{oid}", status="closed")
    open_now = await asyncio.to_thread(listed, status="open")
    closed_now = await asyncio.to_thread(listed, status="closed")
    assert rid in open_now and oid not in open_now
    assert oid in closed_now and rid not in closed_now
    assert both <= await asyncio.to_thread(listed, status="open,closed")
    road_only = await asyncio.to_thread(listed, service_code="road")
    assert rid in road_only and oid not in road_only
    assert both <= await asyncio.to_thread(listed, service_code="road,drainage")
    now = dt.datetime.now(dt.UTC)
    window = {
        "start_date": (now - dt.timedelta(hours=1)).isoformat(),
        "end_date": (now + dt.timedelta(hours=1)).isoformat(),
    }
    assert both <= await asyncio.to_thread(listed, **window)
    assert both <= await asyncio.to_thread(
        listed, status="closed,open", service_code="drainage,road", **window
    )

    closed = await asyncio.to_thread(client.get_service_request, oid)
    assert closed["status"] == "closed" and closed["status_notes"] == "Sudah dibersihkan"
    assert closed["service_code"] == "drainage" and closed["lat"] is None

    # An empty answer, which georeport cannot read in XML (<service_requests/>): read it directly.
    async with client_for(city.primary_host) as c:
        past = {
            "start_date": (now - dt.timedelta(days=30)).isoformat(),
            "end_date": (now - dt.timedelta(days=29)).isoformat(),
        }
        empty = await c.get(f"/open311/v2/requests.{fmt}", params=past)
        assert empty.status_code == 200
        if fmt == "json":
            assert empty.json() == []
        else:
            assert ET.fromstring(empty.content).tag == "service_requests" and not list(
                ET.fromstring(empty.content)
            )
        fire = await c.get(f"/open311/v2/requests.{fmt}", params={"service_code": "fire"})
        if fmt == "json":
            assert fire.json() == []
        else:
            assert [r.findtext("service_request_id") for r in ET.fromstring(fire.content)] == []


async def test_list_attributes_dates_and_numbers_arrive_as_sent(database, city, endpoint) -> None:
    dlh = await agency_id(database, city, "dlh")
    with use_tenant(city):
        async with database.tenant_session(city) as session:
            await configuration.save_category(
                session,
                {
                    "code": "tree",
                    "name": "Pohon tumbang atau rawan tumbang",
                    "name_en": "Fallen or leaning tree",
                    "agency_id": dlh,
                    "attributes": [
                        {
                            "code": "blocking",
                            "datatype": "multivaluelist",
                            "description": "Apa yang terhalang?",
                            "required": True,
                            "order": 1,
                            "values": [
                                {"key": "road", "name": "Jalan"},
                                {"key": "sidewalk", "name": "Trotoar"},
                                {"key": "cable", "name": "Kabel"},
                            ],
                        },
                        {
                            "code": "seen_at",
                            "datatype": "datetime",
                            "description": "Kapan terlihat?",
                            "order": 2,
                        },
                        {
                            "code": "height_m",
                            "datatype": "number",
                            "description": "Tinggi pohon (m)",
                            "order": 3,
                        },
                    ],
                },
            )
            await session.commit()
    _, key = await issue_key(database, city)
    client = Open311Client(endpoint, api_key=key)

    definition = await asyncio.to_thread(client.get_service_definition, "tree")
    kinds = {a["code"]: a for a in definition["attributes"]}
    assert [a["code"] for a in definition["attributes"]] == ["blocking", "seen_at", "height_m"]
    assert kinds["blocking"]["datatype"] == "multivaluelist" and kinds["blocking"]["required"] is True
    assert "attribute[code][]" in kinds["blocking"]["datatype_description"]
    assert kinds["seen_at"]["values"] == [] and "ISO 8601" in kinds["seen_at"]["datatype_description"]

    posted = await asyncio.to_thread(
        client.post_service_request,
        "tree",
        attributes={
            "blocking": ["road", "cable"],
            "seen_at": "2026-11-30T17:00:00+07:00",
            "height_m": "12.5",
        },
        lat=str(CIPONDOH[0]),
        long=str(CIPONDOH[1]),
        description="Pohon besar condong ke jalan setelah hujan angin",
    )
    assert posted.status_code == 201, posted.text
    rid = posted.json()[0]["service_request_id"]
    async with database.tenant_session(city) as s:
        stored = await s.scalar(select(Complaint.attributes).where(Complaint.id == rid))
    assert stored == {
        "blocking": ["road", "cable"],
        "seen_at": "2026-11-30T17:00:00+07:00",
        "height_m": "12.5",
    }

    # One key of a multivaluelist, sent without [] and with it, is a list of one.
    for sent in ("sidewalk", ["sidewalk"]):  # attribute[blocking]=..., attribute[blocking][]=...
        one = await asyncio.to_thread(
            client.post_service_request,
            "tree",
            attributes={"blocking": sent},
            address_string="Jl. Daan Mogot km 2",
            description="Pohon tumbang menutup trotoar depan sekolah",
        )
        assert one.status_code == 201, one.text
        async with database.tenant_session(city) as s:
            stored = await s.scalar(
                select(Complaint.attributes).where(Complaint.id == one.json()[0]["service_request_id"])
            )
        assert stored == {"blocking": ["sidewalk"]}

    wrong = await asyncio.to_thread(
        client.post_service_request,
        "tree",
        attributes={"blocking": ["road", "tower"], "height_m": "tall"},
        address_string="Jl. Daan Mogot km 2",
        description="Pohon tumbang menutup trotoar depan sekolah",
    )
    assert wrong.status_code == 400
    assert sorted(e["description"] for e in wrong.json()) == [
        "attribute[blocking]: Apa yang terhalang?: choose one of the options.",
        "attribute[height_m]: Tinggi pohon (m): enter a number.",
    ]


async def test_a_photo_may_come_with_the_request(database, city, endpoint) -> None:
    _, key = await issue_key(database, city)

    def post() -> requests.Response:
        return requests.post(
            f"{endpoint}/requests.json",
            data={
                "api_key": key,
                "service_code": "street-lamp",
                "lat": str(CIPONDOH[0]),
                "long": str(CIPONDOH[1]),
                "description": "Lampu jalan mati sudah seminggu",
            },
            files={"media": ("lampu.jpg", jpeg(), "image/jpeg")},
            timeout=30,
        )

    answer = await asyncio.to_thread(post)
    assert answer.status_code == 201, answer.text
    rid = answer.json()[0]["service_request_id"]
    async with database.tenant_session(city) as s:
        media = list(await s.scalars(select(Media).where(Media.complaint_id == rid)))
    assert [m.format for m in media] == ["JPEG"]


# ---- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_api_keys_are_required_and_checked(client_for, database, city, fmt) -> None:
    key_id, key = await issue_key(database, city)
    form = [
        ("service_code", "drainage"),
        ("address_string", "Jl. Merdeka 1"),
        ("description", "Saluran air tersumbat di depan rumah"),
    ]
    async with client_for(city.primary_host) as c:
        missing = await post_form(c, f"/open311/v2/requests.{fmt}", form)
        assert missing.status_code == 403
        (error,) = errors(missing, fmt)
        assert error["code"] == "403" and "api_key" in error["description"]
        wrong = await post_form(c, f"/open311/v2/requests.{fmt}", [*form, ("api_key", key + "x")])
        assert wrong.status_code == 403 and "not valid" in errors(wrong, fmt)[0]["description"]
        ok = await post_form(c, f"/open311/v2/requests.{fmt}", [*form, ("api_key", key)])
        assert ok.status_code == 201, ok.text
        # The key may also come in the query string.
        in_query = await post_form(c, f"/open311/v2/requests.{fmt}?api_key={key}", form)
        assert in_query.status_code == 201, in_query.text
        with use_tenant(city):
            async with database.tenant_session(city) as session:
                await configuration.revoke_api_key(session, key_id)
                await session.commit()
        revoked = await post_form(c, f"/open311/v2/requests.{fmt}", [*form, ("api_key", key)])
        assert revoked.status_code == 403 and "revoked" in errors(revoked, fmt)[0]["description"]
    async with database.tenant_session(city) as s:
        made = list(await s.scalars(select(Complaint.id).where(Complaint.api_key_id == key_id)))
    assert len(made) == 2  # the two with the key, nothing from the refused ones


@pytest.mark.parametrize("fmt", FORMATS)
async def test_bad_input_is_400_unknown_things_404(client_for, database, city, make_city, fmt) -> None:
    _, key = await issue_key(database, city)
    base = [("api_key", key), ("description", "Jalan berlubang dalam sekali di tikungan")]
    point = [("lat", str(CIPONDOH[0])), ("long", str(CIPONDOH[1]))]
    async with client_for(city.primary_host) as c:

        async def refused(pairs: list[tuple[str, str]], status: int = 400) -> list[str]:
            r = await post_form(c, f"/open311/v2/requests.{fmt}", pairs)
            assert r.status_code == status, r.text
            return [e["description"] for e in errors(r, fmt) if e["code"] == str(status)]

        assert await refused([*base, *point]) == ["service_code: required"]
        assert "nope" in (await refused([*base, *point, ("service_code", "nope")], 404))[0]
        assert await refused([*base, *point, ("service_code", "road")]) == [
            "attribute[size]: Required \u2014 Seberapa besar kerusakannya?"
        ]
        size = ("attribute[size]", "medium")
        out_of_range = await refused(
            [*base, size, ("service_code", "road"), ("lat", "200"), ("long", "106.7")]
        )
        assert out_of_range == ["lat/long: Invalid coordinates: latitude -90 to 90, longitude -180 to 180."]
        assert (await refused([*base, size, ("service_code", "road"), ("lat", "abc"), ("long", "106.7")]))[
            0
        ].startswith("lat/long: Invalid coordinates")
        assert await refused([*base, size, ("service_code", "road"), ("lat", "-6.2")]) == [
            "lat/long: give both, or neither and an address_string"
        ]
        outside = await refused(
            [*base, size, ("service_code", "road"), ("lat", str(OUTSIDE[0])), ("long", str(OUTSIDE[1]))]
        )
        assert outside == [f"lat/long: This place is outside {city.name}."]
        assert await refused([*base, size, ("service_code", "road")]) == [
            "lat/long or address_string: Mark the place on the map or type its address."
        ]
        too_long = await refused(
            [("api_key", key), size, *point, ("service_code", "road"), ("description", "x" * 4001)]
        )
        assert too_long == ["description: Too long: 4001 characters, at most 4000."]
        several = await refused(
            [*base, *point, ("service_code", "road"), ("email", "not-an-address"), ("media_url", "ftp://x/y")]
        )
        assert several == ["email: not an e-mail address", "media_url: not an http(s) URL"]
        twice = await refused([*base, *point, size, ("service_code", "road"), ("service_code", "drainage")])
        assert twice == ["service_code: give it once"]
        no_desc = await refused([("api_key", key), *point, size, ("service_code", "road")])
        assert no_desc == ["description: Describe the problem."]
        elsewhere = await refused(
            [*base, *point, size, ("service_code", "road"), ("jurisdiction_id", "bekasi")], 404
        )
        assert "jurisdiction_id" in elsewhere[0]

        async def get_refused(path: str, expected: int, **params: str) -> str:
            r = await c.get(path, params=params)
            assert r.status_code == expected, r.text
            (error,) = errors(r, fmt)
            assert error["code"] == str(expected)
            return error["description"]

        assert "nope" in await get_refused(f"/open311/v2/services/nope.{fmt}", 404)
        assert "999999999" in await get_refused(f"/open311/v2/requests/999999999.{fmt}", 404)
        await get_refused(f"/open311/v2/requests/abc.{fmt}", 404)
        await get_refused(f"/open311/v2/tokens/no-such-token.{fmt}", 404)
        yaml = await c.get("/open311/v2/services.yaml")  # no format to answer in: JSON
        assert yaml.status_code == 404 and "unknown format" in errors(yaml)[0]["description"]
        await get_refused(f"/open311/v2/widgets.{fmt}", 404)
        assert "status" in await get_refused(f"/open311/v2/requests.{fmt}", 400, status="pending")
        assert "start_date" in await get_refused(f"/open311/v2/requests.{fmt}", 400, start_date="yesterday")
        assert "90 days" in await get_refused(
            f"/open311/v2/requests.{fmt}",
            400,
            start_date="2026-01-01T00:00:00Z",
            end_date="2026-06-01T00:00:00Z",
        )
        assert "before" in await get_refused(
            f"/open311/v2/requests.{fmt}",
            400,
            start_date="2026-06-01T00:00:00Z",
            end_date="2026-05-01T00:00:00Z",
        )
        assert "service_request_id" in await get_refused(
            f"/open311/v2/requests.{fmt}", 400, service_request_id="1,two"
        )
        assert "jurisdiction_id" in await get_refused(
            f"/open311/v2/services.{fmt}", 404, jurisdiction_id="x.go.id"
        )
        # The city's own jurisdiction (host or slug) is accepted; a "+" sent unencoded arrives as a space.
        for jurisdiction in (city.primary_host, city.slug):
            assert (
                await c.get(f"/open311/v2/services.{fmt}", params={"jurisdiction_id": jurisdiction})
            ).status_code == 200
        spaced = await c.get(f"/open311/v2/requests.{fmt}?start_date=2026-11-30T08:00:00%2007:00")
        assert spaced.status_code == 200, spaced.text

    # The platform host and a city without Laksa have no Open311 at all.
    without = await make_city("no311", modules=["hotline112"])
    for host in ("platform.test", without.primary_host):
        async with client_for(host) as c:
            r = await c.get(f"/open311/v2/services.{fmt}")
            assert r.status_code == 404
            assert errors(r, fmt)[0]["code"] == "404"


async def test_html_in_a_description_is_text_in_both_formats(client_for, database, city) -> None:
    _, key = await issue_key(database, city)
    text = 'Lubang <script>alert("x")</script> & <b>genangan</b> di jalan'
    async with client_for(city.primary_host) as c:
        r = await post_form(
            c,
            "/open311/v2/requests.json",
            [
                ("api_key", key),
                ("service_code", "drainage"),
                ("address_string", "Jl. Merdeka <img src=x onerror=alert(1)>"),
                ("description", text),
            ],
        )
        assert r.status_code == 201, r.text
        rid = r.json()[0]["service_request_id"]
        as_xml = await c.get(f"/open311/v2/requests/{rid}.xml")
        as_json = await c.get(f"/open311/v2/requests/{rid}.json")
    assert b"<script" not in as_xml.content and b"<b>" not in as_xml.content
    assert b"&lt;script&gt;" in as_xml.content
    assert as_xml.headers["x-content-type-options"] == "nosniff"
    parsed = ET.fromstring(as_xml.content).find("request")
    assert parsed is not None and parsed.findtext("description") == text
    assert as_xml.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b"<script" not in as_json.content and b"\\u003cscript\\u003e" in as_json.content
    assert as_json.json()[0]["description"] == text
    assert "img" not in as_json.text  # the reporter's address stays with the city


async def test_another_citys_request_is_not_found_here(client_for, database, city, make_city) -> None:
    other = await make_city("lain311", region_code="3275", name="Kota Lain")
    _, key = await issue_key(database, other)
    async with client_for(other.primary_host) as c:
        r = await post_form(
            c,
            "/open311/v2/requests.json",
            [
                ("api_key", key),
                ("service_code", "rubbish"),
                ("address_string", "Jl. Ahmad Yani 3"),
                ("description", "Sampah menumpuk di pinggir jalan raya"),
            ],
        )
        assert r.status_code == 201, r.text
        rid, token = r.json()[0]["service_request_id"], r.json()[0]["token"]
        assert (await c.get(f"/open311/v2/requests/{rid}.json")).status_code == 200
    async with client_for(city.primary_host) as c:
        assert (await c.get(f"/open311/v2/requests/{rid}.json")).status_code == 404
        assert (await c.get(f"/open311/v2/tokens/{token}.json")).status_code == 404
        listed = (await c.get("/open311/v2/requests.json", params={"service_request_id": str(rid)})).json()
        assert listed == []
        # Another city's key is no key here.
        here = await post_form(
            c,
            "/open311/v2/requests.json",
            [
                ("api_key", key),
                ("service_code", "rubbish"),
                ("address_string", "x"),
                ("description", "y" * 20),
            ],
        )
        assert here.status_code == 403


async def test_a_sensitive_request_shows_no_text_and_a_blurred_place(client_for, database, city) -> None:
    _, key = await issue_key(database, city)
    async with client_for(city.primary_host) as c:
        r = await post_form(
            c,
            "/open311/v2/requests.json",
            [
                ("api_key", key),
                ("service_code", "social"),
                ("lat", str(CIPONDOH[0])),
                ("long", str(CIPONDOH[1])),
                ("description", "Ibu Wati tidur di emper toko nomor 12 setiap malam"),
            ],
        )
        assert r.status_code == 201, r.text
        rid = r.json()[0]["service_request_id"]
        (seen,) = (await c.get(f"/open311/v2/requests/{rid}.json")).json()
    assert seen["description"] == "" and "Wati" not in json.dumps(seen)
    assert (seen["lat"], seen["long"]) == snap(CIPONDOH[0], CIPONDOH[1], SENSITIVE_CELL_DEGREES)
    assert (seen["lat"], seen["long"]) != CIPONDOH


# ---- staff work, as mySociety's servicerequestupdates ---------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
async def test_updates_show_what_staff_did_and_said(app, client_for, database, city, endpoint, fmt) -> None:
    _, key = await issue_key(database, city)
    client = Open311Client(endpoint, api_key=key, output_format=fmt)
    posted = client.created(
        await asyncio.to_thread(
            client.post_service_request,
            "road",
            attributes={"size": "small"},
            lat=str(CIPONDOH[0]),
            long=str(CIPONDOH[1]),
            description="Aspal mengelupas di depan sekolah dasar",
        )
    )
    rid = str(posted["service_request_id"])
    staff = await employee(app, client_for, database, city, "pupr")
    cid = int(rid)
    for path, body in (
        ("acknowledge", {"note": "Kami cek besok pagi"}),
        ("notes", {"body": "Catatan internal: kontraktor CV Maju, telp 0811223344", "public": False}),
        ("notes", {"body": "Tim survei dijadwalkan hari Kamis", "public": True}),
        ("resolve", {"note": "Sudah ditambal, terima kasih"}),
    ):
        answer = await staff.post(f"/api/v1/laksa/complaints/{cid}/{path}", json=body)
        assert answer.status_code == 200, answer.text

    now = dt.datetime.now(dt.UTC)
    window = {
        "start_date": (now - dt.timedelta(hours=1)).isoformat(),
        "end_date": (now + dt.timedelta(minutes=5)).isoformat(),
    }
    updates = await asyncio.to_thread(client.get_service_request_updates, **window)
    mine = [u for u in updates if str(u["service_request_id"]) == rid]
    assert [(u["status"], u["external_status_code"], u["description"] or "") for u in mine] == [
        ("open", "forwarded", ""),
        ("investigating", "acknowledged", "Kami cek besok pagi"),
        ("investigating", "acknowledged", "Tim survei dijadwalkan hari Kamis"),
        ("fixed", "resolved", "Sudah ditambal, terima kasih"),
    ]
    assert all(u["updated_datetime"].endswith("+07:00") for u in mine)
    assert len({u["update_id"] for u in mine}) == 4
    assert "kontraktor" not in json.dumps(updates) and "0811223344" not in json.dumps(updates)
    if fmt == "xml":
        raw = await asyncio.to_thread(lambda: client._get("servicerequestupdates", window).content)
        assert xmltodict.parse(raw)["service_request_updates"]["request_update"]

    later = {"start_date": (now + dt.timedelta(minutes=1)).isoformat()}
    assert rid not in {
        str(u["service_request_id"])
        for u in await asyncio.to_thread(client.get_service_request_updates, **later)
    }

    (after,) = rows(await asyncio.to_thread(client.get_service_requests, service_request_id=rid))
    assert after["status"] == "closed" and after["status_notes"] == "Sudah ditambal, terima kasih"


# ---- the key a partner gets from the command line -------------------------------------------------


async def test_issue_key_prints_a_key_that_works(settings, client_for, city) -> None:
    env = {
        "KOTALIVE_DATABASE_URL": settings.database_url,
        "KOTALIVE_REDIS_URL": settings.redis_url,
        "KOTALIVE_ENV": "test",
    }

    def cli(*args: str) -> Any:
        return CliRunner().invoke(main, ["open311", *args], env=env)

    issued = await asyncio.to_thread(cli, "issue-key", city.slug, "--name", "Aplikasi Warga")
    assert issued.exit_code == 0, issued.output
    found = re.search(r"\bkl311_[A-Za-z0-9_-]{20,}", issued.output)
    assert found, issued.output
    assert f"https://{city.primary_host}/open311/v2/requests.json" in issued.output.replace("\n", "")
    listed = await asyncio.to_thread(cli, "keys", city.slug)
    assert "Aplikasi Warga" in listed.output and found.group(0) not in listed.output
    async with client_for(city.primary_host) as c:
        r = await post_form(
            c,
            "/open311/v2/requests.json",
            [
                ("api_key", found.group(0)),
                ("service_code", "rubbish"),
                ("lat", str(CIPONDOH[0])),
                ("long", str(CIPONDOH[1])),
                ("description", "Sampah tidak diangkut sejak Senin"),
            ],
        )
    assert r.status_code == 201, r.text
    assert r.json()[0]["service_notice"].startswith("Diteruskan ke perangkat daerah")


async def test_hostile_input_is_refused_never_a_500(client_for, database, city) -> None:
    _, key = await issue_key(database, city)
    good = {
        "api_key": key,
        "service_code": "road",
        "attribute[size]": "small",
        "lat": str(CIPONDOH[0]),
        "long": str(CIPONDOH[1]),
        "description": "Jalan berlubang di depan balai warga",
    }
    async with client_for(city.primary_host) as c:
        for name in (
            "description",
            "address_string",
            "first_name",
            "email",
            "attribute[size]",
            "service_code",
        ):
            r = await c.post("/open311/v2/requests.json", data={**good, name: "ada\x00nul di sini"})
            assert r.status_code in (400, 404), (name, r.status_code, r.text)
            assert errors(r)[0]["code"] in ("400", "404")
        for lat, lon in (("1e400", "106.7"), ("nan", "106.7"), ("-6.2", "inf")):
            r = await c.post("/open311/v2/requests.json", data={**good, "lat": lat, "long": lon})
            assert r.status_code == 400, r.text
        raw = await c.post(
            "/open311/v2/requests.json",
            content=b"api_key="
            + key.encode()
            + b"&service_code=drainage&address_string=x&description=%FF%FE%ED%A0%80abcdefghij",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert raw.status_code in (201, 400), raw.text
        broken = await c.post(
            "/open311/v2/requests.json",
            content=b"--x\r\nnot multipart",
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
        assert broken.status_code in (400, 403), broken.text
        assert errors(broken)[0]["code"] == str(broken.status_code)
        for path, params in (
            ("/open311/v2/tokens/%00.json", {}),
            ("/open311/v2/services/%00.json", {}),
            ("/open311/v2/requests/%C2%B2.json", {}),
            ("/open311/v2/requests.json", {"service_code": "road\x00"}),
            ("/open311/v2/requests.json", {"service_request_id": "\u00b2"}),
            ("/open311/v2/requests.json", {"start_date": "9999-12-31T23:59:59+00:00"}),
            ("/open311/v2/requests.json", {"end_date": "0001-01-01T00:00:00+00:00"}),
            ("/open311/v2/requests.json", {"start_date": "0001-01-01T00:00:00+07:00"}),
            ("/open311/v2/servicerequestupdates.json", {"end_date": "9999-12-31T23:59:59-07:00"}),
            ("/open311/v2/requests.json", {"start_date": "2026-12-01T08:00:00+25:00"}),
            ("/open311/v2/servicerequestupdates.json", {"start_date": "\x00"}),
            ("/open311/v2/requests.json", {"status": "open", "jurisdiction_id": "\x00"}),
        ):
            r = await c.get(path, params=params)
            assert r.status_code in (400, 404), (path, params, r.status_code, r.text)
            assert errors(r)[0]["code"] == str(r.status_code)


async def test_a_key_over_its_hourly_limit_is_told_when_to_come_back(
    client_for, database, city, monkeypatch
) -> None:
    from kotalive.auth.ratelimit import Limit
    from kotalive.modules.laksa import services

    monkeypatch.setattr(services, "OPEN311_PER_KEY", Limit("laksa-submit:open311-test", 1, 3600))
    _, key = await issue_key(database, city)
    form = [
        ("api_key", key),
        ("service_code", "rubbish"),
        ("address_string", "Jl. Merdeka 9"),
        ("description", "Sampah menumpuk di depan pasar"),
    ]
    async with client_for(city.primary_host) as c:
        assert (await post_form(c, "/open311/v2/requests.xml", form)).status_code == 201
        again = await post_form(c, "/open311/v2/requests.xml", form)
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) > 0
    (error,) = errors(again, "xml")
    assert error["code"] == "429" and "api_key" in error["description"]
