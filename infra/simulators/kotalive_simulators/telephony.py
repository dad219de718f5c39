"""Telephony simulator: plays emergency calls into a city's 112 webhooks over real HTTP.

A *script* is a list of calls, each with its caller number, the delays of its stages (offered ->
answered -> transferred -> ended) and its Advanced Mobile Location messages (position, accuracy,
source, sent before or after the offer, over HTTPS or as the SMS form, or malformed on purpose).
It comes from a JSON or YAML file (``load_script``), or is drawn at random (``random_script``:
Poisson arrivals at a rate, positions inside a bounding box). ``play`` sends it:

- call events to ``POST /hotline112/telephony/events`` as JSON, signed with the city's telephony
  webhook secret (``X-Kotalive-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``);
- AML messages to ``POST /hotline112/aml`` (``application/x-www-form-urlencoded``, with ``hmac``
  when the city keeps an AML key) or the SMS form to ``POST /hotline112/aml/sms``.

Event times (``at``) are the moments the events are due by the script's clock; ``speed`` runs that
clock faster (a 10 s ring at speed 10 is sent 1 s after the offer, stamped 1 s later), so no event
is ever stamped in the future. Each request is timed; the ``Summary`` counts what was sent,
accepted, recognised as a duplicate, refused as expected (the malformed ones) and failed, with the
latencies per kind, and lists the calls and locations the city should now hold.

    script = load_script("calls.yaml")
    summary = await play(script, Target("http://tangerang.localhost:8000", secret="..."))
    print(summary.text())

Development and test tooling only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

EVENTS_PATH = "/hotline112/telephony/events"
AML_PATH = "/hotline112/aml"
AML_SMS_PATH = "/hotline112/aml/sms"
SIGNATURE_HEADER = "X-Kotalive-Signature"

AML_SOURCES = ("gps", "wifi", "cell")
AML_CHANNELS = ("https", "sms")
AML_SPELLINGS = ("confidence", "certainty")  # location_confidence, or the older location_certainty
# Broken on purpose: the city must answer 2xx, store nothing as a location and keep the message.
AML_MALFORMED = ("truncated", "garbage", "missing_lat", "out_of_range", "bad_hmac", "empty")
# Broken call events: refused (401 for the signature, 422 for the fields), nothing stored.
EVENT_MALFORMED = ("bad_signature", "missing_call_id", "bad_type", "bad_time", "bad_caller")
SMS_POSITIONING = {"gps": "G", "wifi": "W", "cell": "C"}

# The demo cities' telephony webhook secrets (development only; `make run` configures them).
DEMO_CITIES = ("tangerang", "bekasi")


def demo_webhook_secret(city: str) -> str:
    return f"telephony-{city}-dev-secret"


def demo_aml_key(city: str) -> str:
    return f"aml-{city}-dev-key"


# Rough bounding boxes (south, west, north, east) of the demo cities, for random streams.
DEMO_BBOX: dict[str, tuple[float, float, float, float]] = {
    "tangerang": (-6.245, 106.585, -6.125, 106.735),
    "bekasi": (-6.370, 106.910, -6.195, 107.035),
}


class ScriptError(ValueError):
    """A script that cannot be played: ``field`` names what is wrong (``calls[2].aml[0].lat``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# ---- the script ----------------------------------------------------------------------------------


@dataclass(slots=True)
class AmlPlan:
    """One AML message of a call. ``after_s`` counts from the offer (negative: sent before it)."""

    lat: float
    lon: float
    accuracy_m: float = 20.0
    source: str = "gps"
    confidence: int = 68
    after_s: float = 1.0
    channel: str = "https"
    spelling: str = "confidence"
    malformed: str | None = None

    @property
    def valid(self) -> bool:
        return self.malformed is None


@dataclass(slots=True)
class CallPlan:
    """One call. ``answer_after_s`` None: never answered (abandoned); ``end_after_s`` counts from
    the answer (or from the offer when unanswered), None: the call stays up."""

    call_id: str
    caller: str
    start_s: float = 0.0
    line: str = "112-1"
    answer_after_s: float | None = 3.0
    agent: str = "ext-101"
    transfer_after_s: float | None = None
    transfer_to: str | None = None
    end_after_s: float | None = 30.0
    end_reason: str | None = None
    aml: list[AmlPlan] = field(default_factory=list)
    replay: bool = False  # every event and AML sent twice (the second must be a duplicate)
    out_of_order: bool = False  # the call's events arrive together, latest first, at the last one's time
    malformed: str | None = None  # one of EVENT_MALFORMED: every event of the call is refused

    @property
    def valid(self) -> bool:
        return self.malformed is None


@dataclass(slots=True)
class Script:
    calls: list[CallPlan]
    name: str = "script"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "calls": [asdict(c) for c in self.calls]}


def _number(data: dict[str, Any], key: str, where: str, default: Any, *, allow_none: bool = False) -> Any:
    value = data.get(key, default)
    if value is None:
        if allow_none:
            return None
        raise ScriptError(f"{where}.{key}", "is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScriptError(f"{where}.{key}", f"must be a number, not {value!r}")
    return float(value)


def _choice(data: dict[str, Any], key: str, where: str, default: Any, choices: Sequence[str]) -> Any:
    value = data.get(key, default)
    if value is None and default is None:
        return None
    if value not in choices:
        raise ScriptError(f"{where}.{key}", f"must be one of {', '.join(choices)}, not {value!r}")
    return value


def _aml_from(data: Any, where: str) -> AmlPlan:
    if not isinstance(data, dict):
        raise ScriptError(where, "must be an object")
    unknown = set(data) - {f.name for f in fields(AmlPlan)}
    if unknown:
        raise ScriptError(f"{where}.{sorted(unknown)[0]}", "is not a field of an AML message")
    malformed = _choice(data, "malformed", where, None, AML_MALFORMED)
    lat = _number(data, "lat", where, None)
    lon = _number(data, "lon", where, None)
    if malformed != "out_of_range" and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ScriptError(f"{where}.lat", "lat/lon out of range (use malformed: out_of_range to send that)")
    accuracy = _number(data, "accuracy_m", where, 20.0)
    if accuracy <= 0:
        raise ScriptError(f"{where}.accuracy_m", "must be more than 0")
    confidence = _number(data, "confidence", where, 68)
    if not 0 <= confidence <= 100:
        raise ScriptError(f"{where}.confidence", "must be 0-100 (percent)")
    return AmlPlan(
        lat=lat,
        lon=lon,
        accuracy_m=accuracy,
        source=_choice(data, "source", where, "gps", AML_SOURCES),
        confidence=int(confidence),
        after_s=_number(data, "after_s", where, 1.0),
        channel=_choice(data, "channel", where, "https", AML_CHANNELS),
        spelling=_choice(data, "spelling", where, "confidence", AML_SPELLINGS),
        malformed=malformed,
    )


def _call_from(data: Any, where: str) -> CallPlan:
    if not isinstance(data, dict):
        raise ScriptError(where, "must be an object")
    unknown = set(data) - {f.name for f in fields(CallPlan)}
    if unknown:
        raise ScriptError(f"{where}.{sorted(unknown)[0]}", "is not a field of a call")
    call_id = data.get("call_id")
    if not isinstance(call_id, str) or not call_id.strip() or len(call_id) > 100:
        raise ScriptError(f"{where}.call_id", "a text of 1-100 characters is required")
    caller = data.get("caller")
    if not isinstance(caller, str) or not caller.strip():
        raise ScriptError(f"{where}.caller", "the caller's number is required")
    aml_raw = data.get("aml", [])
    aml_list = [aml_raw] if isinstance(aml_raw, dict) else aml_raw
    if not isinstance(aml_list, list):
        raise ScriptError(f"{where}.aml", "must be an object or a list of objects")
    delays = {}
    for key, default in (("answer_after_s", 3.0), ("transfer_after_s", None), ("end_after_s", 30.0)):
        delays[key] = _number(data, key, where, default, allow_none=True)
        if delays[key] is not None and delays[key] < 0:
            raise ScriptError(f"{where}.{key}", "must not be negative")
    if delays["transfer_after_s"] is not None and delays["answer_after_s"] is None:
        raise ScriptError(f"{where}.transfer_after_s", "an unanswered call cannot be transferred")
    start = _number(data, "start_s", where, 0.0)
    if start < 0:
        raise ScriptError(f"{where}.start_s", "must not be negative")
    return CallPlan(
        call_id=call_id.strip(),
        caller=caller.strip(),
        start_s=start,
        line=str(data.get("line", "112-1")),
        answer_after_s=delays["answer_after_s"],
        agent=str(data.get("agent", "ext-101")),
        transfer_after_s=delays["transfer_after_s"],
        transfer_to=(str(data["transfer_to"]) if data.get("transfer_to") is not None else None),
        end_after_s=delays["end_after_s"],
        end_reason=(str(data["end_reason"]) if data.get("end_reason") is not None else None),
        aml=[_aml_from(a, f"{where}.aml[{i}]") for i, a in enumerate(aml_list)],
        replay=bool(data.get("replay", False)),
        out_of_order=bool(data.get("out_of_order", False)),
        malformed=_choice(data, "malformed", where, None, EVENT_MALFORMED),
    )


def script_from_dict(data: Any, name: str = "script") -> Script:
    """A script from its JSON/YAML shape: ``{"name": ..., "calls": [{call_id, caller, ...}]}`` (or
    the list of calls alone). Raises ScriptError naming the field."""
    if isinstance(data, list):
        data = {"calls": data}
    if not isinstance(data, dict):
        raise ScriptError("script", "must be an object with `calls`, or a list of calls")
    calls = data.get("calls")
    if not isinstance(calls, list) or not calls:
        raise ScriptError("calls", "a non-empty list of calls is required")
    plans = [_call_from(c, f"calls[{i}]") for i, c in enumerate(calls)]
    seen: set[str] = set()
    for i, plan in enumerate(plans):
        if plan.call_id in seen:
            raise ScriptError(f"calls[{i}].call_id", f"{plan.call_id!r} is used twice")
        seen.add(plan.call_id)
    return Script(plans, str(data.get("name") or name))


def load_script(path: str | Path) -> Script:
    """A script file: JSON, or YAML (``.yaml``/``.yml``)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScriptError(str(p), f"not valid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ScriptError(str(p), f"not valid JSON: {exc}") from exc
    return script_from_dict(data, name=p.stem)


def random_number(rng: random.Random) -> str:
    """An Indonesian mobile number (+62 8xx, 10-11 digits after the 8's prefix)."""
    return f"+628{rng.choice('1235789')}{rng.randrange(10**8, 10**9)}"


def random_script(
    *,
    rate: float,
    duration_s: float,
    bbox: tuple[float, float, float, float],
    seed: int | None = None,
    aml_share: float = 1.0,
    sms_share: float = 0.0,
    early_aml_share: float = 0.1,
    malformed_aml_share: float = 0.0,
    answer_s: tuple[float, float] = (2.0, 8.0),
    talk_s: tuple[float, float] = (20.0, 90.0),
    abandon_share: float = 0.05,
    prefix: str = "sim",
) -> Script:
    """Poisson arrivals at ``rate`` calls/s for ``duration_s`` seconds, each caller somewhere in
    ``bbox`` (south, west, north, east) with an AML (``aml_share`` of the calls): ``early_aml_share``
    of them before the offer, ``sms_share`` as SMS, ``malformed_aml_share`` broken."""
    if rate <= 0 or duration_s <= 0:
        raise ScriptError("rate", "rate and duration must be more than 0")
    south, west, north, east = bbox
    if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
        raise ScriptError("bbox", "must be south,west,north,east with south < north and west < east")
    rng = random.Random(seed)
    calls: list[CallPlan] = []
    t = rng.expovariate(rate)
    while t < duration_s:
        n = len(calls) + 1
        abandoned = rng.random() < abandon_share
        amls: list[AmlPlan] = []
        if rng.random() < aml_share:
            source = rng.choices(AML_SOURCES, weights=(70, 20, 10))[0]
            accuracy = {
                "gps": rng.uniform(5, 40),
                "wifi": rng.uniform(20, 80),
                "cell": rng.uniform(200, 1500),
            }
            amls.append(
                AmlPlan(
                    lat=round(rng.uniform(south, north), 6),
                    lon=round(rng.uniform(west, east), 6),
                    accuracy_m=round(accuracy[source], 1),
                    source=source,
                    confidence=68,
                    after_s=round(
                        -rng.uniform(0.2, 1.0) if rng.random() < early_aml_share else rng.uniform(0.5, 4.0), 2
                    ),
                    channel="sms" if rng.random() < sms_share else "https",
                    spelling="certainty" if rng.random() < 0.2 else "confidence",
                    malformed=rng.choice(AML_MALFORMED[:4]) if rng.random() < malformed_aml_share else None,
                )
            )
        calls.append(
            CallPlan(
                call_id=f"{prefix}-{n:06d}",
                caller=random_number(rng),
                start_s=round(t, 3),
                line=f"112-{rng.randint(1, 4)}",
                answer_after_s=None if abandoned else round(rng.uniform(*answer_s), 2),
                agent=f"ext-{rng.randint(101, 108)}",
                end_after_s=round(rng.uniform(*talk_s) if not abandoned else rng.uniform(3, 15), 2),
                end_reason="caller_hung_up" if abandoned else None,
                aml=amls,
            )
        )
        t += rng.expovariate(rate)
    return Script(calls, f"random-{rate:g}cps-{duration_s:g}s")


def demo_script(city: str, *, tag: str = "demo") -> Script:
    """The short stream `make run` plays: four calls around the city, three with AML (one of them
    before its call, one as SMS), one abandoned, one transferred; and one malformed AML."""
    south, west, north, east = DEMO_BBOX.get(city, DEMO_BBOX["tangerang"])
    lat_c, lon_c = (south + north) / 2, (west + east) / 2
    calls = [
        CallPlan(
            call_id=f"{tag}-{city}-1",
            caller="+6281277700101",
            start_s=0.0,
            answer_after_s=4.0,
            agent="ext-101",
            end_after_s=None,
            aml=[AmlPlan(lat_c + 0.004, lon_c - 0.006, accuracy_m=12.0, source="gps", after_s=1.5)],
        ),
        CallPlan(
            call_id=f"{tag}-{city}-2",
            caller="+6281377700202",
            start_s=6.0,
            answer_after_s=7.0,
            agent="ext-102",
            end_after_s=45.0,
            aml=[
                AmlPlan(lat_c - 0.012, lon_c + 0.015, accuracy_m=35.0, source="wifi", after_s=-0.8),
                AmlPlan(
                    lat_c - 0.0121, lon_c + 0.0152, accuracy_m=15.0, source="gps", after_s=6.0, channel="sms"
                ),
            ],
        ),
        CallPlan(
            call_id=f"{tag}-{city}-3",
            caller="+6285777700303",
            start_s=12.0,
            answer_after_s=None,
            end_after_s=9.0,
            end_reason="caller_hung_up",
            aml=[AmlPlan(lat_c + 0.02, lon_c + 0.01, malformed="truncated", after_s=1.0)],
        ),
        CallPlan(
            call_id=f"{tag}-{city}-4",
            caller="+6281277700404",
            start_s=18.0,
            answer_after_s=3.0,
            agent="ext-101",
            transfer_after_s=20.0,
            transfer_to="119",
            end_after_s=60.0,
            aml=[
                AmlPlan(lat_c + 0.009, lon_c + 0.022, accuracy_m=900.0, source="cell", spelling="certainty")
            ],
        ),
    ]
    return Script(calls, f"demo-{city}")


# ---- what goes on the wire -----------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def aml_time(moment: dt.datetime) -> str:
    """AML's timestamp: UTC, yyyyMMddHHmmss."""
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")


def aml_fields(aml: AmlPlan, caller: str, sent: dt.datetime) -> list[tuple[str, str]]:
    """The AML HTTPS form fields (EENA/ETSI TS 103 625 names), in the handsets' order."""
    located = sent - dt.timedelta(seconds=2)
    lat = 123.456 if aml.malformed == "out_of_range" else aml.lat
    form = [
        ("v", "1"),
        ("emergency_number", "112"),
        ("source", "AML"),
        ("time", aml_time(sent)),
        ("location_latitude", f"{lat:.6f}"),
        ("location_longitude", f"{aml.lon:.6f}"),
        ("location_time", aml_time(located)),
        ("location_accuracy", f"{aml.accuracy_m:.1f}"),
        ("location_source", aml.source),
        (f"location_{aml.spelling}", str(aml.confidence)),
        ("device_number", caller),
        ("device_model", "SimPhone 112"),
        ("device_imei", "356938035643809"),
        ("device_imsi", "510101234567890"),
        ("cell_home_mcc", "510"),
        ("cell_home_mnc", "10"),
        ("cell_network_mcc", "510"),
        ("cell_network_mnc", "10"),
    ]
    if aml.malformed == "missing_lat":
        form = [f for f in form if f[0] != "location_latitude"]
    return form


def aml_body(aml: AmlPlan, caller: str, sent: dt.datetime, hmac_key: str | None) -> bytes:
    """The raw form body; with ``hmac_key`` the ``hmac`` field (hex HMAC-SHA256 of the body
    without it) comes last. Malformed ones are broken after signing, as a line fault would."""
    if aml.malformed == "empty":
        return b""
    if aml.malformed == "garbage":
        return b"\x00\xff<xml>not an AML message</xml>\r\n%%%"
    body = urlencode(aml_fields(aml, caller, sent))
    if hmac_key is not None or aml.malformed == "bad_hmac":
        key = (hmac_key or "") + ("-wrong" if aml.malformed == "bad_hmac" else "")
        digest = hmac.new(key.encode(), body.encode(), hashlib.sha256).hexdigest()
        body += f"&hmac={digest}"
    raw = body.encode()
    if aml.malformed == "truncated":
        raw = raw[: len(raw) // 3]
    return raw


def aml_sms_text(aml: AmlPlan, sent: dt.datetime) -> str:
    """The SMS form of AML: ``A"ML=1;lt=...;lg=...;rd=...;top=...;lc=...;pm=...;si=...;ei=...;
    mcc=...;mnc=...;ml=<length of the whole text>``."""
    lat = 123.456 if aml.malformed == "out_of_range" else aml.lat
    parts = [
        'A"ML=1',
        f"lt={lat:+.5f}",
        f"lg={aml.lon:+.5f}",
        f"rd={round(aml.accuracy_m)}",
        f"top={aml_time(sent - dt.timedelta(seconds=2))}",
        f"lc={aml.confidence}",
        f"pm={SMS_POSITIONING[aml.source]}",
        "si=510101234567890",
        "ei=356938035643809",
        "mcc=510",
        "mnc=10",
    ]
    if aml.malformed == "missing_lat":
        parts = [p for p in parts if not p.startswith("lt=")]
    head = ";".join(parts) + ";ml="
    length = len(head) + 3
    text = f"{head}{length:03d}"
    if aml.malformed == "truncated":
        text = text[: len(text) // 3]
    elif aml.malformed in ("garbage", "empty"):
        text = "" if aml.malformed == "empty" else "HALO PAK INI BUKAN AML"
    return text


def event_payload(plan: CallPlan, kind: str, at: dt.datetime, call_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event_id": f"{call_id}:{kind}",
        "type": kind,
        "call_id": call_id,
        "caller": plan.caller,
        "line": plan.line,
        "at": at.isoformat(timespec="milliseconds"),
    }
    if kind == "answered":
        payload["agent"] = plan.agent
    elif kind == "transferred":
        payload["to"] = plan.transfer_to or "119"
    elif kind == "ended" and plan.end_reason:
        payload["reason"] = plan.end_reason
    if plan.malformed == "missing_call_id":
        del payload["call_id"]
    elif plan.malformed == "bad_type":
        payload["type"] = "exploded"
    elif plan.malformed == "bad_time":
        payload["at"] = "kemarin sore"
    elif plan.malformed == "bad_caller":
        payload["caller"] = "not a number"
    return payload


# ---- playing -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Target:
    """A city's 112 webhooks: its base URL (``http://tangerang.localhost:8000``), the telephony
    webhook secret and, when the city keeps one, the AML HMAC key. A ``*.localhost`` host is
    reached on 127.0.0.1 (``connect`` overrides where to connect) with the city's Host header."""

    city_url: str
    secret: str
    aml_hmac_key: str | None = None
    connect: str | None = None
    timeout_s: float = 10.0

    def client(self, max_connections: int = 64) -> httpx.AsyncClient:
        return city_client(
            self.city_url, self.connect, timeout_s=self.timeout_s, max_connections=max_connections
        )


def city_client(
    city_url: str,
    connect: str | None = None,
    *,
    timeout_s: float = 10.0,
    max_connections: int = 64,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """An HTTP client on a city's host. ``*.localhost`` names are connected to on 127.0.0.1 (not
    every resolver knows them), with the city's Host header kept."""
    parts = urlsplit(city_url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"city URL: {city_url!r} is not http(s)://host[:port]")
    host_header = parts.netloc
    address = connect or ("127.0.0.1" if parts.hostname.endswith(".localhost") else None)
    base = city_url.rstrip("/")
    if address is not None:
        port = f":{parts.port}" if parts.port else ""
        base = f"{parts.scheme}://{address}{port}"
    return httpx.AsyncClient(
        base_url=base,
        headers={"Host": host_header, **(headers or {})},
        timeout=timeout_s,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
    )


@dataclass(slots=True)
class Action:
    due_s: float  # on the real clock, from the start of the play
    kind: str  # event | aml | aml_sms
    call: CallPlan
    call_id: str
    events: list[tuple[str, float]] = field(default_factory=list)  # (type, due_s) of an event batch
    aml: AmlPlan | None = None
    expect_refusal: bool = False
    duplicate: bool = False  # a deliberate replay
    stamp_s: float = 0.0  # the moment its content is stamped with (a replay repeats the original's)


@dataclass(slots=True)
class Sent:
    kind: str
    call_id: str
    status: int | None
    ms: float
    ok: bool  # the answer is the one expected (accepted, or refused on purpose)
    accepted: int = 0
    duplicates: int = 0
    detail: str = ""
    at: float = 0.0  # seconds from the start, when the answer came
    retries: int = 0  # attempts again after a dropped connection


def _pct(values: Sequence[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p * len(ordered) / 100)))
    return round(ordered[rank - 1], 1)


@dataclass(slots=True)
class Summary:
    script: str
    sent: list[Sent] = field(default_factory=list)
    seconds: float = 0.0
    calls: list[str] = field(default_factory=list)  # call ids the city should hold (valid offers)
    locations: int = 0  # distinct valid AML messages the city should store as locations
    max_lag_ms: float = 0.0  # how late the latest request left against its due time

    def of(self, kind: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == kind]

    @property
    def failed(self) -> list[Sent]:
        return [s for s in self.sent if not s.ok]

    def counts(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for kind in ("event", "aml", "aml_sms"):
            rows = self.of(kind)
            if not rows:
                continue
            lat = [s.ms for s in rows if s.status is not None]
            out[kind] = {
                "requests": len(rows),
                "ok": sum(1 for s in rows if s.ok),
                "failed": sum(1 for s in rows if not s.ok),
                "accepted": sum(s.accepted for s in rows),
                "duplicates": sum(s.duplicates for s in rows),
                "retried": sum(1 for s in rows if s.retries),
                "p50_ms": _pct(lat, 50),
                "p95_ms": _pct(lat, 95),
                "max_ms": round(max(lat), 1) if lat else None,
            }
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "script": self.script,
            "seconds": round(self.seconds, 2),
            "calls": len(self.calls),
            "locations": self.locations,
            "requests": len(self.sent),
            "failed": len(self.failed),
            "max_lag_ms": round(self.max_lag_ms, 1),
            "by_kind": self.counts(),
            "failures": [asdict(s) for s in self.failed[:20]],
        }

    def text(self) -> str:
        lines = [
            f"{self.script}: {len(self.calls)} calls, {self.locations} locations, {len(self.sent)} requests "
            f"in {self.seconds:.1f} s; {len(self.failed)} failed"
        ]
        names = {"event": "call events", "aml": "AML (HTTPS)", "aml_sms": "AML (SMS)"}
        for kind, c in self.counts().items():
            lines.append(
                f"  {names[kind]:<12} {c['requests']:>6} sent, {c['ok']:>6} as expected "
                f"(accepted {c['accepted']}, duplicates {c['duplicates']}), {c['failed']} failed; "
                f"p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, max {c['max_ms']} ms"
            )
        for s in self.failed[:10]:
            lines.append(f"  FAILED {s.kind} {s.call_id}: {s.status} {s.detail[:160]}")
        return "\n".join(lines)


def plan_actions(script: Script, *, speed: float = 1.0, run_tag: str | None = None) -> list[Action]:
    """Every request of the script, with its due time on the real clock (script time / speed)."""
    if speed <= 0:
        raise ScriptError("speed", "must be more than 0")
    actions: list[Action] = []
    for plan in script.calls:
        call_id = f"{plan.call_id}-{run_tag}" if run_tag else plan.call_id
        start = plan.start_s
        stages: list[tuple[str, float]] = [("offered", start)]
        if plan.answer_after_s is not None:
            answered = start + plan.answer_after_s
            stages.append(("answered", answered))
            if plan.transfer_after_s is not None:
                stages.append(("transferred", answered + plan.transfer_after_s))
            if plan.end_after_s is not None:
                stages.append(("ended", answered + plan.end_after_s))
        elif plan.end_after_s is not None:
            stages.append(("ended", start + plan.end_after_s))
        real = [(kind, t / speed) for kind, t in stages]
        copies = 2 if plan.replay else 1
        for copy in range(copies):
            if plan.out_of_order and len(real) > 1:
                last = max(t for _, t in real) + copy * 0.05
                actions.append(
                    Action(last, "event", plan, call_id, list(reversed(real)), None, not plan.valid, copy > 0)
                )
            else:
                for kind, t in real:
                    actions.append(
                        Action(
                            t + copy * 0.05,
                            "event",
                            plan,
                            call_id,
                            [(kind, t)],
                            None,
                            not plan.valid,
                            copy > 0,
                        )
                    )
        for aml in plan.aml:
            due = max(0.0, (start + aml.after_s) / speed)
            kind = "aml_sms" if aml.channel == "sms" else "aml"
            for copy in range(copies):
                actions.append(Action(due + copy * 0.05, kind, plan, call_id, [], aml, False, copy > 0, due))
    actions.sort(key=lambda a: a.due_s)
    return actions


def _detail(response: httpx.Response) -> str:
    try:
        return json.dumps(response.json())[:300]
    except ValueError:
        return response.text[:300]


class Player:
    """Plays a script into one city. ``progress`` gets a line about once a second."""

    def __init__(
        self,
        target: Target,
        *,
        speed: float = 1.0,
        run_tag: str | None = None,
        concurrency: int = 64,
        retries: int = 2,
        progress: Callable[[str], None] | None = None,
        on_sent: Callable[[Action, Sent, float], None] | None = None,
    ) -> None:
        self.target = target
        self.retries = retries
        self.speed = speed
        self.run_tag = run_tag
        self.concurrency = concurrency
        self.progress = progress
        self.on_sent = on_sent
        self.client: httpx.AsyncClient | None = None
        self._started = 0.0
        self._wall0 = dt.datetime.now(dt.UTC)

    def moment(self, due_s: float) -> dt.datetime:
        return self._wall0 + dt.timedelta(seconds=due_s)

    def request_for(self, action: Action) -> tuple[str, bytes, dict[str, str]]:
        """(path, body, headers) of one action."""
        plan = action.call
        if action.kind == "event":
            payloads = [
                event_payload(plan, kind, self.moment(t), action.call_id) for kind, t in action.events
            ]
            body = json.dumps(payloads[0] if len(payloads) == 1 else payloads, separators=(",", ":")).encode()
            secret = self.target.secret + ("-wrong" if plan.malformed == "bad_signature" else "")
            return (
                EVENTS_PATH,
                body,
                {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body)},
            )
        assert action.aml is not None
        sent = self.moment(action.stamp_s)
        if action.kind == "aml_sms":
            body = json.dumps({"from": plan.caller, "text": aml_sms_text(action.aml, sent)}).encode()
            return AML_SMS_PATH, body, {"Content-Type": "application/json"}
        body = aml_body(action.aml, plan.caller, sent, self.target.aml_hmac_key)
        return AML_PATH, body, {"Content-Type": "application/x-www-form-urlencoded"}

    async def send(self, action: Action) -> Sent:
        """One request; a dropped connection is retried (``retries`` times) as a telephony system
        retries its webhooks: events carry their id and AML its content, so a request that did
        arrive comes back as a duplicate, never twice."""
        assert self.client is not None
        path, body, headers = self.request_for(action)
        t0 = time.perf_counter()
        attempt = 0
        while True:
            try:
                response = await self.client.post(path, content=body, headers=headers)
                break
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    return Sent(action.kind, action.call_id, None, 1000 * (time.perf_counter() - t0), False,
                                detail=f"{type(exc).__name__}: {exc}", retries=attempt)  # fmt: skip
                attempt += 1
                await asyncio.sleep(0.05 * attempt)
        ms = 1000 * (time.perf_counter() - t0)
        status = response.status_code
        sent = Sent(action.kind, action.call_id, status, ms, False, detail="", retries=attempt)
        if action.kind == "event":
            if action.expect_refusal:
                expected = 401 if action.call.malformed == "bad_signature" else 422
                sent.ok = status == expected
                sent.detail = "" if sent.ok else f"expected {expected}: {_detail(response)}"
            elif status == 200:
                try:
                    answer = response.json()
                    sent.accepted = int(answer.get("accepted", 0))
                    sent.duplicates = int(answer.get("duplicates", 0))
                except (ValueError, AttributeError, TypeError):
                    sent.detail = f"not the contract's JSON: {response.text[:200]}"
                else:
                    n = len(action.events)
                    # A replay must come back as duplicates; a first sending as accepted (or as a
                    # duplicate when a retried request had arrived after all: still nothing lost).
                    replayed = action.duplicate and not sent.retries
                    sent.ok = sent.accepted + sent.duplicates == n and (not replayed or sent.duplicates == n)
                    if not sent.ok:
                        sent.detail = f"{n} events, answer {answer}"
            else:
                sent.detail = _detail(response)
        else:
            # AML answers 2xx to everything, malformed or not.
            sent.ok = 200 <= status < 300
            if sent.ok:
                sent.accepted = (
                    1 if action.aml is not None and action.aml.valid and not action.duplicate else 0
                )
            else:
                sent.detail = _detail(response)
        return sent

    async def play(self, script: Script) -> Summary:
        actions = plan_actions(script, speed=self.speed, run_tag=self.run_tag)
        summary = Summary(script.name)
        summary.calls = [
            f"{c.call_id}-{self.run_tag}" if self.run_tag else c.call_id for c in script.calls if c.valid
        ]
        # Every well-formed AML is kept as a location, matched to its call or waiting for one.
        summary.locations = sum(1 for c in script.calls for a in c.aml if a.valid)
        if self.target.aml_hmac_key is None and any(
            a.malformed == "bad_hmac" for c in script.calls for a in c.aml
        ):
            raise ScriptError("aml.malformed", "bad_hmac needs the city's AML key (Target.aml_hmac_key)")
        gate = asyncio.Semaphore(self.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        last_report = 0.0

        async def one(action: Action) -> None:
            try:
                sent = await self.send(action)
                sent.at = time.perf_counter() - self._started
                summary.sent.append(sent)
                if self.on_sent is not None:
                    self.on_sent(action, sent, self._started)
            finally:
                gate.release()

        async with self.target.client(max_connections=self.concurrency) as client:
            self.client = client
            self._started = time.perf_counter()
            self._wall0 = dt.datetime.now(dt.UTC)
            try:
                for action in actions:
                    wait = action.due_s - (time.perf_counter() - self._started)
                    if wait > 0:
                        await asyncio.sleep(wait)
                    await gate.acquire()
                    lag = 1000 * (time.perf_counter() - self._started - action.due_s)
                    summary.max_lag_ms = max(summary.max_lag_ms, lag)
                    task = asyncio.create_task(one(action))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    elapsed = time.perf_counter() - self._started
                    if self.progress is not None and elapsed - last_report >= 1.0:
                        last_report = elapsed
                        self.progress(self._progress_line(summary, len(tasks), elapsed, len(actions)))
                if tasks:
                    await asyncio.gather(*list(tasks))
            finally:
                for task in list(tasks):
                    task.cancel()
                self.client = None
        summary.seconds = time.perf_counter() - self._started
        summary.sent.sort(key=lambda s: s.at)
        if self.progress is not None:
            self.progress(self._progress_line(summary, 0, summary.seconds, len(actions)))
        return summary

    @staticmethod
    def _progress_line(summary: Summary, in_flight: int, elapsed: float, total: int) -> str:
        lat = [s.ms for s in summary.sent[-500:] if s.status is not None]
        p95 = _pct(lat, 95)
        return (
            f"[{elapsed:6.1f} s] {len(summary.sent)}/{total} requests answered, {len(summary.failed)} failed, "
            f"{in_flight} in flight, p95 {p95 if p95 is not None else '-'} ms"
        )


async def play(
    script: Script,
    target: Target,
    *,
    speed: float = 1.0,
    run_tag: str | None = None,
    concurrency: int = 64,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """Send ``script`` to ``target``; returns when every request is answered."""
    player = Player(target, speed=speed, run_tag=run_tag, concurrency=concurrency, progress=progress)
    return await player.play(script)


async def send_aml(target: Target, caller: str, aml: AmlPlan) -> Sent:
    """One AML message from ``caller``'s handset now (HTTPS, or SMS for ``channel="sms"``), outside
    any script: e.g. a location that arrives while the call-taker is already on the call."""
    player = Player(target)
    kind = "aml_sms" if aml.channel == "sms" else "aml"
    action = Action(0.0, kind, CallPlan(call_id="-", caller=caller), "-", [], aml)
    async with target.client(max_connections=1) as client:
        player.client = client
        player._wall0 = dt.datetime.now(dt.UTC)
        return await player.send(action)


def new_run_tag() -> str:
    """A short tag appended to call ids so playing the same script again makes new calls."""
    return dt.datetime.now(dt.UTC).strftime("%H%M%S") + uuid.uuid4().hex[:4]


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        south, west, north, east = (float(x) for x in text.split(","))
    except ValueError as exc:
        raise ScriptError("bbox", "must be four numbers: south,west,north,east") from exc
    return south, west, north, east


def example_script() -> dict[str, Any]:
    """A small script showing every field (``kotalive-simulators telephony example``)."""
    return {
        "name": "contoh",
        "calls": [
            {
                "call_id": "contoh-1",
                "caller": "+6281234500001",
                "start_s": 0,
                "line": "112-1",
                "answer_after_s": 4,
                "agent": "ext-101",
                "end_after_s": 60,
                "aml": [
                    {"lat": -6.1702, "lon": 106.6403, "accuracy_m": 12, "source": "gps", "confidence": 68,
                     "after_s": 1.5},
                    {"lat": -6.1703, "lon": 106.6404, "accuracy_m": 10, "source": "gps", "after_s": 5,
                     "channel": "sms"},
                ],
            },
            {
                "call_id": "contoh-2",
                "caller": "+6285712300002",
                "start_s": 5,
                "answer_after_s": 6,
                "transfer_after_s": 15,
                "transfer_to": "119",
                "end_after_s": 40,
                "out_of_order": True,
                "aml": {"lat": -6.2, "lon": 106.61, "accuracy_m": 40, "source": "wifi", "after_s": -1,
                        "spelling": "certainty"},
            },
            {"call_id": "contoh-3", "caller": "+6281398700003", "start_s": 8, "answer_after_s": None,
             "end_after_s": 10, "end_reason": "caller_hung_up", "replay": True,
             "aml": {"lat": -6.19, "lon": 106.62, "malformed": "truncated"}},
        ],
    }  # fmt: skip


def expected_rows(summaries: Iterable[Summary]) -> dict[str, int]:
    """What the city should hold after these plays: calls and locations."""
    calls = set()
    locations = 0
    for s in summaries:
        calls.update(s.calls)
        locations += s.locations
    return {"calls": len(calls), "locations": locations}
