"""/notifikasi/pengaturan: how a person with a bell wants to be told (quiet hours, the language of
the messages, each channel on or off for everything and per kind of message). A form page (CSRF,
errors next to the fields, both languages) over the same preferences as
``PUT /api/v1/notifications/preferences``.

Channel choices keep the meaning the dispatcher gives them (dispatch._channels_for): a message's
own defaults, then the person's choice for every message ("*"), then their choice for that
message. The page shows each message's resulting state as a checkbox and stores a choice for a
message only where the person changed the box, so "all e-mail off" really turns every e-mail off
unless a message says otherwise, and untouched messages follow later changes of the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.response import Redirect

from kotalive.auth.guards import requires
from kotalive.auth.models import Citizen, Employee
from kotalive.auth.principal import Principal, current_principal
from kotalive.context import current_tenant
from kotalive.db import tenant_session
from kotalive.i18n import translate
from kotalive.notify import service
from kotalive.notify.messages import LANGUAGES
from kotalive.notify.routes import VIEW
from kotalive.web import city_only, page, request_language

PATH = "/notifikasi/pengaturan"
CHANNELS = ("inapp", "email", "sms")
OVERALL = ("", "on", "off")  # per message (no "*" choice), all on, all off
TIME = re.compile(r"\d{2}:\d{2}")
NOTICES = {"tersimpan": "notify.prefs.saved", "bawaan": "notify.prefs.reset_done"}


@dataclass(frozen=True, slots=True)
class MessageRow:
    key: str
    label: str
    defaults: tuple[str, ...]  # channels this kind of person gets unless they choose otherwise


@dataclass(slots=True)
class FormState:
    """What the form shows: the stored preferences, or what was just sent."""

    quiet_from: str
    quiet_until: str
    language: str
    overall: dict[str, str]  # channel -> "" | "on" | "off"
    checked: dict[str, dict[str, bool]]  # message key -> channel -> box ticked


def _person() -> Principal:
    principal = current_principal()
    assert principal is not None and principal.kind in ("citizen", "employee")
    return principal


def message_rows(request: Request, kind: str, lang: str) -> list[MessageRow]:
    """The messages that concern this kind of person: those with defaults for it."""
    rows = []
    for message in request.app.state.modules.messages():
        if kind not in message.channels:
            continue
        text_key = f"notify.message.{message.key}"
        label = translate(text_key, lang)
        rows.append(
            MessageRow(
                key=message.key,
                label=message.description if label == text_key else label,
                defaults=tuple(c for c in CHANNELS if c in message.channels[kind]),
            )
        )
    return rows


def wanted(row: MessageRow, channel: str, choices: Mapping[str, Mapping[str, bool]]) -> bool:
    """Whether ``channel`` is on for ``row`` with these stored choices (as the dispatcher decides)."""
    on = channel in row.defaults
    for scope in ("*", row.key):
        choice = choices.get(scope, {}).get(channel)
        if choice is not None:
            on = choice
    return on


def _stored_state(prefs: service.Preferences, rows: list[MessageRow]) -> FormState:
    every = prefs.channels.get("*", {})
    return FormState(
        quiet_from=prefs.quiet_from or "",
        quiet_until=prefs.quiet_until or "",
        language=prefs.language or "",
        overall={c: "" if c not in every else ("on" if every[c] else "off") for c in CHANNELS},
        checked={r.key: {c: wanted(r, c, prefs.channels) for c in CHANNELS} for r in rows},
    )


def _sent_state(form: Mapping[str, str], rows: list[MessageRow]) -> FormState:
    return FormState(
        quiet_from=form.get("quiet_from", "").strip(),
        quiet_until=form.get("quiet_until", "").strip(),
        language=form.get("language", "").strip(),
        overall={c: form.get(f"all.{c}", "").strip() for c in CHANNELS},
        checked={r.key: {c: f"m.{r.key}.{c}" in form for c in CHANNELS} for r in rows},
    )


def _problems(state: FormState) -> dict[str, list[str]]:
    """Field -> text keys of what is wrong with it."""
    errors: dict[str, list[str]] = {}
    for name in ("quiet_from", "quiet_until"):
        value = getattr(state, name)
        if value and not (TIME.fullmatch(value) and int(value[:2]) < 24 and int(value[3:]) < 60):
            errors.setdefault(name, []).append("notify.prefs.error.time")
    if not errors:
        if bool(state.quiet_from) != bool(state.quiet_until):
            missing = "quiet_until" if state.quiet_from else "quiet_from"
            errors[missing] = ["notify.prefs.error.quiet_pair"]
        elif state.quiet_from and state.quiet_from == state.quiet_until:
            errors["quiet_until"] = ["notify.prefs.error.quiet_same"]
    if state.language not in ("", *LANGUAGES):
        errors["language"] = ["notify.prefs.error.language"]
    for channel, choice in state.overall.items():
        if choice not in OVERALL:
            errors[f"all.{channel}"] = ["notify.prefs.error.overall"]
    return errors


def channel_choices(
    sent: FormState, stored: Mapping[str, Mapping[str, bool]], rows: list[MessageRow], *, reset: bool
) -> dict[str, dict[str, bool]]:
    """The channel choices to store. A box left as the page showed it keeps what it had (an own
    choice stays, no choice stays none, so the "every message" choice applies to it); a changed box
    becomes the message's own choice unless the new "every message" choice already gives it (as
    when the page's script ticks a column to follow that choice). Choices about messages this page
    does not show (another kind of person's) stay as they were."""
    shown = {r.key for r in rows}
    choices: dict[str, dict[str, bool]] = {
        key: dict(value) for key, value in stored.items() if key != "*" and key not in shown
    }
    if reset:
        return choices
    every = {c: sent.overall[c] == "on" for c in CHANNELS if sent.overall[c]}
    if every:
        choices["*"] = every
    for row in rows:
        own: dict[str, bool] = {}
        for channel in CHANNELS:
            ticked = sent.checked[row.key][channel]
            if ticked == wanted(row, channel, stored):
                if channel in stored.get(row.key, {}):
                    own[channel] = stored[row.key][channel]
            elif ticked != wanted(row, channel, {"*": every}):
                own[channel] = ticked
        if own:
            choices[row.key] = own
    return choices


async def _addresses(principal: Principal) -> dict[str, bool]:
    """Which outside channels can reach the person at all (an e-mail address, a phone number)."""
    async with tenant_session() as session:
        if principal.kind == "employee":
            employee = await session.get(Employee, principal.id)
            email, phone = (employee.email, employee.phone) if employee else (None, None)
        else:
            citizen = await session.get(Citizen, principal.id)
            email, phone = getattr(citizen, "email", None), (citizen.phone if citizen else None)
    return {"email": bool(email), "sms": bool(phone)}


async def _render(
    request: Request,
    me: Principal,
    rows: list[MessageRow],
    state: FormState,
    stored: service.Preferences,
    *,
    errors: Mapping[str, list[str]] | None = None,
    status: int = 200,
) -> Response[str]:
    lang = request_language(request)
    notice_key = NOTICES.get(request.query_params.get("pesan", "")) if status == 200 else None
    texts = {field: [translate(k, lang) for k in keys] for field, keys in (errors or {}).items()}
    return page(
        request,
        "notify/preferences.html",
        status=status,
        city=current_tenant(),
        rows=rows,
        state=state,
        own={key: value for key, value in stored.channels.items() if key != "*"},
        channels=CHANNELS,
        languages=LANGUAGES,
        reachable=await _addresses(me),
        errors=texts,
        alert=translate("notify.prefs.error.form", lang) if texts else None,
        notice=translate(notice_key, lang) if notice_key else None,
    )


@get(PATH, guards=[requires(VIEW)], summary="How I want to be told (page)", include_in_schema=False)
async def preferences_page(request: Request) -> Response[str]:
    me = _person()
    rows = message_rows(request, me.kind, request_language(request))
    async with tenant_session() as session:
        stored = await service.preferences(session, me.kind, me.id)
    return await _render(request, me, rows, _stored_state(stored, rows), stored)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


ERROR_TEXTS = {
    "quiet_from": "notify.prefs.error.time",
    "quiet_until": "notify.prefs.error.time",
    "language": "notify.prefs.error.language",
    "channels": "notify.prefs.error.channels",
}


@post(
    PATH,
    guards=[requires(VIEW)],
    summary="How I want to be told (form)",
    include_in_schema=False,
    status_code=200,
)
async def preferences_submit(request: Request) -> Response[Any]:
    me = _person()
    rows = message_rows(request, me.kind, request_language(request))
    form = await _form(request)
    sent = _sent_state(form, rows)
    reset = form.get("action") == "reset"
    known = {m.key for m in request.app.state.modules.messages()}
    async with tenant_session() as session:
        stored = await service.preferences(session, me.kind, me.id)
        problems = _problems(sent)
        if not problems:
            data = {
                "quiet_from": sent.quiet_from or None,
                "quiet_until": sent.quiet_until or None,
                "language": sent.language or None,
                "channels": channel_choices(sent, stored.channels, rows, reset=reset),
            }
            try:
                await service.save_preferences(session, me.kind, me.id, data, known)
                await session.commit()
            except service.NotifyInputError as exc:  # the checks above should have caught it
                field = exc.field if exc.field in ERROR_TEXTS else "channels"
                problems = {field: [ERROR_TEXTS[field]]}
    if problems:
        return await _render(request, me, rows, sent, stored, errors=problems, status=422)
    return Redirect(f"{PATH}?pesan={'bawaan' if reset else 'tersimpan'}", status_code=303)


route_handlers = [Router(path="/", route_handlers=[preferences_page, preferences_submit], guards=[city_only])]
