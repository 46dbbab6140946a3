"""Combinators against independent reference formulas, and deterministic perturbation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import assert_close, evaluate

import lrsched as L

GRID = np.unique(np.concatenate([np.arange(0.0, 40.0, 0.25), [99.5, 500.0, 1e6]]))


def cos_ref(init: float, T: float, end: float = 0.0):
    return lambda t: end + (init - end) * (1 + math.cos(math.pi * min(t, T) / T)) / 2


def check(sched: L.Schedule, reference, steps: np.ndarray = GRID) -> None:
    expected = np.array([reference(float(t)) for t in steps])
    assert_close(evaluate(sched, steps, "numpy"), expected)
    assert_close(evaluate(sched, steps, "python"), expected)


# -- warmup --------------------------------------------------------------------------


@pytest.mark.parametrize("clock", ["after_warmup", "global"])
@pytest.mark.parametrize("shape", ["linear", "exponential", "constant"])
def test_warmup(clock: str, shape: str) -> None:
    w, init = 8.0, 0.05
    inner = cos_ref(1.0, 20, 0.1)
    s = L.warmup(L.cosine_decay(1.0, 20, end_value=0.1), w, init, shape=shape, clock=clock)

    def ref(t: float) -> float:
        target = inner(0.0) if clock == "after_warmup" else inner(w)
        if t >= w:
            return inner(t - w) if clock == "after_warmup" else inner(t)
        if shape == "linear":
            return init + (target - init) * t / w
        if shape == "exponential":
            return init * (target / init) ** (t / w)
        return init

    check(s, ref)
    assert s(0) == init
    assert s(w) == pytest.approx(inner(0.0) if clock == "after_warmup" else inner(w))
    # The decay ends at 20 steps after the warmup (clock after warmup) or at step 20.
    end_at = 20 + w if clock == "after_warmup" else 20
    assert s(end_at) == pytest.approx(0.1) and s(end_at + 1000) == 0.1
    assert s(end_at - 1) > 0.1
    assert s.phase_at(w - 0.5) == "warmup"


def test_warmup_linear_is_monotone_up_to_the_target() -> None:
    s = L.warmup(L.constant(2.0), 10, init_value=0.2)
    values = s(np.arange(0.0, 11.0))
    assert np.all(np.diff(values) > 0) and values[0] == 0.2 and values[-1] == 2.0


# -- cycle, shift, clip, quantize ----------------------------------------------------


@pytest.mark.parametrize("decay", [1.0, 0.5])
def test_cycle_restarts_every_period(decay: float) -> None:
    inner = cos_ref(1.0, 6)
    s = L.cycle(L.cosine_decay(1.0, 6), 8, decay)
    check(s, lambda t: inner(t % 8) * decay ** math.floor(t / 8), GRID[GRID < 1000])
    assert s(8) == decay and s(16) == decay**2 and s(7) == 0.0


@pytest.mark.parametrize("offset", [5.0, -3.0, 0.0])
def test_shift(offset: float) -> None:
    inner = cos_ref(1.0, 10)
    check(L.shift(L.cosine_decay(1.0, 10), offset), lambda t: inner(max(t - offset, 0.0)))


def test_clip_and_bounds() -> None:
    inner = cos_ref(1.0, 10)
    check(L.clip(L.cosine_decay(1.0, 10), 0.2, 0.7), lambda t: min(max(inner(t), 0.2), 0.7))
    check(L.clip(L.cosine_decay(1.0, 10), min_value=0.3), lambda t: max(inner(t), 0.3))
    check(L.clip(L.cosine_decay(1.0, 10), max_value=0.3), lambda t: min(inner(t), 0.3))


@pytest.mark.parametrize("in_epochs", [False, True])
def test_quantize_holds_within_an_epoch(in_epochs: bool) -> None:
    n = 4
    if in_epochs:
        s, inner = L.quantize(L.cosine_decay(1.0, 6), n, schedule_in_epochs=True), cos_ref(1.0, 6)
        check(s, lambda t: inner(math.floor(t / n)))
    else:
        s, inner = L.quantize(L.cosine_decay(1.0, 30), n), cos_ref(1.0, 30)
        check(s, lambda t: inner(math.floor(t / n) * n))
    assert s(0) == s(3.99) and s(4) < s(3.99)


# -- arithmetic ----------------------------------------------------------------------


def test_arithmetic() -> None:
    a, b = L.cosine_decay(1.0, 10), L.linear(0.0, 2.0, 20)
    ra, rb = cos_ref(1.0, 10), (lambda t: 2.0 * min(t, 20) / 20)
    check(a + b, lambda t: ra(t) + rb(t))
    check(a - b + 3.0, lambda t: ra(t) - rb(t) + 3.0)
    check(2.0 - a, lambda t: 2.0 - ra(t))
    check(a * b, lambda t: ra(t) * rb(t))
    check(0.5 * a / 4, lambda t: ra(t) / 8)
    check(-a + 1, lambda t: 1 - ra(t))
    check(L.minimum(a, b), lambda t: min(ra(t), rb(t)))
    check(L.maximum(a, 0.25), lambda t: max(ra(t), 0.25))
    check(L.scale(a, 3.0), lambda t: 3 * ra(t))
    with pytest.raises(ZeroDivisionError):
        a / 0
    with pytest.raises(TypeError):
        a + "x"  # type: ignore[operator]


def test_plain_callables_are_accepted_and_wrapped() -> None:
    def half(t):  # a plain function: works on numbers and arrays alike
        return 0.5 + 0.0 * t

    s = L.warmup(half, 4)
    assert isinstance(s.schedule, L.FunctionSchedule)
    assert s(2) == 0.25 and s(10) == 0.5
    np.testing.assert_allclose(s(np.array([2.0, 10.0])), [0.25, 0.5])
    assert (L.cosine_decay(1.0, 10) + half)(10) == 0.5
    assert L.as_schedule(half) == L.FunctionSchedule(half)
    with pytest.raises(TypeError, match="plain Python callable"):
        s.to_config()
    with pytest.raises(TypeError, match="must be callable"):
        L.FunctionSchedule(3)  # type: ignore[arg-type]


def test_momentum_weight_decay_and_mixture_weights_use_the_same_algebra() -> None:
    momentum = L.warmup(L.constant(0.95), 5, init_value=0.85) - 0.0
    mixture = L.join((L.constant(0.0), L.linear(0.0, 1.0, 10)), (90,), names=("pretrain", "anneal"))
    assert momentum(0) == 0.85 and momentum(5) == 0.95
    assert mixture.phase_at(95) == "anneal" and mixture(95) == 0.5


# -- perturb -------------------------------------------------------------------------


def test_perturb_bounds_and_seed() -> None:
    steps = np.arange(0.0, 2000.0)
    base = L.cosine_decay(1.0, 1000, end_value=0.1)
    p = L.perturb(base, 0.2, seed=7)
    ratio = p(steps) / base(steps)
    assert np.all(ratio >= 0.8) and np.all(ratio < 1.2)
    assert ratio.min() < 0.82 and ratio.max() > 1.18  # the noise fills its range
    assert abs(ratio.mean() - 1.0) < 0.01  # and is centred
    other = L.perturb(base, 0.2, seed=8)(steps) / base(steps)
    assert np.mean(ratio == other) < 0.01
    assert np.abs(np.corrcoef(ratio[:-1], ratio[1:])[0, 1]) < 0.1  # no trace of the step order
    assert L.perturb(base, 0.0, seed=7)(steps).tolist() == base(steps).tolist()


def test_perturb_holds_within_every() -> None:
    p = L.perturb(L.constant(1.0), 0.3, seed=1, every=10)
    v = p(np.arange(0.0, 30.0))
    assert len(set(v[:10].tolist())) == 1 and v[9] != v[10]


def test_perturb_noise_is_identical_on_every_backend() -> None:
    import jax
    import jax.numpy as jnp
    import torch

    p = L.perturb(L.constant(1.0), 0.5, seed=123456)
    steps = np.concatenate([np.arange(0, 3000), [2**20 + 17, 2**24, 2**30 + 5, 2**31 - 1]]).astype(np.int64)
    python = np.array([p(int(k)) for k in steps])
    numpy = p(steps.astype(np.float64))
    torch64 = p(torch.tensor(steps, dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(numpy, python)
    np.testing.assert_array_equal(torch64, python)
    with jax.enable_x64(True):
        jax64 = np.asarray(jax.jit(p)(jnp.asarray(steps, dtype=jnp.float64)))
    np.testing.assert_array_equal(jax64, python)
    # float32 steps: exact below 2**24; the noise u itself is then bit-identical.
    small = steps[steps < 2**24]
    jax32 = np.asarray(jax.jit(p)(jnp.asarray(small, dtype=jnp.int32)), dtype=np.float64)
    torch32 = p(torch.tensor(small, dtype=torch.int32)).double().numpy()
    np.testing.assert_allclose(jax32, python[: small.size], rtol=1e-7)
    np.testing.assert_array_equal(torch32, jax32)
