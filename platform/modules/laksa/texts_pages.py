"""Texts of Laksa's pages (citizen, staff, public map), Bahasa Indonesia first."""

from __future__ import annotations

PAGES: dict[str, dict[str, str]] = {"id": {}, "en": {}}
