"""Parity with torch.optim.lr_scheduler, driving a real optimizer step by step.

``lrs[k]`` is the learning rate the optimizer uses for update ``k`` (counted
from 0), read with ``get_last_lr()`` before the update; our schedule is
called with the same ``k``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lrsched as L

torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler

BASE = 0.1


def torch_lrs(make: Callable[[Any], Any], steps: int, base: float = BASE) -> np.ndarray:
    """Run SGD on a tiny least-squares problem with the scheduler; record the lr of each update."""
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.SGD([w], lr=base)
    sched = make(opt)
    x, y = torch.randn(8, 3), torch.randn(8)
    lrs = []
    for _ in range(steps):
        lrs.append(sched.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == lrs[-1]
        opt.zero_grad()
        ((x @ w - y) ** 2).mean().backward()
        opt.step()
        sched.step()
    return np.asarray(lrs)


def ours(s: L.Schedule, steps: int) -> np.ndarray:
    return np.array([s(k) for k in range(steps)])


def test_step_lr() -> None:
    got = torch_lrs(lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 20)
    np.testing.assert_allclose(ours(L.step_decay(BASE, 3, 0.5), 20), got, rtol=1e-12)


def test_multistep_lr() -> None:
    got = torch_lrs(lambda o: lr_scheduler.MultiStepLR(o, milestones=[3, 7, 12], gamma=0.1), 20)
    np.testing.assert_allclose(ours(L.multistep_decay(BASE, (3, 7, 12), 0.1), 20), got, rtol=1e-12)


def test_exponential_lr() -> None:
    got = torch_lrs(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), 40)
    np.testing.assert_allclose(ours(L.exponential_decay(BASE, 0.9), 40), got, rtol=1e-12)


def test_cosine_annealing_lr_within_t_max_and_torch_oscillating_past_it() -> None:
    T = 20
    got = torch_lrs(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=T, eta_min=0.001), 2 * T + 1)
    mine = ours(L.cosine_decay(BASE, T, end_value=0.001), 2 * T + 1)
    np.testing.assert_allclose(mine[: T + 1], got[: T + 1], rtol=1e-9)
    # Past T_max torch goes back up along the cosine, to the initial value at 2*T_max; we hold eta_min.
    assert np.all(mine[T:] == 0.001)
    assert got[T + T // 2] == pytest.approx((BASE + 0.001) / 2, rel=1e-9)
    assert got[2 * T] == pytest.approx(BASE, rel=1e-9)


@pytest.mark.parametrize("t_mult", [1, 2, 3])
def test_cosine_annealing_warm_restarts(t_mult: int) -> None:
    make = lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=t_mult, eta_min=0.001)  # noqa: E731
    got = torch_lrs(make, 80)
    np.testing.assert_allclose(ours(L.cosine_restarts(BASE, 5, float(t_mult), end_value=0.001), 80), got, rtol=1e-9)


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_lr_puts_phase_ends_one_step_earlier(anneal: str, three_phase: bool) -> None:
    T, p, peak = 100, 0.3, 1.0
    make = lambda o: lr_scheduler.OneCycleLR(  # noqa: E731
        o,
        max_lr=peak,
        total_steps=T,
        pct_start=p,
        anneal_strategy=anneal,
        cycle_momentum=False,
        three_phase=three_phase,
    )
    got = torch_lrs(make, T)
    kind = "cosine" if anneal == "cos" else "linear"
    # torch ends its phases at pT - 1 (and 2pT - 2) and T - 1: that is our one-cycle of T - 1 steps
    # with its peak at pT - 1 ...
    shifted = L.one_cycle(peak, T - 1, (p * T - 1) / (T - 1), anneal=kind, three_phase=three_phase)
    np.testing.assert_allclose(ours(shifted, T), got, rtol=1e-9, atol=1e-15)
    # ... while ours (like Optax) peaks at pT and reaches the floor at T.
    mine = L.one_cycle(peak, T, p, anneal=kind, three_phase=three_phase)
    assert got[int(p * T) - 1] == pytest.approx(peak) and mine(p * T - 1) < peak
    assert mine(p * T) == pytest.approx(peak)
    floor = peak / 25 / 1e4
    assert got[T - 1] == pytest.approx(floor) and mine(T - 1) > floor and mine(T) == pytest.approx(floor)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr(mode: str) -> None:
    gamma = 0.97 if mode == "exp_range" else 1.0
    make = lambda o: lr_scheduler.CyclicLR(  # noqa: E731
        o, base_lr=0.01, max_lr=0.1, step_size_up=4, step_size_down=6, mode=mode, gamma=gamma, cycle_momentum=False
    )
    got = torch_lrs(make, 60)
    mine = L.cyclic(0.01, 0.1, 4, 6, mode=mode, gamma=gamma)
    np.testing.assert_allclose(ours(mine, 60), got, rtol=1e-9)


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial_lr(power: float) -> None:
    got = torch_lrs(lambda o: lr_scheduler.PolynomialLR(o, total_iters=10, power=power), 20)
    np.testing.assert_allclose(ours(L.polynomial(BASE, 0.0, 10, power=power), 20), got, rtol=1e-9, atol=1e-15)


def test_linear_lr() -> None:
    got = torch_lrs(lambda o: lr_scheduler.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=8), 20)
    np.testing.assert_allclose(ours(L.linear(0.25 * BASE, BASE, 8), 20), got, rtol=1e-9)
    got = torch_lrs(lambda o: lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=5), 10)
    np.testing.assert_allclose(ours(L.linear(BASE, 0.1 * BASE, 5), 10), got, rtol=1e-9)


def test_warmup_then_cosine_matches_sequential_lr() -> None:
    w, T = 5, 30
    make = lambda o: lr_scheduler.SequentialLR(  # noqa: E731
        o,
        [
            lr_scheduler.LinearLR(o, start_factor=0.2, end_factor=1.0, total_iters=w),
            lr_scheduler.CosineAnnealingLR(o, T_max=T, eta_min=0.0),
        ],
        milestones=[w],
    )
    got = torch_lrs(make, w + T)
    np.testing.assert_allclose(ours(L.warmup(L.cosine_decay(BASE, T), w, 0.2 * BASE), w + T), got, rtol=1e-9)
