"""Roles and permissions: who may do what, in which city.

Roles are fixed names; permissions are declared by the core (below) and by modules
(``ModuleSpec.permissions``), each with the roles that hold it. Agency-scoped roles see only their
agency's work; city-wide roles see the whole city.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kotalive.registry import LoadedModules, Permission

CITY_ROLES = (
    "citizen",
    "employee",
    "agency_supervisor",
    "liveroom_operator",
    "liveroom_supervisor",
    "calltaker",
    "dispatcher",
    "city_admin",
)
PLATFORM_ROLES = ("platform_admin", "platform_operator")
ALL_ROLES = CITY_ROLES + PLATFORM_ROLES
# Roles whose view is one agency's work (the grant's agency, else the employee's own).
AGENCY_SCOPED_ROLES = frozenset({"employee", "agency_supervisor"})
STAFF_ROLES = frozenset(CITY_ROLES) - {"citizen"}

CORE_PERMISSIONS: tuple[Permission, ...] = (
    Permission("core.profile.view", "See one's own profile", ("citizen",) + tuple(STAFF_ROLES)),
    Permission("core.staff.home", "Open the employees' home page", tuple(STAFF_ROLES)),
    Permission("core.audit.view", "Read the city's audit log", ("city_admin",)),
    Permission("core.audit.export", "Export the city's audit log", ("city_admin",)),
    Permission(
        "core.personal_data.unmask",
        "See a citizen's full NIK (audited)",
        ("city_admin", "liveroom_supervisor"),
    ),
    Permission("core.roles.manage", "Grant and revoke roles", ("city_admin",)),
    Permission("core.employees.sync", "Run the Simpeg sync on demand", ("city_admin",)),
    Permission(
        "core.notifications.view",
        "See one's own notifications and choose how to get them",
        ("citizen",) + tuple(STAFF_ROLES),
    ),
    Permission(
        "core.notifications.manage",
        "Word the city's messages, see and retry failed deliveries, keep webhooks",
        ("city_admin",),
    ),
    Permission("platform.tenants.view", "See the cities of the platform", PLATFORM_ROLES),
    Permission("platform.tenants.manage", "Create, suspend and migrate cities", ("platform_admin",)),
)


class UnknownPermission(KeyError):
    pass


@dataclass(frozen=True, slots=True)
class PermissionTable:
    """permission name -> roles that hold it (core plus every loaded module)."""

    holders: dict[str, frozenset[str]]

    @classmethod
    def build(cls, modules: LoadedModules | None, extra: Sequence[Permission] = ()) -> PermissionTable:
        """Core and module permissions, plus ``extra`` ones (the surfaces'), which must not
        redeclare a permission."""
        perms: list[Permission] = list(CORE_PERMISSIONS)
        if modules is not None:
            for spec in modules.specs:
                perms.extend(spec.permissions)
        declared = {p.name for p in perms}
        for perm in extra:
            if perm.name in declared:
                raise ValueError(f"permission {perm.name} is declared twice")
            declared.add(perm.name)
            perms.append(perm)
        holders: dict[str, frozenset[str]] = {}
        for perm in perms:
            unknown = set(perm.default_roles) - set(ALL_ROLES)
            if unknown:
                raise ValueError(f"permission {perm.name}: unknown role(s) {', '.join(sorted(unknown))}")
            holders[perm.name] = frozenset(perm.default_roles)
        return cls(holders)

    def allows(self, roles: Iterable[str], permission: str) -> bool:
        try:
            holders = self.holders[permission]
        except KeyError as exc:
            raise UnknownPermission(permission) from exc
        return not holders.isdisjoint(roles)

    def roles_for(self, permission: str) -> frozenset[str]:
        return self.holders[permission]
