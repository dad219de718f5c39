"""The city a piece of work belongs to, carried in a contextvar.

The web middleware and the worker middleware set it; everything else reads it. A contextvar is
per task, so two requests for two cities on one event loop never see each other's city.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# Schema names come from the immutable numeric tenant id, never from user input.
SCHEMA_PATTERN = re.compile(r"^city_[1-9][0-9]{0,17}$")


class NoTenantContext(RuntimeError):
    """City work was attempted with no city in context."""


class CrossTenantError(RuntimeError):
    """Something bound to one city was used for another."""


def schema_for(tenant_id: int) -> str:
    if not isinstance(tenant_id, int) or isinstance(tenant_id, bool) or tenant_id <= 0:
        raise ValueError(f"tenant id must be a positive integer, got {tenant_id!r}")
    name = f"city_{tenant_id}"
    assert SCHEMA_PATTERN.match(name)
    return name


def checked_schema(name: str) -> str:
    """Return ``name`` if it is a valid city schema name, else raise."""
    if not SCHEMA_PATTERN.match(name):
        raise CrossTenantError(f"not a city schema name: {name!r}")
    return name


@dataclass(frozen=True, slots=True)
class TenantContext:
    id: int
    slug: str
    name: str
    status: str
    timezone: str = "Asia/Jakarta"
    locale: str = "id"
    modules: frozenset[str] = field(default_factory=frozenset)
    module_config: dict[str, dict] = field(default_factory=dict, hash=False, compare=False)
    primary_host: str = ""
    region_code: str = ""  # Kemendagri code: residency of citizens is decided against it

    @property
    def schema(self) -> str:
        return schema_for(self.id)

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    def has_module(self, name: str) -> bool:
        return name in self.modules


_current: contextvars.ContextVar[TenantContext | None] = contextvars.ContextVar(
    "kotalive_tenant", default=None
)


def current_tenant() -> TenantContext:
    tenant = _current.get()
    if tenant is None:
        raise NoTenantContext("no city in context: city work must run inside use_tenant() or a city request")
    return tenant


def current_tenant_or_none() -> TenantContext | None:
    return _current.get()


@contextmanager
def use_tenant(tenant: TenantContext | None) -> Iterator[TenantContext | None]:
    token = _current.set(tenant)
    try:
        yield tenant
    finally:
        _current.reset(token)


def set_tenant(tenant: TenantContext | None) -> contextvars.Token[TenantContext | None]:
    return _current.set(tenant)


def reset_tenant(token: contextvars.Token[TenantContext | None]) -> None:
    _current.reset(token)
