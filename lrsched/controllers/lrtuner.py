"""A look-ahead tuner after LRTuner (Iyer et al., "LRTuner: A Learning Rate Tuner for Deep Neural Networks",
arXiv 2105.14526) -- a simplified tuner, not the paper's algorithm: every ``interval`` updates, try a few
candidate LRs for a short look-ahead and keep the best.

A single per-step signal cannot answer "what would the loss be with this LR?", so the controller asks the training
loop through one small interface:

``lookahead(lr: float, steps: int) -> float``
    provided by the loop: snapshot the trainable state (parameters *and* optimizer state), train ``steps`` updates
    with LR ``lr``, return a loss measured afterwards (e.g. on a held-out batch), and restore the snapshot.

``tuner.explore(state, lookahead) -> state`` calls ``lookahead(lr * f, lookahead_steps)`` for every ``f`` in
``factors`` and sets the LR to the candidate with the lowest finite loss (ties and all-NaN keep the current LR,
which is the candidate ``f = 1`` when ``1.0 in factors``). ``tuner.due(state)`` says whether an exploration is due
(every ``interval`` updates, starting at update 0). Between explorations ``update(state, loss)`` only counts
updates, the loss accepted and not read (it is pure and runs under ``jax.jit``); ``explore`` runs eagerly in
Python, since it runs training steps.

The loop::

    state = tuner.init(lr=0.01)
    for batch in batches:
        if tuner.due(state):
            state = tuner.explore(state, lookahead)
        loss = train_step(batch, lr=state.lr)
        state = tuner.update(state, loss)

This keeps the paper's idea (local look-ahead search of the LR at intervals) in its simplest form; the paper's
full algorithm also decides the search direction and the explore/exploit phases from the loss trend, which is left
out. The class keeps the name ``LRTuner`` (and the config name ``"lrtuner"``) for compatibility. Its rule reads
no signal (``signals = ()``): ``update`` only counts updates, and the losses that decide come from ``lookahead``.
Cost: ``len(factors) * lookahead_steps`` extra updates (plus a snapshot/restore) every ``interval`` updates.

Example:
    >>> from lrsched import LRTuner
    >>> tuner = LRTuner(init_lr=0.1, factors=(0.5, 1.0, 2.0), lookahead_steps=3)
    >>> s = tuner.explore(tuner.init(), lambda lr, steps: (lr - 0.2) ** 2)   # a loop whose best LR is 0.2
    >>> s.lr
    0.2
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

from lrsched._core.backend import Namespace
from lrsched._core.validate import MAX_COUNT, integer, optional_real_in, real_in, sequence
from lrsched.controllers.protocol import Controller, register_controller

__all__ = ["LRTuner", "LRTunerState"]

_MAX_FACTORS = 64  # candidates per exploration (each costs a look-ahead)


class LRTunerState(NamedTuple):
    lr: Any  #: the LR of the next update
    step: Any  #: updates seen
    explorations: Any  #: explorations done


@register_controller("lrtuner")
@dataclasses.dataclass(frozen=True, kw_only=True)
class LRTuner(Controller[LRTunerState]):
    """A look-ahead tuner after LRTuner (not the paper's algorithm): local LR search at intervals through a
    ``lookahead(lr, steps) -> loss`` callback (module docstring).

    Args:
        init_lr: initial LR (or ``init(lr=...)``).
        factors: candidate multipliers of the current LR (> 0, at least two, no repeats).
        interval: updates between explorations (>= 1).
        lookahead_steps: updates per candidate look-ahead (>= 1).
        min_lr, max_lr: bounds of the candidates.
    """

    init_lr: float | None = None
    factors: tuple[float, ...] = (0.5, 1.0, 2.0)
    interval: int = 100
    lookahead_steps: int = 10
    min_lr: float = 0.0
    max_lr: float | None = None

    signals: ClassVar[tuple[str, ...]] = ()  # the rule reads no signal: the look-ahead losses decide
    needs: ClassVar[frozenset[str]] = frozenset({"lookahead"})

    def __post_init__(self) -> None:
        o, put = self.owner, object.__setattr__
        raw = sequence(o, "factors", self.factors)
        if not 2 <= len(raw) <= _MAX_FACTORS:
            raise ValueError(f"{o}: factors must hold 2 to {_MAX_FACTORS} distinct values, got {len(raw)}")
        factors = tuple(real_in(o, f"factors[{i}]", f, low=0.0, low_open=True) for i, f in enumerate(raw))
        if len(set(factors)) != len(factors):
            raise ValueError(f"{o}: factors must hold distinct values, got {factors!r}")
        put(self, "factors", factors)
        put(self, "interval", integer(o, "interval", self.interval, 1, MAX_COUNT))
        put(self, "lookahead_steps", integer(o, "lookahead_steps", self.lookahead_steps, 1, MAX_COUNT))
        put(self, "min_lr", real_in(o, "min_lr", self.min_lr, low=0.0))
        put(self, "max_lr", optional_real_in(o, "max_lr", self.max_lr, low=self.min_lr))
        super().__post_init__()

    def lr_bounds(self, group: int) -> tuple[float, float | None]:
        return self.min_lr, self.max_lr

    def initial_state(self, lr: Any) -> LRTunerState:
        return LRTunerState(lr, 0, 0)

    def rule(self, state: LRTunerState, s: dict[str, Any], xp: Namespace) -> LRTunerState:
        return state._replace(step=state.step + 1)

    def due(self, state: LRTunerState) -> bool:
        """Whether an exploration is due before the next update (eager: reads ``state.step``)."""
        return int(state.step) % self.interval == 0

    def candidates(self, lr: float) -> tuple[float, ...]:
        """The LRs an exploration from ``lr`` tries, clipped to ``[min_lr, max_lr]``, in ``factors`` order."""
        top = math.inf if self.max_lr is None else self.max_lr
        return tuple(min(max(lr * f, self.min_lr), top) for f in self.factors)

    def explore(self, state: LRTunerState, lookahead: Callable[[float, int], Any]) -> LRTunerState:
        """Try every candidate through ``lookahead(lr, steps)`` and keep the one with the lowest loss."""
        lr = float(state.lr)
        best_lr, best_loss = lr, math.inf
        tried = {}
        for cand in self.candidates(lr):
            if cand not in tried:
                tried[cand] = float(lookahead(cand, self.lookahead_steps))
            loss = tried[cand]
            if not math.isfinite(loss):  # a diverged look-ahead (NaN, +-inf) is never the best
                continue
            if loss < best_loss or (loss == best_loss and cand == lr):
                best_lr, best_loss = cand, loss
        new_lr = best_lr if math.isfinite(best_loss) else lr
        like = state.lr
        if not isinstance(like, float):  # keep the state's array type
            new_lr = like * 0.0 + new_lr
        return state._replace(lr=new_lr, explorations=state.explorations + 1)
