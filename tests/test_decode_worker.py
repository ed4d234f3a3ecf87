"""The decode worker takes typed requests (editor/core/messages.py) and dispatches on their type: no code
written by a panel runs on its thread (issue 15)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latent_atlas.editor.core import messages
from latent_atlas.editor.core.density import Density, OffDataCheck
from latent_atlas.editor.core.messages import (
    DecodeRequest,
    DecodeResult,
    DensityRequest,
    EncodeRequest,
    ModelCopyRequest,
    OffDataRequest,
)
from latent_atlas.editor.workers.decode_worker import DecodeWorker
from latent_atlas.models.checkpoints.checkpoint import load_checkpoint


@pytest.fixture
def worker():
    w = DecodeWorker()
    w.start()
    yield w
    w.stop()
    w.wait()


def test_a_closure_is_refused(worker):
    with pytest.raises(TypeError, match="takes no function"):
        worker.submit("x", lambda model: model)
    request_types = {v for k, v in vars(messages).items() if k.endswith("Request") and isinstance(v, type)}
    assert request_types == set(worker._handlers)          # every request type has its handler, no other


def test_every_request_type_is_answered_on_the_worker(qtbot, worker, digits_vae_path):
    ckpt = load_checkpoint(digits_vae_path)
    model = ckpt.model.eval()
    reference = load_checkpoint(digits_vae_path).model.eval()     # the GUI side never sees `model` again
    worker.set_model(model)
    data = np.random.default_rng(0).standard_normal((300, model.latent_dim)).astype(np.float32)
    z = data[0]
    image = (np.random.default_rng(1).random(model.image_shape) * 255).astype(np.uint8)
    requests = {"decode": DecodeRequest(torch.from_numpy(np.stack([z, -z])), id=1),
                "density": DensityRequest(z, off=OffDataCheck(data), id=2),
                "encode": EncodeRequest(image, id=3),
                "off": OffDataRequest(np.stack([z, 100 * z]), OffDataCheck(data), id=4),
                "copy": ModelCopyRequest(id=5)}
    answers = {}
    worker.answered.connect(lambda key, request_id, answer: answers.__setitem__(key, (request_id, answer)))
    for key, request in requests.items():
        worker.submit(key, request)
    qtbot.waitUntil(lambda: len(answers) == len(requests), timeout=10_000)
    assert {key: rid for key, (rid, _) in answers.items()} == {k: r.id for k, r in requests.items()}
    decoded = answers["decode"][1]
    assert isinstance(decoded, DecodeResult) and decoded.images.shape == (2, 8, 8, 1)
    with torch.inference_mode():
        expected = reference.decode(torch.from_numpy(z[None]))[0, 0].numpy() * 255
    assert np.abs(decoded.images[0, ..., 0].astype(float) - expected).max() <= 1
    assert isinstance(answers["density"][1], Density) and answers["density"][1].kind == "vae"
    with torch.inference_mode():
        mu, _ = reference.encode(torch.from_numpy(image[None]).float() / 255)
    assert np.allclose(answers["encode"][1], mu[0].numpy(), atol=1e-5)
    assert answers["off"][1].tolist() == [False, True]
    copy = answers["copy"][1]
    assert copy is not model and not any(p.requires_grad for p in copy.parameters())


def test_a_decode_taken_in_one_batch_with_a_long_request_goes_first(qtbot, worker, monkeypatch, digits_vae_path):
    """The worker takes every waiting request at once; a decode behind the density line in that batch waited
    for the whole estimate (11 s on the bundled VAE before the first strip after a drag showed)."""
    import threading
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Hold:
        release: threading.Event
        id: int = 0

    @dataclass(frozen=True)
    class Long:
        id: int = 0

    order = []
    release = threading.Event()
    monkeypatch.setitem(worker._handlers, Hold, lambda key, r: r.release.wait(10))
    monkeypatch.setitem(worker._handlers, Long, lambda key, r: order.append("long"))
    decode = worker._handlers[DecodeRequest]
    monkeypatch.setitem(worker._handlers, DecodeRequest, lambda key, r: (order.append(key), decode(key, r))[1])
    model = load_checkpoint(digits_vae_path).model.eval()
    worker.set_model(model)
    worker.submit("hold", Hold(release))
    qtbot.wait(100)                                        # the worker is in the hold now
    worker.submit("density", Long())                       # both wait: one batch, the long one first
    worker.submit("strip", DecodeRequest(torch.zeros(3, model.latent_dim), None, 1))
    release.set()
    qtbot.waitUntil(lambda: len(order) == 2, timeout=5000)
    assert order == ["strip", "long"]


def test_an_off_data_check_waits_while_a_decode_waits_and_a_newer_one_replaces_it(qtbot, worker, monkeypatch,
                                                                                 digits_vae_path):
    """A drag sends a decode at each move and an off-data check for each strip it shows: a check taken while the
    next decode waits goes back behind it (and is dropped when its channel has sent a newer one), so the checks
    of strips already replaced no longer take the worker's time."""
    import threading
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Hold:
        release: threading.Event
        id: int = 0

    order = []
    release, decoding = threading.Event(), threading.Event()
    monkeypatch.setitem(worker._handlers, Hold, lambda key, r: r.release.wait(10))
    decode, off = worker._handlers[DecodeRequest], worker._handlers[OffDataRequest]

    def slow_decode(key, r):            # while the first strip decodes, the next move's strip comes in
        order.append(f"decode {r.id}")
        if r.id == 1:
            decoding.set()
            release.wait(10)
        return decode(key, r)
    monkeypatch.setitem(worker._handlers, DecodeRequest, slow_decode)
    monkeypatch.setitem(worker._handlers, OffDataRequest, lambda key, r: (order.append(f"off {r.id}"), off(key, r))[1])
    model = load_checkpoint(digits_vae_path).model.eval()
    data = np.random.default_rng(0).standard_normal((50, model.latent_dim)).astype(np.float32)
    check = OffDataCheck(data)
    worker.set_model(model)
    z = torch.zeros(3, model.latent_dim)
    worker.submit("strip", DecodeRequest(z, None, 1))
    worker.submit("off", OffDataRequest(data[:3], check, id=10))     # the same batch: behind the decode
    assert decoding.wait(5)
    worker.submit("strip", DecodeRequest(z, None, 2))               # waits while strip 1 decodes
    release.set()
    qtbot.waitUntil(lambda: "decode 2" in order and any(o.startswith("off") for o in order), timeout=5000)
    assert order == ["decode 1", "decode 2", "off 10"]              # the check gave way to the waiting decode
    order.clear()
    worker.submit("hold", Hold(release := threading.Event()))
    qtbot.wait(100)
    worker.submit("off", OffDataRequest(data[:3], check, id=11))
    worker.submit("strip", DecodeRequest(z, None, 3))
    release.set()
    qtbot.waitUntil(lambda: len(order) == 2, timeout=5000)
    assert order == ["decode 3", "off 11"]
