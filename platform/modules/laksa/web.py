"""What Laksa's JSON API, pages and Open311 endpoints share: who is asking, reading a form with
photos, and turning what the services refuse into an answer (field, reason, HTTP status)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.exceptions import ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from kotalive.auth.principal import current_principal
from kotalive.context import current_tenant
from kotalive.i18n import translate
from kotalive.modules.laksa.domain import (
    Conflict,
    Forbidden,
    InputErrors,
    InvalidTransition,
    LaksaError,
    NotFound,
    Problem,
    RateLimited,
)
from kotalive.modules.laksa.services import Actor, Upload
from kotalive.web import request_language

# Five photos of 10 MB and the form around them; the city's own limits are checked by the service.
MAX_UPLOAD_BODY = 64 * 1024 * 1024
MAX_FORM_PARTS = 40


def actor() -> Actor | None:
    principal = current_principal()
    return Actor.of(principal) if principal is not None else None


def required_actor() -> Actor:
    found = actor()
    assert found is not None, "route guards let only signed-in people through"
    return found


def city_time(value: dt.datetime | None) -> dt.datetime | None:
    """A moment in the city's time zone, so answers carry the city's offset (+07:00 WIB, ...)."""
    if value is None:
        return None
    return value.astimezone(ZoneInfo(current_tenant().timezone))


def problem_text(problem: Problem, lang: str) -> str:
    params = {k: (translate(v, lang) if k == "name_key" else v) for k, v in problem.params.items()}
    return translate(problem.key, lang, **params)


def errors_of(problems: list[Problem], lang: str) -> list[dict[str, str]]:
    return [
        {"field": p.field, "reason": problem_text(p, lang), "code": f"{p.field.split('[')[0]}.{p.code}"}
        for p in problems
    ]


def transition_text(exc: InvalidTransition, lang: str) -> str:
    allowed = ", ".join(translate(f"laksa.state.{s}", lang) for s in exc.allowed_from)
    return translate(
        "laksa.error.transition",
        lang,
        action=translate(f"laksa.action.{exc.action}", lang),
        state=translate(f"laksa.state.{exc.state}", lang),
        allowed=allowed,
    )


def refusal(exc: LaksaError, lang: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for what a service refused."""
    if isinstance(exc, InputErrors):
        body = {
            "status_code": 422,
            "error": "invalid_input",
            "detail": translate("laksa.error.form", lang),
            "errors": errors_of(exc.problems, lang),
        }
        return 422, body, {}
    if isinstance(exc, InvalidTransition):
        return (
            409,
            {
                "status_code": 409,
                "error": "invalid_transition",
                "detail": transition_text(exc, lang),
                "state": exc.state,
                "action": exc.action,
                "allowed_from": list(exc.allowed_from),
            },
            {},
        )
    if isinstance(exc, Conflict):
        return (
            409,
            {
                "status_code": 409,
                "error": exc.code,
                "detail": translate(f"laksa.conflict.{exc.code}", lang, **exc.params),
            },
            {},
        )
    if isinstance(exc, NotFound):
        return (
            404,
            {
                "status_code": 404,
                "error": "not_found",
                "detail": translate(f"laksa.not_found.{exc.what}", lang, id=exc.ident),
            },
            {},
        )
    if isinstance(exc, Forbidden):
        return (
            403,
            {"status_code": 403, "error": exc.code, "detail": translate(f"laksa.forbidden.{exc.code}", lang)},
            {},
        )
    if isinstance(exc, RateLimited):
        return (
            429,
            {
                "status_code": 429,
                "error": "rate_limited",
                "detail": translate(
                    "laksa.error.rate_limited", lang, minutes=max(1, (exc.retry_after + 59) // 60)
                ),
                "retry_after": exc.retry_after,
            },
            {"retry-after": str(exc.retry_after)},
        )
    raise exc


def api_refusal(request: Request, exc: LaksaError) -> Response[Any]:
    status, body, headers = refusal(exc, request_language(request))
    return Response(body, status_code=status, headers=headers)


def shape_error(request: Request, exc: ValidationException) -> Response[Any]:
    """Litestar's decoding errors (wrong types, unknown fields) as {field, reason}, 400."""
    lang = request_language(request)
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        {
            "field": str(i.get("key") or "body"),
            "reason": str(i.get("message") or exc.detail),
            "code": "invalid",
        }
        for i in extra
        if isinstance(i, dict)
    ] or [{"field": "body", "reason": str(exc.detail), "code": "invalid"}]
    return Response(
        {
            "status_code": 400,
            "error": "invalid_input",
            "detail": translate("laksa.error.form", lang),
            "errors": errors,
        },
        status_code=400,
    )


def too_large(request: Request, exc: RequestEntityTooLarge) -> Response[Any]:
    lang = request_language(request)
    reason = translate("laksa.error.photos.body_too_large", lang, mb=MAX_UPLOAD_BODY // 1024 // 1024)
    return Response(
        {
            "status_code": 413,
            "error": "too_large",
            "detail": reason,
            "errors": [{"field": "photos", "reason": reason, "code": "photos.body_too_large"}],
        },
        status_code=413,
    )


async def read_submission(request: Request) -> tuple[dict[str, Any], list[Upload]]:
    """The fields and photos of a form post (multipart or url-encoded), or the fields of a JSON
    body. Repeated fields (``copy_agency_ids``) come as lists; ``attribute[code]`` as a dict."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()
        fields: dict[str, Any] = {}
        uploads: list[Upload] = []
        attributes: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                if data or value.filename:
                    uploads.append(Upload(data, value.filename))
                continue
            if key.startswith("attribute[") and key.endswith("]"):
                code = key[len("attribute[") : -1]
                if code in attributes:
                    existing = attributes[code]
                    attributes[code] = [*existing, value] if isinstance(existing, list) else [existing, value]
                else:
                    attributes[code] = value
                continue
            if key in fields:
                existing = fields[key]
                fields[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
            else:
                fields[key] = value
        if attributes:
            fields["attributes"] = attributes
        return fields, uploads
    raw = await request.body()
    if not raw.strip():
        return {}, []
    import msgspec

    try:
        decoded = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise InputErrors([Problem("body", "not_json")]) from None
    if not isinstance(decoded, dict):
        raise InputErrors([Problem("body", "not_object")])
    return decoded, []


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on", "ya")


def as_int(value: Any, field_name: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise InputErrors([Problem(field_name, "invalid")])
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise InputErrors([Problem(field_name, "invalid")]) from None


def as_int_list(value: Any, field_name: str) -> list[int]:
    if value in (None, "", []):
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    out = []
    for item in items:
        parsed = as_int(item, field_name)
        if parsed is not None:
            out.append(parsed)
    return out
