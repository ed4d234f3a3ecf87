"""The Training panel's Qt-free parts: form defaults, what a form builds (CVAE condition sizes, output
rules, resuming), and the loss buffers the plots draw from (growth, smoothing, non-finite values dropped)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from latent_atlas.editor.core.bundled import RESOURCES
from latent_atlas.editor.core.loss_buffer import LossBuffer
from latent_atlas.editor.core.training_setup import (
    PLOTTED_TERMS,
    PREVIEW_COUNT,
    check_output,
    default_output,
    form_for,
    prepare_run,
    preview_inputs,
    resume_form,
)
from latent_atlas.models.errors import ConfigError, DatasetError
from latent_atlas.models.training.events import MIN_STEPS_BETWEEN_CHECKPOINTS, checkpoint_interval


# -- defaults -----------------------------------------------------------------------------------------
def test_defaults_suit_each_dataset_and_family():
    digits = form_for("digits")
    assert (digits.family, digits.latent_dim, digits.epochs, digits.lr) == ("vae", 8, 30, 1e-3)
    fashion = form_for("fashion-mnist")
    assert (fashion.latent_dim, fashion.epochs) == (16, 10)
    shapes = form_for("shapes")
    assert (shapes.family, shapes.latent_dim, shapes.beta) == ("betavae", 10, 4.0)
    assert form_for("digits", "gan").lr == 2e-4 and form_for("shapes", "ae").beta == 0.0
    assert form_for("digits", epochs=2).epochs == 2            # an override wins over the default


def test_default_output_is_never_inside_resources_and_never_overwrites(tmp_path):
    path = default_output("digits", "vae")
    assert path.suffix == ".safetensors" and not path.exists()
    assert RESOURCES.resolve() not in path.resolve().parents


def test_output_rules_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="bundled models"):
        check_output(RESOURCES / "models" / "mine.safetensors")
    with pytest.raises(ConfigError, match="is a folder"):
        (tmp_path / "dir.safetensors").mkdir()
        check_output(tmp_path / "dir.safetensors")
    with pytest.raises(ConfigError, match=".safetensors"):
        check_output(tmp_path / "model.pt")
    # a folder that does not exist is a typo until shown otherwise (run_spec.py); only the default one is made
    with pytest.raises(ConfigError, match="does not exist"):
        check_output(tmp_path / "new" / "m.safetensors")
    assert check_output(tmp_path / "m.safetensors") == tmp_path / "m.safetensors"


def test_tiny_epochs_checkpoint_every_few_epochs_on_an_epoch_end():
    assert checkpoint_interval(938) == 0                          # Fashion-MNIST at 64: every epoch
    every = checkpoint_interval(23)                               # digits at 64: 23 steps an epoch
    assert every % 23 == 0 and MIN_STEPS_BETWEEN_CHECKPOINTS <= every < MIN_STEPS_BETWEEN_CHECKPOINTS + 23


@pytest.mark.slow      # several seconds: the default run stays under CI's 5 minutes
def test_the_default_pacing_follows_the_runs_own_epoch_length(tmp_path):
    """None (the CLI's and the panel's default) is decided by the trainer from its steps per epoch, which
    under torchrun is per rank: checkpoints then land on that run's epoch ends."""
    run = prepare_run(form_for("digits", epochs=60, batch_size=64, limit=640, out=str(tmp_path / "p.safetensors")))
    trainer = run.trainer
    assert trainer.config.checkpoint_every is None and trainer.steps_per_epoch == 10
    saved = [e.step for e in trainer.run() if e.kind == "checkpoint"]
    assert checkpoint_interval(10) == 500 and saved == [500, 600]   # every 50th epoch end, then the end


# -- what a form builds -------------------------------------------------------------------------------
def test_cvae_on_digits_is_conditioned_on_ten_classes(tmp_path):
    run = prepare_run(form_for("digits", "cvae", limit=100, epochs=1, out=str(tmp_path / "c.safetensors")))
    model = run.trainer.model
    assert model.kind == "cvae" and model.cond_dim == 10 and run.trainer.conditions.shape == (100, 10)
    # the preview shows one class per cell, cycling 0..9
    assert run.preview_c.shape == (PREVIEW_COUNT, 10)
    assert run.preview_c.argmax(1).tolist() == [i % 10 for i in range(PREVIEW_COUNT)]
    assert run.info().terms == PLOTTED_TERMS["cvae"]


def test_cvae_with_condition_consistency_plots_the_term_and_resumes_with_it(tmp_path):
    out = tmp_path / "c.safetensors"
    run = prepare_run(form_for("digits", "cvae", limit=64, batch_size=32, epochs=1, consistency=3.0, out=str(out)))
    model = run.trainer.model
    assert model.config.consistency == 3.0 and hasattr(model, "condition_reader")
    assert run.info().terms == PLOTTED_TERMS["cvae"] + ("consistency",)
    for _ in run.trainer.run():
        pass
    assert len(run.trainer.history["consistency"]) >= 1
    assert resume_form(out, form_for("digits")).consistency == 3.0
    # a VAE has no condition to be consistent with: the form's value is ignored, not an error
    vae = prepare_run(form_for("digits", "vae", limit=64, consistency=3.0, out=str(tmp_path / "v.safetensors")))
    assert vae.trainer.model.config.consistency == 0.0


def test_cvae_on_attributes_needs_a_dataset_that_has_them(tmp_path):
    form = form_for("digits", "cvae", condition="attributes", limit=50, out=str(tmp_path / "c.safetensors"))
    with pytest.raises(DatasetError, match="no attributes"):
        prepare_run(form)


def test_cvae_conditions_on_an_attribute_table(tmp_path):
    from PIL import Image

    folder = tmp_path / "faces"
    folder.mkdir()
    rows = ["file,smiling,glasses"]
    for i in range(12):
        Image.fromarray(np.full((16, 16), i * 20, np.uint8)).save(folder / f"{i}.png")
        rows.append(f"{i}.png,{i % 2},{(i // 2) % 2}")
    (tmp_path / "attrs.csv").write_text("\n".join(rows) + "\n")
    form = form_for(str(folder), "cvae", condition="attributes", attributes_file=str(tmp_path / "attrs.csv"),
                    out=str(tmp_path / "c.safetensors"), epochs=1, batch_size=4, consistency=2.0)
    run = prepare_run(form)
    assert run.trainer.model.cond_dim == 2 and run.preview_c.shape == (PREVIEW_COUNT, 2)
    # attributes are independent 0/1 values: the consistency term reads them back one by one (BCE)
    assert run.trainer.model.config.condition_kind == "attributes"
    for _ in run.trainer.run():
        pass
    assert all(math.isfinite(v) for v in run.trainer.history["consistency"])


def test_gan_form_builds_a_gan_with_its_learning_rate(tmp_path):
    run = prepare_run(form_for("digits", "gan", limit=64, epochs=1, out=str(tmp_path / "g.safetensors")))
    assert run.trainer.model.kind == "gan" and run.trainer.model.latent_dim == 16
    assert all(g["lr"] == 2e-4 for opt in run.trainer.optimizers.values() for g in opt.param_groups)


def test_preview_latents_are_fixed_and_leave_the_training_rng_alone():
    run_model = type("M", (), {"latent_dim": 4, "cond_dim": 0})()
    state = torch.get_rng_state()
    z1, _ = preview_inputs(run_model, None, "labels", seed=3)
    z2, _ = preview_inputs(run_model, None, "labels", seed=3)
    assert torch.equal(z1, z2) and torch.equal(torch.get_rng_state(), state)


def test_resume_restores_history_and_continues_from_the_saved_step(tmp_path):
    out = tmp_path / "r.safetensors"
    form = form_for("digits", limit=128, batch_size=32, epochs=2, out=str(out))
    run = prepare_run(form)
    for event in run.trainer.run():
        if event.kind == "epoch":          # stop after the first epoch: a resumable checkpoint
            run.trainer.stop()
    assert run.trainer.step == 4
    resumed_form = resume_form(out, replace(form_for("shapes"), epochs=7))
    assert (resumed_form.dataset, resumed_form.family, resumed_form.latent_dim) == ("digits", "vae", 8)
    assert resumed_form.batch_size == 32 and resumed_form.out == str(out)
    assert resumed_form.epochs == 2                             # unfinished: its own target
    resumed = prepare_run(replace(resumed_form, limit=128, epochs=3))
    info = resumed.info()
    assert info.start_step == 4 and info.total_steps == 12
    assert info.history["step"][-1] == 4 and len(info.history["recon"]) == len(info.history["step"])


def test_resume_of_a_finished_run_asks_for_more_epochs(tmp_path):
    out = tmp_path / "f.safetensors"
    run = prepare_run(form_for("digits", limit=64, batch_size=32, epochs=1, out=str(out)))
    for _ in run.trainer.run():
        pass
    again = resume_form(out, form_for("digits", epochs=1))
    assert again.epochs == 2                                   # finished: as long again, unless asked for more
    assert resume_form(out, form_for("digits", epochs=5)).epochs == 5
    with pytest.raises(ConfigError, match="above 1"):
        prepare_run(replace(again, epochs=1, limit=64))


# -- loss buffer --------------------------------------------------------------------------------------
def test_buffer_grows_past_its_first_capacity_and_keeps_every_point():
    buf = LossBuffer(smoothing=0.0)
    for step in range(5000):
        buf.append(step, {"recon": float(step)})
    x, raw, smooth = buf.series("recon")
    assert len(x) == 5000 and np.array_equal(x, np.arange(5000)) and np.array_equal(raw, smooth)


def test_buffer_smooths_with_an_exponential_moving_average():
    buf = LossBuffer(smoothing=0.75)
    values = [4.0, 0.0, 0.0, 8.0, 2.0]
    for i, v in enumerate(values):
        buf.append(i, {"kl": v})
    expected, s = [], values[0]
    for v in values:
        s = 0.75 * s + 0.25 * v
        expected.append(s)
    np.testing.assert_allclose(buf.series("kl")[2], expected)
    buf.append(10, {"kl": 3.0})                # one point at a time continues the same average
    assert buf.series("kl")[2][-1] == pytest.approx(0.75 * expected[-1] + 0.25 * 3.0)


def test_buffer_drops_non_finite_values_per_term():
    buf = LossBuffer()
    buf.append(1, {"recon": 1.0, "kl": 2.0})
    buf.append(2, {"recon": math.nan, "kl": 3.0})
    buf.append(3, {"recon": math.inf, "kl": -math.inf})
    buf.append(4, {"recon": 5.0, "kl": 4.0})
    x, raw, smooth = buf.series("recon")
    assert x.tolist() == [1, 4] and np.isfinite(raw).all() and np.isfinite(smooth).all()
    assert buf.series("kl")[0].tolist() == [1, 2, 4]
    # negative control: the same values, all finite, all kept
    ok = LossBuffer()
    for step in range(1, 5):
        ok.append(step, {"recon": float(step)})
    assert len(ok.series("recon")[0]) == 4


def test_buffer_stays_bounded_by_thinning():
    buf = LossBuffer(max_points=1000)
    for step in range(10_000):
        buf.append(step, {"loss": 1.0})
    x = buf.series("loss")[0]
    assert len(x) <= 1000 and x[-1] == 9999 and np.all(np.diff(x) > 0)


def test_buffer_loads_a_checkpoint_history_with_its_epochs():
    history = {"step": [10, 20, 30, 40], "epoch": [0, 0, 1, 1], "recon": [4.0, 3.0, float("nan"), 2.0]}
    buf = LossBuffer()
    buf.load_history(history, steps_per_epoch=20)
    assert buf.series("recon")[0].tolist() == [10, 20, 40]
    assert buf.epochs.tolist() == [20, 40] and buf.last_step == 40
    buf.append(45, {"recon": 1.5})
    assert buf.series("recon")[0][-1] == 45
