"""Session files a stranger wrote: refused with the file, the field and the problem, before anything is
applied; in the editor a refused session leaves the view, the vectors and the model as they were."""
from __future__ import annotations

import json

import numpy as np
import pytest

from latent_atlas.editor.core.history import same_snapshot
from latent_atlas.editor.core.session import SessionError, read_session
from latent_atlas.editor.panels.attribute_panel import AttributePanel
from tests.editor_helpers import open_and_wait
from tests.hostile_files import RICH_NAME, not_regular_files, within
from tests.panel_helpers import tool


def session_doc(checkpoint, **extra) -> dict:
    return {"format": "latent-atlas-session", "version": 1, "checkpoint": str(checkpoint), "latent_dim": 4,
            "cond_dim": 0, "point": {"base": [0.1, 0.2, 0.3, 0.4], "cursor": None, "data_index": 3,
                                     "source": "data"},
            "vectors": [{"name": "v", "weight": 0.5, "vector": [1.0, 0.0, 0.0, 0.0]}],
            "projection": {"method": "pca", "options": {}}, "panels": {}, **extra}


def write(path, doc) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.mark.parametrize("kind, words", [("fifo", "named pipe"), ("folder", "is a folder"), ("zero", "device"),
                                         ("urandom", "device")])
def test_a_session_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind, words):
    paths = not_regular_files(tmp_path, ".json")
    if kind not in paths:
        pytest.skip(f"no /dev/{kind}")
    with within(10), pytest.raises(SessionError, match=words) as info:
        read_session(paths[kind])
    assert str(paths[kind]) in str(info.value)


def test_a_good_session_reads(tmp_path, digits_vae_path):
    # negative control: the helper's document is a valid session
    session = read_session(write(tmp_path / "s.json", session_doc(digits_vae_path)))
    assert session.snapshot.current.data_index == 3 and session.snapshot.edits[0].name == "v"


@pytest.mark.parametrize("edit, words", [
    (lambda d: d.update(version="1"), "version '1' (a string) is not supported"),
    (lambda d: d["point"].update(base=[1e300, 0, 0, 0]), "point.base[0]"),
    (lambda d: d["vectors"][0].update(vector=[0, 0, 0, 1e300]), "vectors[0].vector[3]"),
    (lambda d: d.update(checkpoint="x" * 5000), "checkpoint: is 5,000 characters long"),
    (lambda d: d.update(checkpoint="/tmp/" + "x" * 300), "path is too long"),
    (lambda d: d.update(panels={"attributes": {"picked": [["a"], ["b"]]}}),
     "panels.attributes.picked: expected a string, got a list"),
    (lambda d: d["point"].update(data_index=-1), "point.data_index: -1 is outside"),
    (lambda d: d["point"].update(data_index="3"), "point.data_index: expected a whole number, got a string"),
    (lambda d: d.update(vectors=[{"name": "x" * 10_000_000, "vector": [0, 0, 0, 0]}]),
     "vectors[0].name: is 10,000,000 characters long"),
    (lambda d: d.update(vectors=[{"name": f"v{i}", "vector": [0, 0, 0, 0]} for i in range(1001)]),
     "vectors: has 1,001 items; expected 0..1,000"),
    (lambda d: d.update(projection={"method": "tsne", "options": {"perplexity": "high"}}),
     "projection.options.perplexity: expected a number"),
    (lambda d: d.update(projection={"method": "pca", "options": {"components": [0, 10**9]}}),
     "projection.options.components[1]"),
    (lambda d: d.update(panels={"interpolation": {"waypoints": [[0, 0, 0]]}}),
     "panels.interpolation.waypoints[0]: has 3 numbers"),
])
def test_bad_session_fields_are_named(tmp_path, digits_vae_path, edit, words):
    doc = session_doc(digits_vae_path)
    edit(doc)
    with pytest.raises(SessionError) as info:
        read_session(write(tmp_path / "bad.json", doc))
    message = str(info.value)
    assert "bad.json" in message and words in message, message
    assert "\n" not in message and len(message) < 600


def test_a_relative_checkpoint_path_is_relative_to_the_session(tmp_path, digits_vae_path, monkeypatch):
    folder = tmp_path / "s"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    session = read_session(write(folder / "s.json", session_doc("models/m.safetensors")))
    assert session.checkpoint == folder / "models" / "m.safetensors"


def _open_view(qtbot, window, path):
    open_and_wait(qtbot, window, path)
    window.controller.select_data_point(5)
    tool(window, AttributePanel).add_vector("kept", np.ones(4, np.float32))
    return window.state.snapshot(), [e.name for e in window.state.edits]


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["point"].update(data_index=999_999), "point.data_index 999999 is past the"),
    (lambda d: d.update(panels={"attributes": {"picked": [["a"]]}}), "panels.attributes.picked"),
])
def test_a_session_the_editor_cannot_apply_changes_nothing(qtbot, window, digits_vae_path, tmp_path, edit, words):
    before, names = _open_view(qtbot, window, digits_vae_path)
    doc = session_doc(digits_vae_path)
    edit(doc)
    assert not window.session.open_session(write(tmp_path / "bad.json", doc))
    assert words in window.errors[-1]
    assert same_snapshot(window.state.snapshot(), before) and [e.name for e in window.state.edits] == names
    # a projection change afterwards (which re-reads data_index) still works
    window.request_projection("pca", components=[1, 2])
    qtbot.waitUntil(lambda: window.state.loaded.projection.components == (1, 2), timeout=20_000)


def test_a_session_with_a_rich_text_vector_name_shows_it_as_text(qtbot, window, digits_vae_path, tmp_path):
    _open_view(qtbot, window, digits_vae_path)
    doc = session_doc(digits_vae_path, vectors=[{"name": RICH_NAME, "weight": 0.0, "description": RICH_NAME,
                                                 "vector": [0.0, 1.0, 0.0, 0.0]}])
    assert window.session.open_session(write(tmp_path / "rich.json", doc))
    panel = tool(window, AttributePanel)
    qtbot.waitUntil(lambda: RICH_NAME in panel.rows)
    row = panel.rows[RICH_NAME]
    assert row.pick.full_text == RICH_NAME and RICH_NAME.startswith(row.pick.text().rstrip("…"))  # literally
    assert "<img" not in row.pick.toolTip() and "&lt;img" in row.pick.toolTip()
    panel.select_vector(RICH_NAME)
    assert panel.strip_label.text().startswith(RICH_NAME)
    assert panel.strip_label.textFormat().name == "PlainText"
