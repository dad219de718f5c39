"""The platform console's finer permissions, beside the core's platform.tenants.view/manage.

Every console permission starts with ``platform.``: it is held by platform staff only, and the
role matrix asks it on the platform host.
"""

from kotalive.registry import Permission

PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        "platform.tenants.onboard",
        "Onboard a new city (wizard, provisioning, first city admin)",
        ("platform_admin", "platform_operator"),
    ),
    Permission(
        "platform.rollouts.run",
        "Assign cities to waves and run migrations of a wave",
        ("platform_admin", "platform_operator"),
    ),
    Permission(
        "platform.audit.view", "Read the platform's audit log", ("platform_admin", "platform_operator")
    ),
)
