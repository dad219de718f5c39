"""Lists every subpackage of platform/ (import name ``kotalive``) and admin/ (``kotalive.admin``).

pyproject.toml holds the metadata; setuptools needs the explicit package list for a wheel because
the folder names differ from the import names.
"""

from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).parent


def packages_under(folder: str, import_name: str) -> list[str]:
    base = ROOT / folder
    found = [import_name]
    for init in sorted(base.rglob("__init__.py")):
        rel = init.parent.relative_to(base)
        if rel.parts and "node_modules" not in rel.parts:
            found.append(".".join((import_name, *rel.parts)))
    return found


packages = packages_under("platform", "kotalive") + packages_under("admin", "kotalive.admin")
setup(
    packages=packages,
    package_dir={"kotalive": "platform", "kotalive.admin": "admin"},
)
