"""Evaluate the Keras rows of docs/migration_table.py; prints one JSON line ``{row id: {peer, lrsched}}``.

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


def main() -> None:
    result = {row.id: {"peer": run(row.peer, row), "lrsched": run(row.lrsched, row)} for row in table.rows("keras")}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
