"""SimpegClient against the Simpeg simulator over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from kotalive_simulators import SimulatorHandle

from kotalive.integrations import (
    Misconfigured,
    NotFound,
    SimpegClient,
    SimpegConfig,
    StaffRecord,
    Unavailable,
)
from kotalive.tenants.catalogue import DEFAULT_AGENCIES


def simpeg(
    sims: SimulatorHandle, city: str = "tangerang", per_page: int = 100, **overrides: object
) -> SimpegClient:
    return SimpegClient(
        SimpegConfig.from_dict(sims.city_settings(city)["simpeg"] | overrides), per_page=per_page
    )


async def collect(client: SimpegClient, **kwargs: object) -> list[StaffRecord]:
    return [record async for record in client.iter_employees(**kwargs)]  # type: ignore[arg-type]


async def test_paging_through_several_pages_yields_everyone_once(sims: SimulatorHandle) -> None:
    requests: list[httpx.Request] = []
    client = simpeg(sims, per_page=4)
    client._api._http.event_hooks["request"].append(lambda r: _append(requests, r))
    async with client:
        records = await collect(client)
    expected = sims.cities["tangerang"].employees
    assert len(expected) > 4 * 3
    assert sorted(r.nip for r in records) == sorted(e.nip for e in expected)
    assert len({r.nip for r in records}) == len(records)
    assert len(requests) == -(-len(expected) // 4)  # ceil: one request per page, no extra
    assert [r.url.params["page"] for r in requests] == [str(i) for i in range(1, len(requests) + 1)]


async def _append(requests: list[httpx.Request], request: httpx.Request) -> None:
    requests.append(request)


async def test_records_carry_units_matching_the_agency_catalogue_and_leavers(sims: SimulatorHandle) -> None:
    async with simpeg(sims) as client:
        records = await collect(client)
    codes = {a.code for a in DEFAULT_AGENCIES}
    assert {r.unit_code for r in records} <= codes
    assert {"pupr", "bpbd", "dlh", "dishub", "satpol-pp", "damkar", "dinkes", "dinsos", "diskominfo"} <= {
        r.unit_code for r in records
    }
    statuses = {r.status for r in records}
    assert {"aktif", "pensiun", "mutasi", "berhenti"} == statuses
    agus = next(r for r in records if r.name == "Agus Setiawan")
    assert (
        agus.active
        and agus.unit_code == "pupr"
        and agus.position
        and agus.email
        and agus.phone.startswith("+62")
    )
    assert agus.updated_at.tzinfo is not None


async def test_get_one_and_unknown_nip(sims: SimulatorHandle) -> None:
    retired = next(e for e in sims.cities["bekasi"].employees if e.status == "pensiun")
    async with simpeg(sims, "bekasi") as client:
        record = await client.get(retired.nip)
        assert record.status == "pensiun" and not record.active
        with pytest.raises(NotFound):
            await client.get("199001012015011999")
        with pytest.raises(ValueError):
            await client.get("1990")
    # Tangerang's Simpeg does not know Bekasi's staff.
    async with simpeg(sims) as client:
        with pytest.raises(NotFound):
            await client.get(retired.nip)


async def test_updated_since_and_a_leaver_seen_by_the_next_sync(clean_faults: SimulatorHandle) -> None:
    sims = clean_faults
    mulyadi = next(e for e in sims.cities["tangerang"].employees if e.nama == "Mulyadi")
    async with simpeg(sims) as client:
        before = await collect(client)
        newest = max(r.updated_at for r in before)
        assert await collect(client, updated_since=newest + timedelta(seconds=1)) == []
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"{sims.base_url('simpeg', 'tangerang')}/_control/pegawai/{mulyadi.nip}",
                json={"status": "mutasi"},
            )
            assert answer.status_code == 200
        try:
            changed = await collect(client, updated_since=newest + timedelta(seconds=1))
            assert [(r.nip, r.status) for r in changed] == [(mulyadi.nip, "mutasi")]
            assert (await client.get(mulyadi.nip)).status == "mutasi"
        finally:
            async with httpx.AsyncClient() as http:
                await http.post(f"{sims.base_url('simpeg', 'tangerang')}/_control/reset")
        assert (await client.get(mulyadi.nip)).status == "aktif"


async def test_a_failure_mid_sync_raises_instead_of_ending_early(clean_faults: SimulatorHandle) -> None:
    sims = clean_faults
    seen = 0
    async with simpeg(sims, per_page=5) as client:
        with pytest.raises(Unavailable):
            async for _ in client.iter_employees():
                seen += 1
                if seen == 1:  # page 2 will fail twice: the retry fails too
                    sims.faults("simpeg", "tangerang").fail_count = 2
    assert seen == 5


async def test_bad_key_is_misconfigured(sims: SimulatorHandle) -> None:
    async with simpeg(sims, api_key="nope") as client:
        with pytest.raises(Misconfigured):
            await collect(client)


async def test_updated_since_must_be_aware(sims: SimulatorHandle) -> None:
    async with simpeg(sims) as client:
        with pytest.raises(ValueError):
            await collect(client, updated_since=datetime(2026, 1, 1))
    # The simulator refuses one too (a Rejected 400 for a client that sent it anyway).
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{sims.base_url('simpeg', 'tangerang')}/api/v1/pegawai",
            params={"updated_since": "2026-01-01T00:00:00"},
            headers={"X-API-Key": sims.cities["tangerang"].simpeg_api_key},
        )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_updated_since"
