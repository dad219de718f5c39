"""Laksa's commands, added to ``kotalive`` through ModuleSpec.commands:

kotalive open311 issue-key SLUG --name NAME    a partner application's key (printed once)
kotalive open311 keys SLUG                     the city's keys (never the keys themselves)
kotalive open311 revoke-key SLUG ID
kotalive laksa areas SLUG FILE.geojson         replace the city's kecamatan/kelurahan boundaries
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from kotalive.auth import audit
from kotalive.cli import Runtime, console, fail, with_runtime
from kotalive.context import use_tenant
from kotalive.modules.laksa import configuration as config
from kotalive.modules.laksa.domain import InputErrors, NotFound
from kotalive.modules.laksa.web import problem_text


@click.group("open311")
def open311() -> None:
    """Open311 GeoReport v2 partner keys of a city (its API is at /open311/v2/ on the city's host)."""


@open311.command("issue-key")
@click.argument("slug")
@click.option("--name", required=True, help="The partner application, e.g. 'Aplikasi Warga Banten'.")
@with_runtime
async def issue_key(rt: Runtime, slug: str, name: str) -> None:
    """Issue a key; it is printed once and only its hash is kept."""
    city = await rt.tenants.context(slug)
    with use_tenant(city):
        async with rt.db.tenant_session(city) as session:
            try:
                row, key = await config.issue_api_key(session, name, "kotalive open311 issue-key")
            except InputErrors as exc:
                fail("; ".join(f"{p.field}: {problem_text(p, 'en')}" for p in exc.problems))
                return
            audit.record(
                session,
                "laksa.open311.key_issued",
                target_kind="laksa",
                target_id=name[:100],
                system=True,
                actor_label="kotalive open311 issue-key",
            )
            await session.commit()
    console.print(f"Open311 key {row.id} for {row.name!r} in {city.name}:")
    console.print(key, soft_wrap=True)
    console.print(
        f"Partners send it as api_key to https://{city.primary_host}/open311/v2/requests.json; "
        "it is not shown again (revoke it and issue another if it is lost)."
    )


@open311.command("keys")
@click.argument("slug")
@with_runtime
async def list_keys(rt: Runtime, slug: str) -> None:
    """The city's Open311 keys: id, name, prefix, last use."""
    city = await rt.tenants.context(slug)
    async with rt.db.tenant_session(city) as session:
        rows = await config.list_api_keys(session)
    if not rows:
        console.print(f"{slug} has no Open311 keys: kotalive open311 issue-key {slug} --name NAME")
    for k in rows:
        state = "revoked" if k.revoked_at else "active"
        used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never used"
        console.print(f"{k.id}\t{k.prefix}…\t{state}\t{used}\t{k.name}")


@open311.command("revoke-key")
@click.argument("slug")
@click.argument("key_id", type=int)
@with_runtime
async def revoke_key(rt: Runtime, slug: str, key_id: int) -> None:
    city = await rt.tenants.context(slug)
    async with rt.db.tenant_session(city) as session:
        try:
            row = await config.revoke_api_key(session, key_id)
        except NotFound:
            fail(f"{slug} has no Open311 key {key_id} (kotalive open311 keys {slug})")
            return
        await session.commit()
    console.print(f"revoked key {row.id} ({row.name})")


@click.group("laksa")
def laksa() -> None:
    """Laksa (citizen complaints) of a city."""


@laksa.command("areas")
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_runtime
async def import_areas(rt: Runtime, slug: str, file: Path) -> None:
    """Replace the city's kecamatan and kelurahan boundaries with a GeoJSON FeatureCollection."""
    try:
        document = json.loads(await asyncio.to_thread(file.read_text, encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"{file}: not a GeoJSON file ({exc})")
        return
    city = await rt.tenants.context(slug)
    with use_tenant(city):
        async with rt.db.tenant_session(city) as session:
            try:
                areas = await config.replace_areas(session, document)
            except InputErrors as exc:
                fail("; ".join(problem_text(p, "en") for p in exc.problems))
                return
            audit.record(
                session,
                "laksa.areas.replace",
                target_kind="laksa",
                target_id=str(file.name)[:100],
                system=True,
                actor_label="kotalive laksa areas",
            )
            await session.commit()
    kec = sum(1 for a in areas if a.kind == "kecamatan")
    console.print(f"{city.name}: {kec} kecamatan and {len(areas) - kec} kelurahan")


commands = [open311, laksa]
