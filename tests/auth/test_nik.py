"""NIK rules (pure) and the Kemendagri region codes they check against."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kotalive.auth import regions
from kotalive.auth.nik import InvalidNik, looks_like_nik, normalise, parse_nik

TODAY = dt.date(2026, 5, 1)


def nik_of(regency: str, born: dt.date, sex: str, *, district: str = "01", serial: str = "0001") -> str:
    day = born.day + (40 if sex == "P" else 0)
    return f"{regency}{district}{day:02d}{born.month:02d}{born.year % 100:02d}{serial}"


def problems(raw: str, today: dt.date = TODAY) -> list[tuple[str, str]]:
    with pytest.raises(InvalidNik) as info:
        parse_nik(raw, today=today)
    return [(p.part, p.code) for p in info.value.problems]


# ---- regions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("3671", "Kota Tangerang"),
        ("3275", "Kota Bekasi"),
        ("3603", "Kabupaten Tangerang"),
        ("7201", "Kabupaten Banggai"),
        ("1607", "Kabupaten Banyuasin"),
        ("3215", "Kabupaten Karawang"),
        ("13", "Sumatera Barat"),
        ("36", "Banten"),
    ],
)
def test_known_region_codes(code: str, name: str) -> None:
    assert regions.region_name(code) == name


def test_all_38_provinces_and_514_regencies() -> None:
    t = regions.table()
    assert len(t.provinces) == 38
    assert len(t.regencies) == 514
    assert all(code[:2] in t.provinces for code in t.regencies)


def test_former_codes_are_the_gaps_the_province_splits_left() -> None:
    t = regions.table()
    for code, former in regions.FORMER_REGENCIES.items():
        assert code not in t.regencies, f"{code} is in use today"
        assert former.now_in in t.provinces
        assert regions.is_regency(code)
    # Each new province received exactly as many regencies as the old one lost codes.
    for new in ("65", "93", "94", "95", "96"):
        moved = [f for f in regions.FORMER_REGENCIES.values() if f.now_in == new]
        today = [c for c in t.regencies if c.startswith(new)]
        assert len(moved) == len(today), new


def test_residency_of_city_and_province_tenants() -> None:
    assert regions.lives_in("3671", "3671")
    assert not regions.lives_in("3603", "3671")
    assert regions.lives_in("1371", "13")  # Kota Padang in a Sumatera Barat tenant
    assert not regions.lives_in("1671", "13")


# ---- NIK: every part -----------------------------------------------------------------------------


def test_a_valid_nik_reads_back_its_parts() -> None:
    nik = parse_nik("3671 0145 0790 0001", today=TODAY)
    assert (nik.province, nik.regency, nik.district) == ("36", "3671", "367101")
    assert nik.birth_date == dt.date(1990, 7, 5) and nik.sex == "P"
    assert nik.serial == "0001"
    assert "45079" not in repr(nik)  # the birth date stays out of logs


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", [("format", "required")]),
        ("367101450790000", [("format", "not_16_digits")]),
        ("36710145079000011", [("format", "not_16_digits")]),
        ("3671O14507900001", [("format", "not_16_digits")]),  # letter O
        ("٣٦٧١٠١٤٥٠٧٩٠٠٠٠١", [("format", "not_16_digits")]),  # Arabic-Indic digits
        ("9971014507900001", [("province", "province_unknown")]),
        ("3699014507900001", [("regency", "regency_unknown")]),
        ("1499014507900001", [("regency", "regency_unknown")]),
        ("3671004507900001", [("district", "district_zero")]),
        ("3671010007900001", [("birth_date", "birth_day_invalid")]),
        ("3671013507900001", [("birth_date", "birth_day_invalid")]),  # 32-40: neither men nor women
        ("3671017207900001", [("birth_date", "birth_day_invalid")]),  # 72: women's 32
        ("3671010113900001", [("birth_date", "birth_month_invalid")]),
        ("3671013002900001", [("birth_date", "birth_date_not_a_date")]),  # 30 February
        ("3671017002900001", [("birth_date", "birth_date_not_a_date")]),  # a woman's 30 February
        ("3671013104900001", [("birth_date", "birth_date_not_a_date")]),  # 31 April
        ("3671012902010001", [("birth_date", "birth_date_not_a_date")]),  # 2001 is not a leap year
        ("3671013112260001", [("birth_date", "birth_date_future")]),  # 31 Dec 2026, today is May
        ("3671010101900000", [("serial", "serial_zero")]),
        ("9900003002900000", [("province", "province_unknown"), ("district", "district_zero"),
                              ("birth_date", "birth_date_not_a_date"), ("serial", "serial_zero")]),
    ],
)  # fmt: skip
def test_each_wrong_part_is_named(raw: str, expected: list[tuple[str, str]]) -> None:
    assert problems(raw) == expected


def test_women_add_40_to_the_day() -> None:
    man = parse_nik("3671010507900001", today=TODAY)
    woman = parse_nik("3671014507900001", today=TODAY)
    assert man.birth_date == woman.birth_date == dt.date(1990, 7, 5)
    assert (man.sex, woman.sex) == ("L", "P")
    assert parse_nik("3671017107900001", today=TODAY).birth_date == dt.date(1990, 7, 31)


def test_leap_days() -> None:
    assert parse_nik("3671012902000001", today=TODAY).birth_date == dt.date(2000, 2, 29)
    assert parse_nik("3671016902880001", today=TODAY).birth_date == dt.date(1988, 2, 29)


def test_century_and_today() -> None:
    assert parse_nik("3671010105260001", today=TODAY).birth_date == dt.date(2026, 5, 1)  # born today
    assert problems("3671010205260001") == [("birth_date", "birth_date_future")]
    assert parse_nik("3671010101270001", today=TODAY).birth_date == dt.date(1927, 1, 1)
    assert parse_nik("3671010101000001", today=TODAY).birth_date == dt.date(2000, 1, 1)


def test_a_nik_issued_before_a_province_split_is_accepted() -> None:
    # Merauke was 9101 in Papua before 2022 (9301 in Papua Selatan today); Tarakan was in Kaltim.
    assert parse_nik("9101010101900001", today=TODAY).regency == "9101"
    assert parse_nik("6473010101900001", today=TODAY).regency == "6473"
    assert parse_nik("9301010101900001", today=TODAY).regency == "9301"


def test_separators_are_ignored_and_only_ascii_digits_count() -> None:
    assert normalise(" 3671.0145-0790 0001 ") == "3671014507900001"
    assert looks_like_nik("3671 0145 0790 0001")
    assert not looks_like_nik("081234567890")


# ---- properties -----------------------------------------------------------------------------------

regency_codes = st.sampled_from(sorted(regions.table().regencies))
past_dates = st.dates(min_value=dt.date(TODAY.year - 99, 1, 1), max_value=TODAY)


@given(
    regency=regency_codes,
    born=past_dates,
    sex=st.sampled_from(["L", "P"]),
    district=st.integers(1, 99),
    serial=st.integers(1, 9999),
)
def test_every_nik_built_by_the_rules_parses_back(regency, born, sex, district, serial) -> None:
    raw = nik_of(regency, born, sex, district=f"{district:02d}", serial=f"{serial:04d}")
    nik = parse_nik(raw, today=TODAY)
    assert (nik.regency, nik.birth_date, nik.sex) == (regency, born, sex)
    assert nik.value == raw


@given(
    regency=regency_codes,
    born=st.dates(min_value=dt.date(2000, 1, 2), max_value=TODAY),
    sex=st.sampled_from(["L", "P"]),
)
def test_a_birth_date_later_this_year_is_in_the_future(regency, born, sex) -> None:
    today = born - dt.timedelta(days=1)
    assume(today.year == born.year)
    assert problems(nik_of(regency, born, sex), today=today) == [("birth_date", "birth_date_future")]


@given(st.text(max_size=40))
def test_anything_that_is_not_16_digits_is_a_format_error(raw: str) -> None:
    assume(not looks_like_nik(raw))
    assert problems(raw)[0][0] == "format"


@given(st.from_regex(r"\A[0-9]{16}\Z"))
def test_any_16_digits_either_parse_or_name_their_wrong_parts(raw: str) -> None:
    try:
        nik = parse_nik(raw, today=TODAY)
    except InvalidNik as exc:
        assert exc.problems and all(p.part in ("province", "regency", "district", "birth_date", "serial")
                                    for p in exc.problems)  # fmt: skip
    else:
        assert regions.is_regency(nik.regency) and nik.birth_date <= TODAY and nik.serial != "0000"
