"""The references' means (``vleval_metrics.reference_means``): numpy's pairwise summation reproduced bit for bit,
checked against numpy itself."""

from __future__ import annotations

import math
import random

import numpy as np

from vleval_metrics import reference_means

# ----------------------------------------------------------------------------------------------- numpy's mean


def test_numpy_mean_is_reproduced_bit_for_bit():
    rng = random.Random(3)
    for trial in range(400):
        n = rng.randint(1, 300) if trial % 20 else rng.randint(1000, 5000)
        values = [rng.choice([0.0, 1 / 3, 2 / 3, 1.0, rng.random(), rng.random() * 1e-9, rng.random() * 1e9])
                  for _ in range(n)]
        assert reference_means._numpy_mean(values) == float(np.mean(values))
    assert math.isnan(reference_means._numpy_mean([]))
