"""The Jinja environment shared by every page (autoescape on everywhere)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape

from kotalive.i18n import translate

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(TEMPLATE_DIR)), PackageLoader("kotalive", "templates")]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        enable_async=False,
    )
    env.globals["t"] = translate
    return env


def render_page(name: str, *, lang: str, **context: Any) -> str:
    return environment().get_template(name).render(lang=lang, **context)
