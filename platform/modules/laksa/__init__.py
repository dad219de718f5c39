from kotalive.registry import ModuleSpec, Permission

module = ModuleSpec(
    name="laksa",
    title="Laksa — Layanan Aspirasi Kota Saran Anda",
    routes="kotalive.modules.laksa.controllers:route_handlers",
    models="kotalive.modules.laksa.models",
    seed="kotalive.modules.laksa.services:seed_city_defaults",
    permissions=(
        Permission(
            "laksa.complaint.read",
            "See the city's complaints",
            ("employee", "agency_supervisor", "liveroom_operator", "liveroom_supervisor", "city_admin"),
        ),
        Permission("laksa.rule.manage", "Edit hashtag rules", ("city_admin",)),
    ),
)
