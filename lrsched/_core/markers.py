"""Landmarks of a schedule: warmup ends, restarts, phase boundaries and named phase spans.

Found by walking the schedule's structure (no sampling for markers), with each
nested schedule's clock offset tracked, so a restart inside the second phase of
a join is reported at its global step. Used by :func:`lrsched.plot` and the CLI.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any, NamedTuple

from lrsched._core.schedule import Schedule

__all__ = ["Marker", "markers", "phase_spans"]


class Marker(NamedTuple):
    """A landmark at global ``step``; ``kind`` is ``"warmup"``, ``"restart"`` or ``"phase"``."""

    step: float
    kind: str
    label: str


_MAX_MARKERS = 200


def markers(schedule: Schedule, end: float) -> list[Marker]:
    """Warmup ends, restarts and phase boundaries of ``schedule`` on ``[0, end]``, sorted by step.

    Example:
        >>> import lrsched
        >>> markers(lrsched.warmup(lrsched.cosine_restarts(1.0, 10), 5), 30)[:2]
        [Marker(step=5.0, kind='warmup', label='warmup end'), Marker(step=15.0, kind='restart', label='restart 1')]
    """
    found: list[Marker] = []
    _walk(schedule, 0.0, 0.0, float(end), found)
    unique = {(round(m.step, 9), m.kind): m for m in found}
    return sorted(unique.values(), key=lambda m: (m.step, m.kind))[:_MAX_MARKERS]


def _add(found: list[Marker], step: float, kind: str, label: str, lo: float, hi: float) -> None:
    if lo < step <= hi:
        found.append(Marker(float(step), kind, label))


def _walk(node: Any, offset: float, lo: float, hi: float, found: list[Marker]) -> None:
    """Collect markers of ``node`` whose own clock reads 0 at global step ``offset``, inside ``(lo, hi]``."""
    if not isinstance(node, Schedule) or len(found) > _MAX_MARKERS:
        return
    s: Any = node  # fields differ per schedule class
    name = s.name
    if name == "warmup":
        w = float(s.warmup_steps)
        _add(found, offset + w, "warmup", "warmup end", lo, hi)
        inner = offset + w if s.clock == "after_warmup" else offset
        _walk(s.schedule, inner, max(lo, offset + w), hi, found)
    elif name == "join":
        starts = (0.0, *map(float, s.boundaries))
        ends = (*map(float, s.boundaries), math.inf)
        for i, child in enumerate(s.schedules):
            if i:
                label = s.names[i] if s.names is not None else f"phase {i + 1}"
                _add(found, offset + starts[i], "phase", label, lo, hi)
            _walk(child, offset + starts[i], max(lo, offset + starts[i]), min(hi, offset + ends[i]), found)
    elif name == "cosine_restarts":
        _restarts(found, (offset + float(s.cycle_start(i, _NP)) for i in range(1, _MAX_MARKERS)), lo, hi)
    elif name == "cycle":
        _restarts(found, (offset + k * float(s.period) for k in range(1, _MAX_MARKERS)), lo, hi)
    elif name == "shift":
        _walk(s.schedule, offset + float(s.offset), lo, hi, found)
    elif name in ("wsd", "inverse_sqrt", "one_cycle"):
        _builtin_phases(s, offset, lo, hi, found)
    elif name == "quantize" and s.schedule_in_epochs:
        return  # the inner clock counts epochs; its landmarks are not global steps
    else:
        for f in dataclasses.fields(s):
            value = getattr(s, f.name)
            for child in value if isinstance(value, tuple) else (value,):
                _walk(child, offset, lo, hi, found)


def _restarts(found: list[Marker], steps: Iterable[float], lo: float, hi: float) -> None:
    for k, step in enumerate(steps, start=1):
        if step > hi:
            return
        _add(found, step, "restart", f"restart {k}", lo, hi)


def _builtin_phases(s: Any, offset: float, lo: float, hi: float, found: list[Marker]) -> None:
    if s.name == "one_cycle":
        _add(found, offset + float(s.pct_start * s.total_steps), "warmup", "warmup end", lo, hi)
        return
    if s.warmup_steps > 0:
        _add(found, offset + float(s.warmup_steps), "warmup", "warmup end", lo, hi)
    if s.name == "wsd":
        _add(found, offset + float(s.total_steps - s.decay_steps), "phase", "decay", lo, hi)


class _NumpyFree:
    """Scalar stand-in for ``xp.power`` used by :meth:`CosineRestarts.cycle_start`."""

    @staticmethod
    def power(a: float, b: float) -> float:
        return float(a) ** float(b)


_NP: Any = _NumpyFree()


def phase_spans(schedule: Schedule, steps: Iterable[float]) -> list[tuple[float, float, str]]:
    """Runs of equal :meth:`Schedule.phase_at` names over ``steps``: ``(first, next_start, name)``.

    ``next_start`` is the first step of the next run (or the last step); unnamed steps are skipped.

    Example:
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
