"""Small helpers shared by the benchmark parts: stacking runs, a progress bar, per-run summaries.

Example:
    >>> import numpy as np
    >>> stack([{"a": np.zeros(2)}, {"a": np.ones(2)}])["a"].shape
    (2, 2)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

__all__ = ["CURVE_EVERY", "progress_bar", "stack", "summarize_run", "thin"]

CURVE_EVERY = 10  # runs.json keeps every 10th step of each curve


def stack(trees: list[Any], cat: bool = False) -> Any:
    """Stack (or, with ``cat``, concatenate) a list of pytrees of arrays along a new (existing) leading axis."""
    join = np.concatenate if cat else np.stack
    return jax.tree_util.tree_map(lambda *xs: join([np.asarray(x) for x in xs]), *trees)


@contextlib.contextmanager
def progress_bar(total: int, desc: str, show: bool = True) -> Iterator[Callable[[], None]]:
    """A tqdm bar (on stderr) yielding ``tick()``; silent when ``show`` is false or tqdm is missing."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with transformers, but is not required
        yield lambda: None
        return
    with tqdm(total=total, desc=desc, disable=not show, leave=True) as bar:
        yield lambda: bar.update(1)


def thin(values: np.ndarray, every: int = CURVE_EVERY) -> list[float | None]:
    """Every ``every``-th value (and the last), rounded to 4 significant digits; non-finite become None."""
    idx = sorted({*range(0, len(values), every), len(values) - 1})
    return [float(f"{v:.4g}") if np.isfinite(v) else None for v in np.asarray(values, float)[idx]]


def summarize_run(loss: np.ndarray, lr: np.ndarray) -> dict[str, Any]:
    """Final, minimum and initial loss of a run, and its thinned loss and LR curves."""
    loss = np.asarray(loss, float)
    finite = loss[np.isfinite(loss)]
    return {
        "final_loss": float(loss[-1]) if np.isfinite(loss[-1]) else None,
        "min_loss": float(finite.min()) if finite.size else None,
        "initial_loss": float(loss[0]),
        "loss_curve": thin(loss),
        "lr_curve": thin(lr),
    }
