"""The city's branding: a display name, two colours and a logo, shown on the city's pages through
``/branding.css`` (linked from the base layout) and ``/branding/logo``.

Colours are hex (``#0b6e4f``; ``#abc`` is widened), and the main colour must keep the white text of
the top bar and buttons readable (WCAG AA contrast, 4.5:1). A logo is judged by its bytes (PNG,
JPEG or WebP, size and pixel bounds before it is decoded) and re-encoded as a small PNG without
its metadata. The CSS is read on every page of the city, so each process keeps it for
``CACHE_SECONDS`` and drops its copy at once when it makes the change itself.
"""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from sqlalchemy import select

from kotalive.admin.city.agencies import AdminInputError, Problem
from kotalive.admin.city.models import CityBranding
from kotalive.db import TenantSession

DEFAULT_PRIMARY = "#0b6e4f"
DEFAULT_ACCENT = "#0b6e4f"
HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
NAME_MAX = 120
MAX_LOGO_BYTES = 512 * 1024
MAX_LOGO_PIXELS = 4_000_000
LOGO_BOX = (480, 160)  # the largest a logo is kept at (it is shown about 40 px high)
MIN_CONTRAST = 4.5
CACHE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Branding:
    display_name: str | None = None
    primary_colour: str = DEFAULT_PRIMARY
    accent_colour: str = DEFAULT_ACCENT
    has_logo: bool = False
    version: int = 0
    css: str = dc_field(default="", repr=False)


_cache: dict[str, tuple[float, Branding]] = {}


def forget(schema: str) -> None:
    _cache.pop(schema, None)


def normalise_colour(value: str) -> str | None:
    text = (value or "").strip()
    if not HEX.match(text):
        return None
    if len(text) == 4:
        text = "#" + "".join(c * 2 for c in text[1:])
    return text.lower()


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_with_white(colour: str) -> float:
    return (1.0 + 0.05) / (_luminance(colour) + 0.05)


def _check_logo(data: bytes, problems: list[Problem]) -> bytes | None:
    """The logo re-encoded as PNG (no metadata, at most LOGO_BOX), or None with a problem."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_LOGO_BYTES:
        problems.append(Problem("logo", "too_large", {"kb": MAX_LOGO_BYTES // 1024}))
        return None
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
            if kind not in ("PNG", "JPEG", "WEBP"):
                problems.append(Problem("logo", "type"))
                return None
            if width * height > MAX_LOGO_PIXELS:
                problems.append(Problem("logo", "too_many_pixels"))
                return None
            probe.load()
            image = probe.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        problems.append(Problem("logo", "not_image"))
        return None
    image.thumbnail(LOGO_BOX)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


async def load(session: TenantSession) -> CityBranding | None:
    return await session.get(CityBranding, 1)


async def save(
    session: TenantSession,
    data: dict[str, Any],
    *,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> CityBranding:
    """Set the branding from ``display_name``, ``primary_colour``, ``accent_colour`` and an
    optional new logo; the caller commits."""
    problems: list[Problem] = []
    name = str(data.get("display_name") or "").strip()
    if len(name) > NAME_MAX:
        problems.append(Problem("display_name", "too_long", {"max": NAME_MAX}))
    colours: dict[str, str] = {}
    for key in ("primary_colour", "accent_colour"):
        colour = normalise_colour(str(data.get(key) or ""))
        if colour is None:
            problems.append(Problem(key, "invalid"))
        else:
            colours[key] = colour
    primary = colours.get("primary_colour")
    if primary is not None and contrast_with_white(primary) < MIN_CONTRAST:
        problems.append(
            Problem("primary_colour", "contrast", {"ratio": f"{contrast_with_white(primary):.1f}"})
        )
    accent = colours.get("accent_colour")
    if accent is not None and contrast_with_white(accent) < MIN_CONTRAST:
        problems.append(Problem("accent_colour", "contrast", {"ratio": f"{contrast_with_white(accent):.1f}"}))
    new_logo = _check_logo(logo, problems) if logo else None
    if problems:
        raise AdminInputError(problems)
    row = await load(session)
    if row is None:
        row = CityBranding(id=1, version=0)
        session.add(row)
    row.display_name = name or None
    row.primary_colour = colours["primary_colour"]
    row.accent_colour = colours["accent_colour"]
    if new_logo is not None:
        row.logo, row.logo_type = new_logo, "image/png"
    elif remove_logo:
        row.logo, row.logo_type = None, None
    row.version = (row.version or 0) + 1
    await session.flush()
    forget(session.tenant.schema)
    return row


def css_of(row: CityBranding | None) -> str:
    """The city's stylesheet over the platform's: colours as they are stored (checked hex only,
    so nothing else can reach the CSS), and the logo beside the name in the top bar."""
    if row is None:
        return "/* this city uses the default look */\n"
    lines = [
        f":root {{ --accent: {row.primary_colour}; --brand-accent: {row.accent_colour}; }}",
        f"main a:not(.button) {{ color: {row.accent_colour}; }}",
    ]
    if row.logo:
        lines.append(
            '.topbar .brand::before { content: ""; display: inline-block; width: 2.5rem; height: 2rem; '
            f'margin-right: .5rem; vertical-align: middle; background: url("/branding/logo?v={row.version}") '
            "left center / contain no-repeat; }"
        )
    return "\n".join(lines) + "\n"


async def current(session: TenantSession) -> Branding:
    """The city's branding, from this process's copy when it is fresh."""
    schema = session.tenant.schema
    hit = _cache.get(schema)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    row = (
        await session.execute(
            select(
                CityBranding.display_name,
                CityBranding.primary_colour,
                CityBranding.accent_colour,
                CityBranding.logo.is_not(None).label("has_logo"),
                CityBranding.version,
            ).where(CityBranding.id == 1)
        )
    ).first()
    if row is None:
        found = Branding(css=css_of(None))
    else:
        shaped = CityBranding(
            id=1,
            display_name=row.display_name,
            primary_colour=row.primary_colour,
            accent_colour=row.accent_colour,
            logo=b"x" if row.has_logo else None,
            version=row.version,
        )
        found = Branding(
            row.display_name,
            row.primary_colour,
            row.accent_colour,
            bool(row.has_logo),
            row.version,
            css_of(shaped),
        )
    _cache[schema] = (time.monotonic(), found)
    return found
