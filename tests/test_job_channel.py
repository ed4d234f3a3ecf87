"""Background jobs go through one channel per consumer (editor/workers/job_channel.py): a new job replaces
the one running (cancelled, its answers dropped), only the newest job's result, failure or cancel comes back,
on the GUI thread, and nothing started on one model is answered after another opens (issue 15: the rule
lives there once, not in a counter in every panel)."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from latent_atlas.editor.controller import Controller
from latent_atlas.editor.core.state import EditorState
from latent_atlas.models.errors import ConfigError

HELD: list[Held] = []


class Held:
    """A job that waits for `release` (it ignores its cancel, noting it) and then answers `answer`, or
    raises it."""

    def __init__(self, answer):
        HELD.append(self)
        self.answer = answer
        self.release = threading.Event()
        self.started = threading.Event()
        self.saw_stop = False
        self.done = False

    def __call__(self, progress, should_stop):
        self.started.set()
        while not self.release.wait(0.005):
            if should_stop() and not self.saw_stop:
                self.saw_stop = True
        self.saw_stop = self.saw_stop or should_stop()
        self.done = True
        progress(1.0, f"done {self.answer}")
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def ended(qtbot, job: Held) -> None:
    """Waits until `job` has returned and what it emitted has had time to arrive (a stale answer arriving
    later still shows in the asserts made after the newer job's answer, which it precedes)."""
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    qtbot.wait(100)


@pytest.fixture
def controller(qtbot):
    c = Controller(EditorState())
    yield c
    for job in HELD:              # a failed test must not leave shutdown waiting on a held job
        job.release.set()
    HELD.clear()
    c.shutdown()


def _record(channel):
    got = {"result": [], "failed": [], "cancelled": [], "progressed": [], "threads": set()}

    def note(kind):
        def slot(*args):
            got["threads"].add(threading.get_ident())
            got[kind].append(args)
        return slot

    for kind in ("result", "failed", "cancelled", "progressed"):
        getattr(channel, kind).connect(note(kind))
    return got


def test_only_the_newest_job_answers_and_the_older_one_is_cancelled(qtbot, controller):
    channel = controller.job_channel("find")
    got = _record(channel)
    old, new = Held("old"), Held("new")
    older = channel.submit(old, "asked first")
    assert old.started.wait(30)
    newer = channel.submit(new, "asked second")
    assert older.is_cancelled() and not newer.is_cancelled()
    # the first job of a process imports for a second or more (JobWorker.run): generous timeouts
    old.release.set()
    ended(qtbot, old)                                        # the older one ends anyway (it ignored stop)
    assert got["result"] == [] and channel.running and channel.job is newer
    with qtbot.waitSignal(channel.result, timeout=30_000):
        new.release.set()
    assert old.saw_stop                                      # should_stop told it to give up
    assert got["result"] == [("new", "asked second")] and got["failed"] == got["cancelled"] == []
    assert got["progressed"] == [(1.0, "done new")]          # the old job's progress never showed
    assert got["threads"] == {threading.get_ident()}         # delivered on the GUI thread
    assert not channel.running and channel.job is None


def test_negative_control_without_the_identity_check_the_older_answer_shows(qtbot, controller, monkeypatch):
    """The scenario above does deliver a stale answer to a channel that forgets to drop it: it can fail."""
    from latent_atlas.editor.workers.job_channel import JobChannel

    def careless(self, worker, signal, *answer):
        signal.emit(*answer, self._context)

    monkeypatch.setattr(JobChannel, "_ended", careless)
    channel = controller.job_channel("find")
    got = _record(channel)
    old, new = Held("old"), Held("new")
    channel.submit(old, "asked first")
    channel.submit(new, "asked second")
    old.release.set()
    qtbot.waitUntil(lambda: got["cancelled"] == [("asked second",)], timeout=30_000)   # the old one's end
    new.release.set()


def test_a_failure_reaches_the_consumer_only_from_the_newest_job(qtbot, controller):
    channel = controller.job_channel("score")
    got = _record(channel)
    old = Held(ConfigError("the old one failed"))
    channel.submit(old, 1)
    new = Held("fine")
    channel.submit(new, 2)
    old.release.set()
    ended(qtbot, old)
    with qtbot.waitSignal(channel.result, timeout=30_000):
        new.release.set()
    assert got["failed"] == [] and got["result"] == [("fine", 2)]
    last = Held(ConfigError("no labels"))
    channel.submit(last, 3)
    with qtbot.waitSignal(channel.failed, timeout=30_000):
        last.release.set()
    assert got["failed"] == [("no labels", 3)] and not channel.running


def test_an_unexpected_error_names_the_job(qtbot, controller):
    channel = controller.job_channel("find directions")
    got = _record(channel)
    job = Held(ValueError("bad shape"))
    with qtbot.waitSignal(channel.failed, timeout=30_000):
        channel.submit(job, None, name="inverting face.png")
        job.release.set()
    assert got["failed"] == [("inverting face.png failed: ValueError: bad shape", None)]


def test_cancel_stops_the_job_and_says_so_once(qtbot, controller):
    channel = controller.job_channel("inverting")
    got = _record(channel)
    job = Held("too late")
    worker = channel.submit(job, "face.png")
    assert job.started.wait(30)
    with qtbot.waitSignal(channel.cancelled, timeout=30_000):
        channel.cancel()
        job.release.set()
    assert worker.is_cancelled() and got["cancelled"] == [("face.png",)] and got["result"] == []
    assert not channel.running


def test_another_model_forgets_the_jobs_of_the_one_before(qtbot, controller, digits_vae_path):
    """A fit started on one model never answers on the next: the controller forgets every channel that
    follows the model when a model opens; a conversion's channel (follows_model=False) still answers."""
    with qtbot.waitSignal(controller.model_loaded, timeout=60_000):
        controller.open(digits_vae_path)
    fits, conversions = controller.job_channel("find"), controller.job_channel("convert", follows_model=False)
    got, converted = _record(fits), _record(conversions)
    fit, conversion = Held("directions of the first model"), Held("converted.safetensors")
    worker = fits.submit(fit, "first")
    conversions.submit(conversion, "file")
    assert fit.started.wait(30)
    with qtbot.waitSignal(controller.model_loaded, timeout=60_000):
        controller.open(digits_vae_path)                     # opened again: another LoadedModel
    assert worker.is_cancelled() and not fits.running and conversions.running
    with qtbot.waitSignal(conversions.result, timeout=30_000):
        fit.release.set()
        conversion.release.set()
    ended(qtbot, fit)
    assert got["result"] == got["failed"] == got["cancelled"] == []
    assert converted["result"] == [("converted.safetensors", "file")]


def test_shutdown_waits_for_a_job_the_channel_started(qtbot):
    controller = Controller(EditorState())
    job = Held("never read")
    worker = controller.job_channel("fit").submit(job, None)
    assert job.started.wait(30)
    threading.Timer(0.05, job.release.set).start()
    controller.shutdown()                                     # no "QThread: Destroyed while still running"
    assert job.done and worker.isFinished() and worker.is_cancelled()


# -- the rule stays in one place --------------------------------------------------------------------------
EDITOR = Path(__file__).resolve().parents[1] / "editor"
OWN_RULE = re.compile(r"\bJobWorker\("                                  # a thread started past the channels
                      r"|\bself\._(?:request|job_id|generation)\w*\s*\+=\s*1"   # a stale-answer counter
                      r"|\.start_job\(")                               # the callback API the channels replaced


def own_rule_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if OWN_RULE.search(line)]


def test_no_part_of_the_editor_keeps_its_own_job_rule():
    allowed = {"controller.py", "job_worker.py"}              # the one place that makes JobWorkers
    files = [p for p in EDITOR.rglob("*.py") if p.name not in allowed]
    assert len(files) > 50
    found = {str(p.relative_to(EDITOR)): own_rule_lines(p.read_text()) for p in files}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("line", [                            # what the panels did before
    "        self._request += 1",
    "        self._controller.start_job(",
    "        job = JobWorker(name, fn, self)",
])
def test_negative_control_a_panel_counter_is_flagged(line):
    assert own_rule_lines(line) == [line.strip()]
