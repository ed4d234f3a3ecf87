"""One consumer's line to background jobs (editor/workers/job_worker.py): a new job replaces the one
before it, and only the newest job's progress, result, failure or cancel comes back.

The drop-stale rule for jobs lives here, once, as decode_channel.py holds it for decodes: `submit` cancels
the job still running and starts the new one on its own thread; whatever the older job says after that is
dropped. `forget` cancels and drops the running job (the controller calls it on every channel that follows
the model when another model opens); `cancel` asks the running job to stop and still reports its end, so a
progress dialog's Cancel hears back. A job is a callable `job(progress, should_stop) -> result`: a typed
request of editor/core (find_directions.FindJob, vector_score.ScoreJob, inversion.InvertJob) or a function.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from latent_atlas.editor.workers.job_worker import JobWorker


class JobChannel(QObject):
    result = Signal(object, object)     # the newest job's result, the context submitted with it
    failed = Signal(str, object)        # the newest job failed: its message, its context
    progressed = Signal(float, str)     # the newest job's progress: fraction, text
    cancelled = Signal(object)          # the newest job stopped after `cancel`: its context

    def __init__(self, name: str, new_job: Callable[[str, Callable], JobWorker], follows_model: bool = True,
                 parent=None):
        """`new_job(name, fn) -> JobWorker` not yet started: the controller's, which waits for it at
        shutdown. `follows_model`: forgotten when another model opens (a conversion is not)."""
        super().__init__(parent)
        self.name, self.follows_model = name, follows_model
        self._new_job = new_job
        self._job: JobWorker | None = None
        self._context = None

    @property
    def job(self) -> JobWorker | None:
        """The newest job while it runs: None once it has answered, failed, stopped or been forgotten."""
        return self._job

    @property
    def running(self) -> bool:
        return self._job is not None

    @property
    def context(self):
        """The context the running job was submitted with (None when none runs)."""
        return self._context

    def submit(self, job: Callable, context=None, name: str = "") -> JobWorker:
        """Starts `job` on its own thread in place of the one running (cancelled, its answers dropped);
        `context` comes back with its result or failure (what it was asked for). `name`: what an unexpected
        error's message calls the job (default: the channel's name)."""
        self.forget()
        worker = self._new_job(name or self.name, job)
        self._job, self._context = worker, context
        worker.progressed.connect(lambda fraction, text, w=worker: self._progressed(w, fraction, text))
        worker.succeeded.connect(lambda answer, w=worker: self._ended(w, self.result, answer))
        worker.failed.connect(lambda message, w=worker: self._ended(w, self.failed, message))
        worker.cancelled.connect(lambda w=worker: self._ended(w, self.cancelled))
        worker.start()
        return worker

    def cancel(self) -> None:
        """Asks the running job to stop; its end (`cancelled`, or a failure it raised first) still comes."""
        if self._job is not None:
            self._job.cancel()

    def forget(self) -> None:
        """Stops the running job and drops whatever it still says: what was asked is no longer wanted."""
        if self._job is not None:
            self._job.cancel()
        self._job, self._context = None, None

    # -- from the job's thread, queued onto the GUI thread ----------------------------------------------
    def _progressed(self, worker: JobWorker, fraction: float, text: str) -> None:
        if worker is self._job:
            self.progressed.emit(fraction, text)

    def _ended(self, worker: JobWorker, signal, *answer) -> None:
        if worker is not self._job:
            return          # replaced by a newer job, or forgotten: its answer is stale
        context = self._context
        self._job, self._context = None, None
        if signal is self.result and worker.is_cancelled():
            self.cancelled.emit(context)        # finished as Cancel was pressed: the user asked it to stop
            return
        signal.emit(*answer, context)
