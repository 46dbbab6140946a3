"""Schedule constructors answer a wrong keyword with lrsched's word for it (lrsched/_core/hints.py)."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

import lrsched
from lrsched._core.hints import PEER_NAMES


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_every_hint_names_a_real_field() -> None:
    """Schedules and controllers share the table; an entry without candidates is advice (``verbose=``)."""
    classes = [*lrsched.registry().values(), *lrsched.controllers.registry().values()]
    every = {name for cls in classes for name in _fields(cls)}
    for key, (candidates, where) in PEER_NAMES.items():
        assert where, key
        assert set(candidates) <= every, (
            f"{key}: {sorted(set(candidates) - every)} is no schedule's or controller's field"
        )
        assert key not in {c for c in candidates}, key


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            lambda: lrsched.cosine_decay(0.1, T_max=100),
            "cosine_decay: unexpected keyword argument `T_max=`; did you mean `decay_steps=`?",
        ),
        (lambda: lrsched.cosine_decay(0.1, 100, eta_min=0.0), "did you mean `end_value=`?"),
        (
            lambda: lrsched.step_decay(0.1, 10, gamma=0.5),
            "step_decay: unexpected keyword argument `gamma=`; did you mean `drop=`?",
        ),
        (lambda: lrsched.exponential_decay(0.1, gamma=0.9), "did you mean `decay_rate=`?"),
        (lambda: lrsched.wsd(1.0, 100, 10, warmup_target=1.0), "did you mean `peak_value=`?"),
        (lambda: lrsched.warmup(lrsched.constant(1.0), warmup_step=10), "did you mean `warmup_steps=`?"),
        (lambda: lrsched.warmup(lrsched.constant(1.0), num_warmup_steps=10), "did you mean `warmup_steps=`?"),
        (lambda: lrsched.cosine_restarts(0.1, T_0=10), "did you mean `first_period=`?"),
        (lambda: lrsched.linear(0.0, 1.0, total_iters=10), "did you mean `transition_steps=`?"),
        (lambda: lrsched.cosine_decay(0.1, 10, transition_begin=5), "(from Optax; here, wrap the schedule"),
        (lambda: lrsched.cosine_decay(0.1, 10, foo=1), "valid keywords: init_value, decay_steps, end_value"),
    ],
)
def test_a_foreign_or_misspelt_keyword_names_lrscheds(call, expected) -> None:
    with pytest.raises(TypeError) as err:
        call()
    assert expected in str(err.value)


def test_every_registered_schedule_explains_every_peer_name_it_has_a_field_for() -> None:
    for name, cls in lrsched.registry().items():
        fields = _fields(cls)
        for key, (candidates, _) in PEER_NAMES.items():
            mine = [c for c in candidates if c in fields]
            if key in fields or not mine:
                continue
            with pytest.raises(
                TypeError,
                match=rf"^{name}: unexpected keyword argument `{key}=`; did you mean "
                rf"`{mine[0]}=`\?",
            ):
                cls(**{key: 1})


def test_other_errors_and_value_semantics_are_unchanged() -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'decay_steps'"):
        lrsched.cosine_decay(0.1)
    with pytest.raises(ValueError, match="decay_steps must be > 0"):
        lrsched.cosine_decay(0.1, 0)
    s = lrsched.cosine_decay(0.1, 10)
    assert pickle.loads(pickle.dumps(s)) == s and dataclasses.replace(s, decay_steps=5).decay_steps == 5
    assert "decay_steps" in str(inspect.signature(lrsched.CosineDecay))
