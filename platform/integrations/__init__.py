"""Outside systems of a city as ports (Protocols) with HTTP adapters (ARCHITECTURE §7).

Each adapter is built from that city's config (base URL, API key, timeout):

    async with SiakClient(SiakConfig.from_dict(row)) as siak:
        person = await siak.lookup(nik)          # NotFound / Unavailable / Misconfigured

Contracts and the simulators that speak them: infra/simulators/README.md.
"""

from kotalive.integrations.http import (
    ConfigError,
    IntegrationError,
    Misconfigured,
    NotFound,
    Rejected,
    ServiceConfig,
    Unavailable,
)
from kotalive.integrations.siak import Person, PopulationRegistry, SiakClient, SiakConfig
from kotalive.integrations.simpeg import SimpegClient, SimpegConfig, StaffRecord, StaffRegistry
from kotalive.integrations.sms import SmsConfig, SmsGateway, SmsSender, normalise_indonesian_number

__all__ = [
    "ConfigError",
    "IntegrationError",
    "Misconfigured",
    "NotFound",
    "Person",
    "PopulationRegistry",
    "Rejected",
    "ServiceConfig",
    "SiakClient",
    "SiakConfig",
    "SimpegClient",
    "SimpegConfig",
    "SmsConfig",
    "SmsGateway",
    "SmsSender",
    "StaffRecord",
    "StaffRegistry",
    "Unavailable",
    "normalise_indonesian_number",
]
