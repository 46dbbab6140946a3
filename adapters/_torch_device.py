"""``ControllerScheduler``'s helpers: the signals measured from the optimizer, and the state on the loss's device."""

from __future__ import annotations

from typing import Any

import torch

from lrsched.controllers.on import Controlled
from lrsched.controllers.protocol import Controller

__all__ = ["MEASURED", "DeviceState", "measure"]


def _norm(tensors: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)))  # as clip_grad_norm_ does


_DIRECTION_SIGNALS = ("grad_dot_prev_direction", "prev_direction_norm")
#: The signals ``ControllerScheduler`` measures: the value passed to ``step`` and these, from the optimizer.
MEASURED = frozenset({"loss", "grad_norm", "param_norm", *_DIRECTION_SIGNALS})


def measure(wanted: tuple[str, ...], params: list[torch.Tensor], prev: Any, optimizer: Any) -> tuple[dict, Any]:
    """The ``wanted`` signals at theta_t, before update t, and what the next call needs (theta_t, lr_t).

    ``d_{t-1} = (theta_t - theta_{t-1}) / lr_{t-1}`` (zeros at t = 0), as :data:`lrsched.controllers.SIGNALS`.
    Only the ``wanted`` signals are computed; theta_t is kept (in ``prev``'s buffers after the first call) only
    when a signal of the previous direction is wanted.
    """
    with torch.no_grad():
        theta = [p.detach() for p in params]
        grads = [p.grad.detach() if p.grad is not None else torch.zeros_like(p) for p in params]
        out: dict[str, Any] = {}
        if "grad_norm" in wanted:
            out["grad_norm"] = _norm(grads)
        if "param_norm" in wanted:
            out["param_norm"] = _norm(theta)
        if not any(name in wanted for name in _DIRECTION_SIGNALS):
            return out, None
        if prev is None:
            zero = torch.zeros((), dtype=theta[0].dtype, device=theta[0].device)
            out["grad_dot_prev_direction"] = out["prev_direction_norm"] = zero
            old = [p.clone() for p in theta]
        else:
            old, lr = prev
            change = torch._foreach_sub(theta, old)  # theta_t - theta_{t-1} = lr_{t-1} d_{t-1}
            if "grad_dot_prev_direction" in wanted:
                out["grad_dot_prev_direction"] = (
                    sum(torch.vdot(g.flatten(), c.flatten()) for g, c in zip(grads, change)) / lr
                )
            if "prev_direction_norm" in wanted:
                out["prev_direction_norm"] = _norm(change) / lr
            torch._foreach_copy_(old, theta)  # reuse the buffers for theta_t
        lr_now = optimizer.param_groups[0]["lr"]
        lr_now = lr_now.clone() if isinstance(lr_now, torch.Tensor) else float(lr_now)
        return {k: out[k] for k in wanted if k in out}, (old, lr_now)


class DeviceState:
    """The state of ``controlled`` as float64/int32 tensors on one device, updated with tensor operations.

    ``update(value)`` and ``lr(t)`` never read a tensor on the host (no ``.item()``, no ``float()``), so a training
    step including ``scheduler.step(loss)`` runs without a device sync. In float64 the operations are the ones
    the Python path does, in the same order: the LR sequence is identical.
    """

    def __init__(self, controlled: Controller[Any], state: Any, like: torch.Tensor) -> None:
        self.controlled = controlled
        self.clock = int(state.step)  # a host copy of state.step (it advances by one per update)
        self.state = controlled.cast(state, torch.zeros((), dtype=torch.float64, device=like.device))

    def update(self, value: torch.Tensor, t: int) -> None:
        """Observe ``value`` (the loss of update ``t``)."""
        state = self.state
        if self.clock != t:  # values arrive per evaluation or epoch: the clock counts optimizer updates
            state = state._replace(step=torch.full_like(state.step, t))
        self.state = self.controlled.update(state, value.detach().to(torch.float64))
        self.clock = t + 1

    def lr(self, t: int | None = None) -> Any:
        """The LR of update ``t`` (default: the next): tensors, or a tuple of them per group."""
        t = self.clock if t is None else t
        if isinstance(self.controlled, Controlled):
            return self.controlled.lr(self.state._replace(step=t))  # base(t) on the host, times a tensor
        return self.controlled.lr(self.state)
