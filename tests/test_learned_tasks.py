"""The fresh held-out tasks of the learned controller's evaluation (benchmarks/learned_tasks.py)."""

from __future__ import annotations

import numpy as np
import pytest
from _benchmarks import use_benchmarks

use_benchmarks("jax", "sklearn")

from benchmarks.convergence.tasks import batches  # noqa: E402
from benchmarks.learned_tasks import FRESH, WINDOW  # noqa: E402


@pytest.mark.parametrize("name", sorted(FRESH))
def test_fresh_task_data_and_losses(name):
    task = FRESH[name]
    d = task.data
    n = len(d["x"])
    # Standardised with the training statistics.
    np.testing.assert_allclose(d["x"].mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(d["x"].std(0), 1.0, atol=1e-3)
    # The suite's minibatch indices run over range(1200); each training row is visited floor/ceil(1200 / n) times.
    visits = np.bincount(d["rows"], minlength=n)
    assert len(d["rows"]) == WINDOW and visits.min() == WINDOW // n and visits.max() == -(-WINDOW // n)
    p = task.init(np.random.default_rng([1, 0]))
    idx = batches(np.random.default_rng([2, 0]), WINDOW, task.steps)[0]
    full, mini = float(task.full_loss(p, d)), float(task.loss(p, d, idx))
    assert np.isfinite(full) and full > 0 and np.isfinite(mini) and mini > 0
    if task.accuracy is not None:  # held-out accuracy of an untrained model: about chance
        classes = int(d["y"].max()) + 1
        assert 0.0 <= float(task.accuracy(p, d)) <= 1.0 and classes in (3, 4)
