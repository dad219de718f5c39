"""Per-city settings of outside systems (SIAK, Simpeg, SMS, OpenID provider, ...).

Plain settings stay readable JSON; secrets (API keys, client secrets) are encrypted with the
vault's rotatable keys and only decrypted when a client is built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from kotalive.auth.crypto import Vault
from kotalive.db import TenantSession
from kotalive.tenants.city_models import INTEGRATION_KINDS, IntegrationSetting


class IntegrationNotConfigured(LookupError):
    """The city has not connected this outside system (or switched it off)."""


@dataclass(frozen=True, slots=True)
class Integration:
    kind: str
    config: dict[str, Any]
    secrets: dict[str, str] = field(repr=False, default_factory=dict)
    enabled: bool = True

    def merged(self) -> dict[str, Any]:
        """Settings and secrets in one dict, the shape the adapters' ``from_dict`` take."""
        return {**self.config, **self.secrets}


def _check_kind(kind: str) -> None:
    if kind not in INTEGRATION_KINDS:
        raise ValueError(f"kind: unknown integration {kind!r}; known: {', '.join(INTEGRATION_KINDS)}")


async def get_integration(
    session: TenantSession, vault: Vault, kind: str, *, required: bool = True
) -> Integration | None:
    _check_kind(kind)
    # Three columns, not the ORM row: webhooks ask for their secret on every request.
    row = (
        await session.execute(
            select(
                IntegrationSetting.config, IntegrationSetting.secrets_encrypted, IntegrationSetting.enabled
            ).where(IntegrationSetting.kind == kind)
        )
    ).first()
    if row is None or not row.enabled:
        if required:
            raise IntegrationNotConfigured(f"{session.tenant.slug} has no {kind} integration configured")
        return None
    secrets = json.loads(vault.decrypt(row.secrets_encrypted)) if row.secrets_encrypted else {}
    return Integration(kind, dict(row.config or {}), secrets, row.enabled)


async def set_integration(
    session: TenantSession,
    vault: Vault,
    kind: str,
    *,
    config: dict[str, Any],
    secrets: dict[str, str] | None = None,
    enabled: bool = True,
) -> None:
    """Create or replace; ``secrets=None`` keeps the stored secrets."""
    _check_kind(kind)
    values: dict[str, Any] = {"kind": kind, "config": config, "enabled": enabled}
    if secrets is not None:
        values["secrets_encrypted"] = vault.encrypt(json.dumps(secrets)) if secrets else None
    stmt = insert(IntegrationSetting).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["kind"], set_={k: stmt.excluded[k] for k in values if k != "kind"}
        )
    )


async def list_integrations(session: TenantSession) -> list[IntegrationSetting]:
    return list(await session.scalars(select(IntegrationSetting).order_by(IntegrationSetting.kind)))


async def rotate_secrets(session: TenantSession, vault: Vault) -> int:
    """Re-encrypt every stored secret under the newest data key; returns how many."""
    rows = [r for r in await list_integrations(session) if r.secrets_encrypted]
    for row in rows:
        row.secrets_encrypted = vault.rotate(row.secrets_encrypted)  # type: ignore[arg-type]
    return len(rows)
