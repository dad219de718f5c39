"""Simulators of the outside systems of a city, speaking the contracts of ../README.md over HTTP.

    from kotalive_simulators import start_simulators
    with start_simulators(tmp_path) as sims:
        sims.base_url("siak", "tangerang")

Development and test tooling only: demo data, no passwords, no persistence.
"""

from kotalive_simulators.data import DemoCity, OidcClient, OidcUser, Persona, demo_cities, personas
from kotalive_simulators.npm_oidc import NpmOidcHandle, NpmOidcUnavailable, start_npm_oidc_provider
from kotalive_simulators.oidc import Issuer, IssuerConfig, demo_issuers, load_issuers
from kotalive_simulators.server import KINDS, SimulatorHandle, start_simulators

__all__ = [
    "KINDS",
    "DemoCity",
    "Issuer",
    "NpmOidcHandle",
    "NpmOidcUnavailable",
    "IssuerConfig",
    "OidcClient",
    "OidcUser",
    "Persona",
    "SimulatorHandle",
    "demo_cities",
    "demo_issuers",
    "load_issuers",
    "personas",
    "start_npm_oidc_provider",
    "start_simulators",
]
