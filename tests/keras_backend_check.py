"""Checks of the Keras adapter under one backend; ``tests/test_adapter_keras.py`` runs it per backend.

Usage: ``KERAS_BACKEND=jax python tests/keras_backend_check.py TMPDIR``. Prints one JSON
line ``{check: [ok, detail]}``. The LR an optimizer *actually used* at step ``k`` is
read back from a linear least-squares model trained with plain SGD:
``w_{k+1} = w_k - lr_k * g_k`` with the gradient ``g_k`` known in closed form.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras

import lrsched as L
from lrsched.adapters.keras import GreedyLRCallback, KerasSchedule, SteeredSchedule

BACKEND = keras.backend.backend()
BATCH, N = 16, 64  # 4 steps per epoch
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, 4)).astype("float32")
Y = (X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * RNG.normal(size=N)).astype("float32")[:, None]
BASE = L.warmup(L.cosine_decay(0.05, 20, end_value=0.005), warmup_steps=4)
RESULTS: dict[str, list[Any]] = {}


def check(name: str) -> Callable[[Callable[[], Any]], None]:
    def run(fn: Callable[[], Any]) -> None:
        start = time.perf_counter()
        try:
            detail = fn()
            RESULTS[name] = [True, detail, round(time.perf_counter() - start, 1)]
        except Exception as error:  # report every check, not just the first failure
            RESULTS[name] = [False, f"{type(error).__name__}: {error}"]

    return run


class Weights(keras.callbacks.Callback):
    """Records the kernel before every batch and at the end, and the batch logs."""

    def __init__(self) -> None:
        super().__init__()
        self.kernels: list[np.ndarray] = []
        self.losses: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.kernels.append(np.array(self.model.layers[-1].kernel.numpy(), dtype=np.float64))

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.losses.append(float(logs["loss"]))

    def on_train_end(self, logs: Any = None) -> None:
        self.kernels.append(np.array(self.model.layers[-1].kernel.numpy(), dtype=np.float64))


def lrs_used(rec: Weights, first_step: int = 0) -> np.ndarray:
    """``lr_k`` from consecutive kernels of the linear model (plain SGD, MSE)."""
    out = []
    for k in range(len(rec.kernels) - 1):
        i = (first_step + k) % (N // BATCH)
        xb, yb = X[i * BATCH : (i + 1) * BATCH].astype(np.float64), Y[i * BATCH : (i + 1) * BATCH].astype(np.float64)
        w, w_next = rec.kernels[k], rec.kernels[k + 1]
        grad = 2.0 / BATCH * xb.T @ (xb @ w - yb)
        out.append(float(-np.sum((w_next - w) * grad) / np.sum(grad * grad)))
    return np.asarray(out)


def linear(lr: Any) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def fit(model: keras.Model, epochs: int, callbacks: list[Any]) -> Weights:
    rec = Weights()
    model.fit(X, Y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0, callbacks=[*callbacks, rec])
    return rec


def close(actual: Any, expected: Any, rtol: float = 2e-4, atol: float = 1e-6) -> list[float]:
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    return [round(float(v), 6) for v in np.asarray(actual).ravel()[:6]]


def _compiled(schedules: list[KerasSchedule], steps: np.ndarray) -> np.ndarray:
    """Every schedule on the backend's compiled path (one compiled function for all)."""
    if BACKEND == "jax":
        import jax

        return np.asarray(jax.jit(lambda t: [s(t) for s in schedules])(steps.astype(np.int32)))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda t: [s(t) for s in schedules], jit_compile=False)
        return np.asarray([v.numpy() for v in fn(tf.constant(steps, tf.int64))])
    import torch

    return np.asarray([s(torch.tensor(steps)).numpy() for s in schedules])


@check("schedule_ops")
def _schedule_ops() -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import ALL_SCHEDULES  # the core tests' catalogue of every schedule

    steps = np.arange(0, 40)
    wrapped = [KerasSchedule(s) for s in ALL_SCHEDULES]
    expected = np.asarray([s(steps.astype(np.float64)) for s in ALL_SCHEDULES])
    np.testing.assert_allclose(_compiled(wrapped, steps), expected, rtol=1e-5, atol=1e-6)
    step = keras.Variable(7, dtype="int32" if BACKEND == "jax" else "int64", trainable=False)
    eager = [float(keras.ops.convert_to_numpy(s(step))) for s in wrapped]  # concrete step: the Python path
    np.testing.assert_allclose(eager, expected[:, 7], rtol=1e-6, atol=1e-7)
    return len(wrapped)


@check("learns")
def _learns() -> float:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(10)])
    sched = KerasSchedule(L.warmup(L.cosine_decay(1e-2, 120), warmup_steps=12))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(sched), loss=loss, metrics=["acc"])
    model.fit(x[:1400], y[:1400], batch_size=50, epochs=5, verbose=0)
    accuracy = float(model.evaluate(x[1400:], y[1400:], verbose=0)[1])
    assert accuracy > 0.85, accuracy
    return accuracy


@check("lr_used_equals_schedule")
def _lr_used() -> list[float]:
    rec = fit(linear(KerasSchedule(BASE)), 3, [])
    return close(lrs_used(rec), [BASE(k) for k in range(12)])


@check("save_load_continue")
def _save_load(tmp: Path = Path(sys.argv[1])) -> list[float]:
    whole = lrs_used(fit(linear(KerasSchedule(BASE)), 3, []))
    model = linear(KerasSchedule(BASE))
    fit(model, 2, [])
    model.save(tmp / "sched.keras")
    loaded = keras.models.load_model(tmp / "sched.keras")  # no custom_objects
    assert isinstance(loaded.optimizer._learning_rate, KerasSchedule)
    assert loaded.optimizer._learning_rate.schedule == BASE
    resumed = lrs_used(fit(loaded, 1, []), first_step=8)
    return close(resumed, whole[8:])


@check("greedy_epoch_sets_the_lr")
def _greedy_epoch() -> list[float]:
    model = linear(0.02)
    callback = GreedyLRCallback(monitor="val_loss", patience=0, factor=0.5, max_lr=0.08)
    history = model.fit(
        X, Y, batch_size=BATCH, epochs=5, shuffle=False, verbose=0, callbacks=[callback], validation_data=(X, Y)
    )
    closure = L.greedy(init_lr=0.02, patience=0, factor=0.5, max_lr=0.08)
    expected = [closure(v) for v in history.history["val_loss"]]
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == np.float32(expected[-1])
    return close(history.history["learning_rate"], expected, rtol=1e-6)


def _steered(model: keras.Model, epochs: int, callback: GreedyLRCallback, first_step: int = 0) -> tuple[Any, Weights]:
    rec = fit(model, epochs, [callback])
    return lrs_used(rec, first_step), rec


GREEDY = {"patience": 0, "factor": 0.5, "max_lr": 4.0}


@check("greedy_on_a_schedule_per_batch")
def _greedy_on_schedule() -> list[float]:
    model = linear(KerasSchedule(BASE))
    used, rec = _steered(model, 3, GreedyLRCallback(frequency="batch", start_step=4, **GREEDY))
    reference = L.greedy_on(BASE, start_step=4, **GREEDY)
    expected = [reference.lr] + [reference(v) for v in rec.losses[:-1]]
    np.testing.assert_allclose(used[:4], [BASE(k) for k in range(4)], rtol=2e-4, atol=1e-6)  # warmup kept
    assert np.max(np.abs(np.asarray(expected) / [BASE(k) for k in range(12)] - 1)[4:]) > 0.1  # GreedyLR steered
    return close(used, expected)


@check("keras_reduce_lr_on_plateau_raises_on_a_schedule")
def _plateau() -> str:
    model = linear(KerasSchedule(BASE))
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, min_delta=1e9)
    try:
        model.fit(X, Y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[plateau])
    except TypeError as error:
        return str(error)[:60]
    raise AssertionError("keras.callbacks.ReduceLROnPlateau did not raise")


def _steered_and_saved(path: Path, settings: dict[str, Any]) -> tuple[GreedyLRCallback, keras.Model]:
    """Two epochs steering a KerasSchedule, saved to ``path``; loaded back (adapter imported, no custom_objects)."""
    model, callback = linear(KerasSchedule(BASE)), GreedyLRCallback(**settings)
    _steered(model, 2, callback)
    model.save(path)
    return callback, keras.models.load_model(path)


@check("greedy_checkpoint_continue")
def _greedy_checkpoint(tmp: Path = Path(sys.argv[1])) -> list[float]:
    settings = {"frequency": "batch", "start_step": 4, **GREEDY}
    whole, _ = _steered(linear(KerasSchedule(BASE)), 3, GreedyLRCallback(**settings))
    callback, loaded = _steered_and_saved(tmp / "greedy.keras", settings)
    saved = loaded.optimizer._learning_rate.controller  # the callback's state, from the .keras file
    assert saved == json.loads(json.dumps(callback.state_dict())), "state in the .keras file differs"
    restored = GreedyLRCallback()
    restored.load_state_dict(saved)
    resumed, _ = _steered(loaded, 1, restored, first_step=8)
    return close(resumed, whole[8:])


@check("greedy_checkpoint_saved_during_fit_keeps_optimizer_state")
def _checkpoint_during_fit(tmp: Path = Path(sys.argv[1])) -> list[float]:
    """A ModelCheckpoint written after epoch 2 of 3 equals a run stopped after 2 epochs, optimizer state included."""
    import warnings

    settings = {"frequency": "batch", "start_step": 4, **GREEDY}
    every = keras.callbacks.ModelCheckpoint(str(tmp / "during_{epoch}.keras"), save_freq="epoch")
    fit(linear(KerasSchedule(BASE)), 3, [GreedyLRCallback(**settings), every])
    one = GreedyLRCallback(**settings)
    stopped = linear(KerasSchedule(BASE))
    fit(stopped, 2, [one])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.models.load_model(tmp / "during_2.keras")
    skipped = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    assert not skipped, skipped
    assert int(loaded.optimizer.iterations) == 2 * N // BATCH
    g = [float(keras.ops.convert_to_numpy(m.optimizer._learning_rate.multiplier)) for m in (loaded, stopped)]
    assert loaded.optimizer._learning_rate.controller == json.loads(json.dumps(one.state_dict()))
    return close(g[0], g[1], rtol=0, atol=0)


@check("greedy_save_load_without_callback")
def _greedy_without_callback(tmp: Path = Path(sys.argv[1])) -> list[float]:
    callback, loaded = _steered_and_saved(tmp / "alone.keras", {"start_step": 4, **GREEDY})  # per epoch
    g = callback.sched.controller.controller.lr(callback.sched.state)  # the multiplier GreedyLR reached
    assert abs(g - 1.0) > 0.1, g  # GreedyLR did steer
    steered = loaded.optimizer._learning_rate
    assert isinstance(steered, SteeredSchedule) and steered.schedule == BASE, steered
    lrs = []
    for _ in range(4):  # one batch per fit: read optimizer.learning_rate before every update
        lrs.append(float(keras.ops.convert_to_numpy(loaded.optimizer.learning_rate)))
        loaded.fit(X[:BATCH], Y[:BATCH], batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    close(lrs, [BASE(k) * g for k in range(8, 12)])
    again = keras.models.load_model(tmp / "alone.keras")
    used = lrs_used(fit(again, 1, []), first_step=8)  # the LR the optimizer applied, not only reported
    return close(used, [BASE(k) * g for k in range(8, 12)])


@check("greedy_verbose_prints_on_change")
def _verbose() -> int:
    callback = GreedyLRCallback(patience=0, factor=0.5, max_lr=0.08, verbose=1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = linear(0.02).fit(X, Y, batch_size=BATCH, epochs=6, shuffle=False, verbose=0, callbacks=[callback])
    lrs = [0.02, *history.history["learning_rate"]]
    changes = [(e + 1, b) for e, (a, b) in enumerate(pairwise(lrs)) if a != b]
    lines = [line for line in out.getvalue().splitlines() if line]
    assert 0 < len(changes) < 6, lrs  # some epochs change the LR, some do not
    expected = [f"GreedyLRCallback: step {4 * e}: learning rate {lr:.6g}" for e, lr in changes]
    assert lines == expected, (lines, expected)
    return len(lines)


@check("peak_tournament_keeps_the_winner")
def _tournament() -> list[float]:
    """The adapter against the generic tournament with ``train`` written out by hand on a second model: the same
    pick and charge, the same winner's kernel bit for bit; the model is left in the winner's state (its iteration
    count: the winner's rounds), and ``fit`` with ``ControllerCallback(anneal())`` applies the winner's LR."""
    from lrsched.adapters.keras import ControllerCallback, peak_tournament

    def batches(t: int) -> tuple[np.ndarray, np.ndarray]:
        i = t % (N // BATCH)
        return X[i * BATCH : (i + 1) * BATCH], Y[i * BATCH : (i + 1) * BATCH]

    model = linear(0.002)
    won = peak_tournament(model, batches, budget=400, lr=0.002)  # rounds of 4 and 8 updates

    ref_model = linear(0.002)
    opt = ref_model.optimizer
    opt.build(ref_model.trainable_variables)

    def state() -> Any:
        return ref_model.get_weights(), [np.array(keras.ops.convert_to_numpy(v)) for v in opt.variables]

    def train(member: Any, lrs: np.ndarray, start: int) -> Any:
        ref_model.set_weights(member[0])
        for variable, value in zip(opt.variables, member[1]):
            variable.assign(value)
        losses = []
        for j, rate in enumerate(lrs):
            opt.learning_rate = float(rate)
            losses.append(float(ref_model.train_on_batch(*batches(start + j))))
        return state(), np.asarray(losses)

    ref = L.peak_tournament(train, state(), lr=0.002, budget=400)
    assert (won.lr, won.used, won.next_batch) == (ref.lr, ref.used, ref.next_batch), (won, ref)
    assert won.lr == 0.002 * 9 and won.used == 5 * 4 + 2 * 8, won
    np.testing.assert_array_equal(model.layers[-1].kernel.numpy(), ref.winner[0][0])
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == won.next_batch == 12
    used = lrs_used(fit(model, 1, [ControllerCallback(won.anneal(), frequency="batch")]))
    try:  # a path it cannot drive is refused, naming what is missing
        peak_tournament(linear(KerasSchedule(BASE)), batches, budget=400)
        raise AssertionError("a schedule LR was accepted")
    except TypeError as error:
        assert "learning rate must be a float" in str(error) and "KerasSchedule" in str(error), error
    uncompiled = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    try:
        peak_tournament(uncompiled, batches, budget=400)
        raise AssertionError("a model without an optimizer was accepted")
    except ValueError as error:
        assert "call model.compile" in str(error), error
    return close(used, [won.lr] * 4)


if __name__ == "__main__":
    print(json.dumps({"backend": BACKEND, "results": RESULTS}))
