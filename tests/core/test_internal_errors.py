"""A bug in a handler answers a bare 500 and leaves its traceback in the log."""

from __future__ import annotations

import logging

import kotalive.app


async def test_a_bug_is_logged_with_its_traceback_and_answered_without_details(
    app, client_for, make_city, monkeypatch, caplog
) -> None:
    city = await make_city("bug")

    def broken() -> object:
        raise RuntimeError("the secret inner state of a bug")

    monkeypatch.setattr(kotalive.app, "current_tenant", broken)
    with caplog.at_level(logging.ERROR, logger="kotalive.app"):
        async with client_for(city.primary_host) as c:
            r = await c.get("/api/v1/city")
    assert r.status_code == 500 and r.json() == {"status_code": 500, "detail": "Internal Server Error"}
    assert "secret inner state" not in r.text
    record = next(rec for rec in caplog.records if rec.name == "kotalive.app")
    assert "GET /api/v1/city failed" in record.getMessage() and record.exc_info is not None
