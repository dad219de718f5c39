"""``kotalive-simulators``: the development simulators of SIAK, Simpeg, SMS and OpenID Connect.

They live in infra/simulators/ (development and test tooling, not shipped in a wheel); this module
finds them in the source checkout the package is installed from (``pip install -e``) so that the
console script and ``make run`` can start them. ``load()`` returns the ``kotalive_simulators``
package (``start_simulators`` and friends).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType


def simulators_folder() -> Path:
    return Path(__file__).resolve().parents[2] / "infra" / "simulators"


def load() -> ModuleType:
    folder = simulators_folder()
    if not (folder / "kotalive_simulators" / "__init__.py").is_file():
        raise RuntimeError(
            f"the simulators are not in {folder}: they are development tooling and come with a source "
            "checkout of Kota Live (pip install -e .), not with an installed wheel"
        )
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    import kotalive_simulators

    return kotalive_simulators


def main(argv: list[str] | None = None) -> int:
    load()
    from kotalive_simulators.cli import main as run

    return int(run(argv))
