"""Primitive and annealing schedules against independent reference formulas.

Each reference below is written from the formula in the issue / the papers,
with plain Python branching, and compared on a dense grid of steps (integers,
fractions, every boundary and far past the end), on NumPy (float64) and on the
scalar path. Boundary tests name the value at step 0, at the end of warmup, at
the end of decay and past the end.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import pytest
from conftest import assert_close, evaluate

import lrsched as L

GRID = np.unique(np.concatenate([np.arange(0.0, 60.0, 0.25), [99.0, 100.0, 101.0, 150.0, 1e4, 1e7]]))


def check(sched: L.Schedule, reference: Callable[[float], float], steps: np.ndarray = GRID) -> None:
    expected = np.array([reference(float(t)) for t in steps])
    assert_close(evaluate(sched, steps, "numpy"), expected)
    assert_close(evaluate(sched, steps, "python"), expected)


def cos_shape(x: float) -> float:
    return (1 + math.cos(math.pi * x)) / 2


# -- primitives ----------------------------------------------------------------------


def test_constant() -> None:
    check(L.constant(0.3), lambda t: 0.3)


@pytest.mark.parametrize(("a", "b", "n"), [(1.0, 0.0, 10), (0.0, 2.0, 7.5), (0.5, 0.5, 1)])
def test_linear(a: float, b: float, n: float) -> None:
    s = L.linear(a, b, n)
    check(s, lambda t: a + (b - a) * t / n if t < n else b)
    assert s(0) == a and s(n) == b and s(10 * n) == b


@pytest.mark.parametrize("power", [0.5, 1.0, 2.0, 3.3])
def test_polynomial(power: float) -> None:
    s = L.polynomial(2.0, 0.1, 40, power=power)
    check(s, lambda t: (2.0 - 0.1) * (1 - t / 40) ** power + 0.1 if t < 40 else 0.1)
    assert s(0) == 2.0 and s(40) == 0.1 and s(41) == 0.1


@pytest.mark.parametrize(("size", "drop"), [(10, 0.5), (2.5, 0.9), (7, 1.0)])
def test_step_decay(size: float, drop: float) -> None:
    s = L.step_decay(1.5, size, drop)
    check(s, lambda t: 1.5 * drop ** math.floor(t / size))
    assert s(size - 1e-9) == 1.5 and s(size) == pytest.approx(1.5 * drop)


def test_multistep_decay() -> None:
    milestones = (5, 12.5, 30)
    s = L.multistep_decay(1.0, milestones, 0.3)
    check(s, lambda t: 0.3 ** sum(1 for m in milestones if t >= m))
    assert s(4.999) == 1.0 and s(5) == pytest.approx(0.3) and s(30) == pytest.approx(0.027)


def test_piecewise_constant_switches_at_the_boundary() -> None:
    boundaries, values = (3, 10, 10.5), (1.0, 0.4, 0.2, 0.05)

    def ref(t: float) -> float:
        k = 0
        while k < len(boundaries) and t >= boundaries[k]:
            k += 1
        return values[k]

    s = L.piecewise_constant(boundaries, values)
    check(s, ref)
    assert (s(0), s(2.99), s(3), s(10), s(10.5), s(1e9)) == (1.0, 1.0, 0.4, 0.2, 0.05, 0.05)


def test_piecewise_linear_interpolates_and_holds_outside() -> None:
    points = ((2, 0.0), (5, 1.0), (5.5, 0.25), (40, 0.5))

    def ref(t: float) -> float:
        if t <= points[0][0]:
            return points[0][1]
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            if t <= x1:
                return y0 + (y1 - y0) * (t - x0) / (x1 - x0)
        return points[-1][1]

    s = L.piecewise_linear(points)
    check(s, ref)
    assert s(0) == 0.0 and s(5) == 1.0 and s(40) == 0.5 and s(1e6) == 0.5
    assert L.piecewise_linear(((3, 0.7),))(np.array([0.0, 3, 100])).tolist() == [0.7, 0.7, 0.7]


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize(("rate", "end"), [(0.5, None), (0.5, 0.05), (1.5, 20.0), (1.0, None)])
def test_exponential_decay(staircase: bool, rate: float, end: float | None) -> None:
    def ref(t: float) -> float:
        p = math.floor(t / 4) if staircase else t / 4
        v = 2.0 * rate**p
        if end is not None:
            v = max(v, end) if rate < 1 else min(v, end)
        return v

    s = L.exponential_decay(2.0, rate, 4, staircase=staircase, end_value=end)
    check(s, ref, GRID[GRID < 200])
    assert s(0) == 2.0


def test_exponential_growth_overflows_to_inf_on_every_backend() -> None:
    s = L.exponential_decay(1.0, 2.0)
    assert s(5000) == math.inf
    with np.errstate(over="ignore"):
        assert s(np.array([5000.0]))[0] == math.inf


def test_natural_exp_decay() -> None:
    s = L.natural_exp_decay(1.0, 0.1, end_value=0.02)
    check(s, lambda t: max(math.exp(-0.1 * t), 0.02))
    assert s(0) == 1.0 and s(1e6) == 0.02
    assert L.natural_exp_decay(3.0, 0.0)(1e6) == 3.0


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase: bool) -> None:
    def ref(t: float) -> float:
        r = math.floor(t / 3) if staircase else t / 3
        return 0.8 / (1 + 0.5 * r)

    check(L.inverse_time_decay(0.8, 0.5, 3, staircase=staircase), ref)


# -- annealing -----------------------------------------------------------------------


@pytest.mark.parametrize(("end", "exponent"), [(0.0, 1.0), (0.1, 1.0), (0.05, 2.0)])
def test_cosine_decay_holds_its_end_value(end: float, exponent: float) -> None:
    T = 37

    def ref(t: float) -> float:
        return end + (1.0 - end) * cos_shape(min(t, T) / T) ** exponent

    s = L.cosine_decay(1.0, T, end_value=end, exponent=exponent)
    check(s, ref)
    assert s(0) == 1.0 and s(T) == pytest.approx(end, abs=1e-15) and s(T + 1) == s(10 * T) == end


@pytest.mark.parametrize("mult", [1.0, 2.0, 1.5])
@pytest.mark.parametrize("mode", ["peak", "amplitude"])
def test_cosine_restarts_sgdr(mult: float, mode: str) -> None:
    T0, init, end, d = 4.0, 1.0, 0.1, 0.7

    def ref(t: float) -> float:
        i, start, length = 0, 0.0, T0
        while t >= start + length:  # walk the cycles
            start, length, i = start + length, length * mult, i + 1
        c = cos_shape((t - start) / length)
        if mode == "peak":
            return end + (init * d**i - end) * c
        return end + (init - end) * d**i * c

    s = L.cosine_restarts(init, T0, mult, decay=d, end_value=end, decay_mode=mode)
    check(s, ref, GRID[GRID < 200])
    # Restarts happen exactly at cycle starts: 4, 4 + 4m, ...
    second = T0 + T0 * mult
    assert s(T0) == pytest.approx(end + (init * d - end) if mode == "peak" else end + (init - end) * d)
    assert s(T0 - 1e-9) == pytest.approx(end, abs=1e-9)
    assert s(second) > s(second - 1e-6)


def _one_cycle_ref(peak: float, T: float, p: float, kind: str, three: bool, div: float, final: float):
    init, floor = peak / div, peak / div / final

    def go(a: float, b: float, x: float) -> float:
        x = min(max(x, 0.0), 1.0)
        return a + (b - a) * x if kind == "linear" else b + (a - b) * cos_shape(x)

    def ref(t: float) -> float:
        up = p * T
        if t < up:
            return go(init, peak, t / up)
        if not three:
            return go(peak, floor, (t - up) / (T - up))
        if t < 2 * up:
            return go(peak, init, (t - up) / up)
        return go(init, floor, (t - 2 * up) / (T - 2 * up))

    return ref


@pytest.mark.parametrize("kind", ["cosine", "linear"])
@pytest.mark.parametrize("three", [False, True])
def test_one_cycle(kind: str, three: bool) -> None:
    s = L.one_cycle(2.0, 50, 0.3, anneal=kind, div_factor=20.0, final_div_factor=100.0, three_phase=three)
    check(s, _one_cycle_ref(2.0, 50, 0.3, kind, three, 20.0, 100.0))
    assert s(0) == pytest.approx(0.1) and s(15) == pytest.approx(2.0)
    assert s(50) == pytest.approx(0.001) and s(1e6) == pytest.approx(0.001)
    if three:
        assert s(30) == pytest.approx(0.1)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
@pytest.mark.parametrize("down", [None, 7.0])
def test_cyclic(mode: str, down: float | None) -> None:
    lo, hi, up, g = 0.1, 1.0, 4.0, 0.97
    dn = up if down is None else down

    def ref(t: float) -> float:
        k, pos = divmod(t, up + dn)  # cycle k (from 0), position in cycle
        frac = pos / up if pos <= up else 1 - (pos - up) / dn
        amp = {"triangular": 1.0, "triangular2": 0.5**k, "exp_range": g**t}[mode]
        return lo + (hi - lo) * frac * amp

    s = L.cyclic(lo, hi, up, down, mode=mode, gamma=g if mode == "exp_range" else 1.0)
    check(s, ref, GRID[GRID < 200])
    assert s(0) == lo and s(up) == pytest.approx(hi if mode != "exp_range" else lo + (hi - lo) * g**up)


def test_cyclic_triangular2_far_out_is_the_base_value() -> None:
    s = L.cyclic(0.1, 1.0, 1.0, mode="triangular2")
    assert s(5001) == 0.1 and s(np.array([5001.0]))[0] == 0.1


def test_inverse_sqrt_noam() -> None:
    w, peak = 16.0, 0.02
    s = L.inverse_sqrt(peak, w, init_value=0.001)
    check(s, lambda t: 0.001 + (peak - 0.001) * t / w if t < w else peak * math.sqrt(w / t))
    assert s(0) == 0.001 and s(w) == peak and s(4 * w) == pytest.approx(peak / 2)
    # The Noam form d**-0.5 * min(t**-0.5, t * w**-1.5) with peak (d * w)**-0.5.
    d = 512
    noam = L.inverse_sqrt((d * w) ** -0.5, w)
    for t in (1.0, 5.0, 16.0, 17.0, 1000.0):
        assert noam(t) == pytest.approx(d**-0.5 * min(t**-0.5, t * w**-1.5), rel=1e-12)


@pytest.mark.parametrize("shape", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("warm", [0, 5])
def test_wsd(shape: str, warm: float) -> None:
    total, decay, peak, init, end = 50.0, 12.0, 1.0, 0.1, 0.01

    def ref(t: float) -> float:
        if t < warm:
            return init + (peak - init) * t / warm
        start = total - decay
        if t < start:
            return peak
        x = min((t - start) / decay, 1.0)
        y = {"linear": x, "cosine": 1 - cos_shape(x), "1-sqrt": math.sqrt(x)}[shape]
        return peak + (end - peak) * y

    s = L.wsd(peak, total, decay, warmup_steps=warm, init_value=init, end_value=end, decay_shape=shape)
    check(s, ref)
    assert s(0) == (init if warm else peak)
    assert s(warm) == peak and s(total - decay) == peak
    assert s(total) == pytest.approx(end, abs=1e-15) and s(10 * total) == pytest.approx(end, abs=1e-15)


def test_rex() -> None:
    T = 30.0
    s = L.rex(1.0, T, 0.05)

    def ref(t: float) -> float:
        z = min(t, T) / T
        return 0.05 + 0.95 * (1 - z) / (0.5 + 0.5 * (1 - z))

    check(s, ref)
    assert s(0) == 1.0 and s(T) == 0.05 and s(2 * T) == 0.05
