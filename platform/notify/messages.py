"""What a notification says: messages declared by modules, worded per city, rendered in a sandbox.

A module declares its messages (``Message``) with default wording in both languages and the
channels each kind of recipient gets by default. A city admin may reword any of them per channel
and language (``message_template``); the wording is a Jinja template run in Jinja's immutable
sandbox (no attribute access to Python internals, no writes), on plain values the module passes.
Output is plain text: pages escape it where they show it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

log = logging.getLogger(__name__)

LANGUAGES = ("id", "en")
MAX_TEMPLATE = 4000


@dataclass(frozen=True, slots=True)
class Wording:
    title: str  # in-app title and e-mail subject
    body: str  # in-app text, e-mail body, SMS text


@dataclass(frozen=True, slots=True)
class Message:
    """A kind of notification a module sends, e.g. ``laksa.routed``."""

    key: str
    description: str  # for the city admin's list
    wording: Mapping[str, Wording]  # language -> default wording
    # recipient kind (citizen | employee) -> channels it gets unless the person chose otherwise
    channels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sample: Mapping[str, Any] = field(default_factory=dict)  # values to try a city's wording with
    link: str | None = None  # a template of the link the bell opens, e.g. "/staff/laksa/{{ id }}"


@dataclass(frozen=True, slots=True)
class Recipient:
    kind: str  # citizen | employee
    id: int
    name: str = ""
    email: str | None = None
    phone: str | None = None
    language: str | None = None


class WordingError(ValueError):
    """A city's wording that does not render (the admin sees ``reason`` next to the field)."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


@lru_cache(maxsize=2048)
def _compiled(source: str) -> Any:
    return _environment().from_string(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    return str(_compiled(source).render(**context)).strip()


def check_wording(title: str, body: str, sample: Mapping[str, Any]) -> None:
    """Refuse wording that is too long, does not parse, or fails on the message's sample values."""
    for name, source in (("subject", title), ("body", body)):
        if not source.strip():
            raise WordingError(name, "is empty")
        if len(source) > MAX_TEMPLATE:
            raise WordingError(name, f"is longer than {MAX_TEMPLATE} characters")
        try:
            render(source, sample)
        except TemplateError as exc:
            raise WordingError(name, f"does not render: {exc}") from None


def wording_for(
    message: Message, language: str, overrides: Mapping[tuple[str, str], tuple[str | None, str]], channel: str
) -> Wording:
    """The city's wording for (channel, language) if it has one, else the module's default."""
    lang = language if language in message.wording else "id"
    default = message.wording[lang]
    override = overrides.get((channel, lang))
    if override is None:
        return default
    subject, body = override
    return Wording(subject or default.title, body)


def render_wording(wording: Wording, context: Mapping[str, Any], fallback: Wording) -> Wording:
    """Render; a broken city wording falls back to the module's default (and is logged)."""
    try:
        return Wording(render(wording.title, context), render(wording.body, context))
    except TemplateError as exc:
        log.warning("a city's message wording failed (%s); the default wording is used", exc)
        return Wording(render(fallback.title, context), render(fallback.body, context))
