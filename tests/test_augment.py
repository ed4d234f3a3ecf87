"""Mirror-and-shift augmentation (models/training/augment.py): every augmented image is its source mirrored or
not and shifted by whole pixels within the limit, edges repeated; both mirrorings and several shifts occur; the
same seed and step draw the same batch; and a run asked for it (command line, Training tab, build script)
trains on augmented batches, records the choice, and a resume keeps it."""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from latent_atlas.cli.parser import build_parser
from latent_atlas.cli.train_command import spec_from_args
from latent_atlas.editor.core.training_setup import form_for, resume_form, run_spec
from latent_atlas.main import main
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.training.augment import mirror_shift, shift_limit, step_generator
from latent_atlas.models.training.run_spec import DataSpec, RunSpec
from latent_atlas.models.training.trainer import thinned_history


def candidates(image: torch.Tensor, most: int) -> list[tuple[tuple[bool, int, int], torch.Tensor]]:
    """Every allowed (mirror, dy, dx) of one (C, H, W) image, computed by a different route (pad and crop)."""
    _, h, w = image.shape
    out = []
    for mirror in (False, True):
        src = image.flip(-1) if mirror else image
        padded = F.pad(src[None], (most,) * 4, mode="replicate")[0]
        for dy in range(-most, most + 1):
            for dx in range(-most, most + 1):
                out.append(((mirror, dy, dx), padded[:, most - dy:most - dy + h, most - dx:most - dx + w]))
    return out


def test_each_image_is_its_source_mirrored_or_not_and_shifted_within_the_limit():
    torch.manual_seed(0)
    x = torch.rand(64, 3, 32, 32)                      # all pixels distinct: one transform fits each image
    y = mirror_shift(x, step_generator(0, 0))
    assert y.shape == x.shape
    most = shift_limit(32)
    seen = set()
    for source, result in zip(x, y):
        fits = [t for t, c in candidates(source, most) if torch.equal(c, result)]
        assert len(fits) == 1, "an augmented image is not a mirror/shift of its source"
        seen.add(fits[0])
    assert {m for m, _, _ in seen} == {False, True}
    assert len({(dy, dx) for _, dy, dx in seen}) >= 10           # shifts vary image by image


def test_the_limit_is_a_sixteenth_of_the_side_at_least_one_pixel():
    assert [shift_limit(s) for s in (8, 28, 32, 64, 128)] == [1, 2, 2, 4, 8]


def test_a_white_border_stays_white_and_labels_are_not_touched():
    x = torch.ones(8, 3, 64, 64)
    x[:, :, 24:40, 24:40] = 0.2                                    # a dark square on white
    y = mirror_shift(x, step_generator(5, 3))
    assert torch.equal(y[:, :, :4], torch.ones_like(y[:, :, :4]))  # the shifted-in rows are background
    assert torch.allclose(y.mean((1, 2, 3)), x.mean((1, 2, 3)))    # nothing cut off, nothing added


def test_the_same_seed_and_step_draw_the_same_batch_and_another_step_another():
    x = torch.rand(32, 1, 28, 28)
    a = mirror_shift(x, step_generator(3, 10))
    assert torch.equal(a, mirror_shift(x, step_generator(3, 10)))
    assert not torch.equal(a, mirror_shift(x, step_generator(3, 11)))
    assert not torch.equal(a, mirror_shift(x, step_generator(4, 10)))


def losses_and_model(spec: RunSpec):
    run = replace(spec, event_interval=0.0).build()
    losses = [e.terms["loss"] for e in run.trainer.run() if e.kind == "progress"]
    return losses, run


def test_a_run_with_mirror_shift_trains_on_other_batches_records_it_and_resumes_with_it(tmp_path, capsys):
    base = RunSpec(family="vae", data=DataSpec("digits", limit=64), epochs=1, batch_size=32, seed=1)
    plain, _ = losses_and_model(base)
    out = tmp_path / "aug.safetensors"
    augmented, _ = losses_and_model(replace(base, mirror_shift=True, out=out))
    assert len(plain) == len(augmented) == 2
    assert plain[0] != augmented[0]                     # the first step already sees other pixels
    assert losses_and_model(replace(base, mirror_shift=True))[0] == augmented   # and repeats exactly
    assert load_checkpoint(out).train_state["train_config"]["mirror_shift"] is True
    resumed = RunSpec(resume=out, epochs=2).build()
    assert resumed.spec.mirror_shift is True and resumed.trainer.config.mirror_shift is True
    off = RunSpec(resume=out, epochs=2, mirror_shift=False, out=tmp_path / "off.safetensors").build()
    assert off.trainer.config.mirror_shift is False      # a resume may turn it off, like the learning rate
    assert resume_form(out, form_for("digits", epochs=2)).mirror_shift is True
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "batch size 32, lr 0.001, seed 1, mirrored and shifted (--mirror-shift)" in capsys.readouterr().out


def test_the_command_line_and_the_training_tab_ask_for_it_the_same_way(qtbot, tmp_path):
    from latent_atlas.editor.training.training_form import TrainingFormWidget

    argv = ["train", "--model", "vae", "--dataset", "digits", "--limit", "96", "--epochs", "1", "--batch-size",
            "32", "--latent-dim", "8", "--beta", "1", "--lr", "0.001", "--seed", "3", "--device", "cpu",
            "--out", str(tmp_path / "cli.safetensors")]
    parser = build_parser()
    assert spec_from_args(parser.parse_args(argv)).mirror_shift is None           # off unless asked
    assert spec_from_args(parser.parse_args(argv + ["--no-mirror-shift"])).mirror_shift is False
    from_cli = spec_from_args(parser.parse_args(argv + ["--mirror-shift"]))
    widget = TrainingFormWidget()
    qtbot.addWidget(widget)
    widget.set_form(form_for("digits", "vae", limit=96, epochs=1, batch_size=32, latent_dim=8, seed=3,
                             device="cpu", out=str(tmp_path / "tab.safetensors")))
    assert not widget.mirror_shift.isChecked() and run_spec(widget.form()).mirror_shift is False
    widget.mirror_shift.setChecked(True)
    from_tab = run_spec(widget.form())
    assert from_cli.mirror_shift is True and replace(from_cli, out=None) == replace(from_tab, out=None)


def build_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "build_resources.py"
    spec = importlib.util.spec_from_file_location("build_resources", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_script_trains_the_emoji_vae_mirrored_and_shifted(tmp_path):
    module = build_script()
    assert module.bundle_spec("emoji_vae", models=tmp_path).mirror_shift is True
    assert module.bundle_spec("fashion_vae", models=tmp_path).mirror_shift is False


def test_curves_are_thinned_keeping_first_and_last_the_same_points_of_each():
    history = {"step": list(range(11040)), "loss": [float(i) for i in range(11040)]}
    out = thinned_history(history, 5000)
    assert len(out["step"]) <= 5000 and out["step"][0] == 0 and out["step"][-1] == 11039
    assert out["loss"] == [float(s) for s in out["step"]]                  # every curve the same points
    assert thinned_history({"step": [1, 2, 3]}, 5000) == {"step": [1, 2, 3]} and thinned_history({}, 10) == {}
    assert len(thinned_history({"step": list(range(10))}, 3)["step"]) == 3
    over = {"step": list(range(20_001))}                      # the trainer's cap plus one: every other point
    assert thinned_history(over, 20_000)["step"] == over["step"][::2]


def test_a_bundled_file_keeps_the_runs_choices_and_not_its_optimiser(tmp_path):
    module = build_script()
    full = tmp_path / ".tiny.full.safetensors"
    spec = RunSpec(family="vae", data=DataSpec("digits", limit=64), epochs=1, batch_size=32, seed=2,
                   mirror_shift=True, out=full)
    for _ in spec.build().trainer.run():
        pass
    module.finish("tiny", full, models=tmp_path)
    slim = load_checkpoint(tmp_path / "tiny.safetensors", with_optimizers=True)
    assert not full.exists() and not slim.optimizer_states
    tc = slim.train_state["train_config"]
    assert tc["mirror_shift"] is True and tc["batch_size"] == 32 and slim.train_state["epoch"] == 1
