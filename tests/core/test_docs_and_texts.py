"""The README lists every setting the code reads; both languages have every text."""

from __future__ import annotations

import re
from pathlib import Path

from kotalive.i18n import pick_language, translate
from kotalive.i18n.catalogues import CATALOGUES
from kotalive.settings import SETTINGS_DOC, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_readme_documents_every_setting_and_only_those() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(KOTALIVE_[A-Z0-9_]+)` \|", readme, flags=re.M))
    assert documented == {name for name, _, _ in SETTINGS_DOC}
    source = "\n".join(p.read_text() for p in (ROOT / "platform").rglob("*.py"))
    read_in_code = set(re.findall(r'"(KOTALIVE_[A-Z0-9_]+)"', source))
    assert read_in_code <= documented | {"KOTALIVE_TEST_REDIS_DB"}


def test_both_languages_have_the_same_texts() -> None:
    assert set(CATALOGUES["id"]) == set(CATALOGUES["en"])
    assert (
        translate("error.suspended", "en", city="Kota X") == "The services of Kota X are suspended for now."
    )
    assert translate("error.suspended", None, city="Kota X").startswith("Layanan Kota X")


def test_language_choice() -> None:
    assert pick_language(None, None) == "id"
    assert pick_language("en-US,en;q=0.9", None) == "en"
    assert pick_language("fr,en;q=0.5,id;q=0.8", None) == "id"
    assert pick_language("en", "id") == "id"


def test_bad_settings_name_the_variable() -> None:
    cases = {
        "KOTALIVE_DATABASE_URL": "mysql://x",
        "KOTALIVE_REDIS_URL": "http://x",
        "KOTALIVE_PORT": "eighty",
        "KOTALIVE_TRUSTED_PROXIES": "not-an-ip",
        "KOTALIVE_ENV": "staging",
    }
    for name, value in cases.items():
        try:
            Settings.from_env({name: value})
        except SettingsError as exc:
            assert name in str(exc)
        else:
            raise AssertionError(f"{name}={value!r} was accepted")
    try:
        Settings.from_env({"KOTALIVE_ENV": "production"})
    except SettingsError as exc:
        assert "KOTALIVE_SECRET_KEY" in str(exc)
    else:
        raise AssertionError("production without a secret key was accepted")


def test_plain_postgres_urls_are_accepted() -> None:
    s = Settings.from_env(
        {"KOTALIVE_DATABASE_URL": "postgresql://kota@db.internal:5433/kotalive?sslmode=require"}
    )
    assert s.database_url == "postgresql+asyncpg://kota@db.internal:5433/kotalive?ssl=require"
    assert Settings.from_env({"KOTALIVE_DATABASE_URL": "postgres://u@h/d"}).database_url.startswith(
        "postgresql+asyncpg://"
    )
