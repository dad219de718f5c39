"""``kotalive-simulators``: one command starts all four, prints where, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx


def test_the_command_starts_all_four_and_stops_on_sigterm() -> None:
    command = Path(sys.executable).parent / "kotalive-simulators"
    process = subprocess.Popen(
        [str(command), "--host", "127.0.0.1", "--base-port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        assert set(started["urls"]) == {"siak", "simpeg", "sms", "oidc"}
        tangerang = started["cities"]["tangerang"]
        answer = httpx.get(
            f"{tangerang['siak']['base_url']}/api/v1/penduduk/3671054507901001",
            headers={"X-API-Key": tangerang["siak"]["api_key"]},
        )
        assert answer.json()["nama"] == "Siti Rahmawati"
        assert httpx.get(f"{tangerang['oidc']['issuer']}/.well-known/openid-configuration").status_code == 200
        assert {p["role"] for p in started["personas"]["bekasi"]} >= {"citizen", "employee", "city_admin"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, process.stderr.read() if process.stderr else ""
