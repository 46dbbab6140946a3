"""Parity with Optax's live schedules (float64 via ``jax.enable_x64`` and float32 under jit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import assert_close

import lrsched as L

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
optax = pytest.importorskip("optax")

STEPS = np.concatenate([np.arange(0, 400), [999, 1000, 1001, 5000]])


def _values(fn: Callable[[Any], Any], steps: Any) -> Any:
    """``fn`` at each step, jitted; ``lax.map`` since some Optax schedules only take scalars."""
    return jax.jit(lambda x: jax.lax.map(fn, x))(steps)


def compare(mine: L.Schedule, make_theirs: Callable[[], Any], steps: np.ndarray = STEPS) -> None:
    with jax.enable_x64(True):
        x = jnp.asarray(steps, dtype=jnp.float64)
        expected = np.asarray(_values(make_theirs(), x), dtype=np.float64)
        ok = np.isfinite(expected)  # Optax's polynomial with power < 1 gives NaN past its end under jit
        got64 = np.asarray(jax.jit(mine)(x))
        assert np.all(np.isfinite(got64))
        assert_close(got64[ok], expected[ok])
        assert_close(np.array([mine(float(k)) for k in steps])[ok], expected[ok])
    x32 = jnp.asarray(steps, dtype=jnp.int32)
    got, want = jax.jit(mine)(x32), _values(make_theirs(), x32)
    assert got.dtype == want.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(got)))
    finite = np.isfinite(np.asarray(want))
    assert_close(np.asarray(got)[finite], np.asarray(want)[finite], float32=True)


@pytest.mark.parametrize(("alpha", "exponent"), [(0.0, 1.0), (0.1, 1.0), (0.05, 2.0)])
def test_cosine_decay_schedule(alpha: float, exponent: float) -> None:
    compare(
        L.cosine_decay(0.5, 300, end_value=0.5 * alpha, exponent=exponent),
        lambda: optax.cosine_decay_schedule(0.5, 300, alpha=alpha, exponent=exponent),
    )


def test_warmup_cosine_decay_schedule_length_includes_the_warmup() -> None:
    # Optax's decay_steps includes the warmup: the cosine lasts decay_steps - warmup_steps.
    mine = L.warmup(L.cosine_decay(1.0, 300 - 40, end_value=0.01), 40, init_value=0.05)
    compare(mine, lambda: optax.warmup_cosine_decay_schedule(0.05, 1.0, 40, 300, end_value=0.01))


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize(("rate", "end"), [(0.5, None), (0.5, 0.1), (1.5, 3.0)])
def test_exponential_decay(staircase: bool, rate: float, end: float | None) -> None:
    compare(
        L.exponential_decay(1.0, rate, 37, staircase=staircase, end_value=end),
        lambda: optax.exponential_decay(1.0, 37, rate, staircase=staircase, end_value=end),
        STEPS[STEPS < 1001],
    )


def test_piecewise_constant_schedule_switches_at_the_boundary_too() -> None:
    scales = {50: 0.5, 120: 0.1, 121: 2.0}
    values = [1.0]
    for b in sorted(scales):
        values.append(values[-1] * scales[b])
    mine = L.piecewise_constant(tuple(sorted(scales)), tuple(values))
    compare(mine, lambda: optax.piecewise_constant_schedule(1.0, scales))


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial_schedule(power: float) -> None:
    compare(
        L.polynomial(1.0, 0.02, 250, power=power),
        lambda: optax.polynomial_schedule(1.0, 0.02, power=power, transition_steps=250),
    )


def test_polynomial_with_a_fractional_power_holds_its_end_value_under_jit() -> None:
    # XLA turns ``count / T`` into ``count * (1 / T)``, which can exceed 1 at ``count = T``;
    # a negative base to the power 0.5 is NaN. We clamp the fraction, so the end value holds.
    s = L.polynomial(1.0, 0.02, 250, power=0.5)
    out = np.asarray(jax.jit(s)(jnp.arange(240, 400, dtype=jnp.int32)))
    assert np.all(np.isfinite(out)) and np.all(out[10:] == np.float32(0.02))


def test_sgdr_schedule_is_a_join_of_warmup_cosines() -> None:
    kwargs = [
        {"init_value": 0.0, "peak_value": 1.0, "warmup_steps": 10, "decay_steps": 100, "end_value": 0.01},
        {"init_value": 0.0, "peak_value": 0.5, "warmup_steps": 10, "decay_steps": 200, "end_value": 0.01},
        {"init_value": 0.1, "peak_value": 0.25, "warmup_steps": 5, "decay_steps": 50, "end_value": 0.0},
    ]
    pieces = tuple(
        L.warmup(
            L.cosine_decay(k["peak_value"], k["decay_steps"] - k["warmup_steps"], k["end_value"]),
            k["warmup_steps"],
            k["init_value"],
        )
        for k in kwargs
    )
    mine = L.join(pieces, (100, 300))
    compare(mine, lambda: optax.sgdr_schedule(kwargs))


def test_cosine_restarts_equal_an_sgdr_of_equal_cycles() -> None:
    kwargs = [{"init_value": 1.0, "peak_value": 1.0, "warmup_steps": 0, "decay_steps": 50, "end_value": 0.0}] * 6
    compare(L.cosine_restarts(1.0, 50), lambda: optax.sgdr_schedule(kwargs), STEPS[STEPS < 300])


@pytest.mark.parametrize(("pct", "div", "final"), [(0.3, 25.0, 1e4), (0.25, 10.0, 100.0)])
def test_cosine_onecycle_schedule(pct: float, div: float, final: float) -> None:
    compare(
        L.one_cycle(2.0, 300, pct, div_factor=div, final_div_factor=final),
        lambda: optax.cosine_onecycle_schedule(300, 2.0, pct_start=pct, div_factor=div, final_div_factor=final),
    )


def test_join_schedules_local_clock() -> None:
    a, b, c = L.linear(0.0, 1.0, 30), L.cosine_decay(1.0, 100), L.constant(0.05)
    compare(
        L.join((a, b, c), (30, 130)),
        lambda: optax.join_schedules(
            [optax.linear_schedule(0.0, 1.0, 30), optax.cosine_decay_schedule(1.0, 100), optax.constant_schedule(0.05)],
            [30, 130],
        ),
    )


def test_lrsched_schedules_drive_an_optax_optimizer() -> None:
    sched = L.warmup(L.cosine_decay(0.1, 90), 10)
    opt = optax.sgd(sched)
    params = jnp.asarray([1.0, -2.0])
    state = opt.init(params)
    seen = []
    for _ in range(5):
        updates, state = opt.update(jnp.ones(2), state, params)
        seen.append(-float(updates[0]))
    np.testing.assert_allclose(seen, [sched(k) for k in range(5)], rtol=1e-6)
