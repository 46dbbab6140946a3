"""Keras benchmark: the per-batch cost of GreedyLRCallback next to Keras' own ReduceLROnPlateau, per backend.

Run: ``python benchmarks/bench_keras_callback.py [--quick] [--backends jax,tensorflow,torch] [--out FILE]``

One ``model.fit`` epoch (MLP 64-128-10, Adam, 256 batches of 32), each backend in its own process, with:
no callback; ``keras.callbacks.ReduceLROnPlateau`` (acts per epoch); ``GreedyLRCallback`` per epoch and per batch
(float LR); and ``GreedyLRCallback`` per batch steering a ``KerasSchedule`` (the LR changes every batch).
Per-batch times are medians of interleaved rounds; the ratio is to ReduceLROnPlateau (target <= 1.1).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from _common import command_line, publish  # benchmarks/ is on sys.path

BATCHES, BATCH = 256, 32


def child(quick: bool) -> dict[str, float]:
    import keras
    import numpy as np

    import lrsched
    from lrsched.adapters.keras import GreedyLRCallback, KerasSchedule

    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCHES * BATCH, 64)).astype("float32")
    y = rng.integers(0, 10, size=BATCHES * BATCH)
    base = lrsched.warmup(lrsched.cosine_decay(1e-3, 10_000), warmup_steps=100)

    def model(lr: Any) -> Any:
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)])
        m.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    variants = {
        "no callback": (lambda: model(1e-3), lambda: []),
        "ReduceLROnPlateau": (lambda: model(1e-3), lambda: [keras.callbacks.ReduceLROnPlateau("loss", patience=10)]),
        "GreedyLRCallback, epoch": (lambda: model(1e-3), lambda: [GreedyLRCallback(patience=10)]),
        "GreedyLRCallback, batch": (lambda: model(1e-3), lambda: [GreedyLRCallback(patience=10, frequency="batch")]),
        "GreedyLRCallback, batch, on a KerasSchedule": (
            lambda: model(KerasSchedule(base)),
            lambda: [GreedyLRCallback(patience=10, frequency="batch")],
        ),
    }
    built = {k: (make(), cbs) for k, (make, cbs) in variants.items()}
    for m, cbs in built.values():  # compile once
        m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=cbs())
    times: dict[str, list[float]] = {k: [] for k in built}
    for _ in range(2 if quick else 5):
        for name, (m, cbs) in built.items():
            callbacks = cbs()
            start = time.perf_counter()
            m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=callbacks)
            times[name].append((time.perf_counter() - start) / BATCHES)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backends", default="jax,tensorflow,torch")
    parser.add_argument("--out")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.quick)))
        return 0
    lines = [
        "# Keras callback benchmark",
        "",
        f"Command: `{command_line('bench_keras_callback.py', args.quick, args.out)}`",
        "",
        f"One `model.fit` epoch of {BATCHES} batches (MLP 64-128-10, Adam); ms per batch; load average "
        f"{os.getloadavg()[0]:.1f} at the start.",
        "",
        "| backend | variant | ms / batch | / ReduceLROnPlateau |",
        "|---|---|---:|---:|",
    ]
    for backend in args.backends.split(","):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_PLATFORMS": "cpu"}
        cmd = [sys.executable, __file__, "--child", *(["--quick"] if args.quick else [])]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        ref = result["ReduceLROnPlateau"]
        for name, t in result.items():
            lines.append(f"| {backend} | {name} | {t * 1e3:.3f} | {t / ref:.2f} |")
    report = "\n".join(lines) + "\n"
    publish(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
