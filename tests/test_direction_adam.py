"""``DirectionAdam``: torch's Adam that holds its step direction for the controllers that read it.

It must train as ``torch.optim.Adam`` does (the parameters after a run, to float rounding), give the scheduler the
signals it reads from the parameters' change on torch's Adam (so the hypergradient takes the same LRs), recover
from an LR of 0, and refuse the Adam options whose step it does not write out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _loops import scheduled_loop  # noqa: E402

from lrsched.adapters.torch import DirectionAdam  # noqa: E402
from lrsched.controllers import Hypergradient  # noqa: E402

STEPS = 80


def _run(make: Any, controller: Any = None, **kwargs: Any) -> tuple[np.ndarray, list[list[float]], np.ndarray]:
    """``STEPS`` updates of the tiny model (``_loops.scheduled_loop``): final parameters, LRs, initial parameters."""
    r = scheduled_loop(make, controller, steps=STEPS, lr=1e-2, **kwargs)
    return r.final, r.lrs, r.init


def _adam(params: Any, **kwargs: Any) -> Any:
    return torch.optim.Adam(params, foreach=True, **kwargs)


CASES = {
    "one group": {},
    "two groups": {"groups": True},
    "coupled weight decay": {"weight_decay": 0.1},
    "a parameter without gradient": {"skip": True},
    "closure": {"closure": True},
}


@pytest.mark.parametrize("case", CASES)
def test_trains_as_torch_adam(case: str) -> None:
    theirs, _, init = _run(_adam, **CASES[case])
    mine, _, _ = _run(DirectionAdam, **CASES[case])
    assert np.max(np.abs(theirs - init)) > 0.1  # the run moved the parameters far beyond the rounding compared
    np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("timing", ["next", "paper"])
@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
@pytest.mark.parametrize("case", CASES)
def test_the_hypergradient_takes_the_lrs_it_takes_on_torch_adam(case: str, mode: str, timing: str) -> None:
    """The signals from the held direction are the ones read from the parameters' change on torch's Adam: the
    same LRs (to float32 rounding of the two reads) and the same trained parameters."""
    kwargs = CASES[case]
    init_lr = 1.0 if kwargs.get("groups") else 1e-2  # relative to each group's LR with groups
    beta = (1e-2 if kwargs.get("groups") else 1e-4) if mode == "additive" else 1e-2
    c = Hypergradient(init_lr=init_lr, beta=beta, mode=mode)
    theirs, their_lrs, _ = _run(_adam, c, timing=timing, **kwargs)
    mine, my_lrs, _ = _run(DirectionAdam, c, timing=timing, **kwargs)
    lrs = np.asarray(their_lrs)
    assert np.max(np.abs(lrs / lrs[0] - 1)) > 0.05  # the hypergradient moved the LR
    np.testing.assert_allclose(my_lrs, their_lrs, rtol=1e-6, atol=0)
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-5)  # Adam's rounding, 1e-4 of what the run moved


def test_an_lr_of_zero_is_left_as_on_torch_adam() -> None:
    """Started at LR 0 the parameters do not move; the held direction is still Adam's step, so the additive LR
    leaves 0 (the paper's behaviour; on torch's Adam the scheduler recovers the direction from the update rule).
    The multiplicative rule keeps 0: ``lr * (1 - beta h / norms)``."""
    c = Hypergradient(init_lr=0.0, beta=1e-4)
    _, their_lrs, _ = _run(_adam, c)
    _, my_lrs, _ = _run(DirectionAdam, c)
    assert their_lrs[0][0] == 0.0 and their_lrs[-1][0] > 1e-4
    # 5e-5: at LRs near 0 the change theta_t - theta_{t-1} that torch's Adam's signal is read from is a few float32
    # ulps of theta; the held direction is not rounded so (1.3e-5 measured)
    np.testing.assert_allclose(my_lrs, their_lrs, rtol=5e-5, atol=0)


@pytest.mark.parametrize(
    "option", ["amsgrad", "maximize", "capturable", "differentiable", "fused", "decoupled_weight_decay"]
)
def test_refuses_the_adam_options_it_does_not_write_out(option: str) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    with pytest.raises(ValueError, match=f"DirectionAdam: param group option {option}=True"):
        DirectionAdam([{"params": model.parameters(), option: True}])
    opt = DirectionAdam(model[0].parameters())
    with pytest.raises(ValueError, match=option):
        opt.add_param_group({"params": model[2].parameters(), option: True})


def test_refuses_a_tensor_lr_complex_parameters_and_sparse_gradients() -> None:
    model = torch.nn.Linear(5, 1)
    with pytest.raises(ValueError, match="complex parameters"):
        DirectionAdam([torch.nn.Parameter(torch.zeros(3, dtype=torch.complex64))])
    with pytest.raises(TypeError, match="lr must be a float"):
        DirectionAdam(model.parameters(), lr=torch.tensor(1e-3))
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = DirectionAdam(emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()
