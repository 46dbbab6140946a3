"""ABEL: the paper's rule (Algorithm 1 of arXiv 2103.12682) written out independently, synthetic weight-norm
trajectories, and a small training loop in which the weight norm bounces."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

import lrsched
from lrsched.controllers import ABEL


def reference_lrs(norms: list[float], lr: float, factor: float, interval: int, final_step: int | None) -> list[float]:
    """The paper's rule on a list of per-update weight norms: sample ||w||^2 at the end of every interval;
    on a sign change of consecutive differences decay if ``reached_minimum`` else set it; final decay once."""
    samples: list[float] = []
    reached_minimum = False
    out = []
    for t, norm in enumerate(norms):
        if (t + 1) % interval == 0 and math.isfinite(norm):
            samples.append(norm * norm)
            if len(samples) >= 3 and (samples[-1] - samples[-2]) * (samples[-2] - samples[-3]) < 0:
                if reached_minimum:
                    lr *= factor
                    reached_minimum = False
                else:
                    reached_minimum = True
        if final_step is not None and t == final_step:
            lr *= factor
        out.append(lr)
    return out


def _run(abel: ABEL, norms) -> list[float]:
    state, out = abel.init(), []
    for n in norms:
        state = abel.update(state, {"param_norm": n})
        out.append(state.lr)
    return out


@pytest.mark.parametrize("seed", range(20))
def test_random_trajectories_match_the_papers_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    norms = list(5.0 + np.cumsum(rng.normal(size=n)) * 0.1)
    if seed % 4 == 0:
        norms[n // 3] = math.nan
    interval = int(rng.integers(1, 5))
    total = int(rng.integers(n // 2, 2 * n)) if seed % 2 else None
    abel = ABEL(init_lr=1.0, factor=0.5, interval=interval, total_steps=total)
    expected = reference_lrs(norms, 1.0, 0.5, interval, abel.final_step)
    assert _run(abel, norms) == pytest.approx(expected, rel=1e-15)


def test_a_bounce_then_equilibration_decays_once_where_the_rise_stops() -> None:
    # falls to a minimum at t = 10, rises until t = 25, then settles down slightly
    t = np.arange(40)
    norms = np.where(t <= 10, 5.0 - 0.3 * t, np.where(t <= 25, 2.0 + 0.1 * (t - 10), 3.5 - 0.01 * (t - 25)))
    lrs = _run(ABEL(init_lr=1.0, factor=0.1), norms.tolist())
    changes = [i for i in range(1, 40) if lrs[i] != lrs[i - 1]]
    assert changes == [26]  # the first sample after the peak at t = 25 sees the norm stop rising
    assert lrs[-1] == pytest.approx(0.1)


def test_a_monotone_norm_never_decays_but_the_final_decay_happens_once() -> None:
    norms = list(np.linspace(5.0, 1.0, 100))
    assert set(_run(ABEL(init_lr=1.0), norms)) == {1.0}
    lrs = _run(ABEL(init_lr=1.0, factor=0.1, total_steps=100), norms)
    assert lrs[84] == 1.0 and lrs[85] == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.1)


def test_min_lr_bounds_the_decays() -> None:
    norms = [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0]  # turns at every sample
    assert min(_run(ABEL(init_lr=1.0, factor=0.1, min_lr=0.05), norms)) == 0.05


def test_logistic_regression_with_weight_decay_the_norm_bounces_and_abel_decays_after_it() -> None:
    """Full-batch heavy-ball GD (momentum 0.9, weight decay 1e-2) on synthetic logistic regression, started
    pointing the wrong way: the weight norm falls, bounces, rises past its equilibrium and turns. ABEL
    (interval 10 updates = one "epoch") decays the LR at the first sample after that turn, once, then at 85 %
    of the budget; the run reaches the same objective as the constant-LR run."""
    rng = np.random.default_rng(0)
    n, dim, wd = 512, 10, 1e-2
    w_true = rng.normal(size=dim)
    w_true *= 3 / np.linalg.norm(w_true)
    X = rng.normal(size=(n, dim))
    y = (X @ w_true + 0.5 * rng.normal(size=n) > 0).astype(float)

    def objective(w):
        p = 1 / (1 + np.exp(-X @ w))
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) + 0.5 * wd * w @ w

    def train(abel: ABEL | None):
        w, v, state, norms, lrs = -1.5 * w_true, np.zeros(dim), None, [], []
        state = abel.init() if abel else None
        for _ in range(2000):
            g = X.T @ (1 / (1 + np.exp(-X @ w)) - y) / n + wd * w
            norms.append(float(np.linalg.norm(w)))
            if abel:
                state = abel.update(state, {"param_norm": norms[-1]})
            lr = state.lr if abel else 0.5
            v = 0.9 * v + g
            w = w - lr * v
            lrs.append(lr)
        return w, np.array(norms), lrs

    abel = ABEL(init_lr=0.5, factor=0.1, interval=10, total_steps=2000)
    w, norms, lrs = train(abel)
    sampled = norms[9::10]
    bottom = int(np.argmin(sampled))
    assert 0 < bottom < len(sampled) - 1 and sampled[bottom + 1] > sampled[bottom]  # the norm bounced
    turn = bottom + 1 + int(np.argmax(np.diff(sampled[bottom:]) < 0))  # first sample where it stops rising
    changes = [i for i in range(1, len(lrs)) if lrs[i] != lrs[i - 1]]
    assert changes == [10 * turn + 9, 1700]  # sample k is taken at update 10 k + 9
    assert lrs == pytest.approx(reference_lrs(list(norms), 0.5, 0.1, 10, 1700))
    w_const, _, _ = train(None)
    assert objective(w) == pytest.approx(objective(w_const), abs=1e-6)


# -- adapters measure the norm only where the rule reads it -------------------------------------------------------
def test_abel_declares_its_interval_as_the_signal_interval() -> None:
    assert ABEL(interval=37).signal_interval == 37
    assert ABEL().signal_interval == 1


def _optax_lrs(abel: ABEL, steps: int) -> tuple[list[float], str]:
    """Minibatch linear regression under Adam, ``controlled(scale_by_adam(), abel)`` jitted: the LRs applied, and
    the jaxpr of one step."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    from lrsched.adapters.optax import controlled, lr_of

    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype(np.float32)
    y = (x @ rng.normal(size=8) + 0.5 * rng.normal(size=512)).astype(np.float32)
    opt = controlled(optax.scale_by_adam(), abel)

    def loss_fn(w, xb, yb):
        return jnp.mean((xb @ w - yb) ** 2)

    def step(w, state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(w, xb, yb)
        updates, state = opt.update(grads, state, w, value=loss)
        return optax.apply_updates(w, updates), state

    w = jnp.asarray(rng.normal(size=8) * 3, jnp.float32)
    state, lrs = opt.init(w), []
    jitted = jax.jit(step)
    for _ in range(steps):
        idx = rng.integers(0, 512, size=16)
        lrs.append(float(lr_of(state)))
        w, state = jitted(w, state, x[idx], y[idx])
    return lrs, str(jax.make_jaxpr(step)(w, state, x[:16], y[:16]))


def test_optax_measures_the_norm_only_every_interval_and_the_lrs_are_bit_for_bit_the_same() -> None:
    """ABEL(interval=5) through ``controlled``: the norm is measured under a ``lax.cond`` (every 5th update) and
    the 400 LRs equal, bit for bit, those of the same rule declared to read the norm every update; the run decays
    (else equality proves little)."""
    import dataclasses

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class EveryUpdate(ABEL):
        @property
        def signal_interval(self) -> int:
            return 1

    settings = dict(init_lr=0.05, factor=0.5, interval=5, total_steps=400)
    skipping, jaxpr = _optax_lrs(ABEL(**settings), 400)
    every, plain = _optax_lrs(EveryUpdate(**settings), 400)
    assert "cond" in jaxpr and "cond" not in plain
    assert len(set(every)) >= 3  # at least one bounce decay and the final one
    assert skipping == every


def _torch_lrs(abel: Any, steps: int) -> tuple[list[float], int]:
    """The same minibatch regression in torch: Adam with ``ControllerScheduler(opt, abel)``; the LRs applied and
    the number of times the scheduler measured the signals."""
    torch = pytest.importorskip("torch")
    import lrsched.adapters._torch_controller as adapter

    calls = []

    def counted(*args: Any) -> Any:
        calls.append(1)
        return measure(*args)

    measure = adapter.measure
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(512, 8)))
    y = x @ torch.tensor(rng.normal(size=8)) + 0.5 * torch.tensor(rng.normal(size=512))
    w = torch.tensor(rng.normal(size=8) * 3, requires_grad=True)
    opt = torch.optim.Adam([w], lr=abel.init_lr)
    sched = adapter.ControllerScheduler(opt, abel)
    lrs = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(adapter, "measure", counted)
        for _ in range(steps):
            idx = torch.as_tensor(rng.integers(0, 512, size=16))
            loss = ((x[idx] @ w - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            lrs.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            sched.step(loss.item())
    return lrs, len(calls)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _EveryUpdate(ABEL):
    """ABEL declared to read its norm at every update (the same rule: the reference for skipping)."""

    @property
    def signal_interval(self) -> int:
        return 1


def test_torch_measures_the_norm_only_every_interval() -> None:
    """ABEL(interval=5), 20 updates: ``ControllerScheduler`` measures at updates 4, 9, 14, 19 only (the Optax
    side's ``lax.cond``), and passes NaN on the others, which the rule does not read."""
    _, calls = _torch_lrs(ABEL(init_lr=0.05, interval=5), 20)
    assert calls == 4
    _, calls = _torch_lrs(ABEL(init_lr=0.05, interval=1), 20)
    assert calls == 20


def test_torch_skipping_gives_bit_for_bit_the_lrs_of_measuring_every_update() -> None:
    settings = dict(init_lr=0.05, factor=0.5, interval=5, total_steps=400)
    skipping, calls = _torch_lrs(ABEL(**settings), 400)
    every, every_calls = _torch_lrs(_EveryUpdate(**settings), 400)
    assert (calls, every_calls) == (80, 400)
    assert len(set(every)) >= 3  # at least one bounce decay and the final one
    assert skipping == every


def test_on_schedule_passes_its_controllers_interval_through() -> None:
    """``on_schedule(base, ABEL(interval=5))``: the wrapper's state and clock are ABEL's, so both adapters skip the
    same updates (torch: 80 measurements in 400 updates), with the LRs of measuring every update, bit for bit."""
    settings = dict(init_lr=1.0, factor=0.5, interval=5, total_steps=400)
    base = lrsched.warmup(lrsched.constant(0.05), warmup_steps=10)
    assert lrsched.on_schedule(base, ABEL(**settings)).signal_interval == 5
    skipping, calls = _torch_lrs(lrsched.on_schedule(base, ABEL(**settings)), 400)
    every, every_calls = _torch_lrs(lrsched.on_schedule(base, _EveryUpdate(**settings)), 400)
    assert (calls, every_calls) == (80, 400)
    assert len({round(every[t] / base(t), 12) for t in range(10, 400)}) >= 3  # the multiplier g decays
    assert skipping == every


def test_torch_direction_signals_are_measured_every_update_whatever_the_interval() -> None:
    """A rule reading the previous direction needs theta of the update before: a declared interval does not skip
    those measurements (each keeps theta_t for the next)."""
    torch = pytest.importorskip("torch")
    import lrsched.adapters._torch_controller as adapter

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Sparse(lrsched.Hypergradient):
        @property
        def signal_interval(self) -> int:
            return 5

    calls = []
    measure = adapter.measure
    w = torch.ones(3, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    sched = adapter.ControllerScheduler(opt, Sparse(init_lr=0.1, beta=0.01))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(adapter, "measure", lambda *a: calls.append(1) or measure(*a))
        for _ in range(10):
            opt.zero_grad()
            loss = (w**2).sum()
            loss.backward()
            opt.step()
            sched.step(loss.item())
    assert len(calls) == 10
