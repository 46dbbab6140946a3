"""Lightning: ``configure_optimizers`` returning ``schedule_lr`` (interval "step") and ``GreedyLRScheduler`` (with a
``monitor``), ``Trainer.fit`` on tiny synthetic data, and resume from a checkpoint giving the uninterrupted LR trace.

Expectations are the schedule's own formula written out by hand and, for GreedyLR, the plain-Python closure
``lrsched.greedy`` fed the same monitored values.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

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


class TinyModule(pl.LightningModule):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.layer = torch.nn.Linear(4, 1)
        self.lrs: list[list[float]] = []

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        value = torch.tensor(METRIC[self.current_epoch])
        self.log("metric", value, on_step=False, on_epoch=True)
        return loss

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self.lrs.append([float(g["lr"]) for g in self.trainer.optimizers[0].param_groups])

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        if self.kind == "schedule":
            return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule_lr(opt, SCHEDULE), "interval": "step"}}
        if self.kind == "lambda":
            scheduler = torch.optim.lr_scheduler.LambdaLR(opt, NESTED)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        scheduler = GreedyLRScheduler(opt, **GREEDY)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler, "monitor": "metric", "interval": "epoch"}}


def _data() -> Any:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    dataset = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    return torch.utils.data.DataLoader(dataset, batch_size=8)


def _fit(kind: str, epochs: int, ckpt_in: str | None = None, ckpt_out: str | None = None) -> list[list[float]]:
    return _fit_module(kind, epochs, ckpt_in, ckpt_out).lrs


def _fit_module(kind: str, epochs: int, ckpt_in: str | None = None, ckpt_out: str | None = None) -> TinyModule:
    torch.manual_seed(0)
    module = TinyModule(kind)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        log_every_n_steps=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice about num_workers and tiny data
        trainer.fit(module, _data(), ckpt_path=ckpt_in)
    if ckpt_out is not None:
        trainer.save_checkpoint(ckpt_out)
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
    assert not torch.equal(first.layer.weight, whole.layer.weight)  # the second half trained
    for name, value in whole.state_dict().items():
        assert torch.equal(second.state_dict()[name], value), name
