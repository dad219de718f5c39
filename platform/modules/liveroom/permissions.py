"""What the Live Room lets whom do. The room is city-wide: operators see every agency's items."""

from kotalive.registry import Permission

ROOM = ("liveroom_operator", "liveroom_supervisor")

PERMISSIONS = (
    Permission("liveroom.board.view", "See the live board", (*ROOM, "city_admin")),
    Permission("liveroom.item.triage", "Claim, classify, forward, merge and escalate items", ROOM),
    Permission("liveroom.duty", "Check in and out, write and acknowledge the shift handover", ROOM),
    Permission(
        "liveroom.shift.manage", "Keep the shifts and the roster", ("liveroom_supervisor", "city_admin")
    ),
    Permission("liveroom.measures.view", "See the room's measures and export them", (*ROOM, "city_admin")),
)
