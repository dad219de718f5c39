"""Benchmark 5: Laksa (citizen complaints) with 100,000 complaints in a city, and 1 city vs N cities.

Setup, through the real paths where they are what is measured and with SQL where they are not:
  * cities provisioned by ``TenantService.provision``; Laksa's per-city config set by
    ``TenantService.set_module(slug, "laksa", True, config={"submissions_per_hour": 1_000_000})``
    (the limit of 10 an hour per citizen would refuse the benchmark's citizens after 10 posts);
  * the demo kecamatan/kelurahan boundaries of Kota Tangerang uploaded by
    ``configuration.replace_areas``;
  * citizens and employees (4 per agency, role ``employee``) inserted with SQL; the signed-in ones
    get a real login session in Redis (``SessionStore.create``), as tests/laksa_support.py does;
  * complaints bulk-loaded with COPY into the city schema, ids given, the identity moved past
    them, then VACUUM (ANALYZE). The rows follow the CHECK constraints and a plausible spread:
    a year of submissions in id order, ~86 % done (closed, resolved in the last week, duplicates),
    the open ones mostly recent; categories by weight, each with its agency (PUPR, the biggest
    inbox, holds road, street lamps and drains, ~47 %), 11 % copied to a second agency, SLA times
    from the rules and policies, assignees, ratings; points drawn around the kecamatan centres and
    located in the uploaded boundaries (kecamatan and kelurahan codes match the point).

Measured against one ``kotalive serve`` process (defaults) with a Python load generator of its own
(keep-alive sockets in 2 processes; POST bodies, per-request Idempotency-Key, p50/p95/p99), 16
connections, a warm-up then one fixed-duration run per endpoint; reads before writes, so the reads
see the loaded data only:
  big city (``Sizes.laksa_complaints``):
    GET  /api/v1/laksa/inbox as a PUPR employee: first page; first page with two filters
         (kecamatan + category); a deep keyset page of the open inbox (~page 100); a deep page of
         the archive (state=closed, ~10,000 rows in);
    GET  /api/v1/laksa/nearby (the duplicate lookup), points near open complaints and not;
    POST /api/v1/laksa/complaints as signed-in citizens, JSON (hashtag routing, category routing,
         triage), with an Idempotency-Key each; the same as multipart with one small JPEG;
    1-connection runs (latency without queueing) of the inbox, nearby and the JSON post;
  in this process: EXPLAIN (ANALYZE, BUFFERS) of the inbox and nearby queries as the app sends
  them (captured from SQLAlchemy), the nearby service call alone, the SQL statements of one
  submission (the handler's submit + complaint_view), the cold load of a city's area index;
  N small cities (``Sizes.laksa_cities`` x ``Sizes.laksa_city_complaints``): the JSON post, the
  inbox first page and nearby, all to one small city vs spread round-robin over all N hosts.

Figures and ratios come from one run; nothing asserts a time. Results: bench-results/laksa.json.

    .venv/bin/python -P infra/bench/bench_laksa.py [--quick]
    .venv/bin/python -P infra/bench/run_all.py --only laksa [--quick]
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import json
import math
import multiprocessing as mp
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
import httpx
import numpy as np
import redis.asyncio as aioredis
import shapely
from bench_reads import AppServer
from benchkit import (
    RESULTS_DIR,
    Bench,
    BenchResult,
    Sizes,
    backend_memory,
    claimed_redis_database,
    cpu_snapshot,
    foreign_cpu_pct,
    median,
    new_city,
    our_pids,
    percentile,
    provision_cities,
    ratio,
    record_failure,
    say,
    server_version,
    standalone,
    throwaway_database,
    write_results,
)
from PIL import Image
from shapely.geometry import shape
from sqlalchemy import event

from kotalive.auth.principal import Principal
from kotalive.auth.sessions import COOKIE_NAME, SessionStore
from kotalive.context import TenantContext, checked_schema, use_tenant
from kotalive.db import quote_ident
from kotalive.modules.laksa import configuration, reads
from kotalive.modules.laksa.demo import demo_boundaries
from kotalive.modules.laksa.domain import DEFAULT_SLA, OPEN_STATES, PRIORITY_RANK
from kotalive.modules.laksa.services import Actor, ComplaintService, NewComplaint
from kotalive.settings import plain_postgres_url

SELF = Path(__file__).resolve()
DEMO = "tangerang"
SUBMISSIONS_PER_HOUR = 1_000_000  # the benchmark cities' Laksa config (default 10 per citizen)
CSRF_COOKIE = "kl_csrf"
PROVISION_CONCURRENCY = 4
SIGNED_IN_BIG = 32  # citizens with a session in the big city
SIGNED_IN_SMALL = 4  # per small city
EMPLOYEES_PER_AGENCY = 4
POST_VARIANTS = 4096  # distinct JSON posts (point, text, citizen), cycled
PHOTO_VARIANTS = 256
NEARBY_VARIANTS = 1024
IN_PROCESS_CALLS = 300
IN_PROCESS_POSTS = 100  # in-process submissions timed (after 5 to warm up)
COLD_CITIES = 5  # small cities whose first submissions in this process are timed
COLD_POSTS = 9
SEED = 20261129
PHOTO_SIZE = (640, 480)
DEEP_OPEN_ROWS = 2_500  # the deep page of the open inbox starts this many rows in (page 100 of 25)
DEEP_ARCHIVE_ROWS = 10_000  # ... and of the archive (state=closed)
CITIZENS_PER_COMPLAINT = 0.25  # 100,000 complaints from 25,000 citizens
DISTURBED_PCT = 25.0  # other processes' CPU (% of a core) above which a run is measured again

# ---- the shape of a city's complaints ------------------------------------------------------------

# (category code, weight, what citizens write); the agency is the category's (seeded) one.
CATEGORY_MIX: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("road", 22, ("Jalan berlubang besar", "Aspal jalan rusak parah", "Jalan amblas dekat jembatan")),
    ("street-lamp", 14, ("Lampu jalan mati", "PJU berkedip setiap malam", "Tiang lampu miring")),
    ("rubbish", 16, ("Sampah menumpuk di pinggir kali", "TPS liar di lahan kosong", "Sampah belum diangkut")),
    ("drainage", 12, ("Saluran air tersumbat", "Gorong-gorong mampet", "Got meluap saat hujan")),
    ("traffic", 9, ("Parkir liar di bahu jalan", "Lampu lalu lintas mati", "Macet setiap sore")),
    ("public-order", 8, ("Pedagang kaki lima menutup trotoar", "Bangunan liar di bantaran kali")),
    ("flood", 5, ("Genangan air setinggi lutut", "Banjir masuk rumah warga")),
    ("disaster", 2, ("Pohon tumbang menutup jalan", "Tanah longsor di tepi kali")),
    ("health", 3, ("Banyak kasus DBD di lingkungan kami", "Warga sakit butuh ambulans")),
    ("social", 2, ("Ada warga terlantar di halte", "Anak jalanan di perempatan")),
    ("fire", 1, ("Kebakaran lahan kosong", "Asap dari gudang terbakar")),
    ("wasp-nest", 1, ("Sarang tawon besar di pohon depan sekolah",)),
    ("other", 5, ("Mohon informasi tentang layanan", "Fasilitas taman rusak")),
)
PLACES = ("depan sekolah", "dekat masjid", "di gang RT 03", "samping pasar", "di perumahan", "dekat halte")
# Agencies that get a copy of 18 % of the complaints of these categories (11 % of all).
COPIES = {"road": "pdam", "drainage": "perkim", "flood": "pupr", "street-lamp": "pln", "traffic": "polres"}
LIVE_ROOM_AGENCY = "diskominfo"  # where the Live Room sent triaged "other" complaints

# What the benchmark's citizens post (JSON and multipart): hashtag rules, a category, triage.
POSTS: tuple[tuple[str, str | None], ...] = (
    ("Lampu jalan mati sejak tiga hari, gelap sekali di malam hari #lampumati", None),
    ("Jalan berlubang besar di depan sekolah, berbahaya untuk motor #jalanrusak", None),
    ("Sampah menumpuk di pinggir kali, bau menyengat #sampah", None),
    ("Saluran air tersumbat, air meluap ke jalan saat hujan #saluranmampet", None),
    ("Parkir liar di bahu jalan membuat macet setiap sore #parkirliar", None),
    ("Pedagang kaki lima menutup trotoar, pejalan kaki turun ke jalan #pkl", None),
    ("Ada pohon besar yang miring dan hampir tumbang ke jalan", None),  # no rule, no category: triage
    ("Tumpukan sampah di samping pasar belum diangkut seminggu", "rubbish"),  # routed by category
)
NEARBY_CATEGORIES = ("road", "street-lamp", "rubbish", "drainage", None)

COMPLAINT_COLUMNS = (
    "id",
    "source",
    "citizen_id",
    "contact",
    "anonymous",
    "description",
    "hashtags",
    "category_id",
    "attributes",
    "lat",
    "lon",
    "address",
    "kecamatan",
    "kecamatan_code",
    "kelurahan",
    "kelurahan_code",
    "state",
    "priority",
    "priority_rank",
    "emergency",
    "agency_id",
    "copied_agency_ids",
    "rule_id",
    "routing",
    "assignee_id",
    "duplicate_of_id",
    "support_count",
    "sla_hours",
    "sla_calendar",
    "due_at",
    "at_risk_at",
    "sla_at_risk_flagged_at",
    "sla_breached_flagged_at",
    "submitted_at",
    "forwarded_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "updated_at",
    "reopen_count",
    "rating",
    "rated_at",
)


def city_sql(ctx: TenantContext, sql: str) -> str:
    """``{city}`` -> the city's quoted schema (as Database.city_fetch does)."""
    assert "{city}" in sql
    return sql.replace("{city}", quote_ident(checked_schema(ctx.schema)))


@dataclass(frozen=True, slots=True)
class Spot:
    lat: float
    lon: float
    kecamatan_code: str
    kecamatan: str
    kelurahan_code: str | None
    kelurahan: str | None


class Boundaries:
    """The city's uploaded areas as shapely trees, to draw points inside and locate them (vectorised)."""

    def __init__(self, rows: Sequence[Any]) -> None:
        self.kec = [
            (r["code"], r["name"], shape(json.loads(r["geometry"]))) for r in rows if r["kind"] == "kecamatan"
        ]
        self.kel = [
            (r["code"], r["name"], shape(json.loads(r["geometry"]))) for r in rows if r["kind"] == "kelurahan"
        ]
        self.kec_tree = shapely.STRtree([g for *_, g in self.kec])
        self.kel_tree = shapely.STRtree([g for *_, g in self.kel])
        # Busier kecamatan get more complaints (weights 1-4, fixed).
        self.weights = np.array([1 + (i * 7) % 4 for i in range(len(self.kec))], dtype=float)
        self.weights /= self.weights.sum()
        centres = [g.representative_point() for *_, g in self.kec]
        self.centres = np.array([(p.y, p.x) for p in centres])

    @staticmethod
    def _first_hit(tree: shapely.STRtree, points: np.ndarray, n: int) -> np.ndarray:
        hits = tree.query(points, predicate="intersects")
        out = np.full(n, -1)
        order = np.argsort(hits[0], kind="stable")[::-1]  # the last write wins: the first hit
        out[hits[0][order]] = hits[1][order]
        return out

    def inside(self, lat: float, lon: float) -> bool:
        return len(self.kec_tree.query(shapely.points(lon, lat), predicate="intersects")) > 0

    def spots(self, n: int, seed: int, sigma: float = 0.008) -> list[Spot]:
        """``n`` points inside the city: around kecamatan centres (normal, ``sigma`` degrees)."""
        rng = np.random.default_rng(seed)
        out: list[Spot] = []
        while len(out) < n:
            m = max(64, 2 * (n - len(out)))
            which = rng.choice(len(self.kec), size=m, p=self.weights)
            lat = self.centres[which, 0] + rng.normal(0.0, sigma, m)
            lon = self.centres[which, 1] + rng.normal(0.0, sigma, m)
            points = shapely.points(lon, lat)
            kec = self._first_hit(self.kec_tree, points, m)
            kel = self._first_hit(self.kel_tree, points, m)
            for i in np.nonzero(kec >= 0)[0]:
                kc, kn, _ = self.kec[kec[i]]
                lc, ln = (self.kel[kel[i]][0], self.kel[kel[i]][1]) if kel[i] >= 0 else (None, None)
                out.append(Spot(round(float(lat[i]), 6), round(float(lon[i]), 6), kc, kn, lc, ln))
        return out[:n]


@dataclass(slots=True)
class CityRefs:
    """What rows of a city point at: agencies, categories, rules, people."""

    ctx: TenantContext
    agencies: dict[str, int]
    categories: dict[str, tuple[int, int | None, str, bool]]  # code -> (id, agency id, priority, emergency)
    rules: dict[str, tuple[int, str, int]]  # category code -> (rule id, hashtag, sla hours)
    citizens: list[int] = field(default_factory=list)
    employees: dict[int, list[int]] = field(default_factory=dict)  # agency id -> employee ids
    citizen_tokens: list[str] = field(default_factory=list)
    employee_id: int = 0  # the signed-in PUPR employee
    employee_token: str = ""
    complaints: int = 0
    open_spots: list[tuple[float, float]] = field(default_factory=list)

    @property
    def host(self) -> str:
        return self.ctx.primary_host

    @property
    def pupr(self) -> int:
        return self.agencies["pupr"]


async def city_refs(conn: asyncpg.Connection, ctx: TenantContext) -> CityRefs:
    agencies = {
        r["code"]: r["id"] for r in await conn.fetch(city_sql(ctx, "SELECT code, id FROM {city}.agency"))
    }
    categories = {
        r["code"]: (r["id"], r["agency_id"], r["priority"], r["emergency"])
        for r in await conn.fetch(
            city_sql(ctx, "SELECT code, id, agency_id, priority, emergency FROM {city}.laksa_category")
        )
    }
    rules: dict[str, tuple[int, str, int]] = {}
    for r in await conn.fetch(
        city_sql(
            ctx,
            "SELECT id, hashtags, category_code, sla_hours FROM {city}.laksa_hashtag_rule "
            "WHERE active ORDER BY precedence, id",
        )
    ):
        if r["category_code"] and r["category_code"] not in rules:
            rules[r["category_code"]] = (r["id"], r["hashtags"][0], r["sla_hours"])
    return CityRefs(ctx, agencies, categories, rules)


async def add_people(conn: asyncpg.Connection, refs: CityRefs, citizens: int) -> None:
    """Citizens (active, with the citizen role) and employees of every agency, with SQL."""
    ctx = refs.ctx
    async with conn.transaction():
        ids = await conn.fetch(
            city_sql(
                ctx,
                "INSERT INTO {city}.citizen (nik_hash, phone, name, status, resident, region_code) "
                "SELECT md5('bench-citizen-' || i), '+62813' || lpad(i::text, 9, '0'), 'Warga Bench ' || i, "
                "'active', true, $2 FROM generate_series(1, $1) AS i RETURNING id",
            ),
            citizens,
            ctx.region_code[:4] or None,
        )
        await conn.execute(
            city_sql(
                ctx,
                "INSERT INTO {city}.role_grant (subject_kind, subject_id, role, source) "
                "SELECT 'citizen', id, 'citizen', 'default' FROM {city}.citizen",
            )
        )
        emps = await conn.fetch(
            city_sql(
                ctx,
                "INSERT INTO {city}.employee (nip, name, agency_id, active, simpeg_status) "
                "SELECT lpad((a.id * 100 + k)::text, 18, '0'), 'Pegawai ' || a.abbreviation || ' ' || k, "
                "a.id, true, 'aktif' FROM {city}.agency AS a, generate_series(1, $1) AS k "
                "RETURNING id, agency_id",
            ),
            EMPLOYEES_PER_AGENCY,
        )
        await conn.execute(
            city_sql(
                ctx,
                "INSERT INTO {city}.role_grant (subject_kind, subject_id, role, source) "
                "SELECT 'employee', id, 'employee', 'admin' FROM {city}.employee",
            )
        )
    refs.citizens = [r["id"] for r in ids]
    refs.employees = {}
    for r in emps:
        refs.employees.setdefault(r["agency_id"], []).append(r["id"])
    refs.employee_id = refs.employees[refs.pupr][0]


def complaint_records(
    refs: CityRefs, n: int, spots: Sequence[Spot], now: dt.datetime, seed: int
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """``n`` complaint rows (COPY records in COMPLAINT_COLUMNS order) and the count per state."""
    rng = random.Random(seed)
    year = dt.timedelta(days=365)
    mix = [c for c in CATEGORY_MIX if c[0] in refs.categories]
    codes = [c[0] for c in mix]
    weights = [c[1] for c in mix]
    states: dict[str, int] = {}
    rows: list[tuple[Any, ...]] = []
    live_room = refs.agencies.get(LIVE_ROOM_AGENCY)
    open_spots: list[tuple[float, float]] = []
    for i in range(n):
        ident = i + 1
        spot = spots[i % len(spots)]
        submitted = now - year + year * (i / n) + dt.timedelta(seconds=rng.randint(0, 300))
        age = now - submitted
        code = rng.choices(codes, weights)[0]
        category_id, agency_id, priority, emergency = refs.categories[code]
        text_ = rng.choice(next(c[2] for c in mix if c[0] == code)) + " " + rng.choice(PLACES)
        rule = refs.rules.get(code)
        via_rule = rule is not None and rng.random() < 0.7
        hashtags = [rule[1]] if via_rule and rule else []
        description = text_ + (f" #{hashtags[0]}" if hashtags else "")
        if rng.random() < 0.08 and priority == "normal":
            priority = rng.choice(("high", "low"))
        calendar = "always" if emergency else DEFAULT_SLA[priority][1]
        sla_hours = rule[2] if via_rule and rule else DEFAULT_SLA[priority][0]
        is_open = rng.random() < (0.45 if age < dt.timedelta(days=60) else 0.06)
        if agency_id is None and (not is_open or rng.random() < 0.5):
            agency_id = live_room  # "other": the Live Room forwarded it
        if is_open:
            state = rng.choices(
                ("forwarded", "acknowledged", "in_progress", "reopened", "triage"), (30, 20, 35, 5, 10)
            )[0]
            if agency_id is None:
                state = "triage"
        else:
            state = "duplicate" if rng.random() < 0.05 else "done"
        if state == "triage":
            agency_id = None
        copies: list[int] = []
        if agency_id is not None and code in COPIES and COPIES[code] in refs.agencies and rng.random() < 0.18:
            copies = [refs.agencies[COPIES[code]]]
        forwarded = acknowledged = resolved = closed = due = at_risk = rated = None
        assignee = rating = duplicate_of = None
        risk_flag = breach_flag = None
        reopen = 0
        if agency_id is not None and state != "triage":
            forwarded = submitted + dt.timedelta(seconds=rng.randint(5, 600))
            due = forwarded + dt.timedelta(hours=sla_hours)
            at_risk = forwarded + dt.timedelta(hours=sla_hours * 0.75)
        if state in ("acknowledged", "in_progress", "reopened", "done") and forwarded:
            acknowledged = forwarded + dt.timedelta(minutes=rng.randint(10, 24 * 60))
        if (
            state in ("in_progress", "reopened", "done")
            and agency_id in refs.employees
            and rng.random() < 0.7
        ):
            assignee = rng.choice(refs.employees[agency_id])
        if state == "done":
            took = dt.timedelta(hours=sla_hours * math.exp(rng.gauss(-0.3, 0.8)))
            resolved = (acknowledged or forwarded or submitted) + took
            if resolved >= now:
                state, resolved = "in_progress", None
            elif now - resolved < dt.timedelta(days=7) and rng.random() < 0.8:
                state = "resolved"
            else:
                state = "closed"
                closed = min(now, resolved + dt.timedelta(days=rng.choice((1, 2, 7))))
                if rng.random() < 0.3:
                    rating = rng.choices((1, 2, 3, 4, 5), (5, 5, 15, 35, 40))[0]
                    rated = closed
                reopen = 1 if rng.random() < 0.03 else 0
        if state == "duplicate":
            duplicate_of = max(1, ident - rng.randint(1, 500)) if ident > 1 else None
            closed = submitted + dt.timedelta(hours=rng.randint(1, 48))
            if duplicate_of is None:
                state, closed = "closed", None
        if state in OPEN_STATES and due is not None:
            if due <= now:
                risk_flag = breach_flag = due
            elif at_risk is not None and at_risk <= now:
                risk_flag = at_risk
        if state in OPEN_STATES:
            open_spots.append((spot.lat, spot.lon))
        states[state] = states.get(state, 0) + 1
        updated = max(t for t in (submitted, forwarded, acknowledged, resolved, closed) if t is not None)
        source = rng.choices(("web", "api", "staff"), (72, 25, 3))[0]
        routing = {"via": "rule", "rule": code} if via_rule else {"via": "category" if agency_id else "none"}
        rows.append(
            (
                ident,
                source,
                rng.choice(refs.citizens) if source != "staff" else None,
                "{}",
                rng.random() < 0.05,
                description,
                hashtags,
                category_id,
                json.dumps({"size": rng.choice(("small", "medium", "large"))} if code == "road" else {}),
                spot.lat,
                spot.lon,
                f"Jl. Bench No. {rng.randint(1, 200)}" if rng.random() < 0.3 else None,
                spot.kecamatan,
                spot.kecamatan_code,
                spot.kelurahan,
                spot.kelurahan_code,
                state,
                priority,
                PRIORITY_RANK[priority],
                emergency,
                agency_id,
                copies,
                rule[0] if via_rule and rule else None,
                json.dumps(routing),
                assignee,
                duplicate_of,
                0,
                sla_hours if forwarded else None,
                calendar,
                due,
                at_risk,
                risk_flag,
                breach_flag,
                submitted,
                forwarded,
                acknowledged,
                resolved,
                closed,
                updated,
                reopen,
                rating,
                rated,
            )
        )
    refs.open_spots = open_spots
    return rows, states


async def load_complaints(
    conn: asyncpg.Connection, refs: CityRefs, n: int, spots: Sequence[Spot], now: dt.datetime, seed: int
) -> dict[str, Any]:
    """COPY ``n`` complaints into the city, move the identity past them, VACUUM (ANALYZE)."""
    ctx = refs.ctx
    started = time.perf_counter()
    records, states = complaint_records(refs, n, spots, now, seed)
    generated = time.perf_counter()
    async with conn.transaction():
        await conn.copy_records_to_table(
            "laksa_complaint", records=records, columns=COMPLAINT_COLUMNS, schema_name=ctx.schema
        )
        await conn.execute(
            city_sql(
                ctx,
                "SELECT setval(pg_get_serial_sequence('{city}.laksa_complaint', 'id'), "
                "(SELECT max(id) FROM {city}.laksa_complaint))",
            )
        )
    copied = time.perf_counter()
    for table in ("laksa_complaint", "citizen", "employee", "role_grant"):
        await conn.execute(city_sql(ctx, "VACUUM (ANALYZE) {city}." + table))
    done = time.perf_counter()
    refs.complaints = n
    return {
        "rows": n,
        "states": states,
        "generate_s": round(generated - started, 2),
        "copy_s": round(copied - generated, 2),
        "vacuum_analyze_s": round(done - copied, 2),
    }


# ---- people with sessions ------------------------------------------------------------------------


async def sign_in(store: SessionStore, refs: CityRefs, citizens: int) -> None:
    """Login sessions in Redis for ``citizens`` citizens and the city's first PUPR employee."""
    ctx = refs.ctx
    refs.citizen_tokens = [
        await store.create(Principal("citizen", cid, ctx.id, f"Warga Bench {cid}", frozenset({"citizen"})))
        for cid in refs.citizens[:citizens]
    ]
    refs.employee_token = await store.create(employee_principal(refs))


def employee_principal(refs: CityRefs, agency: str = "pupr") -> Principal:
    """The signed-in PUPR employee, or the first employee of another agency (in-process only)."""
    agency_id = refs.agencies[agency]
    ident = refs.employee_id if agency == "pupr" else refs.employees[agency_id][0]
    return Principal(
        "employee",
        ident,
        refs.ctx.id,
        f"Pegawai {agency} 1",
        frozenset({"employee"}),
        frozenset({agency_id}),
    )


# ---- requests ------------------------------------------------------------------------------------

# A request for the driver: method, path, host, headers, body (text; "@PHOTO@" marks the photo).
Req = dict[str, Any]


def cookies(token: str, csrf: str) -> str:
    return f"{COOKIE_NAME}={token}; {CSRF_COOKIE}={csrf}"


def get_req(host: str, path: str, token: str, csrf: str) -> Req:
    return {
        "method": "GET",
        "path": path,
        "headers": {"Host": host, "Accept": "application/json", "Cookie": cookies(token, csrf)},
        "body": None,
        "keyed": False,
    }


def post_req(host: str, token: str, csrf: str, spot: tuple[float, float], post: int, *, photo: bool) -> Req:
    description, category = POSTS[post % len(POSTS)]
    headers = {
        "Host": host,
        "Accept": "application/json",
        "Cookie": cookies(token, csrf),
        "X-CSRFToken": csrf,
    }
    lat, lon = spot
    if not photo:
        fields: dict[str, Any] = {"description": description, "lat": lat, "lon": lon}
        if category:
            fields["category"] = category
        headers["Content-Type"] = "application/json"
        body = json.dumps(fields)
    else:
        boundary = "kotalivebench" + uuid.uuid4().hex[:12]
        parts = [("description", description), ("lat", str(lat)), ("lon", str(lon))]
        if category:
            parts.append(("category", category))
        body = "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in parts
        )
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="foto.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n@PHOTO@\r\n--{boundary}--\r\n"
        )
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    return {
        "method": "POST",
        "path": "/api/v1/laksa/complaints",
        "headers": headers,
        "body": body,
        "keyed": True,
    }


def near(
    rng: random.Random, refs: CityRefs, pool: Sequence[Spot], i: int, shapes: Boundaries
) -> tuple[float, float]:
    """A point for a post or a lookup: a third close to an open complaint (within ~25 m), the rest
    anywhere in the city; always inside the city's boundaries."""
    if refs.open_spots and i % 3 == 0:
        for _ in range(20):
            lat, lon = rng.choice(refs.open_spots)
            lat, lon = (
                round(lat + rng.uniform(-0.0002, 0.0002), 6),
                round(lon + rng.uniform(-0.0002, 0.0002), 6),
            )
            if shapes.inside(lat, lon):
                return lat, lon
    s = pool[i % len(pool)]
    return s.lat, s.lon


def nearby_path(lat: float, lon: float, category: str | None) -> str:
    return f"/api/v1/laksa/nearby?lat={lat}&lon={lon}" + (f"&category={category}" if category else "")


def jpeg_photo() -> bytes:
    """A small but real phone-like JPEG (640x480, a gradient with noise)."""
    w, h = PHOTO_SIZE
    rng = np.random.default_rng(SEED)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // w), (y * 255 // h), ((x + y) * 127 // (w + h))], axis=-1)
    noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(noisy, "RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


# ---- the load driver -----------------------------------------------------------------------------
# One driver process for the whole benchmark (started once: importing the platform takes ~0.7 s);
# for each run it forks 2 worker processes with asyncio keep-alive connections.


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length: int | None = None
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, bytes(body)
            body += chunk[:-2]
    if length is None:
        raise ValueError("response without content-length")
    return status, await reader.readexactly(length)


async def _connection(
    port: int,
    requests: list[tuple[bytes, bytes, bool]],
    first: int,
    stride: int,
    deadline: float,
    name: str,
    out: dict[str, Any],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i, counter = first, 0
    latencies: list[float] = out["latencies"]
    statuses: dict[int, int] = out["status"]
    try:
        while True:
            started = time.perf_counter()
            if started >= deadline:
                break
            head, body, keyed = requests[i % len(requests)]
            i += stride
            if keyed:
                counter += 1
                head = head.replace(b"@KEY@", f"{name}-{counter}".encode())
            writer.write(head + body)
            try:
                status, payload = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                out["errors"] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if not 200 <= status < 300 and len(out["samples"]) < 3:
                out["samples"].append(f"{status} {payload[:400].decode(errors='replace')}")
    finally:
        writer.close()


def _worker(
    port: int,
    requests: list[tuple[bytes, bytes, bool]],
    first: int,
    conns: int,
    stride: int,
    duration: float,
    tag: str,
    queue: Any,
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {"latencies": [], "status": {}, "errors": 0, "samples": []}
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(
            *(
                _connection(port, requests, first + k, stride, deadline, f"{tag}-{first + k}", out)
                for k in range(conns)
            )
        )
        out["seconds"] = time.perf_counter() - started
        out["cpu"] = time.process_time()
        return out

    queue.put(asyncio.run(main()))


def _build(spec: dict[str, Any]) -> list[tuple[bytes, bytes, bool]]:
    photo = base64.b64decode(spec["photo_b64"]) if spec.get("photo_b64") else b""
    out = []
    for r in spec["requests"]:
        body = b""
        if r["body"] is not None:
            text_ = r["body"].encode()
            body = text_.replace(b"@PHOTO@", photo) if photo else text_
        headers = dict(r["headers"])
        if r["body"] is not None:
            headers["Content-Length"] = str(len(body))
        if r["keyed"]:
            headers["Idempotency-Key"] = "@KEY@"
        head = f"{r['method']} {r['path']} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()
        )
        out.append(((head + "\r\n").encode("latin-1"), body, bool(r["keyed"])))
    return out


def run_spec(spec: dict[str, Any]) -> dict[str, Any]:
    requests = _build(spec)
    connections = int(spec["connections"])
    processes = max(1, min(2, connections))
    per = [connections // processes + (1 if k < connections % processes else 0) for k in range(processes)]
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    procs, first = [], 0
    for conns in per:
        procs.append(
            ctx.Process(
                target=_worker,
                args=(
                    spec["port"],
                    requests,
                    first,
                    conns,
                    connections,
                    spec["duration"],
                    spec["tag"],
                    queue,
                ),
            )
        )
        first += conns
    for p in procs:
        p.start()
    outs = [queue.get(timeout=spec["duration"] + 120) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    latencies = sorted(x * 1000 for o in outs for x in o["latencies"])
    seconds = max(o["seconds"] for o in outs)
    status: dict[str, int] = {}
    for o in outs:
        for k, v in o["status"].items():
            status[str(k)] = status.get(str(k), 0) + v
    return {
        "generator": f"python ({processes} process{'es' if processes > 1 else ''})",
        "seconds": round(seconds, 3),
        "requests": len(latencies),
        "rps": round(len(latencies) / seconds, 1) if seconds else 0.0,
        "status": status,
        "non_2xx": sum(v for k, v in status.items() if not k.startswith("2")),
        "errors": sum(o["errors"] for o in outs),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "mean_ms": round(sum(latencies) / len(latencies), 2) if latencies else None,
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "generator_cpu_pct": round(100 * sum(o["cpu"] for o in outs) / seconds, 1) if seconds else 0.0,
        "samples": [s for o in outs for s in o["samples"]][:3],
    }


def driver_main() -> None:
    """``bench_laksa.py --driver``: one spec file name per line on stdin, one JSON result per line out."""
    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        try:
            result = run_spec(json.loads(Path(path).read_text()))
        except Exception as exc:  # reported to the harness, which raises
            result = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


class Driver:
    """The driver subprocess, from the harness side."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.photo_b64 = base64.b64encode(jpeg_photo()).decode()

    async def __aenter__(self) -> Driver:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-P",
            str(SELF),
            "--driver",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    async def run(self, port: int, requests: list[Req], seconds: float, connections: int) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        photo = any("@PHOTO@" in (r["body"] or "") for r in requests)
        spec = {
            "port": port,
            "duration": seconds,
            "connections": connections,
            "tag": uuid.uuid4().hex[:10],
            "requests": requests,
            "photo_b64": self.photo_b64 if photo else None,
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(spec, f)
            name = f.name
        try:
            self.proc.stdin.write((name + "\n").encode())
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), seconds + 180)
        finally:
            os.unlink(name)
        if not line:
            raise RuntimeError("the load driver exited")
        got = dict(json.loads(line))
        if "error" in got:
            raise RuntimeError(f"load driver: {got['error']}")
        return got


# ---- a server and runs against it ----------------------------------------------------------------


@dataclass(slots=True)
class Runner:
    bench: Bench
    server: AppServer
    driver: Driver
    sizes: Sizes
    csrf: str
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def warm(self, label: str, requests: list[Req], conns: int, seconds: float) -> None:
        """A warm-up run; every answer must be 2xx (a guard, not a timing)."""
        warm = await self.driver.run(self.server.port, requests, seconds, conns)
        if warm["non_2xx"] or warm["errors"] or not warm["requests"]:
            raise RuntimeError(
                f"{label}: warm-up answered {warm['status']}, {warm['errors']} errors: {warm['samples']}"
            )

    async def measure(self, label: str, requests: list[Req], conns: int, seconds: float) -> dict[str, Any]:
        """One measured run, with the server's CPU and other processes' CPU meanwhile."""
        assert self.server.proc is not None
        cpu0 = self.server.proc.cpu_times()
        machine0 = cpu_snapshot()
        got = await self.driver.run(self.server.port, requests, seconds, conns)
        machine1 = cpu_snapshot()
        cpu1 = self.server.proc.cpu_times()
        busy = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        got["connections"] = conns
        got["server_cpu_pct"] = round(100 * busy / got["seconds"], 1)
        got["server_cpu_ms_per_request"] = (
            round(1000 * busy / got["requests"], 2) if got["requests"] else None
        )
        foreign, top = foreign_cpu_pct(
            machine0, machine1, got["seconds"], our_pids(), self.bench.database_name
        )
        got["foreign_cpu_pct"] = round(foreign, 1)
        got["foreign_top"] = top
        say(
            f"    {label:<44} {got['rps']:>7,.0f} req/s  p50 {got['p50_ms']:.1f}  p95 {got['p95_ms']:.1f}  "
            f"p99 {got['p99_ms']:.1f} ms  non-2xx {got['non_2xx']}  errors {got['errors']}  "
            f"server {got['server_cpu_pct']:.0f}% ({got['server_cpu_ms_per_request']} ms/req)  "
            f"generator {got['generator_cpu_pct']:.0f}%  others {got['foreign_cpu_pct']:.0f}%"
        )
        if got["samples"]:
            say(f"      first refusals: {got['samples']}")
        return got

    def keep(self, label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
        """The best of the runs counts (interference only ever slows a run); all are kept."""
        best = dict(max(runs, key=lambda r: r["rps"]))
        best["runs_rps"] = [r["rps"] for r in runs]
        best["runs_foreign_cpu_pct"] = [r["foreign_cpu_pct"] for r in runs]
        self.runs[label] = best
        return best

    async def run(
        self, label: str, requests: list[Req], *, connections: int | None = None, seconds: float | None = None
    ) -> dict[str, Any]:
        """Warm-up, then one measured run; repeated (up to twice) while other processes took more
        than DISTURBED_PCT of a core during it. 1-connection runs follow the loaded run of the same
        endpoint, so their warm-up is short."""
        conns = connections or self.sizes.connections
        warm = (
            self.sizes.laksa_warmup_seconds
            if connections is None
            else min(0.5, self.sizes.laksa_warmup_seconds)
        )
        await self.warm(label, requests, conns, warm)
        secs = seconds or self.sizes.laksa_seconds
        runs = [await self.measure(label, requests, conns, secs)]
        while (
            not self.sizes.quick and len(runs) < 3 and min(r["foreign_cpu_pct"] for r in runs) > DISTURBED_PCT
        ):
            runs.append(await self.measure(label + " (again: disturbed)", requests, conns, secs))
        return self.keep(label, runs)

    async def pair(
        self, one_label: str, one: list[Req], spread_label: str, spread: list[Req]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """One host vs spread: both warmed, then measured interleaved ``Sizes.repeats`` times."""
        conns, secs = self.sizes.connections, self.sizes.laksa_seconds
        await self.warm(one_label, one, conns, self.sizes.laksa_warmup_seconds)
        await self.warm(spread_label, spread, conns, self.sizes.laksa_warmup_seconds)
        a: list[dict[str, Any]] = []
        b: list[dict[str, Any]] = []
        for _ in range(self.sizes.repeats):
            a.append(await self.measure(one_label, one, conns, secs))
            b.append(await self.measure(spread_label, spread, conns, secs))
        disturbed = (
            min(r["foreign_cpu_pct"] for r in a + b) > DISTURBED_PCT
            or max(r["foreign_cpu_pct"] for r in a + b) > 2 * DISTURBED_PCT
        )
        if disturbed and not self.sizes.quick:
            a.append(await self.measure(one_label + " (again: disturbed)", one, conns, secs))
            b.append(await self.measure(spread_label + " (again: disturbed)", spread, conns, secs))
        return self.keep(one_label, a), self.keep(spread_label, b)


async def csrf_token(port: int, host: str) -> str:
    async with httpx.AsyncClient(timeout=10.0) as client:
        r = await client.get(f"http://127.0.0.1:{port}/healthz", headers={"Host": host})
    for header in r.headers.get_list("set-cookie"):
        m = re.match(rf"{CSRF_COOKIE}=([^;]+)", header)
        if m:
            return m.group(1)
    raise RuntimeError(f"no {CSRF_COOKIE} cookie from /healthz on {host}: {r.status_code}")


# ---- in this process -----------------------------------------------------------------------------


class Captured:
    """The SQL (as sent, schema-qualified, with its parameters) of what runs inside the block."""

    def __init__(self, bench: Bench) -> None:
        self.engine = bench.db.engine.sync_engine
        self.statements: list[tuple[str, Any]] = []

    def _on(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        self.statements.append((statement, parameters))

    def __enter__(self) -> Captured:
        event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on)


SCAN = re.compile(r"(Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan|Seq Scan)( Backward)?")


def plan_summary(lines: list[str]) -> dict[str, Any]:
    """The plan's key facts: how laksa_complaint is read, top node buffers, execution time."""
    scans = []
    for n, line in enumerate(lines):
        text_ = line.strip().removeprefix("->").strip()
        m = SCAN.match(text_)
        if not m:
            continue
        on = re.search(r" on (\S+)", text_)
        using = re.search(r" using (\S+)", text_)
        target = (using.group(1) if using else "") or (on.group(1) if on else "")
        if "laksa_complaint" not in text_ and not target.startswith("ix_laksa_complaint"):
            continue
        rows = re.search(r"actual time=[0-9.]+\.\.[0-9.]+ rows=([0-9]+) loops=([0-9]+)", text_)
        removed = 0
        for follow in lines[n + 1 : n + 6]:
            f = re.search(r"Rows Removed by (?:Filter|Index Recheck): ([0-9]+)", follow)
            if f:
                removed += int(f.group(1))
            if "->" in follow:
                break
        scans.append(
            {
                "node": m.group(0),
                "target": target,
                "rows": int(rows.group(1)) * int(rows.group(2)) if rows else None,
                "removed": removed,
            }
        )
    buffers = next((ln.strip() for ln in lines if ln.strip().startswith("Buffers:")), "")
    exec_ms = next(
        (float(m.group(1)) for ln in lines if (m := re.search(r"Execution Time: ([0-9.]+) ms", ln))), None
    )
    sort = next((ln.strip() for ln in lines if "Sort Method" in ln), None)
    key = "; ".join(
        s["node"]
        + (
            ""
            if s["node"].startswith(("Bitmap Heap", "Seq"))
            else " " + s["target"].removeprefix("ix_laksa_complaint_")
        )
        + f" rows={s['rows']}"
        + (f" removed={s['removed']}" if s["removed"] else "")
        for s in scans
    )
    return {"key": key, "scans": scans, "buffers": buffers, "exec_ms": exec_ms, "sort": sort}


async def explain(conn: asyncpg.Connection, statement: str, params: Any) -> dict[str, Any]:
    args = list(params or ())
    await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *args)  # warm: the figure is the second
    rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *args)
    lines = [r[0] for r in rows]
    return {"plan": lines, **plan_summary(lines)}


def complaint_query(captured: Captured) -> tuple[str, Any]:
    """The statement that reads laksa_complaint (the inbox page or the nearby lookup)."""
    for statement, params in captured.statements:
        if "laksa_complaint" in statement and statement.lstrip().upper().startswith("SELECT"):
            return statement, params
    raise RuntimeError("no query of laksa_complaint was captured")


@dataclass(frozen=True, slots=True)
class InboxVariant:
    label: str
    query: reads.InboxQuery
    path: str


async def deep_cursor(
    conn: asyncpg.Connection, refs: CityRefs, states: Sequence[str], rows: int
) -> tuple[str, int]:
    """A keyset cursor ``rows`` into the employee's inbox of these states (newest first)."""
    sql = city_sql(
        refs.ctx,
        "SELECT count(*) FROM {city}.laksa_complaint "
        "WHERE (agency_id = $1 OR copied_agency_ids && ARRAY[$1]::bigint[]) AND state = ANY($2::text[])",
    )
    total = int(await conn.fetchval(sql, refs.pupr, list(states)))
    offset = max(0, min(rows, total // 2))
    ident = await conn.fetchval(
        city_sql(
            refs.ctx,
            "SELECT id FROM {city}.laksa_complaint "
            "WHERE (agency_id = $1 OR copied_agency_ids && ARRAY[$1]::bigint[]) AND state = ANY($2::text[]) "
            "ORDER BY id DESC OFFSET $3 LIMIT 1",
        ),
        refs.pupr,
        list(states),
        offset,
    )
    return reads._encode_cursor("newest", int(ident or 0), int(ident or 0)), offset


async def inbox_variants(
    conn: asyncpg.Connection, refs: CityRefs
) -> tuple[list[InboxVariant], dict[str, Any]]:
    busiest = await conn.fetchval(
        city_sql(
            refs.ctx,
            "SELECT kecamatan_code FROM {city}.laksa_complaint WHERE agency_id = $1 "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
        ),
        refs.pupr,
    )
    open_cursor, open_offset = await deep_cursor(conn, refs, OPEN_STATES, DEEP_OPEN_ROWS)
    closed_cursor, closed_offset = await deep_cursor(conn, refs, ("closed",), DEEP_ARCHIVE_ROWS)
    counts = {
        "open": int(
            await conn.fetchval(
                city_sql(
                    refs.ctx,
                    "SELECT count(*) FROM {city}.laksa_complaint WHERE (agency_id = $1 OR "
                    "copied_agency_ids && ARRAY[$1]::bigint[]) AND state = ANY($2::text[])",
                ),
                refs.pupr,
                list(OPEN_STATES),
            )
        ),
        "deep_open_offset": open_offset,
        "deep_closed_offset": closed_offset,
        "kecamatan": busiest,
    }
    q = reads.InboxQuery
    variants = [
        InboxVariant("inbox p1 (open, newest)", q(), "/api/v1/laksa/inbox"),
        InboxVariant(
            "inbox p1, kecamatan + category",
            q(kecamatan_code=busiest, category_code="road"),
            f"/api/v1/laksa/inbox?kecamatan={busiest}&category=road",
        ),
        InboxVariant(
            f"inbox deep open (page {open_offset // 25 + 1})",
            q(cursor=open_cursor),
            f"/api/v1/laksa/inbox?cursor={open_cursor}",
        ),
        InboxVariant(
            f"inbox deep closed ({closed_offset:,} rows in)",
            q(states=("closed",), cursor=closed_cursor),
            f"/api/v1/laksa/inbox?state=closed&cursor={closed_cursor}",
        ),
        InboxVariant("inbox p1, sort=due", q(sort="due"), "/api/v1/laksa/inbox?sort=due"),
    ]
    return variants, counts


async def in_process(
    bench: Bench, conn: asyncpg.Connection, refs: CityRefs, variants: list[InboxVariant], redis: Any
) -> dict[str, Any]:
    """EXPLAIN of the inbox and nearby queries, the nearby call alone, the statements of a post."""
    ctx = refs.ctx
    employee = Actor.of(employee_principal(refs))
    citizen = Actor.of(Principal("citizen", refs.citizens[0], ctx.id, "Warga", frozenset({"citizen"})))
    out: dict[str, Any] = {"explain": {}}
    rng = random.Random(SEED + 7)
    with use_tenant(ctx):
        extra = [
            InboxVariant("inbox p1, sort=priority", reads.InboxQuery(sort="priority"), ""),
            InboxVariant("inbox p1, agency_id=PUPR", reads.InboxQuery(agency_id=refs.pupr), ""),
        ]
        small_agency = Actor.of(employee_principal(refs, "damkar"))
        extra.append(InboxVariant("inbox p1, small agency (Damkar)", reads.InboxQuery(), ""))
        for v in [*variants, *extra]:
            who = small_agency if "Damkar" in v.label else employee
            async with bench.db.tenant_session(ctx) as session:
                with Captured(bench) as cap:
                    await reads.inbox(session, who, v.query)
            statement, params = complaint_query(cap)
            out["explain"][v.label] = await explain(conn, statement, params) | {"sql": statement}
        categories = await conn.fetch(city_sql(ctx, "SELECT code, id FROM {city}.laksa_category"))
        category_ids = {r["code"]: r["id"] for r in categories}
        lat, lon = refs.open_spots[len(refs.open_spots) // 2]
        for label, cat in (("nearby, category road", "road"), ("nearby, any category", None)):
            async with bench.db.tenant_session(ctx) as session:
                with Captured(bench) as cap:
                    await ComplaintService(session).nearby(
                        lat, lon, category_ids[cat] if cat else None, limit=5
                    )
            statement, params = complaint_query(cap)
            out["explain"][label] = await explain(conn, statement, params) | {"sql": statement}

        # The duplicate lookup alone: the service call in an open session (one query each).
        points = [
            (
                round(p[0] + rng.uniform(-0.0002, 0.0002), 6),
                round(p[1] + rng.uniform(-0.0002, 0.0002), 6),
                NEARBY_CATEGORIES[i % len(NEARBY_CATEGORIES)],
            )
            for i, p in enumerate(rng.choices(refs.open_spots, k=IN_PROCESS_CALLS))
        ]
        timings: dict[str, list[float]] = {"any": [], "category": []}
        found = 0
        async with bench.db.tenant_session(ctx) as session:
            service = ComplaintService(session)
            for lat_, lon_, cat in points[:20]:
                await service.nearby(lat_, lon_, category_ids[cat] if cat else None, limit=5)
            for lat_, lon_, cat in points:
                started = time.perf_counter()
                hits = await service.nearby(lat_, lon_, category_ids[cat] if cat else None, limit=5)
                timings["category" if cat else "any"].append(1e6 * (time.perf_counter() - started))
                found += len(hits)
        out["nearby_us"] = {k: [round(x, 1) for x in v] for k, v in timings.items()}
        out["nearby_found_per_call"] = round(found / len(points), 2)

        # The statements of one JSON submission as the handler runs it (submit + complaint_view),
        # with the city's caches (areas, SLA calendar) warm.
        async def post_once(key: str) -> list[tuple[str, Any]]:
            async with bench.db.tenant_session(ctx) as session:
                with Captured(bench) as cap:
                    done = await ComplaintService(session, redis=redis).submit(
                        citizen,
                        NewComplaint(
                            description=POSTS[0][0], lat=lat, lon=lon, idempotency_key=key, source="api"
                        ),
                    )
                    await reads.complaint_view(session, citizen, done.complaint.id)
            return cap.statements

        await post_once(f"bench-inprocess-{uuid.uuid4().hex[:8]}")
        statements = await post_once(f"bench-inprocess-{uuid.uuid4().hex[:8]}")
        out["post_statements"] = [s[:160] for s, _ in statements]

        # Where a submission's time goes, in this process (no HTTP, no outbox relay: no broker here).
        async def submit_and_view(i: int) -> None:
            lat_, lon_ = refs.open_spots[i % len(refs.open_spots)]
            text_, category = POSTS[i % len(POSTS)]
            async with bench.db.tenant_session(ctx) as session:
                done = await ComplaintService(session, redis=redis).submit(
                    citizen,
                    NewComplaint(
                        description=text_,
                        category_code=category,
                        lat=lat_,
                        lon=lon_,
                        idempotency_key=uuid.uuid4().hex,
                        source="api",
                    ),
                )
                await reads.complaint_view(session, citizen, done.complaint.id)

        async def routing_reads(i: int) -> None:
            async with bench.db.tenant_session(ctx) as session:
                await configuration.category_views(session)
                await configuration.rule_views(session)

        newest = int(await conn.fetchval(city_sql(ctx, "SELECT max(id) FROM {city}.laksa_complaint")))

        async def view(i: int) -> None:
            async with bench.db.tenant_session(ctx) as session:
                await reads.complaint_view(session, citizen, newest)

        calls = IN_PROCESS_POSTS
        out["post_cost"] = {
            name: await timed_calls(fn, calls)
            for name, fn in (
                ("submit_and_view", submit_and_view),
                ("routing_reads", routing_reads),
                ("view", view),
            )
        }

        # A city's area index, cold (what every process rebuilds per city every CACHE_SECONDS).
        cold = []
        for _ in range(5):
            configuration.forget_city(ctx.schema)
            async with bench.db.tenant_session(ctx) as session:
                started = time.perf_counter()
                await configuration.area_index(session)
                cold.append(1000 * (time.perf_counter() - started))
        out["area_index_cold_ms"] = [round(x, 1) for x in cold]
        sla = []
        for _ in range(5):
            configuration.forget_city(ctx.schema)
            async with bench.db.tenant_session(ctx) as session:
                started = time.perf_counter()
                await configuration.sla_settings(session)
                sla.append(1000 * (time.perf_counter() - started))
        out["sla_settings_cold_ms"] = [round(x, 1) for x in sla]
    return out


async def timed_calls(fn: Any, n: int) -> dict[str, float]:
    """Median wall ms and mean CPU ms (this process) per call, after a few calls to warm up."""
    for i in range(5):
        await fn(i)
    walls = []
    cpu0 = time.process_time()
    for i in range(n):
        started = time.perf_counter()
        await fn(i)
        walls.append(1000 * (time.perf_counter() - started))
    return {
        "calls": n,
        "wall_ms_median": round(median(walls), 2),
        "wall_ms_p95": round(percentile(walls, 95), 2),
        "cpu_ms_mean": round(1000 * (time.process_time() - cpu0) / n, 2),
    }


async def cold_posts(bench: Bench, cities: list[CityRefs], redis: Any) -> list[list[float]]:
    """ms of successive in-process submissions (submit + complaint_view) in cities this process has
    not used yet, on one pooled connection: the first pays the Parse of every statement of the city
    (its SQL names its schema) and the cold area and SLA caches; PostgreSQL plans the first five
    executions of each prepared statement afresh."""
    await bench.close_connections()
    await bench.db.ping()  # opens the one pooled connection the calls below take in turn
    out = []
    for refs in cities:
        ctx = refs.ctx
        citizen = Actor.of(Principal("citizen", refs.citizens[0], ctx.id, "Warga", frozenset({"citizen"})))
        times = []
        for i in range(COLD_POSTS):
            lat, lon = refs.open_spots[i % len(refs.open_spots)]
            with use_tenant(ctx):
                started = time.perf_counter()
                async with bench.db.tenant_session(ctx) as session:
                    done = await ComplaintService(session, redis=redis).submit(
                        citizen,
                        NewComplaint(
                            description=POSTS[0][0],
                            lat=lat,
                            lon=lon,
                            idempotency_key=uuid.uuid4().hex,
                            source="api",
                        ),
                    )
                    await reads.complaint_view(session, citizen, done.complaint.id)
                times.append(round(1000 * (time.perf_counter() - started), 2))
        out.append(times)
    return out


# ---- cities --------------------------------------------------------------------------------------


async def prepare_city(
    bench: Bench, conn: asyncpg.Connection, slug: str, complaints: int, signed_in: int
) -> CityRefs:
    """Laksa's config (the high submission limit), the demo boundaries, citizens and employees."""
    await bench.tenants.set_module(slug, "laksa", True, config={"submissions_per_hour": SUBMISSIONS_PER_HOUR})
    ctx = await bench.tenants.context(slug)
    with use_tenant(ctx):
        async with bench.db.tenant_session(ctx) as session:
            await configuration.replace_areas(session, demo_boundaries(DEMO))
            await session.commit()
    refs = await city_refs(conn, ctx)
    await add_people(conn, refs, max(signed_in, int(complaints * CITIZENS_PER_COMPLAINT)))
    return refs


async def boundaries(conn: asyncpg.Connection, ctx: TenantContext) -> Boundaries:
    rows = await conn.fetch(
        city_sql(ctx, "SELECT kind, code, name, geometry::text AS geometry FROM {city}.laksa_area")
    )
    return Boundaries(rows)


def share_open(states: dict[str, int]) -> float:
    total = sum(states.values())
    return sum(v for k, v in states.items() if k in OPEN_STATES) / total if total else 0.0


# ---- the benchmark -------------------------------------------------------------------------------


async def run(sizes: Sizes) -> BenchResult:
    result = BenchResult("laksa")
    started = time.perf_counter()
    try:
        with claimed_redis_database("laksa") as redis_url:
            await _run(sizes, result, redis_url)
    except Exception as exc:
        record_failure(result, exc)
    result.seconds = time.perf_counter() - started
    try:
        pg = await server_version()
    except Exception:
        pg = None
    path = write_results(
        RESULTS_DIR / "laksa.json", [result], quick=sizes.quick, extra={"postgresql": pg, "sizes": str(sizes)}
    )
    say(f"[laksa] written to {path}")
    return result


async def _run(sizes: Sizes, result: BenchResult, redis_url: str) -> None:
    n_big, n_cities, n_small = sizes.laksa_complaints, sizes.laksa_cities, sizes.laksa_city_complaints
    say(
        f"[laksa] {n_big:,} complaints in one city, then {n_cities} cities x {n_small:,}; "
        f"{sizes.connections} connections, {sizes.laksa_warmup_seconds:g} s warm-up + "
        f"{sizes.laksa_seconds:g} s per endpoint; Redis {redis_url}"
    )
    log = Path(tempfile.gettempdir()) / f"kotalive-bench-laksa-{os.getpid()}.log"
    env = {"KOTALIVE_REDIS_URL": redis_url}
    redis = aioredis.from_url(redis_url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    details: dict[str, Any] = {"server_log": str(log), "redis_db": redis_url.rsplit("/", 1)[-1]}
    result.details = details
    try:
        async with throwaway_database("laksa") as bench, Driver() as driver:
            store = SessionStore(redis, bench.settings.session_max_age)
            conn = await asyncpg.connect(plain_postgres_url(bench.database_url))
            try:
                # ---- the big city ----
                t0 = time.perf_counter()
                city0 = new_city("laksa", 0)
                await provision_cities(bench.tenants, [city0])
                big = await prepare_city(bench, conn, city0.slug, n_big, SIGNED_IN_BIG)
                shapes = await boundaries(conn, big.ctx)
                loaded = await load_complaints(conn, big, n_big, shapes.spots(n_big, SEED), now, SEED)
                await sign_in(store, big, SIGNED_IN_BIG)
                setup_big = time.perf_counter() - t0
                details["big_city"] = loaded | {"setup_s": round(setup_big, 1), "citizens": len(big.citizens)}
                details["photo_bytes"] = len(base64.b64decode(driver.photo_b64))
                details["pool"] = f"{bench.settings.db_pool_size} + {bench.settings.db_max_overflow} overflow"
                say(
                    f"  big city {big.ctx.slug}: {n_big:,} complaints COPY {loaded['copy_s']} s "
                    f"(rows made in {loaded['generate_s']} s), VACUUM ANALYZE {loaded['vacuum_analyze_s']} s; "
                    f"{share_open(loaded['states']):.0%} open; states {loaded['states']}; "
                    f"{len(big.citizens):,} citizens; setup {setup_big:.1f} s"
                )
                variants, inbox_counts = await inbox_variants(conn, big)
                details["inbox"] = inbox_counts
                say(
                    f"  PUPR inbox: {inbox_counts['open']:,} open; deep open page at row "
                    f"{inbox_counts['deep_open_offset']:,}, deep closed at row {inbox_counts['deep_closed_offset']:,}; "
                    f"busiest kecamatan {inbox_counts['kecamatan']}"
                )
                inproc = await in_process(bench, conn, big, variants, redis)
                details["in_process"] = inproc
                for label, e in inproc["explain"].items():
                    say(
                        f"  EXPLAIN {label}: {e['exec_ms']} ms; {e['key']}; {e['buffers']}"
                        + (f"; {e['sort']}" if e["sort"] else "")
                    )

                slowest = max(inproc["explain"], key=lambda k: inproc["explain"][k]["exec_ms"] or 0)
                say(f"  the slowest of these plans in full ({slowest}):")
                for line in inproc["explain"][slowest]["plan"]:
                    say(f"    | {line}")

                # ---- phase A: HTTP against the big city ----
                rng = random.Random(SEED + 1)
                post_spots = shapes.spots(POST_VARIANTS, SEED + 2, sigma=0.01)
                say(f"  phase A: one city with {n_big:,} complaints")
                await bench.close_connections()
                async with AppServer(bench, env, log) as server:
                    csrf = await csrf_token(server.port, big.host)
                    runner = Runner(bench, server, driver, sizes, csrf)
                    emp = big.employee_token
                    inbox_reqs = {v.label: [get_req(big.host, v.path, emp, csrf)] for v in variants}
                    nearby_reqs = []
                    for i in range(NEARBY_VARIANTS):
                        lat, lon = near(rng, big, post_spots, i, shapes)
                        cat = NEARBY_CATEGORIES[i % len(NEARBY_CATEGORIES)]
                        nearby_reqs.append(
                            get_req(
                                big.host,
                                nearby_path(lat, lon, cat),
                                big.citizen_tokens[i % SIGNED_IN_BIG],
                                csrf,
                            )
                        )
                    post_points = [near(rng, big, post_spots, i, shapes) for i in range(POST_VARIANTS)]
                    posts_json = [
                        post_req(
                            big.host,
                            big.citizen_tokens[i % SIGNED_IN_BIG],
                            csrf,
                            post_points[i],
                            i,
                            photo=False,
                        )
                        for i in range(POST_VARIANTS)
                    ]
                    posts_photo = [
                        post_req(
                            big.host,
                            big.citizen_tokens[i % SIGNED_IN_BIG],
                            csrf,
                            post_points[i],
                            i,
                            photo=True,
                        )
                        for i in range(PHOTO_VARIANTS)
                    ]
                    a: dict[str, dict[str, Any]] = {}
                    for v in variants:
                        a[v.label] = await runner.run(v.label, inbox_reqs[v.label])
                    a["nearby"] = await runner.run("GET nearby", nearby_reqs)
                    lat_secs = sizes.laksa_latency_seconds
                    a["inbox 1c"] = await runner.run(
                        "inbox p1, 1 connection",
                        inbox_reqs[variants[0].label],
                        connections=1,
                        seconds=lat_secs,
                    )
                    a["deep 1c"] = await runner.run(
                        "inbox deep closed, 1 connection",
                        inbox_reqs[variants[3].label],
                        connections=1,
                        seconds=lat_secs,
                    )
                    a["nearby 1c"] = await runner.run(
                        "GET nearby, 1 connection", nearby_reqs, connections=1, seconds=lat_secs
                    )
                    a["post"] = await runner.run("POST JSON", posts_json)
                    a["photo"] = await runner.run("POST multipart + 1 photo", posts_photo)
                    a["post 1c"] = await runner.run(
                        "POST JSON, 1 connection", posts_json, connections=1, seconds=lat_secs
                    )
                    mem_a = backend_memory(bench.database_name).as_mib()
                    assert server.proc is not None
                    rss_a = round(server.proc.memory_info().rss / 2**20, 1)
                details["phase_a"] = runner.runs | {"pg_backends": mem_a, "app_rss_mib": rss_a}
                after_posts = await conn.fetchval(
                    city_sql(big.ctx, "SELECT count(*) FROM {city}.laksa_complaint")
                )
                details["big_city"]["after_posts"] = after_posts

                # ---- phase B: N small cities ----
                say(f"  phase B: {n_cities} cities x {n_small:,} complaints")
                t1 = time.perf_counter()
                small_cities = [new_city("laksa", i) for i in range(1, n_cities + 1)]
                await provision_cities(bench.tenants, small_cities, concurrency=PROVISION_CONCURRENCY)
                provisioned = time.perf_counter() - t1
                small_spots = shapes.spots(n_small * 4, SEED + 3)
                small: list[CityRefs] = []
                copy_s = 0.0
                for i, city in enumerate(small_cities, start=1):
                    refs = await prepare_city(bench, conn, city.slug, n_small, SIGNED_IN_SMALL)
                    k = (i * 97) % (len(small_spots) - n_small + 1)
                    loaded_small = await load_complaints(
                        conn, refs, n_small, small_spots[k : k + n_small], now, SEED + i
                    )
                    await sign_in(store, refs, SIGNED_IN_SMALL)
                    copy_s += loaded_small["copy_s"] + loaded_small["vacuum_analyze_s"]
                    small.append(refs)
                setup_small = time.perf_counter() - t1
                details["small_cities"] = {
                    "cities": n_cities,
                    "complaints_each": n_small,
                    "provision_s": round(provisioned, 1),
                    "copy_and_vacuum_s": round(copy_s, 1),
                    "setup_s": round(setup_small, 1),
                }
                say(
                    f"  {n_cities} cities provisioned in {provisioned:.1f} s (4 at a time); boundaries, people, "
                    f"{n_small:,} complaints each (COPY + VACUUM ANALYZE {copy_s:.1f} s in all); setup {setup_small:.1f} s"
                )
                details["cold_city_posts_ms"] = await cold_posts(bench, small[1 : 1 + COLD_CITIES], redis)
                await bench.close_connections()
                async with AppServer(bench, env, log) as server:
                    csrf = await csrf_token(server.port, small[0].host)
                    runner_b = Runner(bench, server, driver, sizes, csrf)
                    rng_b = random.Random(SEED + 4)

                    def posts_for(cities: list[CityRefs]) -> list[Req]:
                        out = []
                        for i in range(POST_VARIANTS):
                            c = cities[i % len(cities)]
                            j = i // len(cities)
                            point = near(rng_b, c, small_spots, i, shapes)
                            out.append(
                                post_req(
                                    c.host,
                                    c.citizen_tokens[j % len(c.citizen_tokens)],
                                    csrf,
                                    point,
                                    j,
                                    photo=False,
                                )
                            )
                        return out

                    def nearby_for(cities: list[CityRefs]) -> list[Req]:
                        out = []
                        for i in range(max(NEARBY_VARIANTS, len(cities) * 4)):
                            c = cities[i % len(cities)]
                            lat, lon = near(rng_b, c, small_spots, i, shapes)
                            cat = NEARBY_CATEGORIES[(i // len(cities)) % len(NEARBY_CATEGORIES)]
                            out.append(get_req(c.host, nearby_path(lat, lon, cat), c.citizen_tokens[0], csrf))
                        return out

                    one = small[:1]
                    b: dict[str, dict[str, Any]] = {}
                    b["inbox one"], b["inbox spread"] = await runner_b.pair(
                        "1 small city: inbox p1",
                        [get_req(c.host, "/api/v1/laksa/inbox", c.employee_token, csrf) for c in one],
                        f"{n_cities} spread: inbox p1",
                        [get_req(c.host, "/api/v1/laksa/inbox", c.employee_token, csrf) for c in small],
                    )
                    b["nearby one"], b["nearby spread"] = await runner_b.pair(
                        "1 small city: nearby",
                        nearby_for(one),
                        f"{n_cities} spread: nearby",
                        nearby_for(small),
                    )
                    b["post one"], b["post spread"] = await runner_b.pair(
                        "1 small city: POST JSON",
                        posts_for(one),
                        f"{n_cities} spread: POST JSON",
                        posts_for(small),
                    )
                    mem_b = backend_memory(bench.database_name).as_mib()
                    assert server.proc is not None
                    rss_b = round(server.proc.memory_info().rss / 2**20, 1)
                details["phase_b"] = runner_b.runs | {"pg_backends": mem_b, "app_rss_mib": rss_b}
            finally:
                await conn.close()
        figures(result, sizes, details, a, b, inproc, big, loaded)
    finally:
        await redis.aclose()


def figures(
    result: BenchResult,
    sizes: Sizes,
    details: dict[str, Any],
    a: dict[str, dict[str, Any]],
    b: dict[str, dict[str, Any]],
    inproc: dict[str, Any],
    big: CityRefs,
    loaded: dict[str, Any],
) -> None:
    n_big, n_cities, n_small = sizes.laksa_complaints, sizes.laksa_cities, sizes.laksa_city_complaints
    k = f"{n_big // 1000}k"
    labels = list(details["phase_a"])
    inbox_labels = [lb for lb in labels if lb.startswith("inbox") and "connection" not in lb]
    result.add(
        "complaints in the big city",
        n_big,
        "",
        f"COPY {loaded['copy_s']} s + VACUUM ANALYZE {loaded['vacuum_analyze_s']} s; "
        f"{share_open(loaded['states']):.0%} open",
    )
    sc = details["small_cities"]
    result.add(
        "small cities",
        n_cities,
        "",
        f"{n_small:,} complaints each; setup {sc['setup_s']} s (provision {sc['provision_s']} s)",
    )
    result.add("load generator", a["post"]["generator"], "", "bench_laksa.py's own: POST bodies, p95")
    result.add("connections", sizes.connections, "", f"the app's pool: {details['pool']}")

    def rate(name: str, got: dict[str, Any], note: str = "") -> None:
        result.add(name, got["rps"], "req/s", f"p50 {got['p50_ms']:.1f} / p95 {got['p95_ms']:.1f} ms" + note)

    rate(f"POST JSON, {k} city", a["post"], f"; server CPU {a['post']['server_cpu_pct']:.0f} %")
    result.add("  p50", a["post"]["p50_ms"], "ms", f"{sizes.connections} connections")
    result.add("  p95", a["post"]["p95_ms"], "ms", f"{sizes.connections} connections")
    result.add(
        "  p50 / p95, 1 connection",
        a["post 1c"]["p50_ms"],
        "ms",
        f"p95 {a['post 1c']['p95_ms']:.1f} ms: no queueing",
    )
    photo_kb = details["photo_bytes"] // 1024
    rate(f"POST multipart + 1 photo ({photo_kb} KB)", a["photo"])
    result.add("  photo / JSON", ratio(a["photo"]["rps"], a["post"]["rps"]), "x")
    result.add(
        "SQL statements per POST",
        len(inproc["post_statements"]),
        "",
        "submit + complaint_view in-process, plus BEGIN/COMMIT; caches warm",
    )
    for label in inbox_labels:
        result.add(
            f"{label}",
            a[label]["p95_ms"],
            "ms p95",
            f"{a[label]['rps']:,.0f} req/s, p50 {a[label]['p50_ms']:.1f} ms",
        )
    result.add(
        "inbox p1, 1 connection", a["inbox 1c"]["p95_ms"], "ms p95", f"p50 {a['inbox 1c']['p50_ms']:.1f} ms"
    )
    result.add(
        "inbox deep closed, 1 connection",
        a["deep 1c"]["p95_ms"],
        "ms p95",
        f"p50 {a['deep 1c']['p50_ms']:.1f} ms",
    )
    result.add(
        "GET nearby",
        a["nearby"]["p95_ms"],
        "ms p95",
        f"{a['nearby']['rps']:,.0f} req/s, p50 {a['nearby']['p50_ms']:.1f} ms",
    )
    result.add(
        "GET nearby, 1 connection",
        a["nearby 1c"]["p95_ms"],
        "ms p95",
        f"p50 {a['nearby 1c']['p50_ms']:.1f} ms",
    )
    us = inproc["nearby_us"]
    result.add(
        "nearby service call, with category",
        round(median(us["category"])),
        "µs median",
        f"p95 {percentile(us['category'], 95):,.0f} µs; {inproc['nearby_found_per_call']} found per call",
    )
    result.add(
        "nearby service call, any category",
        round(median(us["any"])),
        "µs median",
        f"p95 {percentile(us['any'], 95):,.0f} µs",
    )
    cost = inproc["post_cost"]
    result.add(
        "in-process: submit + complaint_view",
        cost["submit_and_view"]["wall_ms_median"],
        "ms median",
        f"CPU {cost['submit_and_view']['cpu_ms_mean']:.1f} ms; the handler minus HTTP and outbox relay",
    )
    result.add(
        "  of which categories + rules reads",
        cost["routing_reads"]["wall_ms_median"],
        "ms median",
        f"CPU {cost['routing_reads']['cpu_ms_mean']:.1f} ms; read on every submission, not cached",
    )
    result.add(
        "  of which complaint_view",
        cost["view"]["wall_ms_median"],
        "ms median",
        f"CPU {cost['view']['cpu_ms_mean']:.1f} ms; 5 queries to answer with what was just written",
    )
    for label, e in inproc["explain"].items():
        result.add(f"EXPLAIN {label}", e["exec_ms"], "ms", f"{e['key'][:120]}; {e['buffers'].lower()}")
    cold = inproc["area_index_cold_ms"]
    result.add(
        "area index, cold load per city",
        round(median(cold), 1),
        "ms",
        f"per process, every {configuration.CACHE_SECONDS:g} s per city: {n_cities} cities ~ "
        f"{100 * n_cities * median(cold) / 1000 / configuration.CACHE_SECONDS:.0f} % of a core",
    )
    cold = details["cold_city_posts_ms"]
    if cold:
        firsts = [t[0] for t in cold]
        early = [x for t in cold for x in t[1:5]]
        late = [x for t in cold for x in t[6:]]
        result.add(
            "in-process POST, city new to the connection",
            round(median(firsts), 1),
            "ms median",
            f"2nd-5th {median(early):.1f} ms, 7th-9th {median(late):.1f} ms ({len(cold)} cities)",
        )
    for name, one, spread in (
        ("POST JSON", b["post one"], b["post spread"]),
        ("inbox p1", b["inbox one"], b["inbox spread"]),
        ("nearby", b["nearby one"], b["nearby spread"]),
    ):
        result.add(
            f"{name}: 1 small city",
            one["rps"],
            "req/s",
            f"p95 {one['p95_ms']:.1f} ms; runs {', '.join(f'{x:,.0f}' for x in one['runs_rps'])}",
        )
        result.add(
            f"{name}: {n_cities} spread",
            spread["rps"],
            "req/s",
            f"p95 {spread['p95_ms']:.1f} ms; runs {', '.join(f'{x:,.0f}' for x in spread['runs_rps'])}",
        )
        result.add(
            f"  ratio {n_cities} spread / 1 city ({name})",
            ratio(spread["rps"], one["rps"]),
            "x",
            "goal >= 0.9",
        )
    result.add(
        f"  POST JSON {k} city / 1 small city",
        ratio(a["post"]["rps"], b["post one"]["rps"]),
        "x",
        f"{n_big:,} vs {n_small:,} complaints",
    )
    result.add(
        f"  inbox p1 {k} city / 1 small city",
        ratio(a[inbox_labels[0]]["rps"], b["inbox one"]["rps"]),
        "x",
        f"{n_big:,} vs {n_small:,} complaints",
    )
    result.add(
        f"  nearby {k} city / 1 small city",
        ratio(a["nearby"]["rps"], b["nearby one"]["rps"]),
        "x",
        f"{n_big:,} vs {n_small:,} complaints",
    )
    runs = [
        *(v for v in details["phase_a"].values() if isinstance(v, dict) and "rps" in v),
        *(v for v in details["phase_b"].values() if isinstance(v, dict) and "rps" in v),
    ]
    result.add(
        "non-2xx and errors, all runs", sum(r["non_2xx"] + r["errors"] for r in runs), "", "should be 0"
    )
    result.add(
        "server CPU, POST JSON",
        a["post"]["server_cpu_pct"],
        "% core",
        f"{a['post']['server_cpu_ms_per_request']} ms of app CPU per POST ({b['post one']['server_cpu_ms_per_request']} "
        f"one small city, {b['post spread']['server_cpu_ms_per_request']} spread over {n_cities})",
    )
    result.add(
        "generator CPU, worst run",
        max(r["generator_cpu_pct"] for r in runs),
        "% core",
        "2 cores shared: figures are lower bounds",
    )
    result.add(
        "other processes' CPU, worst run",
        max(r["foreign_cpu_pct"] for r in runs),
        "% core",
        "high = the machine was shared",
    )
    mem = details["phase_b"]["pg_backends"]
    result.add(
        f"PG backends private, {n_cities} spread",
        mem["private_mib"],
        "MiB",
        f"{mem['backends']} backends, max {mem['private_max_per_backend_mib']} each; app RSS {details['phase_b']['app_rss_mib']} MiB",
    )


if __name__ == "__main__":
    if "--driver" in sys.argv:
        driver_main()
    else:
        standalone(run)
