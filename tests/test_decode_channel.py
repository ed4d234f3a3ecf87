"""One channel per consumer (editor/workers/decode_channel.py): each gets only its own answers, never an
older one after a newer, and nothing it forgot (issue 15: the rule lives here once, not in every panel)."""
from __future__ import annotations

import itertools

import torch

from latent_atlas.editor.controller import Controller
from latent_atlas.editor.core.messages import DecodeRequest
from latent_atlas.editor.core.state import EditorState
from latent_atlas.editor.workers.decode_channel import DecodeChannel


class _Sent:
    def __init__(self):
        self.requests = []

    def __call__(self, key, request):
        self.requests.append((key, request))


def _channel():
    sent, got = _Sent(), []
    channel = DecodeChannel("strip#1", sent, itertools.count(1))
    channel.result.connect(lambda answer, context: got.append((answer, context)))
    return channel, sent, got


def test_an_older_answer_after_a_newer_one_is_dropped():
    channel, sent, got = _channel()
    first = channel.submit(DecodeRequest(torch.zeros(2)), "a")
    second = channel.submit(DecodeRequest(torch.ones(2)), "b")
    assert [r.id for _, r in sent.requests] == [first, second] and first < second
    channel.deliver(second, "B")
    channel.deliver(first, "A")              # it was under way when the newer one was asked
    assert got == [("B", "b")]
    assert not channel.waiting


def test_an_answer_under_way_still_shows_while_a_newer_one_waits():
    """A long drag keeps updating: the answer to request 1 shows although request 2 is asked already."""
    channel, _, got = _channel()
    first = channel.submit(DecodeRequest(torch.zeros(2)), "a")
    second = channel.submit(DecodeRequest(torch.ones(2)), "b")
    channel.deliver(first, "A")
    channel.deliver(second, "B")
    assert got == [("A", "a"), ("B", "b")]


def test_forget_drops_what_is_on_its_way():
    channel, _, got = _channel()
    first = channel.submit(DecodeRequest(torch.zeros(2)), "a")
    channel.forget()
    channel.deliver(first, "A")
    assert got == []
    third = channel.submit(DecodeRequest(torch.zeros(2)), "c")
    channel.deliver(third, "C")
    assert got == [("C", "c")]


def test_each_consumer_gets_only_its_own_answers(qtbot):
    """Two channels of one controller on the real worker: each answer reaches its sender only."""
    controller = Controller(EditorState())
    try:
        controller.decoder.set_model(_Echo())
        a, b = controller.channel("samples"), controller.channel("samples")
        got_a, got_b = [], []
        a.result.connect(lambda result, context: got_a.append((result.images[0, 0, 0, 0], context)))
        b.result.connect(lambda result, context: got_b.append((result.images[0, 0, 0, 0], context)))
        with qtbot.waitSignals([a.result, b.result], timeout=10_000):
            a.submit(DecodeRequest(torch.zeros(2)), "from a")
            b.submit(DecodeRequest(torch.ones(2)), "from b")
        assert got_a == [(0, "from a")] and got_b == [(255, "from b")]
    finally:
        controller.shutdown()


class _Echo(torch.nn.Module):
    """Decodes z to a 1x1 image of z's first entry (in [0, 1])."""
    device = torch.device("cpu")

    def decode(self, z, c=None):
        return z[:, :1].reshape(-1, 1, 1, 1)


def test_a_failure_reaches_only_its_channel_and_only_when_newest():
    channel, _, got = _channel()
    failures = []
    channel.failed.connect(failures.append)
    first = channel.submit(DecodeRequest(torch.zeros(2)), "a")
    second = channel.submit(DecodeRequest(torch.ones(2)), "b")
    channel.deliver(second, "B")
    channel.fail(first, "too late")          # older than what is shown: dropped like a stale answer
    third = channel.submit(DecodeRequest(torch.ones(2)), "c")
    channel.fail(third, "ValueError: no")
    assert got == [("B", "b")] and failures == ["ValueError: no"] and not channel.waiting


def test_a_failing_density_says_so_and_the_image_still_decodes(qtbot, window, digits_vae_path, monkeypatch):
    """The worker survives a request that raises; the density line names the error, the image still shows."""
    from latent_atlas.editor.core import density
    from tests.editor_helpers import open_and_wait

    def broken(*args, **kwargs):
        raise ValueError("no density here")

    monkeypatch.setattr(density, "density_of", broken)
    loaded = open_and_wait(qtbot, window, digits_vae_path)
    label = window.density_label
    qtbot.waitUntil(lambda: label.numbers.text().startswith("density unavailable"), timeout=10_000)
    assert "ValueError: no density here" in label.numbers.text() and not label.warning.isVisible()
    shown = window.decoded_view.image
    window.controller.select_data_point(7)
    qtbot.waitUntil(lambda: window.decoded_view.image is not shown, timeout=10_000)
    assert window.state.current.data_index == 7 and loaded is window.state.loaded
