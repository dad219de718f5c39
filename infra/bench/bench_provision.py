"""Benchmark 1: provision N cities one after another through ``TenantService.provision``.

Reports the median and p95 per city, the time of each provisioning step (registry row, schema,
seed, active) and whether the cost grows with the number of cities already there.

    .venv/bin/python -P infra/bench/bench_provision.py [--quick]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import (
    BenchResult,
    MachineWatch,
    Sizes,
    median,
    new_city,
    percentile,
    ratio,
    record_failure,
    say,
    standalone,
    throwaway_database,
)

from kotalive.db import TenantBase
from kotalive.migrations.runner import load_tenant_models

STEPS = ("registered", "schema", "seeded", "active")


async def run(sizes: Sizes) -> BenchResult:
    result = BenchResult("provision")
    started = time.perf_counter()
    n = sizes.provision_cities
    say(f"[provision] {n} cities, one at a time, through TenantService.provision")
    try:
        async with throwaway_database("provision") as bench:
            watch = MachineWatch(bench.database_name)
            totals: list[float] = []
            steps: dict[str, list[float]] = {s: [] for s in STEPS}
            for i in range(n):
                marks = [time.perf_counter()]
                await bench.tenants.provision(
                    new_city("prov", i),
                    progress=lambda step, tenant, marks=marks: marks.append(time.perf_counter()),
                )
                totals.append((marks[-1] - marks[0]) * 1000)
                for step, a, b in zip(STEPS, marks[:-1], marks[1:], strict=True):
                    steps[step].append((b - a) * 1000)
            # the first city pays for imports and statement compilation; it stays in the figures
            result.add("cities", n)
            load_tenant_models()
            result.add(
                "tables per city", len(TenantBase.metadata.tables), "", "the schema step grows with it"
            )
            result.add("median per city", median(totals), "ms")
            result.add("p95 per city", percentile(totals, 95), "ms")
            result.add("first city", totals[0], "ms", "cold: imports, compiled caches")
            for step in STEPS:
                result.add(f"step {step} (median)", median(steps[step]), "ms")
            tenth = max(1, n // 10)
            growth = ratio(median(totals[-tenth:]), median(totals[1 : tenth + 1]))
            result.add(
                "last 10% / first 10% (median)",
                growth,
                "x",
                "1.0 = no growth with the number of cities",
            )
            watch.add_to(result)
            result.details |= {
                "per_city_ms": [round(t, 2) for t in totals],
                "step_ms": {k: [round(t, 2) for t in v] for k, v in steps.items()},
            }
    except Exception as exc:
        record_failure(result, exc)
    result.seconds = time.perf_counter() - started
    return result


if __name__ == "__main__":
    standalone(run)
