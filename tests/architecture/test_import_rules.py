"""Modules never import each other; the core never imports a module or the admin.

Two independent checks: import-linter's contracts (pyproject.toml), and a scan of every import
statement and import-path string (ModuleSpec names its parts by import path) in the source.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "platform"
MODULES = ("laksa", "liveroom", "hotline112")


def _owner(path: Path) -> str:
    rel = path.relative_to(PLATFORM).parts
    if rel[0] == "modules" and len(rel) > 2:
        return rel[1]
    return "core"


def _references(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("kotalive.")
        ):
            found.append((node.lineno, node.value.split(":")[0]))
    return found


def _targets(name: str) -> str | None:
    parts = name.split(".")
    if parts[:2] == ["kotalive", "modules"] and len(parts) > 2:
        return parts[2]
    if parts[:2] == ["kotalive", "admin"]:
        return "admin"
    return None


def test_no_module_imports_another_and_the_core_imports_none() -> None:
    violations = []
    for path in sorted(PLATFORM.rglob("*.py")):
        if "migrations" in path.parts and "versions" in path.parts:
            continue
        owner = _owner(path)
        for line, name in _references(path):
            target = _targets(name)
            if target is None or target == owner:
                continue
            if owner == "core" and path.parent == PLATFORM / "modules":
                continue
            violations.append(f"{path.relative_to(ROOT)}:{line} ({owner}) -> {name}")
    assert violations == []


def test_the_scan_would_catch_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text(
        "from kotalive.modules.liveroom import services\nX = 'kotalive.modules.hotline112.jobs:run'\n"
    )
    assert [_targets(n) for _, n in _references(bad)] == ["liveroom", "hotline112"]


def test_import_linter_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is part of the dev extras"
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
