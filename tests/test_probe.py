"""ProbeLR (issue 21): the rule by hand, the same numbers on every backend and through every adapter."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _controller_runs import pure_run, torch_sgd_lrs

import lrsched
from lrsched.controllers import ProbeLR

# A loss that falls while the probe's LR is small and blows up past step 14, with a little noise.
_RNG = np.random.default_rng(0)
LOSSES = [
    float(2.0 * math.exp(-0.05 * t) + (0.0 if t < 14 else 0.4 * (t - 14)) + 0.01 * _RNG.normal()) for t in range(120)
]
CTRL = ProbeLR(init_lr=0.1, budget=120, probe=0.25, smoothing=0.1, backoff=2.0, shape="linear", anneal="end", noise=0.0)


def _pure(c: ProbeLR, losses: list[float]) -> list[float]:
    return pure_run(c, losses)[0]


def test_the_probe_rises_geometrically_stops_on_the_rise_then_decays_to_zero() -> None:
    lrs = [CTRL.lr(CTRL.init()), *_pure(CTRL, LOSSES)]
    p = CTRL.probe_steps
    g = (CTRL.high / CTRL.low) ** (1 / p)
    stop = next(t for t in range(1, len(lrs)) if lrs[t] < lrs[t - 1])
    assert 14 < stop < p  # after the blow-up began, before the probe's end
    np.testing.assert_allclose(lrs[:stop], [0.1 * CTRL.low * g**t for t in range(stop)], rtol=1e-12)
    s = CTRL.init()
    for loss in LOSSES[:stop]:
        s = CTRL.update(s, loss)
    assert s.probing == 0.0 and s.peak == pytest.approx(s.best_lr / CTRL.backoff, rel=1e-15)
    assert s.best_lr in lrs[:stop]
    stable = lrs[stop : CTRL.budget - round(CTRL.decay * CTRL.budget)]
    assert stable and all(v == s.peak for v in stable)
    assert lrs[CTRL.budget - 1] == pytest.approx(s.peak / (CTRL.decay * CTRL.budget))  # linear anneal, to 0 at B
    assert lrs[CTRL.budget] == 0.0


def test_a_non_finite_loss_stops_the_probe_and_later_halves_the_peak() -> None:
    c = ProbeLR(init_lr=1.0, budget=100, noise=0.0)
    s = c.init()
    for loss in (3.0, 2.0, math.nan):
        s = c.update(s, loss)
    assert s.probing == 0.0 and s.peak == s.best_lr / c.backoff
    peak = s.peak
    s = c.update(s, math.inf)
    assert s.peak == 0.5 * peak and math.isfinite(s.ema)


def test_cosine_shape_and_the_probe_ends_at_its_length_when_the_loss_keeps_falling() -> None:
    c = ProbeLR(init_lr=1.0, budget=100, probe=0.1, shape="cosine", decay=0.5, anneal="end", noise=0.0)
    lrs = _pure(c, [10.0 / (t + 1) for t in range(100)])
    top = c.high * (c.low / c.high) ** (1 / c.probe_steps)  # the last probe LR, lr0 * low * g**(P - 1)
    assert lrs[c.probe_steps - 2] == pytest.approx(top)
    peak = lrs[c.probe_steps - 1]
    assert peak == pytest.approx(top / c.high * c.high / c.backoff, rel=1e-12)
    assert lrs[-1] == 0.0 and lrs[74] == pytest.approx(peak * 0.5 * (1 + math.cos(math.pi * 0.5)), rel=1e-12)


def _stop(c: ProbeLR, losses: list[float]) -> tuple[int, object]:
    """The update count at which the probe stopped, and the state then."""
    s = c.init()
    for t, loss in enumerate(losses):
        s = c.update(s, loss)
        if s.probing == 0.0:
            return t + 1, s
    raise AssertionError("the probe did not stop")


def test_the_rise_test_is_armed_by_the_lr_when_the_loss_never_fell() -> None:
    # a plateau (the loss does not fall by ``descent``), then a rise once the LR passes 3 x lr0
    c = ProbeLR(init_lr=1.0, budget=400, probe=0.25, smoothing=0.05, rise=1.3, blowup=100.0)
    g = (c.high / c.low) ** (1 / c.probe_steps)
    lr = [c.low * g**t for t in range(c.probe_steps)]
    losses = [2.0 if lr[t] < 3.0 else 2.0 * (1.0 + 0.05 * (t - next(k for k in range(100) if lr[k] >= 3.0)))
              for t in range(c.probe_steps)]  # fmt: skip
    never, _ = _stop(dataclasses.replace(c, arm=c.high), losses)
    assert never == c.probe_steps  # the descent guard alone: the probe runs to its end, lr0 * high
    armed, s = _stop(dataclasses.replace(c, arm=1.0), losses)
    assert armed < c.probe_steps and lr[armed - 1] < 10.0  # stopped soon after the rise began
    assert s.best_lr < 3.0


def test_the_backoff_grows_with_the_loss_noise_of_the_first_updates() -> None:
    rng = np.random.default_rng(1)
    losses = [float(2.0 * math.exp(0.2 * rng.normal())) for _ in range(60)] + [1e6]
    c = ProbeLR(init_lr=1.0, budget=400, probe=0.25, noise=2.0, plateau="best")
    x = np.log(losses[: c.quiet_steps])
    jitter = sum(0.5 * d * d for d in np.diff(x)) / (c.quiet_steps - 1)
    _, s = _stop(c, losses)
    assert s.jitter == pytest.approx(jitter, rel=1e-12)
    assert s.peak == pytest.approx(s.best_lr / (c.backoff * math.exp(2.0 * math.sqrt(jitter))), rel=1e-12)
    _, quiet = _stop(dataclasses.replace(c, noise=0.0), losses)
    assert quiet.peak == s.best_lr / c.backoff > s.peak


def test_on_a_plateau_the_peak_falls_back_to_lr0_or_below_the_lr_that_blew_up() -> None:
    c = ProbeLR(init_lr=1.0, budget=400, probe=0.25, noise=0.0, plateau="lr0", backoff=1.5)
    flat = [2.0] * c.probe_steps
    _, s = _stop(c, flat)  # never fell, never rose: the probe ran to its end
    assert s.peak == 1.0
    _, old = _stop(dataclasses.replace(c, plateau="best"), flat)
    assert old.peak == old.best_lr / 1.5 and old.best_lr < 0.1  # the first edition: an LR picked by noise
    g = (c.high / c.low) ** (1 / c.probe_steps)
    k = next(t for t in range(c.probe_steps) if c.low * g**t > 0.5)
    k_stop, s = _stop(c, [*flat[:k], 1e3])  # blew up at an LR below lr0 * backoff
    assert k_stop == k + 1 and s.peak == pytest.approx(c.low * g**k / 1.5, rel=1e-12) and s.peak < 1.0
    end = dataclasses.replace(c, plateau="end")  # the fallback only where the probe ran to its end
    assert _stop(end, flat)[1].peak == 1.0
    _, s = _stop(end, [*flat[:k], 1e3])
    assert s.peak == s.best_lr / 1.5
    falls = [2.0 * math.exp(-0.05 * t) for t in range(c.probe_steps)]  # it fell: the rule is unchanged
    _, a = _stop(c, falls)
    _, b = _stop(dataclasses.replace(c, plateau="best"), falls)
    assert a.peak == b.peak


@pytest.mark.parametrize("shape", ["rex", "linear", "cosine"])
def test_anneal_rest_decays_from_the_stop_to_zero_at_the_budget(shape: str) -> None:
    c = ProbeLR(init_lr=0.1, budget=120, probe=0.25, smoothing=0.1, anneal="rest", shape=shape, noise=0.0)
    lrs = _pure(c, LOSSES)
    k, s = _stop(c, LOSSES)
    for t in range(k, c.budget + 1):
        z = (t - k) / (c.budget - k)
        f = {"rex": (1 - z) / (0.5 + 0.5 * (1 - z)), "linear": 1 - z, "cosine": 0.5 * (1 + math.cos(math.pi * z))}
        assert lrs[t - 1] == pytest.approx(s.peak * f[shape], rel=1e-12, abs=1e-18)
    assert lrs[k - 1] == s.peak and lrs[c.budget - 1] == 0.0


def test_the_closure_equals_the_pure_rule_bit_for_bit() -> None:
    sched = lrsched.control(CTRL)
    assert sched.lr == CTRL.lr(CTRL.init())
    assert [float(sched(v)) for v in LOSSES] == _pure(CTRL, LOSSES)
    noisy = [*LOSSES[:20], math.nan, *LOSSES[20:40], math.inf]
    sched = lrsched.control(CTRL)
    assert [float(sched(v)) for v in noisy] == _pure(CTRL, noisy)


def test_numpy_jax_and_torch_give_the_python_numbers() -> None:
    ref = np.array(_pure(CTRL, LOSSES))
    out, _ = pure_run(CTRL, [np.float64(v) for v in LOSSES], CTRL.init(like=np.float64(0.0)))
    np.testing.assert_allclose(np.asarray(out, float), ref, rtol=1e-12, atol=1e-15)  # libm vs NumPy exp: 1 ulp
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(v, dtype=torch.float64) for v in LOSSES]
    out, s = pure_run(CTRL, tensors, CTRL.init(like=torch.zeros((), dtype=torch.float64)))
    assert s.lr.dtype == torch.float64
    np.testing.assert_allclose([float(v) for v in out], ref, rtol=1e-12, atol=1e-15)


def test_jax_jit_scan_and_vmap_over_starting_lrs() -> None:
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        import jax.numpy as jnp

        c = ProbeLR(budget=120, probe=0.25, smoothing=0.1, backoff=2.0, noise=0.5)

        def run(lr0: object) -> object:
            def body(s: object, loss: object) -> object:
                s = c.update(s, loss)
                return s, c.lr(s)

            return jax.lax.scan(body, c.init(lr0), jnp.asarray(LOSSES))[1]

        starts = (0.1, 0.3, 1.0)
        lrs = np.asarray(jax.jit(jax.vmap(run))(jnp.asarray(starts)))
    for row, lr0 in zip(lrs, starts):
        np.testing.assert_allclose(row, _pure(ProbeLR(init_lr=lr0, **_knobs(c)), LOSSES), rtol=1e-12, atol=1e-15)


def _knobs(c: ProbeLR) -> dict:
    return {k: v for k, v in c.to_config().items() if k not in ("name", "init_lr")}


def test_config_round_trips_through_strict_json() -> None:
    c = ProbeLR(init_lr=3e-4, budget=5000, probe=0.05, shape="cosine", decay=0.9, descent=1.3)
    text = json.dumps(c.to_config(), allow_nan=False)
    back = lrsched.from_config(json.loads(text))
    assert back == c and type(back) is ProbeLR and hash(back) == hash(c)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"budget": 5}, r"ProbeLR: budget must be"),
        ({"probe": 0.0}, r"ProbeLR: probe must be in \(0.0, 0.5\], got 0.0"),
        ({"low": 1.0}, r"ProbeLR: low must be in \(0.0, 1.0\), got 1.0"),
        ({"rise": 1.0}, r"ProbeLR: rise must be in \(1.0, inf\), got 1.0"),
        ({"blowup": 1.2}, r"ProbeLR: blowup must be in \[1.3, inf\), got 1.2"),  # at least rise (1.3)
        ({"descent": 0.5}, r"ProbeLR: descent must be in \[1.0, inf\), got 0.5"),
        ({"backoff": 0.5}, r"ProbeLR: backoff must be in \[1.0, inf\), got 0.5"),
        ({"decay": 1.5}, r"ProbeLR: decay must be in \(0.0, 1.0\], got 1.5"),
        ({"shape": "step"}, r"ProbeLR: shape must be one of 'linear', 'cosine', 'rex', got 'step'"),
        ({"anneal": "all"}, r"ProbeLR: anneal must be one of 'end', 'rest', got 'all'"),
        ({"plateau": "x"}, r"ProbeLR: plateau must be one of 'best', 'lr0', 'end', got 'x'"),
        ({"noise": -1.0}, r"ProbeLR: noise must be in \[0.0, inf\), got -1.0"),
        ({"arm": 1000.0}, r"ProbeLR: arm must be in \[0.0333.*, 100.0\], got 1000.0"),
        ({"init_lr": -1.0}, r"ProbeLR: init_lr must lie in the controller's LR bounds \(0.0, inf\), got -1.0"),
    ],
)
def test_settings_are_validated_at_construction(kw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProbeLR(**kw)


# -- the three adapters -------------------------------------------------------------------------------------
X = _RNG.normal(size=(64, 5))
Y = X @ _RNG.normal(size=5) + 0.1 * _RNG.normal(size=64)
STEPS = 60
ADAPTED = ProbeLR(init_lr=0.01, budget=STEPS, probe=0.3, smoothing=0.1)


def _replay(controller: ProbeLR) -> list[float]:
    """Plain SGD on least squares driven by the closure: the LR of every update."""
    sched, w, lrs = lrsched.control(controller), np.zeros(5), []
    lr = float(sched.lr)
    for _ in range(STEPS):
        r = X @ w - Y
        loss, g = float(r @ r / len(Y)), 2.0 * X.T @ r / len(Y)
        w = w - lr * g
        lrs.append(lr)
        lr = float(sched(loss))
    return lrs


def test_replay_probes_and_then_settles() -> None:
    lrs = _replay(ADAPTED)
    assert max(lrs) > 10 * lrs[0] and lrs[-1] < max(lrs)


def test_torch_controller_scheduler() -> None:
    pytest.importorskip("torch")
    lrs = torch_sgd_lrs(ADAPTED, X, Y, 0.01, STEPS)
    np.testing.assert_allclose(lrs, _replay(ADAPTED), rtol=1e-9, atol=0)


def test_optax_scale_by_controller() -> None:
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    from lrsched.adapters.optax import scale_by_controller

    with jax.enable_x64(True):
        import jax.numpy as jnp

        tx = scale_by_controller(ADAPTED)
        x, y = jnp.asarray(X), jnp.asarray(Y)

        @jax.jit
        def step(p: object, s: object) -> object:
            loss, g = jax.value_and_grad(lambda q: jnp.mean((x @ q - y) ** 2))(p)
            updates, s = tx.update(g, s, p, value=loss)
            return optax.apply_updates(p, updates), s, updates[0] / g[0]

        params = jnp.zeros(5)
        state, lrs = tx.init(params), []
        for _ in range(STEPS):
            params, state, ratio = step(params, state)
            lrs.append(-float(ratio))
    # float32 arithmetic: the REX factor near the end of the budget loses a few ulps
    np.testing.assert_allclose(lrs, _replay(ADAPTED), rtol=3e-6, atol=0)


KERAS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np, keras
    from lrsched.adapters.keras import ControllerCallback
    from lrsched.controllers import ProbeLR

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = (x @ rng.normal(size=5)).astype("float32")[:, None]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    seen = []

    class Log(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((float(logs["loss"]), float(self.model.optimizer.learning_rate)))

    ctrl = ProbeLR(init_lr=0.01, budget=40, probe=0.3, smoothing=0.1)
    model.fit(x, y, batch_size=16, epochs=10, shuffle=False, verbose=0,
              callbacks=[ControllerCallback(ctrl, frequency="batch"), Log()])
    print(json.dumps(seen))
    """
)


def test_keras_controller_callback() -> None:
    pytest.importorskip("keras")
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", KERAS_SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    sched = lrsched.control(ProbeLR(init_lr=0.01, budget=40, probe=0.3, smoothing=0.1))
    expected = [float(sched(loss)) for loss, _ in seen]  # the callback's LR after each batch's logged loss
    np.testing.assert_allclose([lr for _, lr in seen], expected, rtol=1e-6)
    assert len(set(np.round(expected, 12))) > 5
