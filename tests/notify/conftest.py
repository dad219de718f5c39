"""Fixtures of the notification tests: a city with boundaries, wired to a real SMTP server and the
SMS simulator."""

from __future__ import annotations

import pytest
from laksa_support import with_boundaries
from notify_support import SmtpServer, wire


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def city(make_city, database, settings, smtp, sims):
    c = await make_city("notify", region_code="3671", name="Kota Uji Kabar")
    await with_boundaries(database, c)
    await wire(database, settings, c, smtp=smtp, sims=sims)
    return c
