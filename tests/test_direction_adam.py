"""``DirectionAdam``: torch's Adam that holds its step direction for the controllers that read it.

It must train as ``torch.optim.Adam`` does (the parameters after a run, to float rounding), give the scheduler the
signals it reads from the parameters' change on torch's Adam (so the hypergradient takes the same LRs), recover
from an LR of 0, and refuse the Adam options whose step it does not write out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrsched.adapters.torch import ControllerScheduler, DirectionAdam  # noqa: E402
from lrsched.controllers import Hypergradient  # noqa: E402

STEPS = 80


def _model() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))


def _run(
    make: Any,
    controller: Any = None,
    *,
    groups: bool = False,
    weight_decay: float = 0.0,
    skip: bool = False,
    closure: bool = False,
    timing: str = "next",
    lr: float = 1e-2,
) -> tuple[np.ndarray, list[list[float]], np.ndarray]:
    """``STEPS`` updates of a small regression net: the final parameters, each update's group LRs, the initial
    parameters. ``groups``: two groups at LRs 1e-2 and 3e-3; ``skip``: the first layer's bias has no gradient at
    every third update (torch's Adam leaves it, and its state, alone there)."""
    model = _model()
    init = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 5, generator=g), torch.randn(64, 1, generator=g)
    params: Any = model.parameters()
    if groups:
        params = [{"params": model[0].parameters(), "lr": lr}, {"params": model[2].parameters(), "lr": 0.3 * lr}]
    opt = make(params, lr=lr, weight_decay=weight_decay)
    sched = None
    if controller is not None:
        sched = ControllerScheduler(opt, controller, lr_mode="relative" if groups else None, timing=timing)
    lrs = []
    for t in range(STEPS):

        def loss_fn(t: int = t) -> Any:
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            if skip and t % 3 == 0:
                model[0].bias.grad = None
            return loss

        lrs.append([float(group["lr"]) for group in opt.param_groups])
        if closure:
            loss = opt.step(loss_fn)
        else:
            loss = loss_fn()
            opt.step()
        if sched is not None:
            sched.step(float(loss.detach()))
    final = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return final.double().numpy(), lrs, init.double().numpy()


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
    # 1e-5: at LRs near 0 the change theta_t - theta_{t-1} that torch's Adam's signal is read from is a few float32
    # ulps of theta; the held direction is not rounded so (4e-6 measured)
    np.testing.assert_allclose(my_lrs, their_lrs, rtol=1e-5, atol=0)


@pytest.mark.parametrize(
    "option", ["amsgrad", "maximize", "capturable", "differentiable", "fused", "decoupled_weight_decay"]
)
def test_refuses_the_adam_options_it_does_not_write_out(option: str) -> None:
    model = _model()
    with pytest.raises(ValueError, match=f"DirectionAdam: param group option {option}=True"):
        DirectionAdam([{"params": model.parameters(), option: True}])
    opt = DirectionAdam(model[0].parameters())
    with pytest.raises(ValueError, match=option):
        opt.add_param_group({"params": model[2].parameters(), option: True})


def test_refuses_a_tensor_lr_complex_parameters_and_sparse_gradients() -> None:
    model = _model()
    with pytest.raises(ValueError, match="complex parameters"):
        DirectionAdam([torch.nn.Parameter(torch.zeros(3, dtype=torch.complex64))])
    with pytest.raises(TypeError, match="lr must be a float"):
        DirectionAdam(model.parameters(), lr=torch.tensor(1e-3))
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = DirectionAdam(emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse"):
        opt.step()
