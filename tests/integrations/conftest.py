"""Fixtures of the integration tests: the simulators (infra/simulators/) on free loopback ports.

One set of simulators serves the whole folder; tests that break one (stop it, inject faults) start
their own or reset the faults they set.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SIMULATORS = Path(__file__).resolve().parents[2] / "infra" / "simulators"
if str(SIMULATORS) not in sys.path:
    sys.path.append(str(SIMULATORS))

from kotalive_simulators import SimulatorHandle, start_simulators  # noqa: E402


@pytest.fixture(scope="session")
def sims(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorHandle]:
    handle = start_simulators(tmp_path_factory.mktemp("simulators"))
    yield handle
    handle.stop()


@pytest.fixture
def clean_faults(sims: SimulatorHandle) -> Iterator[SimulatorHandle]:
    """The shared simulators, with every injected fault cleared afterwards."""
    yield sims
    for kind in ("siak", "simpeg", "sms"):
        for city in sims.cities:
            sims.faults(kind, city).reset()  # type: ignore[arg-type]
