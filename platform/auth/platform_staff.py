"""Platform staff: accounts of the platform team (schema ``platform``), password plus TOTP.

- The password is an Argon2id hash; the TOTP secret is encrypted with the vault's rotatable keys.
- A TOTP code is accepted once: the step it belongs to must be later than the last accepted step,
  and that is written with a conditional UPDATE, so two logins racing with one code cannot both win.
- Failed attempts are limited per account and per IP address in Redis; a locked-out attempt is
  refused before the password is even checked, so guessing continues to cost nothing but time.
- These accounts log in on the platform host only (the routes answer nowhere else, and a platform
  session is refused on a city's host by the auth middleware).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import re
import secrets
import time
from dataclasses import dataclass

import pyotp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kotalive.auth import audit
from kotalive.auth.crypto import Vault
from kotalive.auth.models import PlatformStaff
from kotalive.auth.passwords import check_strength, hash_password, needs_rehash, verify_password
from kotalive.auth.principal import Principal
from kotalive.auth.ratelimit import Limit, RateLimiter
from kotalive.auth.roles import PLATFORM_ROLES
from kotalive.settings import Settings

TOTP_ISSUER = "Kota Live"
TOTP_PERIOD = 30
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # one step either side: clocks drift, people type slowly
# Failed logins: 5 per account and 20 per address in 15 minutes.
ACCOUNT_LIMIT = Limit("platform-login:account", max_hits=5, window_seconds=900)
ADDRESS_LIMIT = Limit("platform-login:ip", max_hits=20, window_seconds=900)
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}$|^[^@\s]{1,64}@localhost$")


class StaffInputError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class LoginRefused(Exception):
    """``reason``: invalid (say nothing more) or locked (``retry_after`` seconds)."""

    def __init__(self, reason: str, retry_after: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class NewStaff:
    staff: PlatformStaff
    password: str
    totp_secret: str

    @property
    def provisioning_uri(self) -> str:
        return totp_uri(self.staff.email, self.totp_secret)


def totp_uri(email: str, secret: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=email, issuer_name=TOTP_ISSUER
    )


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise StaffInputError("email", "is not an e-mail address")
    return email


def _roles(roles: tuple[str, ...] | list[str]) -> list[str]:
    if not roles:
        raise StaffInputError("role", f"at least one of {', '.join(PLATFORM_ROLES)}")
    unknown = sorted(set(roles) - set(PLATFORM_ROLES))
    if unknown:
        raise StaffInputError("role", f"unknown role {unknown[0]!r}; roles: {', '.join(PLATFORM_ROLES)}")
    return sorted(set(roles))


async def find_staff(session: AsyncSession, email: str) -> PlatformStaff | None:
    return await session.scalar(select(PlatformStaff).where(PlatformStaff.email == email.strip().lower()))


async def create_staff(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    name: str,
    roles: tuple[str, ...] | list[str],
    password: str | None = None,
    totp_secret: str | None = None,
    replace: bool = False,
) -> NewStaff:
    """A new account (the caller commits). ``password`` None: a strong one is generated.
    ``replace`` resets an existing account's password, TOTP secret, roles and name instead."""
    email = normalise_email(email)
    name = (name or "").strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise StaffInputError("name", "is required (at most 200 printable characters)")
    wanted = _roles(roles)
    if password is None:
        password = secrets.token_urlsafe(15)
    check_strength(password, personal=(email.split("@")[0], name))
    secret = totp_secret or pyotp.random_base32()
    vault = Vault.from_settings(settings)
    staff = await find_staff(session, email)
    if staff is not None and not replace:
        raise StaffInputError("email", f"{email} already has an account")
    if staff is None:
        staff = PlatformStaff(email=email)
        session.add(staff)
    staff.name = name
    staff.roles = wanted
    staff.password_hash = hash_password(settings, password)
    staff.totp_secret_encrypted = vault.encrypt(secret)
    staff.active = True
    staff.last_totp_step = None
    await session.flush()
    audit.record_platform(
        session,
        "staff.created" if not replace else "staff.reset",
        target_kind="staff",
        target_id=staff.id,
        detail={"email": email, "roles": wanted},
        actor_label="cli",
    )
    return NewStaff(staff, password, secret)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The TOTP time step ``code`` belongs to (within the window), else None. Constant-time compare."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    current = int(now // TOTP_PERIOD)
    found = None
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD), code):
            found = step
    return found


async def authenticate(
    session: AsyncSession,
    settings: Settings,
    limiter: RateLimiter,
    *,
    email: str,
    password: str,
    code: str,
    ip: str | None,
) -> Principal:
    """A platform staff principal for a correct email + password + fresh TOTP code, else
    ``LoginRefused``. Writes the audit rows; the caller commits."""
    account = (email or "").strip().lower()[:254]
    for limit, subject in ((ADDRESS_LIMIT, ip or "?"), (ACCOUNT_LIMIT, account)):
        remaining = await limiter.peek(limit, subject)
        if remaining >= limit.max_hits:
            verdict = await limiter.hit(limit, subject)  # keeps the window full while hammered
            audit.record_platform(
                session,
                "staff.locked_out",
                target_kind="staff",
                detail={"email": account},
                ip=ip,
                actor_label=account,
            )
            raise LoginRefused("locked", verdict.retry_after)
    staff = await find_staff(session, account) if account else None
    # ~50 ms of Argon2: off the event loop, so one login does not stall every other request.
    password_ok = await asyncio.to_thread(
        verify_password, settings, staff.password_hash if staff else None, password or ""
    )
    step = None
    if staff is not None and staff.active and password_ok:
        step = matching_step(Vault.from_settings(settings).decrypt(staff.totp_secret_encrypted), code)
    accepted = False
    if staff is not None and step is not None:
        # Only a later step than the last accepted one: a code (or an older one) is never reused.
        result = await session.execute(
            update(PlatformStaff)
            .where(
                PlatformStaff.id == staff.id,
                (PlatformStaff.last_totp_step.is_(None)) | (PlatformStaff.last_totp_step < step),
            )
            .values(last_totp_step=step, last_login_at=dt.datetime.now(dt.UTC))
            .returning(PlatformStaff.id)
        )
        accepted = result.scalar_one_or_none() is not None
    if not accepted:
        why = (
            "no_account"
            if staff is None
            else "inactive"
            if not staff.active
            else "password"
            if not password_ok
            else "code_replayed"
            if step is not None
            else "code"
        )
        await limiter.hit(ADDRESS_LIMIT, ip or "?")
        await limiter.hit(ACCOUNT_LIMIT, account)
        audit.record_platform(
            session,
            "staff.login_failed",
            target_kind="staff",
            target_id=staff.id if staff else None,
            detail={"email": account, "reason": why},
            ip=ip,
            actor_label=account,
        )
        raise LoginRefused("invalid")
    assert staff is not None
    if needs_rehash(settings, staff.password_hash):
        staff.password_hash = await asyncio.to_thread(hash_password, settings, password)
    await limiter.reset(ACCOUNT_LIMIT, account)
    principal = Principal(
        kind="platform_staff",
        id=staff.id,
        tenant_id=None,
        name=staff.name,
        roles=frozenset(r for r in staff.roles if r in PLATFORM_ROLES),
    )
    audit.record_platform(
        session, "staff.login", actor=principal, target_kind="staff", target_id=staff.id, ip=ip
    )
    return principal
