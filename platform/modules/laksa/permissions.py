"""What Laksa lets whom do. Agency-scoped roles act only on their agency's complaints (the services
check the complaint's agency); city-wide roles see the whole city."""

from kotalive.registry import Permission

STAFF_READERS = ("employee", "agency_supervisor", "liveroom_operator", "liveroom_supervisor", "city_admin")

PERMISSIONS = (
    Permission("laksa.complaint.submit", "Report a problem and follow one's own complaints", ("citizen",)),
    Permission("laksa.complaint.read", "See the complaints of one's agency (or of the city)", STAFF_READERS),
    Permission("laksa.complaint.note", "Write internal notes on a complaint one sees", STAFF_READERS),
    Permission(
        "laksa.complaint.work",
        "Acknowledge, work, resolve, reply to, or return one's agency's complaints",
        ("employee", "agency_supervisor"),
    ),
    Permission(
        "laksa.complaint.triage",
        "Forward complaints from the triage queue to agencies",
        ("liveroom_operator", "liveroom_supervisor", "city_admin"),
    ),
    Permission(
        "laksa.complaint.transfer",
        "Transfer a complaint to another agency",
        ("agency_supervisor", "liveroom_operator", "liveroom_supervisor", "city_admin"),
    ),
    Permission("laksa.complaint.duplicate", "Mark a complaint as a duplicate of another", STAFF_READERS),
    Permission(
        "laksa.complaint.assign",
        "Assign a complaint (employees: to themselves; supervisors: to anyone of the agency)",
        ("employee", "agency_supervisor", "liveroom_supervisor", "city_admin"),
    ),
    Permission(
        "laksa.complaint.classify",
        "Correct a complaint's category, priority or emergency flag",
        ("agency_supervisor", "liveroom_operator", "liveroom_supervisor", "city_admin"),
    ),
    Permission("laksa.template.manage", "Keep response templates", ("agency_supervisor", "city_admin")),
    Permission(
        "laksa.rule.manage", "Edit categories, hashtag rules, boundaries and SLA policies", ("city_admin",)
    ),
    Permission("laksa.open311.manage", "Issue and revoke Open311 API keys", ("city_admin",)),
)
