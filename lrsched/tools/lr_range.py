"""The learning-rate range test (Smith 2017; fastai's ``lr_find``), for any framework.

You give ``train_step(lr) -> loss``: one optimizer step at learning rate ``lr``
on the next batch, returning that batch's loss. The test sweeps ``lr`` from
``min_lr`` to ``max_lr`` (exponentially or linearly) while training continues,
tracks the bias-corrected exponential moving average of the loss

    m_i = beta * m_{i-1} + (1 - beta) * loss_i,   s_i = m_i / (1 - beta**(i+1)),

stops early once ``s_i > diverge_factor * min(s)`` (or the loss is not finite),
and suggests a learning rate by two rules, both reported:

* ``steepest``: where the loss falls fastest against ``log(lr)``, searched
  before the loss minimum;
* ``min_loss / 10``: a tenth of the learning rate at the loss minimum.

Both rules read a *centred* moving average of the raw losses (width about
``1 / (1 - beta)``, the divergence points left out), which is as smooth as
the EMA but does not lag behind the sweep (``result.smoothed``); the EMA is in
``result.ema`` and what the early stop uses.

Reset the model's weights afterwards: the sweep trains it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrsched.tools.progress import progress as _progress

__all__ = ["RangeTestResult", "lr_range_test"]


@dataclass(frozen=True)
class RangeTestResult:
    """What :func:`lr_range_test` measured; ``lrs``/``losses``/``smoothed``/``ema`` are aligned arrays.

    ``smoothed`` is the centred moving average the suggestions read (``nan`` at a diverged last
    point); ``ema`` is the bias-corrected moving average the early stop watched.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    ema: np.ndarray
    steepest_lr: float
    min_loss_lr: float
    stopped_early: bool
    stop_reason: str

    @property
    def suggested_lr(self) -> float:
        """The ``min_loss / 10`` suggestion: steadier than ``steepest``, which runs low on long sweeps."""
        return self.min_loss_lr

    @property
    def suggestions(self) -> dict[str, float]:
        """Both rules: ``{"steepest": ..., "min_loss/10": ...}``."""
        return {"steepest": self.steepest_lr, "min_loss/10": self.min_loss_lr}

    def plot(self, ax: Any = None, *, log: bool = True) -> Any:
        """Smoothed and raw loss against LR with both suggestions marked; returns the matplotlib ``Axes``."""
        from lrsched.tools.plotting import plot_range_test

        return plot_range_test(self, ax=ax, log=log)

    def __repr__(self) -> str:
        return (
            f"RangeTestResult(steps={len(self.lrs)}, steepest_lr={self.steepest_lr:.3g}, "
            f"min_loss_lr={self.min_loss_lr:.3g}, stopped_early={self.stopped_early})"
        )


def lr_range_test(
    train_step: Callable[[float], Any],
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    *,
    mode: str = "exp",
    beta: float = 0.9,
    diverge_factor: float = 4.0,
    skip_start: int = 3,
    show_progress: bool | None = None,
) -> RangeTestResult:
    """Sweep the learning rate and suggest one; see the module docstring for the rules.

    Example:
        >>> from lrsched import lr_range_test
        >>> w = [5.0]
        >>> def step(lr):  # gradient descent on 0.5 * w**2: good for lr < 2
        ...     w[0] -= lr * w[0]
        ...     return 0.5 * w[0] ** 2
        >>> r = lr_range_test(step, 1e-4, 100.0, 60)
        >>> r.stopped_early, 0.05 < r.steepest_lr < 2
        (True, True)
    """
    lrs = _sweep(min_lr, max_lr, num_steps, mode)
    if not 0 <= beta < 1:
        raise ValueError(f"lr_range_test: beta must be in [0, 1), got {beta!r}")
    if not diverge_factor > 1:
        raise ValueError(f"lr_range_test: diverge_factor must be > 1, got {diverge_factor!r}")
    if not callable(train_step):
        raise TypeError(f"lr_range_test: train_step must be callable, got {train_step!r}")
    losses, smoothed, reason = _run(train_step, lrs, beta, diverge_factor, show_progress)
    n = len(losses)
    lrs = lrs[:n]
    valid = n - 1 if reason != "completed" else n  # the last point is the one that diverged
    valid = max(valid, 1)
    centred = np.full(n, np.nan)
    centred[:valid] = _centered(np.asarray(losses[:valid]), beta)
    steepest, lowest = _suggest(lrs[:valid], centred[:valid], skip_start)
    stopped = reason != "completed"
    return RangeTestResult(
        lrs, np.asarray(losses), centred, np.asarray(smoothed), steepest, lowest / 10, stopped, reason
    )


def _sweep(min_lr: float, max_lr: float, num_steps: int, mode: str) -> np.ndarray:
    if not (isinstance(num_steps, int) and num_steps >= 2):
        raise ValueError(f"lr_range_test: num_steps must be an integer >= 2, got {num_steps!r}")
    if not (0 < min_lr < max_lr < math.inf):
        raise ValueError(f"lr_range_test: need 0 < min_lr < max_lr, got min_lr={min_lr!r}, max_lr={max_lr!r}")
    if mode == "exp":
        return np.asarray(min_lr * (max_lr / min_lr) ** (np.arange(num_steps) / (num_steps - 1)))
    if mode == "linear":
        return np.linspace(min_lr, max_lr, num_steps)
    raise ValueError(f"lr_range_test: mode must be 'exp' or 'linear', got {mode!r}")


def _run(
    train_step: Callable[[float], Any], lrs: np.ndarray, beta: float, factor: float, show: bool | None
) -> tuple[list[float], list[float], str]:
    losses: list[float] = []
    smoothed: list[float] = []
    mean, best, reason = 0.0, math.inf, "completed"
    with _progress(len(lrs), "lr range test", enabled=len(lrs) >= 200 if show is None else show) as bar:
        for i, lr in enumerate(lrs):
            loss = float(train_step(float(lr)))
            bar.update()
            losses.append(loss)
            if not math.isfinite(loss):
                smoothed.append(math.inf)
                reason = "loss is not finite"
                break
            mean = beta * mean + (1 - beta) * loss
            s = mean / (1 - beta ** (i + 1))
            smoothed.append(s)
            best = min(best, s)
            if s > factor * best:
                reason = f"smoothed loss above {factor:g} x its minimum"
                break
    return losses, smoothed, reason


def _centered(losses: np.ndarray, beta: float) -> np.ndarray:
    """Centred moving average of width about ``1 / (1 - beta)``: as smooth as the EMA, without its lag."""
    h = round(0.5 / (1.0 - beta))
    if h == 0 or losses.size == 0:
        return losses
    cumsum = np.concatenate(([0.0], np.cumsum(losses)))
    i = np.arange(losses.size)
    lo, hi = np.maximum(i - h, 0), np.minimum(i + h + 1, losses.size)
    return (cumsum[hi] - cumsum[lo]) / (hi - lo)  # type: ignore[no-any-return]


def _suggest(lrs: np.ndarray, smoothed: np.ndarray, skip_start: int) -> tuple[float, float]:
    s = np.asarray(smoothed, dtype=np.float64)
    lowest = int(np.argmin(s))
    start = min(skip_start, max(lowest - 1, 0))
    if lowest - start < 2:
        return float(lrs[lowest]), float(lrs[lowest])
    # Slope over a window of 1/10 of the sweep on each side: steadier than neighbour differences,
    # so minibatch noise on the flat start is not mistaken for the descent.
    k = max(1, len(s) // 10)
    i = np.arange(start, lowest + 1)
    lo, hi = np.maximum(i - k, start), np.minimum(i + k, lowest)
    slope = (s[hi] - s[lo]) / (np.log(lrs[hi]) - np.log(lrs[lo]))
    return float(lrs[i[int(np.argmin(slope))]]), float(lrs[lowest])
