"""``kotalive-simulators`` / ``python -P infra/simulators/run.py``: every simulator until Ctrl-C.

``kotalive-simulators telephony play ...`` plays calls with AML into a city's 112 webhooks;
``kotalive-simulators units drive ...`` drives its units' terminals (see cli112.py and README).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from types import FrameType

from kotalive_simulators.oidc import load_issuers
from kotalive_simulators.server import KINDS, SimulatorHandle, start_simulators


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kotalive-simulators",
        description="SIAK, Simpeg, SMS gateway and OpenID provider simulators and a mail sink (SMTP) with "
        "the demo cities' data (development only).",
        epilog="112 clients: `kotalive-simulators telephony play --help` (calls and AML into a city), "
        "`kotalive-simulators units drive --help` (the units' terminals).",
    )
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1; keep it loopback)")
    p.add_argument(
        "--base-port",
        type=int,
        default=8100,
        help="SIAK on this port, Simpeg +1, SMS +2, OpenID +3, SMTP +4 (default 8100; 0 = free ports)",
    )
    p.add_argument("--state-dir", type=Path, help="keep the OpenID signing keys here across restarts")
    p.add_argument(
        "--platform-port", type=int, default=8000, help="port of the platform, for the OpenID redirect URIs"
    )
    p.add_argument("--callback-path", default="/staff/callback", help="OpenID redirect path of the platform")
    p.add_argument("--oidc-config", type=Path, help="JSON file of OpenID clients and accounts (see README)")
    p.add_argument(
        "--json", action="store_true", help="print one JSON line of URLs and settings instead of text"
    )
    return p


def describe(handle: SimulatorHandle) -> dict[str, object]:
    return {
        "urls": handle.urls,
        "cities": {city: handle.city_settings(city) for city in handle.cities},
        "inboxes": {
            city: {"sms": handle.sms_inbox_url(city), "mail": handle.mail_inbox_url(city)}
            for city in handle.cities
        },
        "personas": {
            city: [{k: v for k, v in asdict(p).items() if v is not None} for p in handle.personas(city)]
            for city in handle.cities
        },
    }


def _text(handle: SimulatorHandle) -> str:
    lines = ["Kota Live simulators (development only, invented people):"]
    for kind in KINDS:
        where = handle.root(kind) if kind == "smtp" else f"{handle.root(kind)}/<city>"
        lines.append(f"  {kind:<7} {where}")
    for city in handle.cities:
        s = handle.city_settings(city)
        lines.append(f"{city}:")
        for kind in ("siak", "simpeg", "sms"):
            lines.append(f"  {kind:<7} {s[kind]['base_url']}  key {s[kind]['api_key']}")
        if "oidc" in s:
            o = s["oidc"]
            lines.append(f"  oidc    {o['issuer']}  client {o['client_id']} / {o['client_secret']}")
        m = s["smtp"]
        lines.append(
            f"  smtp    {m['host']}:{m['port']} (no TLS)  login {m['username']} / {m['password']}  "
            f"from {m['from_address']}"
        )
        lines.append(f"  SMS inbox:  {handle.sms_inbox_url(city)}")
        lines.append(f"  Mail inbox: {handle.mail_inbox_url(city)}")
        for p in handle.personas(city):
            ident = f"NIK {p.nik} phone {p.phone}" if p.nik else f"login {p.username} (NIP {p.nip})"
            lines.append(f"  {p.label:<26} {p.name}: {ident}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["telephony"], ["units"]):
        from kotalive_simulators.cli112 import main as main112

        return main112(argv)
    args = _parser().parse_args(argv)
    issuers = load_issuers(args.oidc_config) if args.oidc_config else None
    handle = start_simulators(
        args.state_dir,
        host=args.host,
        base_port=args.base_port or None,
        issuers=issuers,
        platform_port=args.platform_port,
        callback_path=args.callback_path,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(json.dumps(describe(handle)) if args.json else _text(handle), flush=True)
    try:
        while not stop.wait(0.5):
            if not handle._thread.thread.is_alive():
                print("simulators stopped unexpectedly", file=sys.stderr)
                return 1
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
