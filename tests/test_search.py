"""Schedule search: grid and random sampling over config spaces, seeded; the Optuna bridge."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

import lrsched as L
from lrsched.search import choice, grid, int_uniform, log_uniform, optimize, parameters, sample, suggest, uniform

SPACE = {
    "name": "warmup",
    "warmup_steps": int_uniform(10, 200),
    "schedule": choice(
        [
            {"name": "cosine_decay", "init_value": log_uniform(1e-4, 1e-1), "decay_steps": 1000},
            {"name": "rex", "init_value": log_uniform(1e-4, 1e-1), "total_steps": 1000, "end_value": 0.0},
        ]
    ),
}


def test_sampling_is_reproducible_by_seed_and_yields_buildable_plain_configs():
    a, b, c = sample(SPACE, 20, seed=7), sample(SPACE, 20, seed=7), sample(SPACE, 20, seed=8)
    assert a == b
    assert a != c
    for config in a:
        assert json.loads(json.dumps(config)) == config  # plain JSON data
        sched = L.from_config(config)
        assert 10 <= sched.warmup_steps <= 200 and isinstance(sched.warmup_steps, int)
        assert 1e-4 <= sched.schedule.init_value <= 1e-1
    assert {cfg["schedule"]["name"] for cfg in a} == {"cosine_decay", "rex"}


def test_ranges_have_the_right_distribution():
    draws = sample({"u": uniform(2.0, 4.0), "g": log_uniform(1e-6, 1.0), "i": int_uniform(1, 4)}, 4000, seed=0)
    u = np.array([d["u"] for d in draws])
    g = np.log10([d["g"] for d in draws])
    i = np.array([d["i"] for d in draws])
    assert 2.0 <= u.min() and u.max() <= 4.0 and abs(np.mean(u < 3.0) - 0.5) < 0.03
    # log-uniform: each decade gets about 1/6 of the draws
    counts = np.histogram(g, bins=6, range=(-6, 0))[0] / len(g)
    np.testing.assert_allclose(counts, 1 / 6, atol=0.025)
    assert set(i.tolist()) == {1, 2, 3, 4}
    assert abs(np.mean(i == 4) - 0.25) < 0.03


def test_grid_enumerates_every_combination_in_a_fixed_order():
    space = {"name": "cosine_decay", "init_value": log_uniform(1e-3, 1e-1), "decay_steps": choice([100, 200])}
    configs = list(grid(space, points=3))
    assert len(configs) == 6
    assert configs == list(grid(space, points=3))
    values = sorted({c["init_value"] for c in configs})
    np.testing.assert_allclose(values, [1e-3, 1e-2, 1e-1])  # geometric points, ends included
    assert {c["decay_steps"] for c in configs} == {100, 200}
    # nested choices of whole sub-configs: 3 warmups x (3 cosine + 3 rex)
    assert len(list(grid(SPACE, points=3))) == 3 * 6
    assert [c["value"] for c in grid({"value": int_uniform(1, 3)}, points=5)] == [1, 2, 3]


def test_parameters_are_listed_by_dotted_path():
    assert list(parameters(SPACE)) == ["warmup_steps", "schedule", "schedule[0].init_value", "schedule[1].init_value"]


class FakeTrial:
    """The slice of ``optuna.trial.Trial`` that :func:`suggest` uses; picks the middle of each range."""

    def __init__(self, categorical_pick=-1):
        self.calls = []
        self.pick = categorical_pick

    def suggest_float(self, name, low, high, *, log=False):
        self.calls.append(("float", name, low, high, log))
        return math.sqrt(low * high) if log else (low + high) / 2

    def suggest_int(self, name, low, high, *, log=False):
        self.calls.append(("int", name, low, high, log))
        return (low + high) // 2

    def suggest_categorical(self, name, choices):
        self.calls.append(("categorical", name, tuple(choices)))
        return choices[self.pick]


def test_suggest_maps_each_parameter_to_the_optuna_call():
    trial = FakeTrial()
    config = suggest(trial, SPACE, prefix="lr.")
    assert trial.calls == [
        ("int", "lr.warmup_steps", 10, 200, False),
        ("categorical", "lr.schedule", (0, 1)),  # sub-configs are chosen by index
        ("float", "lr.schedule[1].init_value", 1e-4, 1e-1, True),
    ]
    assert config == {
        "name": "warmup",
        "warmup_steps": 105,
        "schedule": {
            "name": "rex",
            "init_value": pytest.approx(math.sqrt(1e-5)),
            "total_steps": 1000,
            "end_value": 0.0,
        },
    }
    L.from_config(config)


def test_suggest_passes_plain_choices_through():
    trial = FakeTrial(categorical_pick=0)
    config = suggest(trial, {"name": "constant", "value": choice([0.1, 0.01])})
    assert trial.calls == [("categorical", "value", (0.1, 0.01))]
    assert config == {"name": "constant", "value": 0.1}


@pytest.mark.skipif(importlib.util.find_spec("optuna") is not None, reason="optuna is installed")
def test_optimize_names_the_extra_when_optuna_is_missing():
    with pytest.raises(ImportError, match=r"lrsched\[optuna\]"):
        optimize(lambda config: 0.0, SPACE, n_trials=1)


def test_bad_spaces_raise():
    with pytest.raises(ValueError, match="low <= high"):
        uniform(1.0, 0.0)
    with pytest.raises(ValueError, match="log scale"):
        log_uniform(0.0, 1.0)
    with pytest.raises(ValueError, match="empty"):
        choice([])
    with pytest.raises(TypeError, match="list or tuple"):
        choice("abc")
    with pytest.raises(ValueError, match="n must be"):
        sample(SPACE, -1)
    with pytest.raises(ValueError, match="points"):
        list(grid(SPACE, points=0))


def test_random_search_picks_a_schedule_that_trains_well():
    # Gradient descent on f(w) = 0.5 * sum(h_i * w_i**2), h in [0.1, 1]: stable for peak < 2, and
    # after 50 steps the loss is smallest for peaks near 2 / (0.1 + 1) (the classic optimum).
    h = np.linspace(0.1, 1.0, 8)

    def final_loss(config):
        sched = L.from_config(config)
        w = np.ones_like(h)
        for step in range(50):
            w = w - sched(step) * h * w
        return float(0.5 * np.sum(h * w * w))

    space = {
        "name": "warmup",
        "warmup_steps": int_uniform(1, 5),
        "schedule": {"name": "constant", "value": log_uniform(1e-3, 10.0)},
    }
    configs = sample(space, 40, seed=0)
    best = min(configs, key=final_loss)
    assert 1.0 < best["schedule"]["value"] < 2.0
    assert final_loss(best) < 1e-3 * final_loss({"name": "constant", "value": 1e-3})
