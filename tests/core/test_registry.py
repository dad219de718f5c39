"""Modules: loaded through entry points, clashes refused at start-up, switched per city."""

from __future__ import annotations

import pytest
from litestar import Router, get

from kotalive.app import module_routers
from kotalive.registry import LoadedModules, ModuleConfigError, ModuleSpec, Permission, check, discover, load


def test_the_three_modules_are_installed_and_load() -> None:
    loaded = load(["laksa", "liveroom", "hotline112"])
    assert loaded.names == ("laksa", "liveroom", "hotline112")


def test_an_unknown_module_is_refused_by_name() -> None:
    with pytest.raises(ModuleConfigError, match="chess"):
        discover(["laksa", "chess"])


def test_duplicate_permissions_and_hashtag_claims_are_refused() -> None:
    a = ModuleSpec(name="laksa", title="a", permissions=(Permission("laksa.x", "x"),), hashtags=("#Darurat",))
    b = ModuleSpec(name="liveroom", title="b", hashtags=("darurat",))
    with pytest.raises(ModuleConfigError, match="hashtag 'darurat'"):
        check([a, b])
    twice = ModuleSpec(
        name="laksa", title="a", permissions=(Permission("laksa.x", "x"), Permission("laksa.x", "y"))
    )
    with pytest.raises(ModuleConfigError, match="permission"):
        check([twice])
    foreign = ModuleSpec(name="laksa", title="a", permissions=(Permission("liveroom.x", "x"),))
    with pytest.raises(ModuleConfigError, match="must start with"):
        check([foreign])
    with pytest.raises(ModuleConfigError, match="module 'laksa'"):
        check([a, ModuleSpec(name="laksa", title="again")])


@get("/api/v1/shared/thing", sync_to_thread=False)
def _thing() -> dict[str, str]:
    return {}


DUPLICATE_ROUTES = [Router(path="/", route_handlers=[_thing])]


def test_duplicate_routes_across_modules_are_refused() -> None:
    path = f"{__name__}:DUPLICATE_ROUTES"
    mods = LoadedModules(
        (
            ModuleSpec(name="laksa", title="a", routes=path),
            ModuleSpec(name="liveroom", title="b", routes=path),
        )
    )
    with pytest.raises(ModuleConfigError, match="GET /api/v1/shared/thing"):
        module_routers(mods)


async def test_a_module_switched_off_answers_404_in_that_city_only(
    app, client_for, make_city, tenant_service, wait_for_status
) -> None:
    off, on = await make_city("off"), await make_city("on")
    await tenant_service.set_module(off.slug, "laksa", False)
    async with client_for(on.primary_host) as c:
        assert (await c.get("/api/v1/laksa/rules")).status_code == 200
    async with client_for(off.primary_host) as c:
        await wait_for_status(c, "/api/v1/laksa/rules", 404)
        # The others stay on: their guard answers (401 to an anonymous caller) instead of 404.
        assert (await c.get("/api/v1/liveroom/")).status_code == 401
        assert (await c.get("/api/v1/agencies")).status_code == 200


async def test_a_city_created_with_some_modules_has_only_those(app, client_for, make_city) -> None:
    city = await make_city("some", modules=["hotline112"])
    async with client_for(city.primary_host) as c:
        assert (await c.get("/api/v1/hotline112/")).status_code == 401  # on: guarded, not missing
        assert (await c.get("/api/v1/laksa/rules")).status_code == 404
        assert (await c.get("/api/v1/city")).json()["modules"] == ["hotline112"]


async def test_cli_switches_a_module_with_its_config(settings, tenant_service, make_city) -> None:
    import asyncio

    from click.testing import CliRunner

    from kotalive.cli import main

    city = await make_city("mod")
    env = {
        "KOTALIVE_DATABASE_URL": settings.database_url,
        "KOTALIVE_REDIS_URL": settings.redis_url,
        "KOTALIVE_ENV": "test",
    }

    def cli(*args: str) -> object:
        return CliRunner().invoke(main, ["tenants", "module", city.slug, *args], env=env)

    bad = await asyncio.to_thread(cli, "laksa", "on", "--config", "{nope")
    assert bad.exit_code == 2 and "config" in bad.output
    unknown = await asyncio.to_thread(cli, "chess", "on")
    assert unknown.exit_code == 2 and "module" in unknown.output
    ok = await asyncio.to_thread(cli, "laksa", "off", "--config", '{"close_after_days": 7}')
    assert ok.exit_code == 0, ok.output
    ctx = await tenant_service.context(city.slug)
    assert not ctx.has_module("laksa") and ctx.module_config["laksa"] == {"close_after_days": 7}
