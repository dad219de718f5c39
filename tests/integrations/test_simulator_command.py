"""``kotalive-simulators``: one command starts them all (the mail sink too), prints where, stops
cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import httpx


def test_the_command_starts_all_of_them_and_stops_on_sigterm() -> None:
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
        assert set(started["urls"]) == {"siak", "simpeg", "sms", "oidc", "smtp"}
        tangerang = started["cities"]["tangerang"]
        answer = httpx.get(
            f"{tangerang['siak']['base_url']}/api/v1/penduduk/3671054507901001",
            headers={"X-API-Key": tangerang["siak"]["api_key"]},
        )
        assert answer.json()["nama"] == "Siti Rahmawati"
        assert httpx.get(f"{tangerang['oidc']['issuer']}/.well-known/openid-configuration").status_code == 200
        assert {p["role"] for p in started["personas"]["bekasi"]} >= {"citizen", "employee", "city_admin"}
        mail = tangerang["smtp"]
        assert started["urls"]["smtp"] == f"smtp://{mail['host']}:{mail['port']}"
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = mail["from_address"], "a@b.test", "halo"
        message.set_content("isi")
        with smtplib.SMTP(mail["host"], mail["port"], timeout=5) as client:
            client.login(mail["username"], mail["password"])
            client.send_message(message)
        inbox = started["inboxes"]["tangerang"]
        assert inbox["sms"].endswith("/tangerang/inbox")
        listed = httpx.get(
            inbox["mail"].removesuffix("/mail") + "/api/v1/mail", headers={"X-API-Key": mail["password"]}
        )
        assert [m["subject"] for m in listed.json()["data"]] == ["halo"]
        assert "halo" in httpx.get(inbox["mail"]).text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, process.stderr.read() if process.stderr else ""
