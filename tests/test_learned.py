"""The learned LR controller (lrsched.controllers.learned) and its meta-training (lrsched.learn)."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle

import numpy as np
import pytest

import lrsched
from lrsched.controllers.learned import FEATURE_SCALES, FEATURES, LearnedLR, LearnedState

jax = pytest.importorskip("jax")
jnp = jax.numpy

# A loss signal with noise, a plateau, a rise, a zero and non-finite values.
_rng = np.random.default_rng(3)
LOSSES = [float(v) for v in np.exp(-np.linspace(0, 3, 40) + 0.2 * _rng.standard_normal(40))]
LOSSES[10:13] = [math.nan, math.inf, 0.0]
LOSSES[20:25] = [LOSSES[19] * 1.5] * 5


def random_policy(seed: int = 0, hidden: int = 6, features: tuple[str, ...] = FEATURES, **kw: object) -> LearnedLR:
    r = np.random.default_rng(seed)
    return LearnedLR(
        w1=r.normal(0, 1, (hidden, len(features))).tolist(),
        b1=r.normal(0, 0.5, hidden).tolist(),
        w2=r.normal(0, 1, hidden).tolist(),
        b2=float(r.normal(0, 0.3)),
        features=features,
        **kw,  # type: ignore[arg-type]
    )


def python_lrs(ctrl: LearnedLR, lr: float, losses: list[float]) -> list[float]:
    s = ctrl.init(lr)
    out = []
    for v in losses:
        s = ctrl.update(s, v)
        out.append(s.lr)
    return out


def reference_lrs(ctrl: LearnedLR, lr0: float, losses: list[float]) -> list[float]:
    """Independent reference: the documented formulas with NumPy's matmul and tanh, float64."""
    w1, b1, w2 = np.array(ctrl.w1), np.array(ctrl.b1), np.array(ctrl.w2)
    known = ctrl.budget is not None
    h = ctrl.budget if known else ctrl.default_horizon
    af, am, asl = min(25 / h, 1.0), min(6.4 / h, 1.0), min(1.6 / h, 1.0)
    per_step = ctrl.max_change * 100 / h

    def base(t: int) -> float:  # the documented base schedule, written out
        if not known:
            return 1.0
        w = min(1.0, (t + 1) / (ctrl.warmup * h)) if ctrl.warmup else 1.0
        a = min(1.0, max(0.0, (1 - t / h) / ctrl.anneal)) if ctrl.anneal else 1.0
        return w * a

    lr, seen, dlr = lr0, 0, 0.0
    x0 = fast = mid = slow = var = best = 0.0
    out = []
    for v in losses:
        if not math.isfinite(v):
            seen += seen > 0  # ``step`` counts every update after the first finite loss
            new = lr * 0.5
        else:
            x = math.log(max(v, 1e-30))
            if seen == 0:
                x0 = fast = mid = slow = best = x
                var = 0.0
            else:
                fast, mid, slow = fast + af * (x - fast), mid + am * (x - mid), slow + asl * (x - slow)
                var = var + af * ((x - fast) ** 2 - var)
                best = min(best, mid)
            seen += 1
            f = {
                "log_lr": math.log(lr / lr0),
                "slope_fast": fast - mid,
                "slope_slow": mid - slow,
                "rel_start": mid - x0,
                "rel_best": fast - best,
                "noise": math.sqrt(var),
                "budget": min(seen / h, 1.0) if known else 0.0,
                "has_budget": 1.0 if known else 0.0,
                "lr_change": dlr,
            }
            inp = np.array([f[n] * FEATURE_SCALES[n] for n in ctrl.features])
            z = ctrl.b2 + w2 @ np.tanh(w1 @ inp + b1)
            new = lr * math.exp(per_step * math.tanh(z))
        new = min(max(new, lr0 * ctrl.min_scale), lr0 * ctrl.max_scale)
        dlr = dlr + af * (math.log(new / lr) / per_step - dlr)
        lr = new
        out.append(lr * base(seen))
    return out


def test_python_path_matches_the_documented_formulas():
    cases = (
        (0, {"budget": 30}),
        (1, {"default_horizon": 50}),
        (2, {"max_change": 2.0, "max_scale": 2.0, "min_scale": 0.3}),
        (3, {"budget": 30, "warmup": 0.1, "anneal": 0.3}),
        (4, {"budget": 20, "anneal": 0.5}),  # the run outlasts the budget: the LR is 0 after it
        (5, {"warmup": 0.2, "anneal": 0.2}),  # no budget: no base schedule
    )
    for seed, kw in cases:
        ctrl = random_policy(seed, **kw)
        np.testing.assert_allclose(python_lrs(ctrl, 0.1, LOSSES), reference_lrs(ctrl, 0.1, LOSSES), rtol=1e-12)


def test_base_schedule_shapes_the_applied_lr():
    # A zero output layer keeps the policy's LR at lr0: the applied LR is lr0 times the base itself.
    zero = dataclasses.replace(random_policy(10), w2=(0.0,) * 6, b2=0.0)
    ctrl = dataclasses.replace(zero, budget=100, warmup=0.05, anneal=0.2)
    s = ctrl.init(2.0)
    lrs = [s.lr]
    for _ in range(99):
        s = ctrl.update(s, 1.0)
        lrs.append(s.lr)
    t = np.arange(100)
    expected = 2.0 * np.minimum(1, (t + 1) / 5) * np.clip((1 - t / 100) / 0.2, 0, 1)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert s.ctl == 2.0 and lrs[4] == 2.0 and lrs[79] == 2.0 and lrs[99] == pytest.approx(0.1)
    # Without a budget the base is 1.
    free = dataclasses.replace(zero, warmup=0.05, anneal=0.2)
    assert python_lrs(free, 2.0, [1.0] * 50) == [2.0] * 50


def test_bounds_hold_and_nonfinite_halves():
    ctrl = random_policy(4, max_change=1.0, min_scale=0.5, max_scale=2.0, budget=50)
    lrs = python_lrs(ctrl, 1.0, [1.0 / (t + 1) for t in range(50)])
    assert all(0.5 - 1e-12 <= v <= 2.0 + 1e-12 for v in lrs)
    s = ctrl.update(ctrl.init(1.5), math.nan)
    assert s.lr == 0.75 and s.step == 1  # every update counts; the EMAs start at the first finite loss
    assert math.isnan(s.loss0) and s.fast == 0.0
    s = ctrl.update(s, 2.0)
    assert s.loss0 == s.fast == s.mid == s.slow == math.log(2.0) and s.step == 2


def test_numpy_and_torch_float64_match_python():
    torch = pytest.importorskip("torch")
    ctrl = random_policy(5, budget=25, warmup=0.1, anneal=0.3)
    ref = python_lrs(ctrl, 0.1, LOSSES)
    s = ctrl.init(0.1, like=np.zeros((), np.float64))
    t = ctrl.init(0.1, like=torch.zeros((), dtype=torch.float64))
    got_np, got_t = [], []
    for v in LOSSES:
        s = ctrl.update(s, np.float64(v))
        t = ctrl.update(t, torch.tensor(v, dtype=torch.float64))
        got_np.append(float(s.lr))
        got_t.append(float(t.lr))
    assert isinstance(t.lr, torch.Tensor) and t.step.dtype == torch.int32
    np.testing.assert_allclose(got_np, ref, rtol=1e-12)
    np.testing.assert_allclose(got_t, ref, rtol=1e-12)
    # A Python-number state fed torch scalars reads them with float().
    p = ctrl.init(0.1)
    for v in LOSSES[:5]:
        p = ctrl.update(p, torch.tensor(v, dtype=torch.float64))
    assert p.lr == ref[4]


def test_jax_jit_vmap_scan_match_python_within_float32():
    ctrl = random_policy(6, budget=40, warmup=0.05, anneal=0.25)
    seqs = [LOSSES, [v * 3.0 + 0.1 for v in LOSSES[::-1]], [2.0] * len(LOSSES)]
    lr0s = [0.1, 0.02, 1.0]
    refs = np.array([python_lrs(ctrl, lr, seq) for lr, seq in zip(lr0s, seqs)])

    def run(lr0, seq):
        def body(s, v):
            s = ctrl.update(s, v)
            return s, s.lr

        return jax.lax.scan(body, ctrl.init(lr0, like=jnp.zeros((), jnp.float32)), seq)[1]

    arr = jnp.asarray(seqs, jnp.float32)
    scanned = jax.jit(jax.vmap(run))(jnp.asarray(lr0s, jnp.float32), arr)
    np.testing.assert_allclose(np.asarray(scanned), refs, rtol=2e-4)
    # Step by step under jit, with the state from an array lr (no like=).
    step = jax.jit(ctrl.update)
    s = ctrl.init(jnp.float32(0.1))
    got = []
    for v in LOSSES:
        s = step(s, jnp.float32(v))
        got.append(float(s.lr))
    np.testing.assert_allclose(got, refs[0], rtol=2e-4)
    # A batched NumPy state (leading axis over controllers).
    b = ctrl.init(np.asarray(lr0s))
    for t in range(len(LOSSES)):
        b = ctrl.update(b, np.asarray([seq[t] for seq in seqs]))
    np.testing.assert_allclose(b.lr, refs[:, -1], rtol=1e-12)


def test_config_round_trip_is_bit_for_bit():
    ctrl = random_policy(7, budget=100, init_lr=0.05, warmup=0.05, anneal=0.2)
    cfg = json.loads(json.dumps(ctrl.to_config()))
    back = lrsched.from_config(cfg)
    assert back == ctrl and hash(back) == hash(ctrl) and pickle.loads(pickle.dumps(ctrl)) == ctrl
    assert python_lrs(back, 0.05, LOSSES) == python_lrs(ctrl, 0.05, LOSSES)
    assert repr(ctrl).startswith("LearnedLR(w1=((")


def test_closure_state_dict_resumes_exactly():
    ctrl = random_policy(8, budget=50, anneal=0.2)
    a = lrsched.learned(ctrl, lr=0.1)
    for v in LOSSES[:15]:
        a(v)
    data = json.loads(json.dumps(a.state_dict()))
    b = lrsched.learned(ctrl, lr=0.1)
    b.load_state_dict(data)
    assert [a(v) for v in LOSSES[15:]] == [b(v) for v in LOSSES[15:]]
    assert a.to_config() == ctrl.to_config()


def test_default_policy_ships_and_steers():
    d = lrsched.LearnedLR.default(budget=200)
    assert d.budget == 200 and len(d.b1) * (len(d.features) + 2) + 1 >= 100
    sched = lrsched.learned(lr=0.1, budget=200)
    lrs = [sched(1.0 / (1 + t)) for t in range(200)]
    # Positive within the budget; the shipped policy's base anneals to 0 at its end.
    assert all(math.isfinite(v) and v > 0 for v in lrs[:-1])
    assert (d.warmup, d.anneal) == (0.05, 0.5) and lrs[-1] == 0.0


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"w1": [[0.0] * 9] * 5}, ValueError, r"w1 must have shape \(6, 9\)"),
        ({"w1": [[0.0] * 8] * 6}, ValueError, r"w1\[0\] must have shape \(9,\)"),
        ({"w2": [0.0] * 7}, ValueError, r"w2 must have shape \(6,\)"),
        ({"b1": []}, ValueError, r"b1 must hold one bias per hidden unit \(1 to 4096\)"),
        ({"b2": math.nan}, ValueError, "b2 must be finite, got nan"),
        ({"w2": [math.inf] + [0.0] * 5}, ValueError, r"w2\[0\] must be finite"),
        ({"w2": ["1"] + [0.0] * 5}, TypeError, r"w2\[0\] must be a real number, got '1'"),
        ({"features": ["log_lr", "bogus"]}, ValueError, "unknown feature name.*'bogus'.*known: log_lr"),
        ({"features": "log_lr"}, TypeError, "features must be a sequence"),
        ({"max_change": 0.0}, ValueError, r"max_change must be in \(0.0, inf\), got 0.0"),
        ({"max_scale": 0.5}, ValueError, "need min_scale <= 1 <= max_scale"),
        ({"budget": 2.5}, TypeError, "budget must be an integer, got 2.5"),
        ({"init_lr": -1.0}, ValueError, r"init_lr must lie in the controller's LR bounds \(0.0, inf\), got -1.0"),
        ({"anneal": 1.0}, ValueError, r"anneal must be in \[0.0, 1.0\), got 1.0"),
        ({"warmup": -0.1}, ValueError, r"warmup must be in \[0.0, 1.0\), got -0.1"),
        ({"warmup": math.nan}, ValueError, "warmup must be finite"),
        ({"anneal": "0.2"}, TypeError, "anneal must be a real number"),
        ({"warmup": 0.6, "anneal": 0.5}, ValueError, "need warmup \\+ anneal <= 1"),
    ],
)
def test_bad_configs_raise_clear_errors(change, error, match):
    cfg = random_policy(9).to_config() | change
    with pytest.raises(error, match=match):
        lrsched.from_config(cfg)


def test_bad_config_keys_and_missing_lr():
    cfg = random_policy(9).to_config()
    with pytest.raises(ValueError, match=r"unknown key.*'wat'"):
        lrsched.from_config(cfg | {"wat": 1})
    with pytest.raises(ValueError, match=r"missing required key.*w1"):
        lrsched.from_config({k: v for k, v in cfg.items() if k != "w1"})
    with pytest.raises(ValueError, match="no initial LR"):
        random_policy(9).init()
    with pytest.raises(TypeError, match="floating dtype"):
        random_policy(9).init(0.1, like=np.zeros((), np.int32))


def test_meta_training_reduces_the_objective_and_is_deterministic():
    from lrsched.learn import toy_tasks, train

    kw = dict(iterations=6, pairs=8, validation=4, eval_every=3, seed=1, progress=False, hidden=4, meta_lr=0.1)
    a = train(toy_tasks(steps=48), **kw)
    b = train(toy_tasks(steps=48), **kw)
    objectives = [h["objective"] for h in a.history]
    assert objectives[0] == 0.0  # the initial policy keeps the LR constant: the baseline itself
    assert objectives[-1] < -0.05, objectives  # better than a constant LR on held-back problems
    assert a.policy == b.policy and json.dumps(a.history) == json.dumps(b.history)  # NaN: no train score at 0
    assert lrsched.from_config(a.policy.to_config()) == a.policy


def test_user_task_and_bad_train_arguments():
    from lrsched.learn import train, user_task

    with pytest.raises(ValueError, match="lr must be a positive number"):
        user_task(lambda k: jnp.zeros(2), lambda p, k: jnp.sum(p**2), lr=0.0)
    with pytest.raises(TypeError, match="tasks must be"):
        train(["nope"], iterations=1)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="unknown feature"):
        train(user_task(lambda k: jnp.zeros(2), lambda p, k: jnp.sum(p**2), lr=0.1), features=("x",))
    assert dataclasses.is_dataclass(LearnedState) is False and LearnedState._fields[0] == "lr"


def test_meta_training_with_a_base_schedule_and_calibration():
    from lrsched.learn import toy_tasks, train

    kw = dict(iterations=2, pairs=4, validation=4, eval_every=1, seed=2, progress=False, hidden=3)
    res = train(toy_tasks(steps=40), warmup=0.05, anneal=0.25, auc=0.0, calibrate=True, **kw)
    assert (res.policy.warmup, res.policy.anneal) == (0.05, 0.25)
    centre = res.settings["calibration"]["quadratic"]["sgd"]
    assert any(abs(centre - 10**k) < 1e-9 for k in (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5))
    assert res.history[0]["objective"] == 0.0
    back = lrsched.from_config(json.loads(json.dumps(res.policy.to_config())))
    assert back == res.policy
