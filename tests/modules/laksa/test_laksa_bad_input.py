"""Bad input a complaint submission must refuse with the field, the reason and the status, and what
it must accept unharmed. Nothing refused is stored; nothing accepted is lost."""

from __future__ import annotations

import io

import pytest
from laksa_support import CIPONDOH, OUTSIDE, citizen, jpeg, png, submit, with_boundaries
from PIL import Image
from sqlalchemy import func, select

from kotalive.modules.laksa.models import Complaint, TimelineEntry

GOOD = {
    "description": "Jalan berlubang besar di depan pasar #jalanrusak",
    "lat": CIPONDOH[0],
    "lon": CIPONDOH[1],
}


async def count(database, city) -> int:
    async with database.tenant_session(city) as s:
        return int(await s.scalar(select(func.count()).select_from(Complaint)) or 0)


def errors(answer) -> dict[str, str]:
    body = answer.json()
    return {e["field"]: e["code"] for e in body["errors"]}


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"description": ""}, "description", "description.required"),
        ({"description": "rusak"}, "description", "description.too_short"),
        ({"description": "x" * 4001}, "description", "description.too_long"),
        ({"lat": 200, "lon": 106.7}, "location", "location.out_of_range"),
        ({"lat": "abc", "lon": "def"}, "location", "location.out_of_range"),
        ({"lat": "nan", "lon": "106.7"}, "location", "location.out_of_range"),
        ({"lat": "-6.2", "lon": "inf"}, "location", "location.out_of_range"),
        ({"lat": OUTSIDE[0], "lon": OUTSIDE[1]}, "location", "location.outside_city"),
        ({"lat": None, "lon": None}, "location", "location.required"),
        ({"category": "teleportation"}, "category", "category.unknown"),
        ({"category": "road"}, "attribute[size]", "attribute.required"),
        (
            {"category": "road", "attributes": {"size": "gigantic"}},
            "attribute[size]",
            "attribute.not_in_list",
        ),
        (
            {"category": "flood", "attributes": {"depth_cm": "deep"}},
            "attribute[depth_cm]",
            "attribute.not_number",
        ),
    ],
)
async def test_refused_fields_say_which_and_why(app, client_for, database, city, fields, field, code) -> None:
    siti = await citizen(app, client_for, database, city)
    answer = await submit(siti, **{**GOOD, **fields})
    assert answer.status_code == 422, answer.text
    assert errors(answer).get(field) == code, answer.json()
    reason = next(e["reason"] for e in answer.json()["errors"] if e["field"] == field)
    assert reason and "laksa.error" not in reason  # a real sentence, in Indonesian by default
    assert await count(database, city) == 0


async def test_every_problem_is_reported_at_once_in_english_too(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    answer = await siti.post(
        "/api/v1/laksa/complaints?lang=en", data={"description": "x", "lat": "999", "category": "nope"}
    )
    assert answer.status_code == 422
    assert set(errors(answer)) == {"description", "location", "category"}
    assert "at least 10 characters" in answer.text


async def test_wrong_types_in_json_are_refused_not_crashed(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    for body in ({"description": 12345, "lat": 1, "lon": 2}, {"description": "x" * 20, "attributes": [1]}):
        answer = await siti.post("/api/v1/laksa/complaints", json=body)
        assert answer.status_code == 422, answer.text
    not_json = await siti.post(
        "/api/v1/laksa/complaints", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422 and errors(not_json) == {"body": "body.not_json"}


def bomb() -> bytes:
    """A small PNG that declares 100 megapixels (all one colour, so it compresses to almost nothing)."""
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, "GIF")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("lampu.jpg", b"%PDF-1.4 this is a pdf renamed to jpg\n%%EOF", "photos.not_image"),
        ("lampu.jpg", gif(), "photos.type"),
        ("lampu.jpg", b"", "photos.empty"),
        ("kosong.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "photos.not_image"),
        ("bom.png", bomb(), "photos.too_many_pixels"),
    ],
    ids=["renamed-pdf", "renamed-gif", "empty", "truncated-png", "decompression-bomb"],
)
async def test_photos_are_judged_by_their_bytes(app, client_for, database, city, name, content, code) -> None:
    siti = await citizen(app, client_for, database, city)
    answer = await submit(siti, **GOOD, photos=[("ok.jpg", jpeg()), (name, content)])
    assert answer.status_code == 422, answer.text
    assert errors(answer) == {"photos[1]": code}
    assert await count(database, city) == 0


async def test_too_many_and_too_large_photos(app, client_for, database, make_city) -> None:
    small = await make_city("laksa", module_config={"laksa": {"max_photo_bytes": 50_000}})
    await with_boundaries(database, small)
    siti = await citizen(app, client_for, database, small)
    six = await submit(siti, **GOOD, photos=[(f"{i}.jpg", jpeg()) for i in range(6)])
    assert six.status_code == 422 and errors(six) == {"photos": "photos.too_many"}
    big = Image.effect_noise((400, 400), 100).convert("RGB")
    out = io.BytesIO()
    big.save(out, "PNG")
    assert len(out.getvalue()) > 50_000
    large = await submit(siti, **GOOD, photos=[("besar.png", out.getvalue())])
    assert large.status_code == 422 and errors(large) == {"photos[0]": "photos.too_large"}
    assert "0.0 MB" not in large.text
    ok = await submit(siti, **GOOD, photos=[("a.png", png()), ("b.jpg", jpeg())])
    assert ok.status_code == 201


async def test_an_upload_over_the_body_limit_is_a_clear_413(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    huge = b"\xff\xd8\xff" + b"\x00" * (65 * 1024 * 1024)
    answer = await submit(siti, **GOOD, photos=[("huge.jpg", huge)])
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["field"] == "photos"


async def test_html_and_unknown_hashtags_are_kept_as_text(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    text = '<script>alert("x")</script> <img src=x onerror=alert(1)> lubang #TagYangTidakAda #jalanrusak'
    answer = await submit(siti, description=text, lat=CIPONDOH[0], lon=CIPONDOH[1])
    assert answer.status_code == 201, answer.text
    complaint = answer.json()["complaint"]
    assert complaint["description"] == text  # JSON carries it as data; pages escape it
    assert complaint["hashtags"] == ["tagyangtidakada", "jalanrusak"]
    assert answer.headers["content-type"].startswith("application/json")


async def test_unknown_hashtags_alone_go_to_triage(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    answer = await submit(
        siti, description="Tolong dicek ya #entahapa #coba", lat=CIPONDOH[0], lon=CIPONDOH[1]
    )
    assert answer.json()["complaint"]["state"] == "triage"


async def test_a_retried_submission_never_makes_a_second_complaint(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    first = await submit(siti, **GOOD, key="abc-123", photos=[("a.jpg", jpeg())])
    again = await submit(siti, **GOOD, key="abc-123", photos=[("a.jpg", jpeg())])
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["complaint"]["id"] == first.json()["complaint"]["id"]
    other = await submit(
        siti, **{**GOOD, "description": "Lain lagi isinya sekarang #jalanrusak"}, key="abc-123"
    )
    assert other.status_code == 409 and other.json()["error"] == "idempotency_key_reused"
    assert await count(database, city) == 1
    # the same key from another citizen is another complaint
    budi = await citizen(app, client_for, database, city, "Budi Santoso")
    assert (await submit(budi, **GOOD, key="abc-123")).status_code == 201


async def test_concurrent_retries_with_one_key_make_one_complaint(app, client_for, database, city) -> None:
    import asyncio

    siti = await citizen(app, client_for, database, city)
    answers = await asyncio.gather(*(submit(siti, **GOOD, key="double-tap") for _ in range(4)))
    assert sorted(a.status_code for a in answers) in ([200, 200, 200, 201],), [a.text for a in answers]
    assert len({a.json()["complaint"]["id"] for a in answers}) == 1
    assert await count(database, city) == 1


async def test_submissions_are_rate_limited_per_citizen(app, client_for, database, make_city) -> None:
    strict = await make_city("laksa", module_config={"laksa": {"submissions_per_hour": 2}})
    await with_boundaries(database, strict)
    siti = await citizen(app, client_for, database, strict)
    codes = [(await submit(siti, **GOOD)).status_code for _ in range(2)]
    refused = await submit(siti, **GOOD)
    assert codes == [201, 201] and refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0 and refused.json()["error"] == "rate_limited"
    other = await citizen(app, client_for, database, strict, "Budi")
    assert (await submit(other, **GOOD)).status_code == 201


async def test_an_accepted_complaint_is_whole(app, client_for, database, city) -> None:
    siti = await citizen(app, client_for, database, city)
    answer = await submit(siti, **GOOD, category="road", attributes={"size": "large"}, anonymous="on")
    assert answer.status_code == 201, answer.text
    cid = answer.json()["complaint"]["id"]
    async with database.tenant_session(city) as s:
        row = await s.get(Complaint, cid)
        kinds = list(await s.scalars(select(TimelineEntry.kind).where(TimelineEntry.complaint_id == cid)))
    assert row is not None and row.anonymous and row.attributes == {"size": "large"}
    assert row.citizen_id == siti.id and row.kecamatan == "Cipondoh" and row.kelurahan
    assert kinds == ["submitted", "routed"]


async def test_staff_cannot_submit_as_citizens(app, client_for, database, city) -> None:
    from laksa_support import employee

    staff = await employee(app, client_for, database, city, "pupr")
    assert (await submit(staff, **GOOD)).status_code == 403
    anonymous = client_for(city.primary_host)
    assert (await anonymous.post("/api/v1/laksa/complaints", json=GOOD)).status_code in (401, 403)


async def test_text_postgresql_cannot_store_is_refused_not_a_500(app, client_for, database, city) -> None:
    from laksa_support import employee

    siti = await citizen(app, client_for, database, city)
    cases = [
        ({**GOOD, "description": "Lampu mati\x00 di sini #lampumati"}, "description"),
        ({**GOOD, "address": "Jl. Kenanga\x00 No. 5"}, "address"),
        (
            {**GOOD, "category": "street-lamp", "attributes": {"pole_number": "A\x0012"}},
            "attribute[pole_number]",
        ),
    ]
    for body, field in cases:
        answer = await siti.post("/api/v1/laksa/complaints", json=body)
        assert answer.status_code == 422 and field in errors(answer), answer.text
    surrogate = b'{"description": "Lampu mati \\ud800 di gang #lampumati", "lat": %f, "lon": %f}' % CIPONDOH
    answer = await siti.post(
        "/api/v1/laksa/complaints", content=surrogate, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    made = await submit(siti, **GOOD)
    cid = made.json()["complaint"]["id"]
    pupr = await employee(app, client_for, database, city, "pupr")
    note = await pupr.post(f"/api/v1/laksa/complaints/{cid}/notes", json={"body": "catatan\x00"})
    assert note.status_code == 422 and errors(note) == {"body": "body.invalid"}
    assert await count(database, city) == 1


async def test_a_partner_retry_with_contact_details_finds_the_first_complaint(database, city) -> None:
    from kotalive.context import use_tenant
    from kotalive.modules.laksa.services import Actor, ComplaintService, NewComplaint

    new = NewComplaint(
        description="Lampu jalan mati di ujung gang #lampumati",
        lat=CIPONDOH[0],
        lon=CIPONDOH[1],
        idempotency_key="partner-1",
        contact={"first_name": "Warga", "last_name": "Demo"},
        source="open311",
    )
    from kotalive.modules.laksa.configuration import issue_api_key

    with use_tenant(city):
        async with database.tenant_session(city) as s:
            key, _ = await issue_api_key(s, "app", "test")
            await s.commit()
            first = await ComplaintService(s).submit(Actor.partner(key.id, "app"), new)
            again = await ComplaintService(s).submit(Actor.partner(key.id, "app"), new)
    assert not first.replayed and again.replayed and again.complaint.id == first.complaint.id
    assert first.complaint.idempotency_key == "partner-1"
