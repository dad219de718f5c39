"""The Jinja environment shared by every page (autoescape on everywhere).

Templates come from ``platform/templates``, from each module's own ``templates/`` folder
(``platform/modules/<name>/templates/<name>/...``), so a module keeps its pages beside its code,
and from the folders each installed surface names (``Surface.templates``, e.g. the admin's).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape

from kotalive.i18n import translate
from kotalive.registry import discover_surfaces

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
MODULE_TEMPLATE_DIRS = sorted((Path(__file__).parent / "modules").glob("*/templates"))


def local_time(value: dt.datetime | None, tz: str = "Asia/Jakarta", fmt: str = "%d-%m-%Y %H:%M") -> str:
    """A moment in the city's time zone with its abbreviation (WIB, WITA, WIT), e.g. 05-12-2026 14:03 WIB."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    local = value.astimezone(ZoneInfo(tz))
    return f"{local.strftime(fmt)} {local.tzname()}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    loaders: list[Any] = [FileSystemLoader(str(TEMPLATE_DIR))]
    loaders += [FileSystemLoader(str(d)) for d in MODULE_TEMPLATE_DIRS]
    loaders += [FileSystemLoader(d) for s in discover_surfaces() for d in s.templates]
    loaders.append(PackageLoader("kotalive", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True, default_for_string=True),
        enable_async=False,
    )
    env.globals["t"] = translate
    env.filters["local_time"] = local_time
    return env


def render_page(name: str, *, lang: str, **context: Any) -> str:
    return environment().get_template(name).render(lang=lang, **context)
