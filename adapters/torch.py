"""PyTorch adapter: lrsched schedules and GreedyLR as ``torch.optim.lr_scheduler`` objects.

:func:`schedule_lr` returns a real :class:`torch.optim.lr_scheduler.LambdaLR` (:class:`ScheduleLR`) in one of
two modes; ``k`` counts ``scheduler.step()`` calls (optimizer updates), from 0:

* ``mode="absolute"``: every group's lr is ``schedule(k)``, in LR units; the LR the optimizer was built with is
  ignored. The default when all groups share one LR, or when there is one schedule per group.
* ``mode="relative"``: group ``g``'s lr is ``lr_g * schedule(k)``, where ``lr_g`` is the LR the group was built
  with (``initial_lr``) and the schedule is a unitless multiplier -- ``LambdaLR``'s own convention, and the
  natural one for fine-tuning splits (backbone 1e-4, head 1e-3, one shape). A multiplier rather than
  ``schedule(k) / schedule(0)``: warmups start at 0. To reuse a schedule written in LR units, divide it by
  its peak: ``schedule_lr(opt, sched / 1e-3, mode="relative")``.

One absolute schedule for groups built with different LRs raises ``ValueError`` unless ``mode`` is given: it
would silently give them all the same LR.

The groups' ``initial_lr`` is left as the optimizer's own LR, so torch's schedulers on the same optimizer
(``SequentialLR``, ``ChainedScheduler``, ``CosineAnnealingLR``, ``LinearLR``...) scale from it as usual. Inside a
``ChainedScheduler`` a ``ScheduleLR`` is chainable: a factor another scheduler applied to a group's lr since this
one's last step is kept (``lr = scale * schedule(k) * factor``), as torch's chainable schedulers keep each
other's factors; so is a ``ReduceLROnPlateau`` reduction or a hand edit of ``group["lr"]``, but not the LR of a
loaded optimizer state (its groups are new dicts), and a factor cannot be read back from an LR of 0.

Controllers: :class:`ControllerScheduler` (and :class:`GreedyLRScheduler`) are stepped as ``scheduler.step(loss)``
after ``optimizer.step()``, so by default (``timing="next"``) the signals of update ``t`` set the LR from update
``t + 1`` on: one update later than the hypergradient paper (Baydin et al.), whose algorithms step with the new LR
at once. ``ControllerScheduler(..., timing="paper")``, like Optax's ``controlled(..., timing="paper")``, offers the
paper's order for controllers that read no loss (:data:`lrsched.controllers.TIMINGS`).

``last_epoch=K`` follows ``LambdaLR``: construction takes a step, so the first update after it uses
``schedule(K + 1)``; to resume *before* update ``k``, pass ``last_epoch=k - 1`` (or, better, load a
``state_dict()``). ``state_dict()`` holds plain data (counters, factors and the schedules' configs), so it survives
``torch.save`` -> ``torch.load(..., weights_only=True)``.

Example:
    >>> import torch, lrsched
    >>> from lrsched.adapters.torch import schedule_lr
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.0)
    >>> sched = lrsched.warmup(lrsched.cosine_decay(0.1, 90), warmup_steps=10)
    >>> scheduler = schedule_lr(opt, sched)
    >>> for _ in range(10):
    ...     opt.step()
    ...     scheduler.step()
    >>> opt.param_groups[0]["lr"] == sched(10)
    True
    >>> backbone, head = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    >>> opt = torch.optim.AdamW([{"params": backbone.parameters(), "lr": 1e-4}, {"params": head.parameters()}], lr=1e-3)
    >>> scheduler = schedule_lr(opt, lrsched.warmup(lrsched.cosine_decay(1.0, 90), 10), mode="relative")
    >>> for _ in range(10):
    ...     opt.step()
    ...     scheduler.step()
    >>> [g["lr"] for g in opt.param_groups]  # each group's own LR times the shape's peak, 1.0
    [0.0001, 0.001]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from lrsched._core.schedule import Schedule, scalar_function
from lrsched.adapters._require import missing

try:
    import torch
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LambdaLR
except ImportError as error:  # pragma: no cover - exercised in a subprocess
    raise missing("torch", error) from error

from lrsched.adapters._torch_controller import ControllerScheduler
from lrsched.adapters._torch_direction_adam import DirectionAdam
from lrsched.adapters._torch_free_tournament import free_tournament
from lrsched.adapters._torch_groups import MODES, Mode, group_schedules, resolve_mode, set_lr
from lrsched.adapters._torch_tournament import peak_tournament
from lrsched.greedy.settings import GreedyLR, with_knobs

__all__ = [
    "ControllerScheduler",
    "DirectionAdam",
    "GreedyLRScheduler",
    "ScheduleLR",
    "free_tournament",
    "peak_tournament",
    "schedule_lr",
]

ScheduleLike = Schedule | Callable[[Any], Any] | float


def _config_or_none(schedule: Schedule) -> dict[str, Any] | None:
    try:
        return schedule.to_config()
    except TypeError:  # a wrapped plain callable has no config
        return None


class ScheduleLR(LambdaLR):
    """A ``LambdaLR`` whose lambdas are lrsched schedules, absolute or relative to each group's LR.

    Build it with :func:`schedule_lr` (the modes are described there and in the module docstring).
    ``state_dict()`` stores the step counters, the chained factors and, under ``"schedules"``, each group's
    schedule config (``None`` for a plain callable). :meth:`load_state_dict` warns when those differ from the
    scheduler's own schedules and keeps its own; either way each group's ``lr`` becomes *this* scheduler's value
    at the restored step, so the next update already uses it.
    """

    lr_lambdas: list[Schedule]  # type: ignore[assignment]

    def __init__(
        self, optimizer: Optimizer, lr_lambda: list[Schedule], last_epoch: int = -1, *, mode: Mode = "absolute"
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"ScheduleLR: mode must be 'absolute' or 'relative', got {mode!r}")
        self.mode = mode
        self._factors = [1.0] * len(optimizer.param_groups)
        self._groups = list(optimizer.param_groups)  # identity: a loaded optimizer state replaces the dicts
        super().__init__(optimizer, list[Callable[[int], float]](lr_lambda), last_epoch)

    def _values(self, last: list[Any] | None = None) -> list[Any]:
        """Each group's ``scale * schedule(last_epoch) * factor``. With ``last`` (the LRs this scheduler set at its
        previous step), a group's LR that differs from it was changed by another scheduler since: its ratio joins
        the group's factor first (a loaded optimizer state's new groups are not a factor)."""
        t, groups, lambdas, factors = self.last_epoch, self.optimizer.param_groups, self.lr_lambdas, self._factors
        scale = self.base_lrs if self.mode == "relative" else None
        compiled = type(t) is int and t >= 0  # what schedule(t) checks before it calls the compiled formula
        seen, out = self._groups, []
        for i, group in enumerate(groups):  # one loop, no comprehension: this runs once per optimizer update
            if last is not None:
                if group is not seen[i]:
                    self._groups = list(groups)
                elif group["lr"] != last[i] and last[i] != 0:
                    factors[i] *= float(group["lr"]) / float(last[i])
            value = scalar_function(lambdas[i])(t) if compiled else lambdas[i](t)
            # f is exactly 1.0 unless chained: s(t) * 1.0 == s(t)
            out.append(value * factors[i] if scale is None else scale[i] * value * factors[i])
        return out

    def _get_closed_form_lr(self) -> list[Any]:
        """The value at ``last_epoch`` without chained factors (``SequentialLR`` switching to this scheduler)."""
        self._factors = [1.0] * len(self.lr_lambdas)
        return self._values()

    def get_lr(self) -> list[Any]:
        """Each group's ``scale * schedule(last_epoch) * factor`` (see the class docstring)."""
        if not self._get_lr_called_within_step:
            message = "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."
            warnings.warn(message, UserWarning, stacklevel=2)
        last = getattr(self, "_last_lr", None)
        if last is None or self.last_epoch == 0:
            return self._get_closed_form_lr()
        return self._values(last)

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas", "_groups")}
        state["lr_lambdas"] = [None] * len(self.lr_lambdas)
        state["_factors"] = list(self._factors)
        # Factors applied after this scheduler's last step (later members of a ChainedScheduler), for the resume.
        state["_pending"] = [
            float(g["lr"]) / float(w) if float(w) != 0.0 else 1.0
            for g, w in zip(self.optimizer.param_groups, self._last_lr)
        ]
        state["schedules"] = [_config_or_none(s) for s in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved, mode = state.pop("schedules", None), state.pop("mode", self.mode)
        if (saved is not None and saved != [_config_or_none(s) for s in self.lr_lambdas]) or mode != self.mode:
            warnings.warn(
                "ScheduleLR.load_state_dict: the checkpoint was saved with different schedules or mode; "
                "keeping this scheduler's schedules and mode and restoring only its step counters",
                UserWarning,
                stacklevel=2,
            )
        n = len(self.lr_lambdas)
        state["lr_lambdas"] = [None] * n
        state.setdefault("_factors", [1.0] * n)
        pending = state.pop("_pending", [1.0] * n)
        super().load_state_dict(state)
        self._factors = [float(f) for f in self._factors]
        # The next update uses this scheduler's schedule at the restored step, not the checkpoint's last LR
        # (times what later chained schedulers had applied, which the next step() keeps as their factor).
        values = self._values()
        for group, lr, p in zip(self.optimizer.param_groups, values, pending):
            set_lr(group, lr * p if p != 1.0 else lr)
        self._groups = list(self.optimizer.param_groups)
        self._last_lr = [v.clone() if isinstance(v, torch.Tensor) else v for v in values]


def schedule_lr(
    optimizer: Optimizer,
    schedule: ScheduleLike | Sequence[ScheduleLike],
    last_epoch: int = -1,
    *,
    mode: Mode | None = None,
) -> ScheduleLR:
    """A ``LambdaLR`` setting each param group's lr from an lrsched schedule, absolute or relative.

    Args:
        optimizer: the wrapped optimizer; its groups' ``initial_lr`` (set to their ``lr`` when absent) is what
            relative mode and torch's own schedulers scale.
        schedule: one lrsched schedule (or number, or callable) for every group, or a list/tuple with one per
            param group. ``step`` is the number of ``scheduler.step()`` calls so far.
        last_epoch: as in ``LambdaLR``: ``-1`` starts at step 0; ``K`` makes the first update use
            ``schedule(K + 1)``.
        mode: ``"absolute"`` (``lr = schedule(step)``) or ``"relative"`` (``lr = group's LR * schedule(step)``).
            ``None`` means absolute, but raises ``ValueError`` when one schedule meets groups built with
            different LRs.

    Returns:
        a :class:`ScheduleLR`; call ``scheduler.step()`` after each ``optimizer.step()``.

    An ``optimizer`` that is not a ``torch.optim.Optimizer`` (the arguments swapped, say) raises ``TypeError``
    ("... is not an Optimizer", as torch's schedulers say).
    """
    if not isinstance(optimizer, Optimizer):
        swapped = " (the arguments are swapped: schedule_lr(optimizer, schedule))" * isinstance(schedule, Optimizer)
        raise TypeError(f"schedule_lr: {type(optimizer).__name__} is not an Optimizer{swapped}")
    schedules, per_group = group_schedules("schedule_lr", "schedule", optimizer, schedule)
    mode = resolve_mode("schedule_lr", "schedule", optimizer, mode, per_group)
    return ScheduleLR(optimizer, schedules, last_epoch=last_epoch, mode=mode)


class GreedyLRScheduler(ControllerScheduler):
    """GreedyLR as a torch scheduler: :class:`ControllerScheduler` with a :class:`lrsched.GreedyLR`.

    ``GreedyLRScheduler(optimizer, settings=None, *, base=None, start_step=0, **knobs)``: ``knobs`` are
    GreedyLR's fields (torch's and transformers' names such as ``window_size`` raise a ``TypeError`` naming
    lrsched's). Per-group ``init_lr``/``min_lr``/``max_lr`` tuples give groups their own bounds.

    Example:
        >>> import torch
        >>> from lrsched.adapters.torch import GreedyLRScheduler
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> sched = GreedyLRScheduler(opt, patience=0, factor=0.5)
        >>> for loss in (3.0, 2.0, 2.5):
        ...     sched.step(loss)
        >>> sched.get_last_lr()  # up after 3.0 and 2.0 (improvements), down after 2.5
        [0.2]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        settings: GreedyLR | None = None,
        *,
        base: Schedule | float | Sequence[Schedule | float] | None = None,
        start_step: int = 0,
        lr_mode: str | None = None,
        reduce: str | None = "mean",
        process_group: Any = None,
        mode: str | None = None,
        **knobs: Any,
    ) -> None:
        if mode in ("min", "max"):  # GreedyLR's own mode (a knob), not the groups' lr_mode
            knobs["mode"], mode = mode, None
        controller = with_knobs("GreedyLRScheduler", settings, knobs)
        super().__init__(
            optimizer,
            controller,
            base=base,
            start_step=start_step,
            lr_mode=lr_mode,
            reduce=reduce,
            process_group=process_group,
            mode=mode,
        )
