from kotalive.registry import ModuleSpec, Permission

module = ModuleSpec(
    name="hotline112",
    title="112 — layanan darurat",
    routes="kotalive.modules.hotline112.controllers:route_handlers",
    permissions=(
        Permission("hotline112.call.take", "Take emergency calls", ("calltaker", "dispatcher")),
        Permission("hotline112.unit.dispatch", "Dispatch units", ("dispatcher",)),
    ),
)
