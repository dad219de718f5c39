"""Login sessions: an opaque cookie, the session server-side in Redis, bound to one city.

Why not Litestar's server-side sessions: a login must rotate the session id (fixation), a
leaver's or demoted person's sessions must all be revocable at once (an index per person), and
the session must name its city so another city's host refuses it (ARCHITECTURE §4 rule 5).
The cookie is host-only, Secure, HttpOnly and SameSite=Lax; Redis holds only a hash of the token.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import msgspec
import redis.asyncio as aioredis

from kotalive.auth.principal import Principal

COOKIE_NAME = "kl_session"
PREFIX = "kotalive:session"


@dataclass(frozen=True, slots=True)
class SessionData:
    tenant_id: int | None
    kind: str
    subject_id: int
    name: str
    roles: list[str]
    agency_ids: list[int] = field(default_factory=list)
    created_at: float = 0.0

    def principal(self) -> Principal:
        return Principal(
            kind=self.kind,
            id=self.subject_id,
            tenant_id=self.tenant_id,
            name=self.name,
            roles=frozenset(self.roles),
            agency_ids=frozenset(self.agency_ids),
            via="session",
        )

    @classmethod
    def of(cls, principal: Principal) -> SessionData:
        return cls(
            tenant_id=principal.tenant_id,
            kind=principal.kind,
            subject_id=principal.id,
            name=principal.name,
            roles=sorted(principal.roles),
            agency_ids=sorted(principal.agency_ids),
            created_at=time.time(),
        )


def cookie_options(settings: Any, token: str) -> dict[str, Any]:
    """Keyword arguments of ``Response.set_cookie`` for a login session: host-only (no Domain),
    Secure, HttpOnly, SameSite=Lax, living as long as the server-side session."""
    return {
        "key": COOKIE_NAME,
        "value": token,
        "max_age": settings.session_max_age,
        "path": "/",
        "secure": settings.cookie_secure,
        "httponly": True,
        "samesite": "lax",
    }


async def end_login(request: Any, response: Any) -> None:
    """Log out: end the session the request's cookie names, and expire the cookie on ``response``."""
    token = request.cookies.get(COOKIE_NAME)
    store: SessionStore | None = request.app.state.auth.sessions
    if token and store is not None:
        await store.destroy(token)
    response.delete_cookie(COOKIE_NAME, path="/")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _subject_key(tenant_id: int | None, kind: str, subject_id: int) -> str:
    return f"{PREFIX}:subject:{tenant_id or 'platform'}:{kind}:{subject_id}"


class SessionStore:
    def __init__(self, redis: aioredis.Redis, max_age: int) -> None:
        self.redis = redis
        self.max_age = max_age

    async def create(self, principal: Principal) -> str:
        token = secrets.token_urlsafe(32)
        data = SessionData.of(principal)
        key = f"{PREFIX}:{_digest(token)}"
        index = _subject_key(data.tenant_id, data.kind, data.subject_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, msgspec.json.encode(asdict(data)), ex=self.max_age)
            pipe.sadd(index, key)
            pipe.expire(index, self.max_age)
            await pipe.execute()
        return token

    async def load(self, token: str) -> SessionData | None:
        if not token or len(token) > 128:
            return None
        raw = await self.redis.get(f"{PREFIX}:{_digest(token)}")
        if raw is None:
            return None
        try:
            return SessionData(**msgspec.json.decode(raw))
        except (msgspec.DecodeError, TypeError):
            return None

    async def destroy(self, token: str) -> None:
        if token:
            await self.redis.delete(f"{PREFIX}:{_digest(token)}")

    async def revoke_subject(self, tenant_id: int | None, kind: str, subject_id: int) -> int:
        """End every session of one person (left the city, roles changed, account deleted)."""
        index = _subject_key(tenant_id, kind, subject_id)
        keys = [k.decode() if isinstance(k, bytes) else k for k in await self.redis.smembers(index)]
        if keys:
            await self.redis.delete(*keys, index)
        return len(keys)
