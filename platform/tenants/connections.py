"""Connecting a city to its outside systems: check the settings, then try the connection.

Each kind's settings are checked by the adapter that will use them (so a stored setting can
always build a client), and "test connection" makes one harmless call: a SIAK lookup of a NIK
that cannot exist, the first page of Simpeg, the OpenID provider's discovery document and keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SECRET_KEYS: dict[str, frozenset[str]] = {
    "siak": frozenset({"api_key"}),
    "simpeg": frozenset({"api_key"}),
    "sms": frozenset({"api_key"}),
    "oidc": frozenset({"client_secret"}),
    "smtp": frozenset({"password"}),
    # 112: the telephony webhook's signing secret and the AML HMAC key.
    "telephony": frozenset({"webhook_secret", "aml_hmac_key"}),
}
# A NIK of a region that does not exist: a SIAK that answers "not found" is reachable and took the key.
PROBE_NIK = "9999010101900001"


class ConnectionSettingsError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def split_secrets(kind: str, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    secret_keys = SECRET_KEYS.get(kind, frozenset())
    config = {k: v for k, v in values.items() if k not in secret_keys}
    secrets = {k: str(v) for k, v in values.items() if k in secret_keys}
    return config, secrets


def build_client(kind: str, merged: Mapping[str, Any], *, allow_http: bool = False) -> Any:
    """The adapter (or, for OpenID, its config) the platform would use; raises on bad settings."""
    from kotalive.integrations.http import ConfigError

    data = dict(merged)
    try:
        if kind == "siak":
            from kotalive.integrations.siak import SiakClient, SiakConfig

            refuse = data.pop("refuse_non_residents", False)
            if not isinstance(refuse, bool):
                raise ConnectionSettingsError("siak.refuse_non_residents", "must be true or false")
            return SiakClient(SiakConfig.from_dict(data))
        if kind == "simpeg":
            from kotalive.auth.employees import simpeg_client

            if not isinstance(data.get("unit_map", {}), dict):
                raise ConnectionSettingsError("simpeg.unit_map", "must map Simpeg unit codes to agency codes")
            return simpeg_client(data)[0]
        if kind == "sms":
            from kotalive.integrations.sms import SmsConfig, SmsGateway

            return SmsGateway(SmsConfig.from_dict(data))
        if kind == "smtp":
            from kotalive.notify.channels import SmtpConfig

            secrets = {k: str(data.pop(k)) for k in list(data) if k in SECRET_KEYS["smtp"]}
            from kotalive.integrations.http import Misconfigured

            try:
                return SmtpConfig.from_integration(data, secrets)
            except Misconfigured as exc:
                raise ConnectionSettingsError("smtp", exc.message) from exc
            except (ValueError, TypeError) as exc:
                raise ConnectionSettingsError("smtp", str(exc)) from exc
        if kind == "telephony":
            # The telephony system and the AML senders call us: nothing to connect to, only the
            # secrets that authenticate them.
            for name, required in (("webhook_secret", True), ("aml_hmac_key", False)):
                value = data.get(name)
                if value is None and not required:
                    continue
                if not isinstance(value, str) or len(value) < 16:
                    raise ConnectionSettingsError(f"telephony.{name}", "required, at least 16 characters")
            return data
        if kind == "oidc":
            from kotalive.auth.oidc import OidcConfig, OidcConfigError

            try:
                return OidcConfig.from_dict(data, allow_http=allow_http)
            except OidcConfigError as exc:
                raise ConnectionSettingsError(f"oidc.{exc.field}", str(exc).split(": ", 1)[-1]) from exc
    except ConfigError as exc:
        field = getattr(exc, "field", kind)
        raise ConnectionSettingsError(str(field), str(exc).split(": ", 1)[-1]) from exc
    raise ConnectionSettingsError("kind", f"{kind} has no connection check yet")


async def check_connection(kind: str, merged: Mapping[str, Any], *, allow_http: bool = False) -> str:
    """One harmless call to the system; returns what was seen, raises with the reason otherwise."""
    from kotalive.integrations.http import IntegrationError, NotFound

    client = build_client(kind, merged, allow_http=allow_http)
    try:
        if kind == "siak":
            async with client:
                try:
                    await client.lookup(PROBE_NIK)
                except NotFound:
                    pass
            return "SIAK answered and accepted the key"
        if kind == "simpeg":
            async with client:
                async for _ in client.iter_employees():
                    break
            return "Simpeg answered and accepted the key"
        if kind == "sms":
            return "settings are complete (an SMS gateway is only tested by sending a message)"
        if kind == "telephony":
            return "settings are complete (the telephony system and AML senders call this city's webhooks)"
        if kind == "smtp":
            import aiosmtplib

            smtp = aiosmtplib.SMTP(
                hostname=client.host,
                port=client.port,
                use_tls=client.security == "tls",
                start_tls=client.security == "starttls",
                timeout=client.timeout_seconds,
            )
            try:
                await smtp.connect()
                if client.username:
                    await smtp.login(client.username, client.password or "")
                code, _ = await smtp.noop()
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise ConnectionError(f"smtp: {type(exc).__name__}: {exc}") from exc
            finally:
                if smtp.is_connected:
                    smtp.close()
            return f"the SMTP server {client.host}:{client.port} answered ({code})"
        if kind == "oidc":
            from kotalive.auth.oidc import ProviderCache

            cache = ProviderCache()
            meta = await cache.metadata(client.issuer)
            await cache.signing_key(client.issuer, None, "RS256")
            return f"provider {meta.get('issuer')} published its discovery document and keys"
    except IntegrationError as exc:
        raise ConnectionError(f"{kind}: {exc}") from exc
    raise ConnectionSettingsError("kind", f"{kind} has no connection check yet")
