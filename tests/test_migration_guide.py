"""The migration guide is true: every row of docs/migration_table.py runs against the live peer.

Both expressions of a row are evaluated here and driven the same way (see the drivers in the table's docstring);
the row's relation (same sequence, same up to a step, one step later, ...) is then checked on the two sequences.
Each row runs its whole run: a schedule past the step where it settles (a test checks every row's length against
where its lrsched schedule stops changing), a plateau row through a long plateau that reduces to the floor.
Rows that drive an optimizer (torch, transformers, Optax's ``inject_hyperparams`` and plateau transformations) also
train: SGD on a quadratic, both ways, and the parameters must agree after every update whose LR the row says is the
same (allowing the one-update lag a row declares). Keras runs in subprocesses (tests/migration_keras_check.py), so
this process picks no Keras backend and loads no TensorFlow: the LR sequences with ``KERAS_BACKEND=numpy`` (as in
tests/test_parity_keras.py), and the training with ``KERAS_BACKEND=jax`` (numpy cannot train).
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


_TARGET = (1.0, -2.0)  # the quadratic's minimum: the gradient at p is p - _TARGET


def _torch_lrs(expr: str, row: Any) -> tuple[np.ndarray, np.ndarray]:
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
    target = torch.tensor(_TARGET)
    lrs, params = [], []

    def train() -> None:
        param.grad = param.detach() - target
        opt.step()
        params.append(param.detach().clone().numpy())

    if row.driver == "schedule":
        for _ in range(row.steps):
            lrs.append(opt.param_groups[0]["lr"])  # the LR of this update
            train()
            sched.step()
    else:
        assert row.driver == "plateau", row.driver
        for loss in table.LOSSES[: row.steps]:
            train()
            sched.step(loss)
            lrs.append(opt.param_groups[0]["lr"])  # the LR after this value was reported
    return np.asarray(lrs, dtype=np.float64), np.asarray(params, dtype=np.float64)


def _check(row: Any, peer: np.ndarray, ours: np.ndarray, rtol: float) -> None:
    """The row's relation; a plateau row's LRs also value by value (a relation is measured against the sequence's
    scale, which cannot see two LRs part at 1e-8 after many reductions)."""
    row.relation.check(peer, ours, rtol)
    if row.driver == "plateau" and type(row.relation) is table.Relation:
        np.testing.assert_allclose(ours, peer, rtol=rtol, atol=0, err_msg=f"{row.id}: the LRs part")


def _same_training(row: Any, peer: np.ndarray, ours: np.ndarray, rtol: float) -> None:
    """The parameters after each update agree wherever the row says the updates used the same LR."""
    assert peer.shape == ours.shape and len(peer) == row.steps
    if row.training_differs:  # the row says the parameters part although the LRs agree: check that they do
        assert not np.allclose(ours, peer, rtol=rtol), f"{row.id}: trains the same; drop training_differs"
        return
    lag = row.update_lag
    n = row.relation.agreeing(row.steps)
    if lag:  # lrsched's update k + 1 is the peer's update k: compare the steps taken (constant directions)
        peer, ours = np.diff(peer, axis=0)[:-1], np.diff(ours, axis=0)[1:]
        n -= lag + 1
    assert n >= 1
    np.testing.assert_allclose(ours[:n], peer[:n], rtol=rtol, atol=rtol * float(np.max(np.abs(peer[:n]))))


@pytest.mark.parametrize("row", _rows("torch") + _rows("transformers"))
def test_torch_and_transformers_rows(row: Any) -> None:
    (peer, peer_params), (ours, our_params) = _torch_lrs(row.peer, row), _torch_lrs(row.lrsched, row)
    _check(row, peer, ours, RTOL[row.framework])
    _same_training(row, peer_params, our_params, RTOL[row.framework])


# --- optax ------------------------------------------------------------------------------------------------------


def _optax_lrs(expr: str, row: Any) -> tuple[np.ndarray, np.ndarray | None]:
    jnp = pytest.importorskip("jax.numpy")
    optax = pytest.importorskip("optax")
    pytest.importorskip("optax.contrib")  # makes optax.contrib.reduce_on_plateau reachable

    from lrsched.adapters.optax import greedy_lr_of, scale_by_greedy_lr

    obj = eval(expr, {"optax": optax, "lrsched": lrsched, "scale_by_greedy_lr": scale_by_greedy_lr})
    if row.driver == "schedule":
        jax = pytest.importorskip("jax")
        return np.asarray(jax.vmap(obj)(jnp.arange(row.steps)), dtype=np.float64), None  # Optax's count is int32
    params = jnp.zeros(2)
    target = jnp.asarray(_TARGET)
    state = obj.init(params)
    update = pytest.importorskip("jax").jit(obj.update)  # one compilation instead of one trace per step
    out, trajectory = [], []
    if row.driver == "inject":
        for _ in range(row.steps):
            updates, state = update(params - target, state, params)
            params = optax.apply_updates(params, updates)
            trajectory.append(params)
            out.append(state.hyperparams["learning_rate"])
    else:
        assert row.driver == "plateau", row.driver
        for loss in table.LOSSES[: row.steps]:
            # A constant step direction, scaled by the row's transformation: the updates show the scale each used.
            updates, state = update(-0.1 * target, state, params, value=jnp.asarray(loss))
            params = optax.apply_updates(params, updates)
            trajectory.append(params)
            out.append(state.scale if hasattr(state, "scale") else greedy_lr_of(state))
    return np.asarray(out, dtype=np.float64), np.asarray(trajectory, dtype=np.float64)


@pytest.mark.parametrize("row", _rows("optax"))
def test_optax_rows(row: Any) -> None:
    (peer, peer_params), (ours, our_params) = _optax_lrs(row.peer, row), _optax_lrs(row.lrsched, row)
    _check(row, peer, ours, RTOL["optax"])
    if peer_params is not None and our_params is not None:
        _same_training(row, peer_params, our_params, RTOL["optax"])


# --- keras ------------------------------------------------------------------------------------------------------


def _keras(backend: str, *args: str) -> dict[str, dict[str, list[Any]]]:
    if importlib.util.find_spec("keras") is None:  # not imported here: that would pick a backend
        pytest.skip("keras is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    out = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "migration_keras_check.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def keras_lrs() -> dict[str, dict[str, list[float]]]:
    return _keras("numpy")


@pytest.fixture(scope="module")
def keras_training() -> dict[str, dict[str, list[list[float]]]]:
    pytest.importorskip("jax")
    return _keras("jax", "--train")


@pytest.mark.parametrize("row", _rows("keras"))
def test_keras_rows(
    row: Any, keras_lrs: dict[str, dict[str, list[float]]], keras_training: dict[str, dict[str, list[list[float]]]]
) -> None:
    got = keras_lrs[row.id]
    _check(row, np.asarray(got["peer"]), np.asarray(got["lrsched"]), RTOL["keras"])
    trained = keras_training[row.id]
    peer, ours = np.asarray(trained["peer"]), np.asarray(trained["lrsched"])
    _same_training(row, peer, ours, 1e-5)  # float32 training: 1e-5 of the parameters' scale


# --- the guide itself -------------------------------------------------------------------------------------------

# Peers that refuse to run past their end: the row runs to it.
PEER_STOPS_AT_ITS_END = {
    "torch-5-OneCycleLR": "torch's OneCycleLR raises ValueError when stepped past total_steps",
    "torch-6-OneCycleLR": "torch's OneCycleLR raises ValueError when stepped past total_steps",
}


def _settles(expr: str) -> int | None:
    """The step from which the lrsched schedule stops changing (by 1e-9 of its scale), or None within 5000 steps."""
    sched = eval(expr, {"lrsched": lrsched})
    values = np.asarray(sched(np.arange(5000.0)), dtype=np.float64)
    moving = np.flatnonzero(np.abs(np.diff(values)) > 1e-9 * np.max(np.abs(values)))
    return int(moving[-1]) + 1 if moving.size and moving[-1] < len(values) - 2 else None


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in table.ROWS if r.driver == "schedule"])
def test_every_schedule_row_runs_past_its_end(row: Any) -> None:
    end = _settles(row.lrsched)
    if end is None:  # no end: restarts, an inverse-time decay or a constant; the row covers several changes
        assert row.steps >= 100
    elif row.id in PEER_STOPS_AT_ITS_END:
        assert end <= row.steps, PEER_STOPS_AT_ITS_END[row.id]
    else:
        assert row.steps >= end + 10, f"{row.id}: compares {row.steps} steps, but its schedule changes until {end}"


def test_the_plateau_rows_reach_their_floor() -> None:
    """The long plateau at the end of LOSSES reduces every plateau row to a floor or below 1e-8 (where eps shows)."""
    tail = table.LOSSES[-100:]
    assert len(set(tail)) == 1 and len(table.LOSSES) >= 250
    for row in table.ROWS:
        if row.driver == "plateau":
            assert row.steps == len(table.LOSSES), row.id


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
