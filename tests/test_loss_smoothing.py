"""The loss plots' moving average (editor/core/loss_buffer.moving_average) is exactly its recurrence, across
block edges, from a given previous value, for every smoothing weight including none (alpha 1) and full (0)."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.25, 0.02, 0.0])
@pytest.mark.parametrize("n", [1, 63, 64, 65, 1000])
def test_moving_average_is_the_recurrence(alpha, n):
    from latent_atlas.editor.core.loss_buffer import moving_average

    y = np.random.default_rng(n).normal(size=n) * 10 + 100
    expected, s = [], 3.0
    for v in y:                                         # the definition, point by point
        s = (1 - alpha) * s + alpha * v
        expected.append(s)
    np.testing.assert_allclose(moving_average(y, alpha, 3.0), expected, rtol=1e-12, atol=1e-9)
