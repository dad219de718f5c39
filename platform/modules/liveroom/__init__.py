from kotalive.modules.liveroom.permissions import PERMISSIONS
from kotalive.registry import Link, ModuleSpec

# What the room hears: every Laksa complaint event that changes what the board shows, and the
# 112 module's incident and unit events (a module of its own; the names are the contract).
_HEARS = (
    "laksa.complaint_submitted",
    "laksa.complaint_routed",
    "laksa.complaint_awaiting_triage",
    "laksa.complaint_status_changed",
    "laksa.complaint_classified",
    "laksa.complaint_transferred",
    "laksa.complaint_assigned",
    "laksa.complaint_supported",
    "laksa.complaint_sla_at_risk",
    "laksa.complaint_sla_breached",
    "laksa.complaint_sla_escalated",
    "laksa.request_refused",
    "hotline112.incident_opened",
    "hotline112.incident_updated",
    "hotline112.incident_closed",
    "hotline112.unit_status_changed",
)

module = ModuleSpec(
    name="liveroom",
    title="Live Room — ruang kendali 24 jam",
    routes="kotalive.modules.liveroom.routes:route_handlers",
    models="kotalive.modules.liveroom.models",
    seed="kotalive.modules.liveroom.shifts:seed_city_defaults",
    demo="kotalive.modules.liveroom.demo:seed_demo",
    texts="kotalive.modules.liveroom.texts:TEXTS",
    permissions=PERMISSIONS,
    messages="kotalive.modules.liveroom.messages:MESSAGES",
    subscribers={event: "kotalive.modules.liveroom.subscribers:on_source_event" for event in _HEARS}
    | {"liveroom.item_escalated": "kotalive.modules.liveroom.subscribers:on_escalated"},
    links=(
        Link("staff", "liveroom.link.board", "/liveroom", "liveroom.board.view"),
        Link("staff", "liveroom.link.shifts", "/liveroom/shift", "liveroom.board.view"),
        Link("staff", "liveroom.link.measures", "/liveroom/ukuran", "liveroom.measures.view"),
    ),
)
