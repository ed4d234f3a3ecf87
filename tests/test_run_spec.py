"""One run specification (models/training/run_spec.py) behind every way of training: the command line and the
Training tab's form make the same RunSpec and the same run; a resume that does not fit its checkpoint and an
existing output file are refused in one line by each entry point (the CLI, the Training tab, the build script,
the reference VAE); a failed or stopped run never leaves part of a file. Tiny runs: 8x8 digits, a few steps."""
from __future__ import annotations

import importlib.util
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from latent_atlas.cli.parser import build_parser
from latent_atlas.cli.train_command import spec_from_args
from latent_atlas.editor.core.training_setup import check_form, form_for, prepare_run, resume_form, run_spec
from latent_atlas.main import main
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.errors import ConfigError
from latent_atlas.models.networks.vae import VAE
from latent_atlas.models.training.run_spec import DataSpec, ModelSpec, RunSpec, SpecError
from latent_atlas.models.training.trainer import previous_path

ROOT = Path(__file__).resolve().parents[1]


def first_losses(spec: RunSpec, steps: int = 3) -> list[float]:
    """The loss of each of the first `steps` steps (one event per step), then a stop."""
    trainer = replace(spec, event_interval=0.0).build().trainer
    losses = []
    for event in trainer.run():
        if event.kind == "progress":
            losses.append(event.terms["loss"])
            if len(losses) == steps:
                trainer.stop()
    return losses


def one_error_line(capsys, argv) -> str:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("latent-atlas: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A digits VAE (latent 8) and a digits CVAE, one epoch of 64 images each, written through a RunSpec."""
    folder = tmp_path_factory.mktemp("spec")
    paths = {}
    for family in ("vae", "cvae"):
        out = folder / f"{family}.safetensors"
        spec = RunSpec(family=family, data=DataSpec("digits", limit=64), epochs=1, batch_size=32, out=out)
        for _ in spec.build().trainer.run():
            pass
        paths[family] = out
    return paths


# -- the same choices, the same run --------------------------------------------------------------------
def test_the_command_line_and_the_training_form_make_the_same_run(qtbot, tmp_path):
    from latent_atlas.editor.training.training_form import TrainingFormWidget

    args = build_parser().parse_args(["train", "--model", "vae", "--dataset", "digits", "--limit", "96",
                                      "--epochs", "1", "--batch-size", "32", "--latent-dim", "8", "--beta", "1",
                                      "--lr", "0.001", "--seed", "3", "--device", "cpu", "--no-mirror-shift",
                                      "--out", str(tmp_path / "cli.safetensors")])
    widget = TrainingFormWidget()
    qtbot.addWidget(widget)
    widget.set_form(form_for("digits", "vae", limit=96, epochs=1, batch_size=32, latent_dim=8, seed=3,
                             device="cpu", out=str(tmp_path / "tab.safetensors")))
    from_cli, from_tab = spec_from_args(args), run_spec(widget.form())
    assert replace(from_cli, out=None) == replace(from_tab, out=None)
    cli_losses, tab_losses = first_losses(from_cli, 2), first_losses(from_tab, 2)
    assert len(cli_losses) == 2 and cli_losses == tab_losses
    # negative control: another seed is another run, so equal losses above are not an accident
    assert first_losses(replace(from_tab, seed=4, out=tmp_path / "seed4.safetensors"), 1) != tab_losses[:1]


# -- resume --------------------------------------------------------------------------------------------
def test_a_resume_with_another_model_is_refused_in_one_line_by_the_cli_and_the_training_tab(
        capsys, checkpoints, tmp_path):
    vae = checkpoints["vae"]
    line = one_error_line(capsys, ["train", "--resume", vae, "--latent-dim", "4", "--epochs", "3",
                                   "--out", tmp_path / "y.safetensors"])
    assert "--latent-dim cannot change when resuming" in line and "(8, asked for 4)" in line
    form = resume_form(vae, form_for("digits", epochs=3))
    assert form.latent_dim == 8 and form.out == str(vae)
    with pytest.raises(ConfigError, match=r"^Latent size cannot change when resuming .*\(8, asked for 4\)"):
        prepare_run(replace(form, latent_dim=4))     # the old tab resumed with 8 and never said so
    with pytest.raises(ConfigError, match="holds a vae; it cannot resume as Model gan"):
        check_form(replace(form, family="gan"))
    assert not (tmp_path / "y.safetensors").exists()
    # control: the form as resume_form filled it resumes
    assert prepare_run(replace(form, limit=64)).trainer.step == 2


def test_a_resume_on_data_with_other_classes_is_refused_by_the_cli_and_the_training_tab(
        capsys, checkpoints, tmp_path):
    """A CVAE conditioned on the ten digits must not continue on Fashion-MNIST's ten classes (resized to
    8x8 its images fit): the condition names differ."""
    cvae = checkpoints["cvae"]
    line = one_error_line(capsys, ["train", "--resume", cvae, "--dataset", "fashion-mnist", "--limit", "64",
                                   "--epochs", "3", "--out", tmp_path / "y.safetensors"])
    assert "is conditioned on 0, 1, 2, 3" in line and "fashion-mnist gives T-shirt/top" in line
    form = replace(resume_form(cvae, form_for("digits", epochs=3)), dataset="fashion-mnist", limit=64)
    with pytest.raises(ConfigError, match="is conditioned on 0, 1, 2, 3"):
        prepare_run(form)
    assert not (tmp_path / "y.safetensors").exists() and load_checkpoint(cvae).train_state["step"] == 2


def test_a_plain_vae_may_continue_on_other_data_of_its_shape_with_a_warning(checkpoints, tmp_path):
    spec = RunSpec(resume=checkpoints["vae"], data=DataSpec("shapes", limit=64), epochs=2,
                   out=tmp_path / "tuned.safetensors")
    trainer = spec.build().trainer
    assert trainer.step == 2 and tuple(trainer.images.shape[1:]) == (1, 8, 8)
    assert any("was trained on digits; it continues on shapes" in w for w in trainer.warnings)


# -- the output file -----------------------------------------------------------------------------------
def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_existing_output_is_refused_the_same_way_by_every_entry_point(capsys, qtbot, tmp_path):
    from latent_atlas.editor.training.training_panel import TrainingPanel
    from latent_atlas.models.quality.reference_vae import train_reference_vae

    taken = tmp_path / "taken.safetensors"
    taken.write_bytes(b"somebody's model")
    line = one_error_line(capsys, ["train", "--dataset", "digits", "--limit", "64", "--epochs", "1",
                                   "--out", taken])
    assert f"{taken} already exists" in line and "--resume" in line and "--overwrite" in line
    with pytest.raises(ConfigError, match="already exists.*Resume from"):
        prepare_run(form_for("digits", limit=64, epochs=1, out=str(taken)))
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    errors = []
    panel.error.connect(lambda title, message: errors.append(message))
    assert panel.start(form_for("digits", limit=64, epochs=1, out=str(taken))) is None
    assert not panel.running and len(errors) == 1 and "already exists" in errors[0]
    with pytest.raises(ConfigError, match="already exists"):
        train_reference_vae(taken, 1, limit=64)
    build = load_script("build_resources")
    full = tmp_path / ".fashion_vae.full.safetensors"
    full.write_bytes(b"a stopped build's checkpoint")
    with pytest.raises(ConfigError, match="already exists"):          # refused before any data is loaded
        build.train("fashion_vae", 0.01, models=tmp_path)
    assert taken.read_bytes() == b"somebody's model" and full.read_bytes() == b"a stopped build's checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".fashion_vae.full.safetensors", "taken.safetensors"]


def test_overwrite_replaces_the_file_and_keeps_the_old_one_as_prev(capsys, tmp_path):
    taken = tmp_path / "taken.safetensors"
    taken.write_bytes(b"somebody's model")
    capsys.readouterr()
    assert main(["train", "--dataset", "digits", "--limit", "64", "--epochs", "1", "--batch-size", "32",
                 "--quiet", "--out", str(taken), "--overwrite"]) == 0
    assert load_checkpoint(taken).train_state["step"] == 2
    assert previous_path(taken).read_bytes() == b"somebody's model"


def test_the_save_dialog_confirms_replacing_a_file_and_a_typed_name_does_not(qtbot, tmp_path):
    from latent_atlas.editor.training.training_form import TrainingFormWidget

    taken = tmp_path / "taken.safetensors"
    taken.write_bytes(b"x")
    widget = TrainingFormWidget()
    qtbot.addWidget(widget)
    widget.ask_output = lambda parent, start: str(taken)       # Qt's dialog asked "replace?" and got yes
    widget._pick_output()
    assert widget.form().out == str(taken) and widget.form().overwrite
    widget.output.setText(str(tmp_path / "other.safetensors"))  # another name typed in: nothing confirmed
    assert not widget.form().overwrite
    widget.set_form(replace(widget.form(), out=str(taken), overwrite=False))   # e.g. after a run
    assert widget.form().out == str(taken) and not widget.form().overwrite
    with pytest.raises(ConfigError, match="already exists"):
        check_form(widget.form())


def test_a_missing_folder_is_an_error_but_the_default_folder_is_made(monkeypatch, tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        RunSpec(out=tmp_path / "typo" / "m.safetensors").validate()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    form = form_for("digits", limit=64, epochs=1)                # no Save as: the default file
    run = prepare_run(form)
    assert run.trainer.out.parent == tmp_path / "home" / "LatentAtlas" / "trained"
    assert run.trainer.out.parent.is_dir() and not run.trainer.out.exists()


def test_the_benchmark_writes_nothing():
    from bench.bench_consistency import consistency_spec

    assert consistency_spec(3.0, 1024).output() is None


# -- no partial files ----------------------------------------------------------------------------------
def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_file(monkeypatch, tmp_path):
    calls = {"n": 0}
    original = VAE.train_step

    def fails_at_step_3(self, x, c, optimizers):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("out of memory")
        return original(self, x, c, optimizers)
    monkeypatch.setattr(VAE, "train_step", fails_at_step_3)
    out = tmp_path / "m.safetensors"
    trainer = RunSpec(data=DataSpec("digits", limit=128), epochs=2, batch_size=32, out=out).build().trainer
    with pytest.raises(RuntimeError, match="out of memory"):
        for _ in trainer.run():
            pass
    assert list(tmp_path.iterdir()) == []


def test_a_save_that_fails_halfway_leaves_the_last_complete_file_and_no_temp(monkeypatch, tmp_path):
    out = tmp_path / "m.safetensors"
    spec = RunSpec(data=DataSpec("digits", limit=128), epochs=3, batch_size=32, checkpoint_every=4, out=out)
    trainer = spec.build().trainer
    real_fsync, saves = os.fsync, []

    def disk_full_on_the_second_save(fd):
        if len(saves) == 1:
            raise OSError(28, "No space left on device")
        real_fsync(fd)
    monkeypatch.setattr(os, "fsync", disk_full_on_the_second_save)
    with pytest.raises(Exception, match="No space left"):
        for event in trainer.run():
            if event.kind == "checkpoint":
                saves.append(event.step)
    monkeypatch.undo()
    assert saves == [4] and load_checkpoint(out).train_state["step"] == 4
    assert {p.name for p in tmp_path.iterdir()} <= {"m.safetensors", "m.prev.safetensors"}


def test_a_stopped_run_leaves_one_complete_checkpoint_that_resumes(tmp_path):
    out = tmp_path / "m.safetensors"
    spec = RunSpec(data=DataSpec("digits", limit=128), epochs=3, batch_size=32, out=out, event_interval=0.0)
    trainer = spec.build().trainer
    for event in trainer.run():
        if event.kind == "progress" and event.step == 2:
            trainer.stop()
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    assert load_checkpoint(out).train_state["step"] == 2
    resumed = RunSpec(resume=out, data=DataSpec(limit=128), epochs=3).build().trainer   # into itself: allowed
    assert resumed.step == 2 and resumed.out == out
    assert torch.equal(resumed.images, trainer.images)               # the recorded data, the same 128 images


def test_the_build_scripts_specs_give_the_shipped_models_configs(tmp_path):
    """Each bundled model's RunSpec, resolved and turned into a config for the shipped file's image shape and
    condition size, is the config that file holds: the build script's move to RunSpec changed no model."""
    from latent_atlas.models.training.run_spec import _model_config, read_resume_header

    build = load_script("build_resources")
    shipped = 0
    for name in build.BUNDLE:
        path = build.MODELS / f"{name}.safetensors"
        if not path.exists():
            continue
        saved = read_resume_header(path)
        spec = build.bundle_spec(name, models=tmp_path)
        spec.validate()
        conditions = torch.zeros(1, saved.config.cond_dim) if saved.config.cond_dim else None
        kind, config = _model_config(spec._resolved(None), saved.config.image_shape, conditions)
        assert (kind, config) == (saved.kind, saved.config), name
        assert spec.output() == tmp_path / f".{name}.full.safetensors"
        shipped += 1
    assert shipped >= 3


def test_the_tab_resumes_a_beta_and_an_lr_its_boxes_cannot_show_exactly(qtbot, tmp_path):
    """The boxes round beta to 2 decimals and clamp lr at 1e-5; a resumed checkpoint's 0.125 and 2e-6 must
    reach the RunSpec as they are, or the resume would be refused (beta) or train at another rate (lr)."""
    from latent_atlas.editor.training.training_panel import TrainingPanel

    out = tmp_path / "odd.safetensors"
    spec = RunSpec(data=DataSpec("digits", limit=64), model=ModelSpec(beta=0.125), lr=2e-6, epochs=1,
                   batch_size=32, out=out)
    for _ in spec.build().trainer.run():
        pass
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.form.set_form(resume_form(out, form_for("digits", epochs=2)))
    assert panel.form.beta.value() == 0.13 and panel.form.lr.value() == 1e-5       # what the boxes show
    form = panel.form.form()
    assert (form.beta, form.lr) == (0.125, 2e-6)
    check_form(form)
    panel.form.beta.setValue(0.5)                                                  # the user changes it
    with pytest.raises(ConfigError, match="Beta cannot change"):
        check_form(panel.form.form())


def test_a_cvae_with_the_consistency_term_is_the_same_run_from_the_cli_and_the_tab(tmp_path):
    args = build_parser().parse_args(["train", "--model", "cvae", "--dataset", "digits", "--limit", "32",
                                      "--epochs", "1", "--batch-size", "16", "--latent-dim", "8", "--beta", "1",
                                      "--lr", "0.001", "--consistency", "2", "--device", "cpu",
                                      "--out", str(tmp_path / "cli.safetensors")])
    form = form_for("digits", "cvae", limit=32, epochs=1, batch_size=16, latent_dim=8, consistency=2.0,
                    device="cpu", out=str(tmp_path / "tab.safetensors"))
    runs, losses = [], []
    for spec in (spec_from_args(args), run_spec(form)):
        # built and run one after the other: the trainer seeds torch's global generator when it is built
        runs.append(replace(spec, event_interval=0.0).build())
        losses.append([e.terms for e in runs[-1].trainer.run() if e.kind == "progress"])
    cli_run, tab_run = runs
    assert replace(cli_run.spec, out=None) == replace(tab_run.spec, out=None)      # every default filled in
    assert cli_run.model.config == tab_run.model.config and cli_run.model.config.consistency == 2.0
    assert len(losses[0]) == 2 and losses[0] == losses[1] and "consistency" in losses[0][0]


def test_a_spec_error_pickles_with_its_words():
    """A torchrun rank or a child process sends its error on: the class needs a field and a template."""
    import pickle

    from latent_atlas.models.training.run_spec import SpecError

    e = SpecError("epochs", "{epochs} must be at least 1").named({"epochs": "--epochs"})
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is SpecError and str(back) == "--epochs must be at least 1" and back.field == "epochs"
