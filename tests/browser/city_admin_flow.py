"""The city admin's part of the end-to-end flow, as a reusable step: in a page already signed in as
a city admin of the city at ``base_url``, create an agency and a hashtag rule sending a hashtag to
it, and check the rule with the "test a complaint text" box.

Chained after the platform console's onboarding (the lead's end-to-end test) and used by
tests/browser/test_city_admin_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from playwright.async_api import expect

Shoot = Callable[[Any, str], Awaitable[Any]]


@dataclass(frozen=True)
class CreatedRouting:
    agency_id: int
    agency_code: str
    rule_id: int
    hashtag: str


async def _no_shot(page: Any, name: str) -> None:
    return None


async def create_agency_and_rule(
    page: Any,
    base_url: str,
    *,
    agency_code: str = "dpkp",
    agency_name: str = "Dinas Pertamanan dan Kebersihan Kota",
    abbreviation: str = "DPKP",
    hashtag: str = "tamanrusak",
    rule_code: str | None = None,
    screenshots: Shoot | None = None,
    prefix: str = "admin",
) -> CreatedRouting:
    """Create the agency (``agency_code``) and a rule routing ``#hashtag`` to it, through the
    pages (in Bahasa Indonesia, whatever the browser's language); returns their ids."""
    shoot = screenshots or _no_shot
    base = base_url.rstrip("/")
    await page.goto(f"{base}/admin/?lang=id")  # the labels below are Indonesian; the cookie keeps it
    await expect(page.get_by_role("heading", name="Ringkasan kota")).to_be_visible()
    await shoot(page, f"{prefix}-01-dashboard")

    await page.goto(f"{base}/admin/agencies/new")
    await page.get_by_label("Kode", exact=True).fill(agency_code)
    await page.get_by_label("Nama", exact=True).fill(agency_name)
    await page.get_by_label("Singkatan").fill(abbreviation)
    await page.get_by_label("Jenis").select_option("dinas")
    await page.get_by_label("E-mail").fill(f"{agency_code}@kota.go.id")
    await shoot(page, f"{prefix}-02-agency-form")
    await page.get_by_role("button", name="Simpan").click()
    await page.wait_for_url(re.compile(r"/admin/agencies/\d+\?notice="))
    await expect(page.get_by_role("status")).to_contain_text("Perangkat daerah tersimpan")
    agency_id = int(re.search(r"/admin/agencies/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    await shoot(page, f"{prefix}-03-agency-saved")

    await page.goto(f"{base}/admin/rules/new")
    await page.get_by_label("Kode aturan").fill(rule_code or f"{hashtag}-{agency_code}")
    await page.get_by_label("Tagar (sinonim)").fill(f"#{hashtag}")
    await page.locator("#f-agency_id").select_option(str(agency_id))
    await page.get_by_label("Urutan").fill("1")
    await shoot(page, f"{prefix}-04-rule-form")
    await page.get_by_role("button", name="Simpan").click()
    await page.wait_for_url(re.compile(r"/admin/rules/\d+\?notice="))
    await expect(page.get_by_role("status")).to_contain_text("Aturan tagar tersimpan")
    rule_id = int(re.search(r"/admin/rules/(\d+)", page.url).group(1))  # type: ignore[union-attr]

    # The test box answers as one types, with Laksa's own routing.
    await page.goto(f"{base}/admin/rules")
    await page.get_by_label("Teks pengaduan", exact=True).fill(f"Ayunan di taman kota patah #{hashtag}")
    await expect(page.locator("#test-agency")).to_contain_text(abbreviation)
    await expect(page.locator("#test-verdict")).to_contain_text(rule_code or f"{hashtag}-{agency_code}")
    await shoot(page, f"{prefix}-05-rule-test-box")
    return CreatedRouting(agency_id, agency_code, rule_id, hashtag)
