"""SmsGateway against the SMS simulator over real HTTP, including its failure mode."""

from __future__ import annotations

import httpx
import pytest
from kotalive_simulators import SimulatorHandle

from kotalive.integrations import (
    Misconfigured,
    SmsConfig,
    SmsGateway,
    Unavailable,
    normalise_indonesian_number,
)
from kotalive.integrations.http import JsonApiClient, Rejected

PHONE = "+6281210000001"


def gateway(sims: SimulatorHandle, city: str = "tangerang", **overrides: object) -> SmsGateway:
    return SmsGateway(SmsConfig.from_dict(sims.city_settings(city)["sms"] | overrides))


async def inbox(sims: SimulatorHandle, to: str, city: str = "tangerang") -> list[dict[str, str]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(
            f"{sims.base_url('sms', city)}/api/v1/messages",
            params={"to": to},
            headers={"X-API-Key": sims.cities[city].sms_api_key},
        )
    assert answer.status_code == 200
    return answer.json()["data"]


async def test_a_sent_message_lands_in_the_inbox(sims: SimulatorHandle) -> None:
    async with gateway(sims) as sms:
        message_id = await sms.send(PHONE, "Kode verifikasi Kota Live: 482913", "otp-1")
    messages = await inbox(sims, PHONE)
    assert messages[-1]["id"] == message_id
    assert messages[-1]["text"].endswith("482913") and messages[-1]["reference"] == "otp-1"
    assert all(m["to"] == PHONE for m in messages)
    assert await inbox(sims, PHONE, "bekasi") == []  # per city
    # The demo page shows it too.
    async with httpx.AsyncClient() as http:
        page = await http.get(f"{sims.base_url('sms', 'tangerang')}/inbox")
    assert "482913" in page.text


async def test_failure_mode_answers_503_and_the_send_is_not_retried(clean_faults: SimulatorHandle) -> None:
    sims = clean_faults
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{sims.base_url('sms', 'tangerang')}/_control/fail", json={"count": 1})
        assert answer.status_code == 200
    before = len(sims.sms_messages("tangerang", PHONE))
    async with gateway(sims) as sms:
        with pytest.raises(Unavailable, match="503"):
            await sms.send(PHONE, "kode 111111", "otp-2")
        assert len(sims.sms_messages("tangerang", PHONE)) == before
        await sms.send(PHONE, "kode 222222", "otp-3")  # the next one goes through
    assert [m.text for m in sims.sms_messages("tangerang", PHONE)][before:] == ["kode 222222"]


async def test_a_slow_gateway_times_out(clean_faults: SimulatorHandle) -> None:
    sims = clean_faults
    faults = sims.faults("sms", "tangerang")
    faults.delay_seconds, faults.delay_count = 1.5, 1
    async with gateway(sims, timeout_seconds=0.2) as sms:
        with pytest.raises(Unavailable):
            await sms.send(PHONE, "kode 333333", "otp-4")


async def test_bad_key_and_refused_input(sims: SimulatorHandle) -> None:
    async with gateway(sims, api_key="nope") as sms:
        with pytest.raises(Misconfigured):
            await sms.send(PHONE, "x", "r")
    async with gateway(sims) as sms:
        with pytest.raises(ValueError):
            await sms.send("081210000001", "x", "r")  # not E.164: never sent
        with pytest.raises(ValueError):
            await sms.send(PHONE, "", "r")
    # What the gateway says to input the adapter would not send.
    config = SmsConfig.from_dict(sims.city_settings("tangerang")["sms"])
    api = JsonApiClient("SMS gateway", config)
    try:
        with pytest.raises(Rejected) as refused:
            await api.post_json("api/v1/messages", {"to": "0812", "text": "x", "reference": "r"})
        assert refused.value.status == 422
    finally:
        await api.aclose()


def test_indonesian_numbers_are_normalised() -> None:
    assert normalise_indonesian_number("0812-1000-0001") == PHONE
    assert normalise_indonesian_number("62 812 1000 0001") == PHONE
    assert normalise_indonesian_number("+6281210000001") == PHONE
    for bad in ("021-555-1234", "+1 415 555 0100", "08", "0812345678901234", ""):
        with pytest.raises(ValueError):
            normalise_indonesian_number(bad)
