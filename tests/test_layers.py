"""The three layers stay apart, over every module and not a hand-picked list: the import-linter contracts in
pyproject.toml (models never import the editor or Qt; editor.core is Qt-free; the Qt editor sits on its core;
the parser needs neither torch nor Qt), a negative control that the same graph does see a forbidden import,
and an import of every module of the Qt-free layers in a fresh interpreter."""
from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)


def test_import_linter_contracts_are_kept():
    exe = shutil.which("lint-imports")
    assert exe, "import-linter is part of the dev extra: pip install -e '.[dev]'"
    result = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "4 kept, 0 broken" in result.stdout


def test_negative_control_the_import_graph_sees_qt_in_the_qt_layer():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("latent_atlas", include_external_packages=True)
    assert graph.chain_exists(importer="latent_atlas.editor.map.latent_map", imported="pyqtgraph")
    assert graph.chain_exists(importer="latent_atlas.editor.main_window", imported="latent_atlas.editor.core",
                              as_packages=True)
    assert not graph.chain_exists(importer="latent_atlas.editor.core", imported="PySide6", as_packages=True)


def modules_of(package: str) -> list[str]:
    module = __import__(package, fromlist=["_"])
    return [package] + [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")]


@pytest.mark.parametrize(("package", "at_least"), [("latent_atlas.models", 40), ("latent_atlas.editor.core", 15),
                                                   ("latent_atlas.cli", 3)])
def test_every_module_of_the_qt_free_layers_imports_without_qt(package, at_least):
    modules = modules_of(package)
    assert len(modules) >= at_least, modules                  # the walk found the package's files
    result = run(f"import importlib, sys\nfor m in {modules!r}:\n    importlib.import_module(m)\n"
                 "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]\nassert not bad, bad")
    assert result.returncode == 0, result.stderr[-800:]


def test_negative_control_the_check_sees_qt_when_it_is_imported():
    result = run("import sys, latent_atlas.editor.map.latent_map\n"
                 "assert not [m for m in sys.modules if m.startswith('PySide6')]")
    assert result.returncode != 0


def test_help_does_not_import_torch():
    result = run("import sys; sys.argv = ['latent-atlas', '--help']\n"
                 "from latent_atlas.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
                 "assert 'torch' not in sys.modules")
    assert result.returncode == 0, result.stderr[-800:]
