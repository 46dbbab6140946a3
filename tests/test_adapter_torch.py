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

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrsched.adapters.torch import ScheduleLR, schedule_lr  # noqa: E402

import lrsched as L  # noqa: E402

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
