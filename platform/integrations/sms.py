"""The SMS gateway of a city: one-time codes and notices to Indonesian mobile numbers.

Contract (infra/simulators/README.md): ``POST {base_url}/api/v1/messages`` with ``X-API-Key`` and
{to, text, reference} -> 202 {id, status}. ``to`` is E.164 (``+62...``); ``reference`` is the
sender's own id for the message (e.g. the code request's id), echoed in delivery reports.

A send is never retried here: a timeout may still have delivered the message, so the caller decides
(a code request can simply be asked again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, Self

import httpx

from kotalive.integrations.http import JsonApiClient, ServiceConfig, field_error

SYSTEM = "SMS gateway"
E164_RE = re.compile(r"^\+[1-9]\d{7,14}$")
MAX_TEXT = 640  # four concatenated SMS
MAX_REFERENCE = 100


@dataclass(frozen=True, slots=True, repr=False)  # ServiceConfig.__repr__ hides the key
class SmsConfig(ServiceConfig):
    system = "sms"


class SmsSender(Protocol):
    """The port."""

    async def send(self, to: str, text: str, reference: str) -> str: ...


def normalise_indonesian_number(number: str) -> str:
    """``0812-3456-7890``, ``6281234567890`` or ``+62 812 3456 7890`` -> ``+6281234567890`` (E.164).

    Raises ValueError for anything that is not an Indonesian mobile number (+62 8xx, 9-12 digits
    after the 8).
    """
    digits = re.sub(r"[\s\-().]", "", number or "")
    if digits.startswith("+62"):
        rest = digits[3:]
    elif digits.startswith("62"):
        rest = digits[2:]
    elif digits.startswith("0"):
        rest = digits[1:]
    else:
        raise ValueError("an Indonesian mobile number starts with 08, 62 or +62")
    if not re.fullmatch(r"8\d{7,11}", rest):
        raise ValueError("an Indonesian mobile number is 08 followed by 8 to 12 digits")
    return "+62" + rest


class SmsGateway:
    """HTTP adapter for one city's SMS gateway: ``await gateway.send(to, text, reference) -> id``.

    Raises ``Unavailable`` (the caller shows "try again later"), ``Misconfigured``, ``Rejected``
    (the gateway refused this number or text) and ``ValueError`` for input that never leaves.
    """

    def __init__(self, config: SmsConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._api = JsonApiClient(SYSTEM, config, transport=transport, get_retries=0)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._api.aclose()

    async def send(self, to: str, text: str, reference: str) -> str:
        if not isinstance(to, str) or not E164_RE.fullmatch(to):
            raise ValueError("'to' must be an E.164 number such as +6281234567890")
        if not text or len(text) > MAX_TEXT:
            raise ValueError(f"an SMS text is 1 to {MAX_TEXT} characters")
        if not reference or len(reference) > MAX_REFERENCE:
            raise ValueError(f"a reference is 1 to {MAX_REFERENCE} characters")
        body = await self._api.post_json("api/v1/messages", {"to": to, "text": text, "reference": reference})
        message_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise field_error(SYSTEM, "message", "id")
        return message_id
