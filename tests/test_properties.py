"""Hypothesis properties over random valid schedules, nested combinators included.

The strategy builds a schedule together with what its documentation promises:
bounds ``lo <= s(t) <= hi``, whether it is continuous in ``t`` and whether it
never increases. Properties: finite values inside the bounds, monotone decays,
the scalar path equal to every array backend, and value semantics.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import lrsched as L

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
torch = pytest.importorskip("torch")


class Gen(NamedTuple):
    sched: L.Schedule
    lo: float
    hi: float
    continuous: bool
    decreasing: bool


rates = st.just(0.0) | st.floats(min_value=1e-6, max_value=10.0)  # zero, or values float32 holds well
positive = st.floats(min_value=1e-3, max_value=10.0, allow_subnormal=False)
lengths = st.one_of(st.integers(1, 200), st.floats(min_value=0.5, max_value=200.0), st.integers(2**31, 2**33))
fractions = st.floats(min_value=0.05, max_value=1.0)
shapes = st.sampled_from(["linear", "cosine", "1-sqrt"])


@st.composite
def primitives(draw: st.DrawFn) -> Gen:
    kind = draw(st.sampled_from(sorted(PRIMITIVES)))
    return PRIMITIVES[kind](draw)


def _linear(draw: st.DrawFn) -> Gen:
    a, b, n = draw(rates), draw(rates), draw(lengths)
    return Gen(L.linear(a, b, n), min(a, b), max(a, b), True, a >= b)


def _polynomial(draw: st.DrawFn) -> Gen:
    a, b, n, p = draw(rates), draw(rates), draw(lengths), draw(st.floats(0.25, 4.0))
    return Gen(L.polynomial(a, b, n, power=p), min(a, b), max(a, b), True, a >= b)


def _step(draw: st.DrawFn) -> Gen:
    a, size, drop = draw(rates), draw(lengths), draw(fractions)
    return Gen(L.step_decay(a, size, drop), 0.0, a, False, True)


def _multistep(draw: st.DrawFn) -> Gen:
    a, drop = draw(rates), draw(fractions)
    ms = sorted(draw(st.sets(st.integers(1, 300), min_size=1, max_size=5)))
    return Gen(L.multistep_decay(a, ms, drop), a * drop ** len(ms), a, False, True)


def _piecewise_constant(draw: st.DrawFn) -> Gen:
    bs = sorted(draw(st.sets(st.floats(0.5, 300.0), min_size=0, max_size=6)))
    vs = draw(st.lists(rates, min_size=len(bs) + 1, max_size=len(bs) + 1))
    return Gen(L.piecewise_constant(bs, vs), min(vs), max(vs), False, vs == sorted(vs, reverse=True))


def _piecewise_linear(draw: st.DrawFn) -> Gen:
    xs = sorted(draw(st.sets(st.floats(0.0, 300.0), min_size=1, max_size=6)))
    xs = [x for i, x in enumerate(xs) if i == 0 or x - xs[i - 1] > 1e-3]
    vs = draw(st.lists(rates, min_size=len(xs), max_size=len(xs)))
    return Gen(
        L.piecewise_linear(list(zip(xs, vs, strict=True))), min(vs), max(vs), True, vs == sorted(vs, reverse=True)
    )


def _exponential(draw: st.DrawFn) -> Gen:
    a, rate, n, stair = draw(rates), draw(st.floats(0.05, 0.999)), draw(lengths), draw(st.booleans())
    end = draw(st.none() | st.floats(0.0, 1.0).map(lambda f: f * a))
    return Gen(L.exponential_decay(a, rate, n, staircase=stair, end_value=end), end or 0.0, a, not stair, True)


def _natural(draw: st.DrawFn) -> Gen:
    a, k = draw(rates), draw(st.floats(0.0, 2.0))
    end = draw(st.floats(0.0, 1.0)) * a
    return Gen(L.natural_exp_decay(a, k, end), end, a, True, True)


def _inverse_time(draw: st.DrawFn) -> Gen:
    a, r, n, stair = draw(rates), draw(st.floats(0.0, 5.0)), draw(lengths), draw(st.booleans())
    return Gen(L.inverse_time_decay(a, r, n, staircase=stair), 0.0, a, not stair, True)


def _inverse_sqrt(draw: st.DrawFn) -> Gen:
    peak, w, init = draw(rates), draw(lengths), draw(rates)
    return Gen(L.inverse_sqrt(peak, w, init_value=init), 0.0, max(peak, init), True, False)


def _cosine(draw: st.DrawFn) -> Gen:
    a, b, n, e = draw(rates), draw(rates), draw(lengths), draw(st.floats(0.5, 3.0))
    return Gen(L.cosine_decay(a, n, b, exponent=e), min(a, b), max(a, b), True, a >= b)


def _restarts(draw: st.DrawFn) -> Gen:
    a, b, n = draw(rates), draw(rates), draw(lengths)
    m, d, mode = draw(st.floats(1.0, 3.0)), draw(fractions), draw(st.sampled_from(["peak", "amplitude"]))
    return Gen(L.cosine_restarts(a, n, m, decay=d, end_value=b, decay_mode=mode), 0.0, max(a, b), False, False)


def _one_cycle(draw: st.DrawFn) -> Gen:
    peak, n, three = draw(rates), draw(lengths), draw(st.booleans())
    pct = draw(st.floats(0.05, 0.45 if three else 0.95))
    div, final = draw(st.floats(1.0, 100.0)), draw(st.floats(1.0, 1e4))
    s = L.one_cycle(
        peak,
        n,
        pct,
        anneal=draw(st.sampled_from(["cosine", "linear"])),
        div_factor=div,
        final_div_factor=final,
        three_phase=three,
    )
    return Gen(s, peak / div / final, peak, True, False)


def _cyclic(draw: st.DrawFn) -> Gen:
    base, amp, up = draw(rates), draw(rates), draw(lengths)
    down = draw(st.none() | lengths)
    mode = draw(st.sampled_from(["triangular", "triangular2", "exp_range"]))
    gamma = draw(st.floats(0.9, 1.0)) if mode == "exp_range" else 1.0
    return Gen(L.cyclic(base, base + amp, up, down, mode=mode, gamma=gamma), base, base + amp, True, False)


def _wsd(draw: st.DrawFn) -> Gen:
    total = draw(st.floats(2.0, 300.0))
    decay = draw(st.floats(0.5, 1.0)) * total / 2
    warm = draw(st.sampled_from([0.0, 0.01]) | st.floats(0.01, 1.0)) * total / 2  # none, or one float32 resolves
    peak, init, end = draw(rates), draw(rates), draw(rates)
    s = L.wsd(peak, total, decay, warmup_steps=warm, init_value=init, end_value=end, decay_shape=draw(shapes))
    return Gen(s, min(peak, init, end), max(peak, init, end), True, False)


def _rex(draw: st.DrawFn) -> Gen:
    a, b, n = draw(rates), draw(rates), draw(lengths)
    return Gen(L.rex(a, n, b), min(a, b), max(a, b), True, a >= b)


def _taso(draw: st.DrawFn) -> Gen:
    a, b, n = draw(rates), draw(rates), draw(lengths)
    mid, k = draw(st.floats(0.0, 1.0)), draw(st.floats(0.1, 50.0))
    return Gen(L.taso(a, n, b, midpoint=mid, steepness=k), min(a, b), max(a, b), True, a >= b)


def _eigencurve(draw: st.DrawFn) -> Gen:
    big = draw(positive)
    mu = big * draw(fractions)
    phases = tuple(draw(st.lists(lengths, min_size=1, max_size=4)))
    return Gen(L.eigencurve(big, mu, phases), 0.0, 1.0 / big, True, True)


def _constant(draw: st.DrawFn) -> Gen:
    v = draw(rates)
    return Gen(L.constant(v), v, v, True, True)


PRIMITIVES = {
    "constant": _constant,
    "linear": _linear,
    "polynomial": _polynomial,
    "step": _step,
    "multistep": _multistep,
    "piecewise_constant": _piecewise_constant,
    "piecewise_linear": _piecewise_linear,
    "exponential": _exponential,
    "natural": _natural,
    "inverse_time": _inverse_time,
    "inverse_sqrt": _inverse_sqrt,
    "cosine": _cosine,
    "restarts": _restarts,
    "one_cycle": _one_cycle,
    "cyclic": _cyclic,
    "wsd": _wsd,
    "rex": _rex,
    "taso": _taso,
    "eigencurve": _eigencurve,
}


def _combine(children: st.SearchStrategy[Gen]) -> st.SearchStrategy[Gen]:
    @st.composite
    def build(draw: st.DrawFn) -> Gen:
        g = draw(children)
        s, lo, hi, cont = g.sched, g.lo, g.hi, g.continuous
        kind = draw(st.sampled_from(sorted(COMBINATORS)))
        return COMBINATORS[kind](draw, g, children, s, lo, hi, cont)

    return build()


def _warmup(draw: st.DrawFn, g: Gen, children: Any, s: L.Schedule, lo: float, hi: float, cont: bool) -> Gen:
    w, init = draw(lengths), draw(rates)
    shape = draw(st.sampled_from(["linear", "constant", "exponential"]))
    clock = draw(st.sampled_from(["after_warmup", "global"]))
    target = s(0 if clock == "after_warmup" else w)
    if shape == "exponential" and not (init > 0 and target > 0):
        shape = "linear"
    return Gen(
        L.warmup(s, w, init, shape=shape, clock=clock),
        min(lo, init),
        max(hi, init),
        cont and shape != "constant",
        False,
    )


def _cycle(draw: st.DrawFn, g: Gen, children: Any, s: L.Schedule, lo: float, hi: float, cont: bool) -> Gen:
    return Gen(L.cycle(s, draw(lengths), draw(fractions)), 0.0, hi, False, False)


def _shift(draw: st.DrawFn, g: Gen, children: Any, s: L.Schedule, lo: float, hi: float, cont: bool) -> Gen:
    return Gen(L.shift(s, draw(st.floats(-100.0, 100.0))), lo, hi, cont, g.decreasing)


def _clip(draw: st.DrawFn, g: Gen, children: Any, s: L.Schedule, lo: float, hi: float, cont: bool) -> Gen:
    a, b = sorted([draw(rates), draw(rates)])
    return Gen(L.clip(s, a, b), min(max(lo, a), b), min(max(hi, a), b), cont, g.decreasing)


def _arith(draw: st.DrawFn, g: Gen, children: Any, s: L.Schedule, lo: float, hi: float, cont: bool) -> Gen:
    other = draw(children)
    c = draw(rates)
    op = draw(st.sampled_from(["+", "*", "+c", "*c", "min", "max"]))
    both = cont and other.continuous
    if op == "+":
        return Gen(s + other.sched, lo + other.lo, hi + other.hi, both, g.decreasing and other.decreasing)
    if op == "*":
        return Gen(s * other.sched, lo * other.lo, hi * other.hi, both, False)
    if op == "+c":
        return Gen(s + c, lo + c, hi + c, cont, g.decreasing)
    if op == "*c":
        return Gen(c * s, lo * c, hi * c, cont, g.decreasing)
    if op == "min":
        return Gen(
            L.minimum(s, other.sched), min(lo, other.lo), min(hi, other.hi), both, g.decreasing and other.decreasing
        )
    return Gen(L.maximum(s, other.sched), max(lo, other.lo), max(hi, other.hi), both, g.decreasing and other.decreasing)


def _quantize(draw: st.DrawFn, g: Gen, children: Any, s: L.Schedule, lo: float, hi: float, cont: bool) -> Gen:
    return Gen(L.quantize(s, draw(lengths)), lo, hi, False, g.decreasing)


def _perturb(draw: st.DrawFn, g: Gen, children: Any, s: L.Schedule, lo: float, hi: float, cont: bool) -> Gen:
    a = draw(st.floats(0.0, 0.9))
    p = L.perturb(s, a, seed=draw(st.integers(0, 2**31 - 1)), every=draw(lengths))
    return Gen(p, lo * (1 - a), hi * (1 + a), False, False)


def _join(draw: st.DrawFn, g: Gen, children: Any, s: L.Schedule, lo: float, hi: float, cont: bool) -> Gen:
    others = draw(st.lists(children, min_size=1, max_size=3))
    bounds = sorted(draw(st.sets(st.floats(0.5, 300.0), min_size=len(others), max_size=len(others))))
    pieces = (g, *others)
    j = L.join(tuple(p.sched for p in pieces), bounds)
    return Gen(j, min(p.lo for p in pieces), max(p.hi for p in pieces), False, False)


COMBINATORS = {
    "warmup": _warmup,
    "cycle": _cycle,
    "shift": _shift,
    "clip": _clip,
    "arith": _arith,
    "quantize": _quantize,
    "perturb": _perturb,
    "join": _join,
}

schedules = st.recursive(primitives(), _combine, max_leaves=4)
STEP_COUNT = 16  # one array shape, so eager JAX compiles each operation once


def _pad(xs: list[float]) -> np.ndarray:
    return np.resize(np.asarray(xs, dtype=np.float64), STEP_COUNT)


steps = st.lists(
    st.one_of(st.integers(0, 1000), st.floats(0.0, 1000.0), st.floats(0.0, 1e7), st.integers(2**31, 2**45)),
    min_size=1,
    max_size=STEP_COUNT,
).map(_pad)


def _tol(g: Gen) -> float:
    return 1e-9 * max(abs(g.lo), abs(g.hi), 1e-300)


@given(schedules, steps)
def test_values_are_finite_and_within_the_documented_bounds(g: Gen, t: np.ndarray) -> None:
    values = g.sched(t)
    assert np.all(np.isfinite(values))
    assert np.all(values >= g.lo - _tol(g)) and np.all(values <= g.hi + _tol(g)), (values, g.lo, g.hi)
    scalars = np.array([g.sched(float(x)) for x in t])
    np.testing.assert_allclose(scalars, values, rtol=1e-12, atol=1e-12 * max(abs(g.hi), 1.0))


@given(st.one_of(*(st.composite(lambda draw, f=f: f(draw))() for f in PRIMITIVES.values())), steps)
def test_decays_never_increase(g: Gen, t: np.ndarray) -> None:
    if not g.decreasing:
        return
    values = g.sched(np.sort(t))
    assert np.all(np.diff(values) <= _tol(g) + 1e-12 * np.abs(values[:-1]))


@given(st.builds(lambda w, a, init: (w, a, init), lengths, positive, rates), steps)
def test_linear_and_exponential_warmups_rise_to_their_target(args: tuple[float, float, float], t: np.ndarray) -> None:
    w, target, init = args
    init = min(init, target)
    for shape in ("linear", "exponential") if init > 0 else ("linear",):
        s = L.warmup(L.constant(target), w, init, shape=shape)
        x = np.sort(np.clip(t, 0, w))
        v = s(x)
        assert np.all(np.diff(v) >= -1e-12 * target)
        assert s(0) == init and s(w) == pytest.approx(target, rel=1e-12)


@given(schedules, steps)
def test_scalar_equals_numpy_torch_and_jitted_jax_in_float64(g: Gen, t: np.ndarray) -> None:
    scalars = np.array([g.sched(float(x)) for x in t])
    atol = 1e-12 * max(abs(g.hi), 1.0)
    np.testing.assert_allclose(g.sched(torch.tensor(t, dtype=torch.float64)).numpy(), scalars, rtol=1e-12, atol=atol)
    with jax.enable_x64(True):
        np.testing.assert_allclose(np.asarray(jax.jit(g.sched)(jnp.asarray(t))), scalars, rtol=1e-12, atol=atol)


@given(schedules.filter(lambda g: g.continuous), steps)
def test_float32_backends_agree_on_continuous_schedules(g: Gen, t: np.ndarray) -> None:
    t = t.astype(np.float32).astype(np.float64)  # steps that float32 holds exactly
    scalars = np.array([g.sched(float(x)) for x in t])
    # float32 agreement: 2e-6 of the schedule's scale, plus what rounding the step (and the
    # shifted steps inside, up to ~400 away) by float32's 6e-8 does on a steep stretch.
    delta = 1e-2
    ahead = np.array([g.sched(float(x) + delta) for x in t])
    behind = np.array([g.sched(max(float(x) - delta, 0.0)) for x in t])
    slope = np.maximum(np.abs(ahead - scalars), np.abs(scalars - behind)) / delta
    tol = 2e-6 * max(abs(g.hi), abs(g.lo)) + 1e-6 * np.abs(scalars) + 4 * slope * 6e-8 * (t + 400)
    with np.errstate(all="ignore"):
        got = np.asarray(g.sched(jnp.asarray(t, dtype=jnp.float32)), dtype=np.float64)
        torch32 = g.sched(torch.tensor(t, dtype=torch.float32)).double().numpy()
    for out in (got, torch32):
        assert np.all(np.abs(out - scalars) <= tol), (out, scalars)


@given(schedules)
def test_value_semantics_of_random_schedules(g: Gen) -> None:
    s = g.sched
    assert L.from_config(json.loads(json.dumps(s.to_config()))) == s
    assert pickle.loads(pickle.dumps(s)) == s
    assert eval(repr(s), vars(L)) == s
    assert hash(L.from_json(json.dumps(s.to_config()))) == hash(s)


@pytest.mark.parametrize("name", sorted(L.registry()))
def test_strategies_reach_every_primitive_and_combinator(name: str) -> None:
    # A targeted search per name: coverage must not hinge on one random sample of the whole space.
    found = find(
        schedules,
        lambda g: f'"name": "{name}"' in json.dumps(g.sched.to_config()),
        settings=settings(max_examples=2000, database=None, derandomize=True),
    )
    assert f'"name": "{name}"' in json.dumps(found.sched.to_config())
