from kotalive.db import Database


async def test_city_is_provisioned(make_city, database: Database) -> None:
    city = await make_city()
    async with database.tenant_session(city) as s:
        n = (await s.execute_sql("SELECT count(*) FROM {city}.agency")).scalar_one()
    assert n >= 10
