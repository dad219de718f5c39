"""Permissions the city admin declares (kotalive.registry.Permission), beside the core's."""

from kotalive.registry import Permission

MANAGE = "admin.city.manage"

PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        MANAGE,
        "Configure the city in /admin/: agencies, categories, rules, SLAs, boundaries, people, "
        "integrations, wording, Open311 keys, the audit log",
        ("city_admin",),
    ),
)
