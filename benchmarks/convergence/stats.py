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

__all__ = ["fmt", "group_by", "median_of", "quantiles", "win_rate"]


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
