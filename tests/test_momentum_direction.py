"""``ControllerScheduler`` on ``torch.optim.SGD`` with momentum reads the previous direction from the optimizer.

SGD with momentum (not Nesterov) moves ``theta_{t+1} = theta_t - lr_t buf_t``, and ``buf_t`` stays in its state until
the next step: the scheduler reads ``g_t . d_{t-1}`` from it (one dot product, no copy of the parameters). It must
take the LRs the parameter-change reading takes (a subclass of SGD, whose step the scheduler does not assume, is
read that way) on every path: groups at different LRs, coupled weight decay, dampening, ``maximize``, a parameter
without gradient, ``step(closure)``, ``timing="paper"``, an LR of 0; Nesterov is read from the parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _loops import scheduled_loop  # noqa: E402

from lrsched.controllers import Hypergradient  # noqa: E402

STEPS = 60


class ChangeSGD(torch.optim.SGD):
    """torch's SGD under another name: the scheduler reads its direction from the parameters' change."""


def _run(cls: Any, controller: Any, **kwargs: Any) -> tuple[list[list[float]], np.ndarray, dict[str, Any]]:
    """Each update's group LRs, the final parameters and the scheduler's ``state_dict()``: ``STEPS`` updates of the
    tiny model (``_loops.scheduled_loop``) by ``cls(..., momentum=0.9)``."""
    r = scheduled_loop(lambda params, **o: cls(params, momentum=0.9, **o), controller, steps=STEPS, lr=0.05, **kwargs)
    assert r.state is not None
    return r.lrs, r.final, r.state


CASES: dict[str, dict[str, Any]] = {
    "one group": {},
    "two groups": {"groups": True},
    "coupled weight decay": {"weight_decay": 0.01},
    "dampening": {"dampening": 0.1},
    "maximize": {"maximize": True},
    "a parameter without gradient": {"skip": True},
    "closure": {"closure": True},
    "paper timing": {"timing": "paper"},
}


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
@pytest.mark.parametrize("case", CASES)
def test_the_held_buffer_gives_the_lrs_of_the_parameter_change(case: str, mode: str) -> None:
    kwargs = CASES[case]
    init_lr = 1.0 if kwargs.get("groups") else 0.05
    beta = (1e-1 if kwargs.get("groups") else 1e-3) if mode == "additive" else 2e-2
    c = Hypergradient(init_lr=init_lr, beta=beta, mode=mode)
    theirs, their_params, their_state = _run(ChangeSGD, c, **kwargs)
    mine, my_params, my_state = _run(torch.optim.SGD, c, **kwargs)
    assert "theta" in their_state["previous_update"]  # read from the parameters: a copy of them
    assert "theta" not in my_state["previous_update"]  # read from the buffer: no copy
    lrs = np.asarray(theirs)
    assert np.max(np.abs(lrs / lrs[0] - 1)) > 0.05  # the hypergradient moved the LR
    # 1e-5: the change theta_t - theta_{t-1} carries float32 rounding of theta; the buffer does not
    np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=0)
    np.testing.assert_allclose(my_params, their_params, rtol=0, atol=1e-5)


def test_an_lr_of_zero_is_left_and_nesterov_is_read_from_the_parameters() -> None:
    c = Hypergradient(init_lr=0.0, beta=1e-3)
    theirs, _, _ = _run(ChangeSGD, c)
    mine, _, _ = _run(torch.optim.SGD, c)
    assert theirs[0][0] == 0.0 and theirs[-1][0] > 1e-3  # the LR left 0
    # 5e-5: near LR 0 the change is a few float32 ulps of theta (1e-5 measured); the buffer is not rounded so
    np.testing.assert_allclose(mine, theirs, rtol=5e-5, atol=0)
    c = Hypergradient(init_lr=0.05, beta=1e-3)
    _, _, state = _run(torch.optim.SGD, c, nesterov=True)
    assert "theta" in state["previous_update"]  # Nesterov's step is not its buffer: read from the parameters
