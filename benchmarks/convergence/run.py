"""Run the convergence suite and write ``runs.json``, ``report.md`` and PNG plots.

Usage (from the repository root)::

    python -m benchmarks.convergence            # the whole suite (< 10 min on 2 CPU cores)
    python -m benchmarks.convergence --smoke    # a tiny subset in seconds: checks the pipeline only
    python -m benchmarks.convergence --out /tmp/conv --parts paper

Example:
    >>> main(["--smoke", "--out", __import__("tempfile").mkdtemp(), "--quiet"])
    0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

__all__ = ["main"]

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.convergence", description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny subset, seconds; checks the pipeline, not conclusions")
    ap.add_argument("--out", default=RESULTS, help="output folder (default: the committed results folder)")
    ap.add_argument("--parts", default="paper,noisy", help="comma-separated: paper, noisy")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.add_argument("--report-only", action="store_true", help="rewrite report.md from the runs.json in --out")
    return ap.parse_args(argv)


def _report_only(out: str) -> int:
    """Regenerate ``report.md`` from ``runs.json`` (the plots are left as they are)."""
    from benchmarks.convergence.report import noisy_section, paper_section, write_report

    with open(os.path.join(out, "runs.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    runs = data["runs"]
    sections = (
        [paper_section([r for r in runs if r["part"] == "paper"])] if any(r["part"] == "paper" for r in runs) else []
    )
    if any(r["part"] == "noisy" for r in runs):
        sections.append(noisy_section([r for r in runs if r["part"] == "noisy"]))
    write_report(os.path.join(out, "report.md"), sections, data["meta"])
    return 0


def _run_parts(args: argparse.Namespace, out: str) -> tuple[list[dict[str, Any]], list[str], dict[str, float]]:
    from benchmarks.convergence import noisy, paper
    from benchmarks.convergence.plots import plot_curves
    from benchmarks.convergence.report import noisy_section, paper_section

    records: list[dict[str, Any]] = []
    sections, timings = [], {}
    parts = args.parts.split(",")
    if "paper" in parts:
        t0 = time.perf_counter()
        kw: dict[str, Any] = {"seeds": 2, "families": ["quadratic"], "steps": 20} if args.smoke else {}
        recs, curves = paper.run_paper(show_progress=not args.quiet, **kw)
        plot_curves(curves, "loss", os.path.join(out, "paper_loss.png"), "Part 1: median loss (25-75% band)")
        plot_curves(_lr_panels(curves), "lr", os.path.join(out, "paper_lr.png"), "Part 1: LR traces")
        records += recs
        sections.append(paper_section(recs))
        timings["paper"] = time.perf_counter() - t0
    if "noisy" in parts:
        t0 = time.perf_counter()
        recs, curves = noisy.run_noisy(smoke=args.smoke, show_progress=not args.quiet)
        plot_curves(curves, "loss", os.path.join(out, "noisy_loss.png"), "Part 2: full training loss (median, 25-75%)")
        plot_curves(_lr_panels(curves), "lr", os.path.join(out, "noisy_lr.png"), "Part 2: LR traces")
        records += recs
        sections.append(noisy_section(recs))
        timings["noisy"] = time.perf_counter() - t0
    return records, sections, timings


def _lr_panels(curves: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """LR traces are the same for every problem of a time-based schedule: show one panel per problem kind."""
    return {(panel, name): c for (panel, name), c in curves.items() if panel in _first_panels(curves)}


def _first_panels(curves: dict[tuple[str, str], Any]) -> list[str]:
    panels = list(dict.fromkeys(p for p, _ in curves))
    preferred = [p for p in ("quadratic", "rosenbrock", "neural_simple") if p in panels]
    return preferred if len(preferred) == 3 else panels[:3]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    out = os.path.abspath(args.out)
    if args.report_only:
        return _report_only(out)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    records, sections, timings = _run_parts(args, out)
    meta = {
        "smoke": args.smoke,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "total_seconds": round(time.perf_counter() - t0, 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with open(os.path.join(out, "runs.json"), "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "runs": records}, fh, separators=(",", ":"), allow_nan=False)
    from benchmarks.convergence.report import write_report

    write_report(os.path.join(out, "report.md"), sections, meta)
    if not args.quiet:
        print(f"wrote {len(records)} runs and report.md to {out} in {meta['total_seconds']} s")
    return 0
