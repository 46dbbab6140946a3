"""Run the convergence suite and write ``runs.json``, ``report.md`` and PNG plots.

Usage (from the repository root)::

    python -m benchmarks.convergence                    # the whole suite (about 15 min on 2 shared CPU cores)
    python -m benchmarks.convergence --smoke            # a tiny subset in about a minute: checks the pipeline only
    python -m benchmarks.convergence --parts lm         # one part; the other parts' runs in --out are kept
    python -m benchmarks.convergence --report-only      # rewrite report.md (and part 2's plots) from runs.json
    python -m benchmarks.convergence --methods taso,abel  # run only these part-2 methods, merge into runs.json

``--methods``: each part-2 method is tuned and evaluated on its own (its grid, the same seeds and minibatch
orders whatever else runs), so a method added to the registry can be run alone and its records merged into
the committed ``runs.json``: every other record stays as it is, the method's earlier records (if any) are
replaced, ``meta["added"]`` logs the run's wall and CPU time, then report and plots are regenerated.

The whole suite took 690 s of wall time before TASO, Eigencurve, hypergradient descent, ABEL and LRTuner
joined part 2; those added 613 runs and 216 s run alone with ``--methods`` (159 s CPU), so expect about
15 minutes (``meta`` in ``runs.json`` holds every part's wall and CPU time and the load).

Parts: ``paper`` (the GreedyLR paper's grid), ``noisy`` (minibatch training on real data, the methods
users pick instead), ``lm`` (a character-level language model: annealing on clean data).

Example:
    >>> main(["--smoke", "--parts", "paper", "--out", __import__("tempfile").mkdtemp(), "--quiet"])
    0
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import multiprocessing
import os
import platform
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["PARTS", "RESULTS", "main"]

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
PARTS = ("paper", "noisy", "lm")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.convergence", description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny subset; checks the pipeline, not conclusions")
    ap.add_argument("--out", default=RESULTS, help="output folder (default: the committed results folder)")
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated, of: " + ", ".join(PARTS))
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.add_argument("--report-only", action="store_true", help="rewrite report.md from the runs.json in --out")
    ap.add_argument(
        "--methods",
        default=None,
        help="comma-separated part-2 methods: run only these and merge their records into the runs.json in --out",
    )
    args = ap.parse_args(argv)
    if args.methods is not None:
        from benchmarks.convergence.methods import METHODS

        args.methods = args.methods.split(",")
        unknown = [m for m in args.methods if m not in METHODS]
        if unknown or not args.methods:
            ap.error(f"--methods must name registered part-2 methods ({', '.join(METHODS)}), got {unknown}")
    parts = args.parts.split(",")
    if not parts or any(p not in PARTS for p in parts):
        ap.error(f"--parts must be a comma-separated list of {', '.join(PARTS)}, got {args.parts!r}")
    args.parts = [p for p in PARTS if p in parts]
    return args


def sections(runs: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    """The report's sections for the parts present in ``runs``."""
    from benchmarks.convergence.report import noisy_section, paper_section
    from benchmarks.convergence.report_lm import lm_section

    out = []
    if any(r["part"] == "paper" for r in runs):
        out.append(paper_section([r for r in runs if r["part"] == "paper"]))
    if any(r["part"] == "noisy" for r in runs):
        out.append(noisy_section([r for r in runs if r["part"] == "noisy"]))
    if any(r["part"] == "lm" for r in runs):
        out.append(lm_section([r for r in runs if r["part"] == "lm"], meta["lm"]))
    return out


def _report_only(out: str) -> int:
    """Regenerate ``report.md`` and part 2's plots (drawn from the records) from ``runs.json``."""
    from benchmarks.convergence.noisy import curves_of
    from benchmarks.convergence.report import write_report

    with open(os.path.join(out, "runs.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    noisy_runs = [r for r in data["runs"] if r["part"] == "noisy"]
    if noisy_runs:
        _plot_noisy(curves_of(noisy_runs), out)
    write_report(os.path.join(out, "report.md"), sections(data["runs"], data["meta"]), data["meta"])
    return 0


def _plot_noisy(curves: dict[tuple[str, str], Any], out: str) -> None:
    from benchmarks.convergence.plots import plot_curves

    plot_curves(curves, "loss", os.path.join(out, "noisy_loss.png"), "Part 2: full training loss (median, 25-75%)")
    with_lr = {k: c for k, c in _lr_panels(curves).items() if not all(x != x for x in c["lr"].ravel())}
    plot_curves(with_lr, "lr", os.path.join(out, "noisy_lr.png"), "Part 2: LR traces (optimizers set their own)")


def _add_methods(names: list[str], smoke: bool, quiet: bool, out: str) -> int:
    """Run part 2 for ``names`` only and merge the records into ``out/runs.json`` (see the module docstring)."""
    from benchmarks.convergence import noisy

    path = os.path.join(out, "runs.json")
    if not os.path.exists(path):
        raise SystemExit(f"--methods merges into an existing runs.json; none at {path}")
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if bool(data["meta"].get("smoke")) != smoke:
        raise SystemExit(f"--methods: {path} is {'a' if data['meta'].get('smoke') else 'not a'} --smoke run")
    old = data["runs"]
    t0, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
    baseline = [r for r in old if r["part"] == "noisy"]
    recs, _ = noisy.run_noisy(smoke=smoke, show_progress=not quiet, methods=names, baseline=baseline)
    seconds, cpu = round(time.perf_counter() - t0, 1), round(time.process_time() - cpu0, 1)
    kept = [r for r in old if not (r["part"] == "noisy" and r["scheduler"] in names)]
    records = sorted(kept + recs, key=lambda r: PARTS.index(r["part"]))  # stable: earlier records keep their order
    meta = data["meta"]
    added = [a for a in meta.get("added", []) if not set(a["methods"]) <= set(names)]
    load = [round(load0, 2), round(os.getloadavg()[0], 2)]
    meta["added"] = [
        *added,
        {"methods": names, "runs": len(recs), "seconds": seconds, "cpu_seconds": cpu, "load": load},
    ]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "runs": records}, fh, separators=(",", ":"), allow_nan=False)
    _report_only(out)
    if not quiet:
        print(f"added {len(recs)} runs of {', '.join(names)} to {path} in {seconds} s (CPU {cpu} s)")
    return 0


def _run_part(part: str, smoke: bool, quiet: bool, out: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Part 1's or 2's records (and extra metadata); writes its plots to ``out``."""
    from benchmarks.convergence.plots import plot_curves

    if part == "paper":
        from benchmarks.convergence import paper

        kw: dict[str, Any] = {"seeds": 2, "families": ["quadratic"], "steps": 20} if smoke else {}
        recs, curves = paper.run_paper(show_progress=not quiet, **kw)
        plot_curves(curves, "loss", os.path.join(out, "paper_loss.png"), "Part 1: median loss (25-75% band)")
        plot_curves(_lr_panels(curves), "lr", os.path.join(out, "paper_lr.png"), "Part 1: LR traces")
        return recs, {}
    if part == "noisy":
        from benchmarks.convergence import noisy

        recs, curves = noisy.run_noisy(smoke=smoke, show_progress=not quiet)
        _plot_noisy(curves, out)
        return recs, {}
    raise ValueError(f"unknown part {part!r}")


def lm_schedule_arms(smoke: bool) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Any], float, float]:
    """Part 3's schedule arms (records, curves, wall and CPU seconds); run in a worker process by :func:`main`."""
    from benchmarks.convergence import lm

    t0, cpu0 = time.perf_counter(), time.process_time()
    recs, curves = lm.run_lm(smoke=smoke, show_progress=False, arms=lm.ARMS)
    return recs, curves, time.perf_counter() - t0, time.process_time() - cpu0


def _run_lm(
    smoke: bool, quiet: bool, out: str, earlier: list[dict[str, Any]], worker: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Part 3: its schedule arms (from ``worker``, a future, or run here) and the best controller of part 2."""
    from benchmarks.convergence import lm
    from benchmarks.convergence.plots import plot_curves

    recs, curves, wall, cpu = worker.result() if worker is not None else lm_schedule_arms(smoke)
    adaptive = lm.best_controller(earlier)
    more, more_curves = lm.run_lm(smoke=smoke, show_progress=not quiet, arms=(adaptive,))
    recs, curves = recs + more, curves | more_curves
    panels = {("LR", a): {"y": c["lr"]} for (_, a), c in curves.items()}
    panels |= {("minibatch bits per character", a): {"y": c["loss"]} for (_, a), c in curves.items()}
    plot_curves(panels, "y", os.path.join(out, "lm.png"), "Part 3: language model (median, 25-75%)")
    info = lm.meta(adaptive) | ({"steps": 40} if smoke else {})
    return recs, {"lm": info, "lm_schedule_arms": {"seconds": round(wall, 1), "cpu_seconds": round(cpu, 1)}}


def _lr_panels(curves: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """LR traces are the same for every problem of a time-based schedule: show one panel per problem kind."""
    return {(panel, name): c for (panel, name), c in curves.items() if panel in _first_panels(curves)}


def _first_panels(curves: dict[tuple[str, str], Any]) -> list[str]:
    panels = list(dict.fromkeys(p for p, _ in curves))
    preferred = [p for p in ("quadratic", "rosenbrock", "neural_simple") if p in panels]
    return preferred if len(preferred) == 3 else panels[:3]


def _previous(out: str, parts: list[str], smoke: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Runs and metadata of the parts not rerun, from an existing full (non-smoke) ``runs.json`` in ``out``."""
    path = os.path.join(out, "runs.json")
    if smoke or not os.path.exists(path):
        return [], {}
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if data["meta"].get("smoke"):
        return [], {}
    kept = [r for r in data["runs"] if r["part"] not in parts]
    meta = {k: v for k, v in data["meta"].items() if k in ("seconds", "cpu_seconds", "load", "lm", "added")}
    return kept, meta


@contextlib.contextmanager
def _worker(args: argparse.Namespace) -> Iterator[Any]:
    """A future of part 3's schedule arms, computed in a second process while parts 1 and 2 run here.

    Every part is single-core bound, so on 2 cores this takes most of part 3 off the wall time; each arm's
    runs are what they would be in one process. ``None`` when part 3 runs alone or not at all.
    """
    if "lm" not in args.parts or args.parts == ["lm"]:
        yield None
        return
    ctx = multiprocessing.get_context("spawn")  # JAX must not be forked
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        yield pool.submit(lm_schedule_arms, args.smoke)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    out = os.path.abspath(args.out)
    if args.report_only:
        return _report_only(out)
    if args.methods is not None:
        return _add_methods(args.methods, args.smoke, args.quiet, out)
    os.makedirs(out, exist_ok=True)
    records, old = _previous(out, args.parts, args.smoke)
    meta: dict[str, Any] = {k: dict(old.get(k, {})) for k in ("seconds", "cpu_seconds", "load")}
    meta |= {k: v for k, v in old.items() if k in ("lm", "lm_schedule_arms") and "lm" not in args.parts}
    meta |= {"added": old["added"]} if "added" in old and "noisy" not in args.parts else {}  # their runs are kept
    with _worker(args) as worker:
        for part in args.parts:
            t0, cpu0, load0 = time.perf_counter(), time.process_time(), os.getloadavg()[0]
            if part == "lm":
                recs, extra = _run_lm(args.smoke, args.quiet, out, records, worker)
            else:
                recs, extra = _run_part(part, args.smoke, args.quiet, out)
            records += recs
            meta |= extra
            meta["seconds"][part] = round(time.perf_counter() - t0, 1)
            # CPU time of all threads (and, for lm, of its worker process): a measure the machine's load hardly moves.
            meta["cpu_seconds"][part] = round(
                time.process_time() - cpu0 + extra.get("lm_schedule_arms", {}).get("cpu_seconds", 0.0), 1
            )
            meta["load"][part] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    records.sort(key=lambda r: PARTS.index(r["part"]))
    for k in ("seconds", "cpu_seconds", "load"):
        meta[k] = {p: meta[k][p] for p in PARTS if p in meta[k]}
    meta |= {
        "smoke": args.smoke,
        "total_seconds": round(sum(meta["seconds"].values()), 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with open(os.path.join(out, "runs.json"), "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "runs": records}, fh, separators=(",", ":"), allow_nan=False)
    from benchmarks.convergence.report import write_report

    write_report(os.path.join(out, "report.md"), sections(records, meta), meta)
    if not args.quiet:
        print(f"wrote {len(records)} runs and report.md to {out} in {meta['total_seconds']} s")
    return 0
