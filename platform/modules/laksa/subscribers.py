"""Laksa's reactions to events (its own: photos are processed after the submission committed)."""

from __future__ import annotations

from typing import Any

from kotalive.db import TenantSession
from kotalive.modules.laksa.services import process_pending_photos


async def process_photos(event_type: str, payload: dict[str, Any], session: TenantSession) -> None:
    """Re-encode the complaint's new photos without EXIF and make thumbnails (in the event's
    transaction: a worker killed half-way leaves them pending, and the redelivery does them)."""
    await process_pending_photos(session, int(payload["complaint_id"]))
