"""Wires the state, the decode worker and background jobs. Owns no widgets; the window owns those.

Constructing it imports no torch (the window can show first); the device is resolved on first use and
the model loader and projections are imported by the jobs that need them.
"""
from __future__ import annotations

import itertools
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from latent_atlas.editor.core.messages import DecodeRequest, DecodeResult
from latent_atlas.editor.core.state import CurrentPoint, EditorState
from latent_atlas.editor.workers.decode_channel import DecodeChannel
from latent_atlas.editor.workers.decode_worker import DecodeWorker
from latent_atlas.editor.workers.job_channel import JobChannel
from latent_atlas.editor.workers.job_worker import JobWorker
from latent_atlas.models.device import resolve_device

if TYPE_CHECKING:
    import torch

    from latent_atlas.editor.core.loaded_model import LoadedModel


class Controller(QObject):
    load_started = Signal(str)
    load_progress = Signal(float, str)
    load_failed = Signal(str)
    load_cancelled = Signal()              # Cancel stopped the open: the model open before stays
    model_loaded = Signal(object)          # LoadedModel
    projection_started = Signal(str)
    projection_progress = Signal(float, str)   # fraction, method (t-SNE reports its iterations)
    projection_failed = Signal(str)
    projection_ready = Signal(str)
    projection_cancelled = Signal(str)     # Cancel stopped the fit of this method: the map shown stays
    decode_timing = Signal(float)          # ms of the last decode
    first_image = Signal(object)           # FirstImage: a cold start's first view, before its map is ready
    _preview = Signal(object)              # the load job's FirstImage, queued onto the GUI thread
    device_changed = Signal(str)

    def __init__(self, state: EditorState, device: str = "auto", map_limit: int = 10_000, parent=None):
        super().__init__(parent)
        self.state = state
        self._device_request = device
        self._device: torch.device | None = None
        self.map_limit = map_limit
        self.map_split = "test"     # "train" maps the training images (60,000 for Fashion-MNIST)
        self.use_map_cache = False  # the editor's start-up turns it on: loads write editor/core/map_cache.py
        self.projection_method = "pca"
        self.projection_options: dict = {}
        self._ids = itertools.count(1)           # request ids, shared by every channel
        self._channel_numbers = itertools.count(1)
        self._channels: dict[str, DecodeChannel] = {}
        self._job_channels: list[JobChannel] = []
        self._finished_jobs: list[JobWorker] = []
        # a newer open replaces one in flight; the model open before stays until the new one has loaded
        self._loads = self.job_channel("opening", follows_model=False)
        self._loads.result.connect(lambda loaded, _path: self._on_loaded(loaded))
        self._loads.failed.connect(lambda message, _path: self.load_failed.emit(message))
        self._loads.cancelled.connect(lambda _path: self.load_cancelled.emit())
        self._loads.progressed.connect(self.load_progress)
        self._preview.connect(self._on_preview)
        self._projections = self.job_channel("projection")   # a fit for the model before is never shown
        self._projections.result.connect(self._on_projected)
        self._projections.failed.connect(lambda message, _asked: self.projection_failed.emit(message))
        self._projections.cancelled.connect(lambda asked: self.projection_cancelled.emit(asked[1]))
        self._projections.progressed.connect(self.projection_progress)
        self.decoder = DecodeWorker()
        self.decoder.answered.connect(self._on_decoder_answered)
        self.decoder.failed.connect(self._on_decoder_failed)
        self.decoder.start()
        self._current = self.channel("current")     # the image of the current latent
        self._current.result.connect(self._on_current_decoded)
        state.events.latent_changed.connect(self._on_state_latent_changed)

    @property
    def device(self) -> torch.device:
        """The device models open on: resolved (and torch imported) on first use. ConfigError when the
        requested device is not on this machine."""
        if self._device is None:
            self._device = resolve_device(self._device_request)
        return self._device

    # -- opening --------------------------------------------------------------------------------------
    def open(self, path: str | Path, cached=None, data_folder: str | None = None) -> None:
        """Loads off the GUI thread; on failure the model already open stays open. `cached`: the map of
        this file from the start-up cache (editor/core/map_cache.py), so the data set is not encoded again.
        `data_folder`: the data the user chose for the map, in place of the one the file records."""
        fn = partial(self._load, str(path), self.device, self._first_projection(), cached, data_folder)
        self._loads.submit(fn, str(path), name=f"opening {Path(path).name}")
        self.load_started.emit(str(path))

    def _on_preview(self, first) -> None:
        """Only the first model of the session shows its first image early: over another model's map it would
        be a picture of one model beside the map of another."""
        if self._loads.running and self._loads.context == str(first.path) and self.state.loaded is None:
            self.first_image.emit(first)

    def open_module(self, model, data, origin: dict) -> None:
        """A user's module (models/adapters ModuleModel) and its data: encoded and projected off the GUI
        thread, then the same as an opened checkpoint."""
        projection = self._first_projection()
        fn = partial(self._load_module, model, data, origin, projection)
        self._loads.submit(fn, origin["module"], name=f"opening {origin['module']}")
        self.load_started.emit(origin["module"])

    def _load_module(self, model, data, origin, projection, progress, should_stop) -> LoadedModel:
        from latent_atlas.editor.core.loaded_model import load_module_for_editor

        return load_module_for_editor(model, data, origin, projection=projection, progress=progress,
                                      should_stop=should_stop)

    def _load(self, path, device, projection, cached, data_folder, progress, should_stop) -> LoadedModel:
        from latent_atlas.editor.core.loaded_model import load_for_editor

        loaded = load_for_editor(path, device=device, map_limit=self.map_limit, map_split=self.map_split,
                                 projection=projection, progress=progress, should_stop=should_stop,
                                 cached=cached, use_cache=self.use_map_cache and data_folder is None,
                                 data_folder=data_folder, preview=self._preview.emit)
        _ = loaded.sha256       # hashed here, not on the GUI thread: the state keys the user's work by it
        return loaded

    def _on_loaded(self, loaded: LoadedModel) -> None:
        from latent_atlas.editor.core.attributes import vectors_from_checkpoint

        self.decoder.set_model(loaded.model)   # the worker owns the module from now on
        for channel in self._channels.values():
            channel.forget()                   # nothing asked of the model before is shown on this one
        for jobs in self._job_channels:
            if jobs.follows_model:
                jobs.forget()                  # nor any job's answer (a fit, a score, an inversion, a map)
        self.state.set_model(loaded, stored_edits=vectors_from_checkpoint(loaded.checkpoint.vectors))
        self.model_loaded.emit(loaded)
        self._project_loaded(loaded)
        if loaded.embedding is not None and len(loaded.embedding):
            self.select_data_point(loaded.start_index)   # the first view shows a typical image

    # -- projection -----------------------------------------------------------------------------------
    def _first_projection(self) -> str:
        """What a load fits: PCA in place of t-SNE or UMAP, which follow from set_projection (kept fits,
        real progress, Cancel) once the model is open."""
        return "pca" if self.projection_method in ("tsne", "umap") else self.projection_method

    def _project_loaded(self, loaded: LoadedModel) -> None:
        from latent_atlas.editor.core.projection_store import fit_key, session_store

        if loaded.projection is None:
            return
        first = loaded.projection
        session_store().keep(fit_key(loaded.sha256, loaded.latents, first.method, first.params()), first)
        if self.projection_method != first.method:
            self.set_projection(self.projection_method, **self.projection_options)

    def set_projection(self, method: str, **options) -> None:
        """The map by `method`: a fit kept for this model's latents (this session or on disk,
        editor/core/projection_store.py) is shown without refitting; otherwise it is fitted in a job."""
        from latent_atlas.editor.core.projection_store import ProjectionError, fit_key, session_store

        self.projection_method, self.projection_options = method, options
        loaded = self.state.loaded
        if loaded is None:
            return
        self._projections.forget()                     # a fit in flight was asked before this one
        store, latents = session_store(), loaded.latents
        try:
            key = fit_key(loaded.sha256, latents, method, options)
        except ProjectionError as e:
            self.projection_failed.emit(str(e))
            return
        known = store.known(key)
        if known is not None:                          # fitted before in this session: no job, no refit
            self.state.set_projection(known)
            self.projection_ready.emit(method)
            return
        # t-SNE and UMAP run in a child process, so Cancel and closing the window stop them
        where = {"in_subprocess": True} if method in ("tsne", "umap") else {}

        def fit(progress, should_stop):
            return store.get_or_fit(key, method, options, latents, fit_options=where,
                                    progress=lambda f: progress(f, method), should_stop=should_stop)

        self._projections.submit(fit, (loaded, method), name=f"projection {method}")
        self.projection_started.emit(method)

    def _on_projected(self, projection, asked) -> None:
        loaded, method = asked       # the channel is forgotten when another model opens
        if self.state.loaded is loaded:
            self.state.set_projection(projection)
            self.projection_ready.emit(method)

    @property
    def projection_running(self) -> bool:
        return self._projections.running

    def cancel_jobs(self) -> None:
        """The status bar's Cancel: stops an open and a fit in flight; each says so when it has stopped
        (load_cancelled, projection_cancelled)."""
        self._loads.cancel()
        self._projections.cancel()

    # -- pointing -------------------------------------------------------------------------------------
    def click(self, x: float, y: float, data_index: int = -1) -> None:
        if data_index >= 0:
            self.select_data_point(data_index, cursor=(x, y))
            return
        loaded = self.state.loaded
        if loaded is None or loaded.projection is None:
            return
        z = loaded.projection.inverse(np.array([[x, y]], np.float32))[0]
        self.state.set_point(CurrentPoint(z.astype(np.float32), (x, y)))

    def select_data_point(self, index: int, cursor=None) -> None:
        loaded = self.state.loaded
        if cursor is None and loaded.embedding is not None:
            cursor = tuple(map(float, loaded.embedding[index]))
        self.state.set_point(CurrentPoint(loaded.latents[index].copy(), cursor, data_index=index, source="data"))

    def set_latent(self, z: np.ndarray, source: str = "sample") -> None:
        loaded = self.state.loaded
        cursor = None
        if loaded is not None and loaded.projection is not None:
            cursor = tuple(map(float, loaded.projection.transform(z[None].astype(np.float32))[0]))
        self.state.set_point(CurrentPoint(np.asarray(z, np.float32), cursor, source=source))

    # -- decoding -------------------------------------------------------------------------------------
    def channel(self, name: str) -> DecodeChannel:
        """A new line to the decode worker for one consumer (editor/workers/decode_channel.py): its own
        newest request waits, and only its own newest answers come back."""
        key = f"{name}#{next(self._channel_numbers)}"
        channel = DecodeChannel(key, self.decoder.submit, self._ids, self)
        self._channels[key] = channel
        return channel

    def _on_state_latent_changed(self, state: EditorState) -> None:
        z = state.latent_tensor()
        if z is not None:
            self._current.submit(DecodeRequest(z, state.condition_tensor()))

    def _on_current_decoded(self, result: DecodeResult, _context) -> None:
        self.decode_timing.emit(result.elapsed_ms)
        self.state.show_decoded(result)

    def _on_decoder_answered(self, key: str, request_id: int, answer) -> None:
        if key in self._channels:
            self._channels[key].deliver(request_id, answer)

    def _on_decoder_failed(self, key: str, request_id: int, message: str) -> None:
        if key in self._channels:
            self._channels[key].fail(request_id, message)

    # -- device ---------------------------------------------------------------------------------------
    def set_device(self, name: str) -> None:
        self._device = resolve_device(name)
        self.decoder.move_to(self.device)
        if self.state.loaded is not None:
            self.state.loaded.device = self.device
        self.device_changed.emit(str(self.device))
        self._on_state_latent_changed(self.state)

    # -- jobs -----------------------------------------------------------------------------------------
    def job_channel(self, name: str, follows_model: bool = True) -> JobChannel:
        """A new line for one consumer's background jobs (editor/workers/job_channel.py): a new job
        replaces the one running, and only the newest one's answer comes back; forgotten when another
        model opens unless `follows_model` is False (a conversion outlives the model open as it started)."""
        channel = JobChannel(name, self._new_job, follows_model, self)
        self._job_channels.append(channel)
        return channel

    def _new_job(self, name: str, fn) -> JobWorker:
        """A thread for `fn(progress, should_stop)`, not started (connect first: a quick job could end
        before); shutdown stops and waits for it."""
        job = JobWorker(name, fn, self)
        job.finished.connect(lambda j=job: self._forget(j))
        self._finished_jobs.append(job)
        return job

    def _forget(self, job: JobWorker) -> None:
        if job in self._finished_jobs:
            self._finished_jobs.remove(job)
        job.deleteLater()

    def shutdown(self) -> None:
        """Asks every thread to stop and waits, so Qt never destroys a running QThread. Every job
        checks its cancel flag within a batch (t-SNE and UMAP run in a process that is terminated)."""
        for job in list(self._finished_jobs):
            job.cancel()
        self.decoder.stop()
        self.decoder.wait()
        for job in list(self._finished_jobs):
            job.wait()
