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
    "greedy_checkpoint_continue",  # model saved, callback restored from the state in the .keras file: same LR trace
    "greedy_checkpoint_saved_during_fit_keeps_optimizer_state",  # ModelCheckpoint mid-fit: iterations, g, state
    "greedy_save_load_without_callback",  # a steered model loaded and trained without the callback: base(t) * g
    "greedy_verbose_prints_on_change",  # verbose=1 prints one line per LR change, none otherwise
    "peak_tournament_keeps_the_winner",  # as the generic tournament by hand; the winner's state and LR kept
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


# -- Keras' ReduceLROnPlateau counts patience and cooldown one epoch shorter ----------------------------------------
KERAS_PLATEAU = """
import json, sys, keras
out = []
for case in json.loads(sys.stdin.read()):
    callback = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", **case["keras"])
    model = type("Model", (), {})()
    model.optimizer = keras.optimizers.SGD(learning_rate=case["init_lr"])
    callback.set_model(model)
    callback.on_train_begin()
    lrs = []
    for epoch, value in enumerate(case["values"]):
        callback.on_epoch_end(epoch, {"val_loss": value})
        lrs.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    out.append(lrs)
print(json.dumps(out))
"""


def _keras_numpy(code: str, stdin: str) -> str:
    env = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_settings_that_reproduce_keras_reduce_lr_on_plateau():
    import numpy as np

    import lrsched as L

    rng = np.random.default_rng(0)
    cases = []
    for patience in range(4):
        for cooldown in range(3):
            walk = np.cumsum(rng.choice([-1.0, 0.0, 0.0, 0.5], size=60)) / 8 + 10  # improvements and plateaus
            keras_kw = {"patience": patience, "cooldown": cooldown, "factor": 0.5, "min_delta": 0.01, "min_lr": 1e-4}
            cases.append({"keras": keras_kw, "init_lr": 0.1, "values": [float(v) for v in walk]})
    keras_lrs = json.loads(_keras_numpy(KERAS_PLATEAU, json.dumps(cases)))
    differs = 0
    for case, expected in zip(cases, keras_lrs):
        kw = case["keras"]
        common = {"factor": 0.5, "threshold": 0.01, "threshold_mode": "abs", "min_lr": 1e-4}
        mapped = L.greedy(
            L.reduce_on_plateau(
                init_lr=0.1, patience=max(kw["patience"], 1) - 1, cooldown=max(kw["cooldown"], 1) - 1, **common
            )
        )
        np.testing.assert_allclose([mapped(v) for v in case["values"]], expected, rtol=1e-6)
        assert len(set(expected)) > 3  # the LR really was reduced several times
        same = L.greedy(L.reduce_on_plateau(init_lr=0.1, patience=kw["patience"], cooldown=kw["cooldown"], **common))
        differs += not np.allclose([same(v) for v in case["values"]], expected, rtol=1e-6)
    assert differs == len(cases) - 1  # only patience=0, cooldown=0 agree without the mapping


# -- load_model without importing lrsched.adapters.keras ---------------------------------------------------------------
SAVE = """
import sys, keras, lrsched
from lrsched.adapters.keras import KerasSchedule
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(KerasSchedule(lrsched.linear(0.1, 0.0, 10))), loss="mse")
model.save(sys.stdin.read())
print("saved")
"""
LOAD = """
import json, sys, keras
path = sys.stdin.read()
assert "lrsched.adapters.keras" not in sys.modules
try:
    keras.models.load_model(path)
    error = None
except TypeError as exc:
    error = str(exc)
import lrsched.adapters.keras  # the documented fix
print(json.dumps([error, repr(keras.models.load_model(path).optimizer._learning_rate)]))
"""


@pytest.mark.slow
def test_load_model_needs_the_adapter_imported_and_then_works(tmp_path):
    path = str(tmp_path / "model.keras")
    assert _keras_numpy(SAVE, path) == "saved"
    error, restored = json.loads(_keras_numpy(LOAD, path))
    assert "could not be deserialized" in error and "'module': 'lrsched.adapters.keras'" in error
    assert restored == "KerasSchedule(linear(init_value=0.1, end_value=0.0, transition_steps=10))"
