"""What the Live Room tells people, in both languages (a city admin may reword each per channel):
an item escalated by an operator reaches the room's supervisors at once, whatever the hour."""

from __future__ import annotations

from kotalive.notify import Message, Wording

SAMPLE = {
    "item_id": 42,
    "kind": "complaint",
    "source_id": 123,
    "title": "Pohon tumbang menutup jalan",
    "note": "Perlu alat berat; PUPR belum menjawab",
    "operator": "Ani Operator",
    "city": "Kota Tangerang",
}

ESCALATED = Message(
    key="liveroom.escalated",
    description="An operator escalated a board item to the Live Room's supervisors",
    wording={
        "id": Wording(
            "Eskalasi dari {{ operator }}: {{ title }}",
            "{{ operator }} meminta keputusan supervisor untuk item #{{ item_id }}: {{ note }}",
        ),
        "en": Wording(
            "Escalated by {{ operator }}: {{ title }}",
            "{{ operator }} asks a supervisor to decide on item #{{ item_id }}: {{ note }}",
        ),
    },
    channels={"employee": ("inapp", "email")},
    sample=SAMPLE,
    link="/liveroom/item/{{ item_id }}",
)

MESSAGES = (ESCALATED,)
