"""Markdown for part 3 (the language model): held-out bits per character per arm, and paired differences.

Example:
    >>> recs = [{"part": "lm", "stage": "eval", "scheduler": a, "peak_lr": 0.003, "seed": s, "test_bpc": v,
    ...          "valid_bpc": v} for s in range(2) for a, v in [("wsd", 3.0), ("wsd_anneal_clean", 2.9)]]
    >>> round(paired(recs, "wsd_anneal_clean", "wsd")["mean"], 3)
    -0.1
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.convergence.stats import bootstrap_ci, fmt, group_by, quantiles, values_of
from benchmarks.convergence.tuning import edge_choices, tried

__all__ = ["COMPARISONS", "lm_section", "paired"]

# (a, b, what the difference a - b measures)
COMPARISONS = (
    ("wsd_anneal_clean", "wsd", "anneal on the clean subset vs. on the mix (same schedule)"),
    (
        "wsd_anneal_clean",
        "wsd_clean_in_stable",
        "anneal on the clean subset vs. the same clean windows in the stable phase (same schedule, same data)",
    ),
    ("wsd_clean_in_stable", "wsd", "clean data in the stable phase vs. none"),
    ("wsd", "cosine", "WSD vs. cosine, both on the mix"),
)


def paired(records: list[dict[str, Any]], a: str, b: str, key: str = "test_bpc") -> dict[str, float]:
    """Seed-by-seed ``a - b`` of ``key`` on the evaluation runs: mean (with a 95% bootstrap interval over
    seeds), min, max, and how many seeds had ``a < b``."""
    ev = [r for r in records if r.get("part") == "lm" and r["stage"] == "eval"]
    by = {(r["scheduler"], r["seed"]): values_of([r], key)[0] for r in ev}
    seeds = sorted({s for n, s in by if n == a} & {s for n, s in by if n == b})
    d = np.array([by[a, s] - by[b, s] for s in seeds])
    lo, hi = bootstrap_ci([d[:, None]], lambda x: x[0].mean(axis=0))
    return {
        "mean": float(d.mean()),
        "low": float(lo[0]),
        "high": float(hi[0]),
        "min": float(d.min()),
        "max": float(d.max()),
        "wins": int((d < 0).sum()),
        "n": len(d),
    }


_INTRO = """\
## Part 3: a language model, where annealing on clean data comes from

Warmup-stable-decay and "finish on your best data" come from language-model pretraining, so this part
tests them there, with nothing downloaded. Model: a character-level transformer ({params:,} parameters: 2
pre-LayerNorm blocks, width 64, 4 heads, context 64), Adam (torch defaults) with the gradient norm clipped
at 1, batches of 8 windows, {steps:,} steps. Text: the docstrings and comments of the running
interpreter's standard library (`benchmarks/convergence/lm_data.py`; sorted files, fixed seed; corpus
SHA-256 `{sha}`), split by file into a web-like training mix ({web:,} characters, 30% of its lines
corrupted: half shuffled, half followed by boilerplate such as cookie banners), a clean "high-quality"
subset ({hq:,} characters), and clean held-out validation and test text ({valid:,} and {test:,} characters
scored). Metric: bits per character (bpc) on the held-out clean test text.

Arms: `cosine` (warmup 5% + cosine) and `wsd` (warmup 5%, stable, 1-sqrt decay over the last 20%) on
the mix; `wsd_anneal_clean`, the same WSD written as named phases (`lrsched.phases`) whose training loop
asks `schedule.phase_at(step)` and draws the anneal phase's batches from the clean subset;
`wsd_clean_in_stable`, the control: as many clean windows, mixed evenly into the warmup and stable phases,
the anneal on the mix; and `{adaptive}`, the best-ranked LR controller of part 2, on the mix. Each arm's
peak LR is tuned by validation bpc (1 tuning seed, grid from 0.001 to 0.01, widened as in part 2); then
{seeds} fresh seeds (initialisation and batch order).
"""


def _arm_table(ev: list[dict[str, Any]], tune: list[dict[str, Any]]) -> list[str]:
    grids, edge = tried(tune), edge_choices(tune)
    seeds = sorted({r["seed"] for r in ev})
    lines = [
        "| arm | peak LR (tried) | test bpc, median [min, max] | validation bpc | "
        + " | ".join(f"test, seed {s}" for s in seeds)
        + " |",
        "|---|---:|---:|---:|" + "---:|" * len(seeds),
    ]
    by = group_by(ev, lambda r: r["scheduler"])
    for name in sorted(by, key=lambda n: quantiles(by[n], "test_bpc", (0.5,))[0]):
        rs = by[name]
        lo, med, hi = quantiles(rs, "test_bpc", (0.0, 0.5, 1.0))
        grid = grids.get(name, [])
        lr = (
            fmt(rs[0]["peak_lr"])
            + ("*" if name in edge else "")
            + (f" ({fmt(grid[0])}-{fmt(grid[-1])})" if grid else "")
        )
        per_seed = {r["seed"]: f"{values_of([r], 'test_bpc')[0]:.3f}" for r in rs}
        cells = [name, lr, f"{med:.3f} [{lo:.3f}, {hi:.3f}]", f"{quantiles(rs, 'valid_bpc', (0.5,))[0]:.3f}"]
        lines.append("| " + " | ".join(cells + [per_seed.get(s, "-") for s in seeds]) + " |")
    return lines


def _comparisons(records: list[dict[str, Any]], adaptive: str) -> list[str]:
    rows = [*COMPARISONS, (adaptive, "wsd", f"the LR controller `{adaptive}` vs. WSD, both on the mix")]
    lines = [
        "| comparison | test bpc difference: mean [95% CI] | [min, max] over seeds | seeds where the first is better |",
        "|---|---:|---:|---:|",
    ]
    for a, b, what in rows:
        d = paired(records, a, b)
        cells = [f"`{a}` - `{b}`: {what}", f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"]
        cells += [f"[{d['min']:+.3f}, {d['max']:+.3f}]", f"{d['wins']}/{d['n']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _reading(records: list[dict[str, Any]], steps: int) -> str:
    """The anneal-on-clean gain over WSD on the mix, split into the clean data itself and its timing (exact)."""
    from benchmarks.convergence import lm_model as M

    ev = [r for r in records if r.get("part") == "lm" and r["stage"] == "eval" and r["scheduler"] == "wsd"]
    level, chars = quantiles(ev, "test_bpc", (0.5,))[0], steps * M.BATCH * M.SEQ
    total = paired(records, "wsd_anneal_clean", "wsd")
    data = paired(records, "wsd_clean_in_stable", "wsd")
    timing = paired(records, "wsd_anneal_clean", "wsd_clean_in_stable")
    return (
        f"**Reading.** Annealing on the clean subset changed held-out bpc by {total['mean']:+.3f} against WSD on the "
        f"mix ({total['wins']}/{total['n']} seeds better). That difference splits exactly into the clean data itself, "
        f"{data['mean']:+.3f} (the control, with the same clean windows in the stable phase, against WSD on the mix), "
        f"and seeing it during the anneal rather than before, {timing['mean']:+.3f} "
        f"[{timing['low']:+.3f}, {timing['high']:+.3f}] ({timing['wins']}/{timing['n']} seeds better). At about "
        f"{level:.1f} bits per character the model is weak (it sees {chars:,} characters in {steps:,} steps): these "
        "are training recipes compared at one small budget, not a claim about large models."
    )


def lm_section(records: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Part 3 of the report (``meta``: :func:`benchmarks.convergence.lm.meta`)."""
    ev = [r for r in records if r.get("part") == "lm" and r["stage"] == "eval"]
    tune = [r for r in records if r.get("part") == "lm" and r["stage"] == "tune"]
    chars = meta["corpus_chars"]
    intro = _INTRO.format(
        params=meta["params"],
        steps=meta["steps"],
        sha=meta["corpus_sha256"][:16],
        web=chars["web"],
        hq=chars["hq"],
        valid=chars["valid"],
        test=chars["test"],
        adaptive=meta["adaptive"],
        seeds=len({r["seed"] for r in ev}),
    )
    parts = [intro, "### Held-out bits per character", "", *_arm_table(ev, tune), "", "`*`: the chosen LR is at an"]
    parts[-1] += " end of the LRs tried."
    parts += ["", "### Paired differences (negative: the first arm is better)", ""]
    parts += _comparisons(records, meta["adaptive"])
    parts += ["", _reading(records, meta["steps"])]
    parts += ["", "![Part 3 curves](lm.png)", ""]
    return "\n".join(parts)
