"""``DirectionAdam``: ``torch.optim.Adam`` that keeps the direction of its last step, for controllers that read it.

A controller reading the previous update's direction (the hypergradient's ``g_t . d_{t-1}``) costs
:class:`~lrsched.adapters.torch.ControllerScheduler` a copy of the parameters and two dot products per update when
the optimizer does not hold that direction: it reads it from the parameters' change. ``DirectionAdam`` computes
Adam's normalised step ``u_t = m_t / (sqrt(v_t / bc2_t) + eps)`` as a tensor of its own (``torch.optim.Adam``
fuses it into the parameter update), applies ``theta_{t+1} = theta_t - (lr / bc1_t) u_t`` and keeps ``u_t`` in its
state: the scheduler then reads ``g . d`` in one dot product, as an Adam-HD optimizer written by hand does
(``benchmarks/results/controllers.md`` measures both).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.optim.optimizer import _get_value

__all__ = ["DirectionAdam"]

#: The options of ``torch.optim.Adam`` whose step ``DirectionAdam`` does not write out, with their default.
_UNSERVED = {
    "amsgrad": False,
    "maximize": False,
    "capturable": False,
    "differentiable": False,
    "fused": None,
    "decoupled_weight_decay": False,
}


class DirectionAdam(torch.optim.Adam):
    """``torch.optim.Adam`` (``foreach`` kernels) that keeps each parameter's last step direction.

    The update is Adam's (Kingma & Ba, 2015), with the coupled ``weight_decay`` of ``torch.optim.Adam``; ``t``
    counts optimizer updates from 1 per parameter, as torch's ``state["step"]``::

        g_t = grad + weight_decay * theta_t
        m_t = beta1 m_{t-1} + (1 - beta1) g_t,   v_t = beta2 v_{t-1} + (1 - beta2) g_t**2
        u_t = m_t / (sqrt(v_t) / sqrt(1 - beta2**t) + eps)
        theta_{t+1} = theta_t - lr / (1 - beta1**t) * u_t

    ``torch.optim.Adam`` computes the last line as ``theta_t + (-lr / bc1 * m_t) / denom``; the two round
    differently in the last bit, so the parameters agree to float rounding, not bit for bit. The state holds
    ``u_t`` (``"direction"``), so ``optimizer.state_dict()`` carries the direction to a resumed run. AMSGrad,
    ``maximize``, ``capturable``, ``differentiable``, ``fused``, the decoupled weight decay of AdamW and complex
    parameters are refused (their step is not written out here):
    with them use ``torch.optim.Adam``/``AdamW``, whose direction the scheduler reads from the parameters' change.

    Example:
        >>> import torch, lrsched
        >>> from lrsched.adapters.torch import ControllerScheduler, DirectionAdam
        >>> model = torch.nn.Linear(3, 1)
        >>> opt = DirectionAdam(model.parameters(), lr=1e-3)
        >>> scheduler = ControllerScheduler(opt, lrsched.controllers.Hypergradient(init_lr=1e-3, beta=1e-4))
        >>> for _ in range(3):
        ...     loss = model(torch.ones(4, 3)).pow(2).mean()
        ...     opt.zero_grad()
        ...     loss.backward()
        ...     opt.step()
        ...     scheduler.step(loss.item())
        >>> sorted(opt.state[model.weight])
        ['direction', 'exp_avg', 'exp_avg_sq', 'step']
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        if isinstance(lr, torch.Tensor):
            raise TypeError("DirectionAdam: lr must be a float, got a Tensor (use torch.optim.Adam for a tensor LR)")
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=True)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a param group, as ``torch.optim.Adam`` does; one with an option this step does not write out, or with
        complex parameters, raises ``ValueError`` naming it."""
        for key, default in _UNSERVED.items():
            if param_group.get(key, default) != default:
                raise ValueError(
                    f"DirectionAdam: param group option {key}={param_group[key]!r} is not supported (only "
                    f"{key}={default!r}); use torch.optim.Adam/AdamW with ControllerScheduler, which reads the "
                    "direction from the parameters' change"
                )
        params = param_group["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        if any(torch.is_complex(p) for p in params):
            raise ValueError("DirectionAdam: complex parameters are not supported; use torch.optim.Adam")
        super().add_param_group({**param_group, "params": params})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """One Adam update of every parameter with a gradient; ``closure`` as ``torch.optim.Adam``'s."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = float(group["lr"]), group["betas"], group["eps"], group["weight_decay"]
            params, grads, states = [], [], []
            for p in group["params"]:
                state = self.state[p]
                if p.grad is None:  # not moved: the scheduler knows (it records which parameters an update moves)
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("DirectionAdam does not support sparse gradients")
                if not state:
                    state["step"] = torch.tensor(0.0, dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(p.grad)
                states.append(state)
            if not params:
                continue
            exp_avgs = [s["exp_avg"] for s in states]
            exp_avg_sqs = [s["exp_avg_sq"] for s in states]
            steps = [s["step"] for s in states]
            torch._foreach_add_(steps, torch.tensor(1.0), alpha=1.0)  # as torch.optim.Adam's CPU step counters
            if wd != 0:
                grads = list(torch._foreach_add(grads, params, alpha=wd))
            torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
            counts = [_get_value(s) for s in steps]
            bias_correction1 = [1 - beta1**n for n in counts]
            denom = torch._foreach_sqrt(exp_avg_sqs)
            torch._foreach_div_(denom, [(1 - beta2**n) ** 0.5 for n in counts])
            torch._foreach_add_(denom, eps)
            directions = torch._foreach_div(exp_avgs, denom)
            if all(bc == bias_correction1[0] for bc in bias_correction1):
                torch._foreach_add_(params, directions, alpha=-lr / bias_correction1[0])
            else:  # parameters at different step counts (some had no gradient at some updates)
                for p, u, bc in zip(params, directions, bias_correction1):
                    p.add_(u, alpha=-lr / bc)
            for state, u in zip(states, directions):
                state["direction"] = u  # the change per unit LR: -u / (1 - beta1 ** state["step"])
        return loss
