"""The controller protocol: control(), on_schedule(), the compiled closure, configs, and the generic adapters
driving a test-only controller that declares every signal (values checked against independent formulas)."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
from typing import Any, NamedTuple

import numpy as np
import pytest

import lrsched
from lrsched.controllers import SIGNALS, Controller, register_controller
from lrsched.controllers._compile import compile_controller


class ProbeState(NamedTuple):
    lr: Any
    step: Any
    loss: Any
    grad_norm: Any
    param_norm: Any
    grad_dot_prev_direction: Any
    prev_direction_norm: Any


@register_controller("probe_test")
@dataclasses.dataclass(frozen=True)
class Probe(Controller):
    """Records every signal it sees; the LR shrinks by ``decay`` per update, twice as fast after a worse loss."""

    signals = tuple(SIGNALS)
    init_lr: float | None = 0.1
    decay: float = 0.9

    def init(self, lr: Any = None, *, like: Any = None) -> ProbeState:
        lr = self.init_lr if lr is None else lr
        state = ProbeState(lr, 0, math.inf, 0.0, 0.0, 0.0, 0.0)
        if like is None:
            return state
        import jax.numpy as jnp

        return ProbeState(*(jnp.asarray(v, dtype=jnp.int32 if i == 1 else like.dtype) for i, v in enumerate(state)))

    def rule(self, state: ProbeState, signals: dict[str, Any], xp: Any) -> ProbeState:
        worse = signals["loss"] > state.loss
        lr = xp.where(worse, state.lr * self.decay * self.decay, state.lr * self.decay)
        return ProbeState(lr, state.step + 1, *(signals[s] for s in SIGNALS))


class Halving(Controller):
    """A controller written as update() only (not compilable): the closure falls back to it."""

    name = "halving_test"

    def init(self, lr: Any = None, *, like: Any = None) -> Any:
        return ProbeState(1.0 if lr is None else lr, 0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def update(self, state: Any, signals: Any) -> Any:
        loss = float(signals["loss"] if isinstance(signals, dict) else signals)
        return state._replace(lr=state.lr / 2 if loss > 1 else state.lr, step=state.step + 1)


def test_signals_are_documented() -> None:
    assert list(SIGNALS) == ["loss", "grad_norm", "param_norm", "grad_dot_prev_direction", "prev_direction_norm"]
    assert all(len(text) > 20 for text in SIGNALS.values())


def test_compiled_closure_equals_the_pure_update_and_round_trips() -> None:
    probe = Probe()
    assert compile_controller(probe, probe.init()) is not None
    sched, state = lrsched.control(probe), probe.init()
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = {s: float(rng.normal()) for s in SIGNALS}
        lr = sched(values["loss"], **{k: v for k, v in values.items() if k != "loss"})
        state = probe.update(state, values)
        assert lr == probe.lr(state) and sched.state == state
    data = json.loads(json.dumps(sched.state_dict(), allow_nan=False))
    again = lrsched.control(lrsched.from_config(sched.to_config()))
    again.load_state_dict(data)
    assert again.state == sched.state
    assert pickle.loads(pickle.dumps(sched)).state == sched.state
    with pytest.raises(KeyError, match="grad_norm"):
        probe.update(state, {"loss": 1.0})


def test_an_update_only_controller_runs_uncompiled() -> None:
    sched = lrsched.control(Halving())
    assert [sched(v) for v in (2.0, 0.5, 3.0)] == [0.5, 0.5, 0.25]
    on = lrsched.control(lrsched.on_schedule(lrsched.constant(0.2), Halving(), start_step=1))
    assert [on(v) for v in (2.0, 2.0)] == [0.2, 0.1]


def test_on_schedule_is_base_times_the_controller_lr_and_round_trips() -> None:
    base = lrsched.warmup(lrsched.cosine_decay(1.0, 50), warmup_steps=5)
    on = lrsched.on_schedule(base, lrsched.GreedyLR(patience=0, factor=0.5), start_step=5)
    assert on.controller.init_lr == 1.0  # the multiplier starts at 1
    assert lrsched.from_config(json.loads(json.dumps(on.to_config()))) == on
    sched, state = lrsched.control(on), on.init()
    losses = [3.0, 2.0, 2.5, 2.4, 2.6, 1.0, 0.9, 1.2, 1.3, 0.5]
    multiplier = lrsched.greedy(init_lr=1.0, patience=0, factor=0.5)
    for t, loss in enumerate(losses):
        expected = base(t + 1) * (multiplier(loss) if t >= 5 else 1.0)
        state = on.update(state, loss)
        assert sched(loss) == on.lr(state) == pytest.approx(expected, rel=1e-12)


def test_optax_controlled_passes_the_declared_signals() -> None:
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    from lrsched.adapters.optax import controlled, greedy_state_of

    probe = Probe()
    opt = controlled(optax.identity(), probe)  # SGD: the direction is -g, so d_{t-1} = -g_{t-1}
    params = {"a": jnp.array([1.0, -2.0]), "b": jnp.array([0.5])}
    state = opt.init(params)
    prev_grads = None
    for t in range(4):
        grads = jax.tree.map(lambda p, t=t: p * p + 0.1 * t, params)
        flat_g = np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads)]).astype(np.float64)
        flat_p = np.concatenate([np.ravel(p) for p in jax.tree.leaves(params)]).astype(np.float64)
        updates, state = opt.update(grads, state, params, value=jnp.float32(1.0 / (t + 1)))
        params = optax.apply_updates(params, updates)
        seen = greedy_state_of(state.controller, probe)
        np.testing.assert_allclose(float(seen.grad_norm), np.linalg.norm(flat_g), rtol=1e-6)
        np.testing.assert_allclose(float(seen.param_norm), np.linalg.norm(flat_p), rtol=1e-6)
        gdot = 0.0 if prev_grads is None else -flat_g @ prev_grads
        dnorm = 0.0 if prev_grads is None else np.linalg.norm(prev_grads)
        np.testing.assert_allclose(float(seen.grad_dot_prev_direction), gdot, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(float(seen.prev_direction_norm), dnorm, rtol=1e-5, atol=1e-7)
        prev_grads = flat_g


def test_torch_controller_scheduler_passes_the_declared_signals() -> None:
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import ControllerScheduler

    model = torch.nn.Linear(3, 1, dtype=torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # SGD: d_{t-1} = -g_{t-1}
    sched = ControllerScheduler(opt, Probe())
    x, y = torch.randn(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)), None
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64)
    prev = None
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        g = torch.cat([p.grad.ravel() for p in model.parameters()]).numpy().copy()
        theta = torch.cat([p.detach().ravel() for p in model.parameters()]).numpy().copy()
        opt.step()
        sched.step(loss)
        seen = sched.sched.state
        assert seen.loss == pytest.approx(float(loss), rel=1e-12)
        assert seen.grad_norm == pytest.approx(np.linalg.norm(g), rel=1e-12)
        assert seen.param_norm == pytest.approx(np.linalg.norm(theta), rel=1e-12)
        assert seen.grad_dot_prev_direction == pytest.approx(0.0 if prev is None else -g @ prev, rel=1e-9, abs=1e-12)
        assert seen.prev_direction_norm == pytest.approx(0.0 if prev is None else np.linalg.norm(prev), rel=1e-9)
        assert opt.param_groups[0]["lr"] == sched.sched.lr
        prev = g


def _trainer_lrs(tmp_path: Any, start_step: int) -> tuple[list[float], Any]:
    """Train under the transformers Trainer (evaluation every 3 updates); the LR of every optimizer update."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from lrsched.adapters.torch import GreedyLRScheduler

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(4, 1)

        def forward(self, x: Any, labels: Any) -> dict[str, Any]:
            return {"loss": torch.nn.functional.mse_loss(self.lin(x), labels)}

    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(64, 4, generator=gen)
    data = [{"x": x, "labels": (x @ torch.tensor([1.0, -2.0, 0.5, 3.0]))[None]} for x in xs]
    torch.manual_seed(0)
    model = Model()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    base = lrsched.warmup(lrsched.constant(0.05), warmup_steps=4)
    scheduler = GreedyLRScheduler(opt, base=base, start_step=start_step, patience=0, factor=0.5, max_lr=4.0)
    used: list[float] = []
    opt.register_step_pre_hook(lambda o, args, kwargs: used.append(o.param_groups[0]["lr"]))
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), max_steps=15, per_device_train_batch_size=8, eval_strategy="steps", eval_steps=3,
        metric_for_best_model="eval_loss", save_strategy="no", report_to="none", use_cpu=True,
        remove_unused_columns=False, disable_tqdm=True, logging_strategy="no",
    )  # fmt: skip
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, eval_dataset=data[:16], optimizers=(opt, scheduler)
    )
    trainer.train()
    return used, scheduler


def test_under_the_transformers_trainer_the_base_follows_optimizer_updates(tmp_path: Any) -> None:
    """Issue 11.5: the Trainer calls step(metric) only after evaluations; the base's clock counts updates."""
    base = lrsched.warmup(lrsched.constant(0.05), warmup_steps=4)
    used, _ = _trainer_lrs(tmp_path, start_step=1000)  # the controller never acts: the LR is the base
    assert used == pytest.approx([base(k) for k in range(15)], rel=1e-12)
    assert int(np.argmax(used)) == 4  # the warmup peaks at update 5, not 13
    used, scheduler = _trainer_lrs(tmp_path, start_step=0)
    assert used[:3] == pytest.approx([base(k) for k in range(3)], rel=1e-12)  # the first evaluation is after 3
    assert used[3] == pytest.approx(base(3) * 2.0, rel=1e-12)  # the first value improves on +inf: g = 1 / 0.5
    g = scheduler.lr
    assert used[-1] == pytest.approx(base(14) * g, rel=1e-12) and g != 1.0  # evaluations steer the multiplier


@pytest.mark.parametrize("base", [None, lrsched.warmup(lrsched.cosine_decay(1.0, 60), warmup_steps=5)])
def test_tensor_losses_stay_on_the_device_and_give_the_float_path_lrs(base: Any, monkeypatch: Any) -> None:
    """Issue 11.7: a tensor loss updates the state with tensor ops (no .item()/float()); same LRs as floats."""
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import GreedyLRScheduler

    knobs = dict(patience=1, factor=0.5, window=3, cooldown=1, min_lr=0.01, max_lr=4.0, reset_start=2)
    losses = [3.0, 2.0, 2.5, 2.4, math.nan, 2.6, 1.0, 0.9, 1.2, 1.3, 0.5, 0.7, 0.8, 0.9, 1.0] * 2
    params = [torch.zeros(2, requires_grad=True)]
    opt_f = torch.optim.SGD(params, lr=float(np.float32(0.1)))  # the float32 tensor LR below, as a float
    opt_t = torch.optim.SGD(params, lr=torch.tensor(0.1))
    by_float = GreedyLRScheduler(opt_f, base=base, start_step=2, **knobs)
    by_tensor = GreedyLRScheduler(opt_t, base=base, start_step=2, **knobs)
    tensor_losses = [torch.tensor(v, dtype=torch.float32) for v in losses]

    def no_sync(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a host sync in the scheduler step")

    lrs_f, lrs_t = [], []
    for v, tv in zip(losses, tensor_losses):
        by_float.step(float(np.float32(v)))
        lrs_f.append(opt_f.param_groups[0]["lr"])
        with monkeypatch.context() as m:
            m.setattr(torch.Tensor, "item", no_sync)
            m.setattr(torch.Tensor, "__float__", no_sync)
            m.setattr(torch.Tensor, "__bool__", no_sync)
            by_tensor.step(tv)
        assert isinstance(opt_t.param_groups[0]["lr"], torch.Tensor)
        lrs_t.append(float(opt_t.param_groups[0]["lr"].to(torch.float64)))
    np.testing.assert_allclose(lrs_t, lrs_f, rtol=1e-6)  # the optimizer's float32 tensor LR rounds
    assert len(set(lrs_f)) > 3  # the controller moved the LR
    assert by_tensor.state_dict()["controller"] == by_float.state_dict()["controller"]  # same state, bit for bit


def test_scheduler_step_on_a_tensor_loss_compiles_without_graph_breaks() -> None:
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import GreedyLRScheduler

    params = [torch.zeros(2, requires_grad=True)]
    opt = torch.optim.SGD(params, lr=torch.tensor(0.1))
    scheduler = GreedyLRScheduler(opt, patience=0, factor=0.5, window=2)
    scheduler.step(torch.tensor(1.0))
    explained = torch._dynamo.explain(lambda loss: scheduler.step(loss))(torch.tensor(2.0))
    assert explained.graph_break_count == 0, explained.break_reasons
    assert float(opt.param_groups[0]["lr"]) == pytest.approx(0.1, rel=1e-6)  # 1.0 up (x2), then 2.0 down (x0.5)


def test_knobs_are_keyword_only_and_foreign_names_say_what_to_use() -> None:
    """Issue 11.11-12: reduce_on_plateau(0.1) is not read as init_lr; torch/transformers names get a hint."""
    with pytest.raises(TypeError, match="positional"):
        lrsched.reduce_on_plateau(0.1)  # type: ignore[misc]
    assert lrsched.reduce_on_plateau(factor=0.1, patience=5).init_lr is None
    hints = {
        "window_size": "did you mean `window=`",
        "smooth": "did you mean `window=`",
        "verbose": "read the LR from",
        "T_max": "CosineAnnealingLR",
    }
    for name, hint in hints.items():
        with pytest.raises(TypeError, match=f"`{name}=`.*{hint}"):
            lrsched.greedy(init_lr=0.1, **{name: 5})
    with pytest.raises(TypeError, match=r"`wndow=`; did you mean `window=`"):
        lrsched.greedy_on(1.0, wndow=3)
    # The classes themselves, not only the factories (every registered controller shares the check).
    with pytest.raises(TypeError, match="GreedyLR: unexpected keyword argument `window_size=`; did you mean `window=`"):
        lrsched.GreedyLR(window_size=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="Hypergradient: unexpected keyword argument `lr=`; did you mean `init_lr=`"):
        lrsched.Hypergradient(lr=0.1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"ABEL: unexpected keyword argument `decay=`; valid keywords: .*factor"):
        lrsched.ABEL(decay=0.1)  # type: ignore[call-arg]
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import GreedyLRScheduler

    with pytest.raises(
        TypeError, match="GreedyLRScheduler: unexpected keyword argument `eta_min=`; did you mean `min_lr=`"
    ):
        GreedyLRScheduler(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), eta_min=0.0)


def test_greedy_lr_of_says_how_to_read_one_of_several_controllers() -> None:
    """Issue 11.13: under optax.multi_transform there is one state per label."""
    pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    from lrsched.adapters.optax import greedy_lr_of, scale_by_greedy_lr

    g = lrsched.GreedyLR(init_lr=0.1)
    opt = optax.multi_transform({"a": scale_by_greedy_lr(g), "b": scale_by_greedy_lr(g)}, {"x": "a", "y": "b"})
    state = opt.init({"x": jnp.zeros(2), "y": jnp.zeros(2)})
    with pytest.raises(ValueError, match=r"found 2; .*lr_of\(opt_state.inner_states\['label'\]\)"):
        greedy_lr_of(state)
    assert float(greedy_lr_of(state.inner_states["a"])) == pytest.approx(0.1)
