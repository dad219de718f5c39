"""What Laksa tells people, in both languages (a city admin may reword each per channel).

Values every message gets (``values()`` in subscribers.py): id, summary, category, category_en,
agency, kecamatan, state, state_label, state_label_en, due (the city's local time), city, url (the
complaint's page on the city's host).
"""

from __future__ import annotations

from kotalive.notify import Message, Wording

SAMPLE = {
    "id": 123,
    "summary": "Lampu jalan mati di depan gang #lampumati",
    "category": "Lampu jalan (PJU) mati atau rusak",
    "category_en": "Street lamp out or broken",
    "agency": "Dinas Pekerjaan Umum dan Penataan Ruang",
    "kecamatan": "Cipondoh",
    "state": "resolved",
    "state_label": "Selesai ditangani",
    "state_label_en": "Resolved",
    "due": "03-12-2026 14:00 WIB",
    "city": "Kota Tangerang",
    "url": "https://tangerang.kotalive.id/laporan/123",
    "note": "Lampu sudah diganti",
    "body": "Akan kami perbaiki besok pagi",
    "count": 4,
    "overdue": 12,
    "breached": 3,
    "at_risk": 2,
    "open": 17,
    "agency_name": "Dinas PUPR",
}

STAFF_LINK = "/staff/laksa/{{ id }}"
CITIZEN_LINK = "/laporan/{{ id }}"

ROUTED = Message(
    key="laksa.routed",
    description="A complaint reached the agency (by rule, from triage, or transferred)",
    wording={
        "id": Wording(
            "Pengaduan baru #{{ id }} untuk {{ agency }}",
            "{{ category or 'Tanpa kategori' }}{% if kecamatan %} di {{ kecamatan }}{% endif %}: {{ summary }}"
            "{% if due %} (tenggat {{ due }}){% endif %}",
        ),
        "en": Wording(
            "New complaint #{{ id }} for {{ agency }}",
            "{{ category_en or category or 'No category' }}{% if kecamatan %} in {{ kecamatan }}{% endif %}:"
            " {{ summary }}{% if due %} (due {{ due }}){% endif %}",
        ),
    },
    channels={"employee": ("inapp", "email")},
    sample=SAMPLE,
    link=STAFF_LINK,
)

EMERGENCY = Message(
    key="laksa.emergency",
    description="An emergency complaint (fire, flood, wasp nest...): the Live Room, at any hour",
    wording={
        "id": Wording(
            "DARURAT #{{ id }}: {{ category or 'pengaduan darurat' }}{% if kecamatan %} di {{ kecamatan }}{% endif %}",
            "{{ summary }}{% if agency %} (diteruskan ke {{ agency }}){% else %} (menunggu verifikasi){% endif %}",
        ),
        "en": Wording(
            "EMERGENCY #{{ id }}: {{ category_en or category or 'emergency' }}"
            "{% if kecamatan %} in {{ kecamatan }}{% endif %}",
            "{{ summary }}{% if agency %} (forwarded to {{ agency }}){% else %} (waiting for triage){% endif %}",
        ),
    },
    channels={"employee": ("inapp", "sms")},
    sample=SAMPLE,
    link=STAFF_LINK,
)

TRIAGE = Message(
    key="laksa.triage",
    description="A complaint no rule routed is waiting in the triage queue",
    wording={
        "id": Wording(
            "Menunggu verifikasi: #{{ id }}", "{{ summary }}{% if kecamatan %} ({{ kecamatan }}){% endif %}"
        ),
        "en": Wording(
            "Waiting for triage: #{{ id }}", "{{ summary }}{% if kecamatan %} ({{ kecamatan }}){% endif %}"
        ),
    },
    channels={"employee": ("inapp",)},
    sample=SAMPLE,
    link=STAFF_LINK,
)

STATUS = Message(
    key="laksa.status",
    description="A complaint the citizen reported or supports changed state",
    wording={
        "id": Wording(
            "Pengaduan #{{ id }}: {{ state_label }}",
            "{{ summary }}{% if agency %} · {{ agency }}{% endif %}{% if note %} — {{ note }}{% endif %}",
        ),
        "en": Wording(
            "Complaint #{{ id }}: {{ state_label_en }}",
            "{{ summary }}{% if agency %} · {{ agency }}{% endif %}{% if note %} — {{ note }}{% endif %}",
        ),
    },
    channels={"citizen": ("inapp",)},
    sample=SAMPLE,
    link=CITIZEN_LINK,
)

RESOLVED = Message(
    key="laksa.resolved",
    description="A complaint the citizen reported or supports was resolved",
    wording={
        "id": Wording(
            "Pengaduan #{{ id }} selesai ditangani",
            "{{ agency }}: {{ note or 'pengaduan Anda sudah ditangani' }}. Lihat dan beri nilai: {{ url }}",
        ),
        "en": Wording(
            "Complaint #{{ id }} resolved",
            "{{ agency }}: {{ note or 'your complaint was handled' }}. See and rate it: {{ url }}",
        ),
    },
    channels={"citizen": ("inapp", "sms")},
    sample=SAMPLE,
    link=CITIZEN_LINK,
)

REPLY = Message(
    key="laksa.reply",
    description="The agency replied on a complaint the citizen reported or supports",
    wording={
        "id": Wording("Balasan untuk pengaduan #{{ id }}", "{{ agency }}: {{ body }}"),
        "en": Wording("A reply on complaint #{{ id }}", "{{ agency }}: {{ body }}"),
    },
    channels={"citizen": ("inapp",)},
    sample=SAMPLE,
    link=CITIZEN_LINK,
)

ASSIGNED = Message(
    key="laksa.assigned",
    description="A complaint was assigned to the employee",
    wording={
        "id": Wording(
            "Ditugaskan kepada Anda: #{{ id }}", "{{ summary }}{% if due %} (tenggat {{ due }}){% endif %}"
        ),
        "en": Wording("Assigned to you: #{{ id }}", "{{ summary }}{% if due %} (due {{ due }}){% endif %}"),
    },
    channels={"employee": ("inapp", "email")},
    sample=SAMPLE,
    link=STAFF_LINK,
)

SLA_AT_RISK = Message(
    key="laksa.sla_at_risk",
    description="A complaint's deadline is close (the assignee and the agency supervisors)",
    wording={
        "id": Wording("Tenggat mendekat: #{{ id }}", "{{ summary }} — tenggat {{ due }}"),
        "en": Wording("Deadline close: #{{ id }}", "{{ summary }} — due {{ due }}"),
    },
    channels={"employee": ("inapp", "email")},
    sample=SAMPLE,
    link=STAFF_LINK,
)

SLA_BREACHED = Message(
    key="laksa.sla_breached",
    description="A complaint is past its deadline (the agency supervisors)",
    wording={
        "id": Wording("Melewati tenggat: #{{ id }}", "{{ summary }} — tenggat {{ due }}, {{ agency }}"),
        "en": Wording("Overdue: #{{ id }}", "{{ summary }} — due {{ due }}, {{ agency }}"),
    },
    channels={"employee": ("inapp", "email")},
    sample=SAMPLE,
    link=STAFF_LINK,
)

SLA_ESCALATED = Message(
    key="laksa.sla_escalated",
    description="A complaint is still open long after its deadline (the Live Room)",
    wording={
        "id": Wording(
            "Eskalasi: #{{ id }} lewat tenggat {{ overdue }} menit",
            "{{ agency }}: {{ summary }}{% if kecamatan %} ({{ kecamatan }}){% endif %}",
        ),
        "en": Wording(
            "Escalation: #{{ id }} {{ overdue }} minutes overdue",
            "{{ agency }}: {{ summary }}{% if kecamatan %} ({{ kecamatan }}){% endif %}",
        ),
    },
    channels={"employee": ("inapp",)},
    sample=SAMPLE,
    link=STAFF_LINK,
)

DIGEST = Message(
    key="laksa.digest",
    description="The agency supervisors' daily summary",
    wording={
        "id": Wording(
            "Ringkasan harian {{ agency_name }}",
            "{{ open }} pengaduan terbuka, {{ at_risk }} mendekati tenggat, {{ breached }} melewati tenggat.",
        ),
        "en": Wording(
            "Daily summary of {{ agency_name }}",
            "{{ open }} open complaints, {{ at_risk }} close to their deadline, {{ breached }} overdue.",
        ),
    },
    channels={"employee": ("inapp", "email")},
    sample=SAMPLE,
    link="/staff/laksa",
)

MESSAGES = (
    ROUTED,
    EMERGENCY,
    TRIAGE,
    STATUS,
    RESOLVED,
    REPLY,
    ASSIGNED,
    SLA_AT_RISK,
    SLA_BREACHED,
    SLA_ESCALATED,
    DIGEST,
)
