"""The migration guide is true: every row of docs/migration_table.py runs against the live peer.

Both expressions of a row are evaluated here and driven the same way (see the drivers in the table's docstring);
the row's relation (same sequence, same up to a step, one step later, ...) is then checked on the two sequences.
Keras runs in one subprocess with ``KERAS_BACKEND=numpy`` (tests/migration_keras_check.py), as in
tests/test_parity_keras.py, so this process picks no Keras backend and loads no TensorFlow.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lrsched

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("migration_table", ROOT / "docs" / "migration_table.py")
assert _spec is not None and _spec.loader is not None
table = importlib.util.module_from_spec(_spec)
sys.modules["migration_table"] = table  # dataclasses look the module up by name
_spec.loader.exec_module(table)

RTOL = {"torch": 1e-9, "transformers": 1e-9, "optax": 1e-6, "keras": 1e-6}  # float32 peers: 1e-6 of the scale


def _rows(framework: str) -> list[Any]:
    return [pytest.param(row, id=row.id) for row in table.rows(framework)]


# --- torch and transformers -----------------------------------------------------------------------------------


def _torch_lrs(expr: str, row: Any) -> np.ndarray:
    torch = pytest.importorskip("torch")
    from torch.optim import lr_scheduler

    from lrsched.adapters.torch import GreedyLRScheduler, schedule_lr

    ns: dict[str, Any] = {n: getattr(lr_scheduler, n) for n in dir(lr_scheduler) if not n.startswith("_")}
    if row.framework == "transformers":
        transformers_optimization = pytest.importorskip("transformers.optimization")
        ns.update(get_scheduler=transformers_optimization.get_scheduler, GreedyLR=transformers_optimization.GreedyLR)
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=table.LR, momentum=0.9)
    ns.update(opt=opt, lrsched=lrsched, GreedyLRScheduler=GreedyLRScheduler)
    sched = eval(expr, ns)
    if isinstance(sched, lrsched.Schedule):
        sched = schedule_lr(opt, sched)
    lrs = []
    if row.driver == "schedule":
        for _ in range(row.steps):
            lrs.append(opt.param_groups[0]["lr"])  # the LR of this update
            opt.step()
            sched.step()
    else:
        assert row.driver == "plateau", row.driver
        for loss in table.LOSSES[: row.steps]:
            sched.step(loss)
            lrs.append(opt.param_groups[0]["lr"])  # the LR after this value was reported
    return np.asarray(lrs, dtype=np.float64)


@pytest.mark.parametrize("row", _rows("torch") + _rows("transformers"))
def test_torch_and_transformers_rows(row: Any) -> None:
    peer, ours = _torch_lrs(row.peer, row), _torch_lrs(row.lrsched, row)
    row.relation.check(peer, ours, RTOL[row.framework])


# --- optax ------------------------------------------------------------------------------------------------------


def _optax_lrs(expr: str, row: Any) -> np.ndarray:
    jnp = pytest.importorskip("jax.numpy")
    optax = pytest.importorskip("optax")
    pytest.importorskip("optax.contrib")  # makes optax.contrib.reduce_on_plateau reachable

    from lrsched.adapters.optax import greedy_lr_of, scale_by_greedy_lr

    obj = eval(expr, {"optax": optax, "lrsched": lrsched, "scale_by_greedy_lr": scale_by_greedy_lr})
    if row.driver == "schedule":
        jax = pytest.importorskip("jax")
        return np.asarray(jax.vmap(obj)(jnp.arange(row.steps)), dtype=np.float64)  # Optax's count is int32
    params = jnp.zeros(2)
    grads = jnp.ones(2)
    state = obj.init(params)
    update = pytest.importorskip("jax").jit(obj.update)  # one compilation instead of one trace per step
    out = []
    if row.driver == "inject":
        for _ in range(row.steps):
            _, state = update(grads, state, params)
            out.append(state.hyperparams["learning_rate"])
    else:
        assert row.driver == "plateau", row.driver
        for loss in table.LOSSES[: row.steps]:
            _, state = update(grads, state, params, value=jnp.asarray(loss))
            out.append(state.scale if hasattr(state, "scale") else greedy_lr_of(state))
    return np.asarray(out, dtype=np.float64)


@pytest.mark.parametrize("row", _rows("optax"))
def test_optax_rows(row: Any) -> None:
    peer, ours = _optax_lrs(row.peer, row), _optax_lrs(row.lrsched, row)
    row.relation.check(peer, ours, RTOL["optax"])


# --- keras ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_lrs() -> dict[str, dict[str, list[float]]]:
    if importlib.util.find_spec("keras") is None:  # not imported here: that would pick a backend
        pytest.skip("keras is not installed")
    env = dict(os.environ, KERAS_BACKEND="numpy", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "migration_keras_check.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("row", _rows("keras"))
def test_keras_rows(row: Any, keras_lrs: dict[str, dict[str, list[float]]]) -> None:
    got = keras_lrs[row.id]
    row.relation.check(np.asarray(got["peer"]), np.asarray(got["lrsched"]), RTOL["keras"])


# --- the guide itself -------------------------------------------------------------------------------------------


def test_every_framework_and_peer_named_in_the_issue_has_a_row() -> None:
    peers = " ".join(row.peer for row in table.ROWS)
    for name in [
        "StepLR",
        "MultiStepLR",
        "ExponentialLR",
        "CosineAnnealingLR",
        "CosineAnnealingWarmRestarts",
        "OneCycleLR",
        "CyclicLR",
        "LinearLR",
        "PolynomialLR",
        "SequentialLR",
        "ReduceLROnPlateau",
        "join_schedules",
        "inject_hyperparams",
        "contrib.reduce_on_plateau",
        "PiecewiseConstantDecay",
        "get_scheduler",
        "GreedyLR(",
    ]:
        assert name in peers, name


def test_every_optax_schedule_factory_has_a_row() -> None:
    optax = pytest.importorskip("optax")
    factories = {n for n in dir(optax) if n.endswith("_schedule") and n != "scale_by_schedule"} | {"exponential_decay"}
    peers = " ".join(row.peer for row in table.rows("optax"))
    assert {n for n in factories if f"optax.{n}(" not in peers} == set()


def test_every_transformers_scheduler_name_has_a_row_or_is_listed_as_missing() -> None:
    optimization = pytest.importorskip("transformers.optimization")
    peers = " ".join(row.peer for row in table.rows("transformers"))
    names = {str(getattr(t, "value", t)) for t in optimization.TYPE_TO_SCHEDULER_FUNCTION}
    missing = {n for n in names if f"get_scheduler('{n}'" not in peers}
    assert missing <= set(table.NOT_COVERED["transformers"]), missing


def test_the_tables_render_every_row_once() -> None:
    for framework in table.FRAMEWORKS:
        text = table.render(framework)
        body = [line for line in text.splitlines() if line.startswith("| `")]
        assert len(body) == len(table.rows(framework)) > 0
        for row in table.rows(framework):
            assert f"`{row.lrsched.replace('|', chr(92) + '|')}`" in text
