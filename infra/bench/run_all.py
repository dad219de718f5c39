"""`make bench`: every core benchmark in one run, a summary table, and bench-results/core.json.

    .venv/bin/python -P infra/bench/run_all.py            # the sizes of the issues (~20 minutes)
    .venv/bin/python -P infra/bench/run_all.py --quick    # small sizes, a smoke run (~2 minutes)
    .venv/bin/python -P infra/bench/run_all.py --only reads --loadgen python
    .venv/bin/python -P infra/bench/run_all.py --only identity
    .venv/bin/python -P infra/bench/run_all.py --only laksa   # also writes bench-results/laksa.json
    .venv/bin/python -P infra/bench/run_all.py --only notify  # also writes bench-results/notify.json
    .venv/bin/python -P infra/bench/run_all.py --only liveroom  # also writes bench-results/liveroom.json
    .venv/bin/python -P infra/bench/run_all.py --only hotline112  # also writes bench-results/hotline112.json

Each benchmark makes and drops its own database; one that fails is reported in the table and the
others still run (exit code 1). Figures are measured, printed and recorded: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_hotline112
import bench_identity
import bench_laksa
import bench_liveroom
import bench_migrate
import bench_notify
import bench_provision
import bench_reads
from benchkit import (
    RESULTS_DIR,
    BenchResult,
    Sizes,
    figures_json,
    say,
    server_version,
    services,
    sigterm_as_interrupt,
    source,
    stop_services,
    summary_table,
)

BENCHMARKS = ("provision", "migrate", "reads", "identity", "laksa", "notify", "liveroom", "hotline112")


async def main(args: argparse.Namespace) -> list[BenchResult]:
    sizes = Sizes.pick(args.quick)
    src = source()
    say(
        f"kotalive core benchmarks ({'quick' if args.quick else 'full'}) at {src['commit']}"
        f"{' (work tree changed)' if src['dirty'] else ''}: {sizes}\n"
        f"PostgreSQL {await server_version()}; wrk {'found' if shutil.which('wrk') else 'absent'}; "
        f"services: {'; '.join(getattr(services(), 'notes', [])) or 'configured'}"
    )
    results: list[BenchResult] = []
    for name in args.only or BENCHMARKS:
        if name == "provision":
            results.append(await bench_provision.run(sizes))
        elif name == "migrate":
            results.append(await bench_migrate.run(sizes))
        elif name == "reads":
            results.append(await bench_reads.run(sizes, args.loadgen))
        elif name == "identity":
            results.append(await bench_identity.run(sizes, args.loadgen))
        elif name == "laksa":  # its own load generator (POST bodies, p95); writes laksa.json too
            results.append(await bench_laksa.run(sizes))
        elif name == "notify":  # web + worker processes, SSE listeners, SMTP sink; writes notify.json too
            results.append(await bench_notify.run(sizes))
        elif name == "liveroom":  # web + worker processes, board SSE clients; writes liveroom.json too
            results.append(await bench_liveroom.run(sizes))
        elif name == "hotline112":  # web process(es), call-taker SSE screens, the telephony simulator
            results.append(await bench_hotline112.run(sizes))
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description="Kota Live core benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this (repeatable)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "core.json")
    args = parser.parse_args()
    sigterm_as_interrupt()
    started = time.perf_counter()
    try:
        pg = asyncio.run(server_version())
        results = asyncio.run(main(args))
    finally:
        stop_services()
    elapsed = time.perf_counter() - started
    table = summary_table(results)
    print()
    print(table)
    print(f"\n{elapsed:.0f} s in all")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = figures_json(
        results,
        quick=args.quick,
        extra={"postgresql": pg, "seconds": round(elapsed, 1), "summary": table.splitlines()},
    )
    args.out.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"written to {args.out}")
    sys.exit(1 if any(r.error for r in results) else 0)


if __name__ == "__main__":
    cli()
