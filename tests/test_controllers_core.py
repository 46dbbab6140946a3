"""Helper K's controllers (hypergradient, ABEL, gap-aware, LRTuner): one pure update on every backend, configs,
validation. Each controller's behaviour has its own test file."""

from __future__ import annotations

import json
import math
import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lrsched
from lrsched.controllers import ABEL, GapAware, Hypergradient, LRTuner


def _stream(name: str, n: int = 60, seed: int = 0) -> list[dict[str, float]]:
    """A signal stream that exercises each controller's branches (random, with a NaN)."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(n):
        norm = 5.0 - 3.0 * math.exp(-(((t - 20) / 8.0) ** 2)) + 0.05 * rng.normal()  # falls, bounces, rises
        out.append(
            {
                "loss": float(math.log(4.0) + 0.4 * math.sin(t / 4.0) + 0.05 * rng.normal()),
                "grad_dot_prev_direction": float(rng.normal()) if t else 0.0,
                "grad_norm": float(abs(rng.normal()) + 0.1),
                "prev_direction_norm": float(abs(rng.normal()) + 0.1) if t else 0.0,
                "param_norm": float(norm),
            }
        )
    out[n // 2] = {k: math.nan for k in out[0]}
    return out


CONTROLLERS = {
    "hd_additive": Hypergradient(init_lr=0.1, beta=0.01, min_lr=0.01, max_lr=0.3),
    "hd_multiplicative": Hypergradient(init_lr=0.1, beta=0.05, mode="multiplicative"),
    "abel": ABEL(init_lr=1.0, factor=0.5, interval=2, total_steps=50),
    "gap_aware": GapAware(init_lr=1e-3, ema_decay=0.5),
    "lrtuner": LRTuner(init_lr=0.1, interval=5),
}


def _python_lrs(c, stream):
    state, lrs = c.init(), []
    for sig in stream:
        state = c.update(state, {k: sig[k] for k in c.signals})
        lrs.append(c.lr(state))
    return np.array(lrs)


def _arrays(c, stream, module, dtype):
    return {k: module.asarray([s[k] for s in stream], dtype=dtype) for k in c.signals}


@pytest.mark.parametrize("name", list(CONTROLLERS))
def test_python_jit_scan_vmap_and_torch_give_the_same_lrs(name: str) -> None:
    c, stream = CONTROLLERS[name], _stream(name)
    expected = _python_lrs(c, stream)
    if name != "lrtuner":  # LRTuner's update only counts; its LR moves in explore() (test_lrtuner.py)
        assert len(set(expected.tolist())) > 1, "the stream must move the LR"
    with jax.enable_x64(True):
        signals = _arrays(c, stream, jnp, jnp.float64)

        def body(state, sig):
            state = c.update(state, sig)
            return state, c.lr(state)

        init = c.init(like=jnp.zeros((), jnp.float64))
        n = len(stream)  # scan's length: a controller may read no signal (LRTuner)
        _, scanned = jax.jit(lambda s, x: jax.lax.scan(body, s, x, length=n))(init, signals)
        np.testing.assert_allclose(np.asarray(scanned), expected, rtol=1e-12, atol=0)
        # vmap: three copies of the stream, batched controllers
        batched = jax.tree.map(lambda x: jnp.broadcast_to(x, (3, *x.shape)), init)
        many = {k: jnp.broadcast_to(v, (3, *v.shape)).T for k, v in signals.items()}
        _, vm = jax.lax.scan(jax.vmap(body, axis_size=3), batched, many, length=n)
        np.testing.assert_allclose(np.asarray(vm), np.repeat(expected[:, None], 3, axis=1), rtol=1e-12, atol=0)
    tsig = _arrays(c, stream, torch, torch.float64)
    state, tl = c.init(like=torch.zeros((), dtype=torch.float64)), []
    for i in range(len(stream)):
        state = c.update(state, {k: v[i] for k, v in tsig.items()})
        assert isinstance(c.lr(state), torch.Tensor)
        tl.append(float(c.lr(state)))
    np.testing.assert_allclose(tl, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", list(CONTROLLERS))
def test_float32_jax_state_keeps_its_dtypes_and_tracks_float64(name: str) -> None:
    c, stream = CONTROLLERS[name], _stream(name)
    state = c.init(like=jnp.zeros((), jnp.float32))
    dtypes = jax.tree.map(lambda x: x.dtype, state)
    update = jax.jit(c.update)
    for sig in stream:
        state = update(state, {k: jnp.float32(sig[k]) for k in c.signals})
    assert jax.tree.map(lambda x: x.dtype, state) == dtypes
    assert float(c.lr(state)) == pytest.approx(_python_lrs(c, stream)[-1], rel=1e-4)


@pytest.mark.parametrize("name", list(CONTROLLERS))
def test_values_are_frozen_hashable_picklable_and_round_trip_json(name: str) -> None:
    c = CONTROLLERS[name]
    config = json.loads(json.dumps(c.to_config()))
    assert config["name"] == c.name
    rebuilt = lrsched.from_config(config)
    assert rebuilt == c and hash(rebuilt) == hash(c) and type(rebuilt) is type(c)
    assert pickle.loads(pickle.dumps(c)) == c
    assert repr(c).startswith(type(c).__name__ + "(")
    with pytest.raises(AttributeError):
        c.init_lr = 1.0  # type: ignore[misc]


def test_from_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match=r"unknown key.*'typo'"):
        lrsched.from_config({"name": "abel", "typo": 1})


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "message"),
    [
        (Hypergradient, {"beta": 0.0}, ValueError, r"beta must be in \(0.0, inf\), got 0.0"),
        (Hypergradient, {"beta": 1.5, "mode": "multiplicative"}, ValueError, r"beta must be in \(0.0, 1.0\)"),
        (Hypergradient, {"mode": "x"}, ValueError, "mode must be one of 'additive', 'multiplicative'"),
        (Hypergradient, {"min_lr": 0.5, "max_lr": 0.1}, ValueError, r"max_lr must be in \[0.5, inf\), got 0.1"),
        (
            Hypergradient,
            {"init_lr": 2.0, "max_lr": 1.0},
            ValueError,
            r"init_lr must lie in the controller's LR bounds \[0.0, 1.0\]",
        ),
        (Hypergradient, {"beta": "a"}, TypeError, "beta must be a real number"),
        (ABEL, {"factor": 1.0}, ValueError, r"factor must be in \(0.0, 1.0\), got 1.0"),
        (ABEL, {"interval": 0}, ValueError, r"interval must be in \[1, 2147483647\], got 0"),
        (ABEL, {"interval": 1.5}, TypeError, "interval must be an integer"),
        (ABEL, {"total_steps": 10, "final_fraction": 0.0}, ValueError, r"final_fraction must be in \(0.0, 1.0\]"),
        (GapAware, {"h_min": 0.0}, ValueError, r"h_min must be in \(0.0, 1.0\]"),
        (GapAware, {"f_max": 0.5}, ValueError, r"f_max must be in \[1.0, inf\)"),
        (GapAware, {"ideal_loss": 0.0}, ValueError, "x_min must be given"),
        (GapAware, {"ema_decay": 1.0}, ValueError, r"ema_decay must be in \[0.0, 1.0\)"),
        (LRTuner, {"factors": (1.0,)}, ValueError, "factors must hold 2 to 64 distinct values, got 1"),
        (LRTuner, {"factors": (1.0, -2.0)}, ValueError, r"factors\[1\] must be in \(0.0, inf\)"),
        (LRTuner, {"lookahead_steps": 0}, ValueError, r"lookahead_steps must be in \[1, 2147483647\]"),
    ],
)
def test_invalid_settings_raise_naming_parameter_value_and_range(cls, kwargs, error, message) -> None:
    with pytest.raises(error, match=f"{cls.__name__}: {message}"):
        cls(**kwargs)


def test_init_without_an_lr_and_missing_signals_are_named() -> None:
    with pytest.raises(ValueError, match="ABEL: no initial LR"):
        ABEL().init()
    c = Hypergradient(init_lr=0.1, mode="multiplicative")
    with pytest.raises(KeyError, match=r"signals 'grad_norm' are missing"):
        c.update(c.init(), {"grad_dot_prev_direction": 1.0, "prev_direction_norm": 1.0})


def test_declared_signals_are_protocol_signals() -> None:
    from lrsched.controllers import SIGNALS

    for c in CONTROLLERS.values():
        assert set(c.signals) <= set(SIGNALS)
    assert LRTuner().signals == ()  # its rule reads none: the look-ahead losses decide
    assert Hypergradient().signals == ("grad_dot_prev_direction",)
    assert ABEL().signals == ("param_norm",)


def test_a_number_is_the_loss_and_numpy_scalars_keep_a_python_state() -> None:
    c = GapAware(init_lr=1.0, ema_decay=0.0)
    s1 = c.update(c.init(), 3.0)
    s2 = c.update(c.init(), np.float64(3.0))
    s3 = c.update(c.init(), {"loss": np.asarray(3.0)})
    assert s1 == s2 == s3 and type(s2.lr) is float


_values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.sampled_from([math.nan, math.inf, -math.inf])
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(_values, _values, _values), min_size=1, max_size=40),
    st.sampled_from(["additive", "multiplicative"]),
)
def test_hypergradient_lr_stays_within_its_bounds_and_finite(stream, mode) -> None:
    hd = Hypergradient(init_lr=0.1, beta=0.5, mode=mode, min_lr=0.01, max_lr=1.0)
    state = hd.init()
    for h, gn, dn in stream:
        state = hd.update(state, {"grad_dot_prev_direction": h, "grad_norm": abs(gn), "prev_direction_norm": abs(dn)})
        assert 0.01 <= state.lr <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(_values, min_size=1, max_size=60), st.integers(1, 4), st.integers(1, 80) | st.none())
def test_abel_lr_never_rises_and_stays_above_min_lr(norms, interval, total) -> None:
    abel = ABEL(init_lr=1.0, factor=0.5, interval=interval, total_steps=total, min_lr=1e-3)
    state, last = abel.init(), 1.0
    for n in norms:
        state = abel.update(state, {"param_norm": n})
        assert 1e-3 <= state.lr <= last
        last = state.lr


@settings(max_examples=60, deadline=None)
@given(st.lists(_values, min_size=1, max_size=40), st.floats(0.0, 0.99))
def test_gap_aware_lr_stays_within_h_min_and_f_max_times_the_base(losses, decay) -> None:
    gap = GapAware(init_lr=2.0, ema_decay=decay, h_min=0.25, f_max=3.0)
    state = gap.init()
    for loss in losses:
        state = gap.update(state, loss)
        assert 2.0 * 0.25 - 1e-12 <= state.lr <= 2.0 * 3.0 + 1e-12


@pytest.mark.parametrize("name", [*CONTROLLERS, "greedy", "learned"])
def test_the_closure_is_compiled_and_equals_the_pure_update(name: str) -> None:
    """``lrsched.control`` compiles every shipped controller's rule (no fallback to calling ``update``)."""
    from lrsched.controllers._compile import compile_controller

    extra = {"greedy": lrsched.GreedyLR(init_lr=0.1, window=3, patience=2), "learned": lrsched.LearnedLR.default()}
    c = extra.get(name) or CONTROLLERS[name]
    lr0 = 0.1 if c.init_lr is None else None
    assert compile_controller(c, c.init(lr0)) is not None
    sched, stream = lrsched.control(c, lr0), _stream(name, n=80)
    lrs = [sched(**{k: sig[k] for k in c.signals}) for sig in stream]
    state = c.init(lr0)
    expected = []
    for sig in stream:
        state = c.update(state, {k: sig[k] for k in c.signals})
        expected.append(c.lr(state))
    assert lrs == expected  # the same operations in the same order: bit for bit
    assert len(set(lrs)) > 1 or name == "lrtuner", "the stream never moved the LR"  # LRTuner moves in explore()


def test_init_checks_a_number_and_passes_a_traced_or_array_lr_through() -> None:
    """The initial-LR range check reads the value, so it applies to numbers only; a scalar array (a tracer under
    ``jax.jit``/``vmap``) is taken as is and gives a state of its backend."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    hd = Hypergradient(min_lr=0.01, max_lr=1.0)
    with pytest.raises(ValueError, match=r"Hypergradient: lr must lie in the controller's LR bounds \[0.01, 1.0\]"):
        hd.init(5.0)
    with pytest.raises(ValueError, match=r"Hypergradient: lr must lie in the controller's LR bounds \[0.01, 1.0\]"):
        hd.init(np.float32(5.0))  # a NumPy scalar is a number
    lrs = jax.jit(jax.vmap(lambda lr: hd.lr(hd.update(hd.init(lr), {"grad_dot_prev_direction": -1.0}))))(
        jnp.asarray([0.1, 0.2, 0.3])
    )
    assert np.allclose(np.asarray(lrs), [0.101, 0.201, 0.301])
    state = ABEL().init(jnp.asarray(0.5, jnp.float32))
    assert all(isinstance(v, jax.Array) for v in state) and state.lr.dtype == jnp.float32
    batch = ABEL(factor=0.5).init(np.asarray([1.0, 2.0]))  # NumPy: a leading axis of runs, one per starting LR
    assert batch.lr.shape == (2,) and batch.lr.dtype == np.float64
