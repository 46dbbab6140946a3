"""Meta-training cost: first-call compilation with a cold vs a warm persistent cache, and inner updates per second
on 1 device vs N devices.

Run: ``python benchmarks/learn_scaling.py [--quick] [--rounds 2] [--iterations 6] [--devices 8] [--out FILE.md]``

Each measurement is one fresh process running the shipped policy's training flags (``--deep --calibrate --warmup
0.05 --anneal 0.5 --auc 0``) for a few iterations: ``python -m lrsched.learn train ...``. Per round, in this order
(interleaved, so that a change of machine load hits every variant): 1 device with an empty cache directory (cold),
1 device again with that directory (warm), then the same on ``--devices`` devices (``train --devices N``: the
first N of ``jax.devices()``; on a CPU ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` makes N devices that
share the machine's cores, on a GPU machine N GPUs). Reported per
variant, medians over the rounds:

* **backend compile**: the seconds JAX spent in XLA compilation or loading from the persistent cache (the sum of its
  ``/jax/core/compile/backend_compile_duration`` events), and how many programs;
* **trace + lower**: tracing to jaxprs and lowering to StableHLO (the cache does not save these);
* **setup**: ``train``'s time before its first iteration (compilation, calibration, the first validations);
* **inner updates/s**: steady state (from the second iteration on; compilation excluded), as ``train`` reports it,
  **cores busy** then (the process's CPU seconds per second: how much of the machine it got; on a shared machine
  more threads win a larger share) and their ratio, **inner updates per CPU-second** (less sensitive to the load).

With ``--out FILE.md`` the raw records (one per process) go to ``FILE.json``; the report is computed from them.

``--quick`` runs the one-family toy distribution instead (a smoke test of this script). Speed is never asserted in
tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from _common import header, publish  # benchmarks/ is on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = ["--deep", "--calibrate", "--warmup", "0.05", "--anneal", "0.5", "--auc", "0"]

# Runs in a fresh process: the command line, with listeners on JAX's compilation events.
DRIVER = """
import json, sys
import jax
from lrsched.learn.__main__ import main

sums = {"compile": 0.0, "programs": 0, "trace": 0.0}
def on_duration(event, duration, **_):
    if event == "/jax/core/compile/backend_compile_duration":
        sums["compile"] += duration
        sums["programs"] += 1
    elif event in ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration"):
        sums["trace"] += duration
jax.monitoring.register_event_duration_secs_listener(on_duration)
main(sys.argv[1:])
out = sys.argv[sys.argv.index("--out") + 1]
print(json.dumps(sums | json.load(open(out))["meta"]["stats"]))
"""


def measure(args: list[str], devices: int, cache: str, out: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"  # CPU devices; no effect on GPUs
    cmd = [sys.executable, "-c", DRIVER, "train", *args, "--quiet", "--devices", str(devices)]
    cmd += ["--compile-cache", cache, "--out", out]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the toy distribution (a smoke test)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=6)
    ap.add_argument("--devices", type=int, default=8)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    args = ["--toy", "--steps", "32"] if a.quick else SHIPPED
    args = [*args, "--iterations", str(a.iterations), "--seed", "0"]
    variants = [(1, "cold"), (1, "warm"), (a.devices, "cold"), (a.devices, "warm")]
    results: dict[tuple[int, str], list[dict[str, float]]] = {v: [] for v in variants}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for devices, kind in variants:
                cache = os.path.join(tmp, f"cache-{r}-{devices}")  # cold: a new directory; warm: the same again
                res = measure(args, devices, cache, os.path.join(tmp, "policy.json"))
                results[(devices, kind)].append(res)
                print(devices, kind, json.dumps(res), file=sys.stderr)
            loads.append(os.getloadavg()[0])
    lines = header("Meta-training: compilation cache and devices", "learn_scaling.py", a.quick, a.out, *_modules())
    lines += [
        f"`python -m lrsched.learn train {' '.join(args)}` in a fresh process per measurement; "
        f"{a.rounds} interleaved rounds, medians. Load average (1 min) per round: "
        + ", ".join(f"{x:.1f}" for x in loads)
        + ".",
        "",
        "| devices | cache | backend compile (s) | programs | trace + lower (s) | setup (s) | inner updates/s "
        "| cores busy | inner updates per CPU-second |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (devices, kind), runs in results.items():
        for r in runs:
            r["per_cpu_second"] = r["inner_updates_per_second"] / r["cores_busy"]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], (int, float))}
        lines.append(
            f"| {devices} | {kind} | {med['compile']:.1f} | {med['programs']:.0f} | {med['trace']:.1f} "
            f"| {med['setup_seconds']:.1f} | {med['inner_updates_per_second']:,.0f} | {med['cores_busy']:.2f} "
            f"| {med['per_cpu_second']:,.0f} |"
        )
    publish("\n".join(lines), a.out)
    if a.out:
        raw = [{"devices": d, "cache": k, **r} for (d, k), runs in results.items() for r in runs]
        with open(os.path.splitext(a.out)[0] + ".json", "w", encoding="utf-8") as fh:
            json.dump({"args": args, "loads": loads, "runs": raw}, fh, indent=1)
            fh.write("\n")


def _modules() -> list[object]:
    import jax

    return [jax]


if __name__ == "__main__":
    main()
