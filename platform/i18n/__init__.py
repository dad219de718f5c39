"""Message catalogues: Bahasa Indonesia (default) and English.

Keys are dotted names; a missing English text falls back to Indonesian, a missing key to itself
(and a test checks both catalogues have the same keys).
"""

from __future__ import annotations

from kotalive.i18n.catalogues import CATALOGUES

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"


class TextClash(ValueError):
    """A module's text would replace another text; the process refuses to start."""


def add_texts(owner: str, texts: dict[str, dict[str, str]]) -> None:
    """Merge a module's texts (``{"id": {...}, "en": {...}}``) into the catalogues. Both languages
    must have the same keys; a key already there with another text is refused (re-adding the same
    texts, as a second ``load()`` does, changes nothing)."""
    if set(texts) != set(LANGUAGES):
        raise TextClash(f"{owner}: texts must come in exactly {', '.join(LANGUAGES)}")
    if set(texts["id"]) != set(texts["en"]):
        missing = sorted(set(texts["id"]) ^ set(texts["en"]))
        raise TextClash(f"{owner}: these texts are not in both languages: {', '.join(missing[:10])}")
    for lang in LANGUAGES:
        for key, text in texts[lang].items():
            existing = CATALOGUES[lang].get(key)
            if existing is not None and existing != text:
                raise TextClash(f"{owner}: the text {key!r} ({lang}) is already defined differently")
    for lang in LANGUAGES:
        CATALOGUES[lang].update(texts[lang])


def translate(key: str, lang: str | None = None, **params: object) -> str:
    lang = lang if lang in CATALOGUES else DEFAULT_LANGUAGE
    text = CATALOGUES[lang].get(key) or CATALOGUES[DEFAULT_LANGUAGE].get(key) or key
    return text.format(**params) if params else text


def pick_language(accept_language: str | None, explicit: str | None) -> str:
    """``?lang=`` or cookie first, then the browser's Accept-Language, then Indonesian."""
    if explicit in LANGUAGES:
        return explicit
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for part in (accept_language or "").split(","):
        tag, _, q = part.strip().partition(";q=")
        primary = tag.split("-")[0].lower()
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        if primary in LANGUAGES and weight > best_q:
            best, best_q = primary, weight
    return best
