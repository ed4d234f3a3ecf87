"""Paths recorded inside received files, and folders handed to the dataset readers: a checkpoint's
`dataset.source` is used without asking only when it is a dataset folder; `info`, `evaluate` and
`train --resume` say how to pass --dataset otherwise; folder walks and attribute tables are bounded;
a checkpoint's dataset and train state are checked before they are used."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latent_atlas.main import main
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.data import load_dataset
from latent_atlas.models.data.attributes import MAX_ATTRIBUTES, read_attribute_table
from latent_atlas.models.data.recorded_source import RecordedSourceRefused, recorded_dataset
from latent_atlas.models.errors import CheckpointError, DatasetError
from tests.test_checkpoint_hostile import rewrite


def one_line_error(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("latent-atlas: error: "), err
    return err[0]


def image_folder(root: Path) -> Path:
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(root / label / f"{i}.png")
    return root


@pytest.mark.parametrize("source, words", [
    ("/", "filesystem root"), (str(Path.home()), "home folder"), ("/etc", "system folder"),
    ("/proc/self", "system folder"), ("/nowhere/at/all", "no such folder"),
])
def test_a_recorded_source_that_is_not_a_dataset_folder_is_refused(tmp_path, source, words):
    with pytest.raises(RecordedSourceRefused, match=words):
        recorded_dataset({"name": "x", "source": source}, tmp_path / "m.safetensors")


def test_a_folder_without_images_is_refused_and_an_image_folder_is_used(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(RecordedSourceRefused, match="neither IDX files nor images"):
        recorded_dataset({"source": str(tmp_path / "empty")}, tmp_path / "m.safetensors")
    image_folder(tmp_path / "data")                         # negative control: a real dataset folder
    assert recorded_dataset({"source": "data"}, tmp_path / "m.safetensors") == str(tmp_path / "data")
    assert recorded_dataset({"name": "digits", "source": "/"}, tmp_path / "m.safetensors") == "digits"


@pytest.fixture
def rooted_checkpoint(tmp_path, digits_vae_path):
    """The digits VAE, its metadata saying it was trained on '/' (the whole filesystem)."""
    path = tmp_path / "rooted.safetensors"
    path.write_bytes(Path(digits_vae_path).read_bytes())
    return rewrite(path, dataset=json.dumps({"name": "rooted", "source": "/"}))


def test_evaluate_and_resume_do_not_walk_a_recorded_root(capsys, rooted_checkpoint, tmp_path):
    line = one_line_error(capsys, ["evaluate", str(rooted_checkpoint), "--k", "2"])
    assert "records its data as '/'" in line and "filesystem root" in line and "--dataset" in line
    line = one_line_error(capsys, ["train", "--resume", str(rooted_checkpoint), "--epochs", "1",
                                   "--out", str(tmp_path / "o.safetensors"), "--quiet"])
    assert "filesystem root" in line and "--dataset" in line
    assert not (tmp_path / "o.safetensors").exists()


def test_the_editor_shows_prior_samples_for_a_recorded_root(qtbot, window, rooted_checkpoint):
    from tests.editor_helpers import open_and_wait

    loaded = open_and_wait(qtbot, window, rooted_checkpoint)
    assert loaded.labels is None and "prior" in loaded.source_note
    assert loaded.data_refused and "records its data as '/'" in loaded.data_refused
    assert "filesystem root" in loaded.data_refused
    shown = [w for w in loaded.warnings if "prior samples" in w]      # the reason reaches the status line
    assert len(shown) == 1 and "filesystem root" in shown[0], loaded.warnings
    assert "filesystem root" in window.statusBar().currentMessage()


def test_1500_nested_folders_do_not_overflow_the_stack(tmp_path):
    folder = tmp_path / "data" / "class"
    folder.mkdir(parents=True)
    deep = folder
    for _ in range(1500):                 # one at a time: mkdir(parents=True) itself recurses
        deep = deep / "d"
        deep.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / "top.png")
    try:
        data = load_dataset(str(tmp_path / "data"), image_size=8)
        assert len(data) == 1 and any("folders deep" in reason for _, reason in data.skipped)
    finally:
        while deep != folder:         # deepest first: shutil.rmtree (pytest's clean-up) recurses too
            deep.rmdir()
            deep = deep.parent


def test_an_attribute_table_with_too_many_columns_is_refused_before_training(tmp_path):
    table = tmp_path / "attrs.csv"
    table.write_text("file," + ",".join(f"a{i}" for i in range(MAX_ATTRIBUTES + 1)) + "\n"
                     + "x.png," + ",".join("1" for _ in range(MAX_ATTRIBUTES + 1)) + "\n")
    with pytest.raises(DatasetError, match=f"{MAX_ATTRIBUTES + 1:,} attribute columns"):
        read_attribute_table(table)


@pytest.mark.parametrize("key, value, words", [
    ("history", {"step": [1, 2], "loss": ["a", "b"]}, "history 'loss' must be a list of numbers"),
    ("dataset", {"name": "d", "label_names": 5}, "label_names: expected a list, got a whole number"),
    ("train_state", {"step": "abc"}, "train_state.step: expected a whole number, got a string"),
    ("train_state", {"step": -1000}, "train_state.step: -1000 is outside"),
    ("train_state", {"step": float("inf")}, "train_state.step: expected a whole number"),
    ("train_state", {"train_config": {"batch_size": 0}}, "train_config.batch_size: 0 is outside"),
    ("train_state", {"train_config": {"lr": float("nan")}}, "train_config.lr: is not a finite number"),
    ("train_state", {"train_config": {"seed": [1]}}, "train_config.seed: expected a whole number, got a list"),
])
def test_bad_metadata_is_refused_with_its_field(capsys, tmp_path, digits_vae_path, key, value, words):
    path = tmp_path / "m.safetensors"
    path.write_bytes(Path(digits_vae_path).read_bytes())
    rewrite(path, **{key: json.dumps(value)})
    with pytest.raises(CheckpointError, match="metadata") as info:
        load_checkpoint(path)
    assert words in str(info.value), str(info.value)
    line = one_line_error(capsys, ["info", str(path)])
    assert words in line


def test_info_prints_a_history_with_infinity_and_null(capsys, tmp_path, digits_vae_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(Path(digits_vae_path).read_bytes())
    rewrite(path, history=json.dumps({"step": [1, 2], "epoch": [0, None], "loss": [1.0, float("inf")],
                                      "kl": [None, None]}))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "loss inf" in out and "kl None" in out


def test_training_refuses_metadata_its_own_loader_would_refuse(tmp_path):
    import torch

    from latent_atlas.models.errors import ConfigError
    from latent_atlas.models.training.events import TrainConfig
    from latent_atlas.models.training.trainer import Trainer
    from tests.conftest import make_tiny_model

    names = [f"a{i}" * 30 for i in range(40_000)]           # 4.8 MB of names: over the 4 MB limit
    with pytest.raises(ConfigError, match="over the 4,194,304 limit"):
        Trainer(make_tiny_model(), torch.zeros(4, 1, 8, 8, dtype=torch.uint8), None, TrainConfig(epochs=1),
                out=tmp_path / "o.safetensors", dataset={"name": "x", "attribute_names": names})
    assert not (tmp_path / "o.safetensors").exists()


def test_a_fifo_checkpoint_is_refused_by_info(capsys, tmp_path):
    os.mkfifo(tmp_path / "m.safetensors")
    assert "named pipe" in one_line_error(capsys, ["info", str(tmp_path / "m.safetensors")])


def test_the_notice_offers_a_data_folder_and_the_choice_maps_it(qtbot, window, rooted_checkpoint, tmp_path):
    """Non-modal: the notice shows the reason; its button asks for a folder (patched here: a real dialog
    would block) and the model is reopened on the worker with that folder's images on the map."""
    from tests.editor_helpers import open_and_wait

    loaded = open_and_wait(qtbot, window, rooted_checkpoint)
    notice = window.data_notice
    assert notice.isVisible() and "filesystem root" in notice.label.text()
    empty = tmp_path / "empty"
    empty.mkdir()
    window.errors.clear()
    notice.ask_folder = lambda parent: str(empty)          # a folder that is no dataset: an error, no change
    with qtbot.waitSignal(window.controller.load_failed, timeout=60_000):
        notice.button.click()
    assert window.state.loaded is loaded and window.errors and notice.isVisible()
    folder = image_folder(tmp_path / "data")
    notice.ask_folder = lambda parent: str(folder)
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60_000):
        notice.button.click()
    mapped = window.state.loaded
    assert mapped is not loaded and mapped.data_refused is None and not notice.isVisible()
    assert len(mapped.latents) == 6 and mapped.label_names == ["a", "b"]
    assert "prior" not in mapped.source_note
    assert Path(mapped.path) == Path(rooted_checkpoint)


def test_the_training_tab_does_not_resume_on_a_recorded_root(qtbot, rooted_checkpoint, monkeypatch):
    """Resume from… fills the form but does not start: the user sees why and picks the data; the run then
    loads the data shown in the form, never the path recorded in the file."""
    from dataclasses import replace

    from latent_atlas.editor.core import training_setup
    from latent_atlas.editor.training.training_panel import TrainingPanel

    panel = TrainingPanel()
    panel.confirm = lambda: True
    errors = []
    panel.error.connect(lambda title, message: errors.append(message))
    qtbot.addWidget(panel)
    loaded_specs = []
    import latent_atlas.models.data as data_module

    real_load = data_module.load_dataset           # what RunSpec.build loads through
    monkeypatch.setattr(data_module, "load_dataset",
                        lambda spec, **kw: loaded_specs.append(spec) or real_load(spec, **kw))
    shown_before = panel.form.form().dataset
    assert panel.resume_from(str(rooted_checkpoint)) is None
    assert not panel.running and loaded_specs == []
    assert len(errors) == 1 and "filesystem root" in errors[0] and "press Start" in errors[0]
    form = panel.form.form()
    assert form.dataset == shown_before != "/" and form.resume_from == str(rooted_checkpoint)
    run = training_setup.prepare_run(replace(form, dataset="digits"))
    assert loaded_specs == ["digits"] and run.trainer is not None
    panel.shutdown()


def test_a_warm_start_from_the_map_cache_shows_the_same_data_notice(qtbot, window, rooted_checkpoint, monkeypatch):
    """The second open reads the map from the start-up cache (no data loaded, no map drawn again); the
    refusal of the recorded '/' was lost there, so the notice and 'Choose data folder…' did not come."""
    from latent_atlas.editor.app import show_cached_map
    from latent_atlas.editor.core import loaded_model
    from tests.editor_helpers import open_and_wait

    window.controller.use_map_cache = True                # as the editor's start-up sets it
    window.controller.map_limit = 200
    cold = open_and_wait(qtbot, window, rooted_checkpoint)
    notice = window.data_notice
    assert cold.data_refused and notice.isVisible() and "filesystem root" in notice.label.text()
    notice.show_reason(None)                              # so that the warm start has to show it again
    assert not notice.isVisible()

    cached = show_cached_map(window, str(rooted_checkpoint))
    assert cached is not None and "filesystem root" in cached.data_refused

    def no_cold_load(*args, **kwargs):
        raise AssertionError("the warm start drew its map again")
    monkeypatch.setattr(loaded_model, "_prepare", no_cold_load)
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60_000):
        window.controller.open(str(rooted_checkpoint), cached=cached)
    warm = window.state.loaded
    assert warm is not cold and warm.data_refused == cold.data_refused
    assert notice.isVisible() and "filesystem root" in notice.label.text()
    assert notice.button.text() == "Choose data folder…"
    assert [w for w in warm.warnings if "prior samples" in w] == [w for w in cold.warnings if "prior samples" in w]
