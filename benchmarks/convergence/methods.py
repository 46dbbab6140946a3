"""Part 2's methods in one registry: time-based schedules, LR controllers, and whole optimizers.

A :class:`Method` says how to build the method for a JAX task and (optionally) for the PyTorch task, and
whether its LR is tuned on the task's grid or taken as the method's recommended value. Every method that is
not a plain schedule is *adaptive*: besides its (tuned or recommended) LR it also runs at that LR times
``ROBUSTNESS_MULTIPLIERS``, so the report shows how robust it is to an untuned starting LR.

Adding a method is one call, e.g. a new lrsched controller with the pure ``init(lr=)`` / ``update(state, loss)``
interface (``torch=None``: not run on the PyTorch task)::

    register(Method("my_controller", "controller", jax=lambda task: lrsched.MyController(...)))

Builders by kind (``task`` is a :class:`~benchmarks.convergence.tasks.Task`):

* ``"schedule"``: ``jax(peak, steps) -> lrsched.Schedule``; the PyTorch task runs the same schedule through
  ``lrsched.adapters.torch.schedule_lr``.
* ``"controller"``: ``jax(task) -> controller`` with ``init(lr=)``, ``update(state, loss)`` and ``state.lr``
  (or ``lr_of(state)``); an lrsched controller that declares signals besides the loss runs through
  ``lrsched.adapters.optax.controlled`` (``jax=None``: not run on the JAX tasks);
  ``torch(task, lr) -> (optimizer -> scheduler)``, a scheduler whose ``step`` takes the minibatch loss
  (``ControllerScheduler`` for any lrsched controller).
* ``"optimizer"``: ``jax(task) -> (scale -> optax.GradientTransformation)`` (``scale`` is the method's LR,
  a traced scalar); ``torch(task, scale) -> (params -> (optimizer, scheduler or None))``; the modules in
  ``requires`` must import for it to run on the PyTorch task. ``eval_params(opt_state, params)`` gives the
  parameters to evaluate (schedule-free).

Example:
    >>> sorted(m.kind for m in METHODS.values() if m.name in ("cosine", "greedy", "prodigy"))
    ['controller', 'optimizer', 'schedule']
    >>> [m.name for m in adaptive()][:3]
    ['greedy', 'greedy_robust', 'greedy_on_warmup_cosine']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lrsched
from benchmarks.convergence import optimizers as _opt
from benchmarks.convergence.controllers import ScaledGreedyOn

__all__ = [
    "ADAM_GRID",
    "EIGEN_SPECTRUM",
    "KINDS",
    "METHODS",
    "REFERENCE_SCHEDULE",
    "ROBUSTNESS_MULTIPLIERS",
    "Method",
    "adaptive",
    "eigencurve_for",
    "hd_beta",
    "register",
    "unit_warmup_cosine",
]

KINDS = ("schedule", "controller", "optimizer")
ROBUSTNESS_MULTIPLIERS = (0.1, 1 / 3, 1.0, 3.0, 10.0)
# The schedule that also runs at the multipliers, so adaptive methods are compared with a fixed schedule's
# sensitivity to a mis-set peak LR.
REFERENCE_SCHEDULE = "warmup_cosine"
ADAM_GRID = (1e-3, 3e-3, 1e-2, 3e-2)  # starting grid of an Adam-type method on a task tuned for SGD (NMF)


@dataclass(frozen=True)
class Method:
    """One entry of the registry (see the module docstring for the builders of each kind).

    ``tuned``: the LR is picked from the task's grid like every schedule's; else the method runs at
    ``default`` (its authors' recommended value). ``requires``: modules the PyTorch port imports (the method
    skips the PyTorch task where one is missing). ``scalable=False``: the method has no LR or scale to set
    (it runs at ``default`` only, also in the robustness protocol). ``grid(task)``: the starting grid where
    the task's own (``task.lr_grid``, made for the task's optimizer) does not suit the method.
    ``note``: settings and source, one line for the report.
    """

    name: str
    kind: str
    jax: Callable[..., Any] | None = None
    torch: Callable[..., Any] | None = None
    tuned: bool = True
    default: float = 1.0
    eval_params: Callable[[Any, Any], Any] | None = None
    requires: tuple[str, ...] = ()
    scalable: bool = True
    grid: Callable[[Any], tuple[float, ...]] | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Method.kind must be one of {KINDS}, got {self.kind!r}")

    def jax_available(self) -> bool:
        """Whether this method runs on the JAX tasks (LRTuner, whose look-ahead needs an eager loop, does not)."""
        return self.jax is not None

    def torch_available(self) -> bool:
        """Whether this method can run on the PyTorch task here (a port exists and its modules import)."""
        import importlib.util

        has_port = self.kind == "schedule" or self.torch is not None
        return has_port and all(importlib.util.find_spec(m) is not None for m in self.requires)

    def start_grid(self, task: Any) -> tuple[float, ...]:
        """The LRs tuning starts from on ``task`` (it widens from there, see :mod:`.tuning`)."""
        return self.grid(task) if self.grid is not None else tuple(task.lr_grid)

    @property
    def adaptive(self) -> bool:
        """Whether the robustness protocol applies (every method that is not a fixed schedule)."""
        return self.kind != "schedule"


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS` (its name must be new); returns it."""
    if method.name in METHODS:
        raise ValueError(f"a method named {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def adaptive() -> list[Method]:
    """The registered adaptive methods, in registration order."""
    return [m for m in METHODS.values() if m.adaptive]


def unit_warmup_cosine(steps: int) -> lrsched.Schedule:
    """Warmup over 5% of ``steps``, then cosine to 0: peak 1 (scaled by a peak LR or an optimizer's scale)."""
    w = steps // 20
    return lrsched.warmup(lrsched.cosine_decay(1.0, steps - w), warmup_steps=w)


# -- time-based schedules -------------------------------------------------------------------------------


def _schedule(name: str, make: Callable[[float, int], lrsched.Schedule]) -> None:
    register(Method(name, "schedule", jax=make))


_schedule("constant", lambda peak, steps: lrsched.constant(peak))
_schedule("step", lambda peak, steps: lrsched.multistep_decay(peak, (steps // 2, 3 * steps // 4), 0.1))
_schedule("exponential", lambda peak, steps: lrsched.exponential_decay(peak, 0.01, transition_steps=steps))
_schedule("cosine", lambda peak, steps: lrsched.cosine_decay(peak, steps))
_schedule("warmup_cosine", lambda peak, steps: lrsched.scale(unit_warmup_cosine(steps), peak))
_schedule("wsd", lambda peak, steps: lrsched.wsd(peak, steps, decay_steps=steps // 5, warmup_steps=steps // 20))
_schedule("one_cycle", lambda peak, steps: lrsched.one_cycle(peak, steps))
_schedule("rex", lambda peak, steps: lrsched.rex(peak, steps))


# -- GreedyLR controllers -------------------------------------------------------------------------------
# Each is ``lrsched.GreedyOn``: LR = (run's starting LR) x base(t) x multiplier, the multiplier driven by
# GreedyLR from 1.0. With a constant base this is plain GreedyLR whose bounds are relative to its starting
# LR ([1/1000, 10] x start): no bound carries tuning information into the robustness runs.

_RELATIVE = {"min_lr": 1e-3, "max_lr": 10.0}


def _reference() -> lrsched.GreedyLR:
    return lrsched.GreedyLR(factor=0.95, patience=10, threshold=1e-6, threshold_mode="abs", **_RELATIVE)


def _robust(**bounds: float) -> lrsched.GreedyLR:
    b = bounds or _RELATIVE
    return lrsched.GreedyLR(factor=0.5, patience=50, window=50, cooldown=50, warmup=50, threshold=1e-3, **b)


def _greedy_on(base: Callable[[Any], lrsched.Schedule], settings: Callable[[], lrsched.GreedyLR], start: bool) -> dict:
    """``jax``/``torch`` builders of ``lr = start LR x base(t) x GreedyLR multiplier`` (from 5% on if ``start``)."""

    def start_step(task: Any) -> int:
        return task.steps // 20 if start else 0

    def jax(task: Any) -> ScaledGreedyOn:
        return ScaledGreedyOn(lrsched.GreedyOn(base(task), settings(), start_step=start_step(task)))

    def torch(task: Any, lr: float) -> Callable[[Any], Any]:
        from lrsched.adapters.torch import GreedyLRScheduler

        sched = lrsched.scale(base(task), lr)
        return lambda opt: GreedyLRScheduler(opt, settings(), base=sched, start_step=start_step(task))

    return {"jax": jax, "torch": torch}


def _one(task: Any) -> lrsched.Schedule:
    return lrsched.constant(1.0)


register(
    Method(
        "greedy",
        "controller",
        **_greedy_on(_one, _reference, start=False),
        note="GreedyLR, reference rules and defaults: factor 0.95, patience 10, abs. threshold 1e-6, no smoothing",
    )
)
register(
    Method(
        "greedy_robust",
        "controller",
        **_greedy_on(_one, _robust, start=False),
        note="GreedyLR on a 50-step mean: factor 0.5, patience = cooldown = warmup = 50, rel. threshold 1e-3",
    )
)
register(
    Method(
        "greedy_on_warmup_cosine",
        "controller",
        **_greedy_on(lambda task: unit_warmup_cosine(task.steps), lambda: _robust(min_lr=0.1, max_lr=2.0), start=True),
        note="lrsched.GreedyOn: warmup + cosine times the robust controller's multiplier in [0.1, 2]",
    )
)

# -- the schedules and controllers of the adaptive-methods issue (settings fixed before the runs) -------------
# TASO: the library's defaults, the first author's main experiments (steepness alpha = 25, drop centred at
# beta = 70% of the budget, floor 0.001 x the peak, step k read at (k + 1) / steps).
_schedule("taso", lambda peak, steps: lrsched.taso(peak, steps))

# Eigencurve needs a Hessian spectrum. Fixed a priori (not estimated on the tasks): the skewed power law the
# paper analyses, lambda_i = L * i**-2 for i = 1..100 (condition number 10**4), with L = 1 / peak so that
# lr(0) = peak; phase lengths from ``lrsched.eigencurve_phases`` for the task's budget.
EIGEN_SPECTRUM = tuple(i**-2.0 for i in range(1, 101))


def eigencurve_for(peak: float, steps: int) -> lrsched.Schedule:
    """Eigencurve for :data:`EIGEN_SPECTRUM` scaled so that ``lr(0) = peak``, over ``steps`` updates."""
    unit = lrsched.eigencurve_phases(EIGEN_SPECTRUM, steps)
    return lrsched.eigencurve(unit.max_eigenvalue / peak, unit.min_eigenvalue / peak, unit.phase_steps)


_schedule("eigencurve", eigencurve_for)

EPOCH = 1200 // 32  # updates per epoch of the digits tasks (1,200 training samples, minibatch 32)


def hd_beta(task: Any, mode: str) -> float:
    """Hypergradient step size: Baydin et al.'s additive values (1e-7 for Adam-HD, 1e-3 for SGD-HD); 0.02 for the
    multiplicative rule, whose relative LR change per step it bounds (the paper gives no value for it)."""
    if mode == "multiplicative":
        return 0.02
    return 1e-7 if task.optimizer.startswith("adam") else 1e-3


def _controller(make: Callable[[Any], Any]) -> dict:
    """``jax``/``torch`` builders of an lrsched controller: in JAX the engine feeds its declared signals through
    ``lrsched.adapters.optax.controlled``; in torch ``ControllerScheduler`` (its initial LR: the run's LR)."""

    def torch(task: Any, lr: float) -> Callable[[Any], Any]:
        import dataclasses

        from lrsched.adapters.torch import ControllerScheduler

        return lambda opt: ControllerScheduler(opt, dataclasses.replace(make(task), init_lr=lr))

    return {"jax": make, "torch": torch}


register(
    Method(
        "hypergradient",
        "controller",
        # min_lr=0.0: the setting the recorded runs used (0.2's default; the default is now the paper's unclipped rule)
        **_controller(lambda task: lrsched.Hypergradient(beta=hd_beta(task, "additive"), min_lr=0.0)),
        note="hypergradient descent, additive: beta 1e-7 (Adam tasks), 1e-3 (SGD: NMF), Baydin et al.'s values",
    )
)
register(
    Method(
        "hypergradient_mult",
        "controller",
        **_controller(lambda task: lrsched.Hypergradient(beta=hd_beta(task, "multiplicative"), mode="multiplicative")),
        note="hypergradient descent, multiplicative (normalised) rule, beta 0.02",
    )
)
register(
    Method(
        "abel",
        "controller",
        **_controller(lambda task: lrsched.ABEL(factor=0.1, interval=EPOCH, total_steps=task.steps)),
        note="ABEL: x0.1 at each weight-norm bounce (norm sampled once per epoch), final x0.1 at 85% of the budget",
    )
)


def _lrtuner_torch(task: Any, lr: float) -> Callable[[Any], Any]:
    from benchmarks.convergence.torch_task import TunerScheduler

    return lambda opt: TunerScheduler(opt, lrsched.LRTuner(init_lr=lr))


# LRTuner's look-ahead trains the model from a snapshot, so it needs the training loop (eager PyTorch here); the
# JAX tasks run every step inside one compiled, vmapped scan, where it cannot: it runs on the CNN only.
register(
    Method(
        "lrtuner",
        "controller",
        torch=_lrtuner_torch,
        note="LRTuner defaults: every 100 updates try LR x0.5, x1, x2 for 10 look-ahead updates each, keep the best",
    )
)

# -- parameter-free and schedule-free optimizers (settings: benchmarks/convergence/optimizers.py) -----------


def _optimizer(name: str, requires: str, note: str, tuned: bool = False, **kw: Any) -> None:
    register(
        Method(
            name,
            "optimizer",
            jax=getattr(_opt, name),
            torch=getattr(_opt, name + "_torch"),
            tuned=tuned,
            requires=(requires,),
            note=note,
            **kw,
        )
    )


_optimizer("prodigy", "prodigyopt", "Prodigy, LR 1 under warmup + cosine, safeguard_warmup")
_optimizer("dadapt_adamw", "dadaptation", "D-Adaptation AdamW, LR 1 under warmup + cosine")
_optimizer("mechanic", "mechanic_pytorch", "Mechanic around the task's optimizer under warmup + cosine (peak 1)")
_optimizer("dog", "dog", "DoG, LR 1, no schedule, no averaging")
_optimizer("cocob", "parameterfree", "COCOB-Backprop, alpha 100, no LR", scalable=False)
_optimizer(
    "schedule_free_adamw",
    "schedulefree",
    "Schedule-free AdamW, LR tuned on the grid, warmup 5%, evaluated at its average",
    tuned=True,
    eval_params=_opt.schedule_free_eval,
    grid=lambda task: tuple(task.lr_grid) if task.optimizer.startswith("adam") else ADAM_GRID,
)
