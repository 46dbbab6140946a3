"""lrsched schedules next to torch's own schedulers: LambdaLR checkpoints, SequentialLR/ChainedScheduler mixes,
per-group LRs (absolute and relative modes), resume with a changed schedule, tensor LRs.

Every expectation is computed by hand from the formulas of torch's schedulers (``LinearLR``, ``CosineAnnealingLR``,
``ExponentialLR``) and of the lrsched schedule, never read back from the code under test.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _loops import TrainerModel, trainer_data  # noqa: E402
from conftest import ALL_SCHEDULES, CATALOGUE, IDS  # noqa: E402

import lrsched as L  # noqa: E402
from lrsched.adapters.torch import ScheduleLR, schedule_lr  # noqa: E402

LR = torch.optim.lr_scheduler
ROOT = Path(__file__).resolve().parents[1]


def _opt(*lrs: float) -> torch.optim.Optimizer:
    groups = [{"params": torch.nn.Linear(2, 1).parameters(), "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


def _trace(opt: torch.optim.Optimizer, scheduler: object, steps: int) -> np.ndarray:
    """The LR of each group at updates 0 .. steps-1."""
    out = []
    for _ in range(steps):
        out.append([float(g["lr"]) for g in opt.param_groups])
        opt.step()
        scheduler.step()  # type: ignore[attr-defined]
    return np.asarray(out)


def _torch_round_trip(state: dict, weights_only: bool) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=weights_only)


# -- 3. LambdaLR(opt, schedule) checkpoints ---------------------------------------------------------------------------
@pytest.mark.parametrize("schedule", ALL_SCHEDULES, ids=IDS)
def test_lambda_lr_state_survives_torch_save_and_pickle_after_every_kind_of_call(schedule):
    opt = _opt(1.0)
    scheduler = LR.LambdaLR(opt, schedule)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # catalogue schedules may be negative or huge: only the state matters here
        for _ in range(3):
            opt.step()
            scheduler.step()
        schedule(np.arange(4.0))  # array path caches (piecewise tables, join groups)
        schedule(torch.arange(4.0))
        schedule(2.5)
    state = scheduler.state_dict()
    for restored in (_torch_round_trip(state, weights_only=True), pickle.loads(pickle.dumps(state))):
        assert restored["lr_lambdas"] == [schedule.__dict__.copy()]  # the fields as plain data, nothing derived
        fresh = LR.LambdaLR(_opt(1.0), schedule)
        fresh.load_state_dict(restored)
        assert fresh.last_epoch == 3
        assert fresh.lr_lambdas[0] == schedule and fresh.lr_lambdas[0](2.5) == schedule(2.5)
    assert pickle.loads(pickle.dumps(schedule)) == schedule


def _wrapped() -> dict[str, L.Schedule]:
    """Every catalogue schedule inside a warmup and as the second phase of a join (so it nests below the top)."""
    cases: dict[str, L.Schedule] = {}
    for key, pair in CATALOGUE.items():
        cases[f"warmup({key})"] = L.warmup(pair[0], 3, init_value=0.01)
        cases[f"join({key})"] = L.join((L.linear(0.0, 0.5, 4), pair[0]), (4,))
    return cases


# Runs in a fresh interpreter, as a resumed job does: the checkpoint is loaded before lrsched is imported.
_RESUME = """
import json, sys, warnings
import torch
state = torch.load(sys.argv[1], weights_only=True)
assert "lrsched" not in sys.modules
import lrsched
configs, out = json.loads(open(sys.argv[2]).read()), {}
warnings.simplefilter("error", UserWarning)  # a resume of the same schedule warns about nothing
for key, config in configs.items():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lrsched.from_config(config))
    opt.load_state_dict(state[key]["opt"])
    scheduler.load_state_dict(state[key]["scheduler"])
    lrs = []
    for _ in range(13):
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        scheduler.step()
    out[key] = lrs
print(json.dumps(out))
"""


def test_lambda_lr_of_every_nested_schedule_resumes_in_a_fresh_process_with_weights_only(tmp_path):
    """Trap 1 of issue 20: ``torch.load(weights_only=True)`` (the Trainer's, Lightning's) of a nested schedule."""
    cases = _wrapped()
    names = {n for s in cases.values() for n in L.registry() if f'"name": "{n}"' in json.dumps(s.to_config())}
    assert names == set(L.registry())  # a newly registered schedule is covered through the catalogue
    states, expected = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # catalogue schedules may be negative or huge: only the LRs matter here
        for key, schedule in cases.items():
            opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
            scheduler = LR.LambdaLR(opt, schedule)
            _trace(opt, scheduler, 7)
            states[key] = {"opt": opt.state_dict(), "scheduler": scheduler.state_dict()}
            expected[key] = _trace(opt, scheduler, 13)[:, 0].tolist()  # the uninterrupted run
    torch.save(states, tmp_path / "scheduler.pt")
    (tmp_path / "configs.json").write_text(json.dumps({k: s.to_config() for k, s in cases.items()}))
    out = subprocess.run(
        [sys.executable, "-c", _RESUME, str(tmp_path / "scheduler.pt"), str(tmp_path / "configs.json")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    resumed = json.loads(out.stdout.strip().splitlines()[-1])
    assert resumed == expected


def test_lambda_lr_load_never_rewrites_the_schedule_and_says_when_the_checkpoint_had_another():
    saved, other = L.warmup(L.cosine_decay(1.0, 20), 4), L.warmup(L.cosine_decay(0.5, 30), 2)
    opt = _opt(1.0)
    scheduler = LR.LambdaLR(opt, saved)
    _trace(opt, scheduler, 6)
    state = _torch_round_trip(scheduler.state_dict(), weights_only=True)
    resumed = LR.LambdaLR(_opt(1.0), other)
    with pytest.warns(UserWarning, match="keeps the one it was built with"):
        resumed.load_state_dict(state)
    assert resumed.lr_lambdas[0] is other and other == L.warmup(L.cosine_decay(0.5, 30), 2)
    assert hash(other) == hash(L.warmup(L.cosine_decay(0.5, 30), 2)) and other.schedule == L.cosine_decay(0.5, 30)
    resumed.optimizer.step()
    resumed.step()
    assert resumed.last_epoch == 7 and resumed.optimizer.param_groups[0]["lr"] == other(7)
    with pytest.warns(UserWarning, match="immutable"):
        vars(other).update(schedule=None)  # the dict is inert for anyone, not only for LambdaLR
    assert other.schedule == L.cosine_decay(0.5, 30)
    function = L.warmup(L.as_schedule(math.sqrt), 2)  # a plain callable has no config: stored as None
    assert _torch_round_trip({"s": vars(function).copy()}, weights_only=True)["s"]["schedule"] is None


# -- 1. mixing with torch's schedulers ----------------------------------------------------------------------------
def _cos(base: float, j: int, period: int) -> float:
    return base * (1 + math.cos(math.pi * min(j, period) / period)) / 2


def test_sequential_lr_schedule_then_torch_cosine_scales_from_the_optimizer_lr():
    opt = _opt(1e-3)
    warm = schedule_lr(opt, L.linear(0.0, 1e-3, 5))
    scheduler = LR.SequentialLR(opt, [warm, LR.CosineAnnealingLR(opt, T_max=10)], milestones=[5])
    expected = [1e-3 * k / 5 for k in range(5)] + [_cos(1e-3, j, 10) for j in range(11)]
    np.testing.assert_allclose(_trace(opt, scheduler, 16)[:, 0], expected, rtol=1e-12, atol=1e-18)


def test_sequential_lr_torch_warmup_then_schedule():
    opt = _opt(1e-3)
    linear = LR.LinearLR(opt, start_factor=0.1, total_iters=5)
    scheduler = LR.SequentialLR(opt, [linear, schedule_lr(opt, L.cosine_decay(1e-3, 10))], milestones=[5])
    expected = [1e-3 * (0.1 + 0.9 * k / 5) for k in range(5)] + [_cos(1e-3, j, 10) for j in range(11)]
    np.testing.assert_allclose(_trace(opt, scheduler, 16)[:, 0], expected, rtol=1e-12, atol=1e-18)


def test_sequential_lr_relative_mode_keeps_each_group_lr():
    opt = _opt(1e-4, 1e-3)
    linear = LR.LinearLR(opt, start_factor=0.1, total_iters=5)
    shape = schedule_lr(opt, L.cosine_decay(1.0, 10), mode="relative")
    trace = _trace(opt, LR.SequentialLR(opt, [linear, shape], milestones=[5]), 16)
    for g, lr in enumerate((1e-4, 1e-3)):
        expected = [lr * (0.1 + 0.9 * k / 5) for k in range(5)] + [_cos(lr, j, 10) for j in range(11)]
        np.testing.assert_allclose(trace[:, g], expected, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("order", ["schedule_first", "torch_first"])
def test_chained_scheduler_multiplies_both_factors(order):
    opt = _opt(1e-4, 1e-3)
    ours = schedule_lr(opt, L.linear(0.5, 1.0, 4), mode="relative")
    exp = LR.ExponentialLR(opt, gamma=0.9)
    chain = LR.ChainedScheduler([ours, exp] if order == "schedule_first" else [exp, ours])
    trace = _trace(opt, chain, 12)
    for g, lr in enumerate((1e-4, 1e-3)):
        expected = [lr * (0.5 + 0.5 * min(k, 4) / 4) * 0.9**k for k in range(12)]
        np.testing.assert_allclose(trace[:, g], expected, rtol=1e-12)


@pytest.mark.parametrize("order", ["schedule_first", "torch_first"])
def test_chained_scheduler_with_a_temporary_torch_factor(order):
    opt = _opt(1.0)
    ours = schedule_lr(opt, L.linear(0.2, 0.1, 10))  # absolute
    const = LR.ConstantLR(opt, factor=0.5, total_iters=3)
    chain = LR.ChainedScheduler([ours, const] if order == "schedule_first" else [const, ours])
    expected = [(0.2 - 0.01 * min(k, 10)) * (0.5 if k < 3 else 1.0) for k in range(12)]
    np.testing.assert_allclose(_trace(opt, chain, 12)[:, 0], expected, rtol=1e-12)


def test_torch_reduce_lr_on_plateau_reductions_persist_on_top_of_the_schedule():
    opt = _opt(1.0)
    ours, plateau = schedule_lr(opt, L.linear(0.1, 0.05, 10)), LR.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    metrics = [1.0, 0.9, 0.9, 0.8, 0.7, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]  # no improvement at calls 2 and 5
    trace = []
    for metric in metrics:
        trace.append(opt.param_groups[0]["lr"])
        opt.step()
        ours.step()
        plateau.step(metric)
    halvings = [sum(i in (2, 5) for i in range(k)) for k in range(12)]
    expected = [(0.1 - 0.005 * min(k, 10)) * 0.5**h for k, h in enumerate(halvings)]
    np.testing.assert_allclose(trace, expected, rtol=1e-12)


# -- 2. per-group learning rates -------------------------------------------------------------------------------------
SHAPE = L.warmup(L.cosine_decay(1.0, 20), warmup_steps=5)


def _shape(k: int) -> float:
    return k / 5 if k < 5 else _cos(1.0, k - 5, 20)


def test_relative_mode_scales_each_group_and_equals_torch_lambda_lr():
    opt, peer = _opt(1e-4, 1e-3), _opt(1e-4, 1e-3)
    trace = _trace(opt, schedule_lr(opt, SHAPE, mode="relative"), 30)
    for g, lr in enumerate((1e-4, 1e-3)):
        np.testing.assert_allclose(trace[:, g], [lr * _shape(k) for k in range(30)], rtol=1e-12, atol=1e-18)
    np.testing.assert_array_equal(trace, _trace(peer, LR.LambdaLR(peer, SHAPE), 30))


@pytest.mark.parametrize("schedule", ALL_SCHEDULES, ids=IDS)
def test_every_schedule_relative_equals_torch_lambda_lr_and_absolute_equals_the_schedule(schedule):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # negative or huge catalogue values: torch only warns about the step order
        opt, peer, plain = _opt(1e-4, 1e-3), _opt(1e-4, 1e-3), _opt(0.5)
        relative = _trace(opt, schedule_lr(opt, schedule, mode="relative"), 6)
        np.testing.assert_array_equal(relative, _trace(peer, LR.LambdaLR(peer, schedule), 6))
        absolute = _trace(plain, schedule_lr(plain, schedule), 6)[:, 0]
    np.testing.assert_array_equal(absolute, [schedule(k) for k in range(6)])


def test_one_absolute_schedule_for_different_group_lrs_needs_a_mode():
    with pytest.raises(ValueError, match=r"different learning rates \[0.0001, 0.001\].*mode='relative'"):
        schedule_lr(_opt(1e-4, 1e-3), SHAPE)
    opt = _opt(1e-4, 1e-3)
    trace = _trace(opt, schedule_lr(opt, SHAPE * 1e-3, mode="absolute"), 8)
    np.testing.assert_allclose(trace, [[1e-3 * _shape(k)] * 2 for k in range(8)], rtol=1e-12)
    opt = _opt(1e-4, 1e-3)  # one schedule per group: no ambiguity
    trace = _trace(opt, schedule_lr(opt, [SHAPE * 1e-4, SHAPE * 1e-3]), 8)
    np.testing.assert_allclose(trace, [[1e-4 * _shape(k), 1e-3 * _shape(k)] for k in range(8)], rtol=1e-12)
    opt = _opt(1e-4, 1e-3)  # relative with one schedule per group
    trace = _trace(opt, schedule_lr(opt, [SHAPE, L.constant(2.0)], mode="relative"), 8)
    np.testing.assert_allclose(trace, [[1e-4 * _shape(k), 2e-3] for k in range(8)], rtol=1e-12)
    with pytest.raises(ValueError, match="mode must be 'absolute' or 'relative', got 'multiplier'"):
        schedule_lr(_opt(1e-3), SHAPE, mode="multiplier")  # type: ignore[arg-type]


# -- 4. resume with a changed schedule; 8. last_epoch and tensor LRs ---------------------------------------------------
def test_resume_with_a_changed_schedule_uses_the_new_schedule_from_the_next_update():
    old, new = L.linear(0.1, 0.0, 20), L.constant(0.05)
    opt = _opt(0.1)
    scheduler = schedule_lr(opt, old)
    _trace(opt, scheduler, 7)
    state = _torch_round_trip({"opt": opt.state_dict(), "sched": scheduler.state_dict()}, weights_only=True)
    opt2 = _opt(0.1)
    resumed = schedule_lr(opt2, new)
    opt2.load_state_dict(state["opt"])  # the optimizer first (its groups hold old(7)), then the scheduler
    with pytest.warns(UserWarning, match="different schedules"):
        resumed.load_state_dict(state["sched"])
    assert resumed.last_epoch == 7
    np.testing.assert_array_equal(_trace(opt2, resumed, 3)[:, 0], [0.05, 0.05, 0.05])
    assert resumed.get_last_lr() == [0.05]


@pytest.mark.parametrize("chained", [False, True])
def test_relative_mode_resumes_exactly_with_its_chained_factors(chained):
    def build() -> tuple[torch.optim.Optimizer, Any]:
        opt = _opt(1e-4, 1e-3)
        ours = schedule_lr(opt, SHAPE, mode="relative")
        return opt, LR.ChainedScheduler([ours, LR.ExponentialLR(opt, gamma=0.9)]) if chained else ours

    opt, scheduler = build()
    _trace(opt, scheduler, 7)
    state = _torch_round_trip({"opt": opt.state_dict(), "sched": scheduler.state_dict()}, weights_only=True)
    expected = _trace(opt, scheduler, 10)
    opt2, resumed = build()
    opt2.load_state_dict(state["opt"])
    resumed.load_state_dict(state["sched"])
    np.testing.assert_allclose(_trace(opt2, resumed, 10), expected, rtol=1e-15)
    factor = 0.9**7 if chained else 1.0
    np.testing.assert_allclose(expected[0], [1e-4 * _shape(7) * factor, 1e-3 * _shape(7) * factor], rtol=1e-12)


def test_last_epoch_k_starts_at_schedule_k_plus_1():
    sched = L.linear(1.0, 0.0, 10)
    opt = _opt(1.0)
    opt.param_groups[0]["initial_lr"] = 1.0
    trace = _trace(opt, schedule_lr(opt, sched, last_epoch=4), 3)[:, 0]
    np.testing.assert_allclose(trace, [0.5, 0.4, 0.3], rtol=1e-12)  # S(5), S(6), S(7)


def test_tensor_lr_is_filled_in_place_on_step_and_on_load():
    params = [torch.zeros(2, requires_grad=True)]
    opt = torch.optim.Adam(params, lr=torch.tensor(1e-3))
    lr_tensor = opt.param_groups[0]["lr"]
    sched = L.linear(1e-3, 0.0, 10)
    scheduler = schedule_lr(opt, sched)
    for _ in range(4):
        params[0].grad = torch.ones(2)
        opt.step()
        scheduler.step()
    state = scheduler.state_dict()
    opt.param_groups[0]["lr"].fill_(0.5)
    scheduler.load_state_dict(state)
    assert opt.param_groups[0]["lr"] is lr_tensor
    assert float(lr_tensor) == pytest.approx(6e-4, rel=1e-6)  # S(4), in float32
    assert isinstance(scheduler, ScheduleLR)


# -- the transformers Trainer ------------------------------------------------------------------------------------------
def test_transformers_trainer_with_schedule_lr(tmp_path):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")

    data = trainer_data(32)
    model = TrainerModel()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    shape = L.warmup(L.cosine_decay(1e-2, 6), warmup_steps=3)  # absolute LRs
    seen: list[float] = []

    class Record(transformers.TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            seen.append(float(opt.param_groups[0]["lr"]))

    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=10,
        per_device_train_batch_size=4,
        report_to=[],
        save_strategy="no",
        disable_tqdm=True,
        use_cpu=True,
        logging_strategy="no",
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, optimizers=(opt, schedule_lr(opt, shape)), callbacks=[Record()]
    )
    trainer.train()
    expected = [1e-2 * k / 3 for k in range(3)] + [_cos(1e-2, j, 6) for j in range(7)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12, atol=1e-18)


def test_transformers_trainer_resumes_a_lambda_lr_of_a_nested_schedule(tmp_path):
    """Trap 1 of issue 20: ``Trainer.train(resume_from_checkpoint=...)`` loads ``scheduler.pt`` with
    ``weights_only=True``; resumed halfway, the run ends with the uninterrupted run's parameters."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")

    data = trainer_data(32)
    shape = L.warmup(L.join((L.constant(1.0), L.cosine_decay(1.0, 8, end_value=0.1)), (2,)), warmup_steps=3)

    def train(out: str, resume: str | None = None) -> dict[str, torch.Tensor]:
        model = TrainerModel()
        opt = torch.optim.AdamW(model.parameters(), lr=5e-2)
        args = transformers.TrainingArguments(
            output_dir=out,
            max_steps=12,
            per_device_train_batch_size=4,
            report_to=[],
            save_strategy="steps",
            save_steps=5,
            disable_tqdm=True,
            use_cpu=True,
            logging_strategy="no",
        )
        trainer = transformers.Trainer(
            model=model, args=args, train_dataset=data, optimizers=(opt, LR.LambdaLR(opt, shape))
        )
        trainer.train(resume_from_checkpoint=resume)
        assert trainer.lr_scheduler.last_epoch == 12
        return {k: v.clone() for k, v in model.state_dict().items()}

    whole = train(str(tmp_path / "whole"))
    resumed = train(str(tmp_path / "resumed"), resume=str(tmp_path / "whole" / "checkpoint-5"))
    start = TrainerModel().state_dict()
    assert all(not torch.equal(whole[k], start[k]) for k in whole)  # it trained
    for k in whole:
        assert torch.equal(resumed[k], whole[k]), k


def test_greedy_scheduler_base_per_group_modes() -> None:
    """GreedyLRScheduler(base=...) follows schedule_lr's modes: no silent equal LRs for backbone and head."""
    from lrsched.adapters.torch import GreedyLRScheduler

    def opt() -> torch.optim.Optimizer:
        a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
        return torch.optim.SGD([{"params": a.parameters(), "lr": 1e-4}, {"params": b.parameters(), "lr": 1e-3}])

    base = L.linear(0.0, 1.0, 10)
    with pytest.raises(ValueError, match="mode='relative'"):
        GreedyLRScheduler(opt(), base=base, patience=0)
    o = opt()
    sched = GreedyLRScheduler(o, base=base, lr_mode="relative", patience=0, factor=0.5)
    for t, loss in enumerate((3.0, 2.0, 2.5, 2.6), start=1):
        o.step()
        sched.step(loss)
        g = sched.lr[0] if isinstance(sched.lr, tuple) else sched.lr
        assert [grp["lr"] for grp in o.param_groups] == pytest.approx([1e-4 * base(t) * g, 1e-3 * base(t) * g])
    o = opt()
    GreedyLRScheduler(o, base=base * 1e-3, lr_mode="absolute")
    assert o.param_groups[0]["lr"] == o.param_groups[1]["lr"] == 0.0
