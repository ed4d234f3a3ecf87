"""The training loop as its users see it: the loss falls, events come at a bounded rate, stop and pause
act within a step, divergence keeps the last good checkpoint, and the GAN failure warnings fire."""
from __future__ import annotations

import hashlib
import itertools
import math
import threading
import time

import pytest
import torch
from conftest import make_tiny_model

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint
from latent_atlas.models.data import load_dataset
from latent_atlas.models.errors import ConfigError, TrainingDiverged
from latent_atlas.models.training.events import TrainConfig
from latent_atlas.models.training.trainer import Trainer, previous_path


@pytest.fixture(scope="module")
def digits():
    return torch.from_numpy(load_dataset("digits").images)            # (1438, 1, 8, 8) uint8


def small_vae(seed=0):
    return make_tiny_model("vae", seed)


def small_gan(seed=0):
    return make_tiny_model("gan", seed, width=4)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_few_hundred_steps_lower_the_loss(digits):
    trainer = Trainer(small_vae(), digits, None, TrainConfig(epochs=13, batch_size=64, event_interval=0.0))
    events = list(trainer.run())
    assert trainer.step == trainer.total_steps == 13 * 23 == events[-1].step
    assert events[-1].kind == "done"
    loss = trainer.history["loss"]
    assert len(loss) == 13 * 23                      # one point per step at event_interval 0
    first, last = sum(loss[:5]) / 5, sum(loss[-23:]) / 23
    assert last < 0.75 * first, (first, last)        # ~44 nats (64 px * ln 2) -> ~30
    assert trainer.history["elbo"][-1] > trainer.history["elbo"][0] + 8


def test_progress_events_are_rate_limited_and_carry_numbers(digits):
    interval = 0.05
    config = TrainConfig(epochs=1, batch_size=8, event_interval=interval)   # 180 steps in one epoch
    trainer = Trainer(small_vae(), digits, None, config)
    progress = [e for e in trainer.run() if e.kind == "progress"]
    assert 2 <= len(progress) <= progress[-1].elapsed_s / interval + 2   # at most one per interval
    gaps = [b.elapsed_s - a.elapsed_s for a, b in itertools.pairwise(progress[:-1])]
    assert all(g >= interval * 0.999 for g in gaps), gaps          # the last one closes the epoch early
    for event in progress:
        assert event.epoch == 0 and 0 < event.step <= trainer.total_steps
        assert set(event.terms) == {"loss", "recon", "kl", "beta_kl", "elbo"}
        assert all(math.isfinite(v) for v in event.terms.values())
        assert event.images_per_s > 0
    assert progress[-1].step == trainer.total_steps
    # control: with no interval, every step is an event, so the limit above is what thins them
    unthrottled = Trainer(small_vae(), digits[:80], None, TrainConfig(epochs=1, batch_size=8, event_interval=0))
    assert sum(e.kind == "progress" for e in unthrottled.run()) == 10


def test_stop_from_inside_the_loop_acts_before_the_next_step_and_saves(tmp_path, digits):
    out = tmp_path / "run.safetensors"
    trainer = Trainer(small_vae(), digits, None, TrainConfig(epochs=5, batch_size=64, event_interval=0.0),
                      out=out)
    events = []
    for event in trainer.run():
        events.append(event)
        if event.kind == "progress" and event.step == 7:
            trainer.stop()
    assert [e.kind for e in events[-2:]] == ["checkpoint", "stopped"]
    assert events[-1].step == trainer.step == 7 and trainer.last_saved == out
    ckpt = load_checkpoint(out, with_optimizers=True)
    assert ckpt.train_state["step"] == 7 and set(ckpt.optimizer_states) == {"model"}
    assert torch.equal(ckpt.rng_state["torch"], torch.get_rng_state())
    resumed = Trainer(small_vae(1), digits, None, trainer.config, out=out, resume_from=out)
    assert resumed.step == 7
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.state_dict().values(),
                                                  trainer.model.state_dict().values()))


def test_stop_from_another_thread_takes_effect_within_one_step(tmp_path, digits):
    out = tmp_path / "run.safetensors"
    trainer = Trainer(small_vae(), digits, None, TrainConfig(epochs=200, batch_size=32, event_interval=0.0),
                      out=out)
    started, events = threading.Event(), []

    def consume():
        for event in trainer.run():
            events.append(event)
            started.set()
    worker = threading.Thread(target=consume)
    worker.start()
    assert started.wait(60)
    at_stop = trainer.step
    trainer.stop()
    worker.join(60)
    assert not worker.is_alive()
    assert events[-1].kind == "stopped"
    assert at_stop <= events[-1].step <= at_stop + 1 < trainer.total_steps
    assert load_checkpoint(out).train_state["step"] == events[-1].step


def test_pause_holds_the_loop_and_unpause_resumes_it(digits):
    trainer = Trainer(small_vae(), digits, None, TrainConfig(epochs=1, batch_size=64, event_interval=0.0))
    pause_s = 0.4
    stamps = {}
    for event in trainer.run():
        if event.kind != "progress":
            continue
        if event.step == 3:
            trainer.pause()
            assert trainer.paused
            threading.Timer(pause_s, trainer.unpause).start()
            stamps[3] = (time.perf_counter(), event.elapsed_s)
        elif event.step == 4:
            stamps[4] = (time.perf_counter(), event.elapsed_s)
            rate_after_pause = event.images_per_s
    assert not trainer.paused and trainer.step == trainer.total_steps
    wall = stamps[4][0] - stamps[3][0]
    assert wall >= pause_s * 0.95                          # no step ran while paused
    assert stamps[4][1] - stamps[3][1] < wall - pause_s * 0.8   # elapsed_s leaves the pause out
    assert rate_after_pause > 1.5 * 64 / pause_s                    # and so does images/s (64 per step)


def test_pause_is_refused_under_torchrun_rather_than_stalling_the_other_ranks(digits):
    from types import SimpleNamespace

    trainer = Trainer(small_vae(), digits, None, TrainConfig(epochs=1, batch_size=64))
    trainer.dist = SimpleNamespace(world_size=2, rank=0, is_main=True)   # as a torchrun job sees itself
    with pytest.raises(ConfigError, match="--resume"):
        trainer.pause()
    assert not trainer.paused


def test_pause_from_another_thread_stops_the_steps(digits):
    trainer = Trainer(small_vae(), digits, None, TrainConfig(epochs=100, batch_size=32, event_interval=0.0))
    started = threading.Event()
    worker = threading.Thread(target=lambda: [started.set() for _ in trainer.run()])
    worker.start()
    try:
        assert started.wait(60)
        trainer.pause()
        time.sleep(0.2)                                    # let the step in flight finish
        held = trainer.step
        time.sleep(0.3)
        assert trainer.step == held                        # nothing moves while paused
        trainer.unpause()
        deadline = time.monotonic() + 30
        while trainer.step == held and time.monotonic() < deadline:
            time.sleep(0.01)
        assert trainer.step > held
    finally:
        trainer.stop()
        worker.join(60)
    assert not worker.is_alive()


def _poison_at(model, monkeypatch, at_step):
    """From call `at_step` on, a weight becomes NaN before the step: the loss and the weights go NaN."""
    real_step, calls = model.train_step, [0]

    def step(x, c, optimizers):
        calls[0] += 1
        if calls[0] == at_step:
            with torch.no_grad():
                next(model.parameters()).view(-1)[0] = float("nan")
        return real_step(x, c, optimizers)
    monkeypatch.setattr(model, "train_step", step)


@pytest.mark.parametrize("check_every", [1, 20])
def test_divergence_raises_and_keeps_the_last_good_checkpoint(tmp_path, digits, monkeypatch, check_every):
    out = tmp_path / "run.safetensors"
    model = small_vae()
    _poison_at(model, monkeypatch, at_step=13)
    config = TrainConfig(epochs=5, batch_size=64, checkpoint_every=5, check_every=check_every)
    trainer = Trainer(model, digits, None, config, out=out)
    hashes = {}
    with pytest.raises(TrainingDiverged) as info:
        for event in trainer.run():
            if event.kind == "checkpoint":
                hashes[event.step] = (sha(out), sha(previous_path(out)) if event.step > 5 else None)
    # check_every 1 notices at the poisoned step; 20 would look at step 20, but the save due at 15 checks first
    step = 13 if check_every == 1 else 15
    assert f"diverged at step {step}" in str(info.value)
    assert sorted(hashes) == [5, 10]
    assert (sha(out), sha(previous_path(out))) == hashes[10]      # neither file touched since step 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.prev.safetensors", "run.safetensors"]
    for path in (out, previous_path(out)):
        ckpt = load_checkpoint(path)                  # refuses NaN weights, so this also proves they are finite
        assert ckpt.train_state["step"] in (5, 10)
    assert load_checkpoint(out).train_state["step"] == 10


def test_control_without_poison_the_same_run_finishes_and_rewrites_the_file(tmp_path, digits):
    out = tmp_path / "run.safetensors"
    trainer = Trainer(small_vae(), digits, None, TrainConfig(epochs=1, batch_size=64, checkpoint_every=5),
                      out=out)
    hashes = [sha(out) for e in trainer.run() if e.kind == "checkpoint"]
    assert len(hashes) == 5 and len(set(hashes)) == 5              # 5, 10, 15, 20, 23: each save changes it


def _fake_gan_step(d_real, d_fake):
    def t(v):
        return torch.tensor(float(v))

    def step(x, c, optimizers):
        return {"loss": t(1.0), "d_loss": t(0.5), "g_loss": t(0.5), "d_real": t(d_real), "d_fake": t(d_fake),
                "jsd": t(0.1)}
    return step


@pytest.mark.parametrize("d_real, d_fake, warned", [(0.999, 0.001, True), (0.7, 0.3, False)])
def test_a_discriminator_that_wins_outright_is_reported(digits, monkeypatch, d_real, d_fake, warned):
    model = small_gan()
    monkeypatch.setattr(model, "train_step", _fake_gan_step(d_real, d_fake))
    trainer = Trainer(model, digits, None, TrainConfig(epochs=3, batch_size=64, event_interval=0.0))
    warnings = [e.message for e in trainer.run() if e.kind == "warning"]
    wins = [w for w in warnings if "discriminator wins outright" in w]
    assert len(wins) == (1 if warned else 0)           # once, not on every event after the patience
    assert ("discriminator wins outright" in " ".join(trainer.warnings)) == warned


def _decode_by_epoch(model, monkeypatch, constant_from: int):
    """model.decode as the end-of-epoch check sees it: varied images, then one constant image."""
    calls = [0]

    def decode(z, c=None):
        calls[0] += 1
        if calls[0] > constant_from:
            return torch.full((len(z), *model.image_shape), 0.5)
        return torch.rand(len(z), *model.image_shape, generator=torch.Generator().manual_seed(calls[0]))
    monkeypatch.setattr(model, "decode", decode)


@pytest.mark.parametrize("constant_from, warned_at", [(2, [2]), (10, [])], ids=["collapses", "control"])
def test_samples_that_lose_their_variety_are_reported_as_mode_collapse(digits, monkeypatch, constant_from,
                                                                       warned_at):
    model = small_gan()
    monkeypatch.setattr(model, "train_step", _fake_gan_step(0.6, 0.4))
    _decode_by_epoch(model, monkeypatch, constant_from)
    trainer = Trainer(model, digits, None, TrainConfig(epochs=5, batch_size=512))
    collapse = [e for e in trainer.run() if e.kind == "warning" and "mode collapse" in e.message]
    assert [e.epoch for e in collapse] == warned_at            # once, at the first epoch that collapsed
    assert all("after the samples had varied" in e.message for e in collapse)


def test_a_generator_whose_output_is_constant_is_reported_after_patience(digits, monkeypatch):
    model = small_gan()
    with torch.no_grad():
        model.generator.main[-2].weight.zero_()    # last transposed conv: tanh(0) = 0.5 grey for every z
    monkeypatch.setattr(model, "train_step", _fake_gan_step(0.6, 0.4))
    trainer = Trainer(model, digits, None, TrainConfig(epochs=6, batch_size=512))
    collapse = [e for e in trainer.run() if e.kind == "warning" and "mode collapse" in e.message]
    assert [e.epoch for e in collapse] == [4]                  # a fresh generator is grey too: wait 5 epochs
    assert "pixel spread 0.0000" in collapse[0].message and collapse[0].message in trainer.warnings
