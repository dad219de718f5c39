from kotalive.registry import ModuleSpec, Permission

module = ModuleSpec(
    name="liveroom",
    title="Live Room — ruang kendali 24 jam",
    routes="kotalive.modules.liveroom.controllers:route_handlers",
    permissions=(
        Permission(
            "liveroom.board.view",
            "See the live board",
            ("liveroom_operator", "liveroom_supervisor", "city_admin"),
        ),
        Permission(
            "liveroom.item.triage",
            "Claim, classify and forward items",
            ("liveroom_operator", "liveroom_supervisor"),
        ),
    ),
)
