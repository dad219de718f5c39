"""SMS gateway simulator: ``POST /{city}/api/v1/messages`` sends into an inbox instead of a phone;
``GET /{city}/api/v1/messages?to=`` reads it (API), ``GET /{city}/inbox`` shows it (HTML, for demos).
Contract in ../README.md."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.params import FromPath

from kotalive_simulators.common import CityGate, control_handlers, error
from kotalive_simulators.data import DemoCity

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MAX_TEXT = 640
MAX_REFERENCE = 100
INBOX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    to: str
    text: str
    reference: str
    status: str
    created_at: str


class Outbox:
    """Every message a city sent, oldest first (bounded)."""

    def __init__(self, city: str) -> None:
        self.city = city
        self.messages: list[Message] = []
        self._ids = itertools.count(1)

    def add(self, to: str, text: str, reference: str) -> Message:
        message = Message(
            id=f"{self.city}-{next(self._ids):06d}",
            to=to,
            text=text,
            reference=reference,
            status="delivered",
            created_at=datetime.now().astimezone().isoformat(timespec="seconds"),
        )
        self.messages.append(message)
        del self.messages[:-INBOX_LIMIT]
        return message

    def for_number(self, to: str | None) -> list[Message]:
        return [m for m in self.messages if to is None or m.to == to]


def sms_app(cities: dict[str, DemoCity], extra_handlers: Sequence[Any] = ()) -> Litestar:
    """The SMS gateway; ``extra_handlers`` are served beside it (the mail sink's inbox and API)."""
    gate = CityGate({slug: city.sms_api_key for slug, city in cities.items()})
    outboxes = {slug: Outbox(slug) for slug in cities}

    @post("/{city:str}/api/v1/messages", status_code=202)
    async def send(request: Request[Any, Any, Any], city: FromPath[str]) -> Response[Any]:
        refused = await gate.check(request, city)
        if refused is not None:
            return refused
        try:
            body = await request.json()
        except Exception:
            body = None
        if not isinstance(body, dict):
            return error(400, "invalid_body", "a JSON object {to, text, reference}")
        to, text, reference = body.get("to"), body.get("text"), body.get("reference")
        if not isinstance(to, str) or not E164.fullmatch(to):
            return error(422, "invalid_number", "to is an E.164 number, e.g. +6281234567890")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
            return error(422, "invalid_text", f"text is 1 to {MAX_TEXT} characters")
        if not isinstance(reference, str) or not 1 <= len(reference) <= MAX_REFERENCE:
            return error(422, "invalid_reference", f"reference is 1 to {MAX_REFERENCE} characters")
        message = outboxes[city].add(to, text, reference)
        return Response({"id": message.id, "status": "queued"}, status_code=202)

    @get("/{city:str}/api/v1/messages")
    async def inbox(request: Request[Any, Any, Any], city: FromPath[str]) -> Response[Any]:
        refused = await gate.check(request, city, faults=False)  # failures are for sends
        if refused is not None:
            return refused
        to = request.query_params.get("to")
        return Response({"data": [asdict(m) for m in outboxes[city].for_number(to)]})

    @get("/{city:str}/inbox", media_type=MediaType.HTML)
    async def inbox_page(city: FromPath[str]) -> Response[str]:
        outbox = outboxes.get(city)
        if outbox is None:
            return Response("no such city", status_code=404, media_type=MediaType.TEXT)
        rows = "".join(
            f"<tr><td>{html.escape(m.created_at)}</td><td>{html.escape(m.to)}</td>"
            f"<td>{html.escape(m.text)}</td><td>{html.escape(m.reference)}</td></tr>"
            for m in reversed(outbox.messages)
        )
        return Response(
            "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=5>"
            f"<title>SMS inbox {html.escape(city)}</title>"
            "<style>body{font-family:sans-serif}td,th{padding:4px 8px;border-bottom:1px solid #ddd}</style>"
            f"<h1>SMS simulator: messages sent by {html.escape(city)}</h1>"
            "<table><tr><th>sent</th><th>to</th><th>text</th><th>reference</th></tr>"
            f"{rows or '<tr><td colspan=4>nothing sent yet</td></tr>'}</table>",
            media_type=MediaType.HTML,
        )

    def reset(city: str) -> None:
        outboxes[city] = Outbox(city)

    app = Litestar([send, inbox, inbox_page, *control_handlers(gate, reset), *extra_handlers], debug=False)
    app.state.gate = gate
    app.state.outboxes = outboxes
    return app
