"""``searchsorted(bounds, x, side="right")`` for JAX whose cost does not grow with the number of bounds.

``jnp.searchsorted``'s default method runs a binary search: ``log2(n)`` rounds of gathers and compares over
every step, so a join of 10 000 phases evaluated on 10**5 steps spent most of its time (about 80 %) searching
(14 rounds instead of 4 for 10 phases). The bounds of a schedule are constants known when the formula is traced,
so a guide table is built from them in NumPy: the steps ``lo..hi`` spanned by the bounds are cut into ``n``
equal buckets, and ``guide[j]`` counts the bounds at or below bucket ``j``'s left edge. A step's bucket (one
multiply and a floor) narrows its answer to the bounds of three neighbouring buckets (its own, and one on each
side for the rounding of that multiply in float32), ``width`` bounds at most. Where ``width`` is small (at most
``WINDOW``), the step is compared with each of those bounds at once and the answer counts the compares; where
it is not, a binary search of ``ceil(log2(width + 1))`` rounds finishes it. Finer buckets (up to 8 per bound)
are used where they narrow the window: evenly spread bounds then need one gather and one compare whatever their
number; bounds bunched into few buckets (a geometric series) need up to ``log2(n)`` rounds, so the guide is used
only where it saves rounds.

The answer is exactly ``jnp.searchsorted``'s: the final compares are the same float compares of the step with the
bounds cast to the step's dtype; the guide (counted in float64 from those cast bounds) only bounds the range.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["guided_searchsorted"]

SMALL = 32  # up to this many bounds, comparing each step with every bound is cheapest
WINDOW = 4  # a step whose bucket leaves at most this many candidate bounds compares it with each of them
_MAX_BUCKETS = 1 << 20  # a float32 bucket number stays within one of the exact one below this
_FINE_BUCKETS = 1 << 16  # up to this many buckets, finer than one per bound where that narrows the candidates


def guided_searchsorted(jnp: Any, sorted_values: Any, x: Any) -> Any:
    """``jnp.searchsorted(sorted_values cast to x.dtype, x, side="right")``, as a count of bounds ``<= x``."""
    if not isinstance(sorted_values, (tuple, list, np.ndarray)):  # not a constant: no guide can be built
        return jnp.searchsorted(jnp.asarray(sorted_values, dtype=x.dtype), x, side="right")
    # Rounded to the step's dtype (round to nearest even, as XLA converts): the values the compares see.
    bounds = np.asarray(sorted_values, dtype=np.float64).astype(np.dtype(x.dtype)).reshape(-1)
    n = bounds.shape[0]
    if n <= SMALL:
        return jnp.searchsorted(jnp.asarray(bounds), x, side="right", method="compare_all")
    plan = _plan(bounds)
    if plan is None:
        return jnp.searchsorted(jnp.asarray(bounds), x, side="right")
    lo, inv_width, guide, widest = plan
    buckets = guide.shape[0] - 4  # guide[j] for j = 0 .. buckets + 3
    nan = jnp.isnan(x)  # sorted after every bound, as jnp.searchsorted does
    j = jnp.clip(jnp.floor((x - lo) * inv_width) + 1, 0, buckets + 1)
    j = jnp.where(nan, 0, j).astype(jnp.int32)
    table = jnp.asarray(guide)
    low = table[jnp.maximum(j - 1, 0)]  # the answer lies in low .. low + widest
    if widest <= WINDOW:
        # The answer is low plus the number of the next ``widest`` bounds at or below x: one compare each, all
        # independent (NaN padding past the last bound compares false).
        values = jnp.asarray(np.concatenate([bounds, np.full(widest, np.nan, bounds.dtype)]))
        count = low
        for k in range(widest):
            count = count + (values[low + k] <= x).astype(low.dtype)
        return jnp.where(nan, n, count)
    high = table[j + 2]
    values = jnp.asarray(bounds)
    for _ in range(_rounds(widest)):  # invariant: low <= answer <= high
        mid = (low + high) // 2
        right = values[jnp.minimum(mid, n - 1)] <= x
        active = low < high
        low = jnp.where(active & right, mid + 1, low)
        high = jnp.where(active & ~right, mid, high)
    return jnp.where(nan, n, low)


def _rounds(widest: int) -> int:
    """Rounds of a binary search over ``widest + 1`` possible answers."""
    return max(1, math.ceil(math.log2(widest + 1)))


def _guide(bounds: np.ndarray, lo: float, width: float, buckets: int) -> tuple[np.ndarray, int]:
    """``(guide, widest)``: guide[0] = 0 (below lo); guide[j] = #bounds <= lo + (j - 1) * width for
    j = 1 .. buckets + 1; then n twice (above hi), so that a step in bucket j (lo + (j - 1) * width <= step <
    lo + j * width) has its answer in guide[j] .. guide[j + 1], and one whose computed j is off by one in
    guide[j - 1] .. guide[j + 2]; ``widest`` is the most bounds such three neighbouring buckets hold."""
    n = bounds.shape[0]
    edges = lo + np.arange(buckets + 1, dtype=np.float64) * width
    counts = np.searchsorted(bounds.astype(np.float64), edges, side="right")
    guide = np.concatenate([[0], counts, [n, n]]).astype(np.int32)
    return guide, int(np.max(guide[3:] - guide[:-3]))


def _plan(bounds: np.ndarray) -> tuple[float, float, np.ndarray, int] | None:
    """``(lo, 1 / bucket width, guide, widest)``, or ``None`` where the plain binary search is as cheap.

    One bucket per bound; where that leaves a step more than ``WINDOW`` candidates (three neighbouring buckets
    hold that many bounds), 2, 4 or 8 buckets per bound while they narrow it, up to ``_FINE_BUCKETS`` buckets."""
    n = bounds.shape[0]
    lo, hi = float(bounds[0]), float(bounds[-1])
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or n > _MAX_BUCKETS:
        return None
    best: tuple[float, np.ndarray, int] | None = None
    for per_bound in (1, 2, 4, 8):
        buckets = n * per_bound
        if per_bound > 1 and buckets > _FINE_BUCKETS:
            break
        width = (hi - lo) / buckets
        guide, widest = _guide(bounds, lo, width, buckets)
        if best is None or widest < best[2]:
            best = (width, guide, widest)
        if widest <= 1:
            break
    assert best is not None
    width, guide, widest = best
    if widest > WINDOW and _rounds(widest) >= math.ceil(math.log2(n + 1)) - 1:
        return None
    return lo, 1.0 / width, guide, widest
