"""Advanced Mobile Location: the handset's own position, sent when it dials 112.

Two forms reach us. Over HTTPS the handset (or the operator's AML gateway) POSTs a form with
``v``, ``emergency_number``, ``source``, ``time``, ``location_latitude``, ``location_longitude``,
``location_time``, ``location_accuracy`` (metres), ``location_source`` (gps|wifi|cell),
``location_confidence`` (older senders: ``location_certainty``), ``device_number``,
``device_imei``, ``device_imsi``, ``cell_network_mcc``, ``cell_network_mnc`` and ``hmac``. By SMS the
gateway forwards the sender and a text ``A"ML=1;lt=..;lg=..;rd=..;top=..;lc=..;pm=..;si=..;ei=..;
mcc=..;mnc=..;ml=..``.

The endpoint answers 2xx to every message, even one it discards: a sender that hears an error
retries and floods the line while a caller waits. What is discarded (malformed, truncated, a wrong
HMAC) is kept in ``h112_rejected`` with its reason and logged.

A location is matched to the call by the caller's number and time: the newest call from that number
offered within ``KOTALIVE_AML_MATCH_MINUTES``. An AML that arrives before its call waits unmatched
and is matched when the call is offered (``match_waiting``), within the same window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from kotalive import live
from kotalive.db import TenantSession
from kotalive.modules.hotline112.models import Call, CallerLocation, RejectedMessage
from kotalive.modules.hotline112.timeline import calls_channel, record

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024  # an AML form is a few hundred bytes; anything far larger is not one
KEPT_BODY = 4000  # characters of a rejected message kept for diagnosis
SOURCES = {
    "gps": "gps",
    "gnss": "gps",
    "g": "gps",
    "wifi": "wifi",
    "w": "wifi",
    "cell": "cell",
    "c": "cell",
    "network": "cell",
    "n": "unknown",
}


class AmlRejected(ValueError):
    """The message cannot be used; ``reason`` says why (kept in h112_rejected)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AmlMessage:
    channel: str  # aml_https | aml_sms
    caller_number: str
    lat: float
    lon: float
    accuracy_m: float | None
    confidence: float | None
    source: str
    location_time: dt.datetime | None
    device: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)


# ---- numbers and values ----------------------------------------------------------------------------


def normalise_number(raw: str | None, *, country: str = "62") -> str | None:
    """A caller's number as E.164: ``0812...`` / ``62812...`` / ``+62 812...`` -> ``+62812...``;
    landlines too (``021 555 1234`` -> ``+62215551234``). None when it is not a phone number."""
    if raw is None:
        return None
    digits = re.sub(r"[\s\-().]", "", str(raw))
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+"):
        rest = digits[1:]
    elif digits.startswith("0"):
        rest = country + digits[1:]
    elif digits.startswith(country):
        rest = digits
    else:
        return None
    if not re.fullmatch(r"[1-9]\d{6,14}", rest):
        return None
    return "+" + rest


def _number(value: str | None, name: str) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = float(value.strip())
    except ValueError:
        raise AmlRejected(f"{name}: not a number ({value[:40]!r})") from None
    if not math.isfinite(number):
        raise AmlRejected(f"{name}: not a finite number")
    return number


def _coordinates(lat_raw: str | None, lon_raw: str | None) -> tuple[float, float]:
    lat = _number(lat_raw, "latitude")
    lon = _number(lon_raw, "longitude")
    if lat is None:
        raise AmlRejected("latitude: missing")
    if lon is None:
        raise AmlRejected("longitude: missing")
    if not -90 <= lat <= 90:
        raise AmlRejected(f"latitude: {lat} is out of range (-90..90)")
    if not -180 <= lon <= 180:
        raise AmlRejected(f"longitude: {lon} is out of range (-180..180)")
    return lat, lon


def _time(value: str | None) -> dt.datetime | None:
    """AML senders write ISO-8601 (``2026-12-01T13:05:00Z``), epoch seconds or milliseconds, or
    (SMS) ``YYYYMMDDhhmmss`` in UTC. A time we cannot read is left out, not a reason to discard."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d{14}", text):
            return dt.datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
        if re.fullmatch(r"\d{9,13}", text):
            number = int(text)
            return dt.datetime.fromtimestamp(number / 1000 if number > 10**11 else number, dt.UTC)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _confidence(value: float | None) -> float | None:
    if value is None:
        return None
    if not 0 <= value <= 100:
        raise AmlRejected(f"confidence: {value} is not a percentage")
    return value


def _accuracy(value: float | None) -> float | None:
    if value is None:
        return None
    if value < 0 or value > 1_000_000:
        raise AmlRejected(f"accuracy: {value} m is not a radius")
    return value


# ---- parsing ---------------------------------------------------------------------------------------


def parse_https(body: bytes) -> AmlMessage:
    """The HTTPS form (``application/x-www-form-urlencoded``); raises AmlRejected."""
    if not body.strip():
        raise AmlRejected("empty message")
    if len(body) > MAX_BODY:
        raise AmlRejected(f"message too large ({len(body)} bytes)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise AmlRejected("not UTF-8") from None
    try:
        pairs = parse_qsl(text.strip(), keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise AmlRejected("not a form (key=value&...)") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields and fields[key] != value:
            raise AmlRejected(f"{key}: given twice with different values")
        fields[key] = value
    lat, lon = _coordinates(fields.get("location_latitude"), fields.get("location_longitude"))
    number = normalise_number(fields.get("device_number"))
    if number is None:
        raise AmlRejected("device_number: missing or not a phone number")
    confidence = fields.get("location_confidence")
    if confidence is None or confidence == "":
        confidence = fields.get("location_certainty")  # the older spelling
    device = {
        k: fields[k][:64]
        for k in ("device_imei", "device_imsi", "cell_network_mcc", "cell_network_mnc", "device_model")
        if fields.get(k)
    }
    return AmlMessage(
        channel="aml_https",
        caller_number=number,
        lat=lat,
        lon=lon,
        accuracy_m=_accuracy(_number(fields.get("location_accuracy"), "location_accuracy")),
        confidence=_confidence(_number(confidence, "location_confidence")),
        source=SOURCES.get((fields.get("location_source") or "").strip().lower(), "unknown"),
        location_time=_time(fields.get("location_time") or fields.get("time")),
        device=device,
        raw={k: v[:200] for k, v in fields.items() if k != "hmac"},
    )


SMS_PREFIX = 'A"ML='


def parse_sms(sender: str | None, text: str | None) -> AmlMessage:
    """The SMS form: ``A"ML=1;lt=-6.2;lg=106.8;rd=50;top=20261201130500;lc=68;pm=G;...;ml=NNN``.
    ``ml`` is the message's length: a shorter text was cut on the way."""
    if not text or not text.strip():
        raise AmlRejected("empty message")
    body = text.strip()
    if len(body) > MAX_BODY:
        raise AmlRejected(f"message too large ({len(body)} characters)")
    if not body.startswith(SMS_PREFIX):
        raise AmlRejected('not an AML SMS (it starts with A"ML=)')
    fields: dict[str, str] = {}
    for part in body.split(";"):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise AmlRejected(f"truncated or malformed at {part[:40]!r}")
        fields[key] = value.strip()
    declared = fields.get("ml")
    if declared is not None:
        if not declared.isdigit():
            raise AmlRejected(f"ml: not a length ({declared[:20]!r})")
        if int(declared) != len(body):
            raise AmlRejected(f"truncated: ml says {declared} characters, {len(body)} arrived")
    lat, lon = _coordinates(fields.get("lt"), fields.get("lg"))
    number = normalise_number(sender)
    if number is None:
        raise AmlRejected("from: missing or not a phone number")
    device = {
        name: fields[key][:64]
        for key, name in (
            ("ei", "device_imei"),
            ("si", "device_imsi"),
            ("mcc", "cell_network_mcc"),
            ("mnc", "cell_network_mnc"),
        )
        if fields.get(key)
    }
    return AmlMessage(
        channel="aml_sms",
        caller_number=number,
        lat=lat,
        lon=lon,
        accuracy_m=_accuracy(_number(fields.get("rd"), "rd")),
        confidence=_confidence(_number(fields.get("lc"), "lc")),
        source=SOURCES.get(fields.get("pm", "").lower(), "unknown"),
        location_time=_time(fields.get("top")),
        device=device,
        raw={k: v[:200] for k, v in fields.items()},
    )


def sms_fields(body: bytes, content_type: str) -> tuple[str | None, str | None]:
    """``from`` and ``text`` of the SMS gateway's forward: JSON or a form."""
    if "json" in content_type.lower():
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise AmlRejected("not JSON") from None
        if not isinstance(data, dict):
            raise AmlRejected("not a JSON object")
        sender, text = data.get("from"), data.get("text")
    else:
        try:
            pairs = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            raise AmlRejected("not a form") from None
        sender, text = pairs.get("from"), pairs.get("text")
    return (
        sender if isinstance(sender, str) else None,
        text if isinstance(text, str) else None,
    )


# ---- HMAC ------------------------------------------------------------------------------------------


def signed_part(body: bytes) -> tuple[bytes, str | None]:
    """The body without its ``hmac`` parameter (what the sender signed) and the hmac it carries."""
    kept, found = [], None
    for part in body.strip().split(b"&"):
        if part.startswith(b"hmac="):
            found = part[5:].decode("latin-1")
        else:
            kept.append(part)
    return b"&".join(kept), found


def aml_hmac(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def check_hmac(key: str, body: bytes) -> None:
    signed, given = signed_part(body)
    if not given:
        raise AmlRejected("hmac: missing (the city keeps an AML key)")
    if not hmac.compare_digest(aml_hmac(key, signed), given.strip().lower()):
        raise AmlRejected("hmac: does not match")


# ---- storing and matching --------------------------------------------------------------------------


def fingerprint(channel: str, number: str, body: bytes) -> str:
    return hashlib.sha256(channel.encode() + b"\0" + number.encode() + b"\0" + body.strip()).hexdigest()


async def reject(
    session: TenantSession, channel: str, reason: str, body: bytes | str, peer: str | None
) -> None:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.replace("\x00", "\ufffd")  # PostgreSQL text holds no NUL
    log.warning("112 %s message discarded (%s) from %s: %r", channel, reason, peer or "?", text[:200])
    session.add(RejectedMessage(channel=channel, reason=reason[:500], body=text[:KEPT_BODY], peer=peer))


def location_data(row: CallerLocation) -> dict[str, Any]:
    return {
        "id": row.id,
        "call_id": row.call_id,
        "channel": row.channel,
        "source": row.source,
        "lat": row.lat,
        "lon": row.lon,
        "accuracy_m": row.accuracy_m,
        "confidence": row.confidence,
        "location_time": row.location_time.isoformat() if row.location_time else None,
        "received_at": row.received_at.isoformat() if row.received_at else None,
        "matched_at": row.matched_at.isoformat() if row.matched_at else None,
        "hmac_ok": row.hmac_ok,
    }


async def lock_numbers(session: TenantSession, numbers: Iterable[str]) -> None:
    """Take the matching locks of these caller numbers until the transaction ends, always in the
    same order. A call and its AML arriving at the same moment are two transactions that cannot
    see each other's rows: each writes its row first, then takes the number's lock and only then
    looks for the other, so whichever comes second sees the first one committed and matches."""
    tenant_id = session.tenant.id
    for number in sorted(set(numbers)):
        key = f"kotalive:h112:{tenant_id}:{number}"
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def store(
    session: TenantSession, message: AmlMessage, body: bytes, *, window_minutes: int, hmac_ok: bool | None
) -> CallerLocation | None:
    """Keep the location (once: the same message twice is stored once) and match it to its call.
    Returns the new row, or None for a message already kept. The caller commits."""
    now = dt.datetime.now(dt.UTC)
    new_id = await session.scalar(
        insert(CallerLocation)
        .values(
            fingerprint=fingerprint(message.channel, message.caller_number, body),
            caller_number=message.caller_number,
            channel=message.channel,
            source=message.source,
            lat=message.lat,
            lon=message.lon,
            accuracy_m=message.accuracy_m,
            confidence=message.confidence,
            location_time=message.location_time,
            received_at=now,
            hmac_ok=hmac_ok,
            device=message.device,
            raw=message.raw,
        )
        .on_conflict_do_nothing(index_elements=["fingerprint"])
        .returning(CallerLocation.id)
    )
    if new_id is None:
        return None
    row = await session.get(CallerLocation, new_id)
    assert row is not None
    await lock_numbers(session, [message.caller_number])
    window = dt.timedelta(minutes=window_minutes)
    offered = func.coalesce(Call.offered_at, Call.created_at)
    call = await session.scalar(
        select(Call)
        .where(
            Call.caller_number == message.caller_number,
            offered >= now - window,
            offered <= now + dt.timedelta(minutes=1),
        )
        .order_by(offered.desc())
        .limit(1)
    )
    if call is not None:
        row.call_id = call.id
        row.matched_at = now
        await session.flush()
        if call.incident_id is not None:  # a newer fix of a caller whose incident is open
            record(
                session,
                call.incident_id,
                "location",
                {
                    "call_id": call.id,
                    "source": row.source,
                    "channel": row.channel,
                    "lat": row.lat,
                    "lon": row.lon,
                    "accuracy_m": row.accuracy_m,
                },
            )
        live.publish_after_commit(session, calls_channel(), "location", location_data(row))
    return row


async def match_waiting(session: TenantSession, call: Call, *, window_minutes: int) -> list[CallerLocation]:
    """The call was just offered: take the locations from its number that arrived before it and
    still wait (received within the window before the call, or since)."""
    if not call.caller_number:
        return []
    offered = call.offered_at or dt.datetime.now(dt.UTC)
    window = dt.timedelta(minutes=window_minutes)
    now = dt.datetime.now(dt.UTC)
    ids = list(
        await session.scalars(
            update(CallerLocation)
            .where(
                CallerLocation.call_id.is_(None),
                CallerLocation.caller_number == call.caller_number,
                CallerLocation.channel.in_(("aml_https", "aml_sms")),
                CallerLocation.received_at >= offered - window,
                CallerLocation.received_at <= max(offered, now) + dt.timedelta(minutes=1),
            )
            .values(call_id=call.id, matched_at=now)
            .returning(CallerLocation.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not ids:
        return []
    rows = list(
        await session.scalars(
            select(CallerLocation)
            .where(CallerLocation.id.in_(ids))
            .execution_options(populate_existing=True)
            .order_by(CallerLocation.received_at)
        )
    )
    for row in rows:
        live.publish_after_commit(session, calls_channel(), "location", location_data(row))
    return rows
