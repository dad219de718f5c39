"""Citizens of one city: register with NIK through SIAK, verify the phone by SMS, log in, reset the
password, see the profile, ask for the account's deletion.

Per-city settings live with the city's SIAK integration (``integration_setting`` kind ``siak``): next
to ``base_url``/``api_key``/``timeout_seconds`` the key ``refuse_non_residents`` (true/false, default
false) decides whether a valid NIK of someone living elsewhere may register as a flagged non-resident
or is refused. It sits there because residency is SIAK's answer (``kode_wilayah``) compared with the
city's own region code; the key is taken out before the adapter's config is built.

Personal data (UU PDP 27/2022): the NIK is stored only encrypted (``Vault``) with a keyed hash for
lookup, shown masked, and never written to logs, Redis keys or URLs. One-time codes live in Redis
only as keyed hashes, expire, and die after ``CODE_MAX_ATTEMPTS`` wrong tries.

Outside calls (SIAK, the SMS gateway) never run inside a database transaction: a slow SIAK holds no
connection, and a failing one leaves nothing half-created.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import uuid
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis
from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError

from kotalive.auth import audit, regions
from kotalive.auth.access import roles_of
from kotalive.auth.crypto import Vault, mask_nik
from kotalive.auth.models import Citizen
from kotalive.auth.nik import InvalidNik, looks_like_nik, normalise, parse_nik
from kotalive.auth.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    WeakPassword,
    check_strength,
    hash_password,
    needs_rehash,
    verify_password,
)
from kotalive.auth.principal import Principal
from kotalive.auth.ratelimit import Limit, RateLimiter, Verdict
from kotalive.auth.sessions import SessionStore
from kotalive.context import TenantContext
from kotalive.db import tenant_session
from kotalive.i18n import translate
from kotalive.integrations import (
    ConfigError,
    IntegrationError,
    Misconfigured,
    NotFound,
    Person,
    SiakClient,
    SiakConfig,
    SmsConfig,
    SmsGateway,
    normalise_indonesian_number,
)
from kotalive.tenants.integrations import IntegrationNotConfigured, get_integration

log = logging.getLogger(__name__)

# Keys of the "siak" integration config that are registration policy, not adapter settings.
REFUSE_NON_RESIDENTS = "refuse_non_residents"
SIAK_POLICY_KEYS = (REFUSE_NON_RESIDENTS,)

CODE_DIGITS = 6
CODE_TTL_SECONDS = 600
CODE_MAX_ATTEMPTS = 5
DELETED_NAME = "Warga (akun dihapus)"

# Sliding windows in Redis (kotalive.auth.ratelimit); refused attempts count too, so hammering a
# locked account keeps it locked. Subjects are "<city id>:<ip>" or "<city id>:<account key>".
LOGIN_PER_IP = Limit("citizen-login:ip", 30, 900)
LOGIN_PER_ACCOUNT = Limit("citizen-login:account", 5, 900)
REGISTER_PER_IP = Limit("citizen-register:ip", 10, 3600)
REGISTER_PER_NIK = Limit("citizen-register:nik", 5, 3600)
CODE_SEND_PER_IP = Limit("citizen-code-send:ip", 10, 3600)
CODE_SEND_PER_ACCOUNT = Limit("citizen-code-send:account", 3, 900)
CODE_CHECK_PER_IP = Limit("citizen-code-check:ip", 30, 900)
CODE_CHECK_PER_ACCOUNT = Limit("citizen-code-check:account", 10, 900)


# ---- what can go wrong, in words the pages and the API can show ----------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One wrong field: the text is ``citizen.error.<field>.<code>`` in the catalogues."""

    field: str
    code: str
    params: dict[str, Any] = dataclass_field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"citizen.error.{self.field}.{self.code}"

    def text(self, lang: str) -> str:
        return translate(self.key, lang, **self.params)


class CitizenError(Exception):
    """Base of what the citizen service refuses; the routes turn each into a page or a JSON answer."""


class InputErrors(CitizenError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(", ".join(f"{p.field}.{p.code}" for p in problems))
        self.problems = problems


class ServiceUnavailable(CitizenError):
    """SIAK or the SMS gateway cannot serve now (``reason`` down) or is not set up for this city."""

    def __init__(self, system: str, reason: str) -> None:
        super().__init__(f"{system}: {reason}")
        self.system = system  # "siak" | "sms"
        self.reason = reason  # "down" | "not_configured"

    @property
    def key(self) -> str:
        return f"citizen.error.{self.system}.{self.reason}"


class RateLimited(CitizenError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class LoginFailed(CitizenError):
    """Wrong identifier or password; deliberately the same for both."""


class PhoneNotVerified(CitizenError):
    """The password was right but the account still waits for its phone code."""

    def __init__(self, phone: str) -> None:
        super().__init__("phone not verified")
        self.phone = phone


class NotACitizen(CitizenError):
    """The signed-in person has no (live) citizen account in this city."""


# ---- results --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    phone: str
    resident: bool
    code_sent: bool


@dataclass(frozen=True, slots=True)
class LoggedIn:
    principal: Principal
    token: str


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    name: str
    nik_masked: str
    phone: str | None
    birth_date: dt.date | None
    sex: str | None
    address: str | None
    kecamatan: str | None
    kelurahan: str | None
    region_code: str | None
    region_name: str | None
    resident: bool
    status: str
    phone_verified: bool


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    to: str
    text: str
    reference: str


# ---- one-time codes ---------------------------------------------------------------------------------

# Atomic check: count the try, compare, and delete the code on success or on its last wrong try.
# Answers 0 (right), n > 0 (wrong, n tries left), -1 (no such code: expired or never sent),
# -2 (wrong, and that was the last try).
_CHECK_CODE = """
local h = redis.call('HGET', KEYS[1], 'h')
if not h then return -1 end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if h == ARGV[1] then redis.call('DEL', KEYS[1]) return 0 end
local left = tonumber(ARGV[2]) - n
if left <= 0 then redis.call('DEL', KEYS[1]) return -2 end
return left
"""


class OneTimeCodes:
    """6-digit SMS codes per city, purpose ("verify", "reset") and citizen, as keyed hashes in Redis."""

    def __init__(self, redis: aioredis.Redis, vault: Vault, prefix: str = "kotalive:otp") -> None:
        self.redis = redis
        self.vault = vault
        self.prefix = prefix

    def _key(self, tenant_id: int, purpose: str, citizen_id: int) -> str:
        return f"{self.prefix}:{tenant_id}:{purpose}:{citizen_id}"

    def _digest(self, key: str, code: str) -> str:
        return self.vault.lookup_hash(f"{key}:{code}", purpose="otp")

    async def issue(self, tenant_id: int, purpose: str, citizen_id: int) -> str:
        """A new code; any earlier code of the same purpose stops working."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        key = self._key(tenant_id, purpose, citizen_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"h": self._digest(key, code), "n": 0})
            pipe.expire(key, CODE_TTL_SECONDS)
            await pipe.execute()
        return code

    async def check(self, tenant_id: int, purpose: str, citizen_id: int, code: str) -> int:
        key = self._key(tenant_id, purpose, citizen_id)
        result = await self.redis.eval(_CHECK_CODE, 1, key, self._digest(key, code), str(CODE_MAX_ATTEMPTS))
        return int(result)

    async def discard(self, tenant_id: int, citizen_id: int) -> None:
        await self.redis.delete(*(self._key(tenant_id, p, citizen_id) for p in ("verify", "reset")))


def _code_problem(result: int) -> Problem | None:
    if result == 0:
        return None
    if result > 0:
        return Problem("code", "wrong", {"remaining": result})
    return Problem("code", "used_up" if result == -2 else "expired")


# ---- input --------------------------------------------------------------------------------------------


def _problems_of_nik(exc: InvalidNik, digits: str) -> list[Problem]:
    out = []
    for p in exc.problems:
        params = {"code": digits[:2]} if p.code == "province_unknown" else {}
        if p.code == "regency_unknown":
            params = {"code": digits[:4]}
        out.append(Problem("nik", p.code, params))
    return out


def _weak_password_problem(exc: WeakPassword) -> Problem:
    reason = str(exc)
    if reason.startswith("at least"):
        return Problem("password", "too_short", {"min": MIN_LENGTH})
    if reason.startswith("at most"):
        return Problem("password", "too_long", {"max": MAX_LENGTH})
    if "must not contain" in reason:
        return Problem("password", "personal")
    return Problem("password", "too_easy")


def _new_password_problems(password: str, confirmation: str, personal: tuple[str, ...]) -> list[Problem]:
    if not password:
        return [Problem("password", "required")]
    try:
        check_strength(password, personal=personal)
    except WeakPassword as exc:
        return [_weak_password_problem(exc)]
    if password != confirmation:
        return [Problem("password_confirmation", "mismatch")]
    return []


def _phone(raw: str, problems: list[Problem], field_name: str = "phone") -> str | None:
    if not raw.strip():
        problems.append(Problem(field_name, "required"))
        return None
    try:
        return normalise_indonesian_number(raw)
    except ValueError:
        problems.append(Problem(field_name, "invalid"))
        return None


def _identifier(raw: str) -> tuple[str, str]:
    """("nik", 16 digits) or ("phone", E.164) from a login or reset form; raises InputErrors."""
    if not raw.strip():
        raise InputErrors([Problem("identifier", "required")])
    if looks_like_nik(raw):
        return "nik", normalise(raw)
    try:
        return "phone", normalise_indonesian_number(raw)
    except ValueError:
        raise InputErrors([Problem("identifier", "invalid")]) from None


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "ya")
    return bool(value)


def mask_phone(phone: str) -> str:
    """+62812••••7890: enough to recognise one's own number."""
    return phone[:6] + "•" * max(0, len(phone) - 10) + phone[-4:] if len(phone) > 10 else phone


# ---- the service ----------------------------------------------------------------------------------------


class CitizenService:
    """Use cases of one city's citizens, for one request (``ip`` is the caller's address)."""

    def __init__(
        self,
        *,
        tenant: TenantContext,
        settings: Any,
        redis: aioredis.Redis,
        sessions: SessionStore | None = None,
        ip: str | None = None,
    ) -> None:
        self.tenant = tenant
        self.settings = settings
        self.redis = redis
        self.sessions = sessions
        self.ip = ip or "unknown"
        self.vault = Vault.from_settings(settings)
        self.limiter = RateLimiter(redis)
        self.codes = OneTimeCodes(redis, self.vault)

    # -- helpers ------------------------------------------------------------------------------------

    def today(self) -> dt.date:
        return dt.datetime.now(ZoneInfo(self.tenant.timezone)).date()

    def _subject(self, what: str) -> str:
        return f"{self.tenant.id}:{what}"

    def _account_key(self, kind: str, value: str) -> str:
        # Identifiers are personal data: Redis keys carry only a keyed hash of them.
        return self.vault.lookup_hash(f"{kind}:{value}", purpose="ratelimit")[:32]

    async def _limit(self, *checks: tuple[Limit, str]) -> list[Verdict]:
        verdicts = [await self.limiter.hit(limit, self._subject(subject)) for limit, subject in checks]
        refused = [v for v in verdicts if not v.allowed]
        if refused:
            raise RateLimited(max(v.retry_after for v in refused))
        return verdicts

    def _nik_hash(self, nik: str) -> str:
        return self.vault.lookup_hash(nik)

    async def _hash_password(self, password: str) -> str:
        return await asyncio.to_thread(hash_password, self.settings, password)

    async def _verify_password(self, stored: str | None, password: str) -> bool:
        # Argon2 is ~50-100 ms of CPU: off the event loop.
        return await asyncio.to_thread(verify_password, self.settings, stored, password)

    async def _siak(self) -> tuple[SiakClient, bool]:
        async with tenant_session(self.tenant) as s:
            try:
                integration = await get_integration(s, self.vault, "siak")
            except IntegrationNotConfigured:
                raise ServiceUnavailable("siak", "not_configured") from None
        assert integration is not None
        merged = integration.merged()
        refuse = _truthy(merged.pop(REFUSE_NON_RESIDENTS, False))
        for key in SIAK_POLICY_KEYS:
            merged.pop(key, None)
        try:
            return SiakClient(SiakConfig.from_dict(merged)), refuse
        except ConfigError as exc:
            log.error("city %s: SIAK settings are wrong: %s", self.tenant.slug, exc)
            raise ServiceUnavailable("siak", "not_configured") from exc

    async def _sms(self) -> SmsGateway:
        async with tenant_session(self.tenant) as s:
            try:
                integration = await get_integration(s, self.vault, "sms")
            except IntegrationNotConfigured:
                raise ServiceUnavailable("sms", "not_configured") from None
        assert integration is not None
        try:
            return SmsGateway(SmsConfig.from_dict(integration.merged()))
        except ConfigError as exc:
            log.error("city %s: SMS gateway settings are wrong: %s", self.tenant.slug, exc)
            raise ServiceUnavailable("sms", "not_configured") from exc

    def _sms_text(self, purpose: str, code: str) -> str:
        return translate(
            f"citizen.sms.{purpose}",
            self.tenant.locale,
            code=code,
            city=self.tenant.name,
            minutes=CODE_TTL_SECONDS // 60,
        )

    async def _code_sms(self, citizen: Citizen, purpose: str) -> OutgoingSms:
        assert citizen.phone is not None
        code = await self.codes.issue(self.tenant.id, purpose, citizen.id)
        reference = f"citizen-{citizen.id}-{purpose}-{uuid.uuid4().hex[:8]}"
        return OutgoingSms(citizen.phone, self._sms_text(purpose, code), reference)

    async def deliver(self, sms: OutgoingSms) -> None:
        """Send one SMS; ``ServiceUnavailable`` when the gateway cannot take it now."""
        gateway = await self._sms()
        try:
            async with gateway:
                await gateway.send(sms.to, sms.text, sms.reference)
        except IntegrationError as exc:
            level = logging.ERROR if isinstance(exc, Misconfigured) else logging.WARNING
            log.log(level, "city %s: SMS %s not sent: %s", self.tenant.slug, sms.reference, exc)
            raise ServiceUnavailable("sms", "down") from exc

    async def deliver_quietly(self, sms: OutgoingSms) -> None:
        """For answers that must not reveal whether an account exists (a background task)."""
        try:
            await self.deliver(sms)
        except ServiceUnavailable:
            pass  # logged by deliver

    async def _by_identifier(self, s: Any, kind: str, value: str) -> Citizen | None:
        column = Citizen.nik_hash if kind == "nik" else Citizen.phone
        key = self._nik_hash(value) if kind == "nik" else value
        return await s.scalar(select(Citizen).where(column == key, Citizen.status != "deleted"))

    # -- registration ---------------------------------------------------------------------------------

    async def register(
        self, *, nik: str, phone: str, password: str, password_confirmation: str
    ) -> Registration:
        """Check the form, ask SIAK, create a pending account and text it a code.

        Raises InputErrors (field by field), RateLimited, ServiceUnavailable("siak", ...) with nothing
        stored. An SMS that cannot be sent leaves the account pending (``code_sent`` False).
        """
        await self._limit((REGISTER_PER_IP, self.ip))
        problems: list[Problem] = []
        digits = normalise(nik)
        try:
            parsed = parse_nik(nik, today=self.today())
        except InvalidNik as exc:
            parsed = None
            problems.extend(_problems_of_nik(exc, digits))
        e164 = _phone(phone, problems)
        problems.extend(
            _new_password_problems(password, password_confirmation, (digits, (e164 or "")[3:], phone))
        )
        if problems:
            raise InputErrors(problems)
        assert parsed is not None and e164 is not None
        nik_hash = self._nik_hash(parsed.value)
        await self._limit((REGISTER_PER_NIK, self._account_key("nik", parsed.value)))

        async with tenant_session(self.tenant) as s:
            taken = await self._taken(s, nik_hash, e164)
        if taken:
            raise InputErrors(taken)

        person, refuse_non_residents = await self._lookup(parsed.value)
        resident = regions.lives_in(person.region_code, self.tenant.region_code)
        if not resident and refuse_non_residents:
            raise InputErrors([Problem("nik", "non_resident_refused", {"city": self.tenant.name})])

        password_hash = await self._hash_password(password)
        citizen = Citizen(
            nik_hash=nik_hash,
            nik_encrypted=self.vault.encrypt(parsed.value),
            phone=e164,
            password_hash=password_hash,
            name=person.name,
            birth_date=person.birth_date,
            sex=person.sex,
            address=_address(person),
            kecamatan=person.kecamatan,
            kelurahan=person.kelurahan,
            region_code=person.region_code,
            resident=resident,
            status="pending",
        )
        try:
            async with tenant_session(self.tenant) as s, s.begin():
                # A pending account that never verified its phone holds nothing (it could not log
                # in): a new registration with the same NIK or phone replaces it, so nobody can
                # squat a NIK by registering it with a phone they never verify.
                stale = list(
                    await s.scalars(
                        select(Citizen.id).where(
                            Citizen.status == "pending",
                            or_(Citizen.nik_hash == nik_hash, Citizen.phone == e164),
                        )
                    )
                )
                if stale:
                    await s.execute(delete(Citizen).where(Citizen.id.in_(stale)))
                s.add(citizen)
                await s.flush()
                audit.record(
                    s,
                    "citizen.registered",
                    target_kind="citizen",
                    target_id=citizen.id,
                    detail={"resident": resident, "region_code": person.region_code},
                    ip=self.ip,
                )
        except IntegrityError:
            # Someone registered the same NIK or phone between our check and this insert.
            async with tenant_session(self.tenant) as s:
                raise InputErrors(await self._taken(s, nik_hash, e164) or [Problem("nik", "taken")]) from None
        for stale_id in stale:
            await self.codes.discard(self.tenant.id, stale_id)

        code_sent = True
        try:
            await self._limit((CODE_SEND_PER_ACCOUNT, f"phone:{citizen.id}"))
            await self.deliver(await self._code_sms(citizen, "verify"))
        except (ServiceUnavailable, RateLimited):
            code_sent = False
        return Registration(phone=e164, resident=resident, code_sent=code_sent)

    async def _lookup(self, nik: str) -> tuple[Person, bool]:
        """SIAK's record of the NIK, and whether this city refuses non-residents."""
        siak, refuse = await self._siak()
        try:
            async with siak:
                person = await siak.lookup(nik)
        except NotFound:
            raise InputErrors([Problem("nik", "unknown_to_siak")]) from None
        except IntegrationError as exc:
            level = logging.ERROR if isinstance(exc, Misconfigured) else logging.WARNING
            # Some adapter messages quote the request URL, which carries the NIK: mask it.
            reason = str(exc).replace(nik, mask_nik(nik))
            log.log(level, "city %s: SIAK lookup failed: %s", self.tenant.slug, reason)
            raise ServiceUnavailable("siak", "down") from None
        if not person.alive:
            raise InputErrors([Problem("nik", "not_registrable")])
        return person, refuse

    async def _taken(self, s: Any, nik_hash: str, phone: str) -> list[Problem]:
        rows = (
            await s.execute(
                select(Citizen.nik_hash, Citizen.phone).where(
                    Citizen.status == "active", or_(Citizen.nik_hash == nik_hash, Citizen.phone == phone)
                )
            )
        ).all()
        problems = []
        if any(r.nik_hash == nik_hash for r in rows):
            problems.append(Problem("nik", "taken"))
        if any(r.phone == phone for r in rows):
            problems.append(Problem("phone", "taken"))
        return problems

    # -- phone verification ------------------------------------------------------------------------

    async def verify_phone(self, *, phone: str, code: str) -> None:
        problems: list[Problem] = []
        e164 = _phone(phone, problems)
        code = code.strip()
        if not code:
            problems.append(Problem("code", "required"))
        elif not (len(code) == CODE_DIGITS and code.isascii() and code.isdigit()):
            problems.append(Problem("code", "invalid_format"))
        if problems:
            raise InputErrors(problems)
        assert e164 is not None
        await self._limit(
            (CODE_CHECK_PER_IP, self.ip), (CODE_CHECK_PER_ACCOUNT, self._account_key("phone", e164))
        )
        async with tenant_session(self.tenant) as s, s.begin():
            citizen = await s.scalar(
                select(Citizen).where(Citizen.phone == e164, Citizen.status == "pending").with_for_update()
            )
            # No pending account with this phone answers like an expired code: nothing to learn here.
            result = (
                -1 if citizen is None else await self.codes.check(self.tenant.id, "verify", citizen.id, code)
            )
            problem = _code_problem(result)
            if problem is not None:
                raise InputErrors([problem])
            assert citizen is not None
            citizen.status = "active"
            citizen.phone_verified_at = dt.datetime.now(dt.UTC)
            audit.record(s, "citizen.phone_verified", target_kind="citizen", target_id=citizen.id, ip=self.ip)

    async def resend_verification(self, *, phone: str) -> None:
        """Text a new code to a pending account. Unknown numbers get the same answer (nothing sent)."""
        problems: list[Problem] = []
        e164 = _phone(phone, problems)
        if problems:
            raise InputErrors(problems)
        assert e164 is not None
        await self._limit((CODE_SEND_PER_IP, self.ip))
        async with tenant_session(self.tenant) as s:
            citizen = await s.scalar(
                select(Citizen).where(Citizen.phone == e164, Citizen.status == "pending")
            )
        if citizen is None:
            return
        await self._limit((CODE_SEND_PER_ACCOUNT, f"phone:{citizen.id}"))
        await self.deliver(await self._code_sms(citizen, "verify"))

    # -- login --------------------------------------------------------------------------------------

    async def login(self, *, identifier: str, password: str, old_token: str | None = None) -> LoggedIn:
        """A new session for the citizen (any old one of this browser ended first: no fixation).

        Raises InputErrors, RateLimited, LoginFailed, PhoneNotVerified.
        """
        kind, value = _identifier(identifier)
        if not password:
            raise InputErrors([Problem("password", "required")])
        async with tenant_session(self.tenant) as s:
            citizen = await self._by_identifier(s, kind, value)
        # The account's own id when it exists, so NIK and phone share one budget of tries.
        account = f"citizen:{citizen.id}" if citizen is not None else self._account_key(kind, value)
        ip_verdict = await self.limiter.hit(LOGIN_PER_IP, self._subject(self.ip))
        account_verdict = await self.limiter.hit(LOGIN_PER_ACCOUNT, self._subject(account))
        if not (ip_verdict.allowed and account_verdict.allowed):
            raise RateLimited(max(ip_verdict.retry_after, account_verdict.retry_after))

        ok = await self._verify_password(citizen.password_hash if citizen else None, password)
        if not ok or citizen is None:
            async with tenant_session(self.tenant) as s, s.begin():
                audit.record(
                    s,
                    "login.failed",
                    target_kind="citizen" if citizen else None,
                    target_id=citizen.id if citizen else None,
                    detail={"kind": "citizen", "via": kind, "account": "known" if citizen else "unknown"},
                    ip=self.ip,
                )
                for verdict, scope in ((account_verdict, "account"), (ip_verdict, "ip")):
                    if verdict.remaining == 0 and (scope == "ip" or citizen is not None):
                        audit.record(
                            s,
                            "login.locked",
                            target_kind="citizen" if citizen else None,
                            target_id=citizen.id if citizen else None,
                            detail={
                                "kind": "citizen",
                                "scope": scope,
                                "seconds": LOGIN_PER_ACCOUNT.window_seconds,
                            },
                            ip=self.ip,
                        )
            raise LoginFailed()

        if citizen.status == "pending":
            assert citizen.phone is not None
            raise PhoneNotVerified(citizen.phone)

        await self.limiter.reset(LOGIN_PER_ACCOUNT, self._subject(account))
        async with tenant_session(self.tenant) as s, s.begin():
            roles, agencies = await roles_of(s, "citizen", citizen.id)
            row = await s.get(Citizen, citizen.id)
            assert row is not None
            row.last_login_at = dt.datetime.now(dt.UTC)
            if needs_rehash(self.settings, citizen.password_hash or ""):
                row.password_hash = await self._hash_password(password)
            principal = Principal(
                kind="citizen",
                id=citizen.id,
                tenant_id=self.tenant.id,
                name=citizen.name,
                roles=frozenset({"citizen"} | roles),
                agency_ids=agencies,
            )
            audit.record(
                s,
                "login.succeeded",
                target_kind="citizen",
                target_id=citizen.id,
                detail={"kind": "citizen", "via": kind},
                ip=self.ip,
                actor=principal,
            )
        assert self.sessions is not None
        if old_token:
            await self.sessions.destroy(old_token)
        token = await self.sessions.create(principal)
        return LoggedIn(principal, token)

    # -- password reset -----------------------------------------------------------------------------

    async def request_password_reset(self, *, identifier: str) -> OutgoingSms | None:
        """The SMS to send (in the background) if the account exists; the caller answers the same
        either way, so whether a NIK or phone has an account is not revealed."""
        kind, value = _identifier(identifier)
        await self._limit(
            (CODE_SEND_PER_IP, self.ip), (CODE_SEND_PER_ACCOUNT, self._account_key(kind, value))
        )
        async with tenant_session(self.tenant) as s:
            citizen = await self._by_identifier(s, kind, value)
        if citizen is None or citizen.phone is None:
            return None
        return await self._code_sms(citizen, "reset")

    async def reset_password(
        self, *, identifier: str, code: str, password: str, password_confirmation: str
    ) -> None:
        problems: list[Problem] = []
        try:
            kind, value = _identifier(identifier)
        except InputErrors as exc:
            problems.extend(exc.problems)
            kind, value = "", ""
        code = code.strip()
        if not code:
            problems.append(Problem("code", "required"))
        elif not (len(code) == CODE_DIGITS and code.isascii() and code.isdigit()):
            problems.append(Problem("code", "invalid_format"))
        problems.extend(_new_password_problems(password, password_confirmation, (value[-8:],)))
        if problems:
            raise InputErrors(problems)
        await self._limit(
            (CODE_CHECK_PER_IP, self.ip), (CODE_CHECK_PER_ACCOUNT, self._account_key(kind, value))
        )
        new_hash = await self._hash_password(password)
        async with tenant_session(self.tenant) as s, s.begin():
            citizen = await self._by_identifier(s, kind, value)
            result = (
                -1 if citizen is None else await self.codes.check(self.tenant.id, "reset", citizen.id, code)
            )
            problem = _code_problem(result)
            if problem is not None:
                raise InputErrors([problem])
            assert citizen is not None
            citizen.password_hash = new_hash
            if citizen.status == "pending":  # the code reached the phone: that verifies it too
                citizen.status = "active"
                citizen.phone_verified_at = dt.datetime.now(dt.UTC)
            audit.record(s, "citizen.password_reset", target_kind="citizen", target_id=citizen.id, ip=self.ip)
        await self.limiter.reset(LOGIN_PER_ACCOUNT, self._subject(f"citizen:{citizen.id}"))
        if self.sessions is not None:
            await self.sessions.revoke_subject(self.tenant.id, "citizen", citizen.id)

    # -- profile, unmasking, deletion -------------------------------------------------------------------

    async def _own(self, s: Any, principal: Principal) -> Citizen:
        if principal.kind != "citizen" or principal.tenant_id != self.tenant.id:
            raise NotACitizen()
        citizen = await s.get(Citizen, principal.id)
        if citizen is None or citizen.status == "deleted":
            raise NotACitizen()
        return citizen

    def _profile(self, c: Citizen) -> Profile:
        nik = self.vault.decrypt(c.nik_encrypted) if c.nik_encrypted else ""
        return Profile(
            id=c.id,
            name=c.name,
            nik_masked=mask_nik(nik) if nik else "",
            phone=c.phone,
            birth_date=c.birth_date,
            sex=c.sex,
            address=c.address,
            kecamatan=c.kecamatan,
            kelurahan=c.kelurahan,
            region_code=c.region_code,
            region_name=regions.region_name(c.region_code) if c.region_code else None,
            resident=c.resident,
            status=c.status,
            phone_verified=c.phone_verified_at is not None,
        )

    async def profile(self, principal: Principal) -> Profile:
        async with tenant_session(self.tenant) as s:
            return self._profile(await self._own(s, principal))

    async def unmask_nik(self, citizen_id: int, *, actor: Principal, reason: str = "") -> str | None:
        """The full NIK for a role allowed to see it; the audit row is committed before it is shown."""
        async with tenant_session(self.tenant) as s, s.begin():
            citizen = await s.get(Citizen, citizen_id)
            if citizen is None or not citizen.nik_encrypted:
                return None
            nik = self.vault.decrypt(citizen.nik_encrypted)
            audit.record(
                s,
                "personal_data.unmasked",
                target_kind="citizen",
                target_id=citizen.id,
                detail={"field": "nik", "reason": reason[:500]},
                ip=self.ip,
                actor=actor,
            )
        return nik

    async def delete_account(self, principal: Principal, *, password: str) -> None:
        """Anonymise the person now (UU PDP: the right to erasure); the id and the complaints that
        reference it stay, so a city's statistics and handled cases remain whole."""
        if not password:
            raise InputErrors([Problem("password", "required")])
        async with tenant_session(self.tenant) as s:
            citizen = await self._own(s, principal)
        if not await self._verify_password(citizen.password_hash, password):
            raise InputErrors([Problem("password", "wrong")])
        now = dt.datetime.now(dt.UTC)
        async with tenant_session(self.tenant) as s, s.begin():
            row = await s.get(Citizen, citizen.id, with_for_update=True)
            assert row is not None
            row.name = DELETED_NAME
            row.nik_hash = row.nik_encrypted = row.phone = row.password_hash = None
            row.address = row.kecamatan = row.kelurahan = None
            row.birth_date = None
            row.sex = None
            row.phone_verified_at = None
            row.status = "deleted"
            row.deletion_requested_at = row.deletion_requested_at or now
            row.deleted_at = now
            audit.record(
                s,
                "citizen.deleted",
                target_kind="citizen",
                target_id=row.id,
                detail={"requested_by": "self"},
                ip=self.ip,
                actor=principal,
            )
        await self.codes.discard(self.tenant.id, citizen.id)
        if self.sessions is not None:
            await self.sessions.revoke_subject(self.tenant.id, "citizen", citizen.id)


def _address(person: Person) -> str:
    parts = [person.address]
    if person.rt or person.rw:
        parts.append(f"RT {person.rt or '-'}/RW {person.rw or '-'}")
    return ", ".join(p for p in parts if p)
