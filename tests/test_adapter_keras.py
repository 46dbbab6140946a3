"""Keras 3 adapter under each backend (TensorFlow, JAX, torch), each in its own process.

The checks live in ``tests/keras_backend_check.py`` (a backend is chosen once per
process, so each backend needs a fresh interpreter); this test runs it with
``KERAS_BACKEND`` set and requires every check to pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")

CHECKS = {
    "schedule_ops",  # every catalogue schedule, compiled and eager, equals lrsched's values
    "learns",  # model.fit on digits with a KerasSchedule reaches > 85% held-out accuracy
    "lr_used_equals_schedule",  # the LR SGD applied at every iteration is schedule(k)
    "save_load_continue",  # .keras save -> load_model (no custom_objects) -> continue: same LR trace
    "greedy_epoch_sets_the_lr",  # per epoch on val_loss: the LRs equal the GreedyLR closure on the logged values
    "greedy_on_a_schedule_per_batch",  # steering a KerasSchedule: base(t) * g_t as lrsched.greedy_on
    "keras_reduce_lr_on_plateau_raises_on_a_schedule",  # what Keras' own callback does there
    "greedy_checkpoint_continue",  # model + callback state saved and restored: same LR trace
}
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_keras_adapter_under_backend(backend, tmp_path):
    pytest.importorskip(BACKENDS[backend])
    script = Path(__file__).with_name("keras_backend_check.py")
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["backend"] == backend
    results = report["results"]
    assert set(results) == CHECKS
    failed = {name: detail for name, (ok, detail, *_) in results.items() if not ok}
    assert not failed, failed


def test_missing_keras_names_the_extra():
    code = "import sys; sys.modules['keras'] = None\nimport lrsched.adapters.keras"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert 'pip install "lrsched[keras]"' in out.stderr
