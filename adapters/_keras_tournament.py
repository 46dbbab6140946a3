"""``peak_tournament`` for a compiled Keras 3 model: each candidate copies the model's and optimizer's variables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from lrsched.tools.tournament import TournamentResult
from lrsched.tools.tournament import peak_tournament as _peak_tournament

__all__ = ["peak_tournament"]


def peak_tournament(
    model: keras.Model,
    batches: Callable[[int], Any],
    *,
    budget: int,
    lr: float | None = None,
    **settings: Any,
) -> TournamentResult:
    """:func:`lrsched.peak_tournament` for Keras 3 (any backend): pick the peak LR by training candidates.

    ``model`` is compiled with an optimizer whose learning rate is a float; ``batches(t)`` gives minibatch ``t`` as
    ``train_on_batch`` takes it: ``(x, y)`` or ``(x, y, sample_weight)``. Each update sets
    ``model.optimizer.learning_rate`` and calls ``model.train_on_batch``; each candidate starts from a copy of the
    values of ``model.variables`` and ``model.optimizer.variables`` (its iteration count and slots). It returns with
    the model and optimizer in the winner's state, at the winner's LR; the result's ``winner`` is that pair of
    variable lists (NumPy arrays), ``used`` the updates every candidate made (all charged to ``budget``). Go on from
    minibatch ``result.next_batch`` for ``budget - result.used`` updates with
    ``ControllerCallback(result.anneal(), frequency="batch")``.

    ``lr``: the rough LR (default: the optimizer's). ``settings``: ``grid``, ``rounds``, ``keep``.

    Example:
        >>> import keras, numpy as np
        >>> from lrsched.adapters.keras import peak_tournament
        >>> keras.utils.set_random_seed(0)
        >>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
        >>> y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
        >>> won = peak_tournament(model, lambda t: (x, y), budget=1000)
        >>> round(won.lr, 6), won.used  # 0.01 x 9 wins; 5 x 10 + 2 x 20 updates charged
        (0.09, 90)
        >>> round(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)), 6)
        0.09
    """
    owner = "peak_tournament"
    if not isinstance(model, keras.Model):
        raise TypeError(f"{owner}: model must be a keras.Model, got {type(model).__name__}")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError(f"{owner}: model has no optimizer; call model.compile(optimizer=..., loss=...) first")
    if not isinstance(optimizer._learning_rate, keras.Variable):  # Keras keeps a schedule only here
        raise TypeError(
            f"{owner}: the optimizer's learning rate must be a float (the tournament sets it every update), got "
            f"{type(optimizer._learning_rate).__name__}"
        )
    if not callable(batches):
        raise TypeError(f"{owner}: batches must be callable as batches(t) -> (x, y), got {batches!r}")
    if lr is None:
        lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    if not optimizer.built:
        optimizer.build(model.trainable_variables)

    def snapshot() -> tuple[list[np.ndarray], list[np.ndarray]]:
        return (
            [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables],
            [np.array(keras.ops.convert_to_numpy(v)) for v in optimizer.variables],
        )

    def restore(member: tuple[list[np.ndarray], list[np.ndarray]]) -> None:
        for variable, value in zip(model.variables, member[0]):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, member[1]):
            variable.assign(value)

    def train(member: Any, lrs: np.ndarray, start: int) -> tuple[Any, np.ndarray]:
        restore(member)
        losses = []
        for j, rate in enumerate(lrs):
            optimizer.learning_rate = float(rate)
            logs = model.train_on_batch(*batches(start + j), return_dict=True)
            losses.append(float(logs["loss"]))
        return snapshot(), np.asarray(losses)

    won = _peak_tournament(train, snapshot(), lr, budget, **settings)
    restore(won.winner)
    optimizer.learning_rate = won.lr
    return won
