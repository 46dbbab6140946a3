"""Lightning: ``configure_optimizers`` returning ``schedule_lr`` (interval "step") and ``GreedyLRScheduler`` (with a
``monitor``), ``Trainer.fit`` on tiny synthetic data, and resume from a checkpoint giving the uninterrupted LR trace.

Expectations are the schedule's own formula written out by hand and, for GreedyLR, the plain-Python closure
``lrsched.greedy`` fed the same monitored values.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from _loops import lightning_fit  # noqa: E402

import lrsched as L  # noqa: E402
from lrsched.adapters.torch import GreedyLRScheduler, schedule_lr  # noqa: E402

BATCHES = 4  # per epoch: 32 samples, batch size 8
SCHEDULE = L.warmup(L.cosine_decay(0.1, 12, end_value=0.01), warmup_steps=4)
# A plain torch LambdaLR of a nested schedule (a multiplier of the optimizer's 0.1): its checkpoint must load with
# ``weights_only=True``, as ``fit(ckpt_path=...)`` loads it (trap 1 of issue 20).
NESTED = L.warmup(L.join((L.constant(1.0), L.cosine_decay(1.0, 10, end_value=0.1) * 0.5), (3,)), warmup_steps=2)
METRIC = [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]  # one monitored value per epoch (exact in float32)
GREEDY = {"patience": 1, "factor": 0.5}


def _schedule_by_hand(k: int) -> float:
    if k < 4:
        return 0.1 * k / 4
    return 0.01 + 0.09 * (1 + math.cos(math.pi * min(k - 4, 12) / 12)) / 2


def _scheduler(kind: str, opt: Any) -> dict[str, Any]:
    if kind == "schedule":
        return {"scheduler": schedule_lr(opt, SCHEDULE), "interval": "step"}
    if kind == "lambda":
        return {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, NESTED), "interval": "step"}
    return {"scheduler": GreedyLRScheduler(opt, **GREEDY), "monitor": "metric", "interval": "epoch"}


def _data() -> Any:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    dataset = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    return torch.utils.data.DataLoader(dataset, batch_size=8)


def _fit(kind: str, epochs: int, ckpt_in: str | None = None, ckpt_out: str | None = None) -> list[list[float]]:
    return _fit_module(kind, epochs, ckpt_in, ckpt_out).lrs


def _fit_module(kind: str, epochs: int, ckpt_in: str | None = None, ckpt_out: str | None = None) -> Any:
    """The module after ``epochs`` of ``Trainer.fit`` of a linear layer (``module.net``), the LRs each update used
    in ``module.lrs``."""
    torch.manual_seed(0)
    lrs: list[list[float]] = []

    def on_loss(module: Any, loss: Any, batch_idx: int) -> None:
        module.log("metric", torch.tensor(METRIC[module.current_epoch]), on_step=False, on_epoch=True)

    module = lightning_fit(
        torch.nn.Linear(4, 1),
        lambda net: torch.optim.SGD(net.parameters(), lr=0.1),
        lambda opt: _scheduler(kind, opt),
        epochs,
        on_loss=on_loss,
        before_update=lambda opt: lrs.append([float(g["lr"]) for g in opt.param_groups]),
        data=_data(),
        ckpt_in=ckpt_in,
        ckpt_out=ckpt_out,
    )
    module.lrs = lrs
    return module


def _greedy_by_closure(epochs: int) -> list[float]:
    closure = L.greedy(init_lr=0.1, **GREEDY)
    lrs = []
    for epoch in range(epochs):
        lrs += [closure.lr] * BATCHES
        closure(METRIC[epoch])
    return lrs


def test_schedule_lr_per_step_under_lightning_and_resume(tmp_path):
    whole = _fit("schedule", 4)
    assert [lr[0] for lr in whole] == pytest.approx([_schedule_by_hand(k) for k in range(16)], rel=1e-12, abs=1e-15)
    first = _fit("schedule", 2, ckpt_out=str(tmp_path / "a.ckpt"))
    second = _fit("schedule", 4, ckpt_in=str(tmp_path / "a.ckpt"))
    assert first + second == whole


def test_greedy_scheduler_with_monitor_under_lightning_and_resume(tmp_path):
    whole = _fit("greedy", 6)
    expected = _greedy_by_closure(6)
    assert [lr[0] for lr in whole] == pytest.approx(expected, rel=1e-12)
    assert len(set(expected)) > 1  # the monitored value really steers the LR
    first = _fit("greedy", 3, ckpt_out=str(tmp_path / "g.ckpt"))
    second = _fit("greedy", 6, ckpt_in=str(tmp_path / "g.ckpt"))
    assert first + second == whole


def test_lambda_lr_of_a_nested_schedule_resumes_under_lightning(tmp_path):
    whole = _fit_module("lambda", 4)
    assert [lr[0] for lr in whole.lrs] == pytest.approx([0.1 * NESTED(k) for k in range(16)], rel=1e-12, abs=1e-15)
    first = _fit_module("lambda", 2, ckpt_out=str(tmp_path / "l.ckpt"))
    second = _fit_module("lambda", 4, ckpt_in=str(tmp_path / "l.ckpt"))
    assert first.lrs + second.lrs == whole.lrs
    assert not torch.equal(first.net.weight, whole.net.weight)  # the second half trained
    for name, value in whole.state_dict().items():
        assert torch.equal(second.state_dict()[name], value), name
