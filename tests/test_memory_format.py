"""The decode worker's memory layout choice (models/memory_format.py): the faster layout is kept, the pixels are
the same in both, an interruption leaves the model as it was, and a model without convolutions is not touched."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_atlas.editor.core.messages import DecodeRequest
from latent_atlas.editor.workers.decode_worker import DecodeWorker
from latent_atlas.models import memory_format
from latent_atlas.models.memory_format import CHANNELS_LAST, CONTIGUOUS, probe_inputs, use_fastest_format


def conv_weights(model):
    return [p for p in model.parameters() if p.dim() == 4]


def decode(model, batch=5):
    z, c = probe_inputs(model, batch)
    with torch.inference_mode():
        return model.decode(z, c)


@pytest.mark.parametrize("kind", ["vae", "cvae", "gan"])
@pytest.mark.parametrize("faster", [CHANNELS_LAST, CONTIGUOUS])
def test_the_faster_layout_is_kept_and_decodes_the_same_pixels(tiny_model, monkeypatch, kind, faster):
    model = tiny_model(kind, image_shape=[3, 16, 16]).eval()
    expected = decode(model)
    times = {CHANNELS_LAST: 1.0, CONTIGUOUS: 2.0} if faster == CHANNELS_LAST else {CHANNELS_LAST: 2.0, CONTIGUOUS: 1.0}
    monkeypatch.setattr(memory_format, "time_formats", lambda *a, **k: dict(times))
    assert use_fastest_format(model) == faster
    weights = conv_weights(model)
    assert weights and all(w.is_contiguous(memory_format=torch.channels_last if faster == CHANNELS_LAST
                                           else torch.contiguous_format) for w in weights)
    assert torch.allclose(decode(model), expected, atol=1e-5)


def test_a_near_tie_keeps_the_default_layout(tiny_model, monkeypatch):
    model = tiny_model("vae").eval()
    monkeypatch.setattr(memory_format, "time_formats", lambda *a, **k: {CHANNELS_LAST: 0.95, CONTIGUOUS: 1.0})
    assert use_fastest_format(model) == CONTIGUOUS
    assert all(w.is_contiguous() for w in conv_weights(model))


def test_real_timings_choose_one_and_leave_the_model_in_it(tiny_model):
    model = tiny_model("vae", image_shape=[3, 32, 32]).eval()
    expected = decode(model)
    best = memory_format.time_formats(model, batch=4, repeats=2)
    assert set(best) == {CHANNELS_LAST, CONTIGUOUS} and all(0 < t < 5 for t in best.values())
    assert all(w.is_contiguous() for w in conv_weights(model))       # timing leaves the default layout
    chosen = use_fastest_format(model, batch=4)
    assert chosen in (CHANNELS_LAST, CONTIGUOUS)
    assert torch.allclose(decode(model), expected, atol=1e-5)


def test_an_interrupted_choice_returns_none_and_leaves_the_default_layout(tiny_model):
    model = tiny_model("vae", image_shape=[3, 16, 16]).eval()
    calls = []

    def stop_after_three():
        calls.append(1)
        return len(calls) > 3                  # stops after the first round switched layouts

    assert use_fastest_format(model, should_stop=stop_after_three) is None
    assert all(w.is_contiguous() for w in conv_weights(model))


def test_a_model_without_convolutions_is_left_alone(tiny_model, monkeypatch):
    model = tiny_model("vae", arch="mlp").eval()
    monkeypatch.setattr(memory_format, "time_formats", lambda *a, **k: pytest.fail("timed a model with no conv"))
    assert use_fastest_format(model) == CONTIGUOUS


def test_the_worker_chooses_once_idle_and_its_decodes_are_unchanged(qtbot, tiny_model, monkeypatch):
    monkeypatch.setattr(memory_format, "MARGIN", 100.0)    # channels_last whatever the timings say
    model, reference = (tiny_model("vae", image_shape=[3, 16, 16]).eval() for _ in range(2))
    worker = DecodeWorker()
    worker.start()
    try:
        worker.set_model(model)
        qtbot.waitUntil(lambda: worker.layout is not None, timeout=10_000)
        assert worker.layout == CHANNELS_LAST
        assert all(w.is_contiguous(memory_format=torch.channels_last) for w in conv_weights(model))
        answers = []
        worker.answered.connect(lambda key, rid, answer: answers.append(answer))
        z = torch.randn(3, model.latent_dim, generator=torch.Generator().manual_seed(1))
        worker.submit("strip", DecodeRequest(z, id=1))
        qtbot.waitUntil(lambda: len(answers) == 1, timeout=10_000)
        images = answers[0].images
        assert images.shape == (3, 16, 16, 3) and images.flags["C_CONTIGUOUS"]
        with torch.inference_mode():
            expected = (reference.decode(z).permute(0, 2, 3, 1) * 255).numpy()
        assert np.abs(images.astype(float) - expected).max() <= 1
    finally:
        worker.stop()
        worker.wait()


def test_the_worker_waits_for_a_pause_before_timing_the_layouts(qtbot, tiny_model):
    """Not between the clicks of a person at work: requests 0.1 s apart keep it from starting (it needs 0.5 s
    without any); once they stop, it chooses."""
    model = tiny_model("vae", image_shape=[3, 16, 16]).eval()
    worker = DecodeWorker()
    worker.start()
    try:
        worker.set_model(model)
        for i in range(12):
            worker.submit("click", DecodeRequest(torch.zeros(model.latent_dim), id=i))
            qtbot.wait(100)
            assert worker.layout is None
        qtbot.waitUntil(lambda: worker.layout is not None, timeout=10_000)
    finally:
        worker.stop()
        worker.wait()
