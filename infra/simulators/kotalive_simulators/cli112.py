"""``kotalive-simulators telephony ...`` and ``kotalive-simulators units ...``: the 112 simulators
from the command line (development only).

    kotalive-simulators telephony play --demo tangerang                       # the make run stream
    kotalive-simulators telephony play --city-url http://kota.localhost:8000 --secret S --script calls.yaml
    kotalive-simulators telephony play --demo bekasi --random --rate 2 --duration 30
    kotalive-simulators telephony example > calls.json                        # every field of a script
    kotalive-simulators units drive --demo tangerang --time-scale 10 --full-cycle
    kotalive-simulators units drive --city-url URL --tokens tokens.json

Exit codes: 0 all as expected, 1 some requests failed, 2 bad arguments or script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from kotalive_simulators import telephony
from kotalive_simulators import units as unit_sim


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--city-url", help="the city's base URL, e.g. http://tangerang.localhost:8000")
    p.add_argument(
        "--demo",
        choices=telephony.DEMO_CITIES,
        help="a demo city of `make run`: its secrets, units and area (and URL, unless --city-url)",
    )
    p.add_argument("--port", type=int, default=8000, help="platform port for --demo (default 8000)")
    p.add_argument(
        "--connect", help="address to connect to instead of resolving the host (*.localhost: 127.0.0.1)"
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kotalive-simulators", description="112 simulators (development only)")
    top = p.add_subparsers(dest="system", required=True)

    tel = top.add_parser("telephony", help="calls and AML into a city's 112 webhooks").add_subparsers(
        dest="action", required=True
    )
    play = tel.add_parser("play", help="play a scripted or random stream of calls with AML")
    _target_args(play)
    play.add_argument("--secret", help="the city's telephony webhook_secret (--demo: the demo one)")
    play.add_argument("--aml-key", help="the city's aml_hmac_key, when it keeps one (--demo: the demo one)")
    source = play.add_mutually_exclusive_group()
    source.add_argument("--script", type=Path, help="a JSON or YAML script (see `telephony example`)")
    source.add_argument("--random", action="store_true", help="a random stream (--rate, --duration, --bbox)")
    play.add_argument("--rate", type=float, default=1.0, help="random: calls per second (default 1)")
    play.add_argument("--duration", type=float, default=30.0, help="random: seconds of calls (default 30)")
    play.add_argument("--bbox", help="random: south,west,north,east (--demo: the city's)")
    play.add_argument("--seed", type=int, help="random: seed (the same stream again)")
    play.add_argument(
        "--aml-share", type=float, default=1.0, help="random: share of calls with AML (default 1)"
    )
    play.add_argument(
        "--sms-share", type=float, default=0.1, help="random: share of AML sent as SMS (default 0.1)"
    )
    play.add_argument(
        "--malformed-share", type=float, default=0.0, help="random: share of AML broken on purpose"
    )
    play.add_argument("--speed", type=float, default=1.0, help="run the script's clock this much faster")
    play.add_argument("--concurrency", type=int, default=64, help="requests in flight at most (default 64)")
    play.add_argument(
        "--keep-ids",
        action="store_true",
        help="send the script's call ids as they are (a replay is then duplicates)",
    )
    play.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    play.add_argument("--quiet", action="store_true", help="no progress lines")
    tel.add_parser("example", help="print an example script (JSON) with every field")

    uni = top.add_parser("units", help="the units' mobile terminals").add_subparsers(
        dest="action", required=True
    )
    drive = uni.add_parser(
        "drive", help="drive units when they are dispatched, reporting positions and statuses"
    )
    _target_args(drive)
    drive.add_argument(
        "--tokens", type=Path, help='JSON file: {"call sign": "token", ...} or a list of tokens'
    )
    drive.add_argument("--token", action="append", default=[], help="a terminal token (repeatable)")
    drive.add_argument(
        "--time-scale", type=float, default=1.0, help="drive this much faster than real (demos)"
    )
    drive.add_argument("--interval", type=float, default=2.0, help="seconds between positions (default 2)")
    drive.add_argument(
        "--poll", type=float, default=1.0, help="seconds between polls of the terminal (default 1)"
    )
    drive.add_argument(
        "--full-cycle", action="store_true", help="after on scene: hospital, back in service, available"
    )
    drive.add_argument(
        "--on-scene", type=float, default=60.0, help="full cycle: seconds on scene (default 60)"
    )
    drive.add_argument(
        "--hospital", help="full cycle: lat,lon where ambulances take patients (--demo: the city's)"
    )
    drive.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    return p


def _city_url(args: argparse.Namespace) -> str:
    return str(args.city_url) if args.city_url else f"http://{args.demo}.localhost:{args.port}"


def _say(line: str) -> None:
    print(line, flush=True)


async def _play(args: argparse.Namespace) -> int:
    secret = args.secret or (telephony.demo_webhook_secret(args.demo) if args.demo else None)
    if not secret:
        print("error: --secret is required (the city's telephony webhook_secret)", file=sys.stderr)
        return 2
    aml_key = args.aml_key or (telephony.demo_aml_key(args.demo) if args.demo else None)
    try:
        if args.script:
            script = telephony.load_script(args.script)
        elif args.random:
            if args.bbox:
                bbox = telephony.parse_bbox(args.bbox)
            elif args.demo:
                bbox = telephony.DEMO_BBOX[args.demo]
            else:
                raise telephony.ScriptError("bbox", "--bbox is required without --demo")
            script = telephony.random_script(
                rate=args.rate,
                duration_s=args.duration,
                bbox=bbox,
                seed=args.seed,
                aml_share=args.aml_share,
                sms_share=args.sms_share,
                malformed_aml_share=args.malformed_share,
            )
        elif args.demo:
            script = telephony.demo_script(args.demo)
        else:
            raise telephony.ScriptError("script", "--script or --random is required without --demo")
        target = telephony.Target(_city_url(args), secret=secret, aml_hmac_key=aml_key, connect=args.connect)
        run_tag = None if args.keep_ids else telephony.new_run_tag()
        if not args.quiet and not args.json:
            _say(
                f"playing {script.name}: {len(script.calls)} calls into {target.city_url} "
                f"(speed x{args.speed:g}{', call ids suffixed -' + run_tag if run_tag else ''})"
            )
        summary = await telephony.play(
            script,
            target,
            speed=args.speed,
            run_tag=run_tag,
            concurrency=args.concurrency,
            progress=None if args.quiet or args.json else _say,
        )
    except (telephony.ScriptError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _say(json.dumps(summary.as_dict()) if args.json else summary.text())
    return 1 if summary.failed else 0


def _tokens(args: argparse.Namespace) -> list[str]:
    tokens: list[str] = list(args.token)
    if args.tokens:
        data: Any = json.loads(args.tokens.read_text(encoding="utf-8"))
        tokens += list(data.values()) if isinstance(data, dict) else list(data)
    if not tokens and args.demo:
        tokens = list(unit_sim.demo_tokens(args.demo).values())
    return [str(t) for t in tokens]


async def _drive(args: argparse.Namespace) -> int:
    tokens = _tokens(args)
    if not tokens:
        print("error: no terminal tokens (--tokens, --token, or --demo)", file=sys.stderr)
        return 2
    hospital = None
    if args.hospital:
        lat, lon = (float(x) for x in args.hospital.split(","))
        hospital = (lat, lon)
    elif args.demo:
        hospital = unit_sim.DEMO_HOSPITAL.get(args.demo)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if args.duration:
        loop.call_later(args.duration, stop.set)
    url = _city_url(args)
    _say(
        f"driving {len(tokens)} units of {url} (x{args.time_scale:g}, a position every {args.interval:g} s"
        f"{', full cycle' if args.full_cycle else ''}); Ctrl-C stops"
    )
    drivers = await unit_sim.drive_units(
        url,
        tokens,
        stop,
        connect=args.connect,
        time_scale=args.time_scale,
        interval_s=args.interval,
        poll_s=args.poll,
        full_cycle=args.full_cycle,
        on_scene_s=args.on_scene,
        hospital=hospital,
        log=_say,
    )
    trips = sum(len(d.trips) for d in drivers)
    errors = sum(len(d.errors) for d in drivers)
    _say(f"{trips} trips, {sum(t.positions for d in drivers for t in d.trips)} positions, {errors} errors")
    return 0


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.action != "example" and not (args.city_url or args.demo):
        parser.error("--city-url or --demo is required")
    if args.system == "telephony" and args.action == "example":
        print(json.dumps(telephony.example_script(), indent=2))
        return 0
    if args.system == "telephony":
        return asyncio.run(_play(args))
    return asyncio.run(_drive(args))
