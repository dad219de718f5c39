from kotalive.modules.laksa.permissions import PERMISSIONS
from kotalive.registry import Link, ModuleSpec, PeriodicJob

module = ModuleSpec(
    name="laksa",
    title="Laksa — Layanan Aspirasi Kota Saran Anda",
    routes="kotalive.modules.laksa.routes:route_handlers",
    models="kotalive.modules.laksa.models",
    jobs="kotalive.modules.laksa.jobs",
    seed="kotalive.modules.laksa.configuration:seed_city_defaults",
    demo="kotalive.modules.laksa.demo:seed_demo",
    texts="kotalive.modules.laksa.texts:TEXTS",
    commands="kotalive.modules.laksa.cli:commands",
    permissions=PERMISSIONS,
    messages="kotalive.modules.laksa.messages:MESSAGES",
    subscribers={
        f"laksa.{event}": f"kotalive.modules.laksa.subscribers:{handler}"
        for event, handler in (
            ("photos_uploaded", "process_photos"),
            ("complaint_routed", "on_routed"),
            ("complaint_awaiting_triage", "on_awaiting_triage"),
            ("complaint_transferred", "on_transferred"),
            ("complaint_status_changed", "on_status_changed"),
            ("complaint_replied", "on_replied"),
            ("complaint_assigned", "on_assigned"),
            ("complaint_sla_at_risk", "on_sla_at_risk"),
            ("complaint_sla_breached", "on_sla_breached"),
            ("complaint_sla_escalated", "on_sla_escalated"),
        )
    }
    | {"hotline112.call_referred": "kotalive.modules.laksa.from112:on_call_referred"}  # 112: not an emergency
    | {  # what the Live Room asks of Laksa's complaints
        f"liveroom.{event}": f"kotalive.modules.laksa.room:{handler}"
        for event, handler in (
            ("forward_requested", "on_forward_requested"),
            ("classify_requested", "on_classify_requested"),
            ("duplicate_marked", "on_duplicate_marked"),
        )
    },
    periodic=(
        PeriodicJob("sla_scan", "kotalive.modules.laksa.jobs.scan_sla", 60),
        PeriodicJob("close_resolved", "kotalive.modules.laksa.jobs.close_resolved", 3600),
        PeriodicJob("photo_sweep", "kotalive.modules.laksa.jobs.process_photos", 300),
        PeriodicJob("daily_digest", "kotalive.modules.laksa.jobs.daily_digest", 3600),
    ),
    links=(
        Link("public", "laksa.link.report", "/lapor"),
        Link("public", "laksa.link.map", "/peta"),
        Link("citizen", "laksa.link.mine", "/laporan-saya"),
        Link("staff", "laksa.link.inbox", "/staff/laksa", "laksa.complaint.read"),
        Link("staff", "laksa.link.triage", "/staff/laksa?queue=triage", "laksa.complaint.triage"),
    ),
)
