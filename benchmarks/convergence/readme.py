"""Write README.md's "Which schedule?" block from the committed results, so its numbers cannot drift.

The block between ``<!-- which-schedule:start -->`` and ``<!-- which-schedule:end -->`` is generated from
``results/runs.json`` (through the same functions that write ``report.md``) and from the executed
notebook ``notebooks/05_anneal_data_switch.ipynb``. Usage, from the repository root::

    python -m benchmarks.convergence.readme           # rewrite the block in README.md
    python -m benchmarks.convergence.readme --check   # exit status 1 if README.md's block is stale

Example:
    >>> block().startswith("Measured with lrsched itself")
    True
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

import numpy as np

from benchmarks.convergence.run import RESULTS

__all__ = ["END", "README", "START", "block", "load_results", "main", "notebook_accuracies", "render", "rewrite"]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
NOTEBOOK = os.path.join(ROOT, "notebooks", "05_anneal_data_switch.ipynb")
START, END = "<!-- which-schedule:start -->", "<!-- which-schedule:end -->"
_TOP = 4  # methods named in the minibatch bullet


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} minutes"


def load_results(path: str = os.path.join(RESULTS, "runs.json")) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def notebook_accuracies(path: str = NOTEBOOK) -> dict[str, float]:
    """``label -> held-out accuracy`` as notebook 05 printed them (``"<label>  held-out accuracy 96.2%"``)."""
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    text = "".join(
        "".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
    )
    return {m[0].strip(): float(m[1]) for m in re.findall(r"^(.+?)\s+held-out accuracy ([\d.]+)%$", text, flags=re.M)}


def _rank(r: tuple[float, float, float]) -> str:
    return f"{r[0]:.1f} [{r[1]:.1f}, {r[2]:.1f}]"


def _median(x: tuple[float, float, float]) -> str:
    from benchmarks.convergence.stats import fmt

    return f"{fmt(x[0])} [{fmt(x[1])}, {fmt(x[2])}]"


def _overlap(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    return a[1] <= b[2] and b[1] <= a[2]


_LABELS = {
    "greedy_robust": "the smoothed GreedyLR `greedy_robust`",
    "greedy_on_warmup_cosine": "GreedyLR on top of warmup + cosine",
    "schedule_free_adamw": "schedule-free AdamW (tuned LR)",
}


def _minibatch(runs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    from benchmarks.convergence.report_noisy import edges, overall_ranks, robustness
    from benchmarks.convergence.stats import win_rate

    ev = [r for r in runs if r["part"] == "noisy" and r["stage"] == "eval"]
    ranks = overall_ranks(ev)
    kinds = {r["scheduler"]: r["kind"] for r in ev}
    order = sorted(ranks, key=lambda n: ranks[n][0])
    top = order[:_TOP]
    best_schedule = next(n for n in order if kinds[n] == "schedule")
    tasks = list(dict.fromkeys(r["task"] for r in ev))
    left = {t: e for t, e in edges(runs).items() if e}
    edge = (
        "every tuned LR has a tried LR on each side"
        if not left
        else "still at the end of the widened grid: "
        + "; ".join(f"{t}: " + ", ".join(f"`{n}` ({side})" for n, side in e.items()) for t, e in left.items())
    )
    resolved = all(_overlap(ranks[top[0]], ranks[n]) for n in top[1:])
    text = (
        f"- **Minibatch training (the usual case): decay to ~0 by the end of the budget, at a tuned peak LR.** "
        f"On {len(tasks)} "
        "tasks on scikit-learn's digits (L2-regularised softmax regression, an MLP, NMF by projected SGD, a PyTorch "
        "CNN), with every method's LR tuned the same way (a grid widened until the choice is interior) and rerun on "
        f"fresh seeds, the best mean ranks (of {len(ranks)}; tie-averaged, 95% bootstrap intervals over seeds) were "
        + ", ".join(f"{_LABELS.get(n, f'`{n}`')} {_rank(ranks[n])}" for n in top)
        + ("; their intervals overlap, so their order is not resolved" if resolved else "")
        + f"; a tuned constant LR ranked {_rank(ranks['constant'])}. `{best_schedule}` beat the tuned constant LR on "
        f"{win_rate(ev, best_schedule, 'constant', ('task', 'seed')):.0%} of paired runs. Tuned LRs: {edge}."
    )
    facts = {"ranks": ranks, "kinds": kinds, "order": order, "ev": ev, "robust": robustness(runs)}
    return text, facts | {"best_schedule": best_schedule}


def _worst(robust: dict[str, dict[float, float]], name: str) -> str:
    return f"{max(robust[name].values()):.1f}"


def _optimizers(f: dict[str, Any]) -> str:
    ranks, kinds, robust = f["ranks"], f["kinds"], f["robust"]
    pf = [n for n in f["order"] if kinds[n] == "optimizer" and n != "schedule_free_adamw"]
    best = ranks[f["best_schedule"]]
    behind = all(ranks[n][1] > best[2] for n in pf)
    steady = min(robust, key=lambda n: max(robust[n].values()))
    text = (
        "- **Parameter-free optimizers at their recommended settings "
        + ("did not match a tuned schedule here.**" if behind else "can match a tuned schedule.**")
        + " Their mean ranks on the same tasks: "
        + ", ".join(f"`{n}` {_rank(ranks[n])}" for n in pf)
        + "."
    )
    if robust:
        ref = "warmup_cosine"
        greedy = sorted(max(robust[n].values()) for n in robust if n.startswith("greedy"))
        text += (
            " Started at 1/10 to 10 times its tuned (or recommended) LR, the method whose rank moved least was "
            f"`{steady}` (worst mean rank {_worst(robust, steady)}, {robust[steady][1.0]:.1f} at x1); warmup + cosine "
            f"fell to {_worst(robust, ref)} from {robust[ref][1.0]:.1f}"
            + (f", the GreedyLR settings to {greedy[0]:.1f}-{greedy[-1]:.1f}" if greedy else "")
            + " (see the robustness table of the report)."
        )
    return text


# The methods and schedules of the adaptive-controllers issue, with their labels.
_ADAPTIVE = {
    "hypergradient": "hypergradient descent (additive)",
    "hypergradient_mult": "hypergradient descent (multiplicative)",
    "abel": "ABEL",
    "taso": "the TASO schedule",
    "eigencurve": "the Eigencurve schedule",
}


def _adaptive(f: dict[str, Any]) -> str:
    """The hypergradient, ABEL, TASO, Eigencurve and LRTuner rows, against the best tuned schedule."""
    from benchmarks.convergence.report_noisy import _ranks_with_ci
    from benchmarks.convergence.stats import group_by

    ranks, kinds = f["ranks"], f["kinds"]
    best = next(n for n in f["order"] if kinds[n] == "schedule" and n not in _ADAPTIVE)  # the best of the others
    present = [n for n in _ADAPTIVE if n in ranks]
    if not present:
        return ""

    def versus(n: str) -> str:
        if _overlap(ranks[n], ranks[best]):
            return "the intervals overlap"
        return "ahead of it" if ranks[n][2] < ranks[best][1] else "behind it"

    text = (
        "- **The other adaptive methods and schedules, at settings fixed in advance (LR tuned like every other; see "
        f"the report's protocol):** against the best of the other schedules, `{best}` {_rank(ranks[best])}, "
        + ", ".join(f"{_ADAPTIVE[n]} ranked {_rank(ranks[n])} ({versus(n)})" for n in present)
        + "."
    )
    cnn = [r for r in f["ev"] if r["task"] == "cnn"]
    if any(r["scheduler"] == "lrtuner" for r in cnn):
        names = list(dict.fromkeys(r["scheduler"] for r in cnn))
        on_cnn = _ranks_with_ci(group_by(cnn, lambda r: r["task"]), names)
        top = min(names, key=lambda n: on_cnn[n][0])
        text += (
            " The look-ahead tuner after LRTuner (`lrsched.LRTuner`, not the paper's algorithm) needs an eager"
            f" training loop, so it ran on the PyTorch CNN only: rank "
            f"{_rank(on_cnn['lrtuner'])} of {len(names)} there (best: `{top}` {_rank(on_cnn[top])})."
        )
    return text


def _ratio(x: float) -> str:
    return "inf" if not np.isfinite(x) else f"{x:.2g}x"


def _greedy(f: dict[str, Any]) -> str:
    from benchmarks.convergence.stats import win_rate

    ranks, ev, robust = f["ranks"], f["ev"], f["robust"]
    best = f["best_schedule"]
    rob = ranks["greedy_robust"]
    versus = (
        f"within the interval of the best tuned schedule (`{best}` {_rank(ranks[best])})"
        if _overlap(rob, ranks[best])
        else f"behind the best tuned schedule (`{best}` {_rank(ranks[best])})"
    )
    text = (
        "- **GreedyLR on per-step minibatch losses: smooth its signal.** With the reference rules (raw new-best test, "
        f"patience 10) GreedyLR reads noise as stagnation and decays like an exponential (mean rank "
        f"{_rank(ranks['greedy'])}; it beats the tuned constant on "
        f"{win_rate(ev, 'greedy', 'constant', ('task', 'seed')):.0%} of runs). Deciding on a 50-step mean, "
        '`lrsched.GreedyLR(window=50, patience=50, cooldown=50, warmup=50, threshold=1e-3, threshold_mode="rel", '
        f"factor=0.5)`, ranks {_rank(rob)}, {versus}, and beats the tuned constant on "
        f"{win_rate(ev, 'greedy_robust', 'constant', ('task', 'seed')):.0%} of runs."
    )
    if "greedy_robust" in robust and "warmup_cosine" in robust:
        g, w = robust["greedy_robust"], robust["warmup_cosine"]
        text += (
            " Robustness (where it would rank, started off its tuned LR): 10 times too low "
            f"{g[0.1]:.1f} (warmup + cosine: {w[0.1]:.1f}), 10 times too high {g[10.0]:.1f} ({w[10.0]:.1f}); "
            f"tuned {g[1.0]:.1f} ({w[1.0]:.1f})."
        )
    return text


def _paper(runs: list[dict[str, Any]]) -> str:
    from benchmarks.convergence.report_paper import PAPER_MEDIANS, headline_medians

    med = headline_medians([r for r in runs if r["part"] == "paper"])

    def ana(label: str) -> str:
        return _median(med[label]["analytic"])

    cells = {(r["family"], r["seed"]) for r in runs if r["part"] == "paper" and r["kind"] == "analytic"}
    n = len(cells) // len({f for f, _ in cells})
    paper_settings = "GreedyLR (lrsched, paper's settings)"
    return (
        "- **Short, clean, full-batch runs whose fixed LR is too small: GreedyLR.** On the GreedyLR paper's robustness "
        f"grid ({n} initialisations per analytic problem type, as in the paper) the analytic-problem medians "
        "[95% bootstrap intervals] are: GreedyLR with the paper's settings "
        f"{ana(paper_settings)} (paper: {PAPER_MEDIANS['GreedyLR'][0]}), "
        f"with the reference class's plain settings {ana('GreedyLR (lrsched, plain)')}, cosine {ana('cosine')} "
        f"(paper: {PAPER_MEDIANS['cosine'][0]}), exponential {ana('exponential')} (paper: "
        f"{PAPER_MEDIANS['exponential'][0]}). GreedyLR wins there by *raising* the LR; a constant LR "
        f"({ana('constant')}) also beats the decays."
    )


def _anneal(runs: list[dict[str, Any]], acc: dict[str, float]) -> str:
    from benchmarks.convergence.report_lm import paired

    lm = [r for r in runs if r["part"] == "lm"]
    total = paired(lm, "wsd_anneal_clean", "wsd")
    data = paired(lm, "wsd_clean_in_stable", "wsd")
    timing = paired(lm, "wsd_anneal_clean", "wsd_clean_in_stable")
    shape = paired(lm, "wsd", "cosine")
    return (
        "- **Finish on your best data.** On a small character-level language model (standard-library docstrings as "
        "a web-like mix with 30% corrupted lines, plus a small clean subset; scored on held-out clean text), WSD "
        "whose final decay switches to the clean subset through named phases (`lrsched.phases`, `phase_at`) "
        f"changed held-out bits per character by {total['mean']:+.3f} [{total['low']:+.3f}, {total['high']:+.3f}] "
        f"against WSD annealing on the mix ({total['wins']}/{total['n']} seeds better). Of that, {data['mean']:+.3f} "
        "is the clean data itself (a control that mixes the same clean windows into the stable phase) and "
        f"{timing['mean']:+.3f} [{timing['low']:+.3f}, {timing['high']:+.3f}] is seeing it during the anneal "
        f"({timing['wins']}/{timing['n']} seeds); WSD itself beat cosine by {-shape['mean']:.3f}. On softmax "
        "regression with 40% noisy labels ([`notebooks/05_anneal_data_switch.ipynb`]"
        "(notebooks/05_anneal_data_switch.ipynb), one seed), annealing on the noisy data moves held-out accuracy "
        f"from {acc['constant LR, noisy data only']:.1f}% to {acc['anneal, noisy data only']:.1f}%; switching to "
        "the clean subset for the same last phase at a constant LR reaches "
        f"{acc['constant LR, clean subset last']:.1f}%, and annealing on it {acc['anneal on the clean subset']:.1f}%: "
        "there most of the gain is the clean data itself."
    )


def render(results: dict[str, Any], acc: dict[str, float]) -> str:
    """The generated block (without the markers)."""
    runs, meta = results["runs"], results["meta"]
    minutes = meta["total_seconds"] / 60
    loads = [x for pair in meta.get("load", {}).values() for x in pair]
    shared = loads and max(loads) > 2.5  # more runnable jobs than the 2 cores
    intro = (
        f"Measured with lrsched itself in `benchmarks/convergence/` (`python -m benchmarks.convergence`: "
        f"{minutes:.0f} minutes on {meta['cpus']} CPU cores"
        + (f" shared with other jobs, load average {min(loads):.0f}-{max(loads):.0f}" if shared else "")
        + (f", {sum(meta['cpu_seconds'].values()) / 60:.0f} CPU-minutes" if meta.get("cpu_seconds") else "")
        + "".join(
            f", then {_duration(a['seconds'])} more for methods run alone with `--methods` ({', '.join(a['methods'])})"
            for a in meta.get("added", [])
        )
        + "; every run is in `results/runs.json`, all tables in "
        "[`results/report.md`](benchmarks/convergence/results/report.md); this section is generated from them "
        "by `python -m benchmarks.convergence.readme`):"
    )
    mini, f = _minibatch(runs)
    bullets = [mini, _optimizers(f), _greedy(f), _adaptive(f), _paper(runs), _anneal(runs, acc)]
    bullets = [b for b in bullets if b]
    return "\n".join([intro, "", *bullets])


def block(results: dict[str, Any] | None = None, acc: dict[str, float] | None = None) -> str:
    """The block as README.md holds it (wrapped), from the committed results and notebook by default."""
    results = load_results() if results is None else results
    return _wrap(render(results, notebook_accuracies() if acc is None else acc))


def _wrap(text: str, width: int = 118) -> str:
    """Wrap each paragraph / bullet at ``width`` (bullets continue with two spaces), as the README is written."""
    out = []
    for para in text.split("\n"):
        if not para:
            out.append("")
            continue
        indent = "  " if para.startswith("- ") else ""
        line = ""
        for word in para.split(" "):
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = indent + word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return "\n".join(out)


def rewrite(readme: str, block: str) -> str:
    """``readme`` with the text between the markers replaced by ``block``."""
    pattern = re.compile(re.escape(START) + r"\n.*?\n" + re.escape(END), flags=re.S)
    if not pattern.search(readme):
        raise ValueError(f"README.md has no {START} ... {END} block")
    return pattern.sub(lambda _: f"{START}\n{block}\n{END}", readme)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.convergence.readme", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md's block differs from the results")
    args = ap.parse_args(argv)
    with open(README, encoding="utf-8") as fh:
        current = fh.read()
    new = rewrite(current, block())
    if args.check:
        if new != current:
            print("README.md's 'Which schedule?' block is stale: run python -m benchmarks.convergence.readme")
            return 1
        return 0
    with open(README, "w", encoding="utf-8") as fh:
        fh.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
