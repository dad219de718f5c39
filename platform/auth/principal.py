"""Who is making this request: a citizen, an employee or platform staff, always of one city."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from kotalive.auth.roles import AGENCY_SCOPED_ROLES

PRINCIPAL_KINDS = ("citizen", "employee", "platform_staff")


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str
    id: int
    tenant_id: int | None  # None only for platform staff
    name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    # The agencies whose work an agency-scoped role may see.
    agency_ids: frozenset[int] = field(default_factory=frozenset)
    via: str = "session"  # session | bearer

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id} {self.name}"

    @property
    def sees_whole_city(self) -> bool:
        """True when some role covers the whole city, not just an agency (or one's own items)."""
        return any(r not in AGENCY_SCOPED_ROLES and r != "citizen" for r in self.roles)

    def may_see_agency(self, agency_id: int | None) -> bool:
        return self.sees_whole_city or (agency_id is not None and agency_id in self.agency_ids)


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "kotalive_principal", default=None
)


def current_principal() -> Principal | None:
    return _current.get()


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)
