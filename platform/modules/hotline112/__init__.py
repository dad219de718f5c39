from kotalive.registry import Link, ModuleSpec, Permission

module = ModuleSpec(
    name="hotline112",
    title="112 — layanan darurat",
    routes="kotalive.modules.hotline112.routes:route_handlers",
    models="kotalive.modules.hotline112.models",
    seed="kotalive.modules.hotline112.configuration:seed_city_defaults",
    demo="kotalive.modules.hotline112.demo:seed_demo",
    permissions=(
        Permission("hotline112.call.take", "Take emergency calls", ("calltaker", "dispatcher")),
        Permission("hotline112.unit.dispatch", "Dispatch units", ("dispatcher",)),
        Permission(
            "hotline112.incident.view",
            "See 112 incidents, their timeline and EIDO export",
            ("calltaker", "dispatcher", "liveroom_operator", "liveroom_supervisor"),
        ),
        Permission(
            "hotline112.type.manage", "Edit the incident types and their question protocols", ("city_admin",)
        ),
        Permission(
            "hotline112.unit.view",
            "See the units, their positions and recommendations",
            ("calltaker", "dispatcher", "city_admin", "liveroom_operator", "liveroom_supervisor"),
        ),
        Permission(
            "hotline112.unit.manage",
            "Keep the units, their types and terminals",
            ("dispatcher", "city_admin"),
        ),
        Permission(
            "hotline112.measures.view",
            "See the 112 measures (NFPA 1225) and export them",
            ("calltaker", "dispatcher", "city_admin", "liveroom_supervisor"),
        ),
    ),
    texts="kotalive.modules.hotline112.texts:TEXTS",
    messages="kotalive.modules.hotline112.messages:MESSAGES",
    subscribers={"hotline112.units_dispatched": "kotalive.modules.hotline112.messages:on_units_dispatched"},
    links=(
        Link("staff", "h112.link.calltaker", "/112", "hotline112.call.take"),
        Link("staff", "h112.link.dispatch", "/112/dispatch", "hotline112.unit.view"),
        Link("staff", "h112.link.measures", "/112/ukuran", "hotline112.measures.view"),
    ),
)
