"""Properties every registered controller keeps, on random settings and hostile signal streams.

The controllers come from ``lrsched.controllers.registry()``, so one registered later is covered with no edit here
(and fails loudly if :func:`build` cannot make one). Settings are random perturbations of the defaults; streams mix
noisy walks, plateaus of exact ties, spikes, NaN/+-inf, 1e-300 and 1e300. What is checked, for each controller:

* the stateful closure (``lrsched.control``) equals the pure ``init``/``update`` loop bit for bit;
* NumPy, torch float64 and JAX x64 (``jit``, ``lax.scan``, ``vmap``) states equal the Python-number run within
  1e-12 relative; float32 states (NumPy, torch, JAX) within a stated tolerance on streams without near-ties;
* strict-JSON round trips of the config and of the closure's ``state_dict`` (the run continues exactly);
* documented bounds hold, and a finite LR never turns non-finite;
* named regressions from the controller issue (see each test's docstring).

Hypothesis runs derandomized (the ``lrsched`` profile of ``conftest.py``), so CI is deterministic.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from _controller_runs import pure_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrsched
from lrsched.controllers import Controller

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
torch = pytest.importorskip("torch")

REGISTRY: dict[
    str, type
] = {  # the library's controllers (test files register test-only ones, e.g. test_greedy_protocol)
    name: cls for name, cls in lrsched.controllers.registry().items() if cls.__module__.startswith("lrsched.")
}
NAMES = sorted(REGISTRY)
FEW = settings(max_examples=3, suppress_health_check=list(HealthCheck))  # JAX compiles per example
SOME = settings(max_examples=15, suppress_health_check=list(HealthCheck))
SPECIAL = (math.nan, math.inf, -math.inf, 1e-300, -1e-300, 1e300, -1e300, 0.0, -0.0, 5e-324)


# -- the generic builder ------------------------------------------------------------------------------------------
def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


def _has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING  # type: ignore[misc]


def _is_wrapper(cls: type) -> bool:
    """A controller over a schedule (``on_schedule``, ``greedy_on``): fields ``base`` and ``controller``."""
    return {"base", "controller"} <= set(_fields(cls))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _perturb(c: Any, draw: st.DrawFn | None) -> Any:
    """``c`` with its numeric defaulted fields moved around their values, one field at a time; a value the
    constructor refuses (``ValueError``) is skipped, so the result is always a valid controller."""
    if draw is None:
        return c
    for name, f in _fields(type(c)).items():
        value = getattr(c, name)
        if not _has_default(f) or isinstance(value, Controller) or name == "base":
            continue
        if value is None:  # an optional knob: sometimes give it a value (the constructor judges it)
            new = draw(st.sampled_from([None, None, 1, 3, 40, 0.5, 2.0, 1e-3]))
            errors: tuple[type[Exception], ...] = (ValueError, TypeError)
        elif isinstance(value, int) and _is_number(value):
            new = max(0, value + draw(st.integers(-2, 3)))
            errors = (ValueError,)
        elif isinstance(value, float) and value > 0:
            new = value * math.exp(draw(st.floats(-1.5, 1.5)))  # log-uniform within a factor e**1.5
            errors = (ValueError,)
        elif isinstance(value, float) and value == 0.0:
            new = draw(st.sampled_from([0.0, 0.0, 1e-6, 1e-3, 0.05]))
            errors = (ValueError,)
        else:
            continue
        try:
            c = dataclasses.replace(c, **{name: new})
        except errors:
            pass
    return c


def _with_init_lr(cls: type, draw: st.DrawFn | None) -> dict[str, Any]:
    if "init_lr" in _fields(cls) and _fields(cls)["init_lr"].default is None:
        return {"init_lr": 0.1 if draw is None else draw(st.sampled_from([1e-4, 3e-3, 0.1, 1.0]))}
    return {}


def build(name: str, draw: st.DrawFn | None = None) -> Controller:
    """A valid controller of the registered class ``name``: its defaults (``draw=None``) or random settings."""
    cls = REGISTRY[name]
    try:
        if _is_wrapper(cls):
            inner = _perturb(lrsched.GreedyLR(init_lr=1.0, patience=1, min_lr=0.1, max_lr=3.0), draw)  # g_0 = 1.0
            base: Any = lrsched.warmup(lrsched.cosine_decay(1e-3, 90), warmup_steps=10)
            if draw is not None and draw(st.booleans()):
                base = lrsched.constant(draw(st.sampled_from([0.5, 1e-3])))
            start = 10 if draw is None else draw(st.integers(0, 12))
            return cls(base=base, controller=inner, start_step=start)
        if callable(getattr(cls, "default", None)):
            c = cls.default()
            return _perturb(dataclasses.replace(c, **_with_init_lr(cls, draw)), draw)
        if all(_has_default(f) for f in _fields(cls).values()):
            return _perturb(cls(**_with_init_lr(cls, draw)), draw)
    except Exception as exc:  # reported with the class, then failed
        pytest.fail(f"the generic builder could not build registered controller {name!r} ({cls.__name__}): {exc!r}")
    pytest.fail(
        f"registered controller {name!r} ({cls.__name__}) has fields without defaults and no `default()` "
        "classmethod: teach build() in tests/test_controller_properties.py how to make one"
    )


@st.composite
def controllers(draw: st.DrawFn, name: str) -> Controller:
    return build(name, draw)


# -- signal streams -----------------------------------------------------------------------------------------------
def _segments(rng: np.random.Generator, kinds: list[str], n: int, hostile: bool) -> list[float]:
    x, out = 1.0, []
    for kind in kinds:
        if kind == "walk":
            for _ in range(int(rng.integers(3, 40))):
                x = x * math.exp(0.2 * rng.normal())
                out.append(x)
        elif kind == "down":  # a run of improvements
            for _ in range(int(rng.integers(3, 40))):
                x *= 0.9
                out.append(x)
        elif kind == "plateau":  # exact ties
            out.extend([x] * int(rng.integers(2, 15)))
        elif kind == "spike":
            out.append(x * (1e3 if rng.random() < 0.5 else 1e-3))
        elif kind == "flip":
            x = -x
            out.append(x)
        elif kind == "special" and hostile:
            out.append(SPECIAL[int(rng.integers(len(SPECIAL)))])
        elif kind == "tiny" and hostile:
            out.extend(1e-300 * (1.0 + rng.random(int(rng.integers(1, 6)))))
        elif kind == "huge" and hostile:
            out.extend(1e300 * (1.0 + rng.random(int(rng.integers(1, 6)))))
    out = [float(v) for v in out] or [1.0]
    while len(out) < n:
        out = out + out
    return out[:n]


KINDS = ["walk", "down", "plateau", "spike", "flip", "special", "tiny", "huge"]


@st.composite
def streams(draw: st.DrawFn, names: tuple[str, ...], max_len: int = 120, hostile: bool = True) -> list[dict]:
    """``n`` updates of the ``names`` signals, each signal its own mix of segments (a seed drives the values)."""
    n = draw(st.integers(1, max_len))
    columns = {}
    for name in names:
        kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=8))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        columns[name] = _segments(rng, kinds, n, hostile)
    return [{k: columns[k][t] for k in names} for t in range(n)]


def stream_for(c: Controller, n: int, seed: int, hostile: bool = True) -> list[dict]:
    rng = np.random.default_rng(seed)
    columns = {k: _segments(rng, list(rng.choice(KINDS, 60)), n, hostile) for k in c.signals}
    return [{k: columns[k][t] for k in c.signals} for t in range(n)]


# -- runs ---------------------------------------------------------------------------------------------------------
def _key(x: Any) -> Any:
    """Bit-level identity of a number (``-0.0`` and ``0.0`` differ, NaN equals NaN), nested tuples too."""
    if isinstance(x, (tuple, list)):
        return tuple(_key(v) for v in x)
    return float(x).hex()


def _leaves(x: Any) -> list[float]:
    if isinstance(x, (tuple, list)):
        return [v for item in x for v in _leaves(item)]
    if hasattr(x, "shape") and tuple(x.shape):
        return [float(v) for v in np.asarray(x.tolist() if hasattr(x, "tolist") else x, dtype=np.float64).ravel()]
    return [float(x)]


def _close(actual: Any, expected: Any, rtol: float, what: str) -> None:
    """``actual`` equals ``expected`` within ``rtol`` relative (NaN = NaN, same infinities), leaf by leaf."""
    a, e = np.asarray(_leaves(actual)), np.asarray(_leaves(expected))
    assert a.shape == e.shape, f"{what}: {a.shape} leaves != {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=0, equal_nan=True, err_msg=what)


def _scaled_close(actual: Any, expected: Any, rtol: float, what: str) -> None:
    """Within ``rtol`` of ``max(|expected|, largest |expected| of the run)``: rounding measured against the run's
    size, not against a value that came near zero by cancellation."""
    a, e = np.asarray(_leaves(actual)), np.asarray(_leaves(expected))
    assert a.shape == e.shape, f"{what}: {a.shape} != {e.shape}"
    finite = np.isfinite(e)
    assert np.array_equal(np.isfinite(a), finite), f"{what}: non-finite values differ"
    scale = np.max(np.abs(e[finite])) if finite.any() else 0.0
    err = np.abs(a[finite] - e[finite])
    bad = np.flatnonzero(err > rtol * np.maximum(np.abs(e[finite]), scale))
    assert bad.size == 0, f"{what}: {bad.size} values off by more than {rtol:g} (first at {bad[0]})"


def _array_run(c: Controller, stream: list[dict], like: Any, convert: Callable[[float], Any]) -> tuple[list, Any]:
    state = c.init(like=like)
    lrs = []
    for signals in stream:
        state = c.update(state, {k: convert(v) for k, v in signals.items()})
        lrs.append(c.lr(state))
    return lrs, state


def _jax_columns(c: Controller, streams_: list[list[dict]], dtype: Any) -> dict[str, Any]:
    return {k: jnp.asarray([[s[k] for s in stream] for stream in streams_], dtype=dtype) for k in c.signals}


def _jax_scan(c: Controller, init: Any, columns: dict[str, Any], length: int) -> tuple[Any, Any]:
    """``length``: the updates (a controller may read no signal, LRTuner, and then there are no columns)."""

    def body(state: Any, signals: dict[str, Any]) -> tuple[Any, Any]:
        state = c.update(state, signals)
        return state, c.lr(state)

    return jax.lax.scan(body, init, columns, length=length)


def _batched(state: Any, n: int) -> Any:
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *jnp.shape(x))), state)


# -- the closure is the pure rule ---------------------------------------------------------------------------------
def _closure_equals_pure(c: Controller, stream: list[dict]) -> list[Any]:
    """The closure's LRs over ``stream``, asserted equal to the pure run's bit for bit, its final state too."""
    expected, final = pure_run(c, stream)
    sched = lrsched.control(c)
    got = [sched(**signals) for signals in stream]
    assert [_key(x) for x in got] == [_key(x) for x in expected]
    assert _key(tuple(sched.state)) == _key(tuple(final))
    return got


@pytest.mark.parametrize("name", NAMES)
@SOME
@given(data=st.data())
def test_closure_equals_the_pure_update_bit_for_bit(name: str, data: st.DataObject) -> None:
    c = data.draw(controllers(name))
    _closure_equals_pure(c, data.draw(streams(c.signals)))


@pytest.mark.parametrize("name", NAMES)
@SOME
@given(data=st.data())
def test_every_update_advances_the_step_by_one(name: str, data: st.DataObject) -> None:
    """``state.step`` counts updates (the protocol), NaN/inf signals included; ``sched.t`` is that count."""
    c = data.draw(controllers(name))
    stream = data.draw(streams(c.signals, max_len=30))
    state, sched = c.init(), lrsched.control(c)
    for t, signals in enumerate(stream, start=1):
        state = c.update(state, signals)
        sched(**signals)
        assert (int(state.step), sched.t) == (t, t), f"after update {t} of {c!r}: {signals}"


@pytest.mark.parametrize("name", NAMES)
def test_long_stream_closure_equals_pure_and_stays_finite(name: str) -> None:
    c = build(name)
    got = _closure_equals_pure(c, stream_for(c, 3000, seed=11))
    assert all(math.isfinite(v) for v in _leaves(got)), "a finite initial LR turned non-finite"


# -- backends -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@SOME
@given(data=st.data())
def test_numpy_and_torch_float64_states_equal_python(name: str, data: st.DataObject) -> None:
    c = data.draw(controllers(name))
    stream = data.draw(streams(c.signals, max_len=60))
    expected, final = pure_run(c, stream)
    for backend, like, convert in (
        ("numpy", np.zeros((), np.float64), lambda v: np.asarray(v, np.float64)),
        ("torch", torch.zeros((), dtype=torch.float64), lambda v: torch.tensor(v, dtype=torch.float64)),
    ):
        lrs, state = _array_run(c, stream, like, convert)
        _close(lrs, expected, 1e-12, f"{backend} float64 LRs of {c!r}")
        _close(tuple(state), tuple(final), 1e-12, f"{backend} float64 final state of {c!r}")


@pytest.mark.parametrize("name", NAMES)
@FEW
@given(data=st.data())
def test_jax_x64_jit_scan_and_vmap_equal_python(name: str, data: st.DataObject) -> None:
    c = data.draw(controllers(name))
    runs = [data.draw(streams(c.signals, max_len=40)) for _ in range(2)]
    n = min(len(r) for r in runs)
    runs = [r[:n] for r in runs]
    expected = [pure_run(c, r) for r in runs]
    with jax.enable_x64(True):
        init = c.init(like=jnp.zeros((), jnp.float64))
        columns = _jax_columns(c, runs, jnp.float64)
        final, lrs = jax.jit(lambda s, x: _jax_scan(c, s, x, n))(init, {k: v[0] for k, v in columns.items()})
        _close(lrs, expected[0][0], 1e-12, f"jit(scan) LRs of {c!r}")
        _close(tuple(final), tuple(expected[0][1]), 1e-12, f"jit(scan) final state of {c!r}")
        finals, lrs = jax.jit(jax.vmap(lambda s, x: _jax_scan(c, s, x, n)))(_batched(init, 2), columns)
        for i, (lrs_i, final_i) in enumerate(expected):
            _close(jax.tree.map(lambda x, i=i: x[i], lrs), lrs_i, 1e-12, f"vmap run {i} LRs of {c!r}")
            _close(tuple(jax.tree.map(lambda x, i=i: x[i], finals)), tuple(final_i), 1e-12, f"vmap run {i} state")


# Float32 states round every operation to 24 bits; over a run of 60 updates of exp/log/tanh/products the LR may
# drift by some hundred float32 ulps (1 ulp = 6e-8). 1e-5 relative to the run's largest LR bounds that with margin,
# and is far below any change a controller makes (>= a few percent). The stream has no near-ties: its values are
# dyadic (exact in float32) and at least 10% apart, so no discrete decision can flip.
FLOAT32_RTOL = 1e-5


def _dyadic_stream(c: Controller, n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    values = [2.0**k * m for k in range(-2, 3) for m in (1.0, 1.25, 1.5, 1.75)]
    return [{k: float(values[int(rng.integers(len(values)))]) * (1 if k != "grad_dot_prev_direction" else
                                                                  float(rng.choice([-1.0, 1.0])))
             for k in c.signals} for _ in range(n)]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_float32_states_equal_python_within_the_stated_tolerance(name: str) -> None:
    c = build(name)
    stream = _dyadic_stream(c, 60, seed=3)
    expected, _ = pure_run(c, stream)
    runs = {
        "numpy": _array_run(c, stream, np.zeros((), np.float32), lambda v: np.asarray(v, np.float32))[0],
        "torch": _array_run(
            c, stream, torch.zeros((), dtype=torch.float32), lambda v: torch.tensor(v, dtype=torch.float32)
        )[0],
    }
    columns = {k: v[0] for k, v in _jax_columns(c, [stream], jnp.float32).items()}
    runs["jax"] = jax.jit(lambda s, x: _jax_scan(c, s, x, len(stream)))(
        c.init(like=jnp.zeros((), jnp.float32)), columns
    )[1]
    for backend, lrs in runs.items():
        _scaled_close(lrs, expected, FLOAT32_RTOL, f"{backend} float32 LRs of {c!r}")


# -- strict JSON --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@SOME
@given(data=st.data())
def test_strict_json_round_trips_of_config_and_state_dict(name: str, data: st.DataObject) -> None:
    c = data.draw(controllers(name))
    config = json.loads(json.dumps(c.to_config(), allow_nan=False))
    rebuilt = lrsched.from_config(config)
    assert rebuilt == c and type(rebuilt) is type(c)
    stream = data.draw(streams(c.signals))
    cut = data.draw(st.integers(0, len(stream)))
    sched = lrsched.control(c)
    for signals in stream[:cut]:
        sched(**signals)
    text = json.dumps(sched.state_dict(), allow_nan=False)
    resumed = lrsched.control(lrsched.from_config(config))
    resumed.load_state_dict(json.loads(text))
    for signals in stream[cut:]:
        assert _key(resumed(**signals)) == _key(sched(**signals))
    assert _key(tuple(resumed.state)) == _key(tuple(sched.state))


# -- bounds and finiteness ----------------------------------------------------------------------------------------
def _bounds(c: Any, lr0: float) -> tuple[Any, Any]:
    """The documented bounds of the LR (or of the multiplier, for a controller over a schedule)."""
    fields = _fields(type(c))
    if "min_lr" in fields or "max_lr" in fields:
        lo = getattr(c, "min_lr", 0.0)
        hi = getattr(c, "max_lr", None)
        return (-math.inf if lo is None else lo), (math.inf if hi is None else hi)  # None: unbounded
    if "min_scale" in fields:  # LearnedLR: lr0 * min_scale <= lr / base(t) <= lr0 * max_scale, base(t) in [0, 1]
        return 0.0, lr0 * c.max_scale * (1 + 1e-12)
    if "h_min" in fields:  # GapAware: base_lr * h_min <= lr <= base_lr * f_max
        return lr0 * c.h_min * (1 - 1e-12), lr0 * c.f_max * (1 + 1e-12)
    return 0.0, math.inf


def _within(values: Any, lo: Any, hi: Any) -> bool:
    vals = values if isinstance(values, tuple) else (values,)
    return all(
        (lo[i] if isinstance(lo, tuple) else lo) <= v <= (hi[i] if isinstance(hi, tuple) else hi)
        for i, v in enumerate(vals)
    )


@pytest.mark.parametrize("name", NAMES)
@SOME
@given(data=st.data())
def test_documented_bounds_hold_and_the_lr_stays_finite(name: str, data: st.DataObject) -> None:
    c = data.draw(controllers(name))
    stream = data.draw(streams(c.signals, max_len=200))
    inner = c.controller if isinstance(getattr(c, "controller", None), Controller) else c
    state = c.init()
    lr0 = inner.lr(state)
    start = getattr(inner, "init_lr", None)  # lr0 of the bounds (the first LR may already carry a warmup factor)
    lo, hi = _bounds(inner, start if isinstance(start, float) else 1.0)
    bounded = _within(lr0, lo, hi)  # an initial LR outside the bounds: see the refusal test below
    for t, signals in enumerate(stream):
        state = c.update(state, signals)
        lr, g = c.lr(state), inner.lr(state)
        assert all(math.isfinite(v) for v in _leaves(lr)), f"update {t}: the LR of {c!r} became {lr!r}"
        if bounded:
            assert _within(g, lo, hi), f"update {t}: {g!r} outside [{lo!r}, {hi!r}] for {c!r}"


@pytest.mark.parametrize("name", [n for n in NAMES if "min_lr" in _fields(REGISTRY[n])])
def test_an_initial_lr_outside_the_bounds_is_refused(name: str) -> None:
    """Where ``min_lr`` bounds the LR, a starting LR below it is refused (GreedyLR, Hypergradient, ABEL do)."""
    with pytest.raises(ValueError, match="lr"):
        REGISTRY[name](init_lr=0.01, min_lr=0.1)


def test_greedy_without_max_lr_stays_finite_over_a_long_run_of_improvements() -> None:
    """``max_lr=None``: 1200 consecutive improvements double the LR 1200 times; it must stay a finite number."""
    g = lrsched.GreedyLR(init_lr=1.0, factor=0.5, patience=0, max_lr=None)
    losses = [1e300 * 0.9**t for t in range(1200)]  # each 10% below the last: an improvement every time
    sched = lrsched.control(g)
    lrs = [sched(x) for x in losses]
    assert lrs[0] == 2.0  # it does increase
    assert all(math.isfinite(x) for x in lrs), f"the LR became {lrs[-1]!r}"


# -- named regressions --------------------------------------------------------------------------------------------
def test_greedy_threshold_decision_on_a_torch_float64_state_matches_python() -> None:
    """threshold=0.1 ('rel'): 0.89999999 improves on a best of 1.0 (it is below 1.0 * (1 - 0.1) = 0.9), so with
    patience 0 and factor 0.5 both values raise the LR: 0.1 -> 0.2 -> 0.4; a float64 tensor state must agree."""
    assert 0.89999999 < 1.0 * (1.0 - 0.1)  # the rule's comparison, in float64
    expected = 0.1 / 0.5 / 0.5
    g = lrsched.GreedyLR(init_lr=0.1, patience=0, factor=0.5, threshold=0.1)
    python = pure_run(g, [{"loss": 1.0}, {"loss": 0.89999999}])[0]
    state = g.init(like=torch.zeros((), dtype=torch.float64))
    for x in (1.0, 0.89999999):
        state = g.update(state, torch.tensor(x, dtype=torch.float64))
    assert python[-1] == expected
    assert state.lr.dtype == torch.float64
    assert float(state.lr) == expected


def test_abel_decay_on_a_torch_float64_state_is_exactly_lr_times_factor() -> None:
    """Norms 3, 2, 1, 1.5, 2, 1.9 bounce at 1 and stop rising at 2: one decay, lr * 0.3 in float64."""
    abel = lrsched.ABEL(init_lr=0.7, factor=0.3)
    state = abel.init(like=torch.zeros((), dtype=torch.float64))
    for norm in (3.0, 2.0, 1.0, 1.5, 2.0, 1.9):
        state = abel.update(state, {"param_norm": torch.tensor(norm, dtype=torch.float64)})
    assert state.lr.dtype == torch.float64
    assert float(state.lr) == 0.7 * 0.3


def test_on_schedule_on_a_torch_float64_state_evaluates_the_base_in_float64() -> None:
    """The float64 state must give the Python-number run's LRs exactly (the base schedule evaluated in float64:
    a float64 tensor step gives the same values as a Python step)."""
    base = lrsched.warmup(lrsched.cosine_decay(1e-3, 90), warmup_steps=10)
    assert all(base(torch.tensor(float(t), dtype=torch.float64)).item() == base(t) for t in range(40))
    on = lrsched.on_schedule(base, lrsched.GreedyLR(patience=1, min_lr=0.1, max_lr=3.0), start_step=10)
    stream = [{"loss": 1.0 / (1 + t % 7)} for t in range(40)]
    expected, _ = pure_run(on, stream)
    lrs, _ = _array_run(on, stream, torch.zeros((), dtype=torch.float64), lambda v: torch.tensor(v).double())
    assert all(x.dtype == torch.float64 for x in lrs)
    assert [float(x) for x in lrs] == expected


@pytest.mark.parametrize("bad", ["grad_norm", "prev_direction_norm"])
def test_multiplicative_hypergradient_with_a_nan_norm_leaves_the_lr_unchanged(bad: str) -> None:
    """'NaN/inf signals leave the LR unchanged' (module docstring), also a NaN norm of the multiplicative rule."""
    hd = lrsched.Hypergradient(init_lr=0.1, beta=0.5, mode="multiplicative")
    signals = {"grad_dot_prev_direction": 1.0, "grad_norm": 1.0, "prev_direction_norm": 1.0, bad: math.nan}
    assert hd.lr(hd.update(hd.init(), signals)) == 0.1
    assert lrsched.control(hd)(**signals) == 0.1


def test_lrtuner_explore_keeps_the_best_finite_candidate_when_another_returns_minus_inf() -> None:
    """Candidates 0.05, 0.1, 0.2; the look-ahead of 0.2 diverges to -inf, the finite losses are 0 (0.05) and
    0.0025 (0.1): 'the candidate with the lowest finite loss' is 0.05."""
    tuner = lrsched.LRTuner(init_lr=0.1, factors=(0.5, 1.0, 2.0))

    def lookahead(lr: float, steps: int) -> float:
        return -math.inf if lr == 0.2 else (lr - 0.05) ** 2

    assert tuner.explore(tuner.init(), lookahead).lr == 0.1 * 0.5


@pytest.mark.parametrize("wrapped", [False, True], ids=["learned", "on_schedule_learned"])
def test_learned_counts_a_nan_loss_before_the_first_finite_one_as_an_update(wrapped: bool) -> None:
    """``state.step`` advances by one per update, NaN or not: on a schedule the clock would otherwise run late."""
    c: Any = lrsched.LearnedLR.default(budget=50, init_lr=0.1)
    if wrapped:
        c = lrsched.on_schedule(lrsched.warmup(lrsched.cosine_decay(1e-3, 90), warmup_steps=10), c, start_step=2)
    state = c.init()
    sched = lrsched.control(c)
    for t, loss in enumerate([math.nan, math.nan, 2.0, 1.5, math.nan, 1.2], start=1):
        state = c.update(state, loss)
        sched(loss)
        assert int(state.step) == t
        assert sched.t == t


class _Reading(dict):
    """Every signal of :data:`lrsched.controllers.SIGNALS` (1.0), recording which ones a rule reads."""

    def __init__(self) -> None:
        super().__init__({name: 1.0 for name in lrsched.controllers.SIGNALS})
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)


@pytest.mark.parametrize("name", NAMES)
@SOME
@given(data=st.data())
def test_a_controller_declares_exactly_the_signals_its_rule_reads(name: str, data: st.DataObject) -> None:
    """Adapters measure what is declared: a signal declared and never read costs a measurement for nothing (LRTuner
    declared the loss), one read and not declared is never measured."""
    from lrsched._core.backend import PYTHON

    c = data.draw(controllers(name))
    signals = _Reading()
    c.rule(c.init(), signals, PYTHON)
    assert signals.read == set(c.signals), f"{c!r} declares {c.signals} and reads {sorted(signals.read)}"


def test_a_controller_that_reads_no_signal_runs_through_update_control_and_optax() -> None:
    """LRTuner declares no signal: ``update(state, loss)``, ``update(state, {})``, the closure with or without a
    loss, and a jitted ``update`` each count one update and leave the LR."""
    tuner = lrsched.LRTuner(init_lr=0.1, interval=3)
    assert tuner.signals == ()
    state = tuner.update(tuner.update(tuner.init(), 2.0), {})
    assert (state.lr, state.step) == (0.1, 2)
    sched = lrsched.control(tuner)
    assert [sched(1.0), sched(), sched(0.5)] == [0.1, 0.1, 0.1] and sched.t == 3
    jax = pytest.importorskip("jax")
    jstate = jax.jit(tuner.update)(tuner.init(like=jax.numpy.zeros(())), {"loss": 1.0})
    assert int(jstate.step) == 1


@pytest.mark.parametrize("name", NAMES)
@SOME
@given(data=st.data())
def test_signals_off_the_signal_interval_are_not_read(name: str, data: st.DataObject) -> None:
    """``signal_interval``: an adapter may pass NaN for the measured signals on the updates where
    ``(step + 1) % signal_interval != 0``; the LRs and states stay bit for bit the same."""
    c = data.draw(controllers(name))
    stream = data.draw(streams(c.signals, max_len=120))
    k = c.signal_interval
    skipped = [
        s if (t + 1) % k == 0 else {n: (v if n == "loss" else math.nan) for n, v in s.items()}
        for t, s in enumerate(stream)
    ]
    lrs, state = pure_run(c, stream)
    lrs_skipped, state_skipped = pure_run(c, skipped)
    assert _key(lrs_skipped) == _key(lrs) and _key(tuple(state_skipped)) == _key(tuple(state))


@SOME
@given(interval=st.integers(2, 9), data=st.data())
def test_abels_signal_interval_holds_for_every_interval(interval: int, data: st.DataObject) -> None:
    c = lrsched.ABEL(init_lr=1.0, factor=0.5, interval=interval)
    stream = data.draw(streams(c.signals, max_len=120))
    skipped = [s if (t + 1) % interval == 0 else {"param_norm": math.nan} for t, s in enumerate(stream)]
    assert _key(pure_run(c, skipped)[0]) == _key(pure_run(c, stream)[0])
