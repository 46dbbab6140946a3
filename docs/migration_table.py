"""The migration guide, as data: each row maps a peer's scheduler to the lrsched call that gives its LR sequence.

The site renders the tables from :data:`ROWS` (``render``); ``tests/test_migration_guide.py`` evaluates both
expressions of every row against the live peer and checks the row's stated :class:`Relation`. A row cannot be
wrong without the test failing, and the guide cannot say what the rows do not.

Expressions are Python source, shown verbatim. Names they may use:

* torch and transformers rows: ``opt``, a ``torch.optim.SGD`` with ``lr=LR`` (and momentum, which ``OneCycleLR`` and
  ``CyclicLR`` cycle), the classes of ``torch.optim.lr_scheduler``, ``get_scheduler`` and ``GreedyLR`` of
  ``transformers.optimization``; on the lrsched side ``lrsched`` and ``GreedyLRScheduler``
  (``lrsched.adapters.torch``). A schedule on the lrsched side drives the optimizer through
  ``schedule_lr(opt, schedule)``.
* optax rows: ``optax``, ``lrsched``, ``scale_by_greedy_lr``.
* keras rows: ``keras``, ``lrsched``, ``GreedyLRCallback``, ``KerasSchedule``.

Drivers (how a row's sequence is read, the same for both sides): ``schedule`` -- the LR of update ``k`` for ``k`` in
``range(steps)`` (torch: read before update ``k``; optax and Keras: the schedule called at ``k``); ``plateau`` --
the LR after each value of :data:`LOSSES` has been reported (torch: ``scheduler.step(loss)``; Keras:
``on_epoch_end``; optax: the scale held in the state after ``update(..., value=loss)``); ``inject`` -- the
``learning_rate`` hyperparameter in an ``optax.inject_hyperparams`` state after each update.

A row's ``steps`` cover its whole run: past the step where its schedule stops changing, or all of :data:`LOSSES`.
The test also trains with the torch, transformers and optax (inject, plateau) rows and compares the parameters over
the updates whose LRs the relation says agree (``update_lag``, ``training_differs``: where they agree otherwise).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

LR = 0.1  # the optimizer's learning rate in the torch and transformers rows

# The monitored values of the plateau rows: improvements, a plateau, a slow drift, a spike, another plateau, then
# a long plateau on which every row keeps reducing to its floor (or, without one, below 1e-8, where an `eps` shows).
LOSSES: list[float] = (
    [1.0 / (1.0 + 0.2 * i) for i in range(12)]
    + [0.3] * 8
    + [0.3 - 0.001 * i for i in range(10)]
    + [0.5]
    + [0.29 + 0.01 * math.sin(i) for i in range(19)]
    + [0.28] * 200
)

FRAMEWORKS = ("torch", "optax", "keras", "transformers")
TITLES = {
    "torch": "PyTorch (`torch.optim.lr_scheduler`)",
    "optax": "Optax",
    "keras": "Keras 3 (`keras.optimizers.schedules`, `keras.callbacks`)",
    "transformers": "Hugging Face transformers (`transformers.optimization`)",
}
# What the lrsched column means in each framework, said once above its table.
USAGE = {
    "torch": f"`opt` is any optimizer (here SGD with `lr={LR}`). A schedule in the lrsched column runs as "
    "`lrsched.adapters.torch.schedule_lr(opt, schedule)`, which sets each group's LR to the schedule's value "
    "(not a multiple of the optimizer's initial LR).",
    "optax": "A schedule in the lrsched column is an Optax schedule as it is (`optax.adam(learning_rate=schedule)`); "
    "`lrsched.adapters.optax.as_optax_schedule(schedule)` makes the type explicit.",
    "keras": "A schedule in the lrsched column goes into an optimizer as "
    "`keras.optimizers.Adam(lrsched.adapters.keras.KerasSchedule(schedule))`.",
    "transformers": f"`opt` is any torch optimizer (here SGD with `lr={LR}`); `w` warmup steps and `T` training "
    "steps are the numbers in the row. A schedule in the lrsched column runs as "
    "`lrsched.adapters.torch.schedule_lr(opt, schedule)`.",
}


def _close(a: np.ndarray, b: np.ndarray, rtol: float) -> np.ndarray:
    """Elementwise agreement, relative to the larger of the value and the sequence's scale."""
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return np.abs(a - b) <= rtol * np.maximum(np.abs(b), scale) + 1e-300


@dataclasses.dataclass(frozen=True)
class Relation:
    """Same LR at every step."""

    def text(self) -> str:
        return "same"

    def agreeing(self, steps: int) -> int:
        """How many first updates get the same LR, so a training run gives the same parameters through them."""
        return steps

    def check(self, peer: np.ndarray, ours: np.ndarray, rtol: float) -> None:
        bad = np.flatnonzero(~_close(ours, peer, rtol))
        assert bad.size == 0, f"differ first at step {bad[0]}: peer {peer[bad[0]]!r}, lrsched {ours[bad[0]]!r}"


@dataclasses.dataclass(frozen=True)
class SameThrough(Relation):
    """Same LR up to and including ``step``; different after it (the peer rises again, lrsched holds its end)."""

    step: int

    def text(self) -> str:
        return f"same through step {self.step}, then lrsched holds its end value"

    def agreeing(self, steps: int) -> int:
        return self.step + 1

    def check(self, peer: np.ndarray, ours: np.ndarray, rtol: float) -> None:
        n = self.step + 1
        Relation().check(peer[:n], ours[:n], rtol)
        assert peer.size > n, "the row must run past the step it names"
        assert np.all(ours[n:] == ours[n]), "lrsched holds its end value"
        assert not np.all(_close(ours[n:], peer[n:], rtol)), "the peer does not depart after the step named"


@dataclasses.dataclass(frozen=True)
class OneStepLater(Relation):
    """The peer switches one step later: its LR at step ``t`` is lrsched's at ``t - 1``."""

    def text(self) -> str:
        return "one step later in the peer: its LR at `t` is lrsched's at `t - 1`"

    def agreeing(self, steps: int) -> int:
        return 1

    def check(self, peer: np.ndarray, ours: np.ndarray, rtol: float) -> None:
        Relation().check(peer[1:], ours[:-1], rtol)
        assert _close(ours[:1], peer[:1], rtol).all()
        assert not np.all(_close(ours, peer, rtol)), "the sequences are not the same"


@dataclasses.dataclass(frozen=True)
class PhaseEndsLater(Relation):
    """lrsched's phase ends (peak, floor) come one step after the peer's."""

    def text(self) -> str:
        return "peak and floor one step later in lrsched than in the peer"

    def agreeing(self, steps: int) -> int:
        return 1

    def check(self, peer: np.ndarray, ours: np.ndarray, rtol: float) -> None:
        assert int(np.argmax(ours)) == int(np.argmax(peer)) + 1, (np.argmax(ours), np.argmax(peer))
        floor = np.min(peer, keepdims=True)
        assert _close(peer[-1:], floor, rtol).all(), "the peer is at its floor on the last step compared"
        assert ours[-1] > peer[-1], "lrsched reaches the floor one step later"


SAME = Relation()


@dataclasses.dataclass(frozen=True)
class Row:
    framework: str
    peer: str  # Python source building the peer's scheduler
    lrsched: str  # Python source building what lrsched uses in its place
    steps: int = 100  # how many steps (or LOSSES values) the test compares: the whole run, past its end
    relation: Relation = SAME
    note: str = ""
    driver: str = "schedule"  # "schedule", "plateau" or "inject"
    # The update a new LR first applies to, lrsched against the peer: 0 (the same update) or 1 (lrsched's next one,
    # where the peer applies a reduction to the update that reported the value).
    update_lag: int = 0
    # Why training differs although the LRs agree (the peer schedules something else too); empty: it does not.
    training_differs: str = ""

    @property
    def id(self) -> str:
        """A stable test id: framework, position among its rows, the peer's name."""
        head = self.peer.split("(", 1)[0].rsplit(".", 1)[-1]
        return f"{self.framework}-{rows(self.framework).index(self)}-{head.strip(chr(39))}"


_CYCLES_MOMENTUM = "torch cycles the optimizer's momentum too (cycle_momentum=True); schedule_lr sets only the LR"

_T = "torch"
_O = "optax"
_K = "keras"
_H = "transformers"

ROWS: list[Row] = [
    # --- torch.optim.lr_scheduler -----------------------------------------------------------------------------
    Row(_T, "StepLR(opt, step_size=30, gamma=0.1)", "lrsched.step_decay(0.1, step_size=30, drop=0.1)", steps=280),
    Row(
        _T,
        "MultiStepLR(opt, milestones=[30, 80], gamma=0.1)",
        "lrsched.multistep_decay(0.1, milestones=(30, 80), drop=0.1)",
    ),
    Row(_T, "ExponentialLR(opt, gamma=0.95)", "lrsched.exponential_decay(0.1, decay_rate=0.95)", steps=360),
    Row(
        _T,
        "CosineAnnealingLR(opt, T_max=60, eta_min=0.001)",
        "lrsched.cosine_decay(0.1, decay_steps=60, end_value=0.001)",
        relation=SameThrough(60),
        note="Past `T_max` torch follows the cosine back up (to 0.1 at `2 * T_max`); lrsched holds `end_value`. "
        "For restarts use `cosine_restarts`.",
    ),
    Row(
        _T,
        "CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2, eta_min=0.001)",
        "lrsched.cosine_restarts(0.1, first_period=10, period_mult=2, end_value=0.001)",
    ),
    Row(
        _T,
        "OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.3)",
        "lrsched.one_cycle(1.0, total_steps=100, pct_start=0.3)",
        relation=PhaseEndsLater(),
        training_differs=_CYCLES_MOMENTUM,
        note="lrsched (like Optax) peaks at `pct_start * total_steps` and reaches the floor at `total_steps`; torch "
        "one step earlier. The next row gives torch's sequence exactly. `anneal_strategy='linear'` is "
        "`anneal='linear'`, `three_phase=True` the same.",
    ),
    Row(
        _T,
        "OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.3)",
        "lrsched.one_cycle(1.0, total_steps=99, pct_start=29 / 99)",
        training_differs=_CYCLES_MOMENTUM,
        note="torch's phase ends exactly: `total_steps - 1` steps, peak at `pct_start * total_steps - 1`. "
        "torch also cycles the momentum (0.95 to 0.85 and back, `cycle_momentum=True` by default), which "
        "`schedule_lr` leaves alone: the same LRs train differently unless torch's is built with "
        "`cycle_momentum=False`.",
    ),
    Row(
        _T,
        "CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=10, step_size_down=15, mode='triangular2')",
        "lrsched.cyclic(0.01, 0.1, step_size_up=10, step_size_down=15, mode='triangular2')",
        steps=680,
        training_differs=_CYCLES_MOMENTUM,
        note="`mode='exp_range'` with `gamma` is the same. torch also cycles the momentum (0.9 to 0.8 and back, "
        "`cycle_momentum=True` by default), which `schedule_lr` leaves alone: the same LRs train differently "
        "unless torch's is built with `cycle_momentum=False`.",
    ),
    Row(
        _T,
        "LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=20)",
        "lrsched.linear(0.01, 0.1, transition_steps=20)",
        note="torch's factors multiply the optimizer's LR; lrsched takes the values.",
    ),
    Row(
        _T,
        "PolynomialLR(opt, total_iters=50, power=2.0)",
        "lrsched.polynomial(0.1, 0.0, transition_steps=50, power=2.0)",
    ),
    Row(
        _T,
        "SequentialLR(opt, [LinearLR(opt, start_factor=0.1, total_iters=10), CosineAnnealingLR(opt, T_max=90)], "
        "milestones=[10])",
        "lrsched.warmup(lrsched.cosine_decay(0.1, decay_steps=90), warmup_steps=10, init_value=0.01)",
        steps=120,
        relation=SameThrough(100),
        note="Past the cosine's `T_max` (step 100) torch follows the cosine back up; lrsched holds 0. "
        "Any sequence of phases: `lrsched.join(schedules, boundaries)` or named `lrsched.phases(...)`; "
        "each phase sees its local step, as in `SequentialLR`.",
    ),
    Row(
        _T,
        "ReduceLROnPlateau(opt, factor=0.5, patience=3, cooldown=2, min_lr=0.01)",
        "GreedyLRScheduler(opt, lrsched.reduce_on_plateau(factor=0.5, patience=3, cooldown=2, min_lr=0.01))",
        steps=len(LOSSES),
        driver="plateau",
        note="Same arguments and defaults; `scheduler.step(loss)` as in torch. Outside torch's sensible range "
        "lrsched differs on purpose: a `'rel'` threshold scales `abs(best)` (negative metrics work) and a "
        "non-finite value never becomes `best`.",
    ),
    # --- optax ------------------------------------------------------------------------------------------------
    Row(_O, "optax.constant_schedule(0.1)", "lrsched.constant(0.1)"),
    Row(
        _O,
        "optax.linear_schedule(init_value=0.0, end_value=0.1, transition_steps=50)",
        "lrsched.linear(0.0, 0.1, transition_steps=50)",
    ),
    Row(
        _O,
        "optax.polynomial_schedule(init_value=0.1, end_value=0.001, power=2.0, transition_steps=80)",
        "lrsched.polynomial(0.1, 0.001, transition_steps=80, power=2.0)",
    ),
    Row(
        _O,
        "optax.exponential_decay(init_value=0.1, transition_steps=10, decay_rate=0.8, staircase=True, end_value=0.01)",
        "lrsched.exponential_decay(0.1, decay_rate=0.8, transition_steps=10, staircase=True, end_value=0.01)",
        steps=120,
    ),
    Row(
        _O,
        "optax.cosine_decay_schedule(init_value=0.1, decay_steps=80, alpha=0.01)",
        "lrsched.cosine_decay(0.1, decay_steps=80, end_value=0.001)",
        note="`alpha` is a fraction of `init_value`; `end_value` is the value.",
    ),
    Row(
        _O,
        "optax.warmup_cosine_decay_schedule(init_value=0.0, peak_value=0.1, warmup_steps=10, decay_steps=100, "
        "end_value=0.001)",
        "lrsched.warmup(lrsched.cosine_decay(0.1, decay_steps=90, end_value=0.001), warmup_steps=10)",
        steps=120,
        note="Optax's `decay_steps` includes the warmup; the cosine inside `lrsched.warmup` counts from the "
        "warmup's end (`clock='after_warmup'`).",
    ),
    Row(
        _O,
        "optax.warmup_constant_schedule(init_value=0.0, peak_value=0.1, warmup_steps=20)",
        "lrsched.warmup(lrsched.constant(0.1), warmup_steps=20)",
    ),
    Row(
        _O,
        "optax.warmup_exponential_decay_schedule(init_value=0.0, peak_value=0.1, warmup_steps=10, "
        "transition_steps=15, decay_rate=0.5, end_value=0.005)",
        "lrsched.warmup(lrsched.exponential_decay(0.1, 0.5, transition_steps=15, end_value=0.005), warmup_steps=10)",
    ),
    Row(
        _O,
        "optax.piecewise_constant_schedule(init_value=0.1, boundaries_and_scales={30: 0.1, 60: 0.5})",
        "lrsched.piecewise_constant(boundaries=(30, 60), values=(0.1, 0.01, 0.005))",
        note="Optax's scales multiply; lrsched takes the values. Both switch at the boundary step.",
    ),
    Row(
        _O,
        "optax.piecewise_interpolate_schedule('linear', init_value=0.1, boundaries_and_scales={20: 0.5, 60: 0.1})",
        "lrsched.piecewise_linear(points=((0, 0.1), (20, 0.05), (60, 0.005)))",
    ),
    Row(
        _O,
        "optax.cosine_onecycle_schedule(transition_steps=100, peak_value=1.0, pct_start=0.3)",
        "lrsched.one_cycle(1.0, total_steps=100, pct_start=0.3)",
        steps=120,
    ),
    Row(
        _O,
        "optax.linear_onecycle_schedule(transition_steps=100, peak_value=1.0, pct_start=0.3, pct_final=0.85)",
        "lrsched.piecewise_linear(points=((0, 1.0 / 25), (30, 1.0), (85, 1.0 / 25), (100, 1.0 / 25 / 1e4)))",
        steps=120,
        note="Optax's linear one-cycle returns to the start at `pct_final`; lrsched's `one_cycle(three_phase=True)` "
        "at `2 * pct_start`, so `piecewise_linear` gives Optax's.",
    ),
    Row(
        _O,
        "optax.sgdr_schedule([dict(init_value=0.0, peak_value=0.1, warmup_steps=5, decay_steps=40)] * 3)",
        "lrsched.join([lrsched.warmup(lrsched.cosine_decay(0.1, 35), warmup_steps=5)] * 3, boundaries=(40, 80))",
        steps=140,
        note="Without warmups, equal cycles are `lrsched.cosine_restarts(0.1, first_period=40)`.",
    ),
    Row(
        _O,
        "optax.join_schedules([optax.linear_schedule(0.0, 0.1, 10), optax.cosine_decay_schedule(0.1, 90)], "
        "boundaries=[10])",
        "lrsched.join((lrsched.linear(0.0, 0.1, 10), lrsched.cosine_decay(0.1, 90)), boundaries=(10,))",
        steps=120,
        note="Both give each phase its local step (counted from its boundary).",
    ),
    Row(
        _O,
        "optax.inject_hyperparams(optax.sgd)(learning_rate=optax.cosine_decay_schedule(0.1, 40))",
        "optax.inject_hyperparams(optax.sgd)(learning_rate=lrsched.cosine_decay(0.1, 40))",
        steps=50,
        driver="inject",
        note="Any lrsched schedule is an Optax schedule, here too: the state's `hyperparams['learning_rate']` "
        "follow it.",
    ),
    Row(
        _O,
        "optax.contrib.reduce_on_plateau(factor=0.5, patience=3, rtol=1e-4, cooldown=2)",
        "scale_by_greedy_lr(lrsched.reduce_on_plateau(init_lr=1.0, factor=0.5, patience=2, threshold=1e-4, "
        "cooldown=2, eps=0.0), flip_sign=False)",
        steps=len(LOSSES),
        driver="plateau",
        update_lag=1,
        note="Optax reduces after `patience` values without improvement, lrsched (and torch) after "
        "`patience + 1`: Optax's `patience=p` is `patience=p - 1` here. Optax has no `eps`: lrsched's default "
        "`eps=1e-8` (torch's) skips a reduction smaller than 1e-8, so without `eps=0.0` the two part once "
        "the scale falls below about 2e-8. Both scale the updates (so start at 1.0); `flip_sign=False` keeps "
        "their sign, as Optax's does (the default, `True`, multiplies by `-lr` like "
        "`optax.scale_by_learning_rate`, for use in place of the learning rate). Optax applies a reduced scale "
        "to the update that reported the value, lrsched from the next update on, as torch's "
        "`scheduler.step(loss)` does. `accumulation_size` (averaging before deciding) is `window`-like but "
        "decides only once per block.",
    ),
    # --- keras ------------------------------------------------------------------------------------------------
    Row(
        _K,
        "keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.8, staircase=True)",
        "lrsched.exponential_decay(0.1, decay_rate=0.8, transition_steps=10, staircase=True)",
        steps=870,
    ),
    Row(
        _K,
        "keras.optimizers.schedules.PiecewiseConstantDecay(boundaries=[30, 60], values=[0.1, 0.01, 0.001])",
        "lrsched.piecewise_constant(boundaries=(30, 60), values=(0.1, 0.01, 0.001))",
        relation=OneStepLater(),
        note="Keras keeps a value through its boundary step; lrsched (like torch and Optax) switches at it. "
        "The next row gives Keras' sequence exactly.",
    ),
    Row(
        _K,
        "keras.optimizers.schedules.PiecewiseConstantDecay(boundaries=[30, 60], values=[0.1, 0.01, 0.001])",
        "lrsched.piecewise_constant(boundaries=(31, 61), values=(0.1, 0.01, 0.001))",
    ),
    Row(
        _K,
        "keras.optimizers.schedules.PolynomialDecay(0.1, decay_steps=80, end_learning_rate=0.001, power=2.0)",
        "lrsched.polynomial(0.1, 0.001, transition_steps=80, power=2.0)",
    ),
    Row(
        _K,
        "keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5)",
        "lrsched.inverse_time_decay(0.1, decay_rate=0.5, decay_steps=10)",
    ),
    Row(
        _K,
        "keras.optimizers.schedules.CosineDecay(0.1, decay_steps=80, alpha=0.01)",
        "lrsched.cosine_decay(0.1, decay_steps=80, end_value=0.001)",
        note="`alpha` is a fraction of the initial LR; `end_value` is the value.",
    ),
    Row(
        _K,
        "keras.optimizers.schedules.CosineDecay(0.0, decay_steps=80, alpha=0.01, warmup_target=0.1, warmup_steps=20)",
        "lrsched.warmup(lrsched.cosine_decay(0.1, decay_steps=80, end_value=0.001), warmup_steps=20)",
        steps=120,
        note="Keras' `decay_steps` count after the warmup, as the cosine inside `lrsched.warmup` does.",
    ),
    Row(
        _K,
        "keras.optimizers.schedules.CosineDecayRestarts(0.1, first_decay_steps=10, t_mul=2.0, m_mul=0.7, alpha=0.1)",
        "lrsched.cosine_restarts(0.1, first_period=10, period_mult=2.0, decay=0.7, end_value=0.01, "
        "decay_mode='amplitude')",
        note="Keras' `m_mul` scales the cosine term (`decay_mode='amplitude'`); lrsched's default "
        "`decay_mode='peak'` decays the peak and keeps the floor, as timm does.",
    ),
    Row(
        _K,
        "keras.callbacks.ReduceLROnPlateau(monitor='loss', factor=0.5, patience=3, min_delta=0.0)",
        "GreedyLRCallback(lrsched.reduce_on_plateau(factor=0.5, patience=2, threshold=0.0, eps=0.0), monitor='loss')",
        steps=len(LOSSES),
        driver="plateau",
        note="Keras reduces after `patience` epochs without improvement, torch and lrsched after `patience + 1`: "
        "Keras' `patience=p` is `patience=p - 1` here. Keras has no `eps`: with lrsched's default `eps=1e-8` "
        "(torch's) the LRs part once a reduction would be smaller than 1e-8, hence `eps=0.0`. Keras' "
        "`min_delta` counts a value up to `min_delta` *worse* than the best as an improvement "
        "(`current - min_delta < best`), so this row sets it to 0; "
        "lrsched's `threshold` asks for an improvement by that much. `GreedyLRCallback` also works when the "
        "optimizer's LR is a `KerasSchedule`, where Keras' callback raises `TypeError`.",
    ),
    # --- transformers -----------------------------------------------------------------------------------------
    Row(
        _H,
        "get_scheduler('linear', opt, num_warmup_steps=10, num_training_steps=100)",
        "lrsched.warmup(lrsched.linear(0.1, 0.0, transition_steps=90), warmup_steps=10)",
        steps=120,
    ),
    Row(
        _H,
        "get_scheduler('cosine', opt, num_warmup_steps=10, num_training_steps=100)",
        "lrsched.warmup(lrsched.cosine_decay(0.1, decay_steps=90), warmup_steps=10)",
        steps=120,
        relation=SameThrough(100),
        note="Past `num_training_steps` transformers' cosine rises again; lrsched holds 0.",
    ),
    Row(
        _H,
        "get_scheduler('cosine_with_min_lr', opt, num_warmup_steps=10, num_training_steps=100, "
        "scheduler_specific_kwargs={'min_lr': 0.001})",
        "lrsched.warmup(lrsched.cosine_decay(0.1, decay_steps=90, end_value=0.001), warmup_steps=10)",
        steps=120,
        relation=SameThrough(100),
    ),
    Row(
        _H,
        "get_scheduler('cosine_warmup_with_min_lr', opt, num_warmup_steps=10, num_training_steps=100, "
        "scheduler_specific_kwargs={'min_lr': 0.001})",
        "lrsched.shift(lrsched.warmup(lrsched.cosine_decay(0.1, decay_steps=90, end_value=0.001), warmup_steps=10), "
        "offset=-1)",
        steps=120,
        relation=SameThrough(99),
        note="This one runs a step ahead (its LR at step 0 is `lr / w`): `shift(..., offset=-1)` reproduces it.",
    ),
    Row(
        _H,
        "get_scheduler('cosine_with_restarts', opt, num_warmup_steps=10, num_training_steps=100, "
        "scheduler_specific_kwargs={'num_cycles': 3})",
        "lrsched.warmup(lrsched.join((lrsched.cosine_restarts(0.1, first_period=30), lrsched.constant(0.0)), "
        "boundaries=(90,)), warmup_steps=10)",
        steps=120,
        note="Hard restarts: `num_cycles` equal cycles over the steps after the warmup, then 0.",
    ),
    Row(
        _H,
        "get_scheduler('polynomial', opt, num_warmup_steps=10, num_training_steps=100, "
        "scheduler_specific_kwargs={'lr_end': 1e-4, 'power': 2.0})",
        "lrsched.warmup(lrsched.polynomial(0.1, 1e-4, transition_steps=90, power=2.0), warmup_steps=10)",
        steps=120,
    ),
    Row(_H, "get_scheduler('constant', opt)", "lrsched.constant(0.1)"),
    Row(
        _H,
        "get_scheduler('constant_with_warmup', opt, num_warmup_steps=10)",
        "lrsched.warmup(lrsched.constant(0.1), warmup_steps=10)",
    ),
    Row(
        _H,
        "get_scheduler('inverse_sqrt', opt, num_warmup_steps=10)",
        "lrsched.inverse_sqrt(0.1, warmup_steps=10)",
    ),
    Row(
        _H,
        "get_scheduler('warmup_stable_decay', opt, num_warmup_steps=10, num_training_steps=100, "
        "scheduler_specific_kwargs={'num_decay_steps': 30, 'min_lr_ratio': 0.01})",
        "lrsched.wsd(0.1, total_steps=100, decay_steps=30, warmup_steps=10, init_value=0.001, end_value=0.001, "
        "decay_shape='cosine')",
        steps=120,
    ),
    Row(
        _H,
        "get_scheduler('reduce_lr_on_plateau', opt, scheduler_specific_kwargs={'patience': 3})",
        "GreedyLRScheduler(opt, lrsched.reduce_on_plateau(patience=3))",
        steps=len(LOSSES),
        driver="plateau",
        note="torch's `ReduceLROnPlateau`; its arguments go in `scheduler_specific_kwargs`.",
    ),
    Row(
        _H,
        "GreedyLR(opt, patience=2, factor=0.5, min_lr=0.01, max_lr=0.4, smooth=True, window_size=3)",
        "GreedyLRScheduler(opt, lrsched.GreedyLR(patience=2, factor=0.5, min_lr=0.01, max_lr=0.4, window=3, "
        "threshold=1e-6, threshold_mode='abs', reset_start=500))",
        steps=len(LOSSES),
        driver="plateau",
        note="lrsched's defaults differ from transformers': `threshold=1e-4` relative (theirs `1e-6` absolute), "
        "`min_lr=0.0` (theirs `1e-3`), `max_lr=None` (theirs 1.0), no resets (theirs `reset_start=500`), "
        "`window=1` (theirs 50 when `smooth=True`). Pass theirs to get their sequence, as here.",
    ),
    Row(
        _H,
        "get_scheduler('greedy', opt, scheduler_specific_kwargs={'patience': 3, 'factor': 0.8})",
        "GreedyLRScheduler(opt, lrsched.GreedyLR(patience=3, factor=0.8, threshold=1e-6, threshold_mode='abs', "
        "min_lr=1e-3, max_lr=1.0, reset_start=500))",
        steps=len(LOSSES),
        driver="plateau",
        note="transformers' `GreedyLR` with its defaults, spelled out on the lrsched side.",
    ),
]

# Peers' schedulers with no row, and why.
NOT_COVERED: dict[str, dict[str, str]] = {
    "transformers": {},
}


def rows(framework: str) -> list[Row]:
    return [r for r in ROWS if r.framework == framework]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(framework: str, rows_: Sequence[Row] | None = None) -> str:
    """The Markdown table of one framework's rows."""
    lines = [
        USAGE[framework],
        "",
        "| peer | lrsched | LR sequence |",
        "|---|---|---|",
    ]
    for row in rows(framework) if rows_ is None else rows_:
        said = f"**{row.relation.text()}**" + (f". {row.note}" if row.note else "")
        lines.append(f"| `{_cell(row.peer)}` | `{_cell(row.lrsched)}` | {_cell(said)} |")
    return "\n".join(lines) + "\n"
