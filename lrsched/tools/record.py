"""Record what a run used: ``(step, lr, loss, phase)`` rows plus the schedule's config.

Works with any framework: call :meth:`Recorder.log` from the training loop with
plain numbers. :meth:`Recorder.save` writes JSON (config + trace) or CSV (a
``# config:`` comment line, then ``step,lr,loss,phase`` rows); :func:`load_trace`
reads either back, and :func:`lrsched.plot` draws a :class:`Trace` directly.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from lrsched._core.schedule import FunctionSchedule, Schedule

__all__ = ["Recorder", "Trace", "load_trace"]

_FORMAT = "lrsched.trace/1"


@dataclass(frozen=True)
class Trace:
    """An immutable record of a run: per-step LR (and optionally loss and phase) and the config used.

    ``config`` is the schedule's ``to_config()`` (or any JSON dict, e.g. a GreedyLR config), or ``None``.
    ``losses`` holds ``nan`` where no loss was logged; ``phases`` holds ``None`` where no phase was known.
    """

    steps: tuple[float, ...]
    lrs: tuple[float, ...]
    losses: tuple[float, ...] = ()
    phases: tuple[str | None, ...] = ()
    config: dict[str, Any] | None = field(default=None, compare=True, hash=False)
    label: str | None = None

    def __len__(self) -> int:
        return len(self.steps)

    def schedule(self) -> Any:
        """Rebuild the recorded schedule (or GreedyLR settings) from :attr:`config`."""
        if self.config is None:
            raise ValueError("this trace has no config to rebuild a schedule from")
        from lrsched._core.config import from_config

        return from_config(self.config)

    def phase_at(self, step: float) -> str | None:
        """The phase logged at the last recorded step ``<= step`` (``None`` if none)."""
        import bisect

        i = bisect.bisect_right(self.steps, step) - 1
        return self.phases[i] if 0 <= i < len(self.phases) else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (``nan`` losses become ``null``)."""
        losses = [None if math.isnan(v) else v for v in self.losses]
        return {
            "format": _FORMAT,
            "label": self.label,
            "config": self.config,
            "trace": {"step": list(self.steps), "lr": list(self.lrs), "loss": losses, "phase": list(self.phases)},
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``path`` as JSON, or as CSV when it ends in ``.csv``."""
        text = self._csv() if os.fspath(path).lower().endswith(".csv") else json.dumps(self.to_dict(), indent=1)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    def _csv(self) -> str:
        out = io.StringIO()
        out.write(f"# config: {json.dumps(self.config)}\n")
        if self.label is not None:
            out.write(f"# label: {json.dumps(self.label)}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["step", "lr", "loss", "phase"])
        for i, (step, lr) in enumerate(zip(self.steps, self.lrs)):
            loss = self.losses[i] if i < len(self.losses) else math.nan
            phase = self.phases[i] if i < len(self.phases) else None
            writer.writerow([_num(step), repr(lr), "" if math.isnan(loss) else repr(loss), phase or ""])
        return out.getvalue()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


class Recorder:
    """Log ``(step, lr, loss, phase)`` during training; save and reload the result.

    Give the ``schedule`` (any lrsched schedule or an object with ``to_config()``, such as
    :func:`lrsched.greedy`) to store its config and to fill ``phase`` from
    ``schedule.phase_at(step)``; a plain callable is accepted and stores no config.

    Example:
        >>> from lrsched import Recorder
        >>> import lrsched
        >>> sched = lrsched.warmup(lrsched.cosine_decay(0.1, 90), warmup_steps=10)
        >>> rec = Recorder(sched)
        >>> for step in range(100):
        ...     rec.log(step, sched(step), loss=1.0 / (step + 1))
        >>> rec.trace().phases[5], len(rec.trace())
        ('warmup', 100)
    """

    def __init__(self, schedule: Any = None, *, label: str | None = None) -> None:
        self._schedule = schedule
        self._config = _config_of(schedule)
        self._label = label
        self._rows: list[tuple[float, float, float, str | None]] = []

    def log(self, step: float, lr: float, loss: float | None = None, phase: str | None = None) -> None:
        """Append one row; ``lr`` and ``loss`` may be 0-d arrays or tensors (anything ``float()`` accepts)."""
        if phase is None and isinstance(self._schedule, Schedule):
            phase = self._schedule.phase_at(float(step))
        self._rows.append((float(step), float(lr), math.nan if loss is None else float(loss), phase))

    def __len__(self) -> int:
        return len(self._rows)

    def trace(self) -> Trace:
        """The rows so far as an immutable :class:`Trace`."""
        steps, lrs, losses, phases = zip(*self._rows) if self._rows else ((), (), (), ())
        return Trace(tuple(steps), tuple(lrs), tuple(losses), tuple(phases), self._config, self._label)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save config + trace to ``path`` (JSON, or CSV for a ``.csv`` path)."""
        self.trace().save(path)


def _config_of(schedule: Any) -> dict[str, Any] | None:
    """The JSON config of ``schedule``; ``None`` for a plain callable, which has none."""
    if schedule is None:
        return None
    if isinstance(schedule, FunctionSchedule) or (callable(schedule) and not hasattr(schedule, "to_config")):
        return None
    to_config = getattr(schedule, "to_config", None)
    if to_config is None:
        raise TypeError(f"Recorder: schedule must be callable or have a to_config() method, got {schedule!r}")
    config = to_config()
    json.dumps(config)  # fail early, here, if it is not plain JSON data
    return dict(config)


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a trace written by :meth:`Recorder.save` / :meth:`Trace.save` (JSON or CSV)."""
    with open(path, encoding="utf-8", newline="") as fh:
        text = fh.read()
    if os.fspath(path).lower().endswith(".csv"):
        return _from_csv(text, os.fspath(path))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{os.fspath(path)}: not a JSON trace: {err}") from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f"{os.fspath(path)}: not an lrsched trace (expected format {_FORMAT!r})")
    t = data["trace"]
    losses = tuple(math.nan if v is None else float(v) for v in t["loss"])
    steps = tuple(float(v) for v in t["step"])
    return Trace(steps, tuple(float(v) for v in t["lr"]), losses, tuple(t["phase"]), data["config"], data["label"])


def _from_csv(text: str, where: str) -> Trace:
    meta: dict[str, Any] = {"config": None, "label": None}
    lines = text.splitlines()
    while lines and lines[0].startswith("# "):
        key, _, value = lines.pop(0)[2:].partition(": ")
        meta[key] = json.loads(value)
    rows = list(csv.DictReader(lines))
    if rows and set(rows[0]) != {"step", "lr", "loss", "phase"}:
        raise ValueError(f"{where}: expected columns step,lr,loss,phase, got {','.join(rows[0])}")
    return Trace(
        tuple(float(r["step"]) for r in rows),
        tuple(float(r["lr"]) for r in rows),
        tuple(float(r["loss"]) if r["loss"] else math.nan for r in rows),
        tuple(r["phase"] or None for r in rows),
        meta["config"],
        meta["label"],
    )
