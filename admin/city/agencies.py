"""The city's agency catalogue: create, change, switch off, and import the default catalogue.

Agencies are core rows (``kotalive.tenants.city_models.Agency``) every module reads; the core has
no writer for them beyond provisioning's seed, so the city admin's rules for them live here. An
agency is never deleted: complaints, rules and employees keep pointing at it, so it is switched
off instead (routing then skips it, see Laksa's ``route``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from kotalive.db import TenantSession
from kotalive.tenants.catalogue import DEFAULT_AGENCIES
from kotalive.tenants.city_models import AGENCY_KINDS, Agency

CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{4,24}$")
NAME_MAX = 200
ABBREVIATION_MAX = 32
CONTACT_FIELDS = ("phone", "email", "address", "person")


@dataclass(frozen=True, slots=True)
class Problem:
    """One wrong field; its text is ``admin.city.error.<field>.<code>``."""

    field: str
    code: str
    params: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"admin.city.error.{self.field}.{self.code}"


class AdminInputError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(", ".join(f"{p.field}.{p.code}" for p in problems))
        self.problems = problems


class AgencyNotFound(LookupError):
    """No such agency in this city (another city's id included): 404."""


async def list_agencies(session: TenantSession) -> list[Agency]:
    return list(await session.scalars(select(Agency).order_by(Agency.active.desc(), Agency.abbreviation)))


async def get_agency(session: TenantSession, agency_id: int) -> Agency:
    agency = await session.get(Agency, agency_id)
    if agency is None:
        raise AgencyNotFound(agency_id)
    return agency


async def count_agencies(session: TenantSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Agency)) or 0)


async def _creates_cycle(session: TenantSession, agency_id: int, parent_id: int) -> bool:
    """True when ``parent_id`` is the agency itself or one of its descendants."""
    parents = dict((await session.execute(select(Agency.id, Agency.parent_id))).all())
    seen: set[int] = set()
    current: int | None = parent_id
    while current is not None and current not in seen:
        if current == agency_id:
            return True
        seen.add(current)
        current = parents.get(current)
    return False


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return str(value).strip() if value is not None else ""


async def save_agency(
    session: TenantSession, data: Mapping[str, Any], *, agency_id: int | None = None
) -> Agency:
    """Create (``agency_id`` None) or change an agency from ``code`` (new only), ``name``,
    ``abbreviation``, ``kind``, ``parent_id`` and the contact fields; the caller commits."""
    agency = await get_agency(session, agency_id) if agency_id is not None else None
    problems: list[Problem] = []
    code = agency.code if agency is not None else _text(data, "code").lower()
    if agency is None:
        if not code:
            problems.append(Problem("code", "required"))
        elif not CODE.match(code):
            problems.append(Problem("code", "invalid"))
        elif await session.scalar(select(Agency.id).where(Agency.code == code)) is not None:
            problems.append(Problem("code", "taken", {"code": code}))
    name = _text(data, "name")
    if not name:
        problems.append(Problem("name", "required"))
    elif len(name) > NAME_MAX:
        problems.append(Problem("name", "too_long", {"max": NAME_MAX}))
    abbreviation = _text(data, "abbreviation")
    if not abbreviation:
        problems.append(Problem("abbreviation", "required"))
    elif len(abbreviation) > ABBREVIATION_MAX:
        problems.append(Problem("abbreviation", "too_long", {"max": ABBREVIATION_MAX}))
    kind = _text(data, "kind") or "dinas"
    if kind not in AGENCY_KINDS:
        problems.append(Problem("kind", "invalid", {"allowed": ", ".join(AGENCY_KINDS)}))
    parent_raw = data.get("parent_id")
    parent_id: int | None = None
    if parent_raw not in (None, ""):
        try:
            parent_id = int(str(parent_raw))
        except ValueError:
            problems.append(Problem("parent_id", "unknown"))
        else:
            if await session.get(Agency, parent_id) is None:
                problems.append(Problem("parent_id", "unknown"))
                parent_id = None
            elif agency is not None and await _creates_cycle(session, agency.id, parent_id):
                problems.append(Problem("parent_id", "cycle"))
    contact: dict[str, str] = {}
    for key in CONTACT_FIELDS:
        value = _text(data, f"contact_{key}")
        if not value:
            continue
        if len(value) > 500:
            problems.append(Problem(f"contact_{key}", "too_long", {"max": 500}))
        elif key == "email" and not EMAIL.match(value):
            problems.append(Problem("contact_email", "invalid"))
        elif key == "phone" and not PHONE.match(value):
            problems.append(Problem("contact_phone", "invalid"))
        else:
            contact[key] = value
    if problems:
        raise AdminInputError(problems)
    values: dict[str, Any] = {
        "name": name,
        "abbreviation": abbreviation,
        "kind": kind,
        "parent_id": parent_id,
        "contact": contact,
    }
    if agency is not None:
        for key, value in values.items():
            setattr(agency, key, value)
        await session.flush()
        return agency
    agency = Agency(code=code, active=True, **values)
    try:
        # Added inside the savepoint, so a refused insert leaves nothing pending in the session.
        async with session.begin_nested():
            session.add(agency)
            await session.flush()
    except IntegrityError:  # another admin created the same code a moment ago
        raise AdminInputError([Problem("code", "taken", {"code": code})]) from None
    return agency


async def set_active(session: TenantSession, agency_id: int, active: bool) -> Agency:
    agency = await get_agency(session, agency_id)
    agency.active = active
    await session.flush()
    return agency


async def import_catalogue(session: TenantSession) -> list[str]:
    """Add the default catalogue's agencies the city does not have yet (by code); returns the
    codes added. Agencies the city already has, edited or switched off, stay as they are."""
    rows = (
        await session.execute(
            insert(Agency)
            .values(
                [
                    {"code": a.code, "abbreviation": a.abbreviation, "name": a.name, "kind": a.kind}
                    for a in DEFAULT_AGENCIES
                ]
            )
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(Agency.code)
        )
    ).scalars()
    return sorted(rows)
