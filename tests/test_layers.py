"""The three layers stay apart: models/ and editor/core/ never import Qt, and the command line's
--help does not pay for torch."""
import subprocess
import sys

import pytest


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("modules", [
    "models, models.checkpoint, models.trainer, models.projection, models.data, models.latent_math, "
    "models.convert, models.evaluation",
    "editor.core, editor.core.state, editor.core.loaded_model, editor.core.export, editor.core.render",
    "cli.parser, cli.commands",
])
def test_qt_free_layers_do_not_import_qt(modules):
    result = run(f"import sys, {modules}; bad = [m for m in sys.modules if m.startswith(('PySide6', "
                 f"'pyqtgraph'))]; assert not bad, bad")
    assert result.returncode == 0, result.stderr[-800:]


def test_negative_control_the_check_sees_qt_when_it_is_imported():
    result = run("import sys, editor.latent_map; assert not [m for m in sys.modules if m.startswith('PySide6')]")
    assert result.returncode != 0


def test_help_does_not_import_torch():
    result = run("import sys; sys.argv = ['latent-atlas', '--help']\n"
                 "import main\ntry:\n    main.main()\nexcept SystemExit:\n    pass\n"
                 "assert 'torch' not in sys.modules")
    assert result.returncode == 0, result.stderr[-800:]
