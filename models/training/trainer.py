"""One training loop for every family, with no Qt. The command line and the editor's training thread
both iterate `Trainer.run()`; stop and pause are flags checked between steps.

Resuming restores weights, optimiser state and the torch RNG; the data order of epoch e comes from
a generator seeded with (seed, e), so a resumed CPU run ends bit-identical to an uninterrupted one
(with the same number of torch threads: reductions split across threads round differently).
Under torchrun (a `DistributedContext`), see distributed.py: each rank trains on its shard, gradients
are averaged before each optimiser step, and only rank 0 writes checkpoints.
"""
from __future__ import annotations

import math
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from latent_atlas.models.checkpoints.checkpoint import load_checkpoint, save_checkpoint
from latent_atlas.models.checkpoints.header import FormatProblem, check_metadata_fits
from latent_atlas.models.errors import CheckpointError, ConfigError, TrainingDiverged
from latent_atlas.models.training import distributed as ddp
from latent_atlas.models.training.augment import mirror_shift, step_generator
from latent_atlas.models.training.events import TrainConfig, TrainEvent, checkpoint_interval
from latent_atlas.models.training.gan_health import GanHealth, pixel_spread

HISTORY_CAP = 20_000   # points per curve kept in the checkpoint; older points are thinned 2:1


class Trainer:
    def __init__(self, model, images: torch.Tensor, conditions: torch.Tensor | None, config: TrainConfig,
                 *, out: str | Path | None = None, dataset: dict | None = None, device="cpu",
                 resume_from: str | Path | None = None, distributed: ddp.DistributedContext | None = None,
                 resumed: tuple | None = None):
        """images: (N, C, H, W) uint8; conditions: (N, cond_dim) float or None.
        distributed: this process's place in a torchrun job (None: a plain single-process run).
        resumed: load_for_resume(resume_from) when the caller has read it already (RunSpec.build)."""
        self.model = model.to(device)
        self.config = config
        self.device = torch.device(device)
        self.dist = distributed
        self.images = images.to(self.device)
        self.conditions = None if conditions is None else conditions.to(self.device, torch.float32)
        self.out = Path(out) if out is not None else None
        self.dataset = dataset or {}
        if self.out is not None:     # the checkpoint written at the end must be one its loader opens
            try:
                check_metadata_fits("dataset", self.dataset)
            except FormatProblem as e:
                raise ConfigError(f"cannot train into {self.out}: {e}") from None
        self.optimizers = model.make_optimizers(config.lr)
        self.history: dict[str, list[float]] = {}
        self.step = 0
        self._stop = threading.Event()
        self._stop_agreed = False          # distributed: every rank stops at the same step
        self._running = threading.Event()
        self._running.set()
        self.give_way: Callable[[], float] | None = None   # called before each step (the editor: clicks first)
        world = distributed.world_size if distributed else 1
        per_rank = math.ceil(len(self.images) / world)
        self.steps_per_epoch = max(1, math.ceil(per_rank / config.batch_size))
        self.total_steps = config.epochs * self.steps_per_epoch
        self.last_saved: Path | None = None
        self.warnings: list[str] = []
        self._last_loss: torch.Tensor | None = None
        self._rotate_out = True            # False while self.out is known to be corrupt
        self._event_every = 1              # distributed: steps between progress events, set by rank 0
        if resume_from is not None:
            self._resume(Path(resume_from), resumed)
        else:
            torch.manual_seed(self._rank_seed(0))
        if distributed is not None:
            ddp.broadcast_state(self.model)
            ddp.install_gradient_averaging(self.optimizers, world)

    # -- control, safe to call from any thread ----------------------------------------------------
    def stop(self) -> None:
        """Stop before the next step and save a resumable checkpoint (under torchrun: at the next event)."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        """Hold before the next step until unpause(). Single-process runs only: one paused rank of a
        torchrun job would leave the others waiting in a collective; stop and --resume instead."""
        if self.dist is not None and self.dist.world_size > 1:
            raise ConfigError("pausing is not available under torchrun: stop (Ctrl+C) and continue with --resume")
        self._running.clear()

    def unpause(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # -- the loop ---------------------------------------------------------------------------------
    def run(self) -> Iterator[TrainEvent]:
        cfg = self.config
        self.model.train()
        gan_health = None
        if self.model.kind == "gan":
            gan_health = GanHealth(data_spread=pixel_spread(self.images[:256].float() / 255.0))
        sums: dict[str, torch.Tensor] = {}
        n_in_window, images_in_window = 0, 0
        t_start = t_window = time.perf_counter()
        paused_s = 0.0
        while self.step < self.total_steps:
            epoch, batch_index = divmod(self.step, self.steps_per_epoch)
            order = self._epoch_order(epoch)
            for b in range(batch_index, self.steps_per_epoch):
                if not self._running.is_set():
                    t_pause = time.perf_counter()
                    self._running.wait()
                    held = time.perf_counter() - t_pause
                    paused_s, t_window = paused_s + held, t_window + held   # images/s leaves the pause out
                if self._stop_agreed if self.dist else self._stop.is_set():
                    yield from self._finish("stopped", epoch, t_start, paused_s)
                    return
                if self.give_way is not None:
                    t_window += self.give_way()          # the seconds held: images/s leaves them out
                idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                x = self.images[idx].float().div_(255.0)                 # (B, C, H, W) in [0, 1]
                if cfg.mirror_shift:
                    x = mirror_shift(x, step_generator(cfg.seed + 7919 * self._rank(), self.step))
                c = None if self.conditions is None else self.conditions[idx]
                terms = self.model.train_step(x, c, self.optimizers)
                self.step += 1
                self._last_loss = terms["loss"]
                for k, v in terms.items():
                    sums[k] = sums[k] + v if k in sums else v.clone()
                n_in_window += 1
                images_in_window += len(idx)
                if self.step % cfg.check_every == 0:
                    self._check_loss()
                now = time.perf_counter()
                end_of_epoch = b == self.steps_per_epoch - 1
                if self._event_due(now - t_window, end_of_epoch):
                    # .item() synchronises with a GPU, so it happens at most ~10 times a second
                    means, images = self._window_means(sums, n_in_window, images_in_window, now - t_window)
                    self._record(means, epoch)
                    rate = images / max(now - t_window, 1e-9)
                    yield TrainEvent("progress", self.step, epoch, self.total_steps, means, rate,
                                     now - t_start - paused_s)
                    if gan_health is not None:
                        yield from self._warn(gan_health.update(means), epoch)
                    sums, n_in_window, images_in_window, t_window = {}, 0, 0, now
                if self._checkpoint_due(end_of_epoch):
                    yield self._save(epoch, "checkpoint")
            if self.dist is not None:
                ddp.average_buffers(self.model, self.dist.world_size)
            if gan_health is not None:
                yield from self._warn(gan_health.check_collapse(self.model), epoch)
            yield TrainEvent("epoch", self.step, epoch + 1, self.total_steps,
                             elapsed_s=time.perf_counter() - t_start - paused_s)
        yield from self._finish("done", self.config.epochs, t_start, paused_s)

    def _warn(self, message: str, epoch: int) -> Iterator[TrainEvent]:
        if message:
            self.warnings.append(message)
            yield TrainEvent("warning", self.step, epoch, self.total_steps, message=message)

    def _finish(self, kind, epoch, t_start, paused_s) -> Iterator[TrainEvent]:
        self.model.eval()
        if self.out is not None and (self.last_saved is None or self._saved_step != self.step):
            yield self._save(epoch, "checkpoint")
        yield TrainEvent(kind, self.step, epoch, self.total_steps,
                         elapsed_s=time.perf_counter() - t_start - paused_s,
                         message=str(self.last_saved or ""))

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        """This rank's image indices for `epoch`: the same permutation on every rank, then its shard."""
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.images), generator=g)
        if self.dist is not None:
            order = ddp.shard(order, self.dist.rank, self.dist.world_size)
        return order.to(self.device)

    def _event_due(self, window_s: float, end_of_epoch: bool) -> bool:
        if self.dist is None:
            return window_s >= self.config.event_interval or end_of_epoch
        # ranks must agree without talking, so the clock is rank 0's, turned into a step count
        return self.step % self._event_every == 0 or end_of_epoch

    def _window_means(self, sums, n_steps, n_images, window_s) -> tuple[dict[str, float], float]:
        """Mean loss terms over the window (over all ranks) and the images trained in it (all ranks)."""
        if self.dist is None:
            return {k: float(v) / n_steps for k, v in sums.items()}, float(n_images)
        keys = sorted(sums)
        every = max(1, round(self.config.event_interval * n_steps / max(window_s, 1e-9)))
        extra = [n_steps, n_images, float(self._stop.is_set()), every if self.dist.is_main else 0]
        vec = torch.cat([torch.stack([sums[k].double() for k in keys]),
                         torch.tensor(extra, dtype=torch.float64, device=self.device)])
        vec = ddp.all_reduce_sum(vec).tolist()
        total_steps, total_images, stops, self._event_every = vec[len(keys):]
        self._event_every = max(1, int(self._event_every))
        self._stop_agreed = self._stop_agreed or stops > 0
        return {k: vec[i] / total_steps for i, k in enumerate(keys)}, total_images

    def _check_loss(self) -> None:
        """TrainingDiverged if the last loss is NaN/Inf (on any rank). Synchronises with a GPU."""
        if self._last_loss is None:
            return
        loss = self._last_loss.detach().double().reshape(1).clone()
        if self.dist is not None:
            ddp.all_reduce_sum(loss)
        if not math.isfinite(float(loss)):
            raise TrainingDiverged(f"training diverged at step {self.step}: the loss is {float(loss)}; "
                                   "the last good checkpoint is kept"
                                   + (f" ({self.last_saved})" if self.last_saved else ""))

    def _checkpoint_due(self, end_of_epoch: bool) -> bool:
        if self.out is None:
            return False
        every = self.config.checkpoint_every
        if every is None:                  # this run's own (per-rank) epoch length decides
            every = checkpoint_interval(self.steps_per_epoch)
        return self.step % every == 0 if every > 0 else end_of_epoch

    def _record(self, means: dict[str, float], epoch: int) -> None:
        h = self.history
        for key, value in (("step", float(self.step)), ("epoch", float(epoch)), *means.items()):
            h.setdefault(key, []).append(value)
        if len(h["step"]) > HISTORY_CAP:
            h.update(thinned_history(h, HISTORY_CAP))

    def _rank(self) -> int:
        return self.dist.rank if self.dist is not None else 0

    def _rank_seed(self, step: int) -> int:
        if self.dist is None or self.dist.is_main:
            return self.config.seed
        return ddp.rank_seed(self.config.seed, self.dist.rank, step)

    # -- checkpoints --------------------------------------------------------------------------------
    _saved_step = -1

    def _save(self, epoch: int, kind: str) -> TrainEvent:
        """Atomic save; the file it replaces is kept as <name>.prev.safetensors for a fallback.
        Never writes non-finite weights: a NaN that check_every skipped is caught here."""
        self._check_loss()
        bad = [k for k, t in self.model.state_dict().items() if t.is_floating_point() and not t.isfinite().all()]
        if bad:
            raise TrainingDiverged(f"training diverged at step {self.step}: weight {bad[0]} is NaN/Inf; "
                                   "the last good checkpoint is kept")
        rank_states = {}
        if self.dist is not None:
            ddp.average_buffers(self.model, self.dist.world_size)
            rank_states = ddp.gather_rng_states(self.device)   # so a resume goes on with every rank's noise
        if self.dist is None or self.dist.is_main:
            self._write(epoch, rank_states)
        if self.dist is not None:
            ddp.barrier()                  # the others wait until rank 0's file is complete
        self.last_saved, self._saved_step = self.out, self.step
        return TrainEvent(kind, self.step, epoch, self.total_steps, message=str(self.out))

    def _write(self, epoch: int, rank_states: dict | None = None) -> None:
        if self.out.exists() and self._rotate_out:
            prev = previous_path(self.out)
            tmp = prev.with_name(prev.name + ".tmp")
            try:
                shutil.copyfile(self.out, tmp)
                tmp.replace(prev)
            except OSError as e:   # a full disk: a typed error, and no half-copied file left behind
                tmp.unlink(missing_ok=True)
                raise CheckpointError(f"could not save {self.out}: could not keep the previous checkpoint "
                                      f"as {prev} ({e.strerror or e})") from None
        state = {"step": self.step, "epoch": epoch, "seed": self.config.seed,
                 "train_config": self.config.__dict__, "total_steps": self.total_steps,
                 "steps_per_epoch": self.steps_per_epoch,
                 "world_size": self.dist.world_size if self.dist else 1}
        rng = {"torch": torch.get_rng_state(), **(rank_states or {})}
        if self.device.type == "cuda":
            rng["cuda"] = [torch.cuda.get_rng_state(self.device)]
        save_checkpoint(self.out, self.model, dataset=self.dataset, history=self.history,
                        optimizers=self.optimizers, train_state=state, rng_state=rng)
        self._rotate_out = True

    def _resume(self, path: Path, resumed: tuple | None = None) -> None:
        ckpt, warning = resumed if resumed is not None else load_for_resume(path, device=self.device)
        if warning:
            self.warnings.append(warning)
            if self.out is not None and self.out.resolve() == path.resolve():
                self._rotate_out = False   # the corrupt file must not replace the good .prev
        if ckpt.kind != self.model.kind or ckpt.config != self.model.config:
            raise CheckpointError(f"{path}: cannot resume: it holds a {ckpt.kind} with {ckpt.config}, "
                                  f"but this run builds a {self.model.kind} with {self.model.config}")
        self.model.load_state_dict(ckpt.model.state_dict())
        for name, opt in self.optimizers.items():
            if name in ckpt.optimizer_states:
                opt.load_state_dict(ckpt.optimizer_states[name])
                for group in opt.param_groups:
                    group["lr"] = self.config.lr        # this run's learning rate, not the saved one
        self.step = int(ckpt.train_state.get("step", 0))
        saved_spe = int(ckpt.train_state.get("steps_per_epoch", self.steps_per_epoch))
        if saved_spe != self.steps_per_epoch:
            epochs_done = self.step // max(1, saved_spe)
            self.warnings.append(f"{path}: saved with {saved_spe} steps per epoch, this run has "
                                 f"{self.steps_per_epoch} (batch size, data or process count changed): "
                                 f"continuing from the start of epoch {epochs_done + 1}")
            self.step = epochs_done * self.steps_per_epoch
        self.history = {k: list(v) for k, v in ckpt.history.items()}
        saved_world = ckpt.train_state.get("world_size", 1)
        self._restore_rng(ckpt.rng_state, saved_world if isinstance(saved_world, int) else 1, path)

    def _restore_rng(self, rng: dict, saved_world: int, path: Path) -> None:
        """Each rank takes up its own saved generator where it left off, so a resumed run draws the same
        noise as one that never stopped. A run with another process count (or an older file without
        per-rank states) seeds ranks > 0 afresh from (seed, rank, step): correct, not bit-identical."""
        rank, world = (self.dist.rank, self.dist.world_size) if self.dist else (0, 1)
        cpu, gpu = rng.get("torch"), (rng.get("cuda") or [None])[0]
        if world > 1 and saved_world == world and len(rng.get("ranks") or []) == world:
            cpu = rng["ranks"][rank]
            gpu = rng["cuda_ranks"][rank] if len(rng.get("cuda_ranks") or []) == world else None
        elif rank > 0:
            cpu = gpu = None
        if cpu is not None:
            try:
                torch.set_rng_state(cpu)
                if self.device.type == "cuda" and gpu is not None:
                    torch.cuda.set_rng_state(gpu, self.device)
                return
            except (RuntimeError, ValueError) as e:      # a damaged state: go on, seeded, and say so
                self.warnings.append(f"{path}: its random generator state is unusable ({e}); "
                                     "the resumed run is seeded afresh and will not repeat the original")
        torch.manual_seed(self._rank_seed(self.step))


def thinned_history(history: dict, most: int) -> dict:
    """Every k-th point of each curve, k the smallest that leaves at most `most`, the last point always kept
    (one over the cap: every other point, 2:1)."""
    n = len(history.get("step", []))
    k = max(1, -(-n // most))
    keep = sorted(set(range(0, n, k)) | ({n - 1} if n else set()))
    if len(keep) > most:
        keep = keep[:most - 1] + [n - 1]
    return {key: [values[i] for i in keep] for key, values in history.items()}


def load_for_resume(path, device="cpu"):
    """(checkpoint with optimiser state, warning): falls back to <name>.prev.safetensors when the file
    is unreadable; the warning then says why. CheckpointError if neither loads."""
    path = Path(path)
    try:
        return load_checkpoint(path, device=device, with_optimizers=True), ""
    except CheckpointError as first_error:
        prev = previous_path(path)
        if not prev.exists():
            raise
        ckpt = load_checkpoint(prev, device=device, with_optimizers=True)
        return ckpt, f"{first_error}; resumed from the previous checkpoint {prev}"


def previous_path(path: Path) -> Path:
    path = Path(path)
    return path.with_name(path.stem + ".prev" + path.suffix)
