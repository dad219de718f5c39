"""The 112 module's texts, merged into the catalogues when the module loads: calls and incidents
(texts_calls), units, dispatch and measures (texts_dispatch)."""

from __future__ import annotations

from kotalive.modules.hotline112 import texts_calls, texts_dispatch


def merge(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"id": {}, "en": {}}
    for part in parts:
        for lang in out:
            clash = set(out[lang]) & set(part[lang])
            if clash:
                raise ValueError(f"112 texts defined twice: {', '.join(sorted(clash)[:5])}")
            out[lang].update(part[lang])
    return out


TEXTS = merge(texts_calls.TEXTS, texts_dispatch.TEXTS)
