"""Distances, boundaries and point-in-area, for every module (no PostGIS: the embedded default
lacks it, and a city's few hundred areas fit in memory).

- ``distance_m``: great-circle distance (haversine) in metres.
- ``box_around``: a latitude/longitude box that holds every point within a radius, for an index
  range scan before the exact distance.
- ``parse_areas``: a GeoJSON upload checked and turned into areas, with errors that say which
  feature is wrong and why.
- ``AreaIndex``: which areas hold a point (shapely STRtree), built once per city and cached.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

EARTH_RADIUS_M = 6_371_008.8
MAX_FEATURES = 5_000
MAX_VERTICES = 2_000_000


def valid_point(lat: Any, lon: Any) -> tuple[float, float] | None:
    """(lat, lon) as floats if both are finite numbers in range, else None."""
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(la) and math.isfinite(lo)) or not (-90 <= la <= 90 and -180 <= lo <= 180):
        return None
    return la, lo


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def box_around(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) holding every point within ``radius_m``."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    coslat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * coslat))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def snap(lat: float, lon: float, cell_degrees: float) -> tuple[float, float]:
    """The centre of the grid cell holding the point: a blurred location that stays put (the same
    complaint always shows in the same place, and nearby ones share it)."""
    return (
        round((math.floor(lat / cell_degrees) + 0.5) * cell_degrees, 6),
        round((math.floor(lon / cell_degrees) + 0.5) * cell_degrees, 6),
    )


# ---- areas ---------------------------------------------------------------------------------------


class AreaError(ValueError):
    """An upload that is not usable; ``field`` names where (e.g. ``features[3].geometry``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Area:
    kind: str  # kecamatan | kelurahan
    code: str
    name: str
    parent_code: str | None
    geometry: dict[str, Any]  # GeoJSON geometry (Polygon or MultiPolygon)


def _properties_value(props: dict[str, Any], *names: str) -> str | None:
    lowered = {str(k).lower(): v for k, v in props.items()}
    for name in names:
        value = lowered.get(name)
        if value not in (None, ""):
            return str(value).strip()
    return None


def _count_vertices(coords: Any) -> int:
    if isinstance(coords, (list, tuple)) and coords and isinstance(coords[0], (int, float)):
        return 1
    if isinstance(coords, (list, tuple)):
        return sum(_count_vertices(c) for c in coords)
    return 0


def _check_geometry(raw: Any, where: str) -> BaseGeometry:
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        raise AreaError(where, "must be a GeoJSON Polygon or MultiPolygon")
    try:
        geom = shape(raw)
    except Exception as exc:
        raise AreaError(where, f"is not a readable polygon ({exc})") from None
    if geom.is_empty:
        raise AreaError(where, "is empty")
    min_x, min_y, max_x, max_y = geom.bounds
    if not (-180 <= min_x <= max_x <= 180 and -90 <= min_y <= max_y <= 90):
        raise AreaError(
            where, "has coordinates out of range: GeoJSON is [longitude, latitude] in WGS 84 degrees"
        )
    if not geom.is_valid:
        raise AreaError(where, f"is not a valid polygon: {explain_validity(geom)}")
    return geom


def parse_areas(document: Any) -> list[Area]:
    """Areas from a GeoJSON FeatureCollection whose features name a kecamatan (and, for kelurahan,
    the kecamatan they lie in). Property names Indonesian data sets use are understood:
    ``kecamatan``/``kelurahan``/``desa``/``name``/``nama``, codes ``kode``/``code``/``kode_kec``...
    """
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise AreaError("file", "must be a GeoJSON FeatureCollection of kecamatan and kelurahan")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise AreaError("features", "is empty: give one feature per kecamatan (and kelurahan)")
    if len(features) > MAX_FEATURES:
        raise AreaError("features", f"has {len(features)} features; at most {MAX_FEATURES} are accepted")
    if _count_vertices(
        [f.get("geometry", {}).get("coordinates") for f in features if isinstance(f, dict)]
    ) > (MAX_VERTICES):
        raise AreaError("features", f"have more than {MAX_VERTICES} points; simplify the boundaries first")
    areas: list[Area] = []
    seen: set[tuple[str, str]] = set()
    for i, feature in enumerate(features):
        where = f"features[{i}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise AreaError(where, "must be a GeoJSON Feature")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raise AreaError(f"{where}.properties", "must be an object")
        geom = _check_geometry(feature.get("geometry"), f"{where}.geometry")
        kelurahan = _properties_value(props, "kelurahan", "desa", "village", "nama_desa", "nama_kel")
        kecamatan = _properties_value(props, "kecamatan", "district", "nama_kec", "kec")
        kind = _properties_value(props, "kind", "level", "tingkat")
        if kind:
            kind = kind.lower()
        if kind not in (None, "kecamatan", "kelurahan", "desa"):
            raise AreaError(f"{where}.properties.kind", "must be kecamatan or kelurahan")
        if kind == "desa":
            kind = "kelurahan"
        if kind is None:
            kind = "kelurahan" if kelurahan else "kecamatan"
        name = (kelurahan if kind == "kelurahan" else kecamatan) or _properties_value(props, "name", "nama")
        if not name:
            raise AreaError(
                f"{where}.properties", f"name the {kind} (property 'kecamatan', 'kelurahan' or 'name')"
            )
        if kind == "kelurahan" and not kecamatan:
            raise AreaError(f"{where}.properties", f"kelurahan {name!r} must name its kecamatan")
        code = _properties_value(
            props, "kode", "code", "kode_kel" if kind == "kelurahan" else "kode_kec", "id"
        )
        code = code or name.casefold()
        if (kind, code) in seen:
            raise AreaError(f"{where}.properties", f"{kind} {code!r} appears twice")
        seen.add((kind, code))
        parent = kecamatan if kind == "kelurahan" else None
        areas.append(Area(kind, code[:64], name[:200], parent, dict(geom.__geo_interface__)))
    kecamatan_names = {a.name.casefold() for a in areas if a.kind == "kecamatan"} | {
        a.code.casefold() for a in areas if a.kind == "kecamatan"
    }
    if not kecamatan_names:
        raise AreaError("features", "hold no kecamatan: every city needs its kecamatan boundaries")
    for i, area in enumerate(areas):
        if area.kind == "kelurahan" and (area.parent_code or "").casefold() not in kecamatan_names:
            raise AreaError(
                f"features[{i}].properties",
                f"kelurahan {area.name!r} names kecamatan {area.parent_code!r}, which the file does not hold",
            )
    return areas


@dataclass(frozen=True, slots=True)
class Located:
    kecamatan: str | None
    kecamatan_code: str | None
    kelurahan: str | None
    kelurahan_code: str | None
    inside: bool  # inside the city (the union of its kecamatan); True when it has no boundaries


@dataclass
class AreaIndex:
    """Point-in-area for one city's areas."""

    areas: Sequence[Area] = ()
    _kec: list[tuple[Area, BaseGeometry]] = field(default_factory=list, init=False)
    _kel: list[tuple[Area, BaseGeometry]] = field(default_factory=list, init=False)
    _kec_tree: STRtree | None = field(default=None, init=False)
    _kel_tree: STRtree | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        for area in self.areas:
            geom = shape(area.geometry)
            (self._kec if area.kind == "kecamatan" else self._kel).append((area, geom))
        if self._kec:
            self._kec_tree = STRtree([g for _, g in self._kec])
        if self._kel:
            self._kel_tree = STRtree([g for _, g in self._kel])

    @property
    def has_boundaries(self) -> bool:
        return bool(self._kec)

    @staticmethod
    def _hit(tree: STRtree | None, items: list[tuple[Area, BaseGeometry]], point: Point) -> Area | None:
        if tree is None:
            return None
        for i in tree.query(point, predicate="intersects"):
            return items[int(i)][0]
        return None

    def locate(self, lat: float, lon: float) -> Located:
        point = Point(lon, lat)
        kec = self._hit(self._kec_tree, self._kec, point)
        kel = self._hit(self._kel_tree, self._kel, point)
        return Located(
            kecamatan=kec.name if kec else None,
            kecamatan_code=kec.code if kec else None,
            kelurahan=kel.name if kel else None,
            kelurahan_code=kel.code if kel else None,
            inside=(kec is not None) or not self.has_boundaries,
        )

    def kecamatan(self) -> list[Area]:
        return sorted((a for a, _ in self._kec), key=lambda a: a.name)

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(min_lon, min_lat, max_lon, max_lat) of the city, or None without boundaries."""
        if not self._kec:
            return None
        xs, ys, xe, ye = zip(*(g.bounds for _, g in self._kec), strict=True)
        return min(xs), min(ys), max(xe), max(ye)


def feature_collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}
