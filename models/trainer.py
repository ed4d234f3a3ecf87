"""One training loop for every family, with no Qt. The command line and the editor's training thread
both iterate `Trainer.run()`; stop and pause are flags checked between steps.

Resuming restores weights, optimiser state and the torch RNG; the data order of epoch e comes from
a generator seeded with (seed, e), so a resumed CPU run ends bit-identical to an uninterrupted one.
"""
from __future__ import annotations

import math
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import CheckpointError, TrainingDiverged
from .gan_health import GanHealth
from .training_events import TrainConfig, TrainEvent

HISTORY_CAP = 20_000   # points per curve kept in the checkpoint; older points are thinned 2:1


class Trainer:
    def __init__(self, model, images: torch.Tensor, conditions: torch.Tensor | None, config: TrainConfig,
                 *, out: str | Path | None = None, dataset: dict | None = None, device="cpu",
                 resume_from: str | Path | None = None):
        """images: (N, C, H, W) uint8; conditions: (N, cond_dim) float or None."""
        self.model = model.to(device)
        self.config = config
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.conditions = None if conditions is None else conditions.to(self.device, torch.float32)
        self.out = Path(out) if out is not None else None
        self.dataset = dataset or {}
        self.optimizers = model.make_optimizers(config.lr)
        self.history: dict[str, list[float]] = {}
        self.step = 0
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.steps_per_epoch = max(1, math.ceil(len(self.images) / config.batch_size))
        self.total_steps = config.epochs * self.steps_per_epoch
        self.last_saved: Path | None = None
        self.warnings: list[str] = []
        if resume_from is not None:
            self._resume(Path(resume_from))
        else:
            torch.manual_seed(config.seed)

    # -- control, safe to call from any thread ----------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
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
        gan_health = GanHealth() if self.model.kind == "gan" else None
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
                    paused_s += time.perf_counter() - t_pause
                if self._stop.is_set():
                    yield from self._finish("stopped", epoch, t_start, paused_s)
                    return
                idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
                x = self.images[idx].float().div_(255.0)                 # (B, C, H, W) in [0, 1]
                c = None if self.conditions is None else self.conditions[idx]
                terms = self.model.train_step(x, c, self.optimizers)
                self.step += 1
                for k, v in terms.items():
                    sums[k] = sums[k] + v if k in sums else v.clone()
                n_in_window += 1
                images_in_window += len(idx)
                if self.step % cfg.check_every == 0 and not math.isfinite(float(terms["loss"])):
                    raise TrainingDiverged(f"training diverged at step {self.step}: the loss is "
                                           f"{float(terms['loss'])}; the last good checkpoint is kept"
                                           + (f" ({self.last_saved})" if self.last_saved else ""))
                now = time.perf_counter()
                end_of_epoch = b == self.steps_per_epoch - 1
                if now - t_window >= cfg.event_interval or end_of_epoch:
                    # .item() synchronises with a GPU, so it happens at most ~10 times a second
                    means = {k: float(v) / n_in_window for k, v in sums.items()}
                    self._record(means, epoch)
                    rate = images_in_window / max(now - t_window, 1e-9)
                    yield TrainEvent("progress", self.step, epoch, self.total_steps, means, rate,
                                     now - t_start - paused_s)
                    if gan_health is not None:
                        msg = gan_health.update(means)
                        if msg:
                            self.warnings.append(msg)
                            yield TrainEvent("warning", self.step, epoch, self.total_steps, message=msg)
                    sums, n_in_window, images_in_window, t_window = {}, 0, 0, now
                if self._checkpoint_due(end_of_epoch):
                    yield self._save(epoch, "checkpoint")
            if gan_health is not None:
                msg = gan_health.check_collapse(self.model)
                if msg:
                    self.warnings.append(msg)
                    yield TrainEvent("warning", self.step, epoch, self.total_steps, message=msg)
            yield TrainEvent("epoch", self.step, epoch + 1, self.total_steps,
                             elapsed_s=time.perf_counter() - t_start - paused_s)
        yield from self._finish("done", self.config.epochs, t_start, paused_s)

    def _finish(self, kind, epoch, t_start, paused_s) -> Iterator[TrainEvent]:
        self.model.eval()
        if self.out is not None and (self.last_saved is None or self._saved_step != self.step):
            yield self._save(epoch, "checkpoint")
        yield TrainEvent(kind, self.step, epoch, self.total_steps,
                         elapsed_s=time.perf_counter() - t_start - paused_s,
                         message=str(self.last_saved or ""))

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.images), generator=g).to(self.device)

    def _checkpoint_due(self, end_of_epoch: bool) -> bool:
        if self.out is None:
            return False
        every = self.config.checkpoint_every
        return self.step % every == 0 if every > 0 else end_of_epoch

    def _record(self, means: dict[str, float], epoch: int) -> None:
        h = self.history
        for key, value in (("step", float(self.step)), ("epoch", float(epoch)), *means.items()):
            h.setdefault(key, []).append(value)
        if len(h["step"]) > HISTORY_CAP:
            for key in h:
                h[key] = h[key][::2]

    # -- checkpoints --------------------------------------------------------------------------------
    _saved_step = -1

    def _save(self, epoch: int, kind: str) -> TrainEvent:
        """Atomic save; the file it replaces is kept as <name>.prev.safetensors for a fallback."""
        if self.out.exists():
            prev = previous_path(self.out)
            tmp = prev.with_name(prev.name + ".tmp")
            shutil.copyfile(self.out, tmp)
            tmp.replace(prev)
        state = {"step": self.step, "epoch": epoch, "seed": self.config.seed,
                 "train_config": self.config.__dict__, "total_steps": self.total_steps}
        save_checkpoint(self.out, self.model, dataset=self.dataset, history=self.history,
                        optimizers=self.optimizers, train_state=state,
                        rng_state={"torch": torch.get_rng_state()})
        self.last_saved, self._saved_step = self.out, self.step
        return TrainEvent(kind, self.step, epoch, self.total_steps, message=str(self.out))

    def _resume(self, path: Path) -> None:
        try:
            ckpt = load_checkpoint(path, device=self.device, with_optimizers=True)
        except CheckpointError as first_error:
            prev = previous_path(path)
            if not prev.exists():
                raise
            ckpt = load_checkpoint(prev, device=self.device, with_optimizers=True)
            self.warnings.append(f"{first_error}; resumed from the previous checkpoint {prev}")
        if ckpt.kind != self.model.kind or ckpt.config != self.model.config:
            raise CheckpointError(f"{path}: cannot resume: it holds a {ckpt.kind} with {ckpt.config}, "
                                  f"but this run builds a {self.model.kind} with {self.model.config}")
        self.model.load_state_dict(ckpt.model.state_dict())
        for name, opt in self.optimizers.items():
            if name in ckpt.optimizer_states:
                opt.load_state_dict(ckpt.optimizer_states[name])
        if "torch" in ckpt.rng_state:
            torch.set_rng_state(ckpt.rng_state["torch"])
        self.step = int(ckpt.train_state.get("step", 0))
        self.history = {k: list(v) for k, v in ckpt.history.items()}


def previous_path(path: Path) -> Path:
    path = Path(path)
    return path.with_name(path.stem + ".prev" + path.suffix)
