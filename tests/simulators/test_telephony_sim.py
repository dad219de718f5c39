"""The 112 simulators against the real app over real HTTP (uvicorn on loopback, the city's Host).

The telephony simulator plays a script with every kind of call and AML message (answered,
abandoned, transferred, replayed, out of order, AML before its call, the SMS form, both
confidence spellings, malformed and truncated AML, a wrong HMAC, refused events); every call and
every location must land, every malformed message must be kept as rejected, and a replay of the
whole stream must change nothing. The unit simulator then drives the units the demo seeds: a
call with AML becomes a fire incident, the dispatcher sends the recommended nearest fire engine
and an ambulance, and the simulated terminals drive them on scene (the ambulance on through
hospital and back to its base).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hotline112_calls_support import connect_telephony
from kotalive_simulators import telephony
from kotalive_simulators import units as unit_sim
from laksa_support import employee
from sqlalchemy import func, select

from kotalive.context import use_tenant
from kotalive.modules.hotline112 import demo
from kotalive.modules.hotline112.models import (
    Assignment,
    Call,
    CallerLocation,
    Incident,
    RejectedMessage,
    Unit,
)

SECRET = "sim-telephony-secret"
AML_KEY = "sim-aml-key"
CIPONDOH = (-6.1852, 106.6901)
# The script's clock, this much faster. Not more: an AML posted while its call's first `offered` is
# still committing can stay unmatched (a race in the calls service; see the report of issue 7), and
# at 3x the AML comes 0.33 s after its call.
SPEED = 3


def script() -> telephony.Script:
    lat, lon = CIPONDOH
    return telephony.script_from_dict(
        {
            "name": "every-case",
            "calls": [
                {"call_id": "c1", "caller": "+6281211110001", "answer_after_s": 2, "end_after_s": 5,
                 "aml": [{"lat": lat, "lon": lon, "accuracy_m": 12, "after_s": 1}]},
                # AML first, then the call; and the old spelling of the confidence.
                {"call_id": "c2", "caller": "081211110002", "start_s": 1, "answer_after_s": 3, "end_after_s": 6,
                 "aml": {"lat": lat + 0.01, "lon": lon, "after_s": -1, "spelling": "certainty", "source": "wifi"}},
                # The SMS form of AML; the call is transferred to 119.
                {"call_id": "c3", "caller": "+6285711110003", "start_s": 2, "answer_after_s": 2,
                 "transfer_after_s": 3, "transfer_to": "119", "end_after_s": 6,
                 "aml": [{"lat": lat, "lon": lon + 0.01, "channel": "sms", "source": "cell", "accuracy_m": 800}]},
                # Abandoned while ringing, every event and AML sent twice.
                {"call_id": "c4", "caller": "+6281311110004", "start_s": 3, "answer_after_s": None,
                 "end_after_s": 4, "end_reason": "caller_hung_up", "replay": True,
                 "aml": {"lat": lat - 0.01, "lon": lon, "after_s": 0.5}},
                # The telephony system delivers the events late and backwards.
                {"call_id": "c5", "caller": "+6281211110005", "start_s": 4, "answer_after_s": 2,
                 "transfer_after_s": 3, "end_after_s": 6, "out_of_order": True,
                 "aml": [{"lat": lat, "lon": lon - 0.01, "after_s": 1},
                         {"lat": lat, "lon": lon - 0.01, "after_s": 2, "malformed": "truncated"},
                         {"lat": lat, "lon": lon - 0.01, "after_s": 3, "malformed": "garbage"},
                         {"lat": lat, "lon": lon - 0.01, "after_s": 3.5, "malformed": "bad_hmac"},
                         {"lat": lat, "lon": lon - 0.01, "after_s": 4, "malformed": "missing_lat",
                          "channel": "sms"}]},
                # Refused events: a wrong signature and a bad field; nothing of them is kept.
                {"call_id": "c6", "caller": "+6281211110006", "start_s": 5, "answer_after_s": None,
                 "end_after_s": None, "malformed": "bad_signature"},
                {"call_id": "c7", "caller": "+6281211110007", "start_s": 5, "answer_after_s": None,
                 "end_after_s": None, "malformed": "bad_type"},
            ],
        }
    )  # fmt: skip


async def count(database: Any, city: Any, stmt: Any) -> int:
    async with database.tenant_session(city) as session:
        return int(await session.scalar(stmt) or 0)


async def test_a_scripted_stream_lands_every_call_and_location_and_a_replay_changes_nothing(
    database, settings, make_city, new_slug, live_server
) -> None:
    slug = new_slug("sim")
    city = await make_city(slug=slug, domains=[f"{slug}.kota.test", f"{slug}.localhost"])
    await connect_telephony(database, settings, city, secret=SECRET, aml_key=AML_KEY)
    target = telephony.Target(live_server.url(f"{slug}.localhost"), secret=SECRET, aml_hmac_key=AML_KEY)
    played = script()
    lines: list[str] = []

    summary = await telephony.play(played, target, speed=SPEED, run_tag="r1", progress=lines.append)

    assert not summary.failed, summary.text()
    assert lines and "requests answered" in lines[-1]
    by_kind = summary.counts()
    # c1 3, c2 3, c3 4, c4 2 twice, c5 its four in one batch, c6 and c7 one each.
    assert by_kind["event"]["requests"] == 3 + 3 + 4 + 2 * 2 + 1 + 1 + 1
    assert by_kind["event"]["accepted"] == 3 + 3 + 4 + 2 + 4 and by_kind["event"]["duplicates"] == 2
    assert by_kind["aml"]["requests"] == 1 + 1 + 2 + 4 and by_kind["aml_sms"]["requests"] == 2
    assert summary.calls == [f"c{i}-r1" for i in range(1, 6)]
    assert summary.locations == 5

    async with database.tenant_session(city) as session:
        calls = {c.call_ref: c for c in await session.scalars(select(Call))}
        located = list(await session.scalars(select(CallerLocation)))
        rejected = list(await session.scalars(select(RejectedMessage)))
    assert sorted(calls) == sorted(summary.calls)
    assert calls["c2-r1"].caller_number == "+6281211110002"  # 0812... normalised
    assert all(c.offered_at is not None for c in calls.values())
    assert calls["c4-r1"].answered_at is None and calls["c4-r1"].ended_at is not None
    c5 = calls["c5-r1"]
    assert c5.offered_at < c5.answered_at < c5.transferred_at < c5.ended_at  # order restored by `at`
    assert calls["c3-r1"].transferred_to == "119"
    # Every well-formed AML is a location matched to its call (the early one too), stored once.
    assert len(located) == summary.locations
    ids = {c.id: ref for ref, c in calls.items()}
    assert sorted(ids[loc.call_id] for loc in located if loc.call_id is not None) == sorted(
        ["c1-r1", "c2-r1", "c3-r1", "c4-r1", "c5-r1"]
    )
    sms = next(loc for loc in located if loc.channel == "aml_sms")
    assert ids[sms.call_id] == "c3-r1" and sms.accuracy_m == 800
    assert all(loc.hmac_ok is True for loc in located if loc.channel == "aml_https")
    # The four malformed ones answered 2xx (the summary says so) and are kept for diagnosis.
    assert len([r for r in rejected if r.channel in ("aml_https", "aml_sms")]) == 4
    assert any("hmac" in r.reason for r in rejected)

    # The same stream again (same call ids, same event ids): every event is a duplicate.
    again = await telephony.play(played, target, speed=SPEED, run_tag="r1")
    assert not again.failed, again.text()
    events = again.counts()["event"]
    assert events["accepted"] == 0
    assert events["duplicates"] == by_kind["event"]["accepted"] + by_kind["event"]["duplicates"]
    assert await count(database, city, select(func.count()).select_from(Call)) == 5
    # The AML messages were sent anew (new timestamps): new locations, matched to the same calls.
    async with database.tenant_session(city) as session:
        relocated = list(await session.scalars(select(CallerLocation)))
    assert len(relocated) == 2 * summary.locations
    assert all(loc.call_id is not None for loc in relocated)


async def test_the_unit_simulator_drives_the_recommended_fire_engine_on_scene(
    app, client_for, database, settings, make_city, new_slug, live_server
) -> None:
    slug = new_slug("simu")
    city = await make_city(slug=slug, domains=[f"{slug}.kota.test", f"{slug}.localhost"])
    with use_tenant(city):  # as `make run` seeds a demo city
        async with database.tenant_session(city) as session:
            said = await demo.seed_demo(session, "tangerang")  # the demo's units, telephony and staff
        assert any("demo units" in line for line in said), said
        async with database.tenant_session(city) as session:
            again = await demo.seed_demo(session, "tangerang")
            seeded = {u.call_sign: u for u in await session.scalars(select(Unit))}
    assert not any("demo units" in line for line in again)  # idempotent
    assert set(seeded) == {u.call_sign for u in unit_sim.DEMO_UNITS["tangerang"]}
    tokens = unit_sim.demo_tokens("tangerang")
    url = live_server.url(f"{slug}.localhost")

    lat, lon = CIPONDOH
    call = telephony.script_from_dict(
        [{"call_id": "fire", "caller": "+6281299990001", "answer_after_s": 0.5, "end_after_s": None,
          "aml": {"lat": lat, "lon": lon, "accuracy_m": 10, "after_s": 0.2}}]
    )  # fmt: skip
    target = telephony.Target(
        url,
        secret=telephony.demo_webhook_secret("tangerang"),
        aml_hmac_key=telephony.demo_aml_key("tangerang"),
    )
    played = await telephony.play(call, target, speed=1, run_tag=slug)
    assert not played.failed, played.text()

    taker = await employee(app, client_for, database, city, None, roles=("calltaker",), name="Penerima")
    live = (await taker.get("/api/v1/hotline112/calls/live")).json()["calls"]
    ringing = next(c for c in live if c["call_ref"] == f"fire-{slug}")
    opened = await taker.post(
        "/api/v1/hotline112/incidents",
        json={
            "call_ids": [ringing["id"]],
            "type": "fire",
            "summary": "Rumah terbakar",
            "location_source": "aml",
        },
    )
    assert opened.status_code == 201, opened.text
    incident = opened.json()["incident"]
    assert (incident["lat"], incident["lon"]) == (lat, lon)

    dispatcher = await employee(
        app, client_for, database, city, "damkar", roles=("dispatcher",), name="Dispatcher"
    )
    recs = await dispatcher.get(f"/api/v1/hotline112/incidents/{incident['id']}/recommendations")
    assert recs.status_code == 200, recs.text
    found = recs.json()["recommendations"]
    engine = next(r for r in found if r["type"] == "fire_engine")
    ambulance = next(r for r in found if r["type"] == "ambulance")
    fire_engines = [u for u in unit_sim.DEMO_UNITS["tangerang"] if u.type == "fire_engine"]
    nearest = min(fire_engines, key=lambda u: unit_sim.distance_m(u.base, CIPONDOH))
    assert engine["call_sign"] == nearest.call_sign
    sent = await dispatcher.post(
        f"/api/v1/hotline112/incidents/{incident['id']}/assignments",
        json={"unit_ids": [engine["unit_id"], ambulance["unit_id"]]},
    )
    assert sent.status_code == 201, sent.text

    log: list[str] = []
    async with telephony.city_client(url) as client:
        fast = {"time_scale": 1000.0, "interval_s": 0.05, "poll_s": 0.05, "log": log.append}
        engine_driver = unit_sim.UnitDriver(unit_sim.Terminal(client, tokens[engine["call_sign"]]), **fast)
        ambulance_driver = unit_sim.UnitDriver(
            unit_sim.Terminal(client, tokens[ambulance["call_sign"]]),
            full_cycle=True,
            on_scene_s=30.0,
            hospital=unit_sim.DEMO_HOSPITAL["tangerang"],
            **fast,
        )
        stop = asyncio.Event()
        await asyncio.wait_for(
            asyncio.gather(engine_driver.run(stop, trips=1), ambulance_driver.run(stop, trips=1)), 60
        )
    assert not engine_driver.errors and not ambulance_driver.errors, (
        engine_driver.errors,
        ambulance_driver.errors,
    )
    (engine_trip,) = engine_driver.trips
    assert [s for s, _ in engine_trip.statuses] == ["en_route", "on_scene"]
    assert engine_trip.positions >= 2
    assert engine_trip.metres == pytest.approx(engine["distance_m"], rel=0.02)
    (ambulance_trip,) = ambulance_driver.trips
    assert [s for s, _ in ambulance_trip.statuses] == [
        "en_route", "on_scene", "transporting", "at_hospital", "back_in_service", "available",
    ]  # fmt: skip

    async with database.tenant_session(city) as session:
        engine_row = await session.get(Unit, engine["unit_id"])
        ambulance_row = await session.get(Unit, ambulance["unit_id"])
        incident_row = await session.get(Incident, incident["id"])
        engine_job = await session.scalar(select(Assignment).where(Assignment.unit_id == engine["unit_id"]))
    assert engine_row is not None and ambulance_row is not None and incident_row is not None
    assert engine_row.status == "on_scene" and (engine_row.lat, engine_row.lon) == pytest.approx(
        CIPONDOH, abs=1e-6
    )
    assert ambulance_row.status == "available"
    assert (ambulance_row.lat, ambulance_row.lon) == pytest.approx(
        (ambulance_row.base_lat, ambulance_row.base_lon), abs=1e-6
    )
    assert incident_row.state == "on_scene" and incident_row.first_dispatch_at is not None
    assert (
        engine_job is not None and engine_job.en_route_at is not None and engine_job.on_scene_at is not None
    )
    assert engine_job.assigned_at <= engine_job.en_route_at <= engine_job.on_scene_at
    shown = (await dispatcher.get(f"/api/v1/hotline112/incidents/{incident['id']}")).json()
    assert any(e["kind"] for e in shown["timeline"])
    assert any(f"{engine['call_sign']} on_scene" in line for line in log)


async def test_the_command_plays_a_yaml_script_and_refuses_a_bad_one_naming_the_field(
    database, settings, make_city, new_slug, live_server, tmp_path, capsys
) -> None:
    from kotalive_simulators.cli import main

    slug = new_slug("simc")
    city = await make_city(slug=slug, domains=[f"{slug}.kota.test", f"{slug}.localhost"])
    await connect_telephony(database, settings, city, secret=SECRET)
    good = tmp_path / "calls.yaml"
    good.write_text(
        "name: dua-panggilan\n"
        "calls:\n"
        "  - {call_id: y1, caller: '+6281244440001', answer_after_s: 0.2, end_after_s: 0.3,\n"
        "     aml: {lat: -6.18, lon: 106.69, after_s: 0.1}}\n"
        "  - {call_id: y2, caller: '+6281244440002', start_s: 0.1, answer_after_s: null, end_after_s: 0.2}\n"
    )
    url = live_server.url(f"{slug}.localhost")
    argv = [
        "telephony",
        "play",
        "--city-url",
        url,
        "--secret",
        SECRET,
        "--script",
        str(good),
        "--json",
        "--keep-ids",
    ]
    assert await asyncio.to_thread(main, argv) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["calls"] == 2 and summary["locations"] == 1 and summary["failed"] == 0
    assert await count(database, city, select(func.count()).select_from(Call)) == 2
    # The same ids again: duplicates, nothing new (and still exit 0: duplicates are as expected).
    assert await asyncio.to_thread(main, argv) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["by_kind"]["event"]["duplicates"] == 5 and again["by_kind"]["event"]["accepted"] == 0
    # A wrong secret: every event refused (401), exit 1.
    wrong = [*argv[:5], "not-the-secret", *argv[6:]]
    assert await asyncio.to_thread(main, wrong) == 1
    refused = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {f["status"] for f in refused["failures"]} == {401}

    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"calls": [{"call_id": "b1", "caller": "+6281", "aml": [{"lat": 123, "lon": 1}]}]})
    )
    assert await asyncio.to_thread(main, [*argv[:7], str(bad)]) == 2
    assert "calls[0].aml[0].lat" in capsys.readouterr().err


def test_scripts_name_the_field_that_is_wrong() -> None:
    cases = [
        ({"calls": []}, "calls"),
        ({"calls": [{"caller": "+62812"}]}, "calls[0].call_id"),
        ({"calls": [{"call_id": "a"}]}, "calls[0].caller"),
        ({"calls": [{"call_id": "a", "caller": "x", "answer_after_s": -1}]}, "calls[0].answer_after_s"),
        ({"calls": [{"call_id": "a", "caller": "x", "answer_after_s": None, "transfer_after_s": 2}]},
         "calls[0].transfer_after_s"),
        ({"calls": [{"call_id": "a", "caller": "x", "malformed": "nope"}]}, "calls[0].malformed"),
        ({"calls": [{"call_id": "a", "caller": "x", "ringtone": 1}]}, "calls[0].ringtone"),
        ({"calls": [{"call_id": "a", "caller": "x", "aml": {"lat": -6.2}}]}, "calls[0].aml[0].lon"),
        ({"calls": [{"call_id": "a", "caller": "x", "aml": {"lat": -6.2, "lon": 106.8, "source": "gsm"}}]},
         "calls[0].aml[0].source"),
        ({"calls": [{"call_id": "a", "caller": "x"}, {"call_id": "a", "caller": "y"}]}, "calls[1].call_id"),
    ]  # fmt: skip
    for data, field in cases:
        with pytest.raises(telephony.ScriptError) as caught:
            telephony.script_from_dict(data)
        assert caught.value.field == field, (data, caught.value)
    # Out of range on purpose is allowed, and sent as such.
    plan = telephony.script_from_dict(
        [{"call_id": "a", "caller": "x", "aml": {"lat": 123, "lon": 1, "malformed": "out_of_range"}}]
    )
    assert not plan.calls[0].aml[0].valid
    # The SMS form's ml is the length of the whole text.
    text = telephony.aml_sms_text(telephony.AmlPlan(-6.2, 106.8), telephony.dt.datetime.now(telephony.dt.UTC))
    assert text.startswith('A"ML=1;') and int(text.rsplit("ml=", 1)[1]) == len(text)


async def test_the_demo_keeps_a_city_s_own_telephony_system(database, settings, make_city) -> None:
    from kotalive.auth.crypto import Vault
    from kotalive.tenants.integrations import get_integration

    city = await make_city()
    await connect_telephony(database, settings, city, secret="the-city-s-own-secret")
    with use_tenant(city):
        async with database.tenant_session(city) as session:
            said = await demo.seed_demo(session, "bekasi")
        async with database.tenant_session(city) as session:
            kept = await get_integration(session, Vault.from_settings(settings), "telephony")
            units = list(await session.scalars(select(Unit)))
    assert "telephony: the city's own integration kept" in said
    assert kept is not None and kept.secrets == {"webhook_secret": "the-city-s-own-secret"}
    assert {u.call_sign for u in units} == {u.call_sign for u in unit_sim.DEMO_UNITS["bekasi"]}
    assert all(u.terminal_token_hash and u.base_lat is not None and u.crew for u in units)
    assert any("112 call-taker /112" in line for line in said) and any(
        "112 dispatcher" in line for line in said
    )
