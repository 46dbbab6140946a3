"""GreedyLR as a torch LR scheduler; re-exported by :mod:`lrsched.adapters.torch`."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from lrsched._core.schedule import Schedule, as_schedule
from lrsched.greedy.closure import GreedyScheduler
from lrsched.greedy.settings import GreedyLR, resolve_settings

__all__ = ["GreedyLRScheduler"]


def _settings(optimizer: Optimizer, settings: GreedyLR | None, knobs: dict[str, Any], multiplier: bool) -> GreedyLR:
    settings = resolve_settings("GreedyLRScheduler", settings, knobs)
    n = len(optimizer.param_groups)
    if settings.groups not in (0, n):
        raise ValueError(
            f"GreedyLRScheduler: settings hold {settings.groups} per-group values, the optimizer {n} groups"
        )
    init = settings.init_lr
    if init is None:
        init = 1.0 if multiplier else tuple(float(g["lr"]) for g in optimizer.param_groups)
    if n > 1 and not isinstance(init, tuple):
        init = (init,) * n
    if n == 1 and isinstance(init, tuple):
        init = init[0]
    return dataclasses.replace(settings, init_lr=init)


def _bases(optimizer: Optimizer, base: Any) -> list[Schedule] | None:
    if base is None:
        return None
    n = len(optimizer.param_groups)
    if isinstance(base, (list, tuple)):
        if len(base) != n:
            raise ValueError(
                f"GreedyLRScheduler: base must be one schedule or one per param group ({n}), got {len(base)}"
            )
        return [as_schedule(b, owner="GreedyLRScheduler", field=f"base[{i}]") for i, b in enumerate(base)]
    return [as_schedule(base, owner="GreedyLRScheduler", field="base")] * n


class GreedyLRScheduler(ReduceLROnPlateau):
    """GreedyLR as a torch scheduler: ``scheduler.step(loss)`` after each ``optimizer.step()`` (or epoch).

    A subclass of ``ReduceLROnPlateau`` (itself an ``LRScheduler``), so trainers
    that pass the monitored value to plateau schedulers (Lightning's
    ``lr_scheduler_config`` with a ``"monitor"``, the HF ``Trainer``) drive it.

    * Without ``base``: the controller's LR is each group's LR, starting at
      ``settings.init_lr`` or, when that is ``None``, at the groups' current ``lr``.
      Per-group ``init_lr``/``min_lr``/``max_lr`` tuples give groups their own bounds.
    * With ``base`` (one lrsched schedule, or one per group): the controller's
      LR is a multiplier ``g`` (initially ``init_lr`` or 1.0) and
      ``lr_t = base(t) * g_t``, with ``t`` the number of ``step()`` calls; values
      observed at ``t < start_step`` are ignored (e.g. keep a warmup intact).
    * Distributed: when ``torch.distributed`` is initialized, the monitored value
      is averaged over all ranks before the controller sees it (``reduce="mean"``),
      so every rank applies the same LR; ``reduce=None`` opts out.

    ``state_dict()`` is plain data (safe for ``torch.load(weights_only=True)``).

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
        reduce: str | None = "mean",
        process_group: Any = None,
        **knobs: Any,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"GreedyLRScheduler: optimizer must be a torch Optimizer, got {type(optimizer).__name__}")
        if reduce not in ("mean", None):
            raise ValueError(f"GreedyLRScheduler: reduce must be 'mean' or None, got {reduce!r}")
        if not isinstance(start_step, int) or isinstance(start_step, bool) or start_step < 0:
            raise ValueError(f"GreedyLRScheduler: start_step must be an integer >= 0, got {start_step!r}")
        self.optimizer = optimizer
        self.bases = _bases(optimizer, base)
        self.settings = _settings(optimizer, settings, knobs, multiplier=self.bases is not None)
        self.greedy = GreedyScheduler(self.settings)
        self.start_step = start_step
        self.reduce = reduce
        self.process_group = process_group
        self.mode = self.settings.mode
        self.last_epoch = 0
        self._apply()

    def _controller_lrs(self) -> list[float]:
        lr = self.greedy.lr
        return list(lr) if isinstance(lr, tuple) else [lr] * len(self.optimizer.param_groups)

    def _apply(self) -> None:
        lrs: list[Any] = self._controller_lrs()
        if self.bases is not None:
            lrs = [float(b(self.last_epoch)) * g for b, g in zip(self.bases, lrs)]
        for group, lr in zip(self.optimizer.param_groups, lrs):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)  # tensor LRs (capturable / fused optimizers) stay tensors
            else:
                group["lr"] = lr
        self._last_lr = lrs

    def _reduce_value(self, value: float) -> float:
        if self.reduce is None or not (dist.is_available() and dist.is_initialized()):
            return value
        group = self.process_group
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(group) == "nccl" else "cpu"
        total = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
        return float(total.item()) / dist.get_world_size(group)

    def step(self, metrics: Any = None, epoch: None = None) -> None:  # type: ignore[override]
        """Observe the monitored value of the step just taken and set the next step's LRs."""
        if metrics is None:
            raise TypeError("GreedyLRScheduler.step: pass the monitored value, e.g. scheduler.step(loss)")
        if epoch is not None:
            raise TypeError("GreedyLRScheduler.step: the epoch argument is not supported")
        value = self._reduce_value(float(metrics))
        if self.bases is None or self.last_epoch >= self.start_step:
            self.greedy(value)
        self.last_epoch += 1
        self._apply()

    @property
    def lr(self) -> Any:
        """The controller's LR (a multiplier when ``base`` is set; a tuple per group)."""
        return self.greedy.lr

    def state_dict(self) -> dict[str, Any]:
        """Plain data: the step count, the last LRs, the controller's state and settings."""
        return {
            "last_epoch": self.last_epoch,
            "_last_lr": [float(x) for x in self._last_lr],
            "greedy": self.greedy.state_dict(),
            "settings": self.settings.to_config(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the groups get the restored LRs."""
        if state_dict.get("settings") != self.settings.to_config():
            warnings.warn(
                "GreedyLRScheduler.load_state_dict: the checkpoint was saved with different settings; "
                "keeping this scheduler's settings",
                UserWarning,
                stacklevel=2,
            )
        self.greedy.load_state_dict(state_dict["greedy"])
        self.last_epoch = int(state_dict["last_epoch"])
        self._apply()

    # ReduceLROnPlateau attributes some trainers read.
    @property
    def best(self) -> float:  # type: ignore[override]
        return float(self.greedy.state.best)

    @property
    def num_bad_epochs(self) -> int:  # type: ignore[override]
        return int(self.greedy.state.bad)

    def __repr__(self) -> str:
        return f"GreedyLRScheduler({self.settings!r}, lr={self.greedy.lr!r}, step={self.last_epoch})"
