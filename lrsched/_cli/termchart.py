"""A plain-text line chart for terminals (no dependencies)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["chart"]


def chart(x: np.ndarray, y: np.ndarray, *, width: int = 64, height: int = 14, log: bool = False) -> str:
    """Render ``y`` against ``x`` as ``height`` text rows of ``width`` columns with axis labels.

    Each column covers an equal slice of ``x`` and draws the range of values in that slice,
    so sharp drops (restarts, step decays) show as vertical bars.

    Example:
        >>> from lrsched._cli.termchart import chart, np
        >>> print(chart(np.arange(4.0), np.array([0.0, 1.0, 2.0, 3.0]), width=4, height=2))
        3 |  ##
        0 |###
          +----
           0  3
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if log:
        y = np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)
    finite = np.isfinite(y)
    lo, hi = (float(np.min(y[finite])), float(np.max(y[finite]))) if finite.any() else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    rows = [[" "] * width for _ in range(height)]
    col = np.minimum(((x - x[0]) / max(x[-1] - x[0], 1e-300) * width).astype(int), width - 1)
    previous: float | None = None
    for c in range(width):
        values = y[(col == c) & finite]
        if values.size == 0:
            previous = None
            continue
        # Join to the previous column's last value so steep slopes stay connected.
        top_value = max(float(values.max()), previous if previous is not None else -math.inf)
        bottom_value = min(float(values.min()), previous if previous is not None else math.inf)
        for r in range(_row(top_value, lo, span, height), _row(bottom_value, lo, span, height) + 1):
            rows[r][c] = "#"
        previous = float(values[-1])
    shown = {0, height // 2, height - 1}
    labels = [_fmt(lo + span * (height - 1 - r) / max(height - 1, 1), log) if r in shown else "" for r in range(height)]
    pad = max(map(len, labels))
    lines = [f"{labels[r]:>{pad}} |{''.join(row)}" for r, row in enumerate(rows)]
    lines.append(" " * pad + " +" + "-" * width)
    left, right = _fmt_step(x[0]), _fmt_step(x[-1])
    lines.append(" " * (pad + 2) + left + right.rjust(width - len(left)))
    return "\n".join(line.rstrip() if i < height else line for i, line in enumerate(lines))


def _row(value: float, lo: float, span: float, height: int) -> int:
    return height - 1 - min(round((value - lo) / span * (height - 1)), height - 1)


def _fmt(value: float, log: bool) -> str:
    if log:
        value = 10.0**value
    if value == 0:
        return "0"
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"


def _fmt_step(step: float) -> str:
    return str(int(step)) if math.isclose(step, round(step)) else f"{step:g}"
