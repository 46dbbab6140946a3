"""Checkpoints written by lrsched 0.2 still load, and continue exactly as they did at 0.2.

``tests/fixtures/v0_2/`` holds what 0.2 wrote (``make.py`` there, run once at 0.2): for every registered controller
its config, the closure's ``state_dict()`` after 20 updates, the next 20 signals and the 20 LRs 0.2 returned for
them; and torch ``ControllerScheduler`` checkpoints (with 0.2's key ``"greedy"``). Every fixture file is checked:

* the config rebuilds (``lrsched.from_config``) a value equal to the one built afresh from the same settings;
* a fresh closure that loads the ``state_dict`` returns exactly (``==``) the recorded LRs;
* a torch scheduler built afresh loads the ``.pt`` (``weights_only=True``) and trains on with the recorded LRs;

* a Keras ``ControllerCallback`` built afresh loads its 0.2 ``state_dict()`` and logs the recorded LRs;

and every controller name registered at 0.2 has a fixture (a name dropped from the registry fails too).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import lrsched

HERE = Path(__file__).resolve().parent / "fixtures" / "v0_2"
#: the controller names registered in lrsched 0.2 (lrsched.controllers.registry() at that version)
V02_NAMES = frozenset(
    {"abel", "gap_aware", "hypergradient", "learned", "lrtuner", "on_schedule", "greedy", "greedy_on"}
)

_spec = importlib.util.spec_from_file_location("v02_make", HERE / "make.py")
assert _spec is not None and _spec.loader is not None
make: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make)
_spec = importlib.util.spec_from_file_location("v02_make_optax", HERE / "make_optax.py")
assert _spec is not None and _spec.loader is not None
make_optax: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_optax)

JSON_FILES = sorted(p for p in HERE.glob("*.json") if not p.name.startswith("keras_"))
TORCH_FILES = sorted(HERE.glob("*.pt"))
KERAS_FILES = sorted(HERE.glob("keras_*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_fixture_file_is_a_known_case() -> None:
    """No fixture file goes unchecked: each one is parametrized below and has a builder."""
    assert {p.stem for p in JSON_FILES} == set(make.CASES)
    assert {p.stem for p in TORCH_FILES} == {f"torch_{c}" for c in make.TORCH_CASES}
    assert [p.stem for p in KERAS_FILES] == ["keras_greedy"]
    assert {p.name for p in HERE.iterdir() if p.is_file()} == {
        "make.py",
        "make_optax.py",
        "optax_greedy.npz",
        *(p.name for p in JSON_FILES),
        *(p.name for p in TORCH_FILES),
        *(p.name for p in KERAS_FILES),
    }


def test_every_controller_of_0_2_is_still_registered_and_has_a_fixture() -> None:
    registry = lrsched.controllers.registry()
    assert V02_NAMES <= set(registry), f"registered at 0.2, missing now: {sorted(V02_NAMES - set(registry))}"
    covered = {_load(p)["config"]["name"] for p in JSON_FILES}
    for name in registry:
        if name in V02_NAMES:
            assert name in covered, f"controller {name!r} existed at 0.2 and has no fixture in {HERE}"


@pytest.mark.parametrize("path", JSON_FILES, ids=[p.stem for p in JSON_FILES])
def test_config_of_0_2_rebuilds_the_same_value(path: Path) -> None:
    data = _load(path)
    fresh, _ = make.CASES[data["case"]]()
    rebuilt = lrsched.from_config(data["config"])
    assert type(rebuilt) is type(fresh)
    assert rebuilt == fresh


@pytest.mark.parametrize("path", JSON_FILES, ids=[p.stem for p in JSON_FILES])
def test_state_dict_of_0_2_continues_with_the_recorded_lrs(path: Path) -> None:
    data = _load(path)
    sched = lrsched.control(lrsched.from_config(data["config"]), data["closure_lr"])
    sched.load_state_dict(data["state_dict"])
    assert sched.t == data["updates_before"]
    expected = make.decode(data["continuation_lrs"])
    got = []
    for signals in make.decode(data["continuation_signals"]):
        lr = sched(**signals)
        got.append(list(lr) if isinstance(lr, tuple) else lr)
    assert got == expected


@pytest.mark.parametrize("path", JSON_FILES, ids=[p.stem for p in JSON_FILES])
def test_signal_stream_of_the_fixture_is_the_generator_s(path: Path) -> None:
    """The recorded signals are still what ``make.signal_stream`` gives (the torch loop and the builders share it)."""
    data = _load(path)
    fresh, _ = make.CASES[data["case"]]()
    stream = [make.signals_for(fresh, s) for s in make.signal_stream()]
    recorded = data["prefix_signals"] + data["continuation_signals"]  # 0.2's LRTuner declared the loss; now nothing
    assert make.encode(stream) == [{k: v for k, v in s.items() if k in fresh.signals} for s in recorded]


@pytest.mark.parametrize("path", TORCH_FILES, ids=[p.stem for p in TORCH_FILES])
def test_torch_checkpoint_of_0_2_loads_and_continues(path: Path) -> None:
    """GreedyLR continues bit for bit. The additive hypergradient's ``g . d`` is read as ``g . theta_t - g .
    theta_{t-1}`` since 0.3 (no pass forming the change): its float32 rounding differs, the LRs agree to 1e-8."""
    torch = pytest.importorskip("torch")
    data = torch.load(path, weights_only=True)
    assert "greedy" in data["scheduler"], "the fixture must hold 0.2's key for the controller state"
    model, opt, sched = make.torch_setup(data["case"])
    assert data["settings"] == sched.settings.to_config()
    model.load_state_dict(data["model"])
    opt.load_state_dict(data["optimizer"])
    sched.load_state_dict(data["scheduler"])
    assert sched.last_epoch == make.TORCH_PREFIX
    assert sched.get_last_lr() == data["scheduler"]["_last_lr"]
    steps = range(make.TORCH_PREFIX, make.TORCH_PREFIX + make.TORCH_CONTINUATION)
    lrs = make.torch_train(model, opt, sched, steps)
    if data["case"] == "hypergradient":
        assert lrs == pytest.approx(data["continuation_lrs"], rel=1e-8, abs=0)
    else:
        assert lrs == data["continuation_lrs"]


@pytest.mark.parametrize("path", KERAS_FILES, ids=[p.stem for p in KERAS_FILES])
def test_keras_callback_state_of_0_2_loads_and_continues(path: Path) -> None:
    """In a subprocess with ``KERAS_BACKEND=numpy`` (Keras picks its backend once per process)."""
    pytest.importorskip("keras")
    data = _load(path)
    assert "greedy" in data["callback_state"], "the fixture must hold 0.2's key for the controller state"
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('v02_make', {str(HERE / 'make.py')!r})\n"
        "make = importlib.util.module_from_spec(spec); spec.loader.exec_module(make)\n"
        f"data = json.loads(open({str(path)!r}).read())\n"
        "print(json.dumps(make.keras_continue(data['callback_state'], data['continuation_losses'])))\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "KERAS_BACKEND": "numpy", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(root)}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == data["continuation_lrs"]


def test_optax_greedy_state_of_0_2_upgrades_and_continues() -> None:
    """An Optax checkpoint of 0.2 (the leaves of the parameters and the optimizer state, restored into today's
    ``opt.init`` tree) lacks GreedyLR's ``total``: as restored it is refused by the jitted update (shapes), and
    after ``upgrade_state`` it continues with 0.2's LRs and parameters, bit for bit."""
    jax = pytest.importorskip("jax")
    pytest.importorskip("optax")
    import numpy as np

    from lrsched.adapters.optax import upgrade_state

    data = np.load(HERE / "optax_greedy.npz")
    opt, params, batch = make_optax.build()
    treedef = jax.tree_util.tree_structure(opt.init(params))
    leaves = [jax.numpy.asarray(data[f"state_{i}"]) for i in range(treedef.num_leaves)]
    restored = jax.tree_util.tree_unflatten(treedef, leaves)
    params = jax.numpy.asarray(data["params"])
    with pytest.raises((TypeError, ValueError)):
        make_optax.run(opt, params, restored, batch, 1)
    upgraded = upgrade_state(restored, make_optax.settings())
    assert upgrade_state(upgraded, make_optax.settings()) is not None
    after, _, lrs = make_optax.run(opt, params, upgraded, batch, make_optax.CONTINUATION)
    assert lrs == data["lrs"].tolist()
    np.testing.assert_array_equal(np.asarray(after), data["params_after"])


def test_optax_upgrade_state_refuses_a_state_that_is_no_earlier_layout() -> None:
    """A state packed for other settings (a longer window) is not completed silently: the message names both
    sizes."""
    pytest.importorskip("optax")
    import jax.numpy as jnp
    import optax

    from lrsched.adapters.optax import scale_by_greedy_lr, upgrade_state

    wide = lrsched.GreedyLR(init_lr=0.1, window=5)
    state = optax.chain(optax.scale_by_adam(), scale_by_greedy_lr(wide)).init(jnp.zeros(2))
    assert upgrade_state(state, wide) == state
    with pytest.raises(ValueError, match="upgrade_state: a GreedyLR state of 9 floats"):
        upgrade_state(state, lrsched.GreedyLR(init_lr=0.1, window=3))
