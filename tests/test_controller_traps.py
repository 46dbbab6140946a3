"""One regression test per trap of issue 20 ("Controllers in real training loops"), each running the real loop.

Each test says what the code did before the fix; each fails when that behaviour is put back (checked by reverting
the fix in the adapter). The torch loop, the generic controller builder and the replay come from
``tests/test_controller_matrix.py``; the tiny model and data, the transformers ``Trainer`` and Lightning set-ups from
``tests/_loops.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _loops import lightning_fit, tiny_batch, tiny_model, trainer_train  # noqa: E402
from test_controller_matrix import (  # noqa: E402
    BUDGET,
    LR0,
    NAMES,
    Record,
    _optimizer,
    _params_hex,
    _scheduler_lr0,
    assert_replayed,
    make,
    torch_loop,
    torch_refusal,
)

import lrsched  # noqa: E402
from lrsched.adapters.torch import ControllerScheduler, GreedyLRScheduler  # noqa: E402
from lrsched.controllers.on import Controlled  # noqa: E402


@pytest.mark.parametrize("name", NAMES)
def test_trap_2_every_controller_drives_two_param_groups_sharing_one_lr(name: str) -> None:
    # Before the fix every controller but GreedyLR raised on a decay / no-decay optimizer, with a message about
    # numbers ("lr must be a real number, got (0.01, 0.01)"), not about param groups.
    c = make(name)
    if torch_refusal(c) is not None:
        pytest.skip("refused at construction (test_trap_9)")
    rec, _, _ = torch_loop(c, 6, closure=False)
    assert len(rec.lrs) == 6 and all(row[0] == row[1] for row in rec.lrs)
    assert_replayed(c, _scheduler_lr0(c, [LR0, LR0]), rec)
    if isinstance(c, Controlled) or c.per_group:
        return
    model = tiny_model()
    groups = [{"params": [model[0].weight], "lr": 0.05}, {"params": [model[0].bias], "lr": 0.01}]
    with pytest.raises(ValueError, match="param groups have different learning rates"):
        ControllerScheduler(torch.optim.SGD(groups), dataclasses.replace(c, init_lr=None))
    relative = ControllerScheduler(torch.optim.SGD(groups), dataclasses.replace(c, init_lr=None), lr_mode="relative")
    multiplier = relative.sched.lr  # the controller's first LR as a multiplier of 1 (ProbeLR starts its probe low)
    assert [g["lr"] for g in relative.optimizer.param_groups] == [0.05 * multiplier, 0.01 * multiplier]


def test_trap_3_the_clock_counts_optimizer_updates_when_values_arrive_per_evaluation() -> None:
    # Before the fix LearnedLR's budget counted scheduler.step(metric) calls: with a value every 4 updates it saw
    # 3 of 12 updates and ended the run inside its warmup. Now state.step is the update count at every value.
    c = make("learned")
    model, every = tiny_model(), 4
    opt = _optimizer(model)
    sched = ControllerScheduler(opt, c)
    rec = Record()
    for t in range(BUDGET):
        x, y = tiny_batch(t)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        rec.update(opt)
        opt.step()
        if (t + 1) % every == 0:  # an evaluation
            rec.observed[t] = float(loss.item())
            sched.step(loss.item())
            assert sched.sched.t == t + 1  # the old clock: (t + 1) // every
    assert_replayed(c, LR0, rec)
    old_clock = c.init(LR0)  # what the old adapter did: one clock tick per value
    for t in sorted(rec.observed):
        old_clock = c.update(old_clock, rec.observed[t])
    assert old_clock.step == 3 and c.lr(old_clock) != sched.lr


def test_trap_5_on_schedule_given_directly_starts_at_multiplier_one() -> None:
    # Before the fix ControllerScheduler(opt, on_schedule(base, ...)) multiplied the schedule by the optimizer's LR
    # (first LR base(0) * 1e-3 instead of base(0)); Optax and the closure gave base(0).
    base = lrsched.cosine_decay(1e-3, 20)
    on = lrsched.on_schedule(base, lrsched.GreedyLR(patience=0, factor=0.5, min_lr=0.1, max_lr=2.0))
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    sched = ControllerScheduler(opt, on)
    lrs, expected, closure = [], [], lrsched.control(on)  # the closure starts at multiplier 1
    for t in range(6):
        x, y = tiny_batch(t)
        lrs.append(opt.param_groups[0]["lr"])
        expected.append(closure.lr)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        sched.step(loss.item())
        closure(loss.item())
    assert lrs[0] == base(0) == 1e-3  # not 1e-6
    assert lrs == expected


def test_trap_6_hypergradient_measures_the_gradient_computed_by_the_closure() -> None:
    # Before the fix the signal was measured in the optimizer's pre-step hook, before the closure ran, so under
    # optimizer.step(closure) (Lightning's way) it read the previous update's gradient: the LR rose at almost
    # every update. The closure loop must give the plain loop's LRs and parameters exactly.
    c = make("hypergradient")
    plain, plain_model, _ = torch_loop(c, BUDGET, closure=False)
    closed, closed_model, _ = torch_loop(c, BUDGET, closure=True)
    assert closed.lrs == plain.lrs
    assert _params_hex(closed_model) == _params_hex(plain_model)
    assert_replayed(c, LR0, closed)
    assert len({row[0] for row in closed.lrs}) > 2  # the signal really steers the LR


def test_trap_7_greedy_with_one_init_lr_over_different_group_lrs_raises() -> None:
    # Before the fix GreedyLRScheduler(opt, init_lr=x) silently set groups built at 1e-4 and 1e-3 to x.
    model = tiny_model()
    groups = [{"params": model[0].parameters(), "lr": 1e-4}, {"params": model[2].parameters(), "lr": 1e-3}]
    opt = torch.optim.AdamW(groups)
    with pytest.raises(ValueError, match="different learning rates"):
        GreedyLRScheduler(opt, init_lr=1e-3)
    sched = GreedyLRScheduler(opt, patience=0, factor=0.5)  # init_lr=None: each group keeps its own LR
    for t in range(4):
        x, y = tiny_batch(t)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        sched.step(loss.item())
    lrs = [g["lr"] for g in opt.param_groups]
    assert lrs[1] / lrs[0] == pytest.approx(10.0)


def test_trap_8_hypergradient_resumes_exactly_from_its_state_dict(tmp_path: Path) -> None:
    # Before the fix the previous parameters theta_{t-1} were not in state_dict(): a resumed run measured a zero
    # previous direction at its first update and left the uninterrupted run's LRs.
    c = make("hypergradient")
    whole, whole_model, _ = torch_loop(c, BUDGET, closure=False)
    ckpt = str(tmp_path / "hd.pt")
    torch_loop(c, 5, closure=False, save=(5, ckpt))
    saved = torch.load(ckpt, weights_only=True)["sched"]
    assert "previous_update" in saved  # theta_4 and lr_4
    rec, model, _ = torch_loop(c, BUDGET, closure=False, load=ckpt)
    assert rec.lrs == whole.lrs[5:]
    assert _params_hex(model) == _params_hex(whole_model)


@pytest.mark.parametrize("name", [n for n in NAMES if "lookahead" in make(n).needs])
def test_trap_9_a_lookahead_controller_is_refused_at_construction(name: str) -> None:
    # Before the fix LRTuner was accepted by ControllerScheduler (and ControllerCallback) and never explored.
    c = make(name)
    with pytest.raises(ValueError, match="needs a 'lookahead'"):
        ControllerScheduler(_optimizer(tiny_model()), c)
    with pytest.raises(ValueError, match="needs a 'lookahead'"):
        ControllerScheduler(_optimizer(tiny_model()), c, base=0.1)


def test_trap_10_optax_abel_without_params_is_refused_and_with_params_decays() -> None:
    # Before the fix controlled(inner, ABEL) updated without params read a parameter norm of 0 and never decayed.
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    import optax

    from lrsched.adapters.optax import controlled, lr_of

    abel = make("abel", init_lr=0.9)
    opt = controlled(optax.identity(), abel)  # plain SGD: w <- w - lr * g
    loss_fn = lambda w: jnp.sum((w - 3.0) ** 2)  # noqa: E731
    w = jnp.array([-5.0])
    with pytest.raises(ValueError, match="reads 'param_norm'; pass the parameters"):
        opt.update(jax.grad(loss_fn)(w), opt.init(w), value=loss_fn(w))

    @jax.jit
    def step(w: Any, state: Any) -> Any:
        loss, g = jax.value_and_grad(loss_fn)(w)
        updates, state = opt.update(g, state, w, value=loss)
        return w + updates, state

    state, rec = opt.init(w), Record()
    for t in range(12):  # the norm falls, turns at 0, then bounces around 3 as the LR overshoots
        rec.lrs.append([float(lr_of(state))])
        rec.theta.append(np.asarray(w, dtype=np.float64))
        rec.grad.append(np.asarray(jax.grad(loss_fn)(w), dtype=np.float64))
        rec.observed[t] = float(loss_fn(w))
        w, state = step(w, state)
    assert min(row[0] for row in rec.lrs) < 0.9  # it decayed
    assert_replayed(abel, None, rec, groups=1, rtol=2e-6)


def _trainer_logs(make_scheduler: Any, tmp_path: Path) -> tuple[list[float], list[float]]:
    """12 updates of 2 micro-batches under the transformers ``Trainer``, an evaluation every 3 updates (``step`` of a
    plateau scheduler gets ``eval_loss``), a log every update: the ``learning_rate`` logged after each update, and the
    LR each update applied (a pre-step hook registered after the scheduler's)."""
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    used: list[float] = []
    logged: dict[int, float] = {}

    def on_log(step: int, logs: dict[str, float]) -> None:
        if logs and "learning_rate" in logs:
            logged[step] = float(logs["learning_rate"])

    trainer_train(
        str(tmp_path),
        lambda net: torch.optim.AdamW(net.parameters(), lr=1.0),  # LambdaLR: 1.0 * s(t) == s(t)
        make_scheduler,
        samples=64,
        before_update=lambda opt: used.append(float(opt.param_groups[0]["lr"])),
        on_log=on_log,
        logging_strategy="steps",
        logging_steps=1,
        save_strategy="no",
    )
    assert sorted(logged) == list(range(1, 13)) and len(used) == 12
    return [logged[k] for k in range(1, 13)], used


@pytest.mark.parametrize("pair", ["base", "plateau"])
def test_the_trainer_logs_what_it_logs_for_torchs_own_schedulers(pair: str, tmp_path: Path) -> None:
    # Before the fix ControllerScheduler(base=...) advanced the base in the optimizer's post-step hook, and the
    # Trainer, which reads a plateau scheduler's param_groups[0]["lr"] right after optimizer.step(), logged each
    # update's LR one update early. The Trainer logs the LR each update applied for LambdaLR (get_last_lr() before
    # its scheduler.step()) and for ReduceLROnPlateau (param_groups): so must ControllerScheduler, with a base and
    # its multiplier held at 1 as for the LambdaLR of that base, and without one as for ReduceLROnPlateau.
    base = lrsched.warmup(lrsched.cosine_decay(LR0, 10), warmup_steps=3)
    if pair == "base":
        native = lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, base)  # noqa: E731
        ours = lambda opt: ControllerScheduler(opt, lrsched.GreedyLR(init_lr=1.0, min_lr=1.0, max_lr=1.0), base=base)  # noqa: E731
    else:
        native = lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)  # noqa: E731
        ours = lambda opt: ControllerScheduler(opt, lrsched.GreedyLR(increase=False, patience=0, factor=0.5))  # noqa: E731
    want, want_used = _trainer_logs(native, tmp_path / "native")
    got, got_used = _trainer_logs(ours, tmp_path / "ours")
    assert want == want_used and len(set(want)) >= 2  # torch's own: the LR each update applied, which moves
    assert got_used == want_used
    assert got == want


def test_a_base_schedule_resumes_exactly_from_a_checkpoint_taken_between_values(tmp_path: Path) -> None:
    # A value every 3 updates, a checkpoint after update 4 (between values), loaded with weights_only into a fresh
    # model, optimizer and scheduler: every later update applies the LR of the uninterrupted run. Before, loading
    # wrote base(t) * g at the clock of the last value (update 3) instead of the update count, so update 4 used
    # base(3)'s LR.
    base = lrsched.warmup(lrsched.cosine_decay(LR0, 20), warmup_steps=3)

    def run(start: int, stop: int, ckpt: Path | None = None, save: bool = False) -> list[list[float]]:
        model = tiny_model()
        opt = _optimizer(model)
        sched = ControllerScheduler(opt, lrsched.GreedyLR(patience=0, factor=0.5, min_lr=0.1), base=base)
        if ckpt is not None and not save:
            state = torch.load(ckpt, weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
        used: list[list[float]] = []
        opt.register_step_pre_hook(lambda o, args, kwargs: used.append([float(g["lr"]) for g in o.param_groups]))
        for t in range(start, stop):
            x, y = tiny_batch(t)
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if t % 3 == 2:
                sched.step(loss.item())
        if save:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, ckpt)
        return used

    whole = run(0, 12)
    assert len({row[0] for row in whole}) >= 8
    run(0, 4, tmp_path / "ckpt.pt", save=True)
    assert run(4, 12, tmp_path / "ckpt.pt") == whole[4:]


def _lightning_monitor(
    interval: str, frequency: int, logging_interval: str | None, out: Path
) -> tuple[list[float], list[float]]:
    """3 epochs of 4 updates under Lightning with ``ControllerScheduler(base=...)`` (multiplier held at 1) and a
    ``LearningRateMonitor``: the LRs it logged and the LR each update applied."""
    pl = pytest.importorskip("lightning.pytorch")
    from lightning.pytorch.callbacks import LearningRateMonitor

    base = lrsched.warmup(lrsched.cosine_decay(LR0, 12), warmup_steps=3)
    used: list[float] = []

    def scheduler(opt: Any) -> dict[str, Any]:
        multiplier = lrsched.GreedyLR(init_lr=1.0, min_lr=1.0, max_lr=1.0)
        monitor = "train_loss_step" if interval == "step" else "train_loss_epoch"
        sched = ControllerScheduler(opt, multiplier, base=base)
        return {"scheduler": sched, "interval": interval, "frequency": frequency, "monitor": monitor}

    monitor = LearningRateMonitor(logging_interval=logging_interval)
    lightning_fit(
        tiny_model(),
        lambda net: torch.optim.SGD(net.parameters(), lr=LR0),
        scheduler,
        3,
        on_loss=lambda module, loss, batch_idx: module.log("train_loss", loss, on_step=True, on_epoch=True),
        before_update=lambda opt: used.append(float(opt.param_groups[0]["lr"])),  # the LR the update applies
        logger=pl.loggers.CSVLogger(str(out)),  # the monitor needs a logger
        callbacks=[monitor],
    )
    return [float(v) for v in next(iter(monitor.lrs.values()))], used


@pytest.mark.parametrize(
    ("interval", "frequency", "logging_interval"),
    [("step", 1, None), ("step", 2, None), ("epoch", 1, None), ("epoch", 1, "step")],
)
def test_lightnings_lr_monitor_logs_the_lr_each_update_applies_with_a_base_schedule(
    interval: str, frequency: int, logging_interval: str | None, tmp_path: Path
) -> None:
    # Lightning's LearningRateMonitor reads scheduler.optimizer.param_groups before each update (or epoch). Between
    # values (frequency 2, or per epoch) ControllerScheduler(base=...) keeps the last update's LR in the groups until
    # the next update begins (so the Trainer logs it, above), and its ``optimizer`` brings them to the coming
    # update's LR: without that, the monitor logged each LR one update late in the 2nd and 4th configurations.
    pytest.importorskip("lightning.pytorch")
    logged, used = _lightning_monitor(interval, frequency, logging_interval, tmp_path)
    assert len(used) == 12 and len(set(used)) >= 6
    assert logged == (used[::4] if interval == "epoch" and logging_interval is None else used)


def _compiled_step_run(
    c: Any, base: Any, *, optimizer: str, compiled: bool, tensor_loss: bool
) -> tuple[list[float], list[int], Any]:
    """10 updates with an optimizer built with a tensor LR, ``opt.step()`` inside a ``torch.compile``d function
    (PyTorch's "Compiling the optimizer" recipe; backend "eager": dynamo's guards are the backend's), the scheduler
    stepped after each: the LR each update applied, the number of graphs compiled after each update, the
    parameters. Float64, so that the compiled SGD step equals the uncompiled one to rounding."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    model = tiny_model().double()
    lr = torch.tensor(LR0, dtype=torch.float64)
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9) if optimizer == "SGD" else torch.optim.Adam(params, lr=lr)
    sched = ControllerScheduler(opt, c, base=base)

    def opt_step() -> None:
        opt.step()

    step = torch.compile(opt_step, backend="eager") if compiled else opt_step
    lrs, graphs = [], []
    for t in range(10):
        x, y = tiny_batch(t)
        loss = torch.nn.functional.mse_loss(model(x.double()), y.double())
        opt.zero_grad()
        loss.backward()
        step()
        lrs.append(float(opt.param_groups[0]["lr"]))
        sched.step(loss.detach() if tensor_loss else loss.item())
        graphs.append(counters["stats"]["unique_graphs"])
    return lrs, graphs, torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()


@pytest.mark.parametrize("name", NAMES)
def test_a_compiled_optimizer_step_with_a_tensor_lr_compiles_once(name: str) -> None:
    # Before the fix the scheduler's optimizer hooks were traced into the compiled step: with base= the guards on
    # the update count (the base schedule's branches on a Python int) and on the controller's state recompiled the
    # step at every update until dynamo's recompile limit (GreedyLR under Adam, float loss: 7 recompiles in 8
    # updates, or "Guard failed on the same frame it was created" in torch 2.13). Every controller, with a base,
    # under SGD with momentum, and GreedyLR with a tensor loss too (the state on the device) and under Adam (the
    # recipe's optimizer): at most 2 graphs, none after the 2nd update; under SGD the LRs and parameters are the
    # uncompiled run's (torch's compiled Adam itself differs from its eager step, by 1e-4 here, with any scheduler).
    c = make(name)
    if torch_refusal(c) is not None:
        pytest.skip("refused at construction (test_trap_9)")
    base = None if isinstance(c, Controlled) else lrsched.warmup(lrsched.cosine_decay(LR0, 12), warmup_steps=3)
    runs = [("SGD", False)] + ([("SGD", True), ("Adam", False)] if name == "greedy" else [])
    for optimizer, tensor_loss in runs:
        kw = {"optimizer": optimizer, "tensor_loss": tensor_loss}
        got, graphs, theta = _compiled_step_run(c, base, compiled=True, **kw)
        assert 1 <= graphs[-1] <= 2 and graphs[1] == graphs[-1], (optimizer, tensor_loss, graphs)
        if optimizer == "SGD":
            want, _, eager = _compiled_step_run(c, base, compiled=False, **kw)
            assert len(set(want)) >= 3
            np.testing.assert_allclose(got, want, rtol=1e-12)
            np.testing.assert_allclose(theta, eager, rtol=1e-12, atol=1e-15)
