"""``ProbeLR``: an in-run LR range test, then an anneal from the LR the test picked (loss only).

Meant for a user who knows the budget and only a rough LR ``lr0`` (off by up to 10x either way). It reads
nothing but the loss, so every adapter drives it with no extra plumbing, and the probe is part of the run:
it costs no gradient evaluation beyond the budget.

With ``B`` the budget in updates, ``P = max(2, round(probe * B))`` the longest probe and
``g = (high / low) ** (1 / P)``, the LR of update ``t`` (0-based; ``step`` counts optimizer updates) is

* **probe** (until it stops, at most ``P`` updates): ``lr_t = lr0 * low * g**t``, rising geometrically
  from ``lr0 * low`` towards ``lr0 * high`` (Smith's LR range test, run on the model being trained);
* **anneal** (the rest of the run): ``lr_t = peak * d(z_t)``, ``d`` the ``shape``: ``1 - z`` ("linear"),
  ``(1 + cos(pi z)) / 2`` ("cosine") or ``(1 - z) / (1/2 + (1 - z) / 2)`` ("rex"); with ``anneal="end"``,
  ``z_t = 1 - clip((B - t) / (decay * B), 0, 1)`` (``peak`` held, then annealed to 0 over the last ``decay``
  of the budget: warmup-stable-decay), with ``anneal="rest"``, ``z_t = (t - S) / (B - S)``, ``S`` the
  update count when the probe stopped (annealed to 0 over the whole rest of the run).

The probe watches ``s``, an EMA of the log loss ``x_t = log f(theta_t)`` with rate
``a = 1 / max(1, smoothing * P)`` (started at the first loss), and its lowest value ``m``; ``lr_best`` is the
LR of the update that followed the loss where ``s`` last reached ``m``. The probe stops after the loss of
update ``t`` when ``s > m + log(rise)`` (the smoothed loss rose clearly above its best) once that test is
*armed*, ``x_t > m + log(blowup)`` (one loss far above it: divergence), the loss is not finite, or
``t + 1 = P``. The rise test is armed once the smoothed loss fell by ``descent`` from its level after the
first smoothing window, or once the probe's LR reached ``lr0 * arm`` (a loss that sits on a plateau while the
LR grows, as a transformer's at first, would otherwise never arm it). Then

``peak = lr_best / (backoff * exp(noise * sigma))``,

``sigma**2`` the variance of the log loss's noise measured over the probe's first ``Q = max(smoothing * P,
10)`` updates (at most ``P / 2``; the LR is still small there, so the loss barely moves):
``sum((x_k - x_{k-1})**2 / 2) / (Q - 1)``. Noisy minibatch losses push the stability edge the probe finds
above the LR that ends lowest; the term backs off further by as much.

The test's time scale is a fixed fraction of the probe, so the LR grows by the same factor per smoothing
window whatever the budget (``(high / low) ** smoothing``). After the probe a non-finite loss halves
``peak`` (the EMAs ignore it). Losses are taken as positive (below 1e-30 count as 1e-30).

Reference: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017 (the LR range
test); warmup-stable-decay: Hu et al., "MiniCPM", 2024; REX: Chen et al., "REX: Revisiting Budgeted Training
with an Improved Schedule", MLSys 2022. Settings chosen on development and validation tasks only
(``benchmarks/results/no_tuning_protocol.md``).

Example:
    >>> from lrsched.controllers.probe import ProbeLR
    >>> c = ProbeLR(init_lr=0.1, budget=100)
    >>> s = c.init()
    >>> round(c.lr(s), 6)  # the probe starts at lr0 * low
    0.003333
    >>> for loss in (2.0, 1.5, 1.2):
    ...     s = c.update(s, loss)
    >>> c.lr(s) > 0.0034  # still probing: the LR rises
    True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, NamedTuple

from lrsched._core.backend import Namespace
from lrsched._core.validate import MAX_COUNT, choice, integer, real_in
from lrsched.controllers.ops import finite_or
from lrsched.controllers.protocol import Controller, register_controller

__all__ = ["ProbeLR", "ProbeState"]

_TINY = 1e-30


class ProbeState(NamedTuple):
    lr: Any  #: the LR of the next update
    step: Any  #: updates seen
    lr0: Any  #: the user's rough LR
    ema: Any  #: EMA of the log loss
    best: Any  #: lowest ``ema`` during the probe
    start: Any  #: ``ema`` at the end of the probe's first smoothing window
    best_lr: Any  #: the LR of the update after the loss where ``ema`` reached ``best``
    probing: Any  #: 1.0 while the probe runs, then 0.0
    peak: Any  #: the LR after the probe (0 until the probe stops)
    prev: Any  #: the last finite log loss
    jitter: Any  #: EMA of half the squared step-to-step change of the log loss (its noise variance)
    stopped: Any  #: the update count when the probe stopped (0 while probing)


_SHAPES = ("linear", "cosine", "rex")


@register_controller("probe")
@dataclasses.dataclass(frozen=True, kw_only=True)
class ProbeLR(Controller[ProbeState]):
    """LR range test inside the run, then a decay from the LR found (formulas: module docstring).

    Args:
        init_lr: the rough LR ``lr0`` (or pass ``lr=`` to ``init``).
        budget: the run's length ``B`` in optimizer updates (>= 10).
        probe: the longest probe as a fraction of the budget, in (0, 0.5].
        low, high: the probe sweeps ``lr0 * low`` to ``lr0 * high`` (``0 < low < 1 < high``).
        smoothing: the loss EMA's window as a fraction of the probe, in (0, 1).
        rise: stop when the smoothed loss exceeds its best times ``rise`` (> 1).
        blowup: stop when one loss exceeds the best smoothed loss times ``blowup`` (>= ``rise``).
        descent: the ``rise`` test is armed once the smoothed loss fell below its level at the end of the
            first smoothing window divided by ``descent`` (>= 1; 1: always armed) ...
        arm: ... or once the probe's LR reached ``lr0 * arm`` (in [``low``, ``high``]; ``high``: never).
        backoff: ``peak = lr_best / (backoff * exp(noise * sigma))`` (>= 1), ``sigma`` the measured noise
            of the log loss at the stop.
        noise: the noise term's weight (>= 0; 0: a fixed ``backoff``).
        decay: with ``anneal="end"``, the final anneal to 0 as a fraction of the budget, in (0, 1].
        shape: the anneal's shape, 'linear', 'cosine' or 'rex'.
        anneal: 'end' (hold ``peak``, anneal over the last ``decay`` of the budget) or 'rest' (anneal from
            the probe's stop to the end of the budget).
        plateau: where the smoothed loss never fell by ``descent`` during the probe, 'best' keeps the rule
            above; 'lr0' takes ``peak = min(lr0, lr_stop / (backoff * exp(noise * sigma)))`` instead
            (``lr_stop``: the LR of the update whose loss stopped the probe), since the best loss on a plateau
            is noise; 'end' does so only where the probe also ran to its end (no rise, no blow-up).
    """

    init_lr: float | None = None
    budget: int = 1000
    probe: float = 0.1
    low: float = 1.0 / 30.0
    high: float = 100.0
    smoothing: float = 0.05
    rise: float = 1.3
    blowup: float = 3.0
    descent: float = 1.3
    arm: float = 1.0
    backoff: float = 1.5
    noise: float = 0.0
    decay: float = 0.2
    shape: str = "rex"
    anneal: str = "rest"
    plateau: str = "lr0"

    positive_lr: ClassVar[bool] = True  # the probe sweeps lr0 * low ... lr0 * high on a log scale

    def __post_init__(self) -> None:
        o, put = self.owner, object.__setattr__
        put(self, "budget", integer(o, "budget", self.budget, 10, MAX_COUNT))
        put(self, "probe", real_in(o, "probe", self.probe, low=0.0, low_open=True, high=0.5))
        put(self, "low", real_in(o, "low", self.low, low=0.0, low_open=True, high=1.0, high_open=True))
        put(self, "high", real_in(o, "high", self.high, low=1.0, low_open=True))
        put(
            self, "smoothing", real_in(o, "smoothing", self.smoothing, low=0.0, low_open=True, high=1.0, high_open=True)
        )
        put(self, "rise", real_in(o, "rise", self.rise, low=1.0, low_open=True))
        put(self, "blowup", real_in(o, "blowup", self.blowup, low=self.rise))
        put(self, "descent", real_in(o, "descent", self.descent, low=1.0))
        put(self, "arm", real_in(o, "arm", self.arm, low=self.low, high=self.high))
        put(self, "backoff", real_in(o, "backoff", self.backoff, low=1.0))
        put(self, "noise", real_in(o, "noise", self.noise, low=0.0))
        put(self, "decay", real_in(o, "decay", self.decay, low=0.0, low_open=True, high=1.0))
        put(self, "shape", choice(o, "shape", self.shape, _SHAPES))
        put(self, "anneal", choice(o, "anneal", self.anneal, ("end", "rest")))
        put(self, "plateau", choice(o, "plateau", self.plateau, ("best", "lr0", "end")))
        super().__post_init__()

    @property
    def probe_steps(self) -> int:
        """``P``: the longest probe in updates."""
        return max(2, round(self.probe * self.budget))

    @property
    def quiet_steps(self) -> int:
        """The probe's first updates, over which the loss's noise is measured: ``max(smoothing * P, 10)``, at most
        ``P / 2``."""
        return max(2, min(self.probe_steps // 2, max(round(self.smoothing * self.probe_steps), 10)))

    def initial_state(self, lr: Any) -> ProbeState:
        return ProbeState(lr * self.low, 0, lr, 0.0, 0.0, 0.0, lr * self.low, 1.0, 0.0, 0.0, 0.0, 0.0)

    def rule(self, state: ProbeState, s: dict[str, Any], xp: Namespace) -> ProbeState:
        loss = s["loss"]
        finite = xp.isfinite(loss)
        x = xp.log(xp.maximum(xp.where(finite, loss, 1.0), _TINY))
        first = state.step == 0
        rate = 1.0 / max(1.0, self.smoothing * self.probe_steps)
        ema = xp.where(first, x, state.ema + rate * (x - state.ema))
        ema, _ = finite_or(xp.where(finite, ema, state.ema), state.ema, xp)
        probing = state.probing > 0.5
        window = max(1.0, self.smoothing * self.probe_steps)
        warm = state.step >= window  # the EMA has forgotten its start: from here the test may stop
        # the loss's noise, measured over the probe's first updates (the LR is still small: the loss barely moves)
        quiet = self.quiet_steps
        change = xp.where(first | (finite == False), 0.0, x - state.prev)  # noqa: E712
        jitter = xp.where(
            state.step < quiet, state.jitter + 0.5 * change * change / max(1.0, quiet - 1.0), state.jitter
        )
        prev = xp.where(finite, x, state.prev)
        lower = (warm == False) | (ema < state.best)  # noqa: E712
        best = xp.where(probing & lower, ema, state.best)
        start = xp.where(warm, state.start, ema)
        # the loss fell, or the LR moved far enough, before the loss may be said to rise
        armed = (best < start - math.log(self.descent)) | (state.lr >= state.lr0 * (self.arm * (1.0 - 1e-12)))
        best_lr = xp.where(probing & lower, state.lr, state.best_lr)
        t1 = state.step + 1  # the index of the next update
        t1f = t1 + 0.0 * state.lr0  # as a float of the state's dtype (torch: int * float gives float32)
        test = (((ema > best + math.log(self.rise)) & armed) | (x > best + math.log(self.blowup))) & finite & warm
        stop = probing & (test | (finite == False) | (t1 >= self.probe_steps))  # noqa: E712
        halved = xp.where(finite, state.peak, 0.5 * state.peak)
        cut = self.backoff * xp.exp(self.noise * xp.sqrt(xp.maximum(jitter, 0.0)))
        picked = best_lr / cut
        if self.plateau != "best":  # the loss never fell: the probe's best is noise; keep lr0 (below the stop's LR)
            flat = best >= start - math.log(self.descent)
            if self.plateau == "end":  # ... only where the probe ran to its end without a rise or a blow-up
                flat = flat & (t1 >= self.probe_steps) & (test == False) & finite  # noqa: E712
            picked = xp.where(flat, xp.minimum(state.lr0, state.lr / cut), picked)
        peak = xp.where(stop, picked, xp.where(probing, state.peak, halved))
        still = probing & (stop == False)  # noqa: E712
        stopped = xp.where(stop, t1f, state.stopped)
        lr_probe = state.lr0 * self.low * xp.exp(t1f * (math.log(self.high / self.low) / self.probe_steps))
        if self.anneal == "end":
            z = 1.0 - xp.minimum(xp.maximum((self.budget - t1f) / (self.decay * self.budget), 0.0), 1.0)
        else:
            z = xp.minimum(xp.maximum((t1f - stopped) / xp.maximum(self.budget - stopped, 1.0), 0.0), 1.0)
        if self.shape == "linear":
            left = 1.0 - z
        elif self.shape == "cosine":
            left = 0.5 * (1.0 + xp.cos(math.pi * z))
        else:  # REX (Chen et al. 2022): (1 - z) / (1/2 + (1 - z) / 2)
            left = (1.0 - z) / (0.5 + 0.5 * (1.0 - z))
        lr = xp.where(still, lr_probe, peak * left)
        return ProbeState(
            lr, t1, state.lr0, ema, best, start, best_lr, xp.where(still, 1.0, 0.0), peak, prev, jitter, stopped
        )
