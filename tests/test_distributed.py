"""GreedyLR under data parallelism: every worker must apply the same LR although local losses differ.

* torch: 2 CPU processes with the gloo backend (``torch.multiprocessing.spawn``).
* JAX: the Optax transform under ``pmap`` and ``shard_map`` over 8 host devices, in its own process
  (``XLA_FLAGS=--xla_force_host_platform_device_count=8``); run as a script
  (``python tests/test_distributed.py jax``) it is that process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SETTINGS = {"patience": 1, "factor": 0.5, "max_lr": 0.8}


def _local_losses(rank: int, n: int = 40) -> list[float]:
    """Per-worker losses: a shared trend plus worker-specific noise, so decisions differ per worker."""
    rng = np.random.default_rng(100 + rank)
    t = np.arange(n)
    return list(np.exp(-t / 10.0) + 0.5 * rng.random(n))


# -- torch.distributed (gloo) ------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _torch_worker(rank: int, world: int, port: int, out: str, reduce: str | None) -> None:
    import torch
    import torch.distributed as dist

    from lrsched.adapters.torch import GreedyLRScheduler

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        scheduler = GreedyLRScheduler(opt, reduce=reduce, **SETTINGS)
        lrs = []
        for loss in _local_losses(rank):
            opt.step()
            scheduler.step(loss)
            lrs.append(scheduler.get_last_lr()[0])
        Path(out, f"rank{rank}.json").write_text(json.dumps(lrs))
    finally:
        dist.destroy_process_group()


def _run_torch(tmp_path: Path, reduce: str | None) -> list[list[float]]:
    mp = pytest.importorskip("torch.multiprocessing")
    mp.spawn(_torch_worker, args=(2, _free_port(), str(tmp_path), reduce), nprocs=2, join=True)
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]


def test_torch_gloo_ranks_apply_the_same_lr(tmp_path):
    pytest.importorskip("torch.distributed")
    import lrsched as L

    lrs = _run_torch(tmp_path, reduce="mean")
    assert lrs[0] == lrs[1]
    closure = L.greedy(init_lr=0.1, **SETTINGS)
    mean = np.mean([_local_losses(0), _local_losses(1)], axis=0)
    assert lrs[0] == pytest.approx([closure(float(v)) for v in mean], rel=1e-12)
    assert len(set(lrs[0])) > 2


def test_torch_gloo_opt_out_keeps_local_decisions(tmp_path):
    pytest.importorskip("torch.distributed")
    lrs = _run_torch(tmp_path, reduce=None)
    assert lrs[0] != lrs[1]  # without the reduction, workers drift apart: why the mean is the default


# -- JAX: pmap and shard_map over 8 host devices -----------------------------------------------------------------------
def _jax_job() -> dict[str, list[list[float]]]:
    import jax
    import jax.numpy as jnp
    import optax

    import lrsched as L
    from lrsched.adapters.optax import scale_by_greedy_lr

    devices = jax.local_device_count()
    assert devices == 8, devices
    losses = jnp.asarray(np.array([_local_losses(r) for r in range(devices)], dtype=np.float32).T)  # (steps, devices)
    out = {}
    for name, axis in (("mean", "devices"), ("local", None)):
        tx = optax.chain(optax.scale_by_adam(), scale_by_greedy_lr(L.GreedyLR(init_lr=0.1, **SETTINGS), axis_name=axis))
        params = jnp.zeros((devices, 3))
        state = jax.pmap(tx.init)(params)

        def step(state, params, loss, tx=tx):
            _, state = tx.update(jnp.ones(3), state, params, value=loss)
            return state, state[1].lr

        run = jax.pmap(step, axis_name="devices")
        trace = []
        for loss in losses:
            state, lr = run(state, params, loss)
            trace.append([float(v) for v in lr])
        out[name] = trace
    out["shard_map"] = _shard_map_trace(losses)
    return out


def _shard_map_trace(losses: Any) -> list[list[float]]:
    """The same controller inside ``jax.shard_map`` with a replicated optimizer state (``out_specs=P()``)."""
    import jax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    import lrsched as L
    from lrsched.adapters.optax import scale_by_greedy_lr

    mesh = jax.make_mesh((8,), ("devices",))
    tx = scale_by_greedy_lr(L.GreedyLR(init_lr=0.1, **SETTINGS), axis_name="devices")

    def step(state: Any, loss: Any) -> Any:
        return tx.update(jax.numpy.ones(3), state, None, value=loss[0])[1]

    # out_specs=P() only type-checks because the averaged value makes the new state device-invariant.
    run = jax.jit(jax.shard_map(step, mesh=mesh, in_specs=(P(), P("devices")), out_specs=P()))
    state, trace = tx.init(None), []
    for loss in losses:
        state = run(state, jax.device_put(loss, NamedSharding(mesh, P("devices"))))
        trace.append([float(shard.data) for shard in state.lr.addressable_shards])
    return trace


def test_jax_pmap_devices_apply_the_same_lr():
    pytest.importorskip("optax")
    import lrsched as L

    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, __file__, "jax"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    traces = json.loads(out.stdout.strip().splitlines()[-1])
    mean_trace, local_trace = np.asarray(traces["mean"]), np.asarray(traces["local"])
    assert (mean_trace == mean_trace[:, :1]).all()  # identical on all 8 devices
    shard_trace = np.asarray(traces["shard_map"])
    assert shard_trace.shape == mean_trace.shape and (shard_trace == mean_trace).all()
    closure = L.greedy(init_lr=0.1, **SETTINGS)
    mean = np.mean([_local_losses(r) for r in range(8)], axis=0, dtype=np.float32)
    np.testing.assert_allclose(mean_trace[:, 0], [closure(float(v)) for v in mean], rtol=1e-6)
    assert not (local_trace == local_trace[:, :1]).all()  # local losses alone disagree


if __name__ == "__main__" and sys.argv[1:] == ["jax"]:
    print(json.dumps(_jax_job()))
