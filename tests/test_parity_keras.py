"""Parity with Keras 3 learning-rate schedules.

Keras is evaluated in one subprocess with ``KERAS_BACKEND=numpy``, so nothing
global changes in this process (no backend choice, no TensorFlow import).
Keras computes in float32: values agree to 1e-6 relative.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from conftest import assert_close

import lrsched as L

if importlib.util.find_spec("keras") is None:  # not imported here: that would pick a backend and load TensorFlow
    pytest.skip("keras is not installed", allow_module_level=True)

STEPS = [*range(0, 130), 149.5, 150.0, 150.5, 300.0, 1000.0]

# name -> (Keras class, kwargs, our schedule)
CASES: dict[str, tuple[str, dict[str, Any], L.Schedule]] = {
    "exponential": (
        "ExponentialDecay",
        {"initial_learning_rate": 0.5, "decay_steps": 7, "decay_rate": 0.8},
        L.exponential_decay(0.5, 0.8, 7),
    ),
    "exponential_staircase": (
        "ExponentialDecay",
        {"initial_learning_rate": 0.5, "decay_steps": 7, "decay_rate": 0.8, "staircase": True},
        L.exponential_decay(0.5, 0.8, 7, staircase=True),
    ),
    "polynomial": (
        "PolynomialDecay",
        {"initial_learning_rate": 1.0, "decay_steps": 100, "end_learning_rate": 0.01, "power": 2.0},
        L.polynomial(1.0, 0.01, 100, power=2.0),
    ),
    "polynomial_linear": (
        "PolynomialDecay",
        {"initial_learning_rate": 1.0, "decay_steps": 100, "end_learning_rate": 0.1},
        L.polynomial(1.0, 0.1, 100),
    ),
    "inverse_time": (
        "InverseTimeDecay",
        {"initial_learning_rate": 0.3, "decay_steps": 10, "decay_rate": 0.5},
        L.inverse_time_decay(0.3, 0.5, 10),
    ),
    "inverse_time_staircase": (
        "InverseTimeDecay",
        {"initial_learning_rate": 0.3, "decay_steps": 10, "decay_rate": 0.5, "staircase": True},
        L.inverse_time_decay(0.3, 0.5, 10, staircase=True),
    ),
    "cosine": (
        "CosineDecay",
        {"initial_learning_rate": 1.0, "decay_steps": 100, "alpha": 0.1},
        L.cosine_decay(1.0, 100, end_value=0.1),
    ),
    "cosine_warmup": (
        # Keras: linear warmup to warmup_target, then a cosine of decay_steps *after* the warmup.
        "CosineDecay",
        {"initial_learning_rate": 0.0, "decay_steps": 100, "alpha": 0.1, "warmup_target": 2.0, "warmup_steps": 20},
        L.warmup(L.cosine_decay(2.0, 100, end_value=0.2), 20),
    ),
    "cosine_restarts": (
        "CosineDecayRestarts",
        {"initial_learning_rate": 1.0, "first_decay_steps": 10, "t_mul": 2.0, "m_mul": 0.7, "alpha": 0.1},
        L.cosine_restarts(1.0, 10, 2.0, decay=0.7, end_value=0.1, decay_mode="amplitude"),
    ),
    "cosine_restarts_equal": (
        "CosineDecayRestarts",
        {"initial_learning_rate": 1.0, "first_decay_steps": 13, "t_mul": 1.0, "m_mul": 0.9, "alpha": 0.0},
        L.cosine_restarts(1.0, 13, decay=0.9, decay_mode="amplitude"),
    ),
    "piecewise": (
        "PiecewiseConstantDecay",
        {"boundaries": [10, 50, 51], "values": [1.0, 0.5, 0.25, 0.125]},
        L.piecewise_constant((10, 50, 51), (1.0, 0.5, 0.25, 0.125)),
    ),
}

_SCRIPT = """
import json, sys
import keras
from keras.optimizers import schedules
cases, steps = json.load(sys.stdin)
out = {}
for name, (cls, kwargs) in cases.items():
    sched = getattr(schedules, cls)(**kwargs)
    out[name] = [float(sched(float(s))) for s in steps]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def keras_values() -> dict[str, list[float]]:
    env = dict(os.environ, KERAS_BACKEND="numpy", TF_CPP_MIN_LOG_LEVEL="3")
    payload = json.dumps([{k: [v[0], v[1]] for k, v in CASES.items()}, STEPS])
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], input=payload, capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", [k for k in CASES if k != "piecewise"])
def test_keras_schedules(keras_values: dict[str, list[float]], name: str) -> None:
    mine = CASES[name][2]
    expected = np.asarray(keras_values[name])
    assert_close(mine(np.asarray(STEPS, dtype=np.float64)), expected, float32=True)
    assert_close(np.array([mine(s) for s in STEPS]), expected, float32=True)


def test_piecewise_constant_decay_switches_one_step_later(keras_values: dict[str, list[float]]) -> None:
    """Keras gives ``values[i]`` up to and including ``boundaries[i]``; we switch *at* the boundary."""
    theirs = dict(zip(STEPS, keras_values["piecewise"], strict=True))
    mine = CASES["piecewise"][2]
    assert (theirs[10], mine(10)) == (1.0, 0.5)
    assert (theirs[50], mine(50)) == (0.5, 0.25)
    assert (theirs[51], mine(51)) == (0.25, 0.125)
    # Off the boundaries the two agree; on integer steps Keras equals ours with every boundary + 1.
    off = [s for s in STEPS if s not in (10, 50, 51)]
    assert [theirs[s] for s in off] == [mine(s) for s in off]
    shifted = L.piecewise_constant((11, 51, 52), (1.0, 0.5, 0.25, 0.125))
    integers = [s for s in STEPS if float(s).is_integer()]
    assert [theirs[s] for s in integers] == [shifted(s) for s in integers]
