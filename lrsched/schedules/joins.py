"""Joining schedules into phases, with a cost that does not grow with the number of phases.

On arrays, a join does not evaluate every piece (Optax's ``join_schedules``
unrolls one ``where`` per piece). Pieces of the same structure (same class,
same non-numeric settings) are stacked: their numbers become arrays, each
step gathers its own piece's numbers after a binary search, and the formula
runs once per structure. A join of 10 000 cosine pieces evaluates one cosine.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterator
from typing import Any

from lrsched._core.backend import Array, Namespace
from lrsched._core.schedule import Landmark, Schedule, landmarks_of, register
from lrsched._core.validate import is_number, shown

__all__ = [
    "Join",
    "phases",
    "join",
]


def _structure(s: Schedule, leaves: list[float]) -> Any:
    """Hashable description of ``s`` without its numbers; numbers go to ``leaves``."""
    if isinstance(s, Join):  # a nested join stays whole: it stacks its own pieces
        return (Join, s)
    spec: list[tuple[str, str, Any]] = []
    for f in dataclasses.fields(s):  # type: ignore[arg-type]
        value = getattr(s, f.name)
        kind = s._kinds.get(f.name)
        if f.name in s.read_through_constants:  # the formula reads it only through stacked_constants: not gathered
            spec.append((f.name, "unread", None))
        elif isinstance(value, Schedule):
            spec.append((f.name, "schedule", _structure(value, leaves)))
        elif kind == "schedules":
            spec.append((f.name, "schedules", tuple(_structure(v, leaves) for v in value)))
        elif kind in ("number", "optional_number", "schedule_or_number") and value is not None:
            key = s.structural.get(f.name)
            spec.append((f.name, "leaf", None if key is None else key(value)))
            leaves.append(value)
        else:
            spec.append((f.name, "static", value))
    for name, value in s.stacked_constants().items():
        spec.append((name, "cache", None))
        leaves.append(value)
    return (type(s), tuple(spec))


def _rebuild(structure: Any, leaves: Iterator[Any]) -> Schedule:
    """A schedule of ``structure`` whose numbers are taken from ``leaves`` (arrays allowed)."""
    cls, spec = structure
    if isinstance(spec, Schedule):
        return spec
    obj = cls.__new__(cls)
    memo: dict[str, Any] = {}
    object.__setattr__(obj, "_memo", memo)  # what ``Schedule._cached`` reads: the stacked constants
    for name, how, payload in spec:
        if how == "cache":
            memo[name] = next(leaves)
            continue
        if how == "unread":
            value = None
        elif how == "leaf":
            value = next(leaves)
        elif how == "schedule":
            value = _rebuild(payload, leaves)
        elif how == "schedules":
            value = tuple(_rebuild(p, leaves) for p in payload)
        else:
            value = payload
        object.__setattr__(obj, name, value)
    return obj


@dataclasses.dataclass(frozen=True)
class _Group:
    structure: Any
    members: tuple[int, ...]
    leaves: tuple[Any, ...]  # one float64 array per leaf, indexed by member position


@register("join")
class Join(Schedule):
    """Piecewise join: ``schedules[i](t - boundaries[i-1])`` on ``boundaries[i-1] <= t < boundaries[i]``.

    ``boundaries`` are global steps, strictly increasing; each phase sees its
    *local* step, starting at 0 at its boundary. The last phase runs forever.
    ``names`` label the phases for :meth:`phase_at` (e.g. to switch data in the
    final anneal). Scalar cost is a binary search; array cost and the jitted
    graph grow with the number of distinct piece structures, not pieces.

    Example:
        >>> from lrsched import constant, join, linear
        >>> s = join((constant(1.0), linear(1.0, 0.0, 10)), boundaries=(5,), names=("hold", "decay"))
        >>> s(10), s.phase_at(10)
        (0.5, 'decay')
    """

    schedules: tuple[Schedule, ...]
    boundaries: tuple[float, ...]
    names: tuple[str, ...] | None = None

    def _check_sizes(self) -> None:
        schedules, boundaries = self.schedules, self.boundaries
        if hasattr(schedules, "__len__") and hasattr(boundaries, "__len__") and not isinstance(boundaries, str):
            if len(boundaries) != len(schedules) - 1 and len(schedules):
                raise self._fail(
                    f"boundaries must have len(schedules) - 1 = {len(schedules) - 1} entries, got {len(boundaries)}"
                )

    def _check(self) -> None:
        n = len(self.schedules)
        if n == 0:
            raise self._fail("schedules must not be empty")
        if len(self.boundaries) != n - 1:
            raise self._fail(f"boundaries must have len(schedules) - 1 = {n - 1} entries, got {len(self.boundaries)}")
        for i, b in enumerate(self.boundaries):
            if b <= 0:
                raise self._fail(f"boundaries[{i}] must be > 0, got {b!r}")
            if i and b <= self.boundaries[i - 1]:
                raise self._fail(f"boundaries must be strictly increasing, got {self.boundaries!r}")
        if self.names is not None and len(self.names) != n:
            raise self._fail(f"names must have one entry per schedule ({n}), got {len(self.names)}")

    def _starts(self) -> tuple[float, ...]:
        return self._cached("starts", lambda: (0, *self.boundaries))

    def _groups(self) -> tuple[Any, ...]:
        def build() -> tuple[Any, ...]:
            import numpy as np

            by_structure: dict[Any, list[tuple[int, list[float]]]] = {}
            for i, s in enumerate(self.schedules):
                leaves: list[float] = []
                by_structure.setdefault(_structure(s, leaves), []).append((i, leaves))
            groups = []
            group_of = np.zeros(len(self.schedules), dtype=np.int64)
            member_of = np.zeros(len(self.schedules), dtype=np.int64)
            for g, (structure, items) in enumerate(by_structure.items()):
                for m, (i, _) in enumerate(items):
                    group_of[i], member_of[i] = g, m
                # A column with one value stays a number: formulas keep their fast paths for it.
                columns = tuple(
                    col[0] if len(set(col)) == 1 else np.asarray(col, dtype=np.float64)
                    for col in zip(*(lv for _, lv in items))
                )
                groups.append(_Group(structure, tuple(i for i, _ in items), columns))
            starts = np.asarray(self._starts(), dtype=np.float64)
            bounds = np.asarray(self.boundaries, dtype=np.float64)
            return tuple(groups), group_of, member_of, starts, bounds

        return self._cached("groups", build)  # type: ignore[no-any-return]

    def _eval(self, t: Array, xp: Namespace) -> Array:
        if xp.is_scalar:
            return xp.call(self._scalar_piece, t)
        groups, group_of, member_of, starts, bounds = self._groups()
        i = xp.searchsorted(bounds, t)
        local = t - xp.take(starts, i)
        out = None
        for g, group in enumerate(groups):
            if len(group.members) == 1:
                piece = self.schedules[group.members[0]]
            else:
                # Steps in other groups' pieces carry other groups' member numbers: keep them in range.
                member = xp.minimum(xp.take(member_of, i), len(group.members) - 1)
                numbers = [col if isinstance(col, (int, float)) else xp.take(col, member) for col in group.leaves]
                piece = _rebuild(group.structure, iter(numbers))
            value = piece._eval(local, xp)
            out = value if out is None else xp.where(xp.take(group_of, i) == g, value, out)
        return out

    def _scalar_piece(self, t: float) -> float:
        i = bisect.bisect_right(self.boundaries, t)
        return self.schedules[i]._scalar(t - self._starts()[i])

    def phase_at(self, step: float) -> str | None:
        i = self._index(step)
        if self.names is not None:
            return self.names[i]
        return self.schedules[i].phase_at(step - self._starts()[i])

    def landmarks(self, end: float) -> Iterator[Landmark]:
        starts = self._starts()
        ends = (*self.boundaries, math.inf)
        for i, child in enumerate(self.schedules):
            start = float(starts[i])
            if start > end:
                return
            if i:
                yield (start, "phase", self.names[i] if self.names is not None else f"phase {i + 1}")
            yield from landmarks_of(child, start, start, min(end, float(ends[i])))

    def _index(self, step: float) -> int:
        return bisect.bisect_right(self.boundaries, step)


def phases(*specs: tuple[str, Any, float | None]) -> Join:
    """Join named phases given as ``(name, schedule, length)``; the last length may be ``None``.

    Example:
        >>> from lrsched import constant, linear, phases
        >>> s = phases(("train", constant(1.0), 90), ("anneal", linear(1.0, 0.0, 10), None))
        >>> s.phase_at(95), s(95)
        ('anneal', 0.5)
    """
    if not specs:
        raise ValueError("phases: give at least one (name, schedule, length) phase")
    names, schedules, boundaries = [], [], []
    total: float = 0.0
    for k, spec in enumerate(specs):
        if not isinstance(spec, tuple) or len(spec) != 3:
            raise TypeError(f"phases: phase {k} must be a (name, schedule, length) tuple, got {spec!r}")
        name, schedule, length = spec
        names.append(name)
        schedules.append(schedule)
        if k < len(specs) - 1:
            if length is None or not is_number(length):
                raise TypeError(f"phases: phase {k} ({shown(name)}) needs a length (a number > 0), got {shown(length)}")
            if not 0 < length < math.inf:
                raise ValueError(f"phases: phase {k} ({shown(name)}) needs a length > 0, got {shown(length)}")
            total += length
            boundaries.append(total)
    return Join(tuple(schedules), tuple(boundaries), tuple(names))


# Factories: the registered name of each schedule is the name it is built by, so ``repr`` reads like the call.
join = Join
