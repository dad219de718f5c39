"""The admin: the platform console (``console/``, platform host) and the city admin (``city/``,
each city's host under ``/admin/``). Found through the ``kotalive.surfaces`` entry point, so the
core never imports it; only this spec is read when the app starts.
"""

from pathlib import Path

from kotalive.registry import Surface

surface = Surface(
    name="admin",
    routes=(
        "kotalive.admin.console.routes:route_handlers",
        "kotalive.admin.city.routes:route_handlers",
    ),
    texts=(
        "kotalive.admin.console.texts:TEXTS",
        "kotalive.admin.city.texts:TEXTS",
    ),
    permissions=(
        "kotalive.admin.console.permissions:PERMISSIONS",
        "kotalive.admin.city.permissions:PERMISSIONS",
    ),
    jobs=("kotalive.admin.console.jobs",),
    models=("kotalive.admin.city.models", "kotalive.admin.console.models"),
    templates=(str(Path(__file__).parent / "templates"),),
)
