"""Every schedule gives the same values on every backend, with the right type and dtype."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from conftest import ALL_SCHEDULES, BACKENDS, IDS, STEPS, assert_close, evaluate, is_float32

import lrsched as L

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
torch = pytest.importorskip("torch")


@pytest.mark.parametrize(("sched", "name"), zip(ALL_SCHEDULES, IDS, strict=True), ids=IDS)
def test_every_backend_agrees_with_the_python_scalar_path(sched: L.Schedule, name: str) -> None:
    reference = evaluate(sched, STEPS, "python")
    assert np.all(np.isfinite(reference))
    # vmap and scan trace the same formula as jit: the second instance of each pair skips them.
    backends = BACKENDS[1:] if name.endswith("-0") else [b for b in BACKENDS[1:] if b not in ("jax_vmap", "jax_scan")]
    for backend in backends:
        assert_close(evaluate(sched, STEPS, backend), reference, float32=is_float32(backend))


@pytest.mark.parametrize("sched", ALL_SCHEDULES, ids=IDS)
def test_jax_float64_agrees_to_1e_12(sched: L.Schedule) -> None:
    reference = evaluate(sched, STEPS, "python")
    with jax.enable_x64(True):
        x = jnp.asarray(STEPS, dtype=jnp.float64)
        for out in (sched(x), jax.jit(sched)(x)):
            assert out.dtype == jnp.float64
            assert_close(np.asarray(out), reference)


def test_python_numbers_give_python_floats() -> None:
    s = L.warmup(L.cosine_decay(1.0, 10), 2)
    for step in (0, 1, 2.5, 10**6, 3.0):
        assert type(s(step)) is float
    # NumPy scalars are arrays of the NumPy backend: a 0-d float64 array.
    for step in (np.float32(3), np.int64(3), np.float64(3)):
        out = s(step)
        assert type(out) is np.ndarray and out.dtype == np.float64 and out.shape == ()
        assert out == s(3)


def test_shapes_are_kept() -> None:
    s = L.cosine_decay(1.0, 10)
    steps = np.arange(12.0).reshape(3, 4)
    assert s(steps).shape == (3, 4)
    assert s(np.zeros((0,))).shape == (0,)
    assert s(jnp.asarray(steps)).shape == (3, 4)
    assert s(torch.arange(12.0).reshape(3, 4)).shape == (3, 4)
    # A constant still broadcasts to the step's shape, with the step's dtype.
    c = L.constant(0.25)
    assert c(torch.zeros(5, dtype=torch.float64)).dtype == torch.float64
    np.testing.assert_array_equal(c(np.zeros(4)), np.full(4, 0.25))


@pytest.mark.parametrize("sched", ALL_SCHEDULES[::2], ids=IDS[::2])
def test_zero_dimensional_steps_give_zero_dimensional_values(sched: L.Schedule) -> None:
    import warnings

    expected = sched(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. no integer-overflow warning from NumPy scalars
        outs = [sched(np.float64(5.0)), sched(torch.tensor(5.0, dtype=torch.float64))]
    outs += [sched(jnp.float32(5.0)), jax.jit(sched)(jnp.float32(5.0)), sched(torch.tensor(5.0))]
    for out in outs:
        assert out.shape == ()
    assert float(outs[0]) == pytest.approx(expected, rel=1e-12) and float(outs[1]) == pytest.approx(expected, rel=1e-12)
    for out in outs[2:]:
        assert float(out) == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_integer_arrays_become_floating() -> None:
    s = L.linear(1.0, 0.0, 4)
    assert s(np.arange(5)).dtype == np.float64
    assert s(jnp.arange(5)).dtype == jnp.float32
    assert s(torch.arange(5)).dtype == torch.get_default_dtype()
    np.testing.assert_allclose(s(np.arange(5)), [1.0, 0.75, 0.5, 0.25, 0.0])


def test_jit_static_argument_and_lax_scan_carry() -> None:
    s = L.warmup(L.cosine_decay(1.0, 100), 10)

    @jax.jit
    def run(steps: jax.Array) -> jax.Array:
        def body(lr_sum: jax.Array, step: jax.Array) -> tuple[jax.Array, jax.Array]:
            lr = s(step)
            return lr_sum + lr, lr

        return jax.lax.scan(body, jnp.float32(0), steps)

    total, lrs = run(jnp.arange(120))
    expected = np.array([s(float(k)) for k in range(120)])
    assert_close(np.asarray(lrs), expected, float32=True)
    assert math.isclose(float(total), expected.sum(), rel_tol=1e-5)
    # A schedule is hashable by value: usable as a static argument.
    f = jax.jit(lambda sched, t: sched(t), static_argnums=0)
    assert float(f(L.cosine_decay(1.0, 100), jnp.float32(50))) == pytest.approx(0.5, rel=1e-6)
    assert float(f(L.cosine_decay(1.0, 100), jnp.float32(25))) == pytest.approx(s(35), rel=1e-6)


# -- negative and non-finite steps ----------------------------------------------------


@pytest.mark.parametrize("bad", [-1, -0.5, math.nan, math.inf, -math.inf])
def test_bad_steps_raise_on_eager_paths(bad: float) -> None:
    s = L.cosine_decay(1.0, 10)
    with pytest.raises(ValueError, match="step must be finite and >= 0"):
        s(bad)
    with pytest.raises(ValueError, match="step must be finite and >= 0"):
        s(np.array([1.0, bad]))
    with pytest.raises(ValueError, match="step must be finite and >= 0"):
        s(jnp.asarray([1.0, bad]))
    with pytest.raises(ValueError, match="step must be finite and >= 0"):
        s(torch.tensor([1.0, bad]))


def test_negative_steps_are_clamped_to_zero_under_jit() -> None:
    s = L.linear(1.0, 0.0, 10)
    out = jax.jit(s)(jnp.asarray([-5.0, -0.5, 0.0, 5.0]))
    np.testing.assert_allclose(np.asarray(out), [1.0, 1.0, 1.0, 0.5])
    out = jax.jit(s)(jnp.asarray([-(2**30)], dtype=jnp.int32))
    assert float(out[0]) == 1.0
    # A NaN step cannot be clamped to anything meaningful: it stays visible.
    assert np.isnan(float(jax.jit(s)(jnp.float32(np.nan))))


def test_wrong_step_types_raise_type_error() -> None:
    s = L.constant(1.0)
    for bad in (None, "3", True, object()):
        with pytest.raises(TypeError, match="step"):
            s(bad)


# -- large steps ----------------------------------------------------------------------

BIG = 2**31 - 1


@pytest.mark.parametrize(
    ("sched", "end"),
    [
        (L.cosine_decay(1.0, 1000, end_value=0.1), 0.1),
        (L.warmup(L.cosine_decay(1.0, 10**6, end_value=0.01), 1000), 0.01),
        (L.linear(1.0, 0.25, 10**5), 0.25),
        (L.polynomial(1.0, 0.5, 100, power=2.0), 0.5),
        (L.wsd(1.0, 10**6, 10**5, warmup_steps=100, end_value=0.02), 0.02),
        (L.one_cycle(1.0, 10**4), 1.0 / 25 / 1e4),
        (L.exponential_decay(1.0, 0.5, 10, end_value=0.05), 0.05),
        (L.rex(1.0, 1000, 0.1), 0.1),
        (L.piecewise_constant((10, 100), (1.0, 0.5, 0.125)), 0.125),
    ],
)
def test_int32_step_near_2_31_gives_the_end_value_under_jit(sched: L.Schedule, end: float) -> None:
    out = jax.jit(sched)(jnp.asarray([BIG, BIG - 1], dtype=jnp.int32))
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out), [end, end], rtol=1e-6)
    assert sched(BIG) == pytest.approx(end, rel=1e-12)
    assert float(sched(torch.tensor([BIG], dtype=torch.int64))[0]) == pytest.approx(end, rel=1e-6)


def test_float32_resolution_beyond_2_24_is_as_documented() -> None:
    """In float32, integer steps above 2**24 are rounded to a multiple of a power of 2.

    Documented in ``lrsched._core.backend``: values at such steps are those of the
    rounded step; float64 (NumPy, torch float64, JAX with x64) keeps every step.
    """
    assert "2**24" in (L.Schedule.__call__.__doc__ or "") + (sys.modules["lrsched._core.backend"].__doc__ or "")
    s = L.linear(0.0, 1.0, 2**26)  # a ramp long enough to move between neighbouring steps
    steps = [2**24, 2**24 + 1, 2**25 + 1, 2**25 + 3]
    exact = np.array([s(k) for k in steps])
    assert len(set(exact.tolist())) == 4  # float64 tells every step apart
    got32 = np.asarray(jax.jit(s)(jnp.asarray(steps, dtype=jnp.int32)), dtype=np.float64)
    rounded = np.array([s(float(np.float32(k))) for k in steps])
    np.testing.assert_allclose(got32, rounded, rtol=1e-6)
    assert got32[0] == got32[1]  # 2**24 + 1 rounds to 2**24 in float32
    t32 = s(torch.tensor(steps, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(t32, rounded, rtol=1e-6)
    # float64 everywhere is exact.
    np.testing.assert_array_equal(s(np.asarray(steps)), exact)
    np.testing.assert_allclose(s(torch.tensor(steps, dtype=torch.float64)).numpy(), exact, rtol=1e-12)


# -- steps at exact multiples of a period under jit --------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda p: L.step_decay(1.0, p, 0.5),
        lambda p: L.exponential_decay(1.0, 0.5, p, staircase=True),
        lambda p: L.inverse_time_decay(1.0, 1.0, p, staircase=True),
        lambda p: L.cycle(L.linear(1.0, 0.0, p), p),
        lambda p: L.quantize(L.linear(1.0, 0.0, 100 * p), p),
        lambda p: L.cosine_restarts(1.0, p),
        lambda p: L.cyclic(0.0, 1.0, p),
        lambda p: L.perturb(L.constant(1.0), 0.5, every=p),
    ],
    ids=["step", "exp-staircase", "inverse-time-staircase", "cycle", "quantize", "restarts", "cyclic", "perturb"],
)
def test_periodic_schedules_switch_exactly_at_multiples_under_jit(make) -> None:  # type: ignore[no-untyped-def]
    """XLA turns ``t / p`` into ``t * (1 / p)``: ``49 * (1 / 49) < 1``. The switch must still be at ``t = k * p``."""
    for p in (3, 7, 49, 97, 163):
        s = make(p)
        steps = np.concatenate([np.arange(0, 12) * p, np.arange(1, 12) * p - 1]).astype(np.int32)
        expected = np.array([s(int(k)) for k in steps])
        got = np.asarray(jax.jit(s)(jnp.asarray(steps)), dtype=np.float64)
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6, err_msg=f"period {p}")
        with jax.enable_x64(True):
            got64 = np.asarray(jax.jit(s)(jnp.asarray(steps, dtype=jnp.float64)))
        np.testing.assert_allclose(got64, expected, rtol=1e-12, atol=1e-15, err_msg=f"period {p}")
