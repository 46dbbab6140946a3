"""Value semantics (hash, equality, pickle, repr, configs) and configs from untrusted input."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import sys

import pytest
from conftest import ALL_SCHEDULES, IDS
from hypothesis import given
from hypothesis import strategies as st

import lrsched as L
import lrsched._core.config as lrsched_config


def _names(s: L.Schedule) -> set[str]:
    config = json.dumps(s.to_config())
    return {name for name in L.registry() if f'"name": "{name}"' in config}


def test_the_catalogue_covers_every_registered_schedule() -> None:
    covered = set().union(*(_names(s) for s in ALL_SCHEDULES))
    assert covered == set(L.registry())


@pytest.mark.parametrize("sched", ALL_SCHEDULES, ids=IDS)
def test_value_semantics(sched: L.Schedule) -> None:
    twin = L.from_config(json.loads(json.dumps(sched.to_config())))
    assert twin == sched and hash(twin) == hash(sched) and twin is not sched
    assert pickle.loads(pickle.dumps(sched)) == sched
    assert copy.deepcopy(sched) == sched
    rebuilt = eval(repr(sched), vars(L))  # the repr reads like the constructor call
    assert rebuilt == sched and repr(rebuilt) == repr(sched)
    assert L.from_json(json.dumps(sched.to_config())) == sched
    for step in (0, 3, 7.5, 1000):
        assert twin(step) == sched(step) == rebuilt(step)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(sched, "schedule" if hasattr(sched, "schedule") else "value", 1.0)


def test_evaluation_caches_are_not_part_of_the_value() -> None:
    a, b = L.piecewise_constant((3, 7), (1.0, 0.5, 0.1)), L.piecewise_constant((3, 7), (1.0, 0.5, 0.1))
    import numpy as np

    a(np.arange(10.0))  # fills a's per-instance cache
    assert a == b and hash(a) == hash(b)
    assert pickle.loads(pickle.dumps(a)) == b
    assert not any(k.startswith("_cache") for k in pickle.loads(pickle.dumps(a)).__dict__)


def test_different_values_are_different() -> None:
    assert L.cosine_decay(1.0, 10) != L.cosine_decay(1.0, 11)
    assert L.cosine_decay(1.0, 10) != L.linear(1.0, 0.0, 10)
    assert L.constant(1) == L.constant(1.0) and hash(L.constant(1)) == hash(L.constant(1.0))
    assert len({L.cosine_decay(1.0, 10), L.cosine_decay(1.0, 10), L.cosine_decay(2.0, 10)}) == 2


def test_configs_are_plain_json_with_nested_schedules() -> None:
    s = L.warmup(L.join((L.constant(1.0), L.cosine_decay(1.0, 10) * 0.5), (5,), names=("a", "b")), 3)
    config = s.to_config()
    assert config["name"] == "warmup" and config["schedule"]["name"] == "join"
    assert config["schedule"]["schedules"][1] == {
        "name": "product",
        "terms": [{"name": "cosine_decay", "init_value": 1.0, "decay_steps": 10, "end_value": 0.0, "exponent": 1.0}],
        "constant": 0.5,
    }
    assert json.loads(json.dumps(config)) == config


def test_function_schedules_have_no_config() -> None:
    s = L.cosine_decay(1.0, 10) * (lambda t: 1.0 + 0.0 * t)
    assert s(5) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="no config"):
        s.to_config()
    assert pickle.loads(pickle.dumps(L.warmup(L.FunctionSchedule(abs), 2))) == L.warmup(L.FunctionSchedule(abs), 2)


# -- bad configs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "error", "match"),
    [
        ({"name": "nope"}, ValueError, "unknown name 'nope'"),
        ({"name": "greedy_on"}, ValueError, "greedy_on"),
        ({"name": "os.system"}, ValueError, "unknown name"),
        ({"name": "__import__"}, ValueError, "unknown name"),
        ({"name": "function", "fn": "print"}, ValueError, "unknown name"),
        ({"value": 1.0}, ValueError, "needs a string 'name'"),
        ([], TypeError, "must be a dict"),
        ({"name": "constant", "value": 1.0, "extra": 2}, ValueError, "unknown key.*'extra'"),
        ({"name": "constant"}, ValueError, "missing required key.*value"),
        ({"name": "constant", "value": "1.0"}, TypeError, "constant: value must be a real number, got '1.0'"),
        ({"name": "constant", "value": True}, TypeError, "value must be a real number, got True"),
        ({"name": "constant", "value": 10**400}, ValueError, "value must be at most"),
        ({"name": "linear", "init_value": 1, "end_value": 0, "transition_steps": 0}, ValueError, "transition_steps"),
        ({"name": "warmup", "schedule": 1.0, "warmup_steps": 2}, TypeError, "must be a dict"),
        ({"name": "warmup", "schedule": {"name": "evil"}, "warmup_steps": 2}, ValueError, "config.schedule"),
        ({"name": "join", "schedules": {"name": "constant"}, "boundaries": []}, TypeError, "list of schedule"),
        ({"name": "sum", "left": {"name": "constant", "value": 1}, "right": "x"}, TypeError, "right"),
        ({"name": "piecewise_linear", "points": [[1, 2, 3]]}, ValueError, "pair"),
        ({"name": "multistep_decay", "init_value": 1, "milestones": 3, "drop": 0.5}, TypeError, "milestones"),
    ],
)
def test_bad_configs_raise_clear_errors(config: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        L.from_config(config)


def test_bad_json() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        L.from_json("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        L.from_json("[" * 100_000)
    with pytest.raises(ValueError, match="finite"):
        L.from_json('{"name": "constant", "value": NaN}')


def test_deep_nesting_is_rejected_not_a_recursion_error() -> None:
    config: dict[str, object] = {"name": "constant", "value": 1.0}
    for _ in range(200):
        config = {"name": "shift", "schedule": config, "offset": 0}
    with pytest.raises(ValueError, match="nest"):
        L.from_config(config)


# -- untrusted configs (hypothesis) --------------------------------------------------

_builders = sorted(lrsched_config._BUILDERS)  # non-schedule objects with configs (GreedyLR)
_names_st = st.sampled_from(
    [*sorted(L.registry()), *_builders, "os.system", "__import__", "eval", "builtins.open", "", "x"]
)
_keys = st.sampled_from([*sorted({f for cls in L.registry().values() for f in cls._kinds}), "name", "__class__"])
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["linear", "cosine", "1-sqrt", "peak", "amplitude", "global", "exponential", "triangular2"]),
)


def _configs(children: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.builds(lambda name, rest: {"name": name, **rest}, _names_st, st.dictionaries(_keys, children, max_size=6)),
    )


_json_values = st.recursive(_scalars, _configs, max_leaves=25)


def _assert_only_value_or_type_errors(config: object) -> None:
    before = set(sys.modules)
    try:
        s = L.from_config(config)
    except (ValueError, TypeError) as err:
        assert str(err)
    else:
        if not isinstance(s, L.Schedule):  # a GreedyLR built from its config
            return
        assert L.from_config(s.to_config()) == s
        for step in (0, 1, 10.5):
            try:
                value = s(step)
            except (ValueError, TypeError):  # e.g. a schedule that needs an array op
                continue
            assert isinstance(value, float)
    assert set(sys.modules) - before <= {"numpy"} | {m for m in sys.modules if m.startswith("numpy.")}


@given(_json_values)
def test_random_configs_raise_only_value_or_type_errors(config: object) -> None:
    _assert_only_value_or_type_errors(config)


_small_values = st.recursive(_scalars, _configs, max_leaves=6)
_valid_ish = st.fixed_dictionaries(
    {"name": st.sampled_from(sorted(L.registry()))},
    optional={k: _small_values for k in sorted({f for cls in L.registry().values() for f in cls._kinds})},
)


@given(_valid_ish)
def test_near_valid_configs_raise_only_value_or_type_errors(config: dict[str, object]) -> None:
    _assert_only_value_or_type_errors(config)


@given(_json_values)
def test_random_json_text_raises_only_value_or_type_errors(config: object) -> None:
    try:
        text = json.dumps(config)
    except (ValueError, TypeError):
        return
    try:
        L.from_json(text)
    except (ValueError, TypeError) as err:
        assert str(err)


@given(st.text(max_size=40))
def test_arbitrary_text_as_json(text: str) -> None:
    try:
        L.from_json(text)
    except (ValueError, TypeError) as err:
        assert str(err)


def test_arithmetic_reprs_evaluate_back() -> None:
    a, b = L.cosine_decay(1.0, 10), L.linear(0.0, 2.0, 20)
    for s in (a - b, a - 0.5, 2.0 - a, -a, a / 4, 0.5 * a + b * a, L.minimum(a, b) - L.maximum(a, 0.1)):
        rebuilt = eval(repr(s), vars(L))
        assert rebuilt == s and L.from_config(json.loads(json.dumps(s.to_config()))) == s
        assert [rebuilt(k) for k in (0, 5, 25)] == [s(k) for k in (0, 5, 25)]


def test_shared_sub_configs_are_bounded_before_anything_is_built() -> None:
    # 2**40 paths through 40 shared dicts (what YAML aliases give in 1 KB): refused at once, not expanded.
    node: dict = {"name": "constant", "value": 1.0}
    for _ in range(40):
        node = {"name": "sum", "left": node, "right": node}
    with pytest.raises(ValueError, match=r"more than .* values"):
        L.from_config(node)


def test_huge_lists_are_refused_by_count_and_messages_stay_short() -> None:
    from lrsched._core.config import MAX_NODES

    big = {"name": "piecewise_constant", "boundaries": list(range(MAX_NODES)), "values": [1.0]}
    with pytest.raises(ValueError, match="more than") as err:
        L.from_config(big)
    assert len(str(err.value)) < 300
    with pytest.raises(ValueError) as err:
        L.from_config({"name": "x" * 10**6})
    assert len(str(err.value)) < 1000
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    with pytest.raises(ValueError) as err:
        L.from_config({"name": nested})
    assert len(str(err.value)) < 400


def test_join_checks_lengths_before_elements() -> None:
    with pytest.raises(ValueError, match="boundaries must have len"):
        L.join((L.constant(1.0),), tuple(range(1, 10**6)))
    with pytest.raises(ValueError, match="boundaries must have len"):
        L.from_config({"name": "join", "schedules": [{"name": "constant", "value": 1.0}], "boundaries": [1, 2]})


@given(
    depth=st.integers(1, 60),
    leaf=st.sampled_from(
        [
            {"name": "constant", "value": 1.0},
            {"name": "linear", "init_value": 1.0, "end_value": 0.0, "transition_steps": 3},
        ]
    ),
)
def test_shared_sub_configs_build_or_are_refused_quickly(depth: int, leaf: dict) -> None:
    node = leaf
    for _ in range(depth):
        node = {"name": "product", "left": node, "right": node}
    try:
        s = L.from_config(node)
    except ValueError as err:
        assert "more than" in str(err) or "nest" in str(err)
        return
    assert s(2) == L.from_config(leaf)(2) ** (2**depth)
