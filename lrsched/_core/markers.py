"""Landmarks of a schedule: warmup ends, restarts, phase boundaries and named phase spans.

Each schedule reports its own landmarks (:meth:`Schedule.landmarks`, no
sampling); combinators shift their children's landmarks to their own clock, so a
restart inside the second phase of a join is reported at its global step. Used by :func:`lrsched.plot` and the CLI.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import NamedTuple

from lrsched._core.schedule import MAX_LANDMARKS, Schedule, landmarks_of

__all__ = ["Marker", "markers", "phase_spans"]


class Marker(NamedTuple):
    """A landmark at global ``step``; ``kind`` is ``"warmup"``, ``"restart"`` or ``"phase"``."""

    step: float
    kind: str
    label: str


def markers(schedule: Schedule, end: float) -> list[Marker]:
    """Warmup ends, restarts and phase boundaries of ``schedule`` on ``[0, end]``, sorted by step.

    Each schedule reports its own landmarks (:meth:`Schedule.landmarks`); at most 200 are kept.

    Example:
        >>> from lrsched._core.markers import markers
        >>> import lrsched
        >>> markers(lrsched.warmup(lrsched.cosine_restarts(1.0, 10), 5), 30)[:2]
        [Marker(step=5.0, kind='warmup', label='warmup end'), Marker(step=15.0, kind='restart', label='restart 1')]
    """
    found = (Marker(float(s), k, label) for s, k, label in landmarks_of(schedule, 0.0, 0.0, float(end)))
    unique = {(round(m.step, 9), m.kind): m for m in itertools.islice(found, 50 * MAX_LANDMARKS)}
    return sorted(unique.values(), key=lambda m: (m.step, m.kind))[:MAX_LANDMARKS]


def phase_spans(schedule: Schedule, steps: Iterable[float]) -> list[tuple[float, float, str]]:
    """Runs of equal :meth:`Schedule.phase_at` names over ``steps``: ``(first, next_start, name)``.

    ``next_start`` is the first step of the next run (or the last step); unnamed steps are skipped.

    Example:
        >>> from lrsched._core.markers import phase_spans
        >>> import lrsched
        >>> s = lrsched.phases(("hold", lrsched.constant(1.0), 3), ("decay", lrsched.linear(1.0, 0.0, 3), None))
        >>> phase_spans(s, range(6))
        [(0.0, 3.0, 'hold'), (3.0, 5.0, 'decay')]
    """
    spans: list[tuple[float, float, str]] = []
    current: str | None = None
    start = 0.0
    last = 0.0
    for step in steps:
        step = float(step)
        name = schedule.phase_at(step)
        if name != current:
            if current is not None:
                spans.append((start, step, current))
            current, start = name, step
        last = step
    if current is not None:
        spans.append((start, last, current))
    return spans
