"""The console's background work, as platform jobs (Dramatiq): provisioning an onboarded city and
inviting its first admin, and migrating a wave.

Both write their progress to their ``console_task`` row as they go (the pages poll it), never
retry by themselves (a failure is shown with what to do, and the retry button sends the job
again), and are safe to run twice: provisioning resumes from the last completed step, the
invitation finds the employee and the grant it made before, and a city already at the target
revision migrates as a cheap no-op.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import select

from kotalive.admin.console.models import ConsoleTask
from kotalive.admin.console.services import platform_mail
from kotalive.auth import audit
from kotalive.auth.access import grant_role
from kotalive.auth.crypto import Vault
from kotalive.auth.models import Employee
from kotalive.auth.principal import Principal, reset_principal, set_principal
from kotalive.db import Database, get_database
from kotalive.i18n import translate
from kotalive.jobs import platform_actor
from kotalive.notify.channels import Permanent, Retry, send_email
from kotalive.registry import load
from kotalive.tenants.integrations import set_integration
from kotalive.tenants.models import Tenant
from kotalive.tenants.provisioning import NewCity, TenantInputError, TenantService, TenantStateError
from kotalive.tenants.rollout import Target, migrate_one, select_targets

log = logging.getLogger(__name__)

ONBOARD_ACTOR = "admin.console.onboard"
ROLLOUT_ACTOR = "admin.console.rollout"
# A message for a task in any other state does nothing (a second click, a duplicate delivery).
RUNNABLE = ("queued", "failed")
ONBOARD_TIME_LIMIT_MS = 15 * 60_000
ROLLOUT_TIME_LIMIT_MS = 60 * 60_000


def stalled(task: ConsoleTask, now: dt.datetime | None = None) -> bool:
    """Running for longer than its job may run: the worker died with it (a retry may take it)."""
    limit = ONBOARD_TIME_LIMIT_MS if task.kind == "onboarding" else ROLLOUT_TIME_LIMIT_MS
    now = now or dt.datetime.now(dt.UTC)
    return task.status == "running" and task.updated_at < now - dt.timedelta(milliseconds=limit)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def staff_of(task: ConsoleTask) -> Principal | None:
    """The platform staff member who started the work: the actor of what the job changes."""
    if task.created_by_id is None:
        return None
    return Principal(
        kind="platform_staff",
        id=task.created_by_id,
        tenant_id=None,
        name=task.created_by or "",
        roles=frozenset(task.data.get("staff_roles", [])),
    )


async def _update(db: Database, task_id: int, **values: Any) -> ConsoleTask:
    async with db.platform_session() as s, s.begin():
        task = await s.get(ConsoleTask, task_id, with_for_update=True)
        assert task is not None
        for key, value in values.items():
            setattr(task, key, value)
    return task


async def _claim(db: Database, task_id: int, kind: str) -> ConsoleTask | None:
    """Mark the task running; None when it is not this kind or not waiting to run."""
    async with db.platform_session() as s, s.begin():
        task = await s.get(ConsoleTask, task_id, with_for_update=True)
        if task is None or task.kind != kind or not (task.status in RUNNABLE or stalled(task)):
            return None
        task.status = "running"
        task.error = None
    return task


def new_city(task: ConsoleTask) -> NewCity:
    city, data = task.data["city"], task.data
    return NewCity(
        slug=city["slug"],
        name=city["name"],
        kind=city["kind"],
        region_code=city["region_code"],
        timezone=city["timezone"],
        boundary=city.get("boundary_json"),
        mou_number=city.get("mou_number") or None,
        mou_signed_on=dt.date.fromisoformat(city["mou_signed_on"]) if city.get("mou_signed_on") else None,
        mou_expires_on=dt.date.fromisoformat(city["mou_expires_on"]) if city.get("mou_expires_on") else None,
        domains=list(data.get("domains") or []),
        modules=list((data.get("modules") or {}).keys()),
        module_config=dict(data.get("modules") or {}),
    )


# ---- onboarding ----------------------------------------------------------------------------------


async def run_onboarding(db: Database, task_id: int) -> None:
    task = await _claim(db, task_id, "onboarding")
    if task is None:
        return
    token = set_principal(staff_of(task))
    steps: list[dict[str, Any]] = [p for p in task.progress if p.get("step") != "invitation"]
    writes: list[asyncio.Task[Any]] = []
    try:
        await _refuse_foreign_city(db, task)
        service = TenantService(db, load(db.settings.modules))
        done = {p["step"] for p in steps}

        def progress(step: str, tenant: Any) -> None:
            if step not in done:
                done.add(step)
                steps.append({"step": step, "at": _now()})
            if step == "registered" and task.tenant_id is None:
                # Claim the city at once: a retry after a crash resumes it as this onboarding's.
                writes.append(asyncio.ensure_future(_update(db, task_id, tenant_id=tenant.id)))

        tenant = await service.provision(new_city(task), progress=progress)
        await asyncio.gather(*writes)
        await _update(db, task_id, tenant_id=tenant.id, progress=list(steps))
        if task.data.get("login") and "login" not in done:
            await connect_login(db, service, task)
            steps.append({"step": "login", "at": _now()})
            await _update(db, task_id, progress=list(steps))
        invitation = await invite_admin(db, service, task)
        await _update(db, task_id, status="done", progress=[*steps, invitation])
        async with db.platform_session() as s, s.begin():
            audit.record_platform(
                s,
                "console.city.onboarded",
                tenant_id=tenant.id,
                target_kind="tenant",
                target_id=tenant.slug,
                detail={"task": task_id, "invitation": invitation["status"]},
            )
    except (TenantInputError, TenantStateError) as exc:
        await asyncio.gather(*writes, return_exceptions=True)
        field = exc.field if isinstance(exc, TenantInputError) else "status"
        await _update(
            db,
            task_id,
            status="failed",
            progress=list(steps),
            error=f"{field}: {exc}",
            data={**task.data, "failed_field": field},
        )
    except Exception as exc:
        await asyncio.gather(*writes, return_exceptions=True)
        log.exception("onboarding %s failed", task_id)
        await _update(
            db, task_id, status="failed", progress=list(steps), error=f"{type(exc).__name__}: {exc}"[:2000]
        )
    finally:
        reset_principal(token)


async def _refuse_foreign_city(db: Database, task: ConsoleTask) -> None:
    """Provisioning resumes a city with the same slug, name and region code; that must be this
    onboarding's own city (or one it left half-made), never another's."""
    slug = task.data["city"]["slug"]
    async with db.platform_session() as s:
        tenant = await s.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None or tenant.id == task.tenant_id:
            return
        owner = await s.scalar(
            select(ConsoleTask.id).where(ConsoleTask.tenant_id == tenant.id, ConsoleTask.id != task.id)
        )
    if owner is not None or tenant.status != "provisioning":
        raise TenantInputError("slug", f"{slug!r} already belongs to another city ({tenant.name})")


async def connect_login(db: Database, service: TenantService, task: ConsoleTask) -> None:
    """The city's OpenID provider from step 4 (its ``oidc`` integration, the secret encrypted)."""
    login = task.data["login"]
    vault = Vault.from_settings(db.settings)
    secret = vault.decrypt(login["secret"].encode()) if login.get("secret") else ""
    ctx = await service.context(task.data["city"]["slug"])
    async with db.tenant_session(ctx) as session:
        await set_integration(
            session,
            vault,
            "oidc",
            config={
                "issuer": login["issuer"],
                "client_id": login["client_id"],
                "scopes": "openid profile email",
            },
            secrets={"client_secret": secret} if secret else {},
        )
        audit.record(
            session,
            "admin.integration.saved",
            target_kind="integration",
            target_id="oidc",
            # which settings, never a secret's value
            detail={
                "settings": ["client_id", "issuer", "scopes"],
                "secrets_changed": ["client_secret"] if secret else [],
                "enabled": True,
                "by": "console onboarding",
            },
        )
        await session.commit()


def login_url(task: ConsoleTask) -> str:
    base = task.data.get("base_url_template", "https://{host}")
    hosts = task.data.get("domains") or []
    return str(base).format(host=hosts[0] if hosts else "") + "/staff/login"


async def invite_admin(db: Database, service: TenantService, task: ConsoleTask) -> dict[str, Any]:
    """The first city admin: an employee record (found again by NIP) with the city_admin grant,
    and the invitation e-mail through the platform's mail server."""
    admin = task.data["admin"]
    ctx = await service.context(task.data["city"]["slug"])
    staff = staff_of(task)
    async with db.tenant_session(ctx) as session:
        employee = await session.scalar(select(Employee).where(Employee.nip == admin["admin_nip"]))
        if employee is None:
            employee = Employee(
                nip=admin["admin_nip"], name=admin["admin_name"], email=admin["admin_email"], active=True
            )
            session.add(employee)
            await session.flush()
        elif not employee.email:
            employee.email = admin["admin_email"]
        await grant_role(
            session,
            None,
            subject_kind="employee",
            subject_id=employee.id,
            role="city_admin",
            source="admin",
            granted_by=staff.label if staff else "console",
        )
        employee_id = employee.id
        await session.commit()
    result: dict[str, Any] = {
        "step": "invitation",
        "at": _now(),
        "employee_id": employee_id,
        "email": admin["admin_email"],
        "login_url": login_url(task),
    }
    return {**result, **await send_invitation(db, task, ctx.name, result["login_url"])}


async def send_invitation(db: Database, task: ConsoleTask, city_name: str, url: str) -> dict[str, Any]:
    admin = task.data["admin"]
    try:
        config = platform_mail(db.settings.platform_mail_url)
    except ValueError as exc:
        return {"status": "failed", "error": str(exc)}
    if config is None:
        return {"status": "not_configured"}
    lang = task.data.get("lang", "id")
    subject = translate("admin.console.invite.subject", lang, city=city_name)
    body = translate(
        "admin.console.invite.body",
        lang,
        name=admin["admin_name"],
        city=city_name,
        url=url,
        nip=admin["admin_nip"],
    )
    attempt = int(task.data.get("invitations_sent", 0)) + 1
    message_id = f"<kotalive-onboarding-{task.id}-{attempt}@{config.from_address.split('@')[-1]}>"
    try:
        await send_email(config, admin["admin_email"], subject, body, message_id)
    except (Retry, Permanent) as exc:
        return {"status": "failed", "error": exc.detail}
    await _update(db, task.id, data={**task.data, "invitations_sent": attempt})
    return {"status": "sent", "message_id": message_id}


@platform_actor(actor_name=ONBOARD_ACTOR, max_retries=0, time_limit=ONBOARD_TIME_LIMIT_MS)
async def onboard_job(task_id: int) -> None:
    """Provision the onboarded city and invite its first admin (resumable)."""
    await run_onboarding(get_database(), task_id)


# ---- rollouts ------------------------------------------------------------------------------------


async def run_rollout(db: Database, task_id: int) -> None:
    task = await _claim(db, task_id, "rollout")
    if task is None:
        return
    token = set_principal(staff_of(task))
    results: list[dict[str, Any]] = list(task.progress)
    try:
        wave = task.data.get("wave") or ""
        targets = await select_targets(
            db, all_cities=wave == "*", wave=None if wave == "*" else (wave or None)
        )
        if wave == "-":  # the cities in no wave
            targets = [t for t in await select_targets(db, all_cities=True) if t.wave is None]
        finished = {r["slug"] for r in results if r.get("ok")}
        run_id = task.data.get("run_id") or str(uuid.uuid4())
        await _update(db, task_id, data={**task.data, "run_id": run_id, "targets": [t.slug for t in targets]})
        for target in targets:
            if target.slug in finished:
                continue
            result = await migrate_one(db, Target(target.tenant_id, target.slug, target.wave), run_id=run_id)
            results = [r for r in results if r["slug"] != target.slug]
            results.append(
                {
                    "slug": result.slug,
                    "wave": result.wave,
                    "ok": result.ok,
                    "before": result.before,
                    "after": result.after,
                    "revisions": result.revisions,
                    "ms": round(result.ms, 1),
                    "error": result.error,
                }
            )
            await _update(db, task_id, progress=list(results))
            if not result.ok and task.data.get("stop_on_error"):
                break
        failed = [r["slug"] for r in results if not r["ok"]]
        await _update(
            db,
            task_id,
            status="failed" if failed else "done",
            error=(", ".join(failed) if failed else None),
        )
        async with db.platform_session() as s, s.begin():
            audit.record_platform(
                s,
                "console.rollout.finished",
                target_kind="wave",
                target_id=wave,
                detail={"task": task_id, "run_id": run_id, "cities": len(results), "failed": failed},
            )
    except Exception as exc:
        log.exception("rollout %s failed", task_id)
        await _update(
            db, task_id, status="failed", progress=list(results), error=f"{type(exc).__name__}: {exc}"[:2000]
        )
    finally:
        reset_principal(token)


@platform_actor(actor_name=ROLLOUT_ACTOR, max_retries=0, time_limit=ROLLOUT_TIME_LIMIT_MS)
async def rollout_job(task_id: int) -> None:
    """Migrate the cities of a wave to the newest revision, one by one (canary first)."""
    await run_rollout(get_database(), task_id)
