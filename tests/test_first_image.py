"""A cold start shows its first image before the whole data set is encoded (issue 18: a cold first image
within 1.5x a bare `import torch`; measured by bench/bench_startup.py): the load job hands over a FirstImage
after its first batch, and it is the very view the loaded model then shows, so nothing jumps."""
from __future__ import annotations

import numpy as np
import torch

from latent_atlas.editor.core.image_convert import images_to_hwc_uint8
from latent_atlas.editor.core.loaded_model import FIRST_POOL, load_for_editor, typical_index
from latent_atlas.models.bundled_files import resource_path

FASHION = resource_path("models", "fashion_vae.safetensors")


def test_the_first_image_comes_after_one_batch_and_is_the_start_point():
    events = []
    loaded = load_for_editor(FASHION, device=torch.device("cpu"), map_limit=3 * FIRST_POOL,
                             progress=lambda f, s: events.append(("progress", f, s)),
                             preview=lambda first: events.append(("first", first)))
    firsts = [e[1] for e in events if e[0] == "first"]
    assert len(firsts) == 1
    first = firsts[0]
    encoding = [e[1] for e in events if e[0] == "progress" and e[2] == "encoding the dataset"]
    at = events.index(("first", first))
    second_batch = events.index(("progress", encoding[1], "encoding the dataset"))
    assert len(encoding) == 3 and at < second_batch              # after the first batch, before the others
    assert first.index == loaded.start_index == typical_index(loaded.latents[:FIRST_POOL])
    np.testing.assert_array_equal(first.original, loaded.images[first.index])
    with torch.inference_mode():
        again = images_to_hwc_uint8(loaded.model.decode(torch.from_numpy(loaded.latents[first.index][None])))[0]
    assert np.abs(first.image.astype(int) - again.astype(int)).max() <= 1          # the same picture
    assert first.caption.startswith(f"#{first.index} ") and first.path == FASHION


def test_typical_index_is_the_densest_point_of_a_cluster():
    rng = np.random.default_rng(0)
    loose = rng.normal(size=(200, 8)) * 5
    tight = rng.normal(size=(20, 8)) * 0.01 + 3
    i = typical_index(np.concatenate([loose, tight]).astype(np.float32))
    assert i >= 200
    assert typical_index(np.zeros((1, 4), np.float32)) == 0


def test_the_window_shows_it_at_once_and_keeps_it_when_the_map_arrives(qtbot, window):
    shown = []
    window.controller.first_image.connect(lambda first: shown.append(window.decoded_view.image is not None))
    cleared = []
    window.state.events.model_changed.connect(lambda _m: cleared.append(window.decoded_view.image is None))
    window.controller.open(FASHION)
    qtbot.waitUntil(lambda: window.state.loaded is not None and window.state.current is not None, timeout=60_000)
    assert shown == [True] and cleared == [False]        # on screen before the map, never blanked after
    first_index = window.state.loaded.start_index
    assert window.state.current.data_index == first_index
    np.testing.assert_array_equal(window.original_view.image, window.state.loaded.images[first_index])


def test_a_second_model_shows_no_early_image_over_the_first_ones_map(qtbot, window, digits_vae_path):
    from tests.editor_helpers import open_and_wait

    open_and_wait(qtbot, window, digits_vae_path)
    early = []
    window.controller.first_image.connect(early.append)
    window.controller.open(FASHION)
    qtbot.waitUntil(lambda: window.state.loaded is not None and window.state.loaded.path == FASHION, timeout=60_000)
    assert early == []
