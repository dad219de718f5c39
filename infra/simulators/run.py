"""Run the simulators from a checkout: ``.venv/bin/python -P infra/simulators/run.py --base-port 8100``.

(Same as the console script ``kotalive-simulators``.) ``-P`` keeps the repository root off sys.path,
where platform/ would shadow the standard library; this folder is added instead.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kotalive_simulators.cli import main

if __name__ == "__main__":
    sys.exit(main())
