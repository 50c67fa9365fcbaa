"""Every package pyproject.toml declares is one the code imports: nothing declared for nothing."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Declared, never imported, on purpose: the package is data that the standard library reads.
NOT_IMPORTED = {"tzdata": "zoneinfo reads Europe/Copenhagen from it where the OS has none"}


def _imported_packages() -> set[str]:
    """The top-level names imported anywhere in triage/ and screens/."""
    names: set[str] = set()
    for path in [*ROOT.glob("triage/**/*.py"), *ROOT.glob("screens/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_every_declared_dependency_is_imported():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {
        re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]
    }
    imported = _imported_packages()
    # A distribution's import name here is its name in lower case with - as _ (XlsxWriter too).
    unused = {
        name for name in declared - set(NOT_IMPORTED) if name.replace("-", "_") not in imported
    }
    assert unused == set(), f"declared in pyproject.toml but never imported: {sorted(unused)}"
    assert set(NOT_IMPORTED) <= declared  # an exception for a package no longer declared goes
