"""Regression tests for issue 10: exact at every boundary on every backend (items 1-7, 14, 15)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lrsched as L
from lrsched._core.backend import PYTHON

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
torch = pytest.importorskip("torch")


def _integer_cycle_starts() -> list[tuple[int, float, int, int]]:
    """(first_period, period_mult, cycle, start) with an integer start, starts computed exactly in decimal."""
    from fractions import Fraction

    found = []
    for first in range(1, 120):
        for mult in ("1.1", "1.5", "1.2", "1.25", "1.05", "2.5", "3"):
            m = Fraction(mult)
            for i in range(1, 7):
                start = first * (m**i - 1) / (m - 1)
                if start.denominator == 1:
                    found.append((first, float(m), i, int(start)))
    return found


STARTS = _integer_cycle_starts()


def test_cosine_restarts_restarts_at_every_integer_cycle_start_on_every_backend() -> None:
    assert len(STARTS) > 500
    assert (43, 1.1, 1, 43) in STARTS  # the reported case
    for (first, mult), group in _by_schedule().items():
        s = L.cosine_restarts(1.0, first, mult, decay=0.5)
        peaks = [0.5**i for i, _ in group]
        starts = [float(start) for _, start in group]
        assert [s(x) for x in starts] == pytest.approx(peaks, rel=1e-12), (first, mult)
        np.testing.assert_allclose(s(np.array(starts)), peaks, rtol=1e-12)
        np.testing.assert_allclose(s(torch.tensor(starts)).double().numpy(), peaks, rtol=1e-6)
    # float32 under jit, all at once per schedule (one compile each: a sample of the schedules, the reported one first)
    groups = _by_schedule()
    for (first, mult), group in [((43, 1.1), groups[43, 1.1]), *list(groups.items())[::40]]:
        s = L.cosine_restarts(1.0, first, mult, decay=0.5)
        steps = jnp.asarray([start for _, start in group], dtype=jnp.float32)
        out = np.asarray(jax.jit(s)(steps))
        np.testing.assert_allclose(out, [0.5**i for i, _ in group], rtol=1e-5, err_msg=f"{first}, {mult}")


def _by_schedule() -> dict[tuple[int, float], list[tuple[int, int]]]:
    groups: dict[tuple[int, float], list[tuple[int, int]]] = {}
    for first, mult, i, start in STARTS:
        groups.setdefault((first, mult), []).append((i, start))
    return groups


@given(
    first=st.floats(0.5, 200.0),
    mult=st.floats(1.0, 3.0),
    step=st.floats(0.0, 1e6),
)
def test_cosine_restarts_python_and_numpy_agree_with_non_integer_period_mult(first, mult, step) -> None:
    s = L.cosine_restarts(1.0, first, mult, decay=0.7)
    assert s(np.array([step]))[0] == pytest.approx(s(step), rel=1e-12, abs=1e-12)
    i = 1 + int(math.log1p(step * (mult - 1) / first) / math.log(mult)) if mult > 1 else 1
    start = float(s.cycle_start(float(i), PYTHON))  # the next cycle start, as the formula computes it
    assert s(start) == pytest.approx(0.7**i, rel=1e-9)


CYCLES = (L.cycle(L.linear(1.0, 0.0, 0.3), 0.3), L.cycle(L.linear(1.0, 0.0, 10), 10))
CYCLES_JIT = tuple(jax.jit(s) for s in CYCLES)


@given(step=st.one_of(st.floats(0.0, 2.0**31), st.integers(2**24, 2**31 - 1).map(float)))
def test_cycle_keeps_its_local_step_within_the_period_in_float32(step) -> None:
    for s, jitted in zip(CYCLES, CYCLES_JIT, strict=True):
        assert 0.0 <= float(jitted(jnp.asarray([step], dtype=jnp.float32))[0]) <= 1.0
        assert 0.0 <= float(s(torch.tensor([step], dtype=torch.float32))[0]) <= 1.0


def test_cycle_reported_cases() -> None:
    s = L.cycle(L.linear(1.0, 0.0, 0.3), 0.3)
    assert float(jax.jit(s)(jnp.asarray([145963.5]))[0]) == pytest.approx(s(145963.5), abs=1e-6)
    s = L.cycle(L.linear(1.0, 0.0, 10), 10)
    assert 0.0 <= float(jax.jit(s)(jnp.asarray([2**31 - 1], dtype=jnp.int32))[0]) <= 1.0


@pytest.mark.parametrize("big", [2**31, 3_000_000_000, 2**40])
def test_integer_settings_past_int32_work_on_jax_float32(big: int) -> None:
    for s in (L.cosine_decay(1.0, big), L.shift(L.linear(0.0, 1.0, big), offset=big)):
        steps = np.array([0.0, big / 2, 1.5 * big])
        want = s(steps)
        for out in (s(jnp.asarray(steps, dtype=jnp.float32)), jax.jit(s)(jnp.asarray(steps, dtype=jnp.float32))):
            np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6, atol=1e-7)
        assert L.from_config(s.to_config()) == s


def test_overflow_corners_agree_or_are_refused() -> None:
    s = L.step_decay(1.0, step_size=1e-300, drop=0.5)
    with np.errstate(over="ignore"):
        assert s(1e10) == 0.0 == s(np.array([1e10]))[0]
    p = L.perturb(L.constant(1.0), 0.1, every=1e-300)
    with np.errstate(over="ignore"):
        assert p(1e10) == p(np.array([1e10]))[0] == float(p(torch.tensor([1e10], dtype=torch.float64))[0])
    with pytest.raises(ValueError, match="init_value must be > 0 when growing"):
        L.exponential_decay(0.0, 2.0, end_value=1.0)
    with pytest.raises(ValueError, match="decay_rate = 1 is constant"):
        L.exponential_decay(1.0, decay_rate=1.0, end_value=0.5)
    assert L.exponential_decay(1.0, decay_rate=1.0, end_value=1.0)(10**6) == 1.0


def test_nan_steps_give_nan_under_jit() -> None:
    p = L.piecewise_constant([10, 20], [1.0, 0.5, 0.1])
    for s in (p, L.join((p, L.constant(0.2)), (30,)), L.quantize(p, 2), L.cosine_decay(1.0, 10)):
        out = jax.jit(s)(jnp.asarray([jnp.nan, 5.0]))
        assert math.isnan(float(out[0])) and float(out[1]) == pytest.approx(s(5.0), rel=1e-6)
        with pytest.raises(ValueError, match="non-finite"):
            s(jnp.asarray([jnp.nan]))


@pytest.mark.parametrize(
    "step",
    [
        np.array([True, False]),
        np.bool_(True),
        np.array(["5"]),
        np.array([1 + 2j]),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.array([1], dtype=object),
        [True, False],
    ],
    ids=["bool", "np.bool_", "str", "complex", "datetime64", "object", "list-of-bool"],
)
def test_non_numeric_numpy_steps_are_refused(step) -> None:
    with pytest.raises(TypeError, match="dtype"):
        L.constant(1.0)(step)


def test_non_numeric_framework_steps_are_refused() -> None:
    s = L.cosine_decay(1.0, 10)
    for step in (torch.tensor([True]), torch.tensor([1 + 1j]), jnp.asarray([True]), jnp.asarray(True)):
        with pytest.raises(TypeError, match=r"bool|complex"):
            s(step)
    for step in (np.int8(3), np.uint16(3), np.float16(3), torch.tensor([3], dtype=torch.uint8)):
        assert float(np.asarray(s(step)).ravel()[0]) == pytest.approx(s(3), rel=1e-3)


def test_phases_lengths_are_checked_and_named() -> None:
    c = L.constant(1.0)
    with pytest.raises(TypeError, match=r"phase 0 \('a'\).*True"):
        L.phases(("a", c, True), ("b", c, None))
    with pytest.raises(TypeError, match=r"phase 0 \('a'\).*'10'"):
        L.phases(("a", c, "10"), ("b", c, None))
    with pytest.raises(ValueError, match=r"phase 0 \('a'\)"):
        L.phases(("a", c, math.inf), ("b", c, None))


def test_minimum_and_maximum_keep_phase_at() -> None:
    s = L.phases(("hold", L.constant(1.0), 10), ("decay", L.linear(1.0, 0.0, 10), None))
    for combined in (L.minimum(s, 0.5), L.maximum(s, 0.5), s * 2, L.clip(s, 0.1)):
        assert combined.phase_at(5) == "hold" and combined.phase_at(15) == "decay"


def test_eager_jax_scalars_take_the_scalar_path_and_stay_jax() -> None:
    s = L.warmup(L.cosine_decay(1.0, 100), 10)
    for step, dtype in ((jnp.asarray(37, dtype=jnp.int32), jnp.float32), (jnp.asarray(37.5), jnp.float32)):
        out = s(step)
        assert isinstance(out, jax.Array) and out.dtype == dtype and out.shape == ()
        assert float(out) == pytest.approx(float(jax.jit(s)(step)), rel=1e-6)
    with jax.enable_x64(True):
        out = s(jnp.asarray(37.5, dtype=jnp.float64))
        assert out.dtype == jnp.float64 and float(out) == s(37.5)
    with pytest.raises(ValueError):
        s(jnp.asarray(-1.0))


@pytest.mark.slow
def test_torch_tensor_steps_compile_with_fullgraph() -> None:
    schedules = [
        L.warmup(L.cosine_decay(1.0, 100), 10),
        L.join((L.constant(1.0), L.linear(1.0, 0.0, 10), L.linear(0.5, 0.0, 20)), (5, 15)),
        L.perturb(L.cosine_restarts(1.0, 10, 1.5), 0.1, seed=3),
    ]
    steps = torch.arange(0.0, 60.0, 0.5)
    for s in schedules:
        compiled = torch.compile(lambda t, s=s: s(t), fullgraph=True, backend="eager")
        torch.testing.assert_close(compiled(steps), s(steps))
        out = compiled(torch.tensor([-1.0, float("nan")]))  # not inspected when compiled: clamped, NaN stays NaN
        assert float(out[0]) == pytest.approx(s(0)) and math.isnan(float(out[1]))
