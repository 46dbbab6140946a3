"""PNG plots for the report: median loss curves with quartile bands, and LR traces.

Every function takes ``curves``: ``{(panel, scheduler): {"loss": (runs, steps), "lr": (runs, steps)}}``
and writes one PNG. matplotlib runs on the Agg backend.

Example:
    >>> import numpy as np, tempfile, os
    >>> c = {("p", "s"): {"loss": np.ones((2, 5)), "lr": np.ones((2, 5))}}
    >>> path = os.path.join(tempfile.mkdtemp(), "x.png")
    >>> plot_curves(c, "loss", path, "t"); os.path.exists(path)
    True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["plot_curves"]

COLORS = {
    "constant": "#7f7f7f",
    "step": "#8c564b",
    "exponential": "#d62728",
    "cosine": "#ff7f0e",
    "cosine_restarts": "#2ca02c",
    "warmup_cosine": "#bcbd22",
    "wsd": "#17becf",
    "one_cycle": "#e377c2",
    "rex": "#9467bd",
}


# Whole optimizers (parameter-free, schedule-free): dashed.
OPTIMIZERS = {
    "prodigy": "#e6550d",
    "dadapt_adamw": "#31a354",
    "mechanic": "#756bb1",
    "dog": "#636363",
    "cocob": "#a50f15",
    "schedule_free_adamw": "#3182bd",
}
# The schedules and controllers of the adaptive-methods issue: dotted.
ADAPTIVE = {
    "taso": "#c49c94",
    "eigencurve": "#2ca02c",
    "hypergradient": "#f7b6d2",
    "hypergradient_mult": "#ad494a",
    "abel": "#8c6d31",
    "lrtuner": "#637939",
}
# Part 3's data arms.
LM_ARMS = {"wsd_anneal_clean": "#2ca02c", "wsd_clean_in_stable": "#98df8a"}


def _color(name: str) -> str | None:
    greedy = {"greedy_p1": "#8fbfe0", "greedy_paper_p1": "#7b7fc0", "greedy_paper_p10": "#393b79"}
    greedy |= {"greedy": "#1f77b4", "greedy_p10": "#1f77b4", "greedy_robust": "#000000"}
    greedy |= {"greedy_plain_p1": "#fdae6b", "greedy_plain_p10": "#e6550d", "greedy_on_warmup_cosine": "#6baed6"}
    return greedy.get(name, COLORS.get(name, OPTIMIZERS.get(name, ADAPTIVE.get(name, LM_ARMS.get(name)))))


def _style(name: str) -> str:
    return "--" if name in OPTIMIZERS else ":" if name in ADAPTIVE else "-"


def _clip_top(ax: Any, ys: list[np.ndarray]) -> None:
    """Cap the y axis at 100x the largest median first value: a run that blows up does not flatten the rest."""
    first = [np.nanmedian(np.where(np.isfinite(y[:, 0]), y[:, 0], np.nan)) for y in ys if np.isfinite(y[:, 0]).any()]
    if first:
        top = 100 * max(first)
        if ax.get_ylim()[1] > top:
            ax.set_ylim(top=top)


def plot_curves(curves: dict[tuple[str, str], dict[str, Any]], what: str, path: str, title: str) -> None:
    """One panel per ``panel`` key: median of ``what`` ("loss" or "lr") per scheduler, 25-75% band, log y.

    ``arrays[what + "_steps"]`` (optional) gives the steps of the columns (default ``0, 1, 2, ...``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(p for p, _ in curves))
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        for (p, name), arrays in curves.items():
            if p != panel:
                continue
            y = np.where(np.isfinite(arrays[what]), arrays[what], np.nan)
            lo, med, hi = np.nanpercentile(y, [25, 50, 75], axis=0)
            x = arrays.get(f"{what}_steps", np.arange(y.shape[1]))
            ax.plot(x, med, label=name, color=_color(name), lw=1.4, ls=_style(name))
            ax.fill_between(x, lo, hi, color=_color(name), alpha=0.12, lw=0)
        ax.set_yscale("log")
        _clip_top(ax, [a[what] for (p, _), a in curves.items() if p == panel])
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("step")
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    legend: dict[str, Any] = {}  # every method once, also those on some panels only (LRTuner: the CNN)
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    handles, labels = list(legend.values()), list(legend)
    rows_legend = math.ceil(len(labels) / 6)
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.03 + 0.035 * rows_legend / rows, 1, 0.96))
    fig.savefig(path, dpi=80)
    plt.close(fig)
