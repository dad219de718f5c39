"""`kotalive tenants integration`: connect a city to its systems, secrets encrypted, connection tried."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner

from kotalive.cli import main


async def test_connect_check_and_list_a_citys_siak(settings, make_city, sims) -> None:
    city = await make_city("conn")
    env = {
        "KOTALIVE_DATABASE_URL": settings.database_url,
        "KOTALIVE_REDIS_URL": settings.redis_url,
        "KOTALIVE_ENV": "test",
    }
    siak = sims.city_settings("tangerang")["siak"]

    def cli(*args: str) -> object:
        return CliRunner().invoke(main, ["tenants", "integration", city.slug, *args], env=env)

    def run(*args: str) -> object:
        return asyncio.to_thread(cli, *args)

    as_setting = await run("siak", "--set", f"base_url={siak['base_url']}", "--set", "api_key=oops")
    assert as_setting.exit_code == 2 and "--secret" in as_setting.output
    unknown = await run(
        "siak", "--set", f"base_url={siak['base_url']}", "--set", "colour=blue", "--secret", "api_key=x"
    )
    assert unknown.exit_code == 2 and "colour" in unknown.output
    wrong_key = await run(
        "siak", "--set", f"base_url={siak['base_url']}", "--secret", "api_key=wrong", "--check"
    )
    assert wrong_key.exit_code == 1 and "siak" in wrong_key.output.lower()
    ok = await run(
        "siak", "--secret", f"api_key={siak['api_key']}", "--set", "refuse_non_residents=true", "--check"
    )
    assert ok.exit_code == 0 and "accepted the key" in ok.output, ok.output
    listed = await run()
    assert listed.exit_code == 0 and "siak (on)" in listed.output and siak["api_key"] not in listed.output
    bad_flag = await run("siak", "--set", "refuse_non_residents=maybe")
    assert bad_flag.exit_code == 2 and "refuse_non_residents" in bad_flag.output
    sims.faults("siak", "tangerang").fail_count = 5
    try:
        down = await run("siak", "--check")
        assert down.exit_code == 1
    finally:
        sims.faults("siak", "tangerang").reset()
