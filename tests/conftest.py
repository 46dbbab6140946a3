"""Shared fixtures for the core tests: a catalogue of schedules and a backend runner.

``CATALOGUE`` holds, for every registered schedule class, two instances of the
same structure with different numbers (so joins stack them) and, for the
combinators, nested ones. ``evaluate(sched, steps, backend)`` runs a schedule
on one backend, checks the type and dtype of what comes back, and returns a
float64 NumPy array for comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings

import lrsched as L

settings.register_profile(
    "lrsched",
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("lrsched")


def _pairs() -> dict[str, tuple[L.Schedule, L.Schedule]]:
    cos_a, cos_b = L.cosine_decay(1.0, 10), L.cosine_decay(2.0, 14, end_value=0.2)
    lin_a, lin_b = L.linear(1.0, 0.0, 10), L.linear(0.5, 0.1, 6)
    return {
        "constant": (L.constant(0.5), L.constant(2.0)),
        "linear": (lin_a, lin_b),
        "polynomial": (L.polynomial(1.0, 0.1, 10, power=2.0), L.polynomial(2.0, 0.0, 7, power=0.5)),
        "step_decay": (L.step_decay(1.0, 3, 0.5), L.step_decay(2.0, 2.5, 0.9)),
        "multistep_decay": (L.multistep_decay(1.0, (3, 7), 0.1), L.multistep_decay(2.0, (3, 7), 0.5)),
        "piecewise_constant": (
            L.piecewise_constant((3, 7), (1.0, 0.5, 0.1)),
            L.piecewise_constant((3, 7), (2.0, 0.2, 0.0)),
        ),
        "piecewise_linear": (
            L.piecewise_linear(((0, 0.0), (3, 1.0), (10, 0.0))),
            L.piecewise_linear(((1, 0.5), (4, 2.0), (12, 0.25))),
        ),
        "exponential_decay": (
            L.exponential_decay(1.0, 0.5, 3, staircase=True, end_value=0.1),
            L.exponential_decay(2.0, 0.8, 2, staircase=True, end_value=0.5),
        ),
        "natural_exp_decay": (L.natural_exp_decay(1.0, 0.3, 0.1), L.natural_exp_decay(2.0, 0.1)),
        "inverse_time_decay": (L.inverse_time_decay(1.0, 0.5, 2), L.inverse_time_decay(2.0, 1.5, 3)),
        "inverse_sqrt": (L.inverse_sqrt(1.0, 4, init_value=0.1), L.inverse_sqrt(2.0, 6)),
        "cosine_decay": (L.cosine_decay(1.0, 10, 0.1, exponent=2.0), L.cosine_decay(2.0, 7, 0.0, exponent=2.0)),
        "cosine_restarts": (
            L.cosine_restarts(1.0, 3, 1.5, decay=0.8, end_value=0.1, decay_mode="amplitude"),
            L.cosine_restarts(2.0, 4, 1.5, decay=0.5, end_value=0.0, decay_mode="amplitude"),
        ),
        "one_cycle": (
            L.one_cycle(1.0, 20, 0.3, anneal="linear", three_phase=True),
            L.one_cycle(2.0, 16, 0.25, anneal="linear", div_factor=10.0, three_phase=True),
        ),
        "cyclic": (
            L.cyclic(0.1, 1.0, 3, 5, mode="exp_range", gamma=0.99),
            L.cyclic(0.2, 2.0, 2, 4, mode="exp_range", gamma=0.9),
        ),
        "wsd": (
            L.wsd(1.0, 20, 5, warmup_steps=3, init_value=0.1, end_value=0.01, decay_shape="cosine"),
            L.wsd(2.0, 16, 4, warmup_steps=0, decay_shape="cosine"),
        ),
        "rex": (L.rex(1.0, 10, 0.1), L.rex(2.0, 6)),
        "taso": (L.taso(1.0, 20, 0.01, midpoint=0.4, steepness=12.0), L.taso(2.0, 9, steepness=0.5)),
        "eigencurve": (L.eigencurve(10.0, 1.0, (4, 6.5, 3)), L.eigencurve(3.0, 0.5, (2.5,))),
        "warmup": (
            L.warmup(cos_a, 3, 0.1, shape="exponential", clock="global"),
            L.warmup(cos_b, 4, 0.5, shape="exponential", clock="global"),
        ),
        "warmup_linear": (L.warmup(cos_a, 3), L.warmup(cos_b, 5, init_value=0.3)),
        "warmup_constant": (L.warmup(lin_a, 2, 0.05, shape="constant"), L.warmup(lin_b, 3, 0.01, shape="constant")),
        "cycle": (L.cycle(lin_a, 5, 0.5), L.cycle(lin_b, 4, 0.5)),
        "shift": (L.shift(lin_a, -2), L.shift(lin_b, 3.5)),
        "clip": (L.clip(lin_a, 0.2, 0.8), L.clip(lin_b, 0.15, 0.45)),
        "sum": (lin_a + L.constant(0.1), lin_b + L.constant(0.5)),
        "sum_number": (cos_a + 0.1, cos_b + 0.25),
        "product": (lin_a * cos_a, lin_b * cos_b),
        "product_number": (cos_a * 0.5, cos_b * 3.0),
        "minimum": (L.minimum(lin_a, 0.5), L.minimum(lin_b, 0.2)),
        "maximum": (L.maximum(lin_a, cos_a), L.maximum(lin_b, cos_b)),
        "quantize": (L.quantize(lin_a, 3), L.quantize(lin_b, 2, schedule_in_epochs=True)),
        "perturb": (L.perturb(cos_a, 0.1, seed=5, every=2), L.perturb(cos_b, 0.3, seed=5, every=1)),
        "join": (
            L.join((L.constant(1.0), cos_a), (5,), names=("hold", "decay")),
            L.join((L.constant(0.5), cos_b), (3,), names=("hold", "decay")),
        ),
        "nested": (
            L.warmup(L.join((L.cycle(cos_a, 4), L.shift(lin_a, 1) * 0.5), (8,)), 2, 0.01),
            L.warmup(L.join((L.cycle(cos_b, 3), L.shift(lin_b, 2) * 0.3), (6,)), 3, 0.02),
        ),
    }


CATALOGUE: dict[str, tuple[L.Schedule, L.Schedule]] = _pairs()
ALL_SCHEDULES: list[L.Schedule] = [s for pair in CATALOGUE.values() for s in pair]
IDS: list[str] = [f"{k}-{i}" for k, pair in CATALOGUE.items() for i in range(len(pair))]

# Steps at which schedules are compared: integers, halves and boundaries, past every end.
STEPS = np.concatenate([np.arange(0.0, 30.0, 0.25), [49.5, 100.0, 1234.5]])

BACKENDS = ["python", "numpy", "jax", "jax_jit", "jax_vmap", "jax_scan", "torch32", "torch64"]


def _python(sched: L.Schedule, steps: np.ndarray) -> np.ndarray:
    out = []
    for x in steps:
        value = sched(float(x))
        assert type(value) is float, type(value)
        if float(x).is_integer():
            assert sched(int(x)) == value, x  # int and float steps agree exactly
        out.append(value)
    return np.asarray(out)


def _numpy(sched: L.Schedule, steps: np.ndarray) -> np.ndarray:
    out = sched(np.asarray(steps, dtype=np.float64))
    assert type(out) is np.ndarray and out.dtype == np.float64 and out.shape == steps.shape
    return out


def _jax_check(out: Any, steps: np.ndarray) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    assert isinstance(out, jax.Array) and out.dtype == jnp.float32 and out.shape == steps.shape
    return np.asarray(out, dtype=np.float64)


def _jax(mode: str) -> Callable[[L.Schedule, np.ndarray], np.ndarray]:
    def run(sched: L.Schedule, steps: np.ndarray) -> np.ndarray:
        import jax
        import jax.numpy as jnp

        x = jnp.asarray(steps, dtype=jnp.float32)
        if mode == "eager":
            out = sched(x)
        elif mode == "jit":
            out = jax.jit(sched)(x)
        elif mode == "vmap":
            out = jax.vmap(sched)(x)
        else:
            out = jax.lax.scan(lambda c, t: (c, sched(t)), 0, x)[1]
        return _jax_check(out, steps)

    return run


def _torch(dtype_name: str) -> Callable[[L.Schedule, np.ndarray], np.ndarray]:
    def run(sched: L.Schedule, steps: np.ndarray) -> np.ndarray:
        import torch

        dtype = getattr(torch, dtype_name)
        out = sched(torch.tensor(steps, dtype=dtype))
        assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == steps.shape
        return out.double().numpy()

    return run


_RUNNERS: dict[str, Callable[[L.Schedule, np.ndarray], np.ndarray]] = {
    "python": _python,
    "numpy": _numpy,
    "jax": _jax("eager"),
    "jax_jit": _jax("jit"),
    "jax_vmap": _jax("vmap"),
    "jax_scan": _jax("scan"),
    "torch32": _torch("float32"),
    "torch64": _torch("float64"),
}


def evaluate(sched: L.Schedule, steps: Any, backend: str = "numpy") -> np.ndarray:
    """Values of ``sched`` at ``steps`` on ``backend`` (type and dtype checked), as float64."""
    return _RUNNERS[backend](sched, np.asarray(steps, dtype=np.float64))


def is_float32(backend: str) -> bool:
    return backend in ("jax", "jax_jit", "jax_vmap", "jax_scan", "torch32")


def assert_close(actual: Any, expected: Any, float32: bool = False) -> None:
    """Agreement: 1e-12 relative in float64, 1e-6 relative in float32.

    Relative to ``max(|expected|, scale)`` with ``scale`` the largest value on
    the grid: float32 cancellation near a curve's floor is measured against the
    curve's size, not against the (tiny) floor.
    """
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    rtol = 1e-6 if float32 else 1e-12
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    err = np.abs(actual - expected)
    bound = rtol * np.maximum(np.abs(expected), scale) + 1e-300
    bad = np.flatnonzero(~(err <= bound))
    first = bad[0] if bad.size else 0
    assert bad.size == 0, f"{bad.size} mismatches, first at {first}: {actual[first]!r} != {expected[first]!r}"
