"""Plot schedules and recorded traces with matplotlib (imported only when this module is).

Install with ``pip install "lrsched[plot]"``. :func:`plot` draws one or several
schedules on shared axes; for a single schedule it shades and labels named
phases (``join``/``phases``/``warmup``) and marks the warmup end, phase
boundaries and restarts. :class:`lrsched.record.Trace` objects (e.g. a GreedyLR
run) are drawn at their recorded steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

try:
    import matplotlib.pyplot as plt
except ImportError as err:  # pragma: no cover - exercised in a subprocess test
    raise ImportError('lrsched.plot needs matplotlib: pip install "lrsched[plot]"') from err

from lrsched._core.markers import markers, phase_spans
from lrsched._core.schedule import Schedule, as_schedule
from lrsched.tools.record import Trace

__all__ = ["gallery", "plot", "plot_range_test"]

_MAX_POINTS = 4000
_MARKER_STYLE = {"warmup": ("--", "warmup end"), "restart": (":", "restart"), "phase": ("-.", "phase")}


def plot(
    schedules: Any,
    steps: int | Sequence[float] | np.ndarray | None = None,
    *,
    ax: Any = None,
    log: bool = False,
    labels: Sequence[str] | None = None,
    phases: bool = True,
    marks: bool = True,
    title: str | None = None,
) -> Any:
    """Draw ``schedules`` (a schedule, a :class:`Trace`, or a list of them) and return the ``Axes``.

    ``steps`` is a step count ``N`` (plots steps ``0..N-1``) or explicit steps; traces use
    their own steps (``steps`` then only sets the x range). ``log=True`` uses a log y axis.
    With a single schedule, ``phases`` shades named phases and ``marks`` draws warmup
    ends, phase boundaries and restarts as vertical lines.

    Example:
        >>> import lrsched
        >>> ax = lrsched.plot(lrsched.warmup(lrsched.cosine_decay(1e-3, 900), 100), 1000, log=True)
        >>> ax.get_yscale()
        'log'
    """
    items = list(schedules) if isinstance(schedules, (list, tuple)) else [schedules]
    if not items:
        raise ValueError("plot: give at least one schedule or trace")
    if labels is not None and len(labels) != len(items):
        raise ValueError(f"plot: labels must have one entry per schedule ({len(items)}), got {len(labels)}")
    if steps is None and not all(isinstance(s, Trace) for s in items):
        raise ValueError("plot: steps is required for schedules (only traces carry their own steps)")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    grid = _grid(steps, items)
    single = len(items) == 1
    for k, item in enumerate(items):
        label = labels[k] if labels is not None else "_nolegend_" if single else _label(item)
        _draw(ax, item, grid, label, single and phases, single and marks, log)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if title is not None:
        ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        # A single curve's legend only names the markers: keep it outside, off the curve.
        where = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)} if single and labels is None else {"loc": "best"}
        ax.legend(fontsize="small", framealpha=0.9, **where)
    return ax


def _grid(steps: Any, items: list[Any]) -> np.ndarray:
    if steps is None:
        hi = max(t.steps[-1] if len(t) else 0.0 for t in items)
        steps = int(hi) + 1
    if isinstance(steps, (int, np.integer)):
        if steps < 1:
            raise ValueError(f"plot: steps must be >= 1, got {steps!r}")
        n = int(steps)
        return np.arange(n, dtype=np.float64) if n <= _MAX_POINTS else np.linspace(0.0, n - 1, _MAX_POINTS)
    grid = np.asarray(steps, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or np.any(grid < 0) or not np.all(np.isfinite(grid)):
        raise ValueError("plot: steps must be a positive count or a non-empty 1-d sequence of steps >= 0")
    return np.sort(grid)


def _label(item: Any) -> str:
    if isinstance(item, Trace):
        if item.label:
            return item.label
        return f"recorded {item.config['name']}" if item.config else "recorded"
    text = repr(as_schedule(item))
    return text if len(text) <= 60 else text[:57] + "..."


def _positive(values: Any, log: bool) -> np.ndarray:
    """Values as float64; on a log axis, values <= 0 become gaps instead of plunging lines."""
    y = np.asarray(values, dtype=np.float64)
    return np.where(y > 0, y, np.nan) if log else y


def _draw(ax: Any, item: Any, grid: np.ndarray, label: str, shade: bool, marks: bool, log: bool) -> None:
    if isinstance(item, Trace):
        (line,) = ax.plot(item.steps, _positive(item.lrs, log), label=label, lw=1.6, drawstyle="steps-post")
        spans = _trace_spans(item) if shade else []
        found = []
    else:
        sched = as_schedule(item, owner="plot", field="schedules")
        found = markers(sched, float(grid[-1])) if (marks or shade) and isinstance(sched, Schedule) else []
        # Evaluate at the landmarks too, so restarts and phase switches draw as sharp edges.
        extra = [m.step for m in found if grid[0] <= m.step <= grid[-1]]
        x = np.union1d(grid, np.asarray(extra, dtype=np.float64))
        (line,) = ax.plot(x, _positive(sched(x), log), label=label, lw=1.6)
        spans = phase_spans(sched, x) if shade else []
    if shade:
        _shade(ax, spans)
    if marks:
        # Phase boundaries already show as the edges of shaded spans; mark them only when unshaded.
        _mark(ax, [m for m in found if m.kind != "phase" or not spans], line.get_color())


def _trace_spans(trace: Trace) -> list[tuple[float, float, str]]:
    spans: list[tuple[float, float, str]] = []
    for step, name in zip(trace.steps, trace.phases):
        if spans and spans[-1][2] == name:
            spans[-1] = (spans[-1][0], step, name)
        elif name is not None:
            if spans:
                spans[-1] = (spans[-1][0], step, spans[-1][2])
            spans.append((step, step, name))
    return spans


def _shade(ax: Any, spans: list[tuple[float, float, str]]) -> None:
    colors = plt.get_cmap("Pastel1").colors  # type: ignore[attr-defined]
    names = list(dict.fromkeys(name for _, _, name in spans))
    for lo, hi, name in spans:
        ax.axvspan(lo, hi, color=colors[names.index(name) % len(colors)], alpha=0.45, lw=0, zorder=0)
        ax.text(
            (lo + hi) / 2,
            0.98,
            name,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize="small",
            clip_on=True,
        )


def _mark(ax: Any, found: list[Any], color: str) -> None:
    seen: set[str] = set()
    for m in found:
        style, legend = _MARKER_STYLE[m.kind]
        ax.axvline(m.step, ls=style, color=color, lw=0.9, alpha=0.7, label=None if m.kind in seen else legend)
        seen.add(m.kind)


def gallery(entries: dict[str, Schedule], steps: int, *, cols: int = 3, log: bool = False) -> Any:
    """A grid of small :func:`plot` panels, one per ``name -> schedule``; returns the ``Figure``."""
    rows = -(-len(entries) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), layout="constrained", squeeze=False)
    for ax, (name, sched) in zip(axes.flat, entries.items()):
        plot(sched, steps, ax=ax, log=log, title=name)
        ax.set_xlabel("")
        ax.set_ylabel("")
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
    for ax in list(axes.flat)[len(entries) :]:
        ax.set_visible(False)
    fig.supxlabel("step")
    fig.supylabel("learning rate")
    return fig


def plot_range_test(result: Any, ax: Any = None, *, log: bool = True) -> Any:
    """Loss (raw and smoothed) against LR for a :class:`lrsched.range_test.RangeTestResult`."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    finite = np.isfinite(result.losses)
    ax.plot(result.lrs[finite], result.losses[finite], color="0.75", lw=1, label="loss")
    ax.plot(result.lrs, result.smoothed, lw=1.8, label="smoothed loss")
    for lr, name, style in ((result.steepest_lr, "steepest", "--"), (result.min_loss_lr, "min loss / 10", ":")):
        ax.axvline(lr, ls=style, color="C3" if name == "steepest" else "C2", label=f"{name}: {lr:.2g}")
    if log:
        ax.set_xscale("log")
    ok = result.smoothed[np.isfinite(result.smoothed)]  # the centred average; the EMA lags the sweep
    if ok.size:
        lo, hi = float(ok.min()), float(ok[0])
        ax.set_ylim(lo - 0.1 * abs(hi - lo) - 1e-12, max(hi, lo) + 0.25 * abs(hi - lo) + 1e-12)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax
