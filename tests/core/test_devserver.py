"""The embedded PostgreSQL and Redis that `make run` (and `make test` on a bare machine) start.

Real servers in a temporary folder, forced with ``force_embedded`` so the local ones on this machine
do not hide what a fresh machine would do.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import asyncpg
import psutil
import redis.asyncio as aioredis
from sqlalchemy import text

from kotalive.db import create_engine
from kotalive.devserver import DEV_DATABASE, Services, ensure_services, port_answers
from kotalive.settings import Settings, plain_postgres_url


def _postgres_processes(folder: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(str(folder) in part for part in proc.info["cmdline"] or []):
            found.append(proc)
    return found


def _redis_port(redis_url: str) -> int:
    return int(redis_url.split(":")[2].split("/")[0])


async def test_embedded_servers_start_answer_and_stop(tmp_path: Path) -> None:
    svc: Services = await asyncio.to_thread(
        ensure_services, purpose="dev", data_dir=tmp_path, force_embedded=True
    )
    try:
        assert [s.label for s in svc.embedded] == ["PostgreSQL", "Redis"]
        # A unix socket URL naming the development database, which was created.
        assert svc.database_url.startswith(f"postgresql://postgres@/{DEV_DATABASE}?host=")
        conn = await asyncpg.connect(plain_postgres_url(svc.database_url))
        try:
            assert await conn.fetchval("SELECT current_database()") == DEV_DATABASE
        finally:
            await conn.close()

        # The same URL through Settings and SQLAlchemy (host= must survive the asyncpg form).
        settings = Settings.from_env(
            {"KOTALIVE_DATABASE_URL": svc.database_url, "KOTALIVE_REDIS_URL": svc.redis_url}
        )
        engine = create_engine(settings, pool_size=1)
        try:
            async with engine.connect() as c:
                assert (await c.execute(text("SELECT inet_server_addr() IS NULL"))).scalar_one()
        finally:
            await engine.dispose()

        client = aioredis.from_url(svc.redis_url)
        try:
            await client.set("kotalive:probe", "ok")
            assert await client.get("kotalive:probe") == b"ok"
        finally:
            await client.aclose()
        assert _postgres_processes(tmp_path)
    finally:
        await asyncio.to_thread(svc.stop)

    assert not _postgres_processes(tmp_path)
    assert not port_answers("127.0.0.1", _redis_port(svc.redis_url))


async def test_a_killed_run_leaves_nothing_that_blocks_the_next(tmp_path: Path) -> None:
    # An earlier run killed with SIGKILL: its PostgreSQL keeps running, its pid stays registered.
    code = (
        "import json, os, signal, sys\n"
        "from pathlib import Path\n"
        "from kotalive.devserver import ensure_services\n"
        "s = ensure_services(purpose='test', data_dir=Path(sys.argv[1]), force_embedded=True)\n"
        "print(json.dumps({'db': s.database_url, 'redis': s.redis_url}), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-P", "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == -9, proc.stderr
    killed = json.loads(proc.stdout)
    assert _postgres_processes(tmp_path), "the killed run's PostgreSQL should still be running"

    svc = await asyncio.to_thread(ensure_services, purpose="test", data_dir=tmp_path, force_embedded=True)
    try:
        assert svc.database_url == killed["db"]
        conn = await asyncpg.connect(plain_postgres_url(svc.database_url))
        await conn.close()
        client = aioredis.from_url(svc.redis_url)
        try:
            assert await client.ping()
        finally:
            await client.aclose()
    finally:
        await asyncio.to_thread(svc.stop)

    # This run stopped the adopted server too, and nothing listens on either Redis port.
    assert not _postgres_processes(tmp_path)
    assert not port_answers("127.0.0.1", _redis_port(killed["redis"]))
    assert not port_answers("127.0.0.1", _redis_port(svc.redis_url))
