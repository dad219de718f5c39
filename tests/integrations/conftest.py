"""Fixtures of the integration tests: the simulators (infra/simulators/) on free loopback ports.

One set of simulators serves the whole folder; tests that break one (stop it, inject faults) start
their own or reset the faults they set.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kotalive_simulators import SimulatorHandle

# ``sims`` (the shared simulators) comes from tests/conftest.py.


@pytest.fixture
def clean_faults(sims: SimulatorHandle) -> Iterator[SimulatorHandle]:
    """The shared simulators, with every injected fault cleared afterwards."""
    yield sims
    for kind in ("siak", "simpeg", "sms"):
        for city in sims.cities:
            sims.faults(kind, city).reset()  # type: ignore[arg-type]
    for city in sims.cities:
        sims.mail_faults(city).reset()
