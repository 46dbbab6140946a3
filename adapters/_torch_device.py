"""``ControllerScheduler``'s helpers: the signals measured from the optimizer, and the state on the loss's device."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from lrsched.adapters._torch_direction_adam import DirectionAdam
from lrsched.controllers.on import Controlled
from lrsched.controllers.protocol import Controller

__all__ = ["MEASURED", "DeviceState", "HeldDirection", "measure", "retarget", "unread"]


def _norm(tensors: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> torch.Tensor:
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)))  # as clip_grad_norm_ does


_DIRECTION_SIGNALS = ("grad_dot_prev_direction", "prev_direction_norm")
#: The signals ``ControllerScheduler`` measures: the value passed to ``step`` and these, from the optimizer.
MEASURED = frozenset({"loss", "grad_norm", "param_norm", *_DIRECTION_SIGNALS})


def _dot(grads: list[torch.Tensor], theta: list[torch.Tensor], change: Any, old: list[torch.Tensor]) -> torch.Tensor:
    """``sum_i g_i . change_i``; with ``change`` ``None``, the change ``theta - old`` is not formed: each tensor's
    ``g . theta - g . old`` (one read of each, no write; the rounding is of the order of theta_t's own, which the
    change read from the parameters carries anyway)."""
    if change is not None:
        return torch.stack([torch.vdot(g.reshape(-1), c.reshape(-1)) for g, c in zip(grads, change)]).sum()
    pairs = [(g.reshape(-1), p.reshape(-1), b.reshape(-1)) for g, p, b in zip(grads, theta, old)]
    dots = torch.stack([torch.vdot(g, p) for g, p, _ in pairs] + [torch.vdot(g, b) for g, _, b in pairs])
    return (dots[: len(pairs)] - dots[len(pairs) :]).sum()


def _coupled_decay(group: dict[str, Any], optimizer: Any) -> float:
    """The group's weight decay that an SGD or Adam adds to the gradient (0 for AdamW's decoupled decay)."""
    if not isinstance(optimizer, (torch.optim.SGD, torch.optim.Adam)) or group.get("decoupled_weight_decay"):
        return 0.0
    return float(group.get("weight_decay", 0.0))


def _applied_grads(params: list[torch.Tensor], optimizer: Any) -> list[torch.Tensor]:
    """g_t as the optimizer applies it: each gradient plus its group's coupled weight decay times theta_t."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]  # read under no_grad
    decays = [_coupled_decay(g, optimizer) for g in optimizer.param_groups]
    if not any(decays):
        return grads
    decay = {id(p): wd for g, wd in zip(optimizer.param_groups, decays) for p in g["params"]}
    return [
        g.add(p, alpha=decay[id(p)]) if decay.get(id(p)) and p.grad is not None else g for p, g in zip(params, grads)
    ]


def _unit_direction(p: torch.Tensor, group: dict[str, Any], optimizer: Any) -> torch.Tensor:
    """The change per unit LR the coming ``optimizer.step()`` makes to ``p``.

    Needed only when the LR is 0: the change is then 0 and cannot be divided by the LR. SGD (momentum, dampening,
    Nesterov) and Adam/AdamW (amsgrad) are written out from their documented updates; for any other optimizer
    the direction is 0, so h = 0 and the LR stays at 0 (keep ``min_lr`` > 0 there).
    """
    if p.grad is None or not isinstance(optimizer, (torch.optim.SGD, torch.optim.Adam)):
        return torch.zeros_like(p)
    g = -p.grad.detach() if group.get("maximize") else p.grad.detach()  # as torch's SGD and Adam, in this order
    wd = _coupled_decay(group, optimizer)
    g = g.add(p.detach(), alpha=wd) if wd else g
    state = optimizer.state.get(p, {})
    if isinstance(optimizer, torch.optim.SGD):
        mu, buf = group["momentum"], state.get("momentum_buffer")
        if mu == 0:
            return -g
        buf = g.clone() if buf is None else buf * mu + g * (1 - group["dampening"])
        return -(g + mu * buf if group["nesterov"] else buf)
    (b1, b2), eps = group["betas"], group["eps"]  # Adam, AdamW
    step = float(state["step"]) + 1 if "step" in state else 1.0
    m = state["exp_avg"] * b1 + g * (1 - b1) if "exp_avg" in state else g * (1 - b1)
    v = state["exp_avg_sq"] * b2 + g * g * (1 - b2) if "exp_avg_sq" in state else g * g * (1 - b2)
    if group.get("amsgrad") and "max_exp_avg_sq" in state:
        v = torch.maximum(state["max_exp_avg_sq"], v)
    d = -(m / (1 - b1**step)) / (v.sqrt() / (1 - b2**step) ** 0.5 + eps)
    return d - group["weight_decay"] * p.detach() if group.get("decoupled_weight_decay") else d


def _zero_float(lr: Any) -> bool:
    """A float LR of exactly 0. A tensor LR (capturable/fused optimizers) is never read on the host: reading it
    would sync the device every step, so with a tensor LR at 0 the direction is not recovered (keep ``min_lr > 0``)."""
    return not isinstance(lr, torch.Tensor) and float(lr) == 0.0


def unread(wanted: tuple[str, ...], interval: int, t: int) -> dict[str, float] | None:
    """NaN for each ``wanted`` signal when the rule does not read them at update ``t`` (0-based), else ``None``.

    ``interval`` is the controller's ``signal_interval``: the signals are read only where ``(t + 1) % interval == 0``
    (Optax's ``controlled`` skips the same updates). Signals of the previous direction are measured at every
    update all the same: each measurement keeps theta_t for the next one.
    """
    if interval == 1 or (t + 1) % interval == 0 or any(name in wanted for name in _DIRECTION_SIGNALS):
        return None
    return dict.fromkeys(wanted, math.nan)


def _held_signals(pairs: list, coefficients: list[float], wanted: tuple[str, ...], like: torch.Tensor) -> dict:
    """``g_t . d_{t-1}`` and ``|d_{t-1}|`` (those ``wanted``) from ``(g_i, u_i)`` pairs with ``d_{t-1, i} = c_i u_i``,
    a direction the optimizer holds: one dot product (and one norm) per tensor, no buffers (zeros with no pair)."""
    out: dict[str, torch.Tensor] = {}
    if not pairs:
        zero = torch.zeros((), dtype=like.dtype, device=like.device)
        return {name: zero for name in wanted if name in _DIRECTION_SIGNALS}
    same = all(c == coefficients[0] for c in coefficients)
    weights = None if same else torch.tensor(coefficients, dtype=like.dtype, device=like.device)
    if "grad_dot_prev_direction" in wanted:
        dots = torch.stack([torch.vdot(g.reshape(-1), u.reshape(-1)) for g, u in pairs])
        out["grad_dot_prev_direction"] = dots.sum() * coefficients[0] if weights is None else (dots * weights).sum()
    if "prev_direction_norm" in wanted:
        norms = torch.stack(torch._foreach_norm([u for _, u in pairs]))
        norms = norms * abs(coefficients[0]) if weights is None else norms * weights.abs()
        out["prev_direction_norm"] = torch.linalg.vector_norm(norms)
    return out


def _holds_direction(optimizer: Any) -> bool:
    """Whether ``optimizer`` keeps its last update per unit of each group's LR in its state, at float LRs:
    :class:`DirectionAdam` (``"direction"``, over ``bc1``), and ``torch.optim.SGD`` itself (not a subclass, whose step
    may differ) with momentum and without Nesterov in every group (``momentum_buffer``: ``theta_t - theta_{t-1} =
    -lr_{t-1} buf_{t-1}``; ``maximize`` and the coupled decay enter the buffer), until its next step."""
    groups = optimizer.param_groups
    if any(isinstance(g["lr"], torch.Tensor) for g in groups):
        return False
    if isinstance(optimizer, DirectionAdam):
        return True
    return type(optimizer) is torch.optim.SGD and all(g["momentum"] > 0 and not g["nesterov"] for g in groups)


def _unit_step(optimizer: Any, p: torch.Tensor, group: dict[str, Any]) -> tuple[torch.Tensor, float] | None:
    """``(u, scale)`` with ``p``'s last update ``-lr_g * scale * u`` (:func:`_holds_direction`), or ``None`` before
    its first."""
    state = optimizer.state.get(p, {})
    if isinstance(optimizer, DirectionAdam):
        if "direction" not in state:
            return None
        return state["direction"], 1.0 / (1.0 - group["betas"][0] ** float(state["step"]))
    buf = state.get("momentum_buffer")
    return None if buf is None else (buf, 1.0)


class HeldDirection(NamedTuple):
    """What the next measurement needs when the optimizer holds the direction: each group's LR of the coming
    update and which parameters it moves (those with a gradient: the optimizer leaves the others alone)."""

    lrs: tuple[float, ...]
    moved: tuple[bool, ...]

    @classmethod
    def now(cls, params: list[torch.Tensor], optimizer: Any) -> HeldDirection:
        return cls(tuple(float(g["lr"]) for g in optimizer.param_groups), tuple(p.grad is not None for p in params))


def _held_pairs(
    prev: HeldDirection | None, params: list[torch.Tensor], grads: list[torch.Tensor], optimizer: Any
) -> tuple[list, list[float]]:
    """``(g_i, u_i)`` and ``c_i`` with ``d_{t-1, i} = c_i u_i``: ``d_{t-1} = (theta_t - theta_{t-1}) / lr_{t-1}``
    with ``lr_{t-1}`` the first group's, as the parameter-change path reads it, so ``c_i = -scale_i lr_{g, t-1} /
    lr_{t-1}``; where ``lr_{t-1}`` is 0, ``-scale_i`` (the change per unit of the group's own LR, as the
    parameter-change path recovers it there). None for a parameter the last update did not move."""
    if prev is None:
        return [], []
    ref = prev.lrs[0]
    located = [(p, group, k) for k, group in enumerate(optimizer.param_groups) for p in group["params"]]
    pairs, coefficients = [], []
    for (p, group, k), g, moved in zip(located, grads, prev.moved):
        unit = _unit_step(optimizer, p, group) if moved else None
        if unit is None:
            continue
        pairs.append((g, unit[0]))
        coefficients.append(-unit[1] * (prev.lrs[k] / ref if ref != 0.0 else 1.0))
    return pairs, coefficients


def measure(wanted: tuple[str, ...], params: list[torch.Tensor], prev: Any, optimizer: Any) -> tuple[dict, Any]:
    """The ``wanted`` signals at theta_t, before update t, and what the next call needs (buffers, lr_t).

    ``g_t`` includes the coupled weight decay of an SGD or Adam (``weight_decay`` of a group; not AdamW's
    decoupled one), as the hypergradient authors' optimizers do. ``d_{t-1} = (theta_t - theta_{t-1}) / lr_{t-1}``
    (zeros at t = 0), as :data:`lrsched.controllers.SIGNALS`; the buffers hold theta_t. When ``lr_t`` is 0 the
    change will be 0 and ``d_t`` cannot be read from it: the buffers hold ``d_t`` itself instead, computed from
    the optimizer's update rule (SGD, Adam, AdamW), so the LR leaves 0 as in the paper. Only the ``wanted``
    signals are computed; the buffers are kept only when a signal of the previous direction is wanted. The
    dot product alone reads ``g . theta_t - g . theta_{t-1}`` per tensor (no pass writing the change); the norm of
    the change forms it in place in the buffers first. Then theta_t is copied into the buffers. No allocation.

    Where the optimizer holds ``d_{t-1}`` itself (:func:`_holds_direction`: a :class:`DirectionAdam`, its kept step;
    ``torch.optim.SGD`` with momentum and without Nesterov, its momentum buffer) there are no buffers, one dot
    product (and one norm) per tensor; what the next call needs is then a :class:`HeldDirection` (the LRs and the
    moved parameters).
    """
    with torch.no_grad():  # the tensors are read as they are (no detach per tensor: each call costs dispatch time)
        theta = params
        grads = _applied_grads(params, optimizer) if wanted != ("param_norm",) else []
        out: dict[str, Any] = {}
        if "grad_norm" in wanted:
            out["grad_norm"] = _norm(grads)
        if "param_norm" in wanted:
            out["param_norm"] = _norm(theta)
        if not any(name in wanted for name in _DIRECTION_SIGNALS):
            return out, None
        held = _holds_direction(optimizer)
        if isinstance(prev, HeldDirection) and not held:  # the optimizer's groups changed: start afresh
            prev = None
        if held and (prev is None or isinstance(prev, HeldDirection)):  # d_{t-1} from the optimizer's state
            pairs, coefficients = _held_pairs(prev, params, grads, optimizer)
            out.update(_held_signals(pairs, coefficients, wanted, params[0]))
            return {k: out[k] for k in wanted if k in out}, HeldDirection.now(params, optimizer)
        if prev is None:
            zero = torch.zeros((), dtype=theta[0].dtype, device=theta[0].device)
            out["grad_dot_prev_direction"] = out["prev_direction_norm"] = zero
            old = [p.clone() for p in theta]
        else:
            old, lr = prev
            if _zero_float(lr):  # the buffers hold d_{t-1} itself (see below)
                change, lr = old, 1.0
            elif "prev_direction_norm" in wanted:  # the change, in place: theta_{t-1} - theta_t = -lr_{t-1} d_{t-1}
                torch._foreach_sub_(old, theta)
                change, lr = old, -lr
            else:  # the dot product alone: g.theta_t - g.theta_{t-1}, per tensor, with no pass forming the change
                change = None
            if "grad_dot_prev_direction" in wanted:
                out["grad_dot_prev_direction"] = _dot(grads, theta, change, old) / lr
            if "prev_direction_norm" in wanted:
                out["prev_direction_norm"] = _norm(change) / abs(lr)  # the paper's LR may be negative
            torch._foreach_copy_(old, theta)  # reuse the buffers for theta_t
        if held:  # a checkpoint of the parameter-change path, resumed: the optimizer's direction from now on
            return {k: out[k] for k in wanted if k in out}, HeldDirection.now(params, optimizer)
        return {k: out[k] for k in wanted if k in out}, _for_coming_update(old, params, optimizer)


def _for_coming_update(old: list[torch.Tensor], params: list[torch.Tensor], optimizer: Any) -> tuple[Any, Any]:
    """``(buffers, lr_t)`` from buffers holding theta_t: when the coming update's LR ``lr_t`` is 0 it will not move
    theta, so the buffers then hold ``d_t`` itself, from the optimizer's update rule."""
    lr_now = optimizer.param_groups[0]["lr"]
    lr_now = lr_now.clone() if isinstance(lr_now, torch.Tensor) else float(lr_now)
    if _zero_float(lr_now):
        groups = {id(p): g for g in optimizer.param_groups for p in g["params"]}
        for buf, p in zip(old, params):
            buf.copy_(_unit_direction(p, groups[id(p)], optimizer))
    return old, lr_now


def retarget(prev: tuple[Any, Any], params: list[torch.Tensor], optimizer: Any) -> tuple[Any, Any]:
    """What :func:`measure` returned, for the LR the coming update applies now: ``timing="paper"`` sets it after
    the measurement (theta is still theta_t, the update not applied yet)."""
    if isinstance(prev, HeldDirection):
        return HeldDirection.now(params, optimizer)
    with torch.no_grad():
        old, measured = prev
        if _zero_float(measured):  # the buffers hold d_t: back to theta_t
            torch._foreach_copy_(old, [p.detach() for p in params])
        return _for_coming_update(old, params, optimizer)


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
