"""Plateau mode (increases off) equals ``torch.optim.lr_scheduler.ReduceLROnPlateau`` step for step."""

from __future__ import annotations

import math
from typing import Any

import pytest
from test_greedy_streams import streams

import lrsched

torch = pytest.importorskip("torch")

CASES = {
    "torch_defaults": dict(init_lr=0.1),
    "short_patience_cooldown": dict(init_lr=0.1, patience=2, cooldown=3, factor=0.5),
    "max_mode": dict(init_lr=0.1, mode="max", patience=1, factor=0.7),
    "abs_threshold_floor": dict(init_lr=0.1, patience=0, threshold=1e-3, threshold_mode="abs", min_lr=0.01),
    "eps_stops_tiny_changes": dict(init_lr=1e-6, patience=0, factor=0.5, eps=1e-7),
    "groups": dict(init_lr=(0.1, 0.02), min_lr=(0.001, 0.01), patience=1, cooldown=1, factor=0.3),
}


def _torch_lrs(kwargs: dict[str, Any], values: list[float]) -> list[Any]:
    kwargs = dict(kwargs)
    init = kwargs.pop("init_lr")
    groups = isinstance(init, tuple)
    lrs = list(init) if groups else [init]
    if isinstance(kwargs.get("min_lr"), tuple):
        kwargs["min_lr"] = list(kwargs["min_lr"])
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    out = []
    for v in values:
        sched.step(v)
        now = [group["lr"] for group in opt.param_groups]
        out.append(tuple(now) if groups else now[0])
    return out


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("stream", sorted(streams()))
def test_reduce_on_plateau_equals_torch(case: str, stream: str) -> None:
    values = streams()[stream]
    if stream == "noisy":
        values = list(values)
        values[30] = math.nan  # torch counts NaN as a bad epoch, so do we
    ours = lrsched.greedy(lrsched.reduce_on_plateau(**CASES[case]))
    assert [ours(v) for v in values] == _torch_lrs(CASES[case], values)


def test_cooldown_differs_from_greedy_only_in_tracking_best() -> None:
    """torch keeps tracking ``best`` during the cooldown; transformers' GreedyLR freezes it."""
    values = [1.0, 1.0, 0.5, 0.6, 0.7, 0.8, 0.9]
    torch_like = lrsched.reduce_on_plateau(init_lr=1.0, patience=0, cooldown=2, factor=0.5)
    frozen = lrsched.GreedyLR(init_lr=1.0, patience=0, cooldown=2, factor=0.5, increase=False)
    expected = _torch_lrs(dict(init_lr=1.0, patience=0, cooldown=2, factor=0.5), values)
    ours = lrsched.greedy(torch_like)
    assert [ours(v) for v in values] == expected
    other = lrsched.greedy(frozen)
    assert [other(v) for v in values] != expected


def _train(use_ours: bool, epochs: int = 40) -> tuple[list[float], list[float]]:
    """A real torch training loop; the LR comes from torch's scheduler or from ours."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(128, 4, generator=gen)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.5 * torch.randn(128, generator=gen)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    if use_ours:
        ours = lrsched.greedy(lrsched.reduce_on_plateau(init_lr=0.2, patience=2, factor=0.5, cooldown=1))
    else:
        theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1)
    lrs, losses = [], []
    for _ in range(epochs):
        for i in range(0, 128, 32):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x[i : i + 32]).squeeze(-1), y[i : i + 32])
            loss.backward()
            opt.step()
        with torch.no_grad():
            epoch_loss = torch.nn.functional.mse_loss(model(x).squeeze(-1), y).item()
        if use_ours:
            for group in opt.param_groups:
                group["lr"] = ours(epoch_loss)
        else:
            theirs.step(epoch_loss)
        lrs.append(opt.param_groups[0]["lr"])
        losses.append(epoch_loss)
    return lrs, losses


def test_real_torch_training_is_identical_with_ours_and_torchs_scheduler() -> None:
    ours = _train(use_ours=True)
    theirs = _train(use_ours=False)
    assert ours == theirs
    assert min(ours[0]) <= 0.2 / 4  # the plateau really was detected, twice or more
    assert ours[1][-1] < ours[1][0] / 3  # and the model learned


def test_plateau_composes_with_a_schedule_where_torch_refuses() -> None:
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD(params, lr=0.1)
    warm = torch.optim.lr_scheduler.LinearLR(opt, 0.1, total_iters=5)
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        torch.optim.lr_scheduler.SequentialLR(
            opt, [warm, torch.optim.lr_scheduler.ReduceLROnPlateau(opt)], milestones=[5]
        )
    base = lrsched.warmup(lrsched.cosine_decay(0.1, 95), warmup_steps=5)
    sched = lrsched.greedy_on(base, lrsched.reduce_on_plateau(patience=0, factor=0.5), start_step=5)
    lrs = [sched.lr] + [sched(1.0) for _ in range(8)]
    assert lrs[:6] == [base(t) for t in range(6)]  # the warmup is untouched
    assert lrs[6:] == [base(6), base(7) * 0.5, base(8) * 0.25]  # then every flat loss halves the multiplier


def test_rel_threshold_on_negative_metrics_differs_from_torch_on_purpose() -> None:
    values = [-10.0] + [-9.5] * 4  # 'min' mode; -9.5 is worse than -10
    kwargs = dict(init_lr=1.0, patience=1, threshold=0.1, factor=0.5)
    assert _torch_lrs(kwargs, values) == [1.0] * 5  # torch: -9.5 < -10 * 0.9 counts as an improvement
    ours = lrsched.greedy(lrsched.reduce_on_plateau(**kwargs))
    assert [ours(v) for v in values] == [1.0, 1.0, 0.5, 0.5, 0.25]
