"""Save dialogs start in the user's home, then in the folder of the last file saved (Xvfb walk: the export
dialog opened in the working directory, a source checkout)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from latent_atlas.editor.widgets import save_places
from tests.editor_helpers import open_and_wait


def test_export_dialogs_start_at_home_then_where_the_last_file_went(qtbot, window, digits_vae_path, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setattr(save_places, "_last_folder", None)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    open_and_wait(qtbot, window, digits_vae_path)
    asked = []
    target = tmp_path / "exports" / "z.npy"
    target.parent.mkdir()

    def save_name(parent, title, start, filt=""):
        asked.append(start)
        return str(target), filt
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_name))
    window.exports.export_latent_dialog()
    window.exports.export_latent_dialog()
    assert asked[0] == str(Path(tmp_path / "home" / "latent.npy"))        # not the working directory
    assert asked[1] == str(target.parent.resolve() / "latent.npy")         # where the last one went
    assert target.exists()
