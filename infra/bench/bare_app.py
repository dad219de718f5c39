"""The yardstick of ARCHITECTURE §10: bare Litestar + raw asyncpg serving the same reads.

Same data (the cities' ``agency`` tables in the throwaway database), same host -> schema lookup
from memory, same uvicorn settings, pool size and statement cache size as `kotalive serve`; no
ORM, no session, no transaction. The
benchmark quotes the platform's throughput as a ratio of this one, measured in the same run.

    .venv/bin/python -P infra/bench/bare_app.py --port 8001 --dsn postgresql://... \
        --hosts-file hosts.json        # JSON {"host": "city_1", ...}
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import asyncpg
import msgspec
import uvicorn
from litestar import Litestar, Request, get
from litestar.exceptions import NotFoundException


class AgencyOut(msgspec.Struct):
    id: int
    code: str
    abbreviation: str
    name: str
    kind: str
    parent_id: int | None
    active: bool


COLUMNS = "id, code, abbreviation, name, kind, parent_id, active"


def build(dsn: str, schemas_by_host: dict[str, str], pool_size: int, statement_cache: int) -> Litestar:
    state: dict[str, asyncpg.Pool] = {}

    async def startup() -> None:
        # The platform's statement cache size: asyncpg's default (100) would re-prepare every
        # city's statement once a few dozen cities are spread over a connection.
        state["pool"] = await asyncpg.create_pool(
            dsn, min_size=pool_size, max_size=pool_size, statement_cache_size=statement_cache
        )

    async def shutdown() -> None:
        await state["pool"].close()

    def schema(request: Request) -> str:
        host = (request.headers.get("host") or "").split(":", 1)[0]
        found = schemas_by_host.get(host)
        if found is None:
            raise NotFoundException()
        return found

    @get("/api/v1/agencies/{agency_id:int}")
    async def get_agency(request: Request, agency_id: int) -> AgencyOut:
        sql = f'SELECT {COLUMNS} FROM "{schema(request)}".agency WHERE id = $1'  # noqa: S608
        row = await state["pool"].fetchrow(sql, agency_id)
        if row is None:
            raise NotFoundException()
        return AgencyOut(*row)

    @get("/api/v1/agencies")
    async def list_agencies(request: Request) -> list[AgencyOut]:
        sql = f'SELECT {COLUMNS} FROM "{schema(request)}".agency ORDER BY id'  # noqa: S608
        return [AgencyOut(*r) for r in await state["pool"].fetch(sql)]

    @get("/readyz", sync_to_thread=False)
    def readyz() -> dict[str, str]:
        return {"status": "ready"}

    return Litestar([get_agency, list_agencies, readyz], on_startup=[startup], on_shutdown=[shutdown])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--hosts-file", type=Path, required=True)
    parser.add_argument("--pool-size", type=int, default=20)
    parser.add_argument("--statement-cache", type=int, default=4000)
    args = parser.parse_args()
    app = build(args.dsn, json.loads(args.hosts_file.read_text()), args.pool_size, args.statement_cache)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
