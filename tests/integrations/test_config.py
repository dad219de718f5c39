"""Per-city config objects: validation errors name the field; the key never shows in a repr."""

from __future__ import annotations

import pytest

from kotalive.integrations import ConfigError, SiakConfig, SimpegConfig, SmsConfig


def test_from_dict_accepts_a_settings_row() -> None:
    config = SiakConfig.from_dict({"base_url": " https://siak.example.go.id/api-gw ", "api_key": "k"})
    assert config.base_url == "https://siak.example.go.id/api-gw"
    assert config.timeout_seconds == 5.0
    assert (
        SmsConfig.from_dict(
            {"base_url": "http://127.0.0.1:1", "api_key": "k", "timeout_seconds": "2.5"}
        ).timeout_seconds
        == 2.5
    )
    assert "secret-key" not in repr(SiakConfig("http://h", "secret-key"))
    assert config.to_dict()["api_key"] == "k"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"api_key": "k"}, "simpeg.base_url"),
        ({"base_url": "http://h"}, "simpeg.api_key"),
        ({"base_url": "ftp://h", "api_key": "k"}, "simpeg.base_url"),
        ({"base_url": "http://", "api_key": "k"}, "simpeg.base_url"),
        ({"base_url": "http://u:p@h", "api_key": "k"}, "simpeg.base_url"),
        ({"base_url": "http://h?x=1", "api_key": "k"}, "simpeg.base_url"),
        ({"base_url": "http://h", "api_key": " "}, "simpeg.api_key"),
        ({"base_url": "http://h", "api_key": "a\nb"}, "simpeg.api_key"),
        ({"base_url": "http://h", "api_key": "k", "timeout_seconds": 0}, "simpeg.timeout_seconds"),
        ({"base_url": "http://h", "api_key": "k", "timeout_seconds": "soon"}, "simpeg.timeout_seconds"),
        ({"base_url": "http://h", "api_key": "k", "timeout_seconds": True}, "simpeg.timeout_seconds"),
        ({"base_url": "http://h", "api_key": "k", "timeout_seconds": float("nan")}, "simpeg.timeout_seconds"),
        ({"base_url": "http://h", "api_key": "k", "retries": 3}, "simpeg.retries"),
    ],
)
def test_errors_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        SimpegConfig.from_dict(data)
    assert error.value.field == field
    assert field in str(error.value)
