"""Citizens' pages and JSON API: register, verify the phone, log in and out, reset the password,
profile, deletion request, and the audited unmasked NIK for roles that may see it.

Pages (Bahasa Indonesia by default, ``?lang=en``): /daftar, /verifikasi, /masuk, /lupa-sandi,
/profil, /profil/hapus, /keluar. They post forms with the CSRF token and answer errors next to the
fields (422), a lockout with when to retry (429), SIAK or SMS trouble with "try again later" (503).

API under /api/v1/citizens: the same use cases as JSON (msgspec). Bad input answers 400 (shape) or
422 (content) with ``errors: [{field, reason, code}]``; a lockout 429 with ``Retry-After``.

Phone numbers and NIKs never go into URLs (they would land in access logs): a page that needs one
for the next step renders that step itself instead of redirecting.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect

from kotalive.auth.citizens import (
    CODE_TTL_SECONDS,
    CitizenService,
    InputErrors,
    LoginFailed,
    NotACitizen,
    PhoneNotVerified,
    Problem,
    Profile,
    RateLimited,
    ServiceUnavailable,
    mask_phone,
)
from kotalive.auth.guards import requires, safe_next
from kotalive.auth.principal import current_principal
from kotalive.auth.sessions import COOKIE_NAME, cookie_options, end_login
from kotalive.context import TenantContext, current_tenant
from kotalive.i18n import translate
from kotalive.web import NO_STORE, city_only, client_ip, page, request_language

PUBLIC = {"public": True}
# Texts a redirect may ask a page to show (?pesan=...): never free text from the URL.
NOTICES = {
    "terverifikasi": "citizen.notice.verified",
    "sandi-baru": "citizen.notice.password_changed",
    "keluar": "citizen.notice.logged_out",
}


# ---- shared helpers ----------------------------------------------------------------------------------


def _service(request: Request) -> CitizenService:
    return CitizenService(
        tenant=current_tenant(),
        settings=request.app.state.settings,
        redis=request.app.state.redis,
        sessions=request.app.state.auth.sessions,
        ip=client_ip(request),
    )


def _wait_text(seconds: int, lang: str, tenant: TenantContext) -> str:
    if seconds < 60:
        wait = translate("citizen.wait.seconds", lang, n=seconds)
    else:
        wait = translate("citizen.wait.minutes", lang, n=(seconds + 59) // 60)
    until = dt.datetime.now(ZoneInfo(tenant.timezone)) + dt.timedelta(seconds=seconds)
    return translate("citizen.error.rate_limited", lang, wait=wait, clock=until.strftime("%H:%M %Z"))


# ---- JSON API ---------------------------------------------------------------------------------------

Nik = Annotated[str, msgspec.Meta(max_length=64)]
Phone = Annotated[str, msgspec.Meta(max_length=32)]
Secret = Annotated[str, msgspec.Meta(max_length=1024)]
Code = Annotated[str, msgspec.Meta(max_length=16)]
Identifier = Annotated[str, msgspec.Meta(max_length=64)]


class RegisterIn(msgspec.Struct, forbid_unknown_fields=True):
    nik: Nik
    phone: Phone
    password: Secret
    password_confirmation: Secret


class RegisterOut(msgspec.Struct):
    status: str
    resident: bool
    phone: str  # masked
    code_sent: bool
    code_expires_in: int
    detail: str


class VerifyIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone
    code: Code


class PhoneIn(msgspec.Struct, forbid_unknown_fields=True):
    phone: Phone


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    identifier: Identifier
    password: Secret


class CitizenOut(msgspec.Struct):
    id: int
    name: str
    roles: list[str]


class LoginOut(msgspec.Struct):
    status: str
    citizen: CitizenOut


class ResetRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    identifier: Identifier


class ResetIn(msgspec.Struct, forbid_unknown_fields=True):
    identifier: Identifier
    code: Code
    password: Secret
    password_confirmation: Secret


class DeletionIn(msgspec.Struct, forbid_unknown_fields=True):
    password: Secret


class UnmaskIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class ProfileOut(msgspec.Struct):
    id: int
    name: str
    nik: str  # masked: first 4 and last 4 digits
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


class UnmaskedOut(msgspec.Struct):
    id: int
    nik: str


def _errors_body(status: int, detail: str, errors: list[dict[str, str]]) -> dict[str, Any]:
    return {"status_code": status, "error": "invalid_input", "detail": detail, "errors": errors}


# Refusals whose answer is a fixed status, code and text.
_PLAIN_REFUSALS: dict[type[Exception], tuple[int, str, str]] = {
    LoginFailed: (401, "login_failed", "citizen.error.login.failed"),
    PhoneNotVerified: (403, "phone_not_verified", "citizen.error.login.pending"),
    NotACitizen: (404, "not_a_citizen", "citizen.profile.not_citizen"),
}


def _api_error(request: Request, exc: Exception) -> Response[Any]:
    """One place that turns what the service refuses into an API answer."""
    lang = request_language(request)
    if isinstance(exc, InputErrors):
        errors = [
            {"field": p.field, "reason": p.text(lang), "code": f"{p.field}.{p.code}"} for p in exc.problems
        ]
        return Response(_errors_body(422, translate("citizen.error.form", lang), errors), status_code=422)
    if isinstance(exc, RateLimited):
        return Response(
            {
                "status_code": 429,
                "error": "rate_limited",
                "detail": _wait_text(exc.retry_after, lang, current_tenant()),
                "retry_after": exc.retry_after,
            },
            status_code=429,
            headers={"retry-after": str(exc.retry_after)},
        )
    if isinstance(exc, ServiceUnavailable):
        return Response(
            {
                "status_code": 503,
                "error": f"{exc.system}_{'unavailable' if exc.reason == 'down' else exc.reason}",
                "detail": translate(exc.key, lang, city=current_tenant().name),
            },
            status_code=503,
            headers={"retry-after": "60"},
        )
    for kind, (status, code, key) in _PLAIN_REFUSALS.items():
        if isinstance(exc, kind):
            return Response(
                {"status_code": status, "error": code, "detail": translate(key, lang)}, status_code=status
            )
    raise exc


def _shape_error(request: Request, exc: ValidationException) -> Response[Any]:
    """Litestar's decoding errors (wrong types, missing or unknown fields) as {field, reason}."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = []
    for item in extra:
        if isinstance(item, dict):
            errors.append(
                {
                    "field": str(item.get("key") or "body"),
                    "reason": str(item.get("message") or exc.detail),
                    "code": "invalid",
                }
            )
    if not errors:
        errors.append({"field": "body", "reason": str(exc.detail), "code": "invalid"})
    return Response(
        _errors_body(400, translate("citizen.error.form", request_language(request)), errors), status_code=400
    )


CitizenFailure = (InputErrors, RateLimited, ServiceUnavailable, LoginFailed, PhoneNotVerified, NotACitizen)


@post("/register", summary="Register with NIK, phone and password (SIAK fills in the rest)", opt=PUBLIC)
async def api_register(data: JSONBody[RegisterIn], request: Request) -> Response[Any]:
    lang = request_language(request)
    try:
        result = await _service(request).register(
            nik=data.nik,
            phone=data.phone,
            password=data.password,
            password_confirmation=data.password_confirmation,
        )
    except CitizenFailure as exc:
        return _api_error(request, exc)
    detail = translate(
        "citizen.verify.sent" if result.code_sent else "citizen.error.sms.down",
        lang,
        phone=mask_phone(result.phone),
    )
    out = RegisterOut(
        "pending", result.resident, mask_phone(result.phone), result.code_sent, CODE_TTL_SECONDS, detail
    )
    return Response(out, status_code=201)


@post("/verify", summary="Verify the phone with the SMS code", status_code=200, opt=PUBLIC)
async def api_verify(data: JSONBody[VerifyIn], request: Request) -> Response[Any]:
    try:
        await _service(request).verify_phone(phone=data.phone, code=data.code)
    except CitizenFailure as exc:
        return _api_error(request, exc)
    return Response(
        {"status": "active", "detail": translate("citizen.notice.verified", request_language(request))}
    )


@post("/verify/resend", summary="Send a new verification code", status_code=202, opt=PUBLIC)
async def api_resend(data: JSONBody[PhoneIn], request: Request) -> Response[Any]:
    try:
        await _service(request).resend_verification(phone=data.phone)
    except CitizenFailure as exc:
        return _api_error(request, exc)
    return Response(
        {"status": "sent", "detail": translate("citizen.verify.resent", request_language(request))},
        status_code=202,
    )


@post("/login", summary="Log in with NIK or phone and password", status_code=200, opt=PUBLIC)
async def api_login(data: JSONBody[LoginIn], request: Request) -> Response[Any]:
    try:
        done = await _service(request).login(
            identifier=data.identifier, password=data.password, old_token=request.cookies.get(COOKIE_NAME)
        )
    except CitizenFailure as exc:
        return _api_error(request, exc)
    p = done.principal
    response: Response[Any] = Response(LoginOut("logged_in", CitizenOut(p.id, p.name, sorted(p.roles))))
    response.set_cookie(**cookie_options(request.app.state.settings, done.token))
    return response


@post("/password-reset", summary="Ask for a password reset code by SMS", status_code=202, opt=PUBLIC)
async def api_reset_request(data: JSONBody[ResetRequestIn], request: Request) -> Response[Any]:
    service = _service(request)
    try:
        sms = await service.request_password_reset(identifier=data.identifier)
    except CitizenFailure as exc:
        return _api_error(request, exc)
    body = {
        "status": "accepted",
        "detail": translate("citizen.reset.sent", request_language(request), minutes=CODE_TTL_SECONDS // 60),
    }
    # Sent after the answer, and the answer is the same whether or not the account exists.
    background = BackgroundTask(service.deliver_quietly, sms) if sms else None
    return Response(body, status_code=202, background=background)


@post("/password-reset/confirm", summary="Set a new password with the SMS code", status_code=200, opt=PUBLIC)
async def api_reset(data: JSONBody[ResetIn], request: Request) -> Response[Any]:
    try:
        await _service(request).reset_password(
            identifier=data.identifier,
            code=data.code,
            password=data.password,
            password_confirmation=data.password_confirmation,
        )
    except CitizenFailure as exc:
        return _api_error(request, exc)
    return Response(
        {
            "status": "password_changed",
            "detail": translate("citizen.notice.password_changed", request_language(request)),
        }
    )


def _profile_out(p: Profile) -> ProfileOut:
    return ProfileOut(
        p.id,
        p.name,
        p.nik_masked,
        p.phone,
        p.birth_date,
        p.sex,
        p.address,
        p.kecamatan,
        p.kelurahan,
        p.region_code,
        p.region_name,
        p.resident,
        p.status,
        p.phone_verified,
    )


@get("/me", guards=[requires("core.profile.view")], summary="My citizen profile (NIK masked)")
async def api_me(request: Request) -> Response[Any]:
    principal = current_principal()
    assert principal is not None
    try:
        profile = await _service(request).profile(principal)
    except CitizenFailure as exc:
        return _api_error(request, exc)
    return Response(_profile_out(profile), headers=NO_STORE)


@post(
    "/me/deletion",
    guards=[requires("core.profile.view")],
    summary="Delete my account: personal data anonymised, complaints kept",
    status_code=200,
)
async def api_delete_me(data: JSONBody[DeletionIn], request: Request) -> Response[Any]:
    principal = current_principal()
    assert principal is not None
    try:
        await _service(request).delete_account(principal, password=data.password)
    except CitizenFailure as exc:
        return _api_error(request, exc)
    response: Response[Any] = Response(
        {
            "status": "deleted",
            "detail": translate("citizen.delete.done", request_language(request), city=current_tenant().name),
        }
    )
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@post(
    "/{citizen_id:int}/nik/unmask",
    guards=[requires("core.personal_data.unmask")],
    summary="A citizen's full NIK (every view is written to the audit log)",
    status_code=200,
)
async def api_unmask(
    citizen_id: FromPath[int], request: Request, data: JSONBody[UnmaskIn | None] = None
) -> Response[Any]:
    principal = current_principal()
    assert principal is not None
    nik = await _service(request).unmask_nik(
        citizen_id, actor=principal, reason=(data.reason if data else "")
    )
    if nik is None:
        raise NotFoundException(detail=f"no citizen {citizen_id} with a NIK in this city")
    return Response(UnmaskedOut(citizen_id, nik), headers=NO_STORE)


api = Router(
    path="/api/v1/citizens",
    route_handlers=[
        api_register,
        api_verify,
        api_resend,
        api_login,
        api_reset_request,
        api_reset,
        api_me,
        api_delete_me,
        api_unmask,
    ],
    guards=[city_only],
    tags=["citizens"],
    exception_handlers={ValidationException: _shape_error},
)


# ---- pages -----------------------------------------------------------------------------------------------


def _page(
    request: Request,
    template: str,
    *,
    status: int = 200,
    problems: list[Problem] | None = None,
    alert: str | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    lang = request_language(request)
    errors: dict[str, list[str]] = {}
    for p in problems or []:
        errors.setdefault(p.field, []).append(p.text(lang))
    notice_key = NOTICES.get(request.query_params.get("pesan", ""))
    page_context: dict[str, Any] = {
        "city": current_tenant(),
        "errors": errors,
        "alert": alert or (translate("citizen.error.form", lang) if errors else None),
        "notice": translate(notice_key, lang) if notice_key else None,
        "code_minutes": CODE_TTL_SECONDS // 60,
    }
    page_context.update({k: v for k, v in context.items() if not (k == "notice" and v is None)})
    return page(request, f"auth/{template}", status=status, headers=headers, **page_context)


def _page_failure(request: Request, template: str, exc: Exception, **context: Any) -> Response[str]:
    """The form again, with what went wrong next to the fields or above the form."""
    lang = request_language(request)
    tenant = current_tenant()
    if isinstance(exc, InputErrors):
        return _page(request, template, status=422, problems=exc.problems, **context)
    if isinstance(exc, RateLimited):
        return _page(
            request,
            template,
            status=429,
            alert=_wait_text(exc.retry_after, lang, tenant),
            headers={"retry-after": str(exc.retry_after)},
            **context,
        )
    if isinstance(exc, ServiceUnavailable):
        return _page(
            request, template, status=503, alert=translate(exc.key, lang, city=tenant.name), **context
        )
    if isinstance(exc, LoginFailed):
        return _page(
            request, template, status=401, alert=translate("citizen.error.login.failed", lang), **context
        )
    raise exc


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def _signed_in_citizen() -> bool:
    p = current_principal()
    return p is not None and p.kind == "citizen"


@get("/daftar", summary="Registration page", opt=PUBLIC, include_in_schema=False)
async def register_page(request: Request) -> Response[Any]:
    if _signed_in_citizen():
        return Redirect("/profil", status_code=303)
    return _page(request, "citizen_register.html", values={})


@post("/daftar", summary="Registration form", opt=PUBLIC, include_in_schema=False, status_code=200)
async def register_submit(request: Request) -> Response[Any]:
    form = await _form(request)
    values = {"nik": form.get("nik", ""), "phone": form.get("phone", "")}
    try:
        result = await _service(request).register(
            nik=values["nik"],
            phone=values["phone"],
            password=form.get("password", ""),
            password_confirmation=form.get("password_confirmation", ""),
        )
    except CitizenFailure as exc:
        return _page_failure(request, "citizen_register.html", exc, values=values)
    lang = request_language(request)
    if result.code_sent:
        notice = translate("citizen.verify.sent", lang, phone=mask_phone(result.phone))
        alert = None
    else:
        notice, alert = None, translate("citizen.error.sms.down", lang)
    return _page(
        request,
        "citizen_verify.html",
        status=201,
        notice=notice,
        alert=alert,
        values={"phone": result.phone},
        registered=True,
        resident=result.resident,
    )


@get("/verifikasi", summary="Phone verification page", opt=PUBLIC, include_in_schema=False)
async def verify_page(request: Request) -> Response[Any]:
    return _page(request, "citizen_verify.html", values={})


@post("/verifikasi", summary="Phone verification form", opt=PUBLIC, include_in_schema=False, status_code=200)
async def verify_submit(request: Request) -> Response[Any]:
    form = await _form(request)
    values = {"phone": form.get("phone", "")}
    try:
        await _service(request).verify_phone(phone=values["phone"], code=form.get("code", ""))
    except CitizenFailure as exc:
        return _page_failure(request, "citizen_verify.html", exc, values=values)
    return Redirect("/masuk?pesan=terverifikasi", status_code=303)


@post(
    "/verifikasi/kirim-ulang",
    summary="Send the verification code again",
    opt=PUBLIC,
    include_in_schema=False,
    status_code=200,
)
async def verify_resend(request: Request) -> Response[Any]:
    form = await _form(request)
    # The page carries the number in a hidden field, or asks for it when it does not know it.
    values = {"phone": form.get("phone") or form.get("resend_phone", "")}
    try:
        await _service(request).resend_verification(phone=values["phone"])
    except CitizenFailure as exc:
        return _page_failure(request, "citizen_verify.html", exc, values=values)
    return _page(
        request,
        "citizen_verify.html",
        notice=translate("citizen.verify.resent", request_language(request)),
        values=values,
    )


@get("/masuk", summary="Citizen login page", opt=PUBLIC, include_in_schema=False)
async def login_page(request: Request) -> Response[Any]:
    target = safe_next(request.query_params.get("next"), "/profil")
    if _signed_in_citizen():
        return Redirect(target, status_code=303)
    return _page(request, "citizen_login.html", values={}, next=target)


@post("/masuk", summary="Citizen login form", opt=PUBLIC, include_in_schema=False, status_code=200)
async def login_submit(request: Request) -> Response[Any]:
    form = await _form(request)
    target = safe_next(form.get("next"), "/profil")
    values = {"identifier": form.get("identifier", "")}
    try:
        done = await _service(request).login(
            identifier=values["identifier"],
            password=form.get("password", ""),
            old_token=request.cookies.get(COOKIE_NAME),
        )
    except PhoneNotVerified as exc:
        return _page(
            request,
            "citizen_verify.html",
            status=403,
            alert=translate("citizen.error.login.pending", request_language(request)),
            values={"phone": exc.phone},
        )
    except CitizenFailure as exc:
        return _page_failure(request, "citizen_login.html", exc, values=values, next=target)
    response = Redirect(target, status_code=303)
    response.set_cookie(**cookie_options(request.app.state.settings, done.token))
    return response


@get("/lupa-sandi", summary="Password reset page", opt=PUBLIC, include_in_schema=False)
async def reset_page(request: Request) -> Response[Any]:
    return _page(request, "citizen_reset.html", step="request", values={})


@post(
    "/lupa-sandi",
    summary="Ask for a password reset code",
    opt=PUBLIC,
    include_in_schema=False,
    status_code=200,
)
async def reset_request(request: Request) -> Response[Any]:
    form = await _form(request)
    values = {"identifier": form.get("identifier", "")}
    service = _service(request)
    try:
        sms = await service.request_password_reset(identifier=values["identifier"])
    except CitizenFailure as exc:
        return _page_failure(request, "citizen_reset.html", exc, step="request", values=values)
    response = _page(
        request,
        "citizen_reset.html",
        step="confirm",
        notice=translate("citizen.reset.sent", request_language(request), minutes=CODE_TTL_SECONDS // 60),
        values=values,
    )
    if sms is not None:
        response.background = BackgroundTask(service.deliver_quietly, sms)
    return response


@post(
    "/lupa-sandi/atur",
    summary="Set a new password with the code",
    opt=PUBLIC,
    include_in_schema=False,
    status_code=200,
)
async def reset_submit(request: Request) -> Response[Any]:
    form = await _form(request)
    values = {"identifier": form.get("identifier", "")}
    try:
        await _service(request).reset_password(
            identifier=values["identifier"],
            code=form.get("code", ""),
            password=form.get("password", ""),
            password_confirmation=form.get("password_confirmation", ""),
        )
    except CitizenFailure as exc:
        return _page_failure(request, "citizen_reset.html", exc, step="confirm", values=values)
    return Redirect("/masuk?pesan=sandi-baru", status_code=303)


@get("/profil", guards=[requires("core.profile.view")], summary="My profile", include_in_schema=False)
async def profile_page(request: Request) -> Response[Any]:
    principal = current_principal()
    assert principal is not None
    try:
        profile = await _service(request).profile(principal)
    except NotACitizen:
        return _page(request, "citizen_profile.html", profile=None)
    return _page(request, "citizen_profile.html", profile=profile)


@get(
    "/profil/hapus",
    guards=[requires("core.profile.view")],
    summary="Delete my account",
    include_in_schema=False,
)
async def delete_page(request: Request) -> Response[Any]:
    return _page(request, "citizen_delete.html", done=False)


@post(
    "/profil/hapus",
    guards=[requires("core.profile.view")],
    summary="Delete my account (form)",
    include_in_schema=False,
    status_code=200,
)
async def delete_submit(request: Request) -> Response[Any]:
    principal = current_principal()
    assert principal is not None
    form = await _form(request)
    try:
        await _service(request).delete_account(principal, password=form.get("password", ""))
    except NotACitizen:
        return _page(request, "citizen_profile.html", profile=None)
    except CitizenFailure as exc:
        return _page_failure(request, "citizen_delete.html", exc, done=False)
    response = _page(request, "citizen_delete.html", done=True, principal=None)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@get("/keluar", summary="Log out page", opt=PUBLIC, include_in_schema=False)
async def logout_page(request: Request) -> Response[Any]:
    if current_principal() is None:
        return Redirect("/masuk", status_code=303)
    return _page(request, "citizen_logout.html")


@post("/keluar", summary="Log out", opt=PUBLIC, include_in_schema=False, status_code=200)
async def logout_submit(request: Request) -> Response[Any]:
    response = Redirect("/masuk?pesan=keluar", status_code=303)
    await end_login(request, response)
    return response


pages = Router(
    path="/",
    route_handlers=[
        register_page,
        register_submit,
        verify_page,
        verify_submit,
        verify_resend,
        login_page,
        login_submit,
        reset_page,
        reset_request,
        reset_submit,
        profile_page,
        delete_page,
        delete_submit,
        logout_page,
        logout_submit,
    ],
    guards=[city_only],
)

route_handlers = [api, pages]
