"""The import contracts of ``make lint`` (pyproject.toml, import-linter): they hold on this tree and fail
on an import the wrong way, run against a copy of the tree with one such import added."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

# lint-like: lint-imports reads the source tree, no database; the PostgreSQL run of .ci/run skips it (and so
# never runs lint-imports on this tree's cache beside the lint of the other lane)
pytestmark = pytest.mark.database_free

PACKAGES = ("config", "automations", "governance", "executions")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "lint-imports")]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)


def copy_tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    for package in PACKAGES:
        shutil.copytree(settings.BASE_DIR / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(settings.BASE_DIR / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_contracts_hold_on_this_tree():
    result = lint_imports(settings.BASE_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_an_import_from_a_lower_app_into_a_higher_one_breaks_the_layers(tmp_path):
    root = copy_tree(tmp_path)
    with (root / "governance" / "selectors.py").open("a") as module:
        module.write("\nfrom executions.models import AutomationExecution  # noqa: E402, F401\n")

    result = lint_imports(root)

    assert result.returncode != 0
    assert "governance is not allowed to import executions" in result.stdout
    assert "governance.selectors -> executions.models" in result.stdout


def test_a_new_cycle_between_sibling_modules_breaks_the_acyclic_contract(tmp_path):
    root = copy_tree(tmp_path)
    # automations.summaries imports automations.choices; choices importing summaries closes a cycle
    with (root / "automations" / "choices.py").open("a") as module:
        module.write("\nimport automations.summaries  # noqa: E402, F401\n")

    result = lint_imports(root)

    assert result.returncode != 0
    assert "No cycles are allowed in automations" in result.stdout


def test_an_app_import_in_the_shared_foundations_breaks_their_contract(tmp_path):
    root = copy_tree(tmp_path)
    with (root / "governance" / "common" / "words.py").open("a") as module:
        module.write("\nfrom governance.models import Tenant  # noqa: E402, F401\n")

    result = lint_imports(root)

    assert result.returncode != 0
    assert "governance.common.words -> governance.models" in result.stdout
