"""The 112 module's words and rules, free of the database: call states and dispositions, incident
types with their default question protocols, priorities, unit types and the unit status machine,
and the ETA estimate used by the nearest-unit recommendation.

A call moves offered -> answered -> (transferred) -> ended; telephony events may arrive in any order
and twice, so a call keeps each moment separately and its state is the furthest stage it reached.

A unit's status follows the dispatch cycle (Resgrid, NENA): available -> dispatched -> en_route ->
on_scene -> (transporting -> at_hospital) -> back_in_service -> available. ``back_in_service``
means returning to base: it may be dispatched again. ``out_of_service`` is entered and left only
from an idle status.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CALL_STAGES = ("offered", "answered", "transferred", "ended")
CALL_EVENT_TYPES = CALL_STAGES  # telephony webhook event types, one per stage
DISPOSITIONS = ("emergency", "non_emergency", "prank", "abandoned", "duplicate")

PRIORITIES = ("P1", "P2", "P3", "P4")
INCIDENT_STATES = ("open", "dispatched", "on_scene", "closed")
OPEN_INCIDENT_STATES = ("open", "dispatched", "on_scene")

LOCATION_SOURCES = ("gps", "wifi", "cell", "caller", "map", "unknown")
LOCATION_CHANNELS = ("aml_https", "aml_sms", "calltaker")

UNIT_TYPES = ("ambulance", "fire_engine", "police", "hearse", "dishub")
# Average road speed per unit type in km/h, for the ETA estimate (a city may change them).
DEFAULT_SPEED_KMH = {"ambulance": 40.0, "fire_engine": 35.0, "police": 45.0, "hearse": 30.0, "dishub": 35.0}
# Straight-line distance understates the road: the usual detour factor for city streets.
ROAD_FACTOR = 1.3

UNIT_STATUSES = (
    "available",
    "dispatched",
    "en_route",
    "on_scene",
    "transporting",
    "at_hospital",
    "back_in_service",
    "out_of_service",
)
DISPATCHABLE_STATUSES = ("available", "back_in_service")
# Statuses in which a unit is working an incident (its assignment is active).
BUSY_STATUSES = ("dispatched", "en_route", "on_scene", "transporting", "at_hospital")

UNIT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "available": ("dispatched", "out_of_service"),
    "dispatched": ("en_route", "on_scene", "available"),  # available: the dispatch was cancelled
    "en_route": ("on_scene", "available"),
    "on_scene": ("transporting", "back_in_service"),
    "transporting": ("at_hospital",),
    "at_hospital": ("back_in_service",),
    "back_in_service": ("available", "dispatched", "out_of_service"),
    "out_of_service": ("available",),
}


class InvalidTransition(ValueError):
    def __init__(self, current: str, wanted: str) -> None:
        allowed = ", ".join(UNIT_TRANSITIONS.get(current, ())) or "-"
        super().__init__(f"a unit that is {current} cannot become {wanted} (allowed: {allowed})")
        self.current = current
        self.wanted = wanted


def check_transition(current: str, wanted: str) -> None:
    if wanted not in UNIT_STATUSES:
        raise ValueError(f"unknown unit status {wanted!r}")
    if wanted not in UNIT_TRANSITIONS.get(current, ()):
        raise InvalidTransition(current, wanted)


def eta_seconds(distance_m: float, speed_kmh: float) -> int:
    """Driving time over the road for a straight-line distance at an average speed."""
    speed = max(speed_kmh, 1.0) / 3.6  # m/s
    return int(math.ceil(distance_m * ROAD_FACTOR / speed))


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    text_id: str
    text_en: str
    kind: str = "yes_no"  # yes_no | text | number | choice
    choices: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "text_id": self.text_id,
            "text_en": self.text_en,
            "kind": self.kind,
            "choices": list(self.choices),
        }


QUESTION_KINDS = ("yes_no", "text", "number", "choice")


@dataclass(frozen=True, slots=True)
class IncidentTypeDefault:
    code: str
    name_id: str
    name_en: str
    priority: str
    unit_types: tuple[str, ...]
    agency_code: str  # the catalogue agency (Agency.code) that answers it by default; "" none
    protocol: tuple[Question, ...]


_ALIVE = Question("conscious", "Apakah korban sadar?", "Is the patient conscious?")
_BREATH = Question("breathing", "Apakah korban bernapas?", "Is the patient breathing?")
_TRAPPED = Question("trapped", "Apakah ada orang terjebak?", "Is anyone trapped?")
_INJURED = Question("injured", "Berapa orang terluka?", "How many people are injured?", "number")

INCIDENT_TYPES: tuple[IncidentTypeDefault, ...] = (
    IncidentTypeDefault(
        "medical",
        "Kegawatan medis",
        "Medical emergency",
        "P1",
        ("ambulance",),
        "dinkes",
        (_ALIVE, _BREATH, Question("age", "Berapa usia korban?", "How old is the patient?", "number")),
    ),
    IncidentTypeDefault(
        "fire",
        "Kebakaran",
        "Fire",
        "P1",
        ("fire_engine", "ambulance"),
        "damkar",
        (
            _TRAPPED,
            Question(
                "building",
                "Apa yang terbakar?",
                "What is burning?",
                "choice",
                ("rumah", "gedung", "kendaraan", "lahan", "lainnya"),
            ),
            Question("spreading", "Apakah api menjalar?", "Is the fire spreading?"),
        ),
    ),
    IncidentTypeDefault(
        "crime",
        "Kejahatan",
        "Crime",
        "P2",
        ("police",),
        "polres",
        (
            Question("ongoing", "Apakah kejadian masih berlangsung?", "Is it still happening?"),
            Question("weapon", "Apakah pelaku bersenjata?", "Is the offender armed?"),
            _INJURED,
        ),
    ),
    IncidentTypeDefault(
        "traffic_accident",
        "Kecelakaan lalu lintas",
        "Traffic accident",
        "P2",
        ("ambulance", "police", "dishub"),
        "dishub",
        (
            _INJURED,
            _TRAPPED,
            Question("blocking", "Apakah jalan tertutup?", "Is the road blocked?"),
        ),
    ),
    IncidentTypeDefault(
        "disaster",
        "Bencana",
        "Disaster",
        "P1",
        ("fire_engine", "ambulance"),
        "bpbd",
        (
            Question(
                "kind",
                "Jenis bencana?",
                "What kind of disaster?",
                "choice",
                ("banjir", "longsor", "gempa", "angin", "lainnya"),
            ),
            Question("people", "Berapa orang terdampak?", "How many people are affected?", "number"),
        ),
    ),
    IncidentTypeDefault(
        "hearse",
        "Mobil jenazah",
        "Hearse",
        "P4",
        ("hearse",),
        "dinsos",
        (Question("place", "Jenazah berada di mana?", "Where is the deceased?", "text"),),
    ),
    IncidentTypeDefault(
        "public_order",
        "Ketertiban umum",
        "Public order",
        "P3",
        ("police",),
        "satpol-pp",
        (Question("crowd", "Berapa orang terlibat?", "How many people are involved?", "number"),),
    ),
    IncidentTypeDefault(
        "other",
        "Lainnya",
        "Other",
        "P3",
        (),
        "",
        (Question("what", "Apa yang terjadi?", "What happened?", "text"),),
    ),
)
INCIDENT_TYPE_CODES = tuple(t.code for t in INCIDENT_TYPES)
