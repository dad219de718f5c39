"""Laksa's pure rules: hashtags, routing, the SLA clock, transitions, what the public may read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kotalive.modules.laksa.domain import (
    DEFAULT_WORKING_HOURS,
    STATES,
    TRANSITIONS,
    Calendar,
    CategoryView,
    InvalidTransition,
    LaksaConfig,
    Problem,
    RuleView,
    add_working_time,
    due_times,
    extract_hashtags,
    public_name,
    public_text,
    route,
    sla_status,
    transition,
)

WIB = ZoneInfo("Asia/Jakarta")
WIT = ZoneInfo("Asia/Jayapura")


def rule(id_: int, code: str, tags: tuple[str, ...], agency: int, *, precedence: int = 100, **kw) -> RuleView:
    return RuleView(
        id=id_,
        code=code,
        hashtags=tags,
        agency_id=agency,
        agency_name=f"agency {agency}",
        agency_active=kw.pop("active", True),
        category_code=kw.pop("category", None),
        priority=kw.pop("priority", "normal"),
        sla_hours=kw.pop("sla_hours", 48),
        precedence=precedence,
        copy_agency_ids=kw.pop("copies", ()),
        kecamatan_codes=kw.pop("kecamatan", ()),
    )


def category(code: str, agency: int | None, **kw) -> CategoryView:
    return CategoryView(
        id=kw.pop("id", 1),
        code=code,
        name=code,
        agency_id=agency,
        agency_name=None,
        agency_active=kw.pop("agency_active", True),
        priority=kw.pop("priority", "normal"),
        emergency=kw.pop("emergency", False),
        sensitive=False,
    )


# ---- hashtags ------------------------------------------------------------------------------------


def test_hashtags_ignore_case_accents_underscores_and_dashes() -> None:
    text = "Lampu #Lampu_Mati lagi, #lampu-mati! #LAMPUMATI #sampáh, harga #50 ribu, email a#b, &#39; #"
    assert extract_hashtags(text) == ["lampumati", "sampah"]


def test_a_hashtag_in_the_middle_of_a_word_is_not_one() -> None:
    assert extract_hashtags("C#sharp dan foo#bar") == []
    assert extract_hashtags("(#banjir) di RT 03") == ["banjir"]


# ---- routing -------------------------------------------------------------------------------------


RULES = [
    rule(1, "pju", ("pju", "lampumati"), 10, precedence=120, category="street-lamp", copies=(11, 10)),
    rule(2, "banjir", ("banjir", "genangan"), 20, precedence=30, priority="emergency", sla_hours=2),
    rule(3, "banjir-ciledug", ("banjir",), 21, precedence=5, kecamatan=("36.71.06",)),
    rule(4, "sampah", ("sampah",), 30, precedence=130, active=False),
]


def test_the_lowest_precedence_that_matches_wins_and_the_others_say_why() -> None:
    decision = route(["banjir", "lampumati"], "36.71.05", RULES, None)
    assert decision.via == "rule" and decision.rule_code == "banjir" and decision.agency_id == 20
    outcomes = {c.rule_code: c.outcome for c in decision.considered}
    assert outcomes == {"banjir-ciledug": "other_kecamatan", "banjir": "matched", "pju": "outranked"}
    assert decision.emergency and decision.priority == "emergency" and decision.sla_hours == 2


def test_a_rule_restricted_to_a_kecamatan_applies_there_first() -> None:
    decision = route(["banjir"], "36.71.06", RULES, None)
    assert decision.rule_code == "banjir-ciledug" and decision.agency_id == 21


def test_copies_never_include_the_primary_agency() -> None:
    decision = route(["pju"], None, RULES, None)
    assert decision.agency_id == 10 and decision.copy_agency_ids == (11,)
    assert decision.category_code == "street-lamp" and decision.matched_tags == ("pju",)


def test_a_rule_of_a_switched_off_agency_does_not_route() -> None:
    decision = route(["sampah"], None, RULES, None)
    assert decision.via == "triage"
    assert [(c.rule_code, c.outcome) for c in decision.considered] == [("sampah", "agency_inactive")]


def test_no_rule_routes_by_the_category_else_to_triage() -> None:
    assert route([], None, RULES, category("road", 40)).agency_id == 40
    assert route([], None, RULES, category("road", 40)).via == "category"
    assert route([], None, RULES, category("road", 40, agency_active=False)).via == "triage"
    untagged = route([], None, RULES, None)
    assert untagged.via == "triage" and untagged.agency_id is None and untagged.priority == "normal"


def test_an_emergency_category_is_flagged_even_in_triage() -> None:
    decision = route(["tolong"], None, RULES, category("fire", None, emergency=True, priority="emergency"))
    assert decision.via == "triage" and decision.emergency and decision.priority == "emergency"


# ---- the SLA clock -------------------------------------------------------------------------------

OFFICE = Calendar("Asia/Jakarta", DEFAULT_WORKING_HOURS, frozenset({dt.date(2026, 12, 25)}))


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = WIB) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=tz)


def test_office_time_skips_nights_weekends_and_holidays() -> None:
    # Friday 14:00 + 4 office hours = Monday 10:00
    assert add_working_time(at(2026, 12, 4, 14), 4, OFFICE) == at(2026, 12, 7, 10)
    # Thursday 24 December 15:00 + 2 h: 1 h on Thursday, Christmas closed, Saturday and Sunday closed
    assert add_working_time(at(2026, 12, 24, 15), 2, OFFICE) == at(2026, 12, 28, 9)
    # submitted at night: the clock starts at opening
    assert add_working_time(at(2026, 12, 1, 22), 1, OFFICE) == at(2026, 12, 2, 9)


def test_the_calendar_runs_in_the_citys_time_zone() -> None:
    jayapura = Calendar("Asia/Jayapura", DEFAULT_WORKING_HOURS)
    # 07:30 WIB is 09:30 WIT: the office in Jayapura is already open
    due = add_working_time(at(2026, 12, 1, 7, 30), 1, jayapura)
    assert due == at(2026, 12, 1, 10, 30, WIT)


def test_emergencies_run_on_the_24_7_clock() -> None:
    start = at(2026, 12, 5, 23)  # a Saturday night
    at_risk, due = due_times(start, 2, "always", OFFICE, 75)
    assert due == start + dt.timedelta(hours=2) and at_risk == start + dt.timedelta(minutes=90)


def test_sla_status() -> None:
    now = at(2026, 12, 1, 12)
    hour = dt.timedelta(hours=1)
    assert sla_status(now, None, None, None) == "none"
    assert sla_status(now, now + 2 * hour, now + hour, None) == "ok"
    assert sla_status(now, now + hour, now - hour, None) == "at_risk"
    assert sla_status(now, now - hour, now - 2 * hour, None) == "breached"
    assert sla_status(now, now, None, now - hour) == "met"
    assert sla_status(now, now - 2 * hour, None, now - hour) == "missed"


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(WIB)
    ),
    hours=st.floats(min_value=0.01, max_value=200),
)
def test_office_time_adds_exactly_the_open_hours(start: dt.datetime, hours: float) -> None:
    due = add_working_time(start, hours, OFFICE)
    assert due >= start
    counted = dt.timedelta()
    day = start.astimezone(WIB).date()
    while day <= due.astimezone(WIB).date():
        span = OFFICE.day(day)
        if span is not None:
            begin, end = max(span[0], start), min(span[1], due)
            if begin < end:
                counted += end - begin
        day += dt.timedelta(days=1)
    assert abs(counted - dt.timedelta(hours=hours)) < dt.timedelta(seconds=1)


# ---- transitions ---------------------------------------------------------------------------------


def test_every_transition_goes_between_known_states() -> None:
    for t in TRANSITIONS.values():
        assert set(t.from_states) <= set(STATES) and t.to_state in STATES


@pytest.mark.parametrize(
    ("action", "state"),
    [("acknowledge", "resolved"), ("resolve", "triage"), ("reopen", "duplicate"), ("close", "in_progress")],
)
def test_an_invalid_transition_says_what_would_be_needed(action: str, state: str) -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(action, state)
    assert info.value.state == state and info.value.allowed_from == TRANSITIONS[action].from_states


# ---- the public ----------------------------------------------------------------------------------


def test_the_public_text_hides_phone_numbers_nik_and_email() -> None:
    text = "Hubungi saya 0812-3456-7890 atau +62 812 3456 7890, NIK 3671054507900001, siti@mail.id. Jl. Melati 12"
    shown = public_text(text)
    for secret in ("0812", "3456", "3671054507900001", "siti@mail.id"):
        assert secret not in shown
    assert "Jl. Melati 12" in shown


def test_public_names() -> None:
    assert public_name("Siti Rahmawati", anonymous=False) == "Siti R."
    assert public_name("Siti Rahmawati", anonymous=True) is None
    assert public_name("Sukarno", anonymous=False) == "Sukarno"


def test_problems_and_config() -> None:
    assert Problem("attribute[size]", "required", name="x").key == "laksa.error.attribute.required"
    assert Problem("photos[3]", "type", {"n": 4}).params == {"n": 4}
    assert Problem("category", "unknown", code="x").params == {"code": "x"}
    cfg = LaksaConfig.of({"duplicate_radius_m": 80, "max_photos": "5", "submissions_per_hour": True})
    assert cfg.duplicate_radius_m == 80 and cfg.max_photos == 5 and cfg.submissions_per_hour == 10
