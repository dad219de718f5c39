"""The Live Room's pages without a browser: the board renders for an operator (list, tabs, empty
state), a citizen is refused and an anonymous visitor sent to the staff login, what citizens wrote
is escaped, the item page's forms act and say refusals next to the field, and both languages have
the same texts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from laksa_support import CIPONDOH, agency_id, citizen, employee

from kotalive.modules.liveroom.models import BoardItem
from kotalive.modules.liveroom.texts_pages import PAGES

OPERATOR = ("liveroom_operator",)
EVIL = '<script>alert("x")</script> Jalan <b>rusak</b>'


@pytest.fixture
async def city(make_city: Any) -> Any:
    return await make_city("roompg", region_code="3671", name="Kota Uji Halaman Ruang")


async def new_item(database: Any, city: Any, title: str, **values: Any) -> int:
    async with database.tenant_session(city) as session:
        item = BoardItem(
            kind="complaint",
            source_id=values.pop("source_id", 990000 + len(title)),
            state=values.pop("state", "new"),
            title=title,
            kecamatan="Cipondoh",
            kecamatan_code="36.71.05",
            lat=CIPONDOH[0],
            lon=CIPONDOH[1],
            forwarded_to=[],
            **values,
        )
        session.add(item)
        await session.commit()
        return item.id


def csrf_form(person: Any, **fields: Any) -> dict[str, Any]:
    return {"_csrf_token": person.csrf, **fields}


def test_the_page_texts_have_the_same_keys_in_both_languages() -> None:
    assert set(PAGES["id"]) == set(PAGES["en"])
    assert all(PAGES["id"].values()) and all(PAGES["en"].values())


async def test_the_board_renders_for_an_operator_and_not_for_a_citizen(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR, name="Ani Operator")
    empty = await ani.get("/liveroom")
    assert empty.status_code == 200, empty.text
    html = empty.text
    for text in ("Perlu tindakan", "Menunggu perangkat daerah", "Semua", "Tidak ada yang perlu ditangani"):
        assert text in html
    assert 'id="lr-map"' in html and "/static/liveroom/board.js" in html

    english = await ani.get("/liveroom?lang=en")
    assert "Needs action" in english.text and "Nothing needs handling" in english.text

    siti = await citizen(app, client_for, database, city)
    refused = await siti.get("/liveroom")
    assert refused.status_code == 403
    anonymous = client_for(city.primary_host)
    away = await anonymous.get("/liveroom", headers={"accept": "text/html"}, follow_redirects=False)
    assert away.status_code in (302, 303) and away.headers["location"].startswith("/staff/login")


async def test_what_citizens_wrote_is_escaped_on_the_board_and_the_item_page(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR, name="Ani Operator")
    item_id = await new_item(database, city, EVIL, emergency=True, rank=0, priority="emergency")
    board = await ani.get("/liveroom")
    assert board.status_code == 200
    assert "<script>alert" not in board.text and "<b>rusak" not in board.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in board.text
    assert f'id="item-{item_id}"' in board.text and "lr-emergency" in board.text
    # The page's JSON for the script holds no raw markup either.
    config = re.search(r'<script type="application/json" id="lr-config">(.*?)</script>', board.text, re.S)
    assert config is not None and "<" not in config.group(1)

    shown = await ani.get(f"/liveroom/item/{item_id}")
    assert shown.status_code == 200
    assert "<script>alert" not in shown.text and "&lt;script&gt;" in shown.text
    wall = await ani.get("/liveroom?layar=besar")
    assert wall.status_code == 200 and "lr-wall" in wall.text
    assert f'href="/liveroom/item/{item_id}"' not in wall.text  # no actions on the wall

    missing = await ani.get("/liveroom/item/987654321")
    assert missing.status_code == 404


async def test_the_item_forms_act_and_say_refusals_next_to_the_field(
    app: Any, client_for: Any, database: Any, city: Any
) -> None:
    ani = await employee(app, client_for, database, city, "bpbd", roles=OPERATOR, name="Ani Operator")
    budi = await employee(app, client_for, database, city, "satpol-pp", roles=OPERATOR, name="Budi Operator")
    item_id = await new_item(database, city, "Pohon tumbang di jalan", source_id=880001)
    claimed = await ani.post(f"/liveroom/item/{item_id}/claim", data=csrf_form(ani), follow_redirects=False)
    assert claimed.status_code == 303, claimed.text
    assert claimed.headers["location"] == f"/liveroom/item/{item_id}?pesan=claim"
    page = await ani.get(claimed.headers["location"])
    assert "Item ini sekarang Anda tangani." in page.text and "Lepaskan item" in page.text

    taken = await budi.post(f"/liveroom/item/{item_id}/claim", data=csrf_form(budi))
    assert taken.status_code == 409
    assert "Item ini sedang ditangani Ani Operator sejak" in taken.text

    dlh = await agency_id(database, city, "dlh")
    async with database.tenant_session(city) as s, s.begin():
        await s.execute_sql("UPDATE {city}.agency SET active = false WHERE id = :id", {"id": dlh})
    form = await ani.get(f"/liveroom/item/{item_id}")
    assert re.search(rf'value="{dlh}"\s+disabled', form.text)
    off = await ani.post(f"/liveroom/item/{item_id}/forward", data=csrf_form(ani, agency_ids=str(dlh)))
    assert off.status_code == 422 and 'id="forward-agency_ids-error"' in off.text
    assert "sedang tidak aktif" in off.text
    none = await ani.post(f"/liveroom/item/{item_id}/escalate", data=csrf_form(ani, note=""))
    assert none.status_code == 422 and 'id="escalate-note-error"' in none.text

    pupr = await agency_id(database, city, "pupr")
    sent = await ani.post(
        f"/liveroom/item/{item_id}/forward",
        data=csrf_form(ani, agency_ids=str(pupr), note="Mohon <segera>"),
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    after = await ani.get(sent.headers["location"])
    assert "Diteruskan ruang kendali" in after.text and "Mohon &lt;segera&gt;" in after.text
    progress = await ani.get("/liveroom?view=progress")
    assert f'id="item-{item_id}"' in progress.text

    siti = await citizen(app, client_for, database, city)
    assert (
        await siti.post(f"/liveroom/item/{item_id}/notes", data=csrf_form(siti, body="x"))
    ).status_code == 403


async def test_the_demo_operators_are_seeded_once(database: Any, city: Any) -> None:
    from sqlalchemy import func, select

    from kotalive.auth.models import Employee, RoleGrant
    from kotalive.context import use_tenant
    from kotalive.modules.liveroom.demo import seed_demo

    with use_tenant(city):
        async with database.tenant_session(city) as session:
            first = await seed_demo(session, "tangerang")
        async with database.tenant_session(city) as session:
            again = await seed_demo(session, "tangerang")
            room = await session.execute(
                select(Employee.name, Employee.agency_id, RoleGrant.role)
                .join(RoleGrant, RoleGrant.subject_id == Employee.id)
                .where(RoleGrant.role.in_(("liveroom_operator", "liveroom_supervisor")))
                .order_by(Employee.name)
            )
            rows = room.all()
            grants = await session.scalar(
                select(func.count()).select_from(RoleGrant).where(RoleGrant.source == "demo")
            )
    assert len(first) == 3 and first == again, first
    assert any("login_hint=fikri.maulana" in line for line in first)
    assert [r.role for r in rows].count("liveroom_operator") == 2 and [r.role for r in rows].count(
        "liveroom_supervisor"
    ) == 1
    assert all(r.agency_id is not None for r in rows) and grants == 3
