"""Resuming a stopped run on CPU ends bit-identical to never stopping; the RNG state is what makes it so
(negative control); a corrupt latest checkpoint falls back to the previous one; a checkpoint of
another model is refused."""
from __future__ import annotations

import pytest
import torch

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.config import GANConfig, VAEConfig
from latent_atlas.models.data import load_dataset
from latent_atlas.models.errors import CheckpointError
from latent_atlas.models.registry import build_model
from latent_atlas.models.training.events import TrainConfig
from latent_atlas.models.training.trainer import Trainer, previous_path

CONFIGS = {
    "vae": VAEConfig(image_shape=(1, 8, 8), latent_dim=4, width=8, hidden=32),
    "cvae": VAEConfig(image_shape=(1, 8, 8), latent_dim=4, width=8, hidden=32, cond_dim=10),
    "gan": GANConfig(image_shape=(1, 8, 8), latent_dim=4, width=8),
}


@pytest.fixture(scope="module")
def data():
    d = load_dataset("digits", limit=400)
    cond, _ = d.conditions("labels")
    return torch.from_numpy(d.images), torch.from_numpy(cond)     # 400 images: 7 steps of 64 per epoch


def make_trainer(kind, data, out, epochs=2, resume_from=None, seed_of_init=0):
    torch.manual_seed(seed_of_init)          # a resumed model's own init must not matter
    model = build_model(kind, CONFIGS[kind])
    images, cond = data
    config = TrainConfig(epochs=epochs, batch_size=64, lr=2e-4 if kind == "gan" else 1e-3, seed=3,
                         event_interval=0.0)
    return Trainer(model, images, cond if kind == "cvae" else None, config, out=out, resume_from=resume_from)


def run(trainer, stop_at=None):
    for event in trainer.run():
        if stop_at is not None and event.kind == "progress" and event.step == stop_at:
            trainer.stop()
    return trainer


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def interrupted(kind, data, tmp_path, stop_at, scramble_rng=False):
    out = tmp_path / f"{kind}_split.safetensors"
    first = run(make_trainer(kind, data, out), stop_at=stop_at)
    assert first.step == stop_at
    second = make_trainer(kind, data, out, resume_from=out, seed_of_init=99)
    assert second.step == stop_at and second.warnings == []
    if scramble_rng:
        torch.manual_seed(12345)             # what a resume that dropped the saved RNG state would do
    return run(second)


@pytest.fixture(scope="module")
def straight(data, tmp_path_factory):
    """Each family trained 14 steps without a break (computed once per module)."""
    folder = tmp_path_factory.mktemp("straight")
    return {kind: run(make_trainer(kind, data, folder / f"{kind}.safetensors")) for kind in CONFIGS}


@pytest.mark.parametrize("stop_at", [4, 7, 10], ids=["mid-epoch1", "epoch-boundary", "mid-epoch2"])
@pytest.mark.parametrize("kind", list(CONFIGS))
def test_stop_and_resume_is_bit_identical_to_an_uninterrupted_run(kind, stop_at, data, straight, tmp_path):
    resumed = interrupted(kind, data, tmp_path, stop_at)
    assert resumed.step == straight[kind].step == 14
    assert same_weights(resumed.model, straight[kind].model)
    on_disk = load_checkpoint(resumed.last_saved).model
    assert same_weights(on_disk, straight[kind].model)


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_training_in_two_calls_by_epochs_is_bit_identical(kind, data, straight, tmp_path):
    out = tmp_path / "by_epochs.safetensors"
    run(make_trainer(kind, data, out, epochs=1))
    resumed = run(make_trainer(kind, data, out, epochs=2, resume_from=out, seed_of_init=5))
    assert same_weights(resumed.model, straight[kind].model)


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_control_a_resume_without_the_saved_rng_state_drifts(kind, data, straight, tmp_path):
    """The exact-resume test can fail: the same resume with other noise ends with other weights."""
    resumed = interrupted(kind, data, tmp_path, stop_at=4, scramble_rng=True)
    assert resumed.step == 14
    assert not same_weights(resumed.model, straight[kind].model)


def test_a_corrupt_latest_checkpoint_falls_back_to_the_previous_one(data, tmp_path):
    out = tmp_path / "run.safetensors"
    trainer = make_trainer("vae", data, out, epochs=3)
    run(trainer, stop_at=10)                          # saves at step 7 (epoch end), then 10 (stop)
    prev = previous_path(out)
    assert load_checkpoint(prev).train_state["step"] == 7
    data_bytes = out.read_bytes()
    out.write_bytes(data_bytes[:len(data_bytes) // 2])   # a crash mid-copy, a bad disk block

    resumed = make_trainer("vae", data, out, epochs=3, resume_from=out)
    assert resumed.step == 7
    assert len(resumed.warnings) == 1
    assert str(out) in resumed.warnings[0] and "resumed from the previous checkpoint" in resumed.warnings[0]
    assert str(prev) in resumed.warnings[0]
    prev_steps = {}
    for event in resumed.run():
        if event.kind == "checkpoint":
            prev_steps[event.step] = load_checkpoint(prev).train_state["step"]
    # the first save after the fallback must not copy the corrupt file over the good .prev
    assert prev_steps == {14: 7, 21: 14}
    assert load_checkpoint(out).train_state["step"] == 21


def test_resume_fails_clearly_when_both_files_are_corrupt(data, tmp_path):
    out = tmp_path / "run.safetensors"
    run(make_trainer("vae", data, out, epochs=2))
    for path in (out, previous_path(out)):
        path.write_bytes(b"\0" * 100)
    with pytest.raises(CheckpointError, match="run"):
        make_trainer("vae", data, out, resume_from=out)


@pytest.mark.parametrize("other", [
    ("vae", VAEConfig(image_shape=(1, 8, 8), latent_dim=5, width=8, hidden=32)),
    ("vae", VAEConfig(image_shape=(1, 8, 8), latent_dim=4, width=8, hidden=32, beta=4.0)),
    ("gan", GANConfig(image_shape=(1, 8, 8), latent_dim=4, width=8)),
], ids=["latent_dim", "beta", "family"])
def test_resume_into_a_different_model_is_refused(data, tmp_path, other):
    out = tmp_path / "vae.safetensors"
    run(make_trainer("vae", data, out, epochs=1))
    kind, config = other
    with pytest.raises(CheckpointError, match="cannot resume"):
        Trainer(build_model(kind, config), data[0], None, TrainConfig(epochs=2), resume_from=out)


def test_a_damaged_rng_state_resumes_seeded_with_a_warning(data, tmp_path):
    from latent_atlas.models.checkpoints.checkpoint import save_checkpoint

    out = tmp_path / "run.safetensors"
    run(make_trainer("vae", data, out, epochs=1))
    ckpt = load_checkpoint(out, with_optimizers=True)
    save_checkpoint(out, ckpt.model, dataset=ckpt.dataset, history=ckpt.history, optimizers=ckpt.optimizer_states,
                    train_state=ckpt.train_state, rng_state={"torch": torch.zeros(10, dtype=torch.uint8)})
    resumed = make_trainer("vae", data, out, epochs=2, resume_from=out)
    assert resumed.step == 7 and len(resumed.warnings) == 1
    assert "random generator state is unusable" in resumed.warnings[0] and str(out) in resumed.warnings[0]
    run(resumed)
    assert resumed.step == 14
