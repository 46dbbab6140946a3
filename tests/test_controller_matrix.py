"""Every registered controller through every framework path, as people train (issue 20's "Done when" matrix).

The controllers come from ``lrsched.controllers.registry()`` and are built generically (:func:`make`), so one
registered later is covered with no edit here. Paths: (a) a plain torch loop over two param groups (decay /
no-decay, one LR); (b) ``optimizer.step(closure)``; (c) the transformers ``Trainer`` with an evaluation every k
updates and gradient accumulation; (d) Lightning with ``interval="step"`` and a ``monitor``; (e) Keras ``fit`` with
``frequency="epoch"`` and ``"batch"`` (a subprocess, JAX backend); (f) Optax ``chain(scale_by_adam(),
scale_by_controller(c))``, ``controlled(scale_by_adam(), c)`` under ``jit``, ``MultiSteps``, with and without
``params``.

For each path the LRs the optimizer actually used equal a replay by hand of the pure controller (``c.init`` /
``c.update``) on the values the loop observed, the clock set to the update count where values arrive less often
than updates, and the non-loss signals measured here from recorded parameters and gradients (in float64, so those
controllers agree to 1e-6 relative; loss-only ones bit for bit). A controller a path cannot drive is refused at
construction with a message naming what is missing. Every path is checkpointed mid-run and resumed in a fresh
process, and the parameters and LRs continue bit for bit: torch (a), (b), Lightning and the Trainer through
``torch.load(weights_only=True)``; Optax through the leaves of the parameters and optimizer state in an ``.npz``
(restored into ``opt.init``'s tree); Keras through ``model.save`` plus the callback's ``state_dict()`` as JSON.
The regression test of each trap of issue 20 is in ``tests/test_controller_traps.py``; the tiny model and data and
the set-ups of the transformers ``Trainer`` and Lightning are in ``tests/_loops.py``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _loops import lightning_fit, tiny_batch, tiny_data, tiny_model, trainer_train  # noqa: E402

import lrsched  # noqa: E402
from lrsched.adapters.torch import ControllerScheduler, DirectionAdam  # noqa: E402
from lrsched.controllers import Controller  # noqa: E402
from lrsched.controllers.on import Controlled  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = {  # the library's controllers (test files register test-only ones, e.g. test_greedy_protocol)
    name: cls for name, cls in lrsched.controllers.registry().items() if cls.__module__.startswith("lrsched.")
}
NAMES = sorted(REGISTRY)
LR0 = 0.05  # every group's LR: decay and no-decay groups share it (the Trainer's, nanoGPT's, timm's split)
BUDGET = 12  # updates per run (the budget of a controller that takes one)
KNOBS = {"patience": 1, "factor": 0.5}  # settings that make a loss-driven controller move within a short run


# -- building every registered controller ---------------------------------------------------------------------------
def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


def make(name: str, init_lr: float | None = None) -> Controller:
    """A controller of the registered class ``name``: a schedule-steering wrapper around a GreedyLR multiplier,
    ``cls.default(budget=...)`` where the class has one, else ``cls()``; ``KNOBS`` where the class has them."""
    cls = REGISTRY[name]
    fields = _fields(cls)
    if {"base", "controller"} <= set(fields):  # on_schedule / greedy_on: lr = base(t) * g_t
        inner = lrsched.GreedyLR(init_lr=1.0, patience=0, factor=0.5, min_lr=0.1, max_lr=3.0)
        return cls(base=lrsched.warmup(lrsched.cosine_decay(LR0, 30), warmup_steps=3), controller=inner, start_step=2)
    knobs: dict[str, Any] = {k: v for k, v in KNOBS.items() if k in fields}
    if "budget" in fields:
        knobs["budget"] = BUDGET
    if "init_lr" in fields:
        knobs["init_lr"] = init_lr
    if callable(getattr(cls, "default", None)):
        return cls.default(**knobs)  # type: ignore[no-any-return]
    return cls(**knobs)  # type: ignore[no-any-return]


def torch_refusal(c: Controller) -> str | None:
    """What the torch adapter cannot provide to ``c`` (the words its message must hold), or ``None``."""
    if "lookahead" in c.needs:
        return "lookahead"
    return None


# -- the optimizer and the records (the tiny model and data are tests/_loops.py's) ----------------------------------
def _optimizer(model: Any, held: str | None = None) -> Any:
    """AdamW over decay / no-decay groups; ``held``: an optimizer that holds the direction over the same two groups
    (``"adam"``: ``DirectionAdam``; ``"momentum"``: torch's SGD with momentum), without decay (theirs is coupled:
    it would enter g_t, which the records hold without it)."""
    decay = [p for n, p in model.named_parameters() if n.endswith("weight")]
    no_decay = [p for n, p in model.named_parameters() if not n.endswith("weight")]
    if held == "adam":
        return DirectionAdam([{"params": decay}, {"params": no_decay}], lr=LR0)
    if held == "momentum":
        return torch.optim.SGD([{"params": decay}, {"params": no_decay}], lr=LR0, momentum=0.9)
    groups = [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=LR0)


class Record:
    """What a loop used and observed: per update the LRs, theta_t and g_t (float64); the observed values."""

    def __init__(self) -> None:
        self.lrs: list[list[float]] = []
        self.theta: list[np.ndarray] = []
        self.grad: list[np.ndarray] = []
        self.observed: dict[int, float] = {}  # update index -> the value the controller was given after it

    def update(self, opt: Any) -> None:
        """At theta_t with g_t computed, before ``opt`` applies update t (theta: every group's parameters)."""
        params = [p for g in opt.param_groups for p in g["params"]]
        self.lrs.append([float(g["lr"]) for g in opt.param_groups])
        self.theta.append(np.concatenate([p.detach().double().flatten().numpy() for p in params]))
        self.grad.append(np.concatenate([p.grad.detach().double().flatten().numpy() for p in params]))


def signals_at(names: tuple[str, ...], rec: Record, t: int) -> dict[str, float]:
    """The declared signals of update ``t``, from the records, as :data:`lrsched.controllers.SIGNALS` defines them."""
    out: dict[str, float] = {}
    if all(name == "loss" for name in names):
        return out
    change = rec.theta[t] - rec.theta[t - 1] if t else np.zeros_like(rec.theta[t])
    lr_prev = rec.lrs[t - 1][0] if t else 1.0
    table = {
        "grad_norm": lambda: float(np.linalg.norm(rec.grad[t])),
        "param_norm": lambda: float(np.linalg.norm(rec.theta[t])),
        "grad_dot_prev_direction": lambda: float(rec.grad[t] @ change) / lr_prev,
        "prev_direction_norm": lambda: float(np.linalg.norm(change)) / lr_prev,
    }
    for name in names:
        if name != "loss":
            out[name] = table[name]()
    return out


def replay(c: Controller, lr0: Any, rec: Record, groups: int) -> list[list[float]]:
    """The LRs of every recorded update from the pure controller: values at the updates they were observed after,
    the clock set to the update index (``Controlled.at``); between values a ``Controlled`` follows its base."""
    state = c.init(lr0)
    follows = isinstance(c, Controlled)
    out = []
    for t in range(len(rec.lrs)):
        lr = c.lr(Controlled.at(state, t)) if follows else c.lr(state)
        out.append(list(lr) if isinstance(lr, tuple) else [lr] * groups)
        if t in rec.observed:
            signals = {"loss": rec.observed[t], **signals_at(c.signals, rec, t)}
            state = c.update(Controlled.at(state, t), signals)
    return out


def assert_replayed(c: Controller, lr0: Any, rec: Record, groups: int = 2, rtol: float | None = None) -> None:
    expected = replay(c, lr0, rec, groups)
    assert len({tuple(x) for x in rec.lrs}) >= 1
    if rtol is None:
        rtol = 0.0 if c.signals == ("loss",) else 1e-6  # measured signals: float32 in the adapter, float64 here
    if rtol == 0.0:
        assert rec.lrs == [[float(v) for v in row] for row in expected]
    else:
        np.testing.assert_allclose(np.asarray(rec.lrs), np.asarray(expected, dtype=np.float64), rtol=rtol, atol=0)


def _scheduler_lr0(c: Controller, groups: list[float]) -> Any:
    """The LR the torch adapter starts ``c`` at: its ``init_lr``, or the groups' (per group where it has them)."""
    if c.init_lr is not None:
        return c.init_lr if not (c.per_group and len(groups) > 1) else (c.init_lr,) * len(groups)
    return tuple(groups) if c.per_group and len(groups) > 1 else groups[0]


# -- (a) a plain torch loop and (b) optimizer.step(closure) ------------------------------------------------------------
def torch_loop(
    c: Controller,
    steps: int,
    *,
    closure: bool,
    save: tuple[int, str] | None = None,
    load: str | None = None,
    held: str | None = None,
) -> tuple[Record, Any, Any]:
    """``steps`` updates of the tiny model under ``ControllerScheduler(opt, c)``; ``scheduler.step(loss)`` after
    each. ``save=(k, path)`` checkpoints after update k; ``load`` resumes from a checkpoint (weights_only);
    ``held``: an optimizer that holds the direction (:func:`_optimizer`)."""
    model = tiny_model()
    opt = _optimizer(model, held)
    sched = ControllerScheduler(opt, c)
    rec, start = Record(), 0
    if load is not None:
        state = torch.load(load, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        start = int(state["t"])
    for t in range(start, steps):
        x, y = tiny_batch(t)

        def loss_fn(x: Any = x, y: Any = y) -> Any:
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            rec.update(opt)
            return loss

        if closure:
            loss = opt.step(loss_fn)
        else:
            loss = loss_fn()
            opt.step()
        rec.observed[t] = float(loss.item())
        sched.step(loss.item())
        if save is not None and t + 1 == save[0]:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "t": t + 1}
            torch.save(state, save[1])
    return rec, model, sched


def _params_hex(model: Any) -> list[str]:
    return [float(v).hex() for p in model.parameters() for v in p.detach().double().flatten()]


@pytest.mark.parametrize("closure", [False, True], ids=["plain", "closure"])
@pytest.mark.parametrize("name", NAMES)
def test_torch_loop_two_groups_replays_the_pure_controller(name: str, closure: bool) -> None:
    c = make(name)
    refused = torch_refusal(c)
    if refused is not None:
        with pytest.raises(ValueError, match=refused):
            ControllerScheduler(_optimizer(tiny_model()), c)
        return
    rec, _, _ = torch_loop(c, BUDGET, closure=closure)
    assert all(row[0] == row[1] for row in rec.lrs)  # one LR for both groups
    assert_replayed(c, _scheduler_lr0(c, [LR0, LR0]), rec)


def _run_children(
    kind: str, jobs: dict[str, Any], tmp_path: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``_child(kind, jobs)`` in a fresh interpreter (cwd the repo root, this checkout first on the path)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec, out = tmp_path / f"{kind}.json", tmp_path / f"{kind}.out.json"
    spec.write_text(json.dumps(jobs))
    env = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
    }
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/tests']; import test_controller_matrix as m; "
        "m._child(sys.argv[2], sys.argv[3], sys.argv[4])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), kind, str(spec), str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def _child(kind: str, spec: str, out: str) -> None:
    """A fresh process resuming each job's checkpoint; writes the LRs used and the final parameters."""
    jobs, results = json.loads(Path(spec).read_text()), {}
    for key, job in jobs.items():
        c = lrsched.from_config(job["config"])
        if kind in ("plain", "closure"):
            rec, model, _ = torch_loop(
                c, job["steps"], closure=kind == "closure", load=job["ckpt"], held=job.get("held")
            )
            results[key] = {"lrs": rec.lrs, "params": _params_hex(model)}
        elif kind == "lightning":
            rec, net = lightning_run(c, job["epochs"], ckpt_in=job["ckpt"])
            results[key] = {"lrs": rec.lrs, "params": _params_hex(net)}
        elif kind == "keras":
            results[key] = keras_fit(c, job["frequency"], save=job.get("save"), load=job.get("load"))
        elif kind == "optax":
            rec, params = optax_run(c, job["path"], job["k"], load=job["ckpt"])
            results[key] = {"lrs": rec.lrs, "params": [float(v).hex() for v in _flat(params)]}
        elif kind == "trainer":
            rec, model = trainer_run(c, job["out"], resume=job["ckpt"])
            results[key] = {"lrs": rec.lrs, "params": _params_hex(model)}
    Path(out).write_text(json.dumps(results))


def _every_controller_replays_and_resumes(
    kind: str,
    tmp_path: Path,
    *,
    run: Callable[[Controller, str], tuple[Record, Any]],
    also: Callable[[Record], bool],
    checkpoint: Callable[[Controller, str], dict[str, Any]],
    resumed_from: int,
) -> None:
    """Every registered controller through ``run(c, name)`` (the records and the net of a whole run): one the torch
    adapter cannot drive is refused with :func:`torch_refusal`'s words; the others use ``BUDGET`` updates, pass
    ``also(records)`` and replay the pure controller. ``checkpoint(c, name)`` checkpoints mid-run and returns the rest
    of the child's job; a fresh process (``_child(kind, ...)``) resumes each and continues the whole run bit for bit:
    the LRs from update ``resumed_from`` on, the final parameters."""
    jobs, whole = {}, {}
    for name in NAMES:
        c = make(name)
        refused = torch_refusal(c)
        if refused is not None:
            with pytest.raises(ValueError, match=refused):
                run(c, name)
            continue
        rec, net = run(c, name)
        assert len(rec.lrs) == BUDGET and also(rec), name
        assert_replayed(c, _scheduler_lr0(c, [LR0, LR0]), rec)
        whole[name] = {"lrs": rec.lrs, "params": _params_hex(net)}
        jobs[name] = {"config": c.to_config(), **checkpoint(c, name)}
    resumed = _run_children(kind, jobs, tmp_path)
    assert set(resumed) == set(whole)
    for name, result in resumed.items():
        assert result["lrs"] == whole[name]["lrs"][resumed_from:], name
        assert result["params"] == whole[name]["params"], name


@pytest.mark.parametrize("kind", ["plain", "closure"])
def test_torch_loop_resumes_in_a_fresh_process_bit_for_bit(kind: str, tmp_path: Path) -> None:
    jobs, whole = {}, {}
    for name in NAMES:
        c = make(name)
        if torch_refusal(c) is not None:
            continue
        rec, model, _ = torch_loop(c, BUDGET, closure=kind == "closure")
        whole[name] = {"lrs": rec.lrs, "params": _params_hex(model)}
        ckpt = str(tmp_path / f"{kind}-{name}.pt")
        torch_loop(c, 5, closure=kind == "closure", save=(5, ckpt))
        jobs[name] = {"config": c.to_config(), "steps": BUDGET, "ckpt": ckpt}
    resumed = _run_children(kind, jobs, tmp_path)
    assert set(resumed) == set(whole)
    moved = [name for name, run in whole.items() if len({row[0] for row in run["lrs"]}) > 1]
    assert len(moved) >= len(whole) - 1, moved  # not a vacuous matrix: the controllers steer (ABEL may not turn)
    for name, result in resumed.items():
        assert result["lrs"] == whole[name]["lrs"][5:], name
        assert result["params"] == whole[name]["params"], name


@pytest.mark.parametrize("held", ["adam", "momentum"])
@pytest.mark.parametrize("kind", ["plain", "closure"])
def test_direction_readers_on_an_optimizer_holding_it_replay_and_resume_in_a_fresh_process(
    kind: str, held: str, tmp_path: Path
) -> None:
    """Every registered controller that reads the previous direction, on an optimizer that holds it
    (``DirectionAdam``, torch's SGD with momentum; two groups): the signals read from it replay the pure controller
    from the recorded parameters' change, and a checkpoint resumed in a fresh process (``weights_only``) continues
    bit for bit."""
    readers = [name for name in NAMES if {"grad_dot_prev_direction", "prev_direction_norm"} & set(make(name).signals)]
    assert readers  # the hypergradient's two rules at least
    jobs, whole = {}, {}
    for name in readers:
        c = make(name)
        rec, model, sched = torch_loop(c, BUDGET, closure=kind == "closure", held=held)
        assert "theta" not in sched.state_dict().get("previous_update", {}), name  # read from the optimizer: no copy
        assert len({row[0] for row in rec.lrs}) > 1, name  # it steers
        assert_replayed(c, _scheduler_lr0(c, [LR0, LR0]), rec)
        whole[name] = {"lrs": rec.lrs, "params": _params_hex(model)}
        ckpt = str(tmp_path / f"held-{held}-{kind}-{name}.pt")
        torch_loop(c, 5, closure=kind == "closure", save=(5, ckpt), held=held)
        jobs[name] = {"config": c.to_config(), "steps": BUDGET, "ckpt": ckpt, "held": held}
    resumed = _run_children(kind, jobs, tmp_path)
    for name, result in resumed.items():
        assert result["lrs"] == whole[name]["lrs"][5:], name
        assert result["params"] == whole[name]["params"], name


# -- (f) Optax: chain(scale_by_adam(), scale_by_controller(c)), controlled(...), MultiSteps --------------------------
def _jax_params() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    shapes = {"b1": (6,), "b2": (1,), "w1": (4, 6), "w2": (6, 1)}
    return {k: (0.5 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}


def _jax_loss(params: Any, x: Any, y: Any) -> Any:
    import jax.numpy as jnp

    hidden = jnp.tanh(x @ params["w1"] + params["b1"])
    return jnp.mean((hidden @ params["w2"] + params["b2"] - y) ** 2)


def _flat(tree: Any) -> np.ndarray:
    import jax

    return np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in jax.tree_util.tree_leaves(tree)])


def optax_run(
    c: Controller,
    kind: str,
    k: int = 1,
    steps: int = BUDGET,
    save: tuple[int, str] | None = None,
    load: str | None = None,
) -> tuple[Record, Any]:
    """``steps`` optimizer updates (``k`` micro-batches each under ``MultiSteps``) of a jitted step; the records
    are per update: the LR it used (``lr_of``), theta and the (accumulated) gradient, the last micro-batch's loss.
    Returns the records and the final parameters. ``save=(t, path)`` checkpoints after update t as Optax users do
    without a checkpoint library: the leaves of the parameters and the optimizer state in an ``.npz`` (plain
    arrays); ``load`` resumes from one, the tree structure coming from ``opt.init`` (the template)."""
    import jax
    import jax.numpy as jnp
    import optax

    from lrsched.adapters.optax import controlled, lr_of, scale_by_controller

    if kind == "chain":
        opt = optax.chain(optax.scale_by_adam(), scale_by_controller(c))
    else:
        opt = controlled(optax.scale_by_adam(), c)
    if k > 1:
        opt = optax.MultiSteps(opt, every_k_schedule=k)
    wanted = [s for s in c.signals if s != "loss"]
    x_all, y_all = (np.asarray(v.numpy()) for v in tiny_data())

    def step(params: Any, state: Any, x: Any, y: Any, prev_d: Any) -> Any:
        loss, grads = jax.value_and_grad(_jax_loss)(params, x, y)
        extra: dict[str, Any] = {}
        if kind == "chain" and wanted:  # scale_by_controller takes the signals from the loop
            leaves = jax.tree_util.tree_leaves
            table = {
                "grad_norm": lambda: optax.global_norm(grads),
                "param_norm": lambda: optax.global_norm(params),
                "grad_dot_prev_direction": lambda: sum(jnp.vdot(a, b) for a, b in zip(leaves(grads), leaves(prev_d))),
                "prev_direction_norm": lambda: optax.global_norm(prev_d),
            }
            extra["signals"] = {n: table[n]() for n in wanted}
        updates, state = opt.update(grads, state, None if kind == "no_params" else params, value=loss, **extra)
        return optax.apply_updates(params, updates), state, loss, grads, updates

    jitted = jax.jit(step)
    params = _jax_params()
    state = opt.init(params)
    prev_d = jax.tree_util.tree_map(jnp.zeros_like, params)
    rec, start = Record(), 0
    if load is not None:
        with np.load(load) as data:
            leaves = [data[f"a{i}"] for i in range(len(data.files) - 1)]
            start = int(data["t"])
        template = (params, state, prev_d)
        params, state, prev_d = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)
    for t in range(start, steps):
        lr, theta, micro = float(lr_of(state)), _flat(params), []
        for j in range(k):
            i = ((t * k + j) * 8) % 64
            params, state, loss, grads, updates = jitted(params, state, x_all[i : i + 8], y_all[i : i + 8], prev_d)
            micro.append(_flat(grads))
        rec.lrs.append([lr])
        rec.theta.append(theta)
        rec.grad.append(np.mean(micro, axis=0))
        rec.observed[t] = float(loss)
        prev_d = jax.tree_util.tree_map(lambda u, lr=lr: u / lr, updates)
        if save is not None and t + 1 == save[0]:
            leaves = jax.tree_util.tree_leaves((params, state, prev_d))
            np.savez(save[1], t=t + 1, **{f"a{i}": np.asarray(v) for i, v in enumerate(leaves)})
    return rec, params


def optax_refusal(c: Controller, kind: str) -> str | None:
    """What an Optax path cannot give ``c`` (words its message holds), or ``None``."""
    if "lookahead" in c.needs:
        return "needs a 'lookahead'"
    if kind == "no_params" and "param_norm" in c.signals:
        return "reads 'param_norm'; pass the parameters"
    return None


@pytest.mark.parametrize(
    "kind,k",
    [("chain", 1), ("controlled", 1), ("no_params", 1), ("controlled", 2)],
    ids=["chain", "controlled-jit", "controlled-no-params", "multisteps"],
)
@pytest.mark.parametrize("name", NAMES)
def test_optax_paths_replay_the_pure_controller(name: str, kind: str, k: int) -> None:
    pytest.importorskip("optax")
    c = make(name, init_lr=LR0)
    refused = optax_refusal(c, kind)
    if refused is not None:
        with pytest.raises(ValueError, match=refused):
            optax_run(c, kind, k, steps=1)
        return
    rec, _ = optax_run(c, kind, k)
    # float32 in the jitted step, float64 here: a few float32 ulps (decisions on exact ties would differ; none here)
    assert_replayed(c, None, rec, groups=1, rtol=2e-6)


@pytest.mark.parametrize("name", NAMES)
def test_optax_controlled_refuses_an_inner_that_already_applies_minus_lr(name: str) -> None:
    """Trap 4: ``controlled(optax.adam(lr), c)`` flipped the sign twice and ascended. Every registered controller
    refuses such an ``inner`` at construction (before any update; also when built inside a jitted function), and
    the message names the cause and the direction to pass instead."""
    pytest.importorskip("optax")
    import jax
    import optax

    from lrsched.adapters.optax import controlled

    c = make(name, init_lr=LR0)
    # a controller the path cannot drive at all is refused for that first (LRTuner: its look-ahead)
    expected = optax_refusal(c, "controlled") or r"already applies -lr.*pass the direction alone, e\.g\. optax\."
    negated = optax.chain(optax.scale_by_adam(), optax.scale(-1.0))
    for inner in (optax.adam(LR0), optax.sgd(LR0), negated):
        with pytest.raises(ValueError, match=expected):
            controlled(inner, c)

    def built_under_jit(x: Any) -> Any:
        controlled(optax.adam(LR0), c)
        return x

    with pytest.raises(ValueError, match=expected):
        jax.jit(built_under_jit)(1.0)


@pytest.mark.parametrize(
    "kind,k",
    [("chain", 1), ("controlled", 1), ("no_params", 1), ("controlled", 2)],
    ids=["chain", "controlled-jit", "controlled-no-params", "multisteps"],
)
def test_optax_paths_resume_in_a_fresh_process_bit_for_bit(kind: str, k: int, tmp_path: Path) -> None:
    """Checkpointed after 5 updates (the leaves of the parameters and the optimizer state, plain arrays) and
    resumed in a fresh process: the LRs and the final parameters equal the uninterrupted run's, bit for bit."""
    pytest.importorskip("optax")
    jobs, whole = {}, {}
    for name in NAMES:
        c = make(name, init_lr=LR0)
        if optax_refusal(c, kind) is not None:
            continue
        rec, params = optax_run(c, kind, k)
        whole[name] = {"lrs": rec.lrs, "params": [float(v).hex() for v in _flat(params)]}
        ckpt = str(tmp_path / f"{kind}-{k}-{name}.npz")
        optax_run(c, kind, k, steps=5, save=(5, ckpt))
        jobs[name] = {"config": c.to_config(), "path": kind, "k": k, "ckpt": ckpt}
    resumed = _run_children("optax", jobs, tmp_path, env={"JAX_PLATFORMS": "cpu"})
    assert set(resumed) == set(whole) and len(whole) >= len(NAMES) - 2
    for name, result in resumed.items():
        assert result["lrs"] == whole[name]["lrs"][5:], name
        assert result["params"] == whole[name]["params"], name


# -- (d) Lightning: interval="step" with a monitor --------------------------------------------------------------------
def lightning_run(
    c: Controller, epochs: int, ckpt_in: str | None = None, ckpt_out: str | None = None, interval: str = "step"
) -> tuple[Record, Any]:
    """``epochs`` of 4 updates each under ``lightning.Trainer.fit`` (``ckpt_path=ckpt_in`` resumes), the scheduler
    monitoring ``train_loss``; the records and the net."""
    rec = Record()

    def on_loss(module: Any, loss: Any, batch_idx: int) -> None:
        module.log("train_loss", loss, on_step=True, on_epoch=False)
        if interval == "step" or batch_idx == 3:  # the value Lightning passes: per update, or the epoch's last
            rec.observed[module.trainer.global_step] = float(loss.item())

    net = lightning_fit(
        tiny_model(),
        _optimizer,
        lambda opt: {"scheduler": ControllerScheduler(opt, c), "interval": interval, "monitor": "train_loss"},
        epochs,
        on_loss=on_loss,
        before_update=rec.update,
        ckpt_in=ckpt_in,
        ckpt_out=ckpt_out,
    ).net
    return rec, net


def test_lightning_interval_step_with_a_monitor_replays_and_resumes_in_a_fresh_process(tmp_path: Path) -> None:
    pytest.importorskip("lightning.pytorch")

    def checkpoint(c: Controller, name: str) -> dict[str, Any]:
        ckpt = str(tmp_path / f"lightning-{name}.ckpt")
        lightning_run(c, 1, ckpt_out=ckpt)
        torch.load(ckpt, weights_only=True)  # loads as fit(ckpt_path=...) does, with no pickled objects
        return {"epochs": 3, "ckpt": ckpt}

    _every_controller_replays_and_resumes(
        "lightning",
        tmp_path,
        run=lambda c, name: lightning_run(c, 3),
        also=lambda rec: all(row[0] == row[1] for row in rec.lrs),
        checkpoint=checkpoint,
        resumed_from=4,
    )


# -- (c) the transformers Trainer: evaluation every 3 updates, gradient accumulation 2 -------------------------------
def trainer_run(c: Controller, out: str, resume: str | None = None) -> tuple[Record, Any]:
    """12 updates of 2 micro-batches; ``ControllerScheduler`` as ``optimizers=(opt, sched)`` gets each evaluation's
    ``eval_loss`` (``metric_for_best_model="loss"``); checkpoints every 6 updates."""
    rec = Record()

    def on_evaluate(step: int, metrics: dict[str, float]) -> None:
        rec.observed[step - 1] = float(metrics["eval_loss"])

    net = trainer_train(
        out,
        _optimizer,
        lambda opt: ControllerScheduler(opt, c),
        samples=32,
        # The LR each update applies, read by a pre-step hook registered after the scheduler's: between evaluations
        # the groups hold the last update's LR until the next one begins (what the Trainer logs right after it).
        before_update=rec.update,
        on_evaluate=on_evaluate,
        resume=resume,
        per_device_eval_batch_size=16,
        save_strategy="steps",
        save_steps=6,
        logging_strategy="no",
    )
    return rec, net


def test_transformers_trainer_with_evaluations_replays_and_resumes_in_a_fresh_process(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    _every_controller_replays_and_resumes(
        "trainer",
        tmp_path,
        run=lambda c, name: trainer_run(c, str(tmp_path / name)),
        also=lambda rec: sorted(rec.observed) == [2, 5, 8, 11],
        # the whole run saved checkpoint-6 on its way
        checkpoint=lambda c, name: {
            "out": str(tmp_path / f"resumed-{name}"),
            "ckpt": str(tmp_path / name / "checkpoint-6"),
        },
        resumed_from=6,
    )


# -- (e) Keras fit, frequency="epoch" and "batch" (a subprocess, JAX backend) ------------------------------------------
def keras_fit(c: Controller, frequency: str, save: str | None = None, load: str | None = None) -> dict[str, Any]:
    """3 epochs of 4 batches under ``ControllerCallback(c, frequency=...)``: the LR each update used, the values
    the callback observed (``logs["loss"]``) and the final weights, or the message refusing ``c``. ``save``: stop
    after 2 epochs and checkpoint as the callback's docstring says (``model.save`` to ``save + ".keras"``, the
    callback's ``state_dict()`` to ``save + ".json"``); ``load``: resume from that checkpoint for the third epoch
    (``load_model``, a new callback given ``load_state_dict``, ``fit(initial_epoch=2)``)."""
    import keras

    from lrsched.adapters.keras import ControllerCallback

    try:
        callback = ControllerCallback(c, frequency=frequency)
    except ValueError as err:
        return {"refused": str(err)}
    keras.utils.set_random_seed(0)
    if load is None:
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR0), loss="mse")
    else:
        model = keras.models.load_model(load + ".keras")
        callback.load_state_dict(json.loads(Path(load + ".json").read_text()))
    lrs: list[list[float]] = []
    observed: dict[int, float] = {}

    class Observe(keras.callbacks.Callback):  # after the controller's callback: sees its LR and the same logs
        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            lrs.append([float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))])

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if frequency == "batch":
                observed[len(lrs) - 1] = float(logs["loss"])

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if frequency == "epoch":
                observed[len(lrs) - 1] = float(logs["loss"])

    x, y = (v.numpy() for v in tiny_data())
    epochs, first = (2 if save is not None else 3), (2 if load is not None else 0)
    model.fit(
        x[:32],
        y[:32],
        batch_size=8,
        epochs=epochs,
        initial_epoch=first,
        shuffle=False,
        verbose=0,
        callbacks=[callback, Observe()],
    )
    if save is not None:
        model.save(save + ".keras")
        Path(save + ".json").write_text(json.dumps(callback.state_dict()))
    weights = [float(v).hex() for w in model.get_weights() for v in np.asarray(w, dtype=np.float64).ravel()]
    return {"lrs": lrs, "observed": observed, "weights": weights}


def keras_refusal(c: Controller) -> str | None:
    """What ``ControllerCallback`` cannot give ``c`` (words its message holds), or ``None``."""
    if "lookahead" in c.needs:
        return "needs a 'lookahead'"
    missing = [s for s in c.signals if s != "loss"]
    return f"reads the signal\\(s\\) '{missing[0]}', which ControllerCallback cannot measure" if missing else None


@pytest.mark.slow
def test_keras_fit_epoch_and_batch_replay_the_pure_controller(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    pytest.importorskip("jax")
    jobs = {
        f"{name}/{freq}": {"config": make(name).to_config(), "frequency": freq}
        for name in NAMES
        for freq in ("epoch", "batch")
    }
    jobs |= {f"{key}/save": {**job, "save": str(tmp_path / key.replace("/", "-"))} for key, job in jobs.items()}
    results = _run_children("keras", jobs, tmp_path, env={"KERAS_BACKEND": "jax"})
    assert set(results) == set(jobs)
    # the checkpoints, resumed for the third epoch in a fresh process
    again = {
        key[: -len("/save")]: {**job, "save": None, "load": job["save"]}
        for key, job in jobs.items()
        if key.endswith("/save") and "refused" not in results[key]
    }
    resumed = _run_children("keras", again, tmp_path / "resume", env={"KERAS_BACKEND": "jax"})
    assert len(resumed) >= len(NAMES)  # not vacuous: the loss-only controllers, both frequencies
    for key, result in resumed.items():
        whole = results[key]
        assert result["lrs"] == whole["lrs"][8:], key
        assert result["weights"] == whole["weights"], key
    for key in [key for key in jobs if key.endswith("/save")]:
        del jobs[key], results[key]
    for key, result in results.items():
        c = lrsched.from_config(jobs[key]["config"])
        refused = keras_refusal(c)
        if refused is not None:
            assert re.search(refused, result["refused"]), (key, result)
            continue
        rec = Record()
        rec.lrs, rec.observed = result["lrs"], {int(t): v for t, v in result["observed"].items()}
        assert len(rec.lrs) == BUDGET
        assert_replayed(c, c.init_lr if c.init_lr is not None else LR0, rec, groups=1, rtol=1e-6)  # a float32 variable


def test_lightning_interval_epoch_with_a_monitor_counts_updates() -> None:
    """Values per epoch (trap 3 under Lightning): the clock is the update count, so the replay matches."""
    pytest.importorskip("lightning.pytorch")
    for name in NAMES:
        c = make(name)
        if torch_refusal(c) is not None:
            continue
        rec, _ = lightning_run(c, 3, interval="epoch")
        assert sorted(rec.observed) == [3, 7, 11]
        assert_replayed(c, _scheduler_lr0(c, [LR0, LR0]), rec)
