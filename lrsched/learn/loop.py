"""The meta-training loop around an evolution-strategies iteration: checkpoints, progress and throughput.

:func:`iterate` drives an :class:`Iteration` (``lrsched.learn.es`` supplies one) from a state to the last iteration.
It measures *inner updates per second* (the optimizer steps of the inner runs, training and validation, per second
of iteration time, from the second iteration on so that compilation is excluded) and the CPU cores the process kept
busy meanwhile (its CPU seconds per second).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

import jax

from lrsched.learn import checkpoint as ckpt
from lrsched.learn.checkpoint import ESState

__all__ = ["Iteration", "iterate"]


class Iteration(Protocol):
    """One meta-iteration, its validation and its cost in inner updates."""

    def step(self, state: ESState, it: int) -> ESState:
        """The state after iteration ``it`` (with a validation record in its history when one is due)."""
        ...

    def evaluate(self, state: ESState, train_score: float) -> dict[str, float]:
        """Validate ``state`` and record it (in its history, and as the best weights if they are)."""
        ...

    def updates(self, evaluated: bool) -> int:
        """Inner updates of one iteration (with or without its validation)."""
        ...


def iterate(
    meta: Iteration,
    state: ESState,
    settings: dict[str, Any],
    t0: float,
    progress: bool,
    callback: Callable[[dict[str, float]], None] | None,
    checkpoint: str | os.PathLike[str] | None,
    every: int,
) -> tuple[ESState, dict[str, Any]]:
    """Run ``meta``'s iterations from ``state`` to ``settings["iterations"]``; returns the last state and the stats.

    Writes ``checkpoint`` (from process 0) every ``every`` iterations, at the end and on ``KeyboardInterrupt``;
    shows a progress bar; ends with a validation if the last iteration had none (not in the checkpoint, so that a
    run resumed from it matches an uninterrupted one); ``callback`` gets every validation record.
    """
    from lrsched.tools.progress import progress as bar

    iterations, first, earlier = settings["iterations"], state.iteration + 1, state.seconds
    writer = jax.process_index() == 0  # every process computes the same state; one writes it
    setup = time.perf_counter() - t0
    saved = state.iteration
    done: list[tuple[int, float, float]] = []  # (inner updates, seconds, CPU seconds of this process) per iteration

    def save(st: ESState) -> None:
        if checkpoint is not None and writer:
            ckpt.save(checkpoint, dataclasses.replace(st, seconds=earlier + time.perf_counter() - t0), settings)

    def report(record: dict[str, float], pb: Any) -> None:
        if callback is not None:
            callback(record)
        pb.set_postfix_str(f"meta-objective {record['objective']:+.3f}, {_rate(done)[0]:,.0f} inner updates/s")

    with bar(iterations, "meta-training", enabled=progress and writer, initial=state.iteration) as pb:
        try:
            for it in range(first, iterations + 1):
                tick, cpu = time.perf_counter(), time.process_time()
                state = meta.step(state, it)
                evaluated = state.history[-1]["iteration"] == it
                done.append((meta.updates(evaluated), time.perf_counter() - tick, time.process_time() - cpu))
                if evaluated:
                    report(state.history[-1], pb)
                if it % every == 0 or it == iterations:
                    save(state)
                    saved = it
                pb.update(1)
        except KeyboardInterrupt:
            if state.iteration > saved:
                save(state)  # the last completed iteration: resume from here
            raise
        if state.history[-1]["iteration"] != state.iteration:  # the last iteration is off the eval_every grid
            report(meta.evaluate(state, state.train_score), pb)
    rate, busy = _rate(done)
    stats = {"inner_updates": sum(n for n, _, _ in done), "inner_updates_per_second": rate, "cores_busy": busy}
    stats |= {"setup_seconds": setup, "seconds": time.perf_counter() - t0}
    return dataclasses.replace(state, seconds=earlier + time.perf_counter() - t0), stats


def _rate(done: list[tuple[int, float, float]]) -> tuple[float, float]:
    """Inner updates per second and CPU cores kept busy (CPU / wall seconds of this process), in steady state:
    from the second iteration on (the first may still compile)."""
    steady = done[1:] or done
    seconds = sum(t for _, t, _ in steady)
    if seconds <= 0:
        return float("nan"), float("nan")
    return sum(n for n, _, _ in steady) / seconds, sum(c for _, _, c in steady) / seconds
