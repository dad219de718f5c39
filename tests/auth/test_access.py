"""Role grants (audited, sessions ended) and the audit log (filter, keyset paging, CSV export)."""

from __future__ import annotations

import csv
import io
from contextlib import asynccontextmanager

from kotalive.auth import audit
from kotalive.auth.models import Employee
from kotalive.auth.principal import Principal
from kotalive.auth.sessions import COOKIE_NAME


async def _employee(database, city, nip: str, name: str) -> Employee:
    async with database.tenant_session(city) as s, s.begin():
        e = Employee(nip=nip, name=name, active=True)
        s.add(e)
    return e


@asynccontextmanager
async def _admin_client(app, client_for, city, admin: Employee):
    token = await app.state.auth.sessions.create(
        Principal(
            kind="employee", id=admin.id, tenant_id=city.id, name=admin.name, roles=frozenset({"city_admin"})
        )
    )
    async with client_for(city.primary_host) as c:
        c.cookies.set(COOKIE_NAME, token)
        c.headers["x-csrftoken"] = (await c.get("/")).cookies.get("kl_csrf")
        yield c


async def test_granting_a_role_is_audited_and_ends_the_persons_sessions(
    app, client_for, make_city, database
) -> None:
    city = await make_city("grant")
    admin = await _employee(database, city, "199001012020011001", "Admin Kota")
    worker = await _employee(database, city, "199202022021022002", "Budi <b>PUPR</b>")
    worker_token = await app.state.auth.sessions.create(
        Principal(
            kind="employee", id=worker.id, tenant_id=city.id, name=worker.name, roles=frozenset({"employee"})
        )
    )
    async with _admin_client(app, client_for, city, admin) as c:
        bad = await c.post(
            "/api/v1/roles/grants",
            json={"subject_kind": "employee", "subject_id": worker.id, "role": "emperor"},
        )
        assert bad.status_code == 400 and "role" in bad.text
        missing = await c.post(
            "/api/v1/roles/grants",
            json={"subject_kind": "employee", "subject_id": 987654, "role": "liveroom_operator"},
        )
        assert missing.status_code == 400 and "subject_id" in missing.text
        r = await c.post(
            "/api/v1/roles/grants",
            json={"subject_kind": "employee", "subject_id": worker.id, "role": "liveroom_operator"},
        )
        assert r.status_code == 201, r.text
        grant_id = r.json()["id"]
        again = await c.post(
            "/api/v1/roles/grants",
            json={"subject_kind": "employee", "subject_id": worker.id, "role": "liveroom_operator"},
        )
        assert again.json()["id"] == grant_id  # idempotent
        log = (await c.get("/api/v1/audit", params={"action": "role."})).json()
        assert [e["action"] for e in log] == ["role.granted"]
        assert (log[0]["actor_kind"], log[0]["actor_id"], log[0]["target_id"]) == (
            "employee",
            admin.id,
            str(worker.id),
        )
        assert (await c.delete(f"/api/v1/roles/grants/{grant_id}")).status_code == 204
        assert (await c.delete(f"/api/v1/roles/grants/{grant_id}")).status_code == 404
    # The worker's old session (with old roles) is gone.
    async with client_for(city.primary_host) as w:
        assert (
            await w.get("/api/v1/me", headers={"cookie": f"{COOKIE_NAME}={worker_token}"})
        ).status_code == 401


async def test_audit_log_filters_pages_and_exports_csv(app, client_for, make_city, database) -> None:
    city = await make_city("auditlog")
    admin = await _employee(database, city, "198001012010011001", "Admin Audit")
    async with database.tenant_session(city) as s, s.begin():
        for i in range(7):
            audit.record(
                s,
                "login.failed" if i % 2 else "login.succeeded",
                target_kind="citizen",
                target_id=i,
                detail={"n": i, "name": "=cmd|' /C calc'!A0"},
                system=True,
            )
    async with _admin_client(app, client_for, city, admin) as c:
        first = (await c.get("/api/v1/audit", params={"action": "login.", "limit": 3})).json()
        assert len(first) == 3 and first[0]["id"] > first[1]["id"]
        rest = (
            await c.get("/api/v1/audit", params={"action": "login.", "before_id": first[-1]["id"]})
        ).json()
        assert len(first) + len(rest) == 7
        failed = (await c.get("/api/v1/audit", params={"action": "login.failed"})).json()
        assert len(failed) == 3
        assert (await c.get("/api/v1/audit", params={"limit": 0})).status_code == 400
        export = await c.get("/api/v1/audit/export.csv", params={"action": "login."})
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert len(rows) == 7 and {r["action"] for r in rows} == {"login.failed", "login.succeeded"}
        after = (await c.get("/api/v1/audit", params={"action": "audit.exported"})).json()
        assert len(after) == 1  # exporting is itself audited


async def test_another_citys_admin_sees_nothing_here(app, client_for, make_city, database) -> None:
    a, b = await make_city("aa"), await make_city("ab")
    async with database.tenant_session(a) as s, s.begin():
        audit.record(s, "secret.a", system=True)
    admin_b = await _employee(database, b, "197001012000011001", "Admin B")
    async with _admin_client(app, client_for, b, admin_b) as c:
        assert (await c.get("/api/v1/audit", params={"action": "secret.a"})).json() == []
