"""Evaluate the Keras rows of docs/migration_table.py; prints one JSON line ``{row id: {peer, lrsched}}``.

With ``--train`` (run under a backend that trains, ``KERAS_BACKEND=jax``) each row instead trains the same model
both ways with ``fit`` and reports the kernel after every update (schedules: one sample per update; plateau rows:
the callback on the epoch's loss, one update per epoch).

Run by tests/test_migration_guide.py with ``KERAS_BACKEND=numpy`` (no TensorFlow, nothing global changed in the
test process). Schedules are called at steps ``0..steps-1``; the plateau rows run each callback on a compiled
model, reporting ``LOSSES`` through ``on_epoch_end`` and reading the optimizer's LR after each.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "numpy")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

import lrsched
from lrsched.adapters.keras import GreedyLRCallback, KerasSchedule

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("migration_table", ROOT / "docs" / "migration_table.py")
assert spec is not None and spec.loader is not None
table = importlib.util.module_from_spec(spec)
sys.modules["migration_table"] = table
spec.loader.exec_module(table)

NS = {"keras": keras, "lrsched": lrsched, "GreedyLRCallback": GreedyLRCallback, "KerasSchedule": KerasSchedule}


def run(expr: str, row: Any) -> list[float]:
    obj = eval(expr, NS)
    if row.driver == "schedule":
        if isinstance(obj, lrsched.Schedule):
            return [obj(k) for k in range(row.steps)]
        return [float(np.asarray(obj(k))) for k in range(row.steps)]
    assert row.driver == "plateau", row.driver
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=table.LR), loss="mse")
    obj.set_model(model)
    obj.on_train_begin()
    out = []
    for epoch, loss in enumerate(table.LOSSES[: row.steps]):
        obj.on_epoch_begin(epoch)
        obj.on_epoch_end(epoch, {"loss": loss})
        out.append(float(np.asarray(model.optimizer.learning_rate)))
    return out


def train(expr: str, row: Any) -> list[list[float]]:
    """The kernel after each update of SGD on a linear regression, driven by the row's expression."""
    keras.utils.set_random_seed(0)
    obj = eval(expr, NS)
    rng = np.random.default_rng(0)
    n = row.steps if row.driver == "schedule" else 8
    x = rng.normal(size=(n, 2)).astype("float32")
    y = (x @ np.asarray([[2.0], [-1.0]], "float32") + 0.5).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="zeros")])
    kernels: list[list[float]] = []

    class Record(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            kernel = self.model.get_weights()[0]  # through self.model: on JAX that syncs the trained state first
            kernels.append([float(v) for v in np.ravel(kernel)])

    if row.driver == "schedule":
        lr = KerasSchedule(obj) if isinstance(obj, lrsched.Schedule) else obj
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
        model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0, callbacks=[Record()])
    else:
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=table.LR), loss="mse")
        model.fit(x, y, batch_size=n, epochs=row.steps, shuffle=False, verbose=0, callbacks=[obj, Record()])
    return kernels


def main() -> None:
    step = train if "--train" in sys.argv else run
    result = {row.id: {"peer": step(row.peer, row), "lrsched": step(row.lrsched, row)} for row in table.rows("keras")}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
