"""Loss streams and live reference runs shared by the GreedyLR tests (no tests here)."""

from __future__ import annotations

import math
import random
from typing import Any

import lrsched


def streams(n: int = 240) -> dict[str, list[float]]:
    """Named deterministic loss streams that exercise every rule."""
    rng = random.Random(1234)
    out = {
        "monotone": [2.0 / (1.0 + 0.05 * i) for i in range(n)],
        "plateau": [1.0] * n,
        "oscillating": [1.0 + 0.3 * math.sin(0.7 * i) for i in range(n)],
        "noisy": [1.0 / (1.0 + 0.02 * i) + rng.gauss(0.0, 0.05) for i in range(n)],
        "spikes": [1.0 / (1.0 + 0.03 * i) + (5.0 if i % 37 == 5 else 0.0) for i in range(n)],
        "rising": [0.5 + 0.01 * i for i in range(n)],
        "descend_then_flat": [max(2.0 - 0.05 * i, 0.3) for i in range(n)],
        "steps": [float(3 - (i // 40) % 3) + 0.001 * (i % 7) for i in range(n)],
    }
    return out


def reference_lrs(settings: lrsched.GreedyLR, values: list[float], lrs: Any = None) -> list[Any]:
    """LR after every step of ``transformers.optimization.GreedyLR`` with matching settings."""
    import torch
    from transformers.optimization import GreedyLR as RefGreedyLR

    g = settings
    init = lrs if lrs is not None else g.init_lr
    init = list(init) if isinstance(init, tuple) else [init]
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in init]
    opt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, init)])
    big = 10**12

    def per_group(v: Any, default: float) -> Any:
        if v is None:
            return default
        return list(v) if isinstance(v, tuple) else v

    ref = RefGreedyLR(
        opt,
        mode=g.mode,
        factor=g.factor,
        patience=g.patience,
        threshold=g.threshold,
        threshold_mode=g.threshold_mode,
        cooldown=g.cooldown,
        warmup=g.warmup,
        min_lr=per_group(g.min_lr, 0.0),
        max_lr=per_group(g.max_lr, math.inf),
        eps=g.eps,
        smooth=g.window > 1,
        window_size=g.window,
        reset_start=big if g.reset_start is None else g.reset_start,
    )
    out = []
    for v in values:
        ref.step(v)
        lr = [group["lr"] for group in opt.param_groups]
        out.append(tuple(lr) if isinstance(g.init_lr, tuple) or g.groups else lr[0])
    return out


def core_lrs(settings: lrsched.GreedyLR, values: list[float]) -> list[Any]:
    state = settings.init()
    out = []
    for v in values:
        state = settings.update(state, v)
        out.append(state.lr)
    return out


def closure_lrs(settings: lrsched.GreedyLR, values: list[float]) -> list[Any]:
    sched = lrsched.greedy(settings)
    return [sched(v) for v in values]


def test_streams_are_deterministic_and_distinct() -> None:
    a, b = streams(), streams()
    assert a == b
    assert len({tuple(v) for v in a.values()}) == len(a)
