"""Benchmark 2: roll the tenant tree out to N cities with ``rollout.migrate``.

1. provision N cities (TenantService.provision, a few at a time: only the rollout is timed);
2. a no-op rollout (every city at head), parallel=1;
3. a two-revision change (a nullable column on ``agency``, then an index on it) written into a
   temp dir whose first ``down_revision`` is ``rollout.tenant_head()``, passed as
   ``extra_version_locations``, parallel=1;
4. two more revisions of the same kind on top, parallel=2 (two orchestrator processes);
5. a no-op rollout again, parallel=2.

Per city per revision is wall time / cities / revisions (goal: under 10 ms); "marginal" takes
off the no-op rollout's per-city cost, leaving what the DDL itself costs.

    .venv/bin/python -P infra/bench/bench_migrate.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import (
    Bench,
    BenchResult,
    MachineWatch,
    Sizes,
    median,
    new_city,
    percentile,
    provision_cities,
    ratio,
    record_failure,
    say,
    standalone,
    throwaway_database,
)

from kotalive.tenants import rollout

PROVISION_CONCURRENCY = 4

ADD_COLUMN = '''"""bench: a nullable column on agency"""
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("agency", sa.Column("{column}", sa.Text(), nullable=True))


def downgrade():
    op.drop_column("agency", "{column}")
'''

ADD_INDEX = '''"""bench: an index on that column"""
from alembic import op

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_agency_{column}", "agency", ["{column}"])


def downgrade():
    op.drop_index("ix_agency_{column}", table_name="agency")
'''


def write_revisions(folder: Path, down: str, tag: str) -> str:
    """Two throwaway revisions on top of ``down``; returns the new head."""
    folder.mkdir(parents=True, exist_ok=True)
    column = f"bench_{tag}"
    first = f"bench_{tag}_col_{uuid.uuid4().hex[:6]}"
    second = f"bench_{tag}_ix_{uuid.uuid4().hex[:6]}"
    (folder / f"{first}.py").write_text(ADD_COLUMN.format(revision=first, down=down, column=column))
    (folder / f"{second}.py").write_text(ADD_INDEX.format(revision=second, down=first, column=column))
    return second


async def timed_rollout(
    bench: Bench, *, parallel: int, extra: tuple[str, ...], expect: str
) -> tuple[float, list[rollout.CityResult], int]:
    targets = await rollout.select_targets(bench.db, all_cities=True)
    started = time.perf_counter()
    results = await rollout.migrate(bench.db, targets, parallel=parallel, extra_version_locations=extra)
    wall = time.perf_counter() - started
    failed = [r for r in results if not r.ok or r.after != expect]
    if failed:
        say(f"  {len(failed)} of {len(results)} cities failed or missed {expect}: {failed[0].error}")
    return wall, results, len(failed)


async def run(sizes: Sizes) -> BenchResult:
    result = BenchResult("migrate")
    started = time.perf_counter()
    n = sizes.migrate_cities
    say(f"[migrate] {n} cities: rollout.migrate no-op and two-revision changes, parallel 1 and 2")
    try:
        async with throwaway_database("migrate") as bench:
            watch = MachineWatch(bench.database_name)
            wall = await provision_cities(
                bench.tenants, (new_city("mig", i) for i in range(n)), concurrency=PROVISION_CONCURRENCY
            )
            result.add("cities", n)
            result.add(
                "provision (setup, 4 at a time)",
                wall * 1000 / n,
                "ms/city",
                "wall time / cities; not the figure of benchmark 1",
            )
            head = rollout.tenant_head()
            failures = 0

            noop_wall, noop, bad = await timed_rollout(bench, parallel=1, extra=(), expect=head)
            failures += bad
            noop_ms = noop_wall * 1000 / n
            result.add("no-op rollout, parallel=1", noop_ms, "ms/city", "wall / cities")
            result.add("  in-transaction median", median([r.ms for r in noop]), "ms", "CityResult.ms")

            with tempfile.TemporaryDirectory(prefix="kotalive-bench-revs-") as tmp:
                first_dir, second_dir = Path(tmp, "a"), Path(tmp, "b")
                mid = write_revisions(first_dir, head, "a")
                extra1 = (str(first_dir),)
                two_wall, two, bad = await timed_rollout(bench, parallel=1, extra=extra1, expect=mid)
                failures += bad
                per_rev = two_wall * 1000 / n / 2
                result.add("2 revisions, parallel=1", per_rev, "ms/city/rev", "goal < 10 (wall / cities / 2)")
                result.add(
                    "  marginal (minus no-op)",
                    (two_wall * 1000 / n - noop_ms) / 2,
                    "ms/city/rev",
                    "DDL and Alembic per revision",
                )
                in_txn = [r.ms for r in two]
                result.add("  in-transaction median", median(in_txn), "ms/city", "both revisions")
                result.add("  in-transaction p95", percentile(in_txn, 95), "ms/city", "both revisions")

                top = write_revisions(second_dir, mid, "b")
                extra2 = (str(first_dir), str(second_dir))
                par_wall, par, bad = await timed_rollout(bench, parallel=2, extra=extra2, expect=top)
                failures += bad
                per_rev_par = par_wall * 1000 / n / 2
                result.add(
                    "2 revisions, parallel=2", per_rev_par, "ms/city/rev", "two orchestrator processes"
                )
                result.add("  speed-up parallel 2 vs 1", ratio(per_rev, per_rev_par), "x")

                noop2_wall, noop2, bad = await timed_rollout(bench, parallel=2, extra=extra2, expect=top)
                failures += bad
                result.add("no-op rollout, parallel=2", noop2_wall * 1000 / n, "ms/city", "wall / cities")
            result.add("cities failed", failures, "", "should be 0")
            watch.add_to(result)
            result.details |= {
                "provision_concurrency": PROVISION_CONCURRENCY,
                "in_transaction_ms": {
                    "noop_p1": [round(r.ms, 2) for r in noop],
                    "two_revisions_p1": [round(r.ms, 2) for r in two],
                    "two_revisions_p2": [round(r.ms, 2) for r in par],
                    "noop_p2": [round(r.ms, 2) for r in noop2],
                },
                "wall_seconds": {
                    "noop_p1": round(noop_wall, 3),
                    "two_revisions_p1": round(two_wall, 3),
                    "two_revisions_p2": round(par_wall, 3),
                    "noop_p2": round(noop2_wall, 3),
                },
            }
    except Exception as exc:
        record_failure(result, exc)
    result.seconds = time.perf_counter() - started
    return result


if __name__ == "__main__":
    standalone(run)
