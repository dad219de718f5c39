"""The platform console in a real browser (Chromium, laptop and tablet sizes): a platform operator
logs in with password and authenticator code, onboards a new city through the wizard (a wrong
region code is refused beside its field), watches it being provisioned, and the city answers on
its own host; its first admin's invitation reaches the mail server. Screenshots of every step go
to test-artifacts/browser/console-*.png."""

from __future__ import annotations

from console_flow import (  # noqa: F401
    console_site,
    desk_context,
    login_to_console,
    onboard_city_in_console,
    sign_in_city_admin,
)
from playwright.async_api import expect
from support import wait_until


async def test_an_operator_onboards_a_new_city_in_the_console(console_site, browser, screenshots) -> None:  # noqa: F811
    site = console_site
    context = await desk_context(browser, site.base_url)
    tablet = await desk_context(browser, site.base_url, width=820, height=1180)
    try:
        page = await context.new_page()
        await login_to_console(page, site, shoot=screenshots)
        city = await onboard_city_in_console(page, site.base_url, shoot=screenshots)

        # The new city answers on its own host at once.
        visitor = await context.new_page()
        await visitor.goto(city["city_url"] + "/")
        await expect(visitor.get_by_role("heading", name=city["name"]).first).to_be_visible()
        await screenshots(visitor, "console-10-city-home")

        # The first admin's invitation is in the platform's mailbox, with the login link.
        await wait_until(lambda: site.smtp.mailbox.to(city["admin_email"]), "the invitation e-mail", 10)
        body = site.smtp.mailbox.to(city["admin_email"])[0].get_payload(decode=True).decode()
        assert city["login_url"] in body and city["admin_nip"] in body
        assert city["admin_employee_id"] > 0

        # Its admin, signed in on the city's host, holds city_admin there.
        principal = await sign_in_city_admin(site, context, city)
        assert "city_admin" in principal.roles

        # The same console on a tablet (same login): the list finds the new city, active.
        await tablet.add_cookies(await context.cookies())
        small = await tablet.new_page()
        await small.goto(f"{site.base_url}/console/?q={city['slug']}")
        await expect(small.locator(f'tr[data-slug="{city["slug"]}"]')).to_contain_text("aktif")
        await screenshots(small, "console-11-tablet-cities")
    finally:
        await context.close()
        await tablet.close()
