"""Helpers shared by the benchmark scripts (run them as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def median_time(fn: Callable[[], Any], repeat: int = 5) -> float:
    """Median wall-clock seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fmt(seconds: float) -> str:
    """A duration with a readable unit."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def command_line(script: str, quick: bool, out: str | None) -> str:
    """The command that reproduces a report, for its header, as run from the repository root (``out`` too, wherever
    the script ran from)."""
    import os

    if out:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        out = os.path.relpath(os.path.abspath(out), root)
    return f"python benchmarks/{script}" + (" --quick" if quick else "") + (f" --out {out}" if out else "")


def publish(report: str, out: str | None) -> None:
    """Print the report and, with ``--out``, write it (ending in one newline)."""
    print(report)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(report.rstrip("\n") + "\n")


def header(title: str, script: str, quick: bool, out: str | None, *modules: Any) -> list[str]:
    """A report's first lines: title, the command that reproduces it, versions, machine and load.

    ``modules``: imported packages whose versions the report depends on (e.g. ``jax``, ``torch``).
    """
    import os
    import platform

    versions = "".join(f", {m.__name__} {m.__version__}" for m in modules)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        f"# {title}",
        "",
        f"Command: `{command_line(script, quick, out)}`",
        "",
        f"Python {platform.python_version()}{versions}, {platform.machine()} CPU, {os.cpu_count()} cores "
        f"(shared; load average {load:.1f} at the start).",
        "",
    ]


def rounds(variants: dict[str, Callable[[], float]], repeat: int) -> dict[str, list[float]]:
    """Each variant's result (its seconds per unit) in ``repeat`` rounds, the variants taking turns within a round.

    The order rotates by one variant each round (round ``r`` starts at variant ``r mod k``), so every variant holds
    every position in the round equally often over ``k`` rounds: what a variant leaves behind (caches, allocator,
    a frequency step) weighs on each of the others alike rather than always on the one after it.

    Example:
        >>> seen = []
        >>> _ = rounds({k: (lambda k=k: seen.append(k) or 0.0) for k in "abc"}, 3)
        >>> "".join(seen)
        'abcbcacab'
    """
    names = list(variants)
    samples: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(variants[name]())
    return samples
