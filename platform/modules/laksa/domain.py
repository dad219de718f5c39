"""Pure Laksa rules, no I/O: complaint states and transitions, hashtags and routing, SLA clocks,
what the public may see, and the defaults a new city starts with."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo

from kotalive.registry import normalise_hashtag

# ---- words ---------------------------------------------------------------------------------------

PRIORITIES = ("low", "normal", "high", "emergency")
PRIORITY_RANK = {"emergency": 0, "high": 1, "normal": 2, "low": 3}
CALENDARS = ("working", "always")  # office hours of the city, or 24/7
SOURCES = ("web", "api", "open311", "staff")

# submitted -> triage (no rule) | forwarded (rule) -> acknowledged -> in_progress -> resolved ->
# closed; "not our authority" sends it back to triage; duplicate ends it; the citizen may reopen.
STATES = (
    "submitted",
    "triage",
    "forwarded",
    "acknowledged",
    "in_progress",
    "reopened",
    "resolved",
    "closed",
    "duplicate",
)
OPEN_STATES = ("submitted", "triage", "forwarded", "acknowledged", "in_progress", "reopened")
AGENCY_STATES = ("forwarded", "acknowledged", "in_progress", "reopened")  # an agency holds it
DONE_STATES = ("resolved", "closed", "duplicate")
# Open311 knows open and closed only.
OPEN311_STATUS = {s: ("open" if s in OPEN_STATES else "closed") for s in STATES}

TIMELINE_KINDS = (
    "submitted",
    "routed",
    "triage",
    "forwarded",
    "acknowledged",
    "started",
    "resolved",
    "closed",
    "reopened",
    "returned",
    "duplicate",
    "transferred",
    "assigned",
    "note",
    "reply",
    "classified",
    "supported",
    "rated",
    "sla_at_risk",
    "sla_breached",
    "sla_escalated",
    "photo",
)


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    from_states: tuple[str, ...]
    to_state: str
    timeline_kind: str


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("forward", ("triage",), "forwarded", "forwarded"),
        Transition("acknowledge", ("forwarded", "reopened"), "acknowledged", "acknowledged"),
        Transition("start", ("forwarded", "reopened", "acknowledged"), "in_progress", "started"),
        Transition("resolve", AGENCY_STATES, "resolved", "resolved"),
        Transition("return", AGENCY_STATES, "triage", "returned"),  # "bukan wewenang"
        Transition("transfer", AGENCY_STATES, "forwarded", "transferred"),
        Transition("mark_duplicate", OPEN_STATES, "duplicate", "duplicate"),
        Transition("close", ("resolved",), "closed", "closed"),
        Transition("reopen", ("resolved", "closed"), "reopened", "reopened"),
    )
}


class LaksaError(Exception):
    """Base of what the Laksa services refuse; controllers and pages turn each into an answer."""


_INDEX = re.compile(r"\[[^\]]*\]")


class Problem:
    """One wrong field; its text is ``laksa.error.<field>.<code>`` (``photos[2]`` and
    ``attribute[size]`` use the texts of ``photos`` and ``attribute``). Keyword arguments (or a
    dict) fill the text: ``Problem("category", "unknown", code="x")``."""

    __slots__ = ("code", "field", "params")

    def __init__(self, field: str, code: str, params: dict[str, Any] | None = None, /, **more: Any) -> None:
        self.field = field
        self.code = code
        self.params: dict[str, Any] = {**(params or {}), **more}

    @property
    def key(self) -> str:
        return f"laksa.error.{_INDEX.sub('', self.field)}.{self.code}"

    def __repr__(self) -> str:
        return f"Problem({self.field!r}, {self.code!r}, {self.params!r})"


class InputErrors(LaksaError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(", ".join(f"{p.field}.{p.code}" for p in problems))
        self.problems = list(problems)


class InvalidTransition(LaksaError):
    """The complaint's state does not allow the action (HTTP 409 with the reason)."""

    def __init__(self, action: str, state: str, allowed_from: Sequence[str]) -> None:
        super().__init__(f"cannot {action} a complaint that is {state}")
        self.action = action
        self.state = state
        self.allowed_from = tuple(allowed_from)


class Conflict(LaksaError):
    """Something else is in the way (HTTP 409): ``code`` says what, ``params`` fill its text."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


class NotFound(LaksaError):
    """No such thing in this city, or not one the caller may see (never says which)."""

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"{what} {ident} not found")
        self.what = what
        self.ident = ident


class Forbidden(LaksaError):
    """The caller sees the complaint but may not do this to it (HTTP 403)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class RateLimited(LaksaError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def unstorable(text: str) -> bool:
    """True for text PostgreSQL cannot store: NUL characters, or lone surrogates (which no UTF-8
    can encode); such input is refused as invalid rather than failing the transaction."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def transition(action: str, state: str) -> Transition:
    t = TRANSITIONS[action]
    if state not in t.from_states:
        raise InvalidTransition(action, state, t.from_states)
    return t


# ---- hashtags and routing ------------------------------------------------------------------------

HASHTAG = re.compile(r"(?<![\w&])#([^\W][\w-]{0,63})", re.UNICODE)


def extract_hashtags(text: str) -> list[str]:
    """The normalised hashtags of a text, in order of first appearance: ``#Lampu_Mati`` and
    ``#lampu-mati`` and ``#lampumati`` are one tag; accents do not count (``#sampáh`` = ``#sampah``)."""
    seen: dict[str, None] = {}
    for match in HASHTAG.finditer(text or ""):
        tag = normalise_hashtag(match.group(1))
        if tag and not tag.isdigit():
            seen.setdefault(tag, None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class RuleView:
    """What routing needs of a hashtag rule (loaded by the service)."""

    id: int
    code: str
    hashtags: tuple[str, ...]
    agency_id: int
    agency_name: str
    agency_active: bool
    category_code: str | None
    priority: str
    sla_hours: int
    precedence: int
    copy_agency_ids: tuple[int, ...] = ()
    kecamatan_codes: tuple[str, ...] = ()

    @property
    def tags(self) -> frozenset[str]:
        return frozenset(normalise_hashtag(t) for t in self.hashtags)


@dataclass(frozen=True, slots=True)
class CategoryView:
    id: int
    code: str
    name: str
    agency_id: int | None
    agency_name: str | None
    agency_active: bool
    priority: str
    emergency: bool
    sensitive: bool


@dataclass(frozen=True, slots=True)
class Considered:
    """One rule looked at, and what came of it (``outcome`` is a text key suffix)."""

    rule_code: str
    outcome: str  # matched | no_tag | other_kecamatan | agency_inactive | outranked
    tags: tuple[str, ...] = ()
    precedence: int = 0


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a complaint goes and why."""

    via: str  # rule | category | triage
    agency_id: int | None
    copy_agency_ids: tuple[int, ...]
    rule_id: int | None
    rule_code: str | None
    category_code: str | None
    priority: str
    sla_hours: int | None
    emergency: bool
    matched_tags: tuple[str, ...]
    considered: tuple[Considered, ...]

    def explanation(self) -> dict[str, Any]:
        return {
            "via": self.via,
            "rule": self.rule_code,
            "matched_tags": list(self.matched_tags),
            "category": self.category_code,
            "considered": [
                {"rule": c.rule_code, "outcome": c.outcome, "tags": list(c.tags), "precedence": c.precedence}
                for c in self.considered
            ],
        }


def route(
    hashtags: Sequence[str],
    kecamatan_code: str | None,
    rules: Iterable[RuleView],
    category: CategoryView | None,
    categories_by_code: Mapping[str, CategoryView] | None = None,
) -> Routing:
    """Hashtag rules first (lowest precedence wins, then the lower id); then the category's own
    agency; else the Live Room's triage queue. A rule restricted to kecamatan applies only to
    complaints located there. A rule or category whose agency is switched off does not route."""
    tags = set(hashtags)
    considered: list[Considered] = []
    winner: RuleView | None = None
    for rule in sorted(rules, key=lambda r: (r.precedence, r.id)):
        hit = tuple(sorted(tags & rule.tags))
        if not hit:
            continue  # rules without a matching tag are not worth listing
        if rule.kecamatan_codes and (kecamatan_code or "") not in rule.kecamatan_codes:
            considered.append(Considered(rule.code, "other_kecamatan", hit, rule.precedence))
        elif not rule.agency_active:
            considered.append(Considered(rule.code, "agency_inactive", hit, rule.precedence))
        elif winner is not None:
            considered.append(Considered(rule.code, "outranked", hit, rule.precedence))
        else:
            winner = rule
            considered.append(Considered(rule.code, "matched", hit, rule.precedence))
    lookup = categories_by_code or {}
    if winner is not None:
        rule_category = lookup.get(winner.category_code or "") if winner.category_code else None
        effective = category or rule_category
        emergency = winner.priority == "emergency" or bool(effective and effective.emergency)
        return Routing(
            via="rule",
            agency_id=winner.agency_id,
            copy_agency_ids=tuple(a for a in winner.copy_agency_ids if a != winner.agency_id),
            rule_id=winner.id,
            rule_code=winner.code,
            category_code=(category.code if category else winner.category_code),
            priority="emergency" if emergency else winner.priority,
            sla_hours=winner.sla_hours,
            emergency=emergency,
            matched_tags=next(c.tags for c in considered if c.outcome == "matched"),
            considered=tuple(considered),
        )
    if category is not None and category.agency_id is not None and category.agency_active:
        return Routing(
            via="category",
            agency_id=category.agency_id,
            copy_agency_ids=(),
            rule_id=None,
            rule_code=None,
            category_code=category.code,
            priority="emergency" if category.emergency else category.priority,
            sla_hours=None,
            emergency=category.emergency,
            matched_tags=(),
            considered=tuple(considered),
        )
    emergency = bool(category and category.emergency)
    return Routing(
        via="triage",
        agency_id=None,
        copy_agency_ids=(),
        rule_id=None,
        rule_code=None,
        category_code=category.code if category else None,
        priority="emergency" if emergency else (category.priority if category else "normal"),
        sla_hours=None,
        emergency=emergency,
        matched_tags=(),
        considered=tuple(considered),
    )


# ---- SLA clocks ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Calendar:
    """The city's office hours (ISO weekday -> (opens, closes)) and holidays, in its time zone."""

    timezone: str
    hours: Mapping[int, tuple[dt.time, dt.time]]
    holidays: frozenset[dt.date] = frozenset()

    def day(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        span = self.hours.get(day.isoweekday())
        if span is None or day in self.holidays:
            return None
        tz = ZoneInfo(self.timezone)
        return dt.datetime.combine(day, span[0], tz), dt.datetime.combine(day, span[1], tz)


DEFAULT_WORKING_HOURS: dict[int, tuple[dt.time, dt.time]] = {
    d: (dt.time(8, 0), dt.time(16, 0)) for d in range(1, 6)
}


def add_working_time(start: dt.datetime, hours: float, calendar: Calendar) -> dt.datetime:
    """``start`` plus ``hours`` of office time: the clock runs only while offices are open."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if not calendar.hours:
        raise ValueError("the working calendar has no open day")
    remaining = dt.timedelta(hours=hours)
    tz = ZoneInfo(calendar.timezone)
    cursor = start.astimezone(tz)
    day = cursor.date()
    for _ in range(366 * 3):  # a calendar with open days reaches any SLA within three years
        span = calendar.day(day)
        if span is not None:
            opens, closes = span
            begin = max(cursor, opens)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(dt.UTC)
                remaining -= available
        day += dt.timedelta(days=1)
        cursor = dt.datetime.combine(day, dt.time(0, 0), tz)
    raise ValueError("the working calendar leaves no office time within three years")


def due_times(
    start: dt.datetime, hours: int, calendar_kind: str, calendar: Calendar, at_risk_percent: int
) -> tuple[dt.datetime, dt.datetime]:
    """(at risk from, due at) of an SLA of ``hours`` starting at ``start``."""
    share = at_risk_percent / 100
    if calendar_kind == "always":
        return start + dt.timedelta(hours=hours * share), start + dt.timedelta(hours=hours)
    return add_working_time(start, hours * share, calendar), add_working_time(start, hours, calendar)


def calendar_for(priority: str, emergency: bool, policy_calendar: str) -> str:
    """Emergencies run on the 24/7 clock whatever the policy says."""
    return "always" if emergency or priority == "emergency" else policy_calendar


def sla_status(
    now: dt.datetime,
    due_at: dt.datetime | None,
    at_risk_at: dt.datetime | None,
    resolved_at: dt.datetime | None,
) -> str:
    """none (no SLA yet) | ok | at_risk | breached (still open) | met | missed (resolved)."""
    if due_at is None:
        return "none"
    if resolved_at is not None:
        return "met" if resolved_at <= due_at else "missed"
    if now >= due_at:
        return "breached"
    if at_risk_at is not None and now >= at_risk_at:
        return "at_risk"
    return "ok"


# ---- what the public sees ------------------------------------------------------------------------

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_LONG_NUMBER = re.compile(r"(?<!\d)(\+?\d[\d .-]{6,}\d)(?!\d)")
SENSITIVE_CELL_DEGREES = 0.005  # ~550 m: where a sensitive complaint shows on the public map


def public_text(text: str) -> str:
    """The description without what identifies people: e-mail addresses and long numbers (phone,
    NIK, family card, plate digits) are masked."""
    masked = _EMAIL.sub("[email]", text or "")
    return _LONG_NUMBER.sub(lambda m: "•" * min(len(re.sub(r"\D", "", m.group(1))), 16), masked)


def public_name(name: str | None, anonymous: bool) -> str | None:
    """ "Siti Rahmawati" -> "Siti R."; nobody's name when they asked to be anonymous."""
    if anonymous or not name:
        return None
    parts = name.split()
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0]}."


# ---- what a new city starts with -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DefaultRule:
    code: str
    hashtags: tuple[str, ...]
    agency_code: str
    category_code: str
    priority: str
    sla_hours: int
    precedence: int


DEFAULT_RULES: tuple[DefaultRule, ...] = (
    DefaultRule("kebakaran", ("kebakaran", "api", "fire"), "damkar", "fire", "emergency", 1, 10),
    DefaultRule("sarang-tawon", ("tawon", "sarangtawon", "lebah"), "damkar", "wasp-nest", "emergency", 2, 20),
    DefaultRule("banjir", ("banjir", "flood", "genangan"), "bpbd", "flood", "emergency", 2, 30),
    DefaultRule("bencana", ("bencana", "longsor", "pohontumbang"), "bpbd", "disaster", "high", 4, 40),
    DefaultRule(
        "jalan-rusak", ("jalanrusak", "jalanberlubang", "infrastruktur"), "pupr", "road", "normal", 72, 100
    ),
    DefaultRule("drainase", ("drainase", "saluranmampet", "gorong"), "pupr", "drainage", "normal", 72, 110),
    DefaultRule("pju", ("pju", "lampujalan", "lampumati"), "pupr", "street-lamp", "normal", 48, 120),
    DefaultRule("sampah", ("sampah", "tps", "kebersihan"), "dlh", "rubbish", "normal", 48, 130),
    DefaultRule("macet", ("macet", "lalulintas", "parkirliar"), "dishub", "traffic", "high", 4, 140),
    DefaultRule(
        "ketertiban", ("pkl", "ketertiban", "premanisme"), "satpol-pp", "public-order", "normal", 48, 150
    ),
    DefaultRule("kesehatan", ("ambulans", "kesehatan", "dbd"), "dinkes", "health", "high", 24, 160),
    DefaultRule("sosial", ("odgj", "gelandangan", "anakjalanan"), "dinsos", "social", "normal", 72, 170),
)


@dataclass(frozen=True, slots=True)
class DefaultCategory:
    code: str
    name: str
    name_en: str
    group: str
    agency_code: str | None
    priority: str = "normal"
    emergency: bool = False
    sensitive: bool = False
    keywords: tuple[str, ...] = ()
    attributes: tuple[dict[str, Any], ...] = ()


def _attr(
    code: str,
    datatype: str,
    description: str,
    *,
    required: bool = False,
    order: int = 1,
    values: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    return {
        "code": code,
        "datatype": datatype,
        "description": description,
        "required": required,
        "order": order,
        "values": [{"key": k, "name": n} for k, n in values],
    }


DEFAULT_CATEGORIES: tuple[DefaultCategory, ...] = (
    DefaultCategory(
        "street-lamp",
        "Lampu jalan (PJU) mati atau rusak",
        "Street lamp out or broken",
        "Infrastruktur",
        "pupr",
        keywords=("lampu", "pju", "penerangan"),
        attributes=(_attr("pole_number", "string", "Nomor tiang lampu (jika terlihat)"),),
    ),
    DefaultCategory(
        "road",
        "Jalan rusak atau berlubang",
        "Damaged road or pothole",
        "Infrastruktur",
        "pupr",
        keywords=("jalan", "lubang", "aspal"),
        attributes=(
            _attr(
                "size",
                "singlevaluelist",
                "Seberapa besar kerusakannya?",
                required=True,
                values=(
                    ("small", "Kecil (kurang dari 1 m)"),
                    ("medium", "Sedang (1-3 m)"),
                    ("large", "Besar (lebih dari 3 m)"),
                ),
            ),
        ),
    ),
    DefaultCategory(
        "drainage",
        "Saluran air atau gorong-gorong tersumbat",
        "Blocked drain or culvert",
        "Infrastruktur",
        "pupr",
        keywords=("saluran", "got", "gorong"),
    ),
    DefaultCategory(
        "rubbish",
        "Sampah menumpuk atau TPS liar",
        "Rubbish piling up or illegal dumping",
        "Lingkungan",
        "dlh",
        keywords=("sampah", "tps"),
    ),
    DefaultCategory(
        "traffic",
        "Kemacetan, parkir liar, rambu rusak",
        "Traffic jam, illegal parking, broken sign",
        "Perhubungan",
        "dishub",
        priority="high",
        keywords=("macet", "parkir", "rambu"),
    ),
    DefaultCategory(
        "public-order",
        "Ketertiban umum",
        "Public order",
        "Ketertiban",
        "satpol-pp",
        keywords=("pkl", "ketertiban"),
    ),
    DefaultCategory(
        "fire",
        "Kebakaran",
        "Fire",
        "Darurat",
        "damkar",
        priority="emergency",
        emergency=True,
        keywords=("api", "kebakaran"),
    ),
    DefaultCategory(
        "wasp-nest",
        "Sarang tawon atau hewan berbahaya",
        "Wasp nest or dangerous animal",
        "Darurat",
        "damkar",
        priority="emergency",
        emergency=True,
        keywords=("tawon", "lebah", "ular"),
    ),
    DefaultCategory(
        "flood",
        "Banjir atau genangan",
        "Flood or standing water",
        "Darurat",
        "bpbd",
        priority="emergency",
        emergency=True,
        keywords=("banjir", "genangan"),
        attributes=(_attr("depth_cm", "number", "Perkiraan tinggi air (cm)"),),
    ),
    DefaultCategory(
        "disaster",
        "Bencana: longsor, pohon tumbang",
        "Disaster: landslide, fallen tree",
        "Darurat",
        "bpbd",
        priority="high",
        keywords=("longsor", "pohon"),
    ),
    DefaultCategory(
        "health",
        "Kesehatan (DBD, ambulans)",
        "Health (dengue, ambulance)",
        "Sosial",
        "dinkes",
        priority="high",
        sensitive=True,
        keywords=("dbd", "sakit"),
    ),
    DefaultCategory(
        "social",
        "Warga terlantar, ODGJ, anak jalanan",
        "People in need on the street",
        "Sosial",
        "dinsos",
        sensitive=True,
        keywords=("odgj", "gelandangan"),
    ),
    DefaultCategory(
        "other",
        "Lainnya",
        "Other",
        "Lainnya",
        None,
        keywords=(),
    ),
)

# Hours to act, by priority, when no rule gives them; emergencies always on the 24/7 clock.
DEFAULT_SLA: dict[str, tuple[int, str]] = {
    "emergency": (2, "always"),
    "high": (8, "working"),
    "normal": (72, "working"),
    "low": (120, "working"),
}
DEFAULT_AT_RISK_PERCENT = 75


# ---- per-city settings (``tenant_module.config`` of laksa) ----------------------------------------


@dataclass(frozen=True, slots=True)
class LaksaConfig:
    duplicate_radius_m: int = 50
    close_after_days: int = 7  # a resolved complaint the citizen did not confirm closes by itself
    reopen_within_days: int = 14  # after it was resolved
    max_photos: int = 5
    max_photo_bytes: int = 10 * 1024 * 1024
    max_photo_pixels: int = 40_000_000
    description_min: int = 10
    description_max: int = 4000
    submissions_per_hour: int = 10
    escalate_after_minutes: int = 60  # breached and still open this long: the Live Room is told
    digest_hour: int = 7  # when supervisors get their daily summary (the city's local time)
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> LaksaConfig:
        """The defaults with what the city set; values of the wrong type are ignored."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = (config or {}).get(f.name)
            default = f.default
            if value is not None and type(value) is type(default):
                values[f.name] = value
        return cls(**values)
