"""PyTorch adapter: ``schedule_lr`` (a real LambdaLR with absolute LRs) and the GreedyLR scheduler.

Run as a script (``python tests/test_adapter_torch.py MODE CKPT STEPS``) it is the
training job the fresh-process resume test starts.
"""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrsched as L  # noqa: E402
from lrsched.adapters.torch import GreedyLRScheduler, ScheduleLR, schedule_lr  # noqa: E402

WARM_COS = L.warmup(L.cosine_decay(0.1, 40, end_value=0.001), warmup_steps=5)


def _opt(lr: float = 0.5, groups: int = 1) -> torch.optim.Optimizer:
    layers = [torch.nn.Linear(3, 1) for _ in range(groups)]
    return torch.optim.SGD([{"params": m.parameters()} for m in layers], lr=lr, momentum=0.9)


def _trace(opt: torch.optim.Optimizer, scheduler: object, steps: int) -> np.ndarray:
    out = []
    for _ in range(steps):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        scheduler.step()  # type: ignore[attr-defined]
    return np.asarray(out)


def _save_load(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_schedule_lr_is_a_lambda_lr_with_absolute_values():
    opt = _opt(lr=123.0)
    scheduler = schedule_lr(opt, WARM_COS)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR)
    trace = _trace(opt, scheduler, 60)[:, 0]
    np.testing.assert_array_equal(trace, [WARM_COS(k) for k in range(60)])
    assert scheduler.get_last_lr() == [WARM_COS(60)]


def test_schedule_lr_matches_torch_cosine_annealing():
    opt_a, opt_b = _opt(lr=0.1), _opt(lr=0.1)
    ours = schedule_lr(opt_a, L.cosine_decay(0.1, 30, end_value=0.01))
    native = torch.optim.lr_scheduler.CosineAnnealingLR(opt_b, T_max=30, eta_min=0.01)
    np.testing.assert_allclose(_trace(opt_a, ours, 30), _trace(opt_b, native, 30), rtol=1e-12, atol=1e-15)


def test_one_schedule_per_group_and_group_count_checked():
    opt = _opt(groups=2)
    other = L.linear(0.2, 0.0, 10)
    trace = _trace(opt, schedule_lr(opt, [WARM_COS, other]), 12)
    np.testing.assert_array_equal(trace[:, 0], [WARM_COS(k) for k in range(12)])
    np.testing.assert_array_equal(trace[:, 1], [other(k) for k in range(12)])
    with pytest.raises(ValueError, match="one per param group"):
        schedule_lr(_opt(groups=2), [WARM_COS])


def test_state_dict_is_plain_data_and_resumes_exactly():
    opt = _opt()
    scheduler = schedule_lr(opt, WARM_COS)
    _trace(opt, scheduler, 17)
    # Populate the schedule's per-instance caches: they must not leak into the state.
    WARM_COS(np.arange(3.0))
    state = _save_load(scheduler.state_dict())  # weights_only=True: plain data only
    assert json.loads(json.dumps(state)) == state
    assert state["schedules"] == [WARM_COS.to_config()]
    opt2 = _opt()
    resumed = schedule_lr(opt2, WARM_COS)
    resumed.load_state_dict(state)
    expected = _trace(opt, scheduler, 10)
    np.testing.assert_array_equal(_trace(opt2, resumed, 10), expected)


def test_loading_a_different_schedule_warns():
    opt = _opt()
    state = schedule_lr(opt, WARM_COS).state_dict()
    with pytest.warns(UserWarning, match="different schedules"):
        schedule_lr(_opt(), L.constant(0.1)).load_state_dict(state)


def test_lr_lambdas_pickle():
    scheduler = schedule_lr(_opt(), WARM_COS)
    lambdas = pickle.loads(pickle.dumps(scheduler.lr_lambdas))
    assert lambdas == [WARM_COS]
    assert isinstance(scheduler, ScheduleLR)


def test_tiny_model_trains_with_schedule():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(256)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    scheduler = schedule_lr(opt, L.warmup(L.cosine_decay(0.1, 190), warmup_steps=10))
    losses = []
    for _ in range(200):
        loss = torch.nn.functional.mse_loss(model(x).squeeze(-1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        scheduler.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]


def test_missing_torch_names_the_extra():
    code = "import sys; sys.modules['torch'] = None\nimport lrsched.adapters.torch"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert 'pip install "lrsched[torch]"' in out.stderr


def test_swapped_arguments_say_which_is_not_an_optimizer():
    opt = _opt()
    with pytest.raises(TypeError, match=r"Warmup is not an Optimizer \(the arguments are swapped"):
        schedule_lr(WARM_COS, opt)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^schedule_lr: Linear is not an Optimizer$"):
        schedule_lr(torch.nn.Linear(2, 1), WARM_COS)  # type: ignore[arg-type]


# -- GreedyLR ----------------------------------------------------------------------------------------------------------
def _losses(n: int, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    # Improving, then plateauing and noisy: both increases and decreases happen.
    return list(np.exp(-np.arange(n) / 15.0) + 0.05 * rng.random(n))


def test_greedy_scheduler_is_a_plateau_scheduler_and_needs_the_value():
    opt = _opt(lr=0.1)
    scheduler = GreedyLRScheduler(opt)
    assert isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)
    with pytest.raises(TypeError, match="monitored value"):
        scheduler.step()


def test_reduce_on_plateau_settings_match_torch():
    opt_a, opt_b = _opt(lr=0.1, groups=2), _opt(lr=0.1, groups=2)
    ours = GreedyLRScheduler(opt_a, L.reduce_on_plateau(patience=2, factor=0.5, cooldown=1, min_lr=(0.01, 0.02)))
    native = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_b, patience=2, factor=0.5, cooldown=1, min_lr=[0.01, 0.02])
    trace_a, trace_b = [], []
    for loss in _losses(80):
        ours.step(loss)
        native.step(loss)
        trace_a.append(ours.get_last_lr())
        trace_b.append(native.get_last_lr())
    np.testing.assert_allclose(trace_a, trace_b, rtol=1e-12)
    assert min(np.asarray(trace_a)[:, 0]) == 0.01 and min(np.asarray(trace_a)[:, 1]) == 0.02


def test_greedy_per_group_bounds_follow_the_closure():
    opt = _opt(lr=0.1, groups=2)
    settings = L.GreedyLR(patience=1, factor=0.5, min_lr=(0.01, 0.05), max_lr=(0.4, 0.2))
    scheduler = GreedyLRScheduler(opt, settings)
    closure = L.greedy(settings, init_lr=(0.1, 0.1))  # the groups' lr is the initial LR
    lrs = []
    for loss in _losses(120):
        scheduler.step(loss)
        assert scheduler.get_last_lr() == list(closure(loss))
        lrs.append([g["lr"] for g in opt.param_groups])
    lrs_arr = np.asarray(lrs)
    assert lrs_arr[:, 0].max() == 0.4 and lrs_arr[:, 1].max() == 0.2  # each group's own cap is hit
    assert lrs_arr[:, 0].min() >= 0.01 and lrs_arr[:, 1].min() >= 0.05


def test_greedy_on_top_of_a_schedule_keeps_the_warmup():
    base = L.warmup(L.cosine_decay(0.1, 200), warmup_steps=10)
    opt = _opt()
    scheduler = GreedyLRScheduler(opt, base=base, start_step=10, patience=1, factor=0.5, max_lr=4.0)
    reference = L.greedy_on(base, start_step=10, patience=1, factor=0.5, max_lr=4.0)
    lrs = [opt.param_groups[0]["lr"]]
    for loss in _losses(60):
        scheduler.step(loss)
        lrs.append(opt.param_groups[0]["lr"])
        assert lrs[-1] == pytest.approx(reference(loss), rel=1e-12)
    np.testing.assert_array_equal(lrs[:11], [base(k) for k in range(11)])  # the warmup is untouched
    assert any(abs(lr - base(k)) > 1e-6 for k, lr in enumerate(lrs))  # then the loss steers


def test_greedy_state_dict_is_weights_only_safe():
    opt = _opt()
    scheduler = GreedyLRScheduler(opt, base=WARM_COS, patience=1, factor=0.5, window=3)
    losses = _losses(50)
    for loss in losses[:20]:
        scheduler.step(loss)
    state = _save_load(scheduler.state_dict())
    opt2 = _opt()
    resumed = GreedyLRScheduler(opt2, base=WARM_COS, patience=1, factor=0.5, window=3)
    resumed.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for loss in losses[20:]:
        scheduler.step(loss)
        resumed.step(loss)
        assert resumed.get_last_lr() == scheduler.get_last_lr()


def test_greedy_keeps_tensor_learning_rates_tensors():
    params = [torch.zeros(2, requires_grad=True)]
    opt = torch.optim.Adam(params, lr=torch.tensor(0.01))
    scheduler = GreedyLRScheduler(opt, patience=0, factor=0.5)
    for loss in (1.0, 2.0):
        params[0].grad = torch.ones(2)
        opt.step()
        scheduler.step(loss)
    assert isinstance(opt.param_groups[0]["lr"], torch.Tensor)
    assert float(opt.param_groups[0]["lr"]) == pytest.approx(0.01)  # up after 1.0, down after 2.0


# -- checkpoint at step k, resume in a fresh process -------------------------------------------------------------------
def _job(kind: str, start: int, stop: int, ckpt: str) -> list[list[float]]:
    """Train a tiny MLP from ``start`` to ``stop`` (restoring ``ckpt`` when start > 0); return the LR trace."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(512, 8, generator=g)
    y = torch.sin(x.sum(1, keepdim=True))
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.AdamW([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=1e-2)
    if kind == "schedule":
        scheduler: Any = schedule_lr(opt, [WARM_COS, WARM_COS * 0.5])
    else:
        scheduler = GreedyLRScheduler(opt, base=[WARM_COS, WARM_COS * 0.5], start_step=5, patience=2, window=4)
    if start > 0:
        state = torch.load(ckpt, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        scheduler.load_state_dict(state["scheduler"])
    trace = []
    for step in range(start, stop):
        batch = slice(64 * (step % 8), 64 * (step % 8 + 1))
        trace.append([grp["lr"] for grp in opt.param_groups])
        loss = torch.nn.functional.mse_loss(model(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
        scheduler.step(loss.item()) if kind == "greedy" else scheduler.step()
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "scheduler": scheduler.state_dict()}
    torch.save(state, ckpt)
    return trace


def _run_job(kind: str, start: int, stop: int, ckpt: Path) -> list[list[float]]:
    cmd = [sys.executable, __file__, kind, str(start), str(stop), str(ckpt)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["schedule", "greedy"])
def test_resume_in_a_fresh_process_reproduces_the_lr_trace(kind, tmp_path):
    whole = _job(kind, 0, 40, str(tmp_path / "whole.pt"))
    first = _run_job(kind, 0, 17, tmp_path / "ckpt.pt")
    second = _run_job(kind, 17, 40, tmp_path / "ckpt.pt")
    assert first + second == whole
    assert len({tuple(lr) for lr in whole}) > 10  # the LRs really move


if __name__ == "__main__":
    print(json.dumps(_job(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
