"""SiakClient against the SIAK simulator over real HTTP."""

from __future__ import annotations

import time
from datetime import date

import pytest
from kotalive_simulators import SimulatorHandle, start_simulators

from kotalive.integrations import Misconfigured, NotFound, SiakClient, SiakConfig, Unavailable
from kotalive.integrations.http import Rejected

SITI = "3671054507901001"  # resident of Kota Tangerang (woman: birth day 05 + 40)


def siak(sims: SimulatorHandle, city: str = "tangerang", **overrides: object) -> SiakClient:
    settings = sims.city_settings(city)["siak"] | overrides
    return SiakClient(SiakConfig.from_dict(settings))


async def test_a_resident_is_found_with_every_field(sims: SimulatorHandle) -> None:
    async with siak(sims) as client:
        person = await client.lookup(SITI)
    assert person.name == "Siti Rahmawati"
    assert person.birth_date == date(1990, 7, 5)
    assert person.sex == "P"
    assert (person.kecamatan, person.kelurahan, person.rt, person.rw) == (
        "Cipondoh",
        "Poris Plawad",
        "003",
        "005",
    )
    assert (person.city, person.province, person.region_code) == ("Kota Tangerang", "Banten", "3671")
    assert person.alive and person.lives_in("3671")
    assert SITI not in repr(person)  # masked in logs


async def test_residency_follows_the_residence_not_the_nik(sims: SimulatorHandle) -> None:
    tangerang = sims.cities["tangerang"]
    moved_in = next(r for r in tangerang.residents if r.nama == "Rizky Ramadhan")
    outsider = next(r for r in tangerang.residents if r.nama == "Putri Ayu Lestari")
    deceased = next(r for r in tangerang.residents if r.status_hidup == "meninggal")
    async with siak(sims) as client:
        moved = await client.lookup(moved_in.nik)
        other = await client.lookup(outsider.nik)
        dead = await client.lookup(deceased.nik)
    assert moved.nik[:4] == "3273" and moved.lives_in("3671")
    assert other.nik[:4] == "3674" and not other.lives_in("3671") and other.city == "Kota Tangerang Selatan"
    assert not dead.alive


async def test_unknown_nik_is_not_found(sims: SimulatorHandle) -> None:
    async with siak(sims) as client:
        with pytest.raises(NotFound):
            await client.lookup("3671011501909999")
        # Bekasi's SIAK does not know Siti either.
    async with siak(sims, "bekasi") as client:
        with pytest.raises(NotFound):
            await client.lookup(SITI)


async def test_a_malformed_nik_never_leaves(sims: SimulatorHandle) -> None:
    async with siak(sims) as client:
        for bad in ("367105450790100", "36710545079010011", "../../etc/passwd", "3671O54507901001"):
            with pytest.raises(ValueError):
                await client.lookup(bad)


async def test_a_wrong_or_other_citys_key_is_misconfigured(sims: SimulatorHandle) -> None:
    async with siak(sims, api_key="wrong") as client:
        with pytest.raises(Misconfigured, match="key"):
            await client.lookup(SITI)
    async with siak(sims, api_key=sims.cities["bekasi"].siak_api_key) as client:
        with pytest.raises(Misconfigured):
            await client.lookup(SITI)


async def test_a_base_url_that_is_not_siak_is_misconfigured(sims: SimulatorHandle) -> None:
    for url in (sims.root("siak") + "/nowhere", sims.base_url("sms", "tangerang"), sims.root("siak")):
        async with siak(sims, base_url=url) as client:
            with pytest.raises(Misconfigured):
                await client.lookup(SITI)


async def test_5xx_is_unavailable_after_one_retry(clean_faults: SimulatorHandle) -> None:
    sims = clean_faults
    faults = sims.faults("siak", "tangerang")
    faults.fail_count = 1  # one failure: the retry of the GET succeeds
    async with siak(sims) as client:
        assert (await client.lookup(SITI)).name == "Siti Rahmawati"
        faults.fail_count = 2
        with pytest.raises(Unavailable, match="503"):
            await client.lookup(SITI)
        faults.fail_count, faults.fail_status = 1, 500  # not a retried status
        with pytest.raises(Unavailable, match="500"):
            await client.lookup(SITI)
        faults.fail_count, faults.fail_status = 1, 400
        with pytest.raises(Rejected):
            await client.lookup(SITI)


async def test_a_slow_siak_is_unavailable_within_the_timeout(clean_faults: SimulatorHandle) -> None:
    sims = clean_faults
    faults = sims.faults("siak", "tangerang")
    faults.delay_seconds, faults.delay_count = 2.0, 1
    started = time.monotonic()
    async with siak(sims, timeout_seconds=0.3) as client:
        with pytest.raises(Unavailable, match="no answer"):
            await client.lookup(SITI)
    assert time.monotonic() - started < 1.5  # timeouts are not retried


async def test_a_stopped_siak_is_unavailable() -> None:
    own = start_simulators()
    settings = own.city_settings("tangerang")["siak"]
    own.stop()
    async with SiakClient(SiakConfig.from_dict(settings)) as client:
        with pytest.raises(Unavailable, match="cannot reach"):
            await client.lookup(SITI)
