"""Medians, spreads and paired win rates over run records (plain dicts from ``runs.json``).

A run whose final loss is not finite is kept and counted as ``+inf`` (worse than any finite loss):
medians never silently drop runs.

Example:
    >>> recs = [{"scheduler": "a", "final_loss": 1.0}, {"scheduler": "a", "final_loss": None}]
    >>> median_of(recs, "final_loss")
    inf
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

__all__ = [
    "bootstrap_ci",
    "fmt",
    "group_by",
    "median_of",
    "quantiles",
    "rank_matrix",
    "tied_ranks",
    "values_of",
    "win_rate",
]


def _values(records: Iterable[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([np.inf if r.get(key) is None else float(r[key]) for r in records], float)


def median_of(records: list[dict[str, Any]], key: str) -> float:
    """Median of ``key`` over ``records`` (``None`` counts as ``+inf``); ``nan`` for no records."""
    return float(np.median(_values(records, key))) if records else float("nan")


def quantiles(records: list[dict[str, Any]], key: str, qs: tuple[float, ...] = (0.25, 0.5, 0.75)) -> list[float]:
    """Quantiles of ``key`` (``None`` as ``+inf``, so an upper quantile may be ``inf``)."""
    if not records:
        return [float("nan")] * len(qs)
    vals = np.sort(_values(records, key))
    return [float(vals[min(len(vals) - 1, round(q * (len(vals) - 1)))]) for q in qs]


def group_by(records: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> dict[Any, list[dict]]:
    """Records grouped by ``key(record)``, in first-seen order."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(key(r), []).append(r)
    return out


def win_rate(records: list[dict[str, Any]], a: str, b: str, pair: tuple[str, ...], key: str = "final_loss") -> float:
    """Fraction of paired runs (same ``pair`` fields) where scheduler ``a`` ends strictly below ``b``; ties = 1/2."""
    by = group_by(records, lambda r: tuple(r[f] for f in pair))
    wins, n = 0.0, 0
    for runs in by.values():
        va = [v for r in runs if r["scheduler"] == a for v in _values([r], key)]
        vb = [v for r in runs if r["scheduler"] == b for v in _values([r], key)]
        for x in va:
            for y in vb:
                wins += 1.0 if x < y else 0.5 if x == y else 0.0
                n += 1
    return wins / n if n else float("nan")


def fmt(x: float) -> str:
    """A compact number for tables: 3 significant digits, ``inf``/``nan`` spelled out."""
    if not np.isfinite(x):
        return "inf" if x > 0 else "nan"
    return f"{x:.3g}"


def tied_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values`` (ascending); tied values share the mean of the ranks they span.

    ``inf`` is a value like any other, so runs that all diverged tie.

    Example:
        >>> tied_ranks(np.array([0.5, 0.1, 0.5, np.inf])).tolist()
        [2.5, 1.0, 2.5, 4.0]
    """
    values = np.asarray(values, float)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def rank_matrix(records: list[dict[str, Any]], names: list[str], key: str = "final_loss") -> np.ndarray:
    """``(seeds, names)`` tie-averaged ranks of ``key``, seed by seed, among ``names`` (seeds in first-seen order)."""
    by_seed = group_by(records, lambda r: r["seed"])
    rows = []
    for runs in by_seed.values():
        vals = {r["scheduler"]: _values([r], key)[0] for r in runs}
        rows.append(tied_ranks(np.array([vals[n] for n in names])))
    return np.array(rows)


def bootstrap_ci(
    samples: list[np.ndarray], stat: Callable[[list[np.ndarray]], np.ndarray], n_boot: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """95% percentile interval of ``stat`` when each array of ``samples`` has its rows resampled with replacement.

    Each array is one stratum (a task, a problem family) resampled on its own; a row keeps its columns
    together (a seed's runs of every method stay paired). Returns ``(low, high)``, each shaped like ``stat``'s
    output. Seeded, so a rerun gives the same interval.

    Example:
        >>> lo, hi = bootstrap_ci([np.arange(10.0)[:, None]], lambda s: np.median(s[0], axis=0))
        >>> bool(lo[0] < 4.5 < hi[0])
        True
    """
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        draws.append(stat([s[rng.integers(0, len(s), len(s))] for s in samples]))
    arr = np.array(draws)
    return np.quantile(arr, 0.025, axis=0), np.quantile(arr, 0.975, axis=0)


def values_of(records: list[dict[str, Any]], key: str) -> np.ndarray:
    """``key`` of each record as floats (``None`` as ``+inf``)."""
    return _values(records, key)
