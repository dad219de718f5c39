"""The NIK (Nomor Induk Kependudukan) by its rules: pure functions, no I/O.

16 digits: PP KK CC DDMMYY SSSS
- PP province, KK regency/city (Kemendagri codes, ``regions``), CC kecamatan (never 00);
- DDMMYY birth date, women's day plus 40 (41-71); a real calendar date, not in the future;
- SSSS serial, never 0000.

The birth year has two digits. The century is the one that puts the date in the past: YY up to this
year's is 20YY, above it 19YY. A date later this year under 20YY is a *future* birth date and is
refused; the one person that rule wrongs, someone born exactly 100 years ago later in the year than
today, still cannot be told apart from a typo by the number alone (SIAK decides in the end).

A NIK that passes can still be unknown to SIAK: these rules only refuse numbers that cannot be one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from kotalive.auth import regions

Sex = Literal["L", "P"]  # laki-laki, perempuan
# Separators people type between groups: spaces, dots, hyphens.
_SEPARATORS = re.compile(r"[\s.\-]")
_DIGITS = re.compile(r"[0-9]{16}", re.ASCII)

# What can be wrong, by part of the number (the codes are also the i18n keys' last part).
PARTS = ("format", "province", "regency", "district", "birth_date", "serial")


@dataclass(frozen=True, slots=True)
class NikProblem:
    part: str  # one of PARTS
    code: str  # e.g. "regency_unknown", "birth_date_future"
    field: str = "nik"


class InvalidNik(ValueError):
    def __init__(self, problems: list[NikProblem]) -> None:
        super().__init__("; ".join(f"{p.part}: {p.code}" for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Nik:
    value: str
    province: str  # "36"
    regency: str  # "3671"
    district: str  # "367105"
    birth_date: dt.date
    sex: Sex
    serial: str

    def __repr__(self) -> str:  # personal data: never the whole number in logs
        return f"Nik({self.value[:4]}********{self.value[-4:]})"


def normalise(raw: str) -> str:
    """The digits of what a person typed: ``3671 0145 0790 0001`` -> ``3671014507900001``."""
    return _SEPARATORS.sub("", raw or "")


def birth_date_of(ddmmyy: str, today: dt.date) -> tuple[dt.date | None, Sex | None, str | None]:
    """(date, sex, problem code) from the six birth digits of a NIK."""
    day, month, yy = int(ddmmyy[0:2]), int(ddmmyy[2:4]), int(ddmmyy[4:6])
    sex: Sex = "L"
    if day > 40:
        day -= 40
        sex = "P"
    if not 1 <= month <= 12:
        return None, None, "birth_month_invalid"
    if not 1 <= day <= 31:
        return None, None, "birth_day_invalid"
    year = 2000 + yy if yy <= today.year % 100 else 1900 + yy
    try:
        born = dt.date(year, month, day)
    except ValueError:  # 30 February, 31 April, 29 February of a common year
        return None, None, "birth_date_not_a_date"
    if born > today:
        return None, None, "birth_date_future"
    return born, sex, None


def parse_nik(raw: str, *, today: dt.date) -> Nik:
    """A checked NIK, or ``InvalidNik`` naming every part that is wrong."""
    value = normalise(raw)
    if not _DIGITS.fullmatch(value):
        code = "required" if not value else "not_16_digits"
        raise InvalidNik([NikProblem("format", code)])
    problems: list[NikProblem] = []
    province, regency, district = value[:2], value[:4], value[:6]
    if not regions.is_province(province):
        problems.append(NikProblem("province", "province_unknown"))
    elif not regions.is_regency(regency):
        problems.append(NikProblem("regency", "regency_unknown"))
    if value[4:6] == "00":
        problems.append(NikProblem("district", "district_zero"))
    born, sex, date_problem = birth_date_of(value[6:12], today)
    if date_problem:
        problems.append(NikProblem("birth_date", date_problem))
    serial = value[12:]
    if serial == "0000":
        problems.append(NikProblem("serial", "serial_zero"))
    if problems:
        raise InvalidNik(problems)
    assert born is not None and sex is not None
    return Nik(value, province, regency, district, born, sex, serial)


def is_valid_nik(raw: str, *, today: dt.date) -> bool:
    try:
        parse_nik(raw, today=today)
    except InvalidNik:
        return False
    return True


def looks_like_nik(raw: str) -> bool:
    """16 digits (after separators): what a login form takes for a NIK rather than a phone number."""
    return bool(_DIGITS.fullmatch(normalise(raw)))
