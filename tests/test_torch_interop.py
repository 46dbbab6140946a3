"""lrsched schedules next to torch's own schedulers: LambdaLR checkpoints, SequentialLR/ChainedScheduler mixes,
per-group LRs (absolute and relative modes), resume with a changed schedule, tensor LRs.

Every expectation is computed by hand from the formulas of torch's schedulers (``LinearLR``, ``CosineAnnealingLR``,
``ExponentialLR``) and of the lrsched schedule, never read back from the code under test.
"""

from __future__ import annotations

import io
import pickle
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from conftest import ALL_SCHEDULES, IDS  # noqa: E402

LR = torch.optim.lr_scheduler


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
    for restored in (_torch_round_trip(state, weights_only=False), pickle.loads(pickle.dumps(state))):
        assert restored["lr_lambdas"] == [schedule.__dict__]  # the fields, nothing derived
        fresh = LR.LambdaLR(_opt(1.0), schedule)
        fresh.load_state_dict(restored)
        assert fresh.last_epoch == 3
        assert fresh.lr_lambdas[0] == schedule and fresh.lr_lambdas[0](2.5) == schedule(2.5)
    assert pickle.loads(pickle.dumps(schedule)) == schedule
