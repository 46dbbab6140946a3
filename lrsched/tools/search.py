"""Grid and random search over schedule configs, and an Optuna bridge.

A *search space* is a schedule config (nested dicts/lists, see
:func:`lrsched.from_config`) in which any value may be a parameter:
:func:`choice`, :func:`uniform`, :func:`log_uniform` or :func:`int_uniform`
(plain values stay fixed). Sampling returns plain configs; build them with
``lrsched.from_config``. Choices may hold whole sub-configs, so a space can pick
the schedule family too.

Example:
    >>> from lrsched.tools.search import choice, grid, log_uniform, sample
    >>> import lrsched
    >>> space = {"name": "cosine_decay", "decay_steps": 1000,
    ...          "init_value": log_uniform(1e-4, 1e-1), "end_value": choice([0.0, 1e-5])}
    >>> configs = sample(space, 3, seed=0)
    >>> configs == sample(space, 3, seed=0), len(list(grid(space, points=2)))
    (True, 4)
    >>> lrsched.from_config(configs[0]).decay_steps
    1000
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Choice",
    "Uniform",
    "choice",
    "grid",
    "int_uniform",
    "log_uniform",
    "optimize",
    "parameters",
    "sample",
    "suggest",
    "uniform",
]


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (any JSON values, including sub-configs that may hold parameters)."""

    options: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError("choice: options must not be empty")


@dataclass(frozen=True)
class Uniform:
    """A number in ``[low, high]``: uniform, or uniform in ``log`` space; ``integer`` rounds to ints."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def __post_init__(self) -> None:
        name = "log_uniform" if self.log else "int_uniform" if self.integer else "uniform"
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low <= self.high):
            raise ValueError(f"{name}: need finite low <= high, got low={self.low!r}, high={self.high!r}")
        if self.log and not self.low > 0:
            raise ValueError(f"{name}: low must be > 0 for a log scale, got {self.low!r}")

    def points(self, n: int) -> list[Any]:
        """``n`` evenly spaced grid points (in log space when ``log``), both ends included."""
        if self.log:
            values = np.geomspace(self.low, self.high, n)
        else:
            values = np.linspace(self.low, self.high, n)
        if self.integer:
            return list(dict.fromkeys(round(float(v)) for v in values))
        return [float(v) for v in values]

    def draw(self, rng: np.random.Generator) -> Any:
        if self.integer:
            if self.log:
                return round(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


Param = Choice | Uniform


def choice(options: Sequence[Any]) -> Choice:
    """Pick one of ``options``."""
    if isinstance(options, (str, bytes, dict)) or not isinstance(options, Sequence):
        raise TypeError(f"choice: options must be a list or tuple, got {options!r}")
    return Choice(tuple(options))


def uniform(low: float, high: float) -> Uniform:
    """A float uniform in ``[low, high]``."""
    return Uniform(float(low), float(high))


def log_uniform(low: float, high: float) -> Uniform:
    """A float whose log is uniform in ``[log(low), log(high)]`` (``low > 0``): for learning rates."""
    return Uniform(float(low), float(high), log=True)


def int_uniform(low: int, high: int, *, log: bool = False) -> Uniform:
    """An integer in ``[low, high]`` (e.g. warmup steps), optionally log-spaced."""
    return Uniform(float(low), float(high), log=log, integer=True)


def parameters(space: Any, path: str = "") -> dict[str, Param]:
    """The parameters of ``space`` by dotted path (``"schedule.init_value"``), in a stable order."""
    found: dict[str, Param] = {}
    if isinstance(space, (Choice, Uniform)):
        found[path or "value"] = space
        if isinstance(space, Choice):
            for i, option in enumerate(space.options):
                found.update(parameters(option, f"{path}[{i}]"))
    elif isinstance(space, dict):
        for key, value in space.items():
            found.update(parameters(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(space, (list, tuple)):
        for i, value in enumerate(space):
            found.update(parameters(value, f"{path}[{i}]"))
    return found


def _resolve(space: Any, pick: Any, path: str = "") -> Any:
    """Replace every parameter in ``space`` by ``pick(path, param)`` (recursing into chosen options)."""
    if isinstance(space, Choice):
        option = pick(path or "value", space)
        return _resolve(space.options[option], pick, f"{path}[{option}]")
    if isinstance(space, Uniform):
        return pick(path or "value", space)
    if isinstance(space, dict):
        return {k: _resolve(v, pick, f"{path}.{k}" if path else str(k)) for k, v in space.items()}
    if isinstance(space, (list, tuple)):
        return [_resolve(v, pick, f"{path}[{i}]") for i, v in enumerate(space)]
    return space


def sample(space: Any, n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` random configs from ``space``; the same ``seed`` always gives the same configs."""
    if not (isinstance(n, int) and n >= 0):
        raise ValueError(f"sample: n must be an integer >= 0, got {n!r}")
    rng = np.random.default_rng(seed)

    def pick(path: str, param: Param) -> Any:
        if isinstance(param, Choice):
            return int(rng.integers(len(param.options)))
        return param.draw(rng)

    return [_resolve(space, pick) for _ in range(n)]


def grid(space: Any, *, points: int = 3) -> Iterator[dict[str, Any]]:
    """Every combination of choices and ``points`` grid values per range, in a fixed order."""
    if not (isinstance(points, int) and points >= 1):
        raise ValueError(f"grid: points must be an integer >= 1, got {points!r}")
    yield from _grid(space, points)


def _grid(space: Any, points: int) -> Iterator[Any]:
    if isinstance(space, Choice):
        for option in space.options:
            yield from _grid(option, points)
    elif isinstance(space, Uniform):
        yield from space.points(points)
    elif isinstance(space, dict):
        keys = list(space)
        for combo in itertools.product(*(list(_grid(space[k], points)) for k in keys)):
            yield dict(zip(keys, combo))
    elif isinstance(space, (list, tuple)):
        for combo in itertools.product(*(list(_grid(v, points)) for v in space)):
            yield list(combo)
    else:
        yield space


def suggest(trial: Any, space: Any, *, prefix: str = "") -> dict[str, Any]:
    """Let an Optuna ``trial`` propose a config from ``space`` (Optuna itself is not imported here).

    Ranges map to ``trial.suggest_float``/``suggest_int`` (``log=`` kept); a choice among plain
    values maps to ``suggest_categorical`` over those values, a choice among sub-configs to
    ``suggest_categorical`` over their indices. Parameter names are the dotted paths, prefixed.

    Example (needs ``pip install optuna``)::

        def objective(trial):
            sched = lrsched.from_config(lrsched.search.suggest(trial, space))
            return train_and_evaluate(sched)

        optuna.create_study().optimize(objective, n_trials=20)
    """

    def pick(path: str, param: Param) -> Any:
        name = prefix + path
        if isinstance(param, Choice):
            opts = param.options
            if all(o is None or isinstance(o, (bool, int, float, str)) for o in opts):
                return opts.index(trial.suggest_categorical(name, list(opts)))
            return int(trial.suggest_categorical(name, list(range(len(opts)))))
        if param.integer:
            return int(trial.suggest_int(name, int(param.low), int(param.high), log=param.log))
        return float(trial.suggest_float(name, param.low, param.high, log=param.log))

    return _resolve(space, pick)  # type: ignore[no-any-return]


def optimize(objective: Any, space: Any, n_trials: int, *, seed: int = 0, direction: str = "minimize") -> Any:
    """Run an Optuna study where each trial's ``objective(config)`` scores a config drawn by :func:`suggest`.

    Imports Optuna here (``pip install "lrsched[optuna]"``); seeds its TPE sampler with ``seed``.
    Returns the ``optuna.Study``; ``study.best_trial.user_attrs["config"]`` is the best config.
    """
    try:
        import optuna
    except ImportError:
        raise ImportError('lrsched.search.optimize needs Optuna: pip install "lrsched[optuna]"') from None

    def run(trial: Any) -> float:
        config = suggest(trial, space)
        trial.set_user_attr("config", config)
        return float(objective(config))

    study = optuna.create_study(direction=direction, sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(run, n_trials=n_trials)
    return study
