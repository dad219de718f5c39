from kotalive.registry import ModuleSpec, Permission

module = ModuleSpec(
    name="hotline112",
    title="112 — layanan darurat",
    routes="kotalive.modules.hotline112.routes:route_handlers",
    models="kotalive.modules.hotline112.models",
    seed="kotalive.modules.hotline112.configuration:seed_city_defaults",
    permissions=(
        Permission("hotline112.call.take", "Take emergency calls", ("calltaker", "dispatcher")),
        Permission("hotline112.unit.dispatch", "Dispatch units", ("dispatcher",)),
    ),
)
