"""A resumable checkpoint of the evolution-strategies state: one JSON file, written atomically.

:class:`ESState` is everything a meta-training run carries from one iteration to the next: the weights
``theta``, Adam's moments ``m`` and ``v``, the iteration, the ``jax.random`` key the draws are folded from, the
best validated weights so far and the history, plus what the run computed once before its first iteration (the
calibrated centres and the constant policy's validation score). A run resumed from it draws the same
perturbations and problems as an uninterrupted one, so it ends with the same weights.

The file is plain JSON (float32 weights written as exact decimals; no pickle), written to a temporary file in
the same directory and renamed over the old one, so an interruption leaves the previous checkpoint intact. It
records the run's settings; :func:`load` refuses a checkpoint whose settings differ from the resuming run's,
naming the settings that differ (the number of iterations may change: that is how a run is extended).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ESState", "load", "save"]

FORMAT = "lrsched.learn.checkpoint/1"
_ARRAYS = ("theta", "m", "v", "best_theta")


@dataclass
class ESState:
    """The state of a meta-training run after ``iteration`` completed iterations (see the module docstring)."""

    iteration: int
    theta: Any  #: the weights (float32; a NumPy array once loaded, a JAX array while training)
    m: Any
    v: Any
    key: Any  #: the run's ``jax.random`` key data (uint32), from which every draw is folded
    best_theta: Any
    best_objective: float
    history: list[dict[str, float]]
    baseline: float  #: the constant policy's validation score (the meta-objective's zero)
    centres: list[tuple[float, float]]  #: calibrated LR centres ``(adam, sgd)`` per family
    seconds: float = 0.0  #: wall time spent in the run so far, across resumes
    train_score: float = math.nan  #: the last iteration's mean training score


def save(path: str | os.PathLike[str], state: ESState, settings: dict[str, Any]) -> None:
    """Write ``state`` and the run's ``settings`` to ``path`` atomically (a rename of a complete file)."""
    body = {f.name: getattr(state, f.name) for f in dataclasses.fields(ESState)}
    for name in (*_ARRAYS, "key"):
        body[name] = np.asarray(body[name]).tolist()  # float32 -> exact float64 decimals; uint32 -> int
    body["centres"] = [list(c) for c in state.centres]
    text = json.dumps({"format": FORMAT, "settings": settings, "state": body}, allow_nan=True)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(path: str | os.PathLike[str], settings: dict[str, Any]) -> ESState:
    """The state saved in ``path``; ``ValueError`` if it is not a checkpoint or was made with other ``settings``."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"checkpoint: {os.fspath(path)!r} is not a meta-training checkpoint ({FORMAT})")
    saved, settings = data["settings"], json.loads(json.dumps(settings))  # compared as JSON (tuples are lists)
    differ = sorted(k for k in set(saved) | set(settings) if k != "iterations" and saved.get(k) != settings.get(k))
    if differ:
        shown = ", ".join(f"{k}: {saved.get(k)!r} in the checkpoint, {settings.get(k)!r} now" for k in differ)
        raise ValueError(f"checkpoint: {os.fspath(path)!r} was written by a run with other settings ({shown})")
    body = data["state"]
    for name in _ARRAYS:
        body[name] = np.asarray(body[name], np.float32)
    body["key"] = np.asarray(body["key"], np.uint32)
    body["centres"] = [tuple(c) for c in body["centres"]]
    return ESState(**body)
