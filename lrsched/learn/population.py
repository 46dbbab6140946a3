"""The inner runs of one batch, split over every device: a ``jax.sharding`` mesh along the population axis.

A :class:`Population` holds a one-axis :class:`~jax.sharding.Mesh` over ``devices`` (default: ``jax.devices()``,
every device of every process once ``jax.distributed.initialize`` has run). :meth:`Population.compile` turns an
unbatched ``score(theta, key, lr_mult, horizon, use_adam)`` into a runner: the batch's leading axis is sharded
over the mesh, each device runs its rows with ``jax.vmap`` (``jax.shard_map``: no communication between runs),
and the scores come back replicated, so every process reads the whole batch and computes the same ES update.

Every process passes the same full batch (the draws are computed from the seed on every process, identically);
each device takes its rows (``jax.make_array_from_callback``). Batches are padded to :attr:`Population.size`, a
multiple of the device count, by repeating runs from the start; the repeated runs' scores are dropped.

Arguments are cast on the host to fixed dtypes (:data:`DTYPES`) before they reach the jitted runner, so each
runner sees a single signature: one trace and one compilation per family for the whole run. (A weakly typed
``jnp.full(n, c)`` in calibration once gave every family a second compilation.)

Determinism: for a fixed seed and device count, a run is reproducible. Across device counts the scores are
bit-identical where a run's arithmetic does not depend on the per-device batch shape (elementwise problems
such as the noisy quadratic of ``toy_tasks``); with matrix products (the MLP, softmax and NMF families) XLA
picks kernels by shape, so per-run scores differ in the last bits and the ES trajectories drift apart.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["AXIS", "DTYPES", "Population"]

AXIS = "population"
#: dtypes of ``(theta, key, lr_mult, horizon, use_adam)``: weights, raw ``jax.random`` keys, multipliers, horizons,
#: Adam flags. NumPy arrays carry no weak type, so a runner is traced once.
DTYPES = (np.float32, np.uint32, np.float32, np.float32, np.bool_)


class Population:
    """Batches of ``runs`` inner runs (padded to a multiple of the device count), split over ``devices``."""

    def __init__(self, runs: int, devices: Sequence[Any] | None = None, name: str = "train") -> None:
        devs = tuple(jax.devices() if devices is None else devices)
        if not devs or not all(isinstance(d, jax.Device) for d in devs):
            raise ValueError(f"{name}: devices must be a non-empty sequence of jax devices, got {devices!r}")
        self.devices = devs
        self.runs = runs
        self.size = -(-runs // len(devs)) * len(devs)
        self.mesh = Mesh(np.asarray(devs), (AXIS,))
        self._rows = NamedSharding(self.mesh, PartitionSpec(AXIS))
        self._replicated = NamedSharding(self.mesh, PartitionSpec())

    @property
    def processes(self) -> int:
        """How many processes own the devices (1 unless ``jax.distributed.initialize`` ran)."""
        return len({d.process_index for d in self.devices})

    def padding_warning(self, pairs: int, name: str = "train") -> None:
        """Warn when batches do not divide evenly over the devices (the padded runs are wasted work)."""
        if self.size != self.runs:
            warnings.warn(
                f"{name}: a batch of {self.runs} runs (2 x pairs = {2 * pairs}) does not divide over "
                f"{len(self.devices)} devices; each batch is padded to {self.size} runs whose extra "
                f"{self.size - self.runs} are repeats, computed and dropped. Choose pairs (--pairs) so that "
                f"2 x pairs is a multiple of the device count {len(self.devices)}.",
                stacklevel=3,
            )

    def compile(self, score: Callable[..., Any]) -> Callable[..., Callable[[], np.ndarray]]:
        """``start(thetas, keys, mults, horizons, use_adam)`` launches a batch (at most ``runs`` rows) on the devices
        and returns ``result()``, which waits for it and returns the scores, one per row, as a NumPy array.

        Launch every batch of an iteration before waiting for any: the devices then queue them back to back.
        """
        rows = PartitionSpec(AXIS)
        # The runs share nothing, so the per-device program is the vmapped score alone; check_vma=False spares a
        # task's loss from marking its arrays as varying over the mesh (the type check shard_map does by default).
        sharded = jax.shard_map(jax.vmap(score), mesh=self.mesh, in_specs=(rows,) * 5, out_specs=rows, check_vma=False)
        runner = jax.jit(sharded, out_shardings=self._replicated)

        def start(*args: Any) -> Callable[[], np.ndarray]:
            n = len(args[0])
            out = runner(*self._place(args))
            return lambda: np.asarray(out)[:n]

        return start

    def _place(self, args: Sequence[Any]) -> list[Any]:
        n = len(args[0])
        if not 0 < n <= self.size:
            raise ValueError(f"Population: a batch must hold 1 to {self.size} runs, got {n}")
        rows = np.arange(self.size) % n  # pad by repeating runs from the start
        out = []
        for a, dtype in zip(args, DTYPES):
            full: np.ndarray = np.asarray(a, dtype)[rows]
            out.append(jax.make_array_from_callback(full.shape, self._rows, full.__getitem__))
        return out
