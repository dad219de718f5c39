"""Fixtures of the Laksa tests: a provisioned city with (demo) boundaries."""

from __future__ import annotations

import pytest
from laksa_support import with_boundaries


@pytest.fixture
async def city(make_city, database):
    """A new Kota Tangerang-like city with the demo kecamatan/kelurahan boundaries."""
    c = await make_city("laksa", region_code="3671", name="Kota Uji Laksa")
    await with_boundaries(database, c)
    return c
