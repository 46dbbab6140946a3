"""Did-you-mean for constructors (schedules and controllers): a wrong keyword names lrsched's word for it.

Python's own message (``CosineDecay.__init__() got an unexpected keyword argument 'T_max'``) names neither the
factory nor the keyword to use. :func:`unknown_keyword` words a ``TypeError`` from the class's fields: a keyword that
torch, Optax, Keras or transformers use is translated through :data:`PEER_NAMES`; anything else gets the closest
field names (``difflib``), or the list of valid keywords.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["PEER_NAMES", "explain_unknown_keywords", "unknown_keyword"]

#: a peer's keyword -> (lrsched fields it may mean, first match wins; where the peer uses it). A test checks that
#: every field named here is a field of some registered schedule.
PEER_NAMES: dict[str, tuple[tuple[str, ...], str]] = {
    "T_max": (("decay_steps", "transition_steps", "total_steps"), "torch's CosineAnnealingLR"),
    "eta_min": (("end_value", "min_value", "min_lr"), "torch's CosineAnnealingLR"),
    "gamma": (("drop", "decay_rate", "factor"), "torch's StepLR/MultiStepLR/ExponentialLR"),
    "T_0": (("first_period",), "torch's CosineAnnealingWarmRestarts"),
    "T_mult": (("period_mult",), "torch's CosineAnnealingWarmRestarts"),
    "total_iters": (("transition_steps", "decay_steps", "total_steps"), "torch's LinearLR/PolynomialLR"),
    "start_factor": (("init_value",), "torch's LinearLR, as a factor; lrsched takes the value"),
    "end_factor": (("end_value",), "torch's LinearLR, as a factor; lrsched takes the value"),
    "max_lr": (("peak_value", "max_value"), "torch's OneCycleLR/CyclicLR"),
    "base_lr": (("base_value", "init_value"), "torch's CyclicLR"),
    "anneal_strategy": (("anneal",), "torch's OneCycleLR"),
    "lr": (("init_value", "peak_value", "value", "init_lr"), "the optimizer"),
    "learning_rate": (("init_value", "peak_value", "value"), "Keras and Optax"),
    "initial_learning_rate": (("init_value",), "Keras"),
    "end_learning_rate": (("end_value",), "Keras' PolynomialDecay"),
    "warmup_target": (("peak_value", "init_value"), "Keras' CosineDecay, the value its warmup reaches"),
    "alpha": (("end_value",), "Keras' and Optax's cosine decay, as a fraction; lrsched takes the value"),
    "first_decay_steps": (("first_period",), "Keras' CosineDecayRestarts"),
    "t_mul": (("period_mult",), "Keras' CosineDecayRestarts"),
    "m_mul": (("decay",), "Keras' CosineDecayRestarts"),
    "min_lr": (("end_value", "min_value"), "transformers and ReduceLROnPlateau"),
    "lr_end": (("end_value",), "transformers' polynomial schedule"),
    "num_warmup_steps": (("warmup_steps",), "transformers"),
    "num_training_steps": (("total_steps", "decay_steps", "transition_steps"), "transformers, warmup included"),
    "num_decay_steps": (("decay_steps",), "transformers' warmup_stable_decay"),
    "decay_type": (("decay_shape",), "transformers' warmup_stable_decay"),
    "transition_begin": (("offset",), "Optax; here, wrap the schedule: lrsched.shift(schedule, offset=...)"),
    "boundaries_and_scales": (("boundaries", "values"), "Optax's piecewise schedules; lrsched takes values"),
    "decay_steps": (("transition_steps", "total_steps"), "Optax and Keras"),
    "transition_steps": (("decay_steps", "total_steps", "step_size"), "Optax"),
    # controllers (GreedyLR, ReduceLROnPlateau, the adaptive methods)
    "initial_lr": (("init_lr",), "torch's schedulers"),
    "window_size": (("window",), "transformers' GreedyLR; smoothing is on when window > 1"),
    "smooth": (("window",), "transformers' GreedyLR; smoothing is on when window > 1"),
    "accumulation_size": (("window",), "transformers' GreedyLR"),
    "min_lrs": (("min_lr",), "torch's ReduceLROnPlateau; a tuple holds one value per parameter group"),
    "max_lrs": (("max_lr",), "a tuple holds one value per parameter group"),
    "min_delta": (("threshold",), "Keras' ReduceLROnPlateau; use threshold_mode='abs'"),
    "rtol": (("threshold",), "Optax's reduce_on_plateau; use threshold_mode='rel'"),
    "atol": (("threshold",), "Optax's reduce_on_plateau; use threshold_mode='abs'"),
    "min_scale": (("min_lr",), "Optax's reduce_on_plateau, the bound of the multiplier"),
    "decay_factor": (("factor",), "ABEL's reference code"),
    "hypergrad_lr": (("beta",), "the hypergradient paper's code, the hypergradient step size"),
    "verbose": ((), "torch's schedulers; read the LR from `.lr`"),
    "last_epoch": ((), "torch's schedulers; restore a run with `load_state_dict()`"),
}


def unknown_keyword(owner: str, key: str, fields: Sequence[str]) -> TypeError:
    """The ``TypeError`` for keyword ``key`` given to ``owner`` (a schedule or controller), whose keywords are
    ``fields``; a hint names only keywords ``owner`` has."""
    key = str(key)[:40]
    head = f"{owner}: unexpected keyword argument `{key}=`"
    if key in PEER_NAMES:
        candidates, where = PEER_NAMES[key]
        mine = [c for c in candidates if c in fields]
        if mine:
            return TypeError(f"{head}; did you mean `{mine[0]}=`? (`{key}=` is from {where})")
        head += f" (from {where})"
    close = difflib.get_close_matches(key, list(fields), n=2, cutoff=0.6)
    if close:
        return TypeError(f"{head}; did you mean {' or '.join(f'`{c}=`' for c in close)}?")
    return TypeError(f"{head}; valid keywords: {', '.join(fields)}")


def explain_unknown_keywords(cls: type, owner: str) -> None:
    """Give ``cls.__init__`` (a dataclass's) the message of :func:`unknown_keyword` for a keyword it does not take.

    Only a failed call pays: the original ``__init__`` runs first, and its ``TypeError`` is replaced only when a
    keyword is not a field.
    """
    init = cls.__init__  # type: ignore[misc]
    fields = tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]

    @functools.wraps(init)
    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        try:
            init(self, *args, **kwargs)
        except TypeError:
            unknown = [k for k in kwargs if k not in fields]
            if not unknown:
                raise
            raise unknown_keyword(owner, unknown[0], fields) from None

    cls.__init__ = __init__  # type: ignore[misc]
