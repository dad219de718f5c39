"""The Live Room's texts, merged into the catalogues when the module loads: the board and its
actions, shifts and handover, and the pages."""

from __future__ import annotations

from kotalive.modules.liveroom.texts_board import BOARD
from kotalive.modules.liveroom.texts_pages import PAGES
from kotalive.modules.liveroom.texts_shifts import SHIFTS

TEXTS: dict[str, dict[str, str]] = {
    lang: {**BOARD[lang], **SHIFTS[lang], **PAGES[lang]} for lang in ("id", "en")
}
