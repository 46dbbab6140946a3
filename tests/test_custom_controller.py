"""A controller written in this file only -- fields, an initial state and a rule, nothing else -- runs through every
path the library offers: the stateful closure (compiled), the pure update under ``jax.jit``/``vmap``/``lax.scan``,
torch's ``ControllerScheduler``, Optax's ``scale_by_controller`` and ``controlled``, and Keras' ``ControllerCallback``
(in a fresh process per backend), with the same LRs everywhere. This is the "write your own controller" page's
promise (docs/write-a-controller.md), checked.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from _controller_runs import pure_run

import lrsched
from lrsched.controllers import Controller, register_controller


class BoundedEMAState(NamedTuple):
    lr: Any
    step: Any
    ema: Any  #: moving average of the loss (NaN until the first finite one)


@register_controller("test_bounded_ema")
@dataclasses.dataclass(frozen=True, kw_only=True)
class BoundedEMA(Controller[BoundedEMAState]):
    """Shrink the LR by ``factor`` whenever the loss rises above its moving average; never below ``min_lr``."""

    init_lr: float | None = None
    factor: float = 0.5
    decay: float = 0.9
    min_lr: float = 1e-4

    def initial_state(self, lr: Any) -> BoundedEMAState:
        return BoundedEMAState(lr, 0, float("nan"))

    def rule(self, state: BoundedEMAState, signals: dict[str, Any], xp: Any) -> BoundedEMAState:
        loss = signals["loss"]
        fresh = state.ema != state.ema  # NaN: nothing seen yet (a comparison with NaN is False: never worse)
        worse = loss > state.ema
        lr = xp.maximum(xp.where(worse, state.lr * self.factor, state.lr), self.min_lr)
        ema = xp.where(fresh, loss, self.decay * state.ema + (1.0 - self.decay) * loss)
        return BoundedEMAState(lr, state.step + 1, ema)


LOSSES = [3.0, 3.5, 2.0, 2.8, 1.5, 2.9, 1.0, 1.1, 3.0, 0.9, 0.8, 0.95]
C = BoundedEMA(init_lr=0.1)


def python_lrs(losses: list[float] = LOSSES) -> list[float]:
    return pure_run(C, losses)[0]


def test_the_rule_moves_the_lr_and_the_value_is_a_full_controller() -> None:
    lrs = python_lrs()
    assert lrs[:2] == [0.1, 0.05] and min(lrs) >= 1e-4 and len(set(lrs)) > 2
    assert lrsched.from_config(json.loads(json.dumps(C.to_config()))) == C and hash(C) == hash(BoundedEMA(init_lr=0.1))
    with pytest.raises(TypeError, match="keyword-only"):
        BoundedEMA(0.1)  # type: ignore[misc]
    with pytest.raises(TypeError, match="did you mean `factor=`"):
        BoundedEMA(facter=0.5)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="lr must lie in the controller's LR bounds"):
        C.init(-1.0)


def test_closure_is_compiled_and_equals_the_pure_update_bit_for_bit() -> None:
    sched = lrsched.control(C)
    assert sched._compiled is not None  # the generic compiler traced the rule
    assert [sched(v) for v in LOSSES] == python_lrs()
    restored = lrsched.control(C)
    restored.load_state_dict(json.loads(json.dumps(sched.state_dict())))
    assert restored.state == sched.state


def test_jax_jit_vmap_scan() -> None:
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    with jax.enable_x64(True):

        def run(lr0: Any, losses: Any) -> Any:
            def step(s: Any, loss: Any) -> Any:
                s = C.update(s, loss)
                return s, C.lr(s)

            return jax.lax.scan(step, C.init(lr0, like=jnp.zeros((), jnp.float64)), losses)[1]

        losses = jnp.asarray(LOSSES, jnp.float64)
        scanned = jax.jit(run)(jnp.float64(0.1), losses)
        np.testing.assert_allclose(np.asarray(scanned), python_lrs(), rtol=1e-12)
        batch = jax.jit(jax.vmap(run, in_axes=(0, None)))(jnp.asarray([0.1, 0.2]), losses)
        np.testing.assert_allclose(np.asarray(batch[1]), [2 * v if v > 1e-4 else v for v in python_lrs()], rtol=1e-12)


def test_torch_controller_scheduler_and_float64_state() -> None:
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import ControllerScheduler

    tensors = [torch.tensor(loss, dtype=torch.float64) for loss in LOSSES]
    lrs, state = pure_run(C, tensors, C.init(like=torch.zeros((), dtype=torch.float64)))
    assert [float(v) for v in lrs] == python_lrs()
    assert state.lr.dtype == torch.float64 and state.step.dtype == torch.int32
    model = torch.nn.Linear(2, 1)
    decay, rest = [model.weight], [model.bias]  # two param groups sharing one LR (decay / no-decay)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 0.01}, {"params": rest}], lr=0.1)
    sched = ControllerScheduler(opt, C)
    seen = []
    for loss in LOSSES:
        opt.step()
        sched.step(loss)
        seen.append([g["lr"] for g in opt.param_groups])
    assert seen == [[v, v] for v in python_lrs()]


def test_optax_scale_by_controller_and_controlled() -> None:
    pytest.importorskip("optax")
    import jax
    import jax.numpy as jnp
    import optax

    from lrsched.adapters.optax import controlled, lr_of, scale_by_controller

    for opt in (scale_by_controller(C), controlled(optax.identity(), C)):
        params = jnp.ones(2)
        state = opt.init(params)
        update = jax.jit(opt.update)
        got = []
        for loss in LOSSES:
            _, state = update(params, state, params, value=jnp.float32(loss))
            got.append(float(lr_of(state)))
        np.testing.assert_allclose(got, python_lrs(), rtol=1e-6)


KERAS_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
import numpy as np, keras
from test_custom_controller import BoundedEMA
from lrsched.adapters.keras import ControllerCallback

keras.utils.set_random_seed(0)
x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
y = x.sum(1, keepdims=True)
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(1.5), loss="mse")  # too high: the loss rises, the LR shrinks
controller = BoundedEMA()  # no init_lr: it starts at the optimizer's LR
cb = ControllerCallback(controller, monitor="loss", frequency="epoch")
hist = model.fit(x, y, epochs=8, batch_size=16, verbose=0, shuffle=False, callbacks=[cb])
state, expected = controller.init(1.5), []
for loss in hist.history["loss"]:
    state = controller.update(state, loss)
    expected.append(controller.lr(state))
print(json.dumps({{"lrs": hist.history["learning_rate"], "expected": expected}}))
"""


@pytest.mark.parametrize("backend", ["jax", "torch", "tensorflow"])
def test_keras_controller_callback_in_a_fresh_process(backend: str, tmp_path: Path) -> None:
    pytest.importorskip("keras")
    pytest.importorskip(backend)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(KERAS_SCRIPT.format(tests=str(Path(__file__).parent))))
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(result["lrs"], result["expected"], rtol=1e-6)
    assert len(set(result["expected"])) > 1, result  # the controller moved the LR during fit
