"""lrsched: learning-rate schedules as pure ``step -> value`` functions.

Every schedule is an immutable value: call it on a Python number, a NumPy
array, a JAX array (also under ``jit``/``vmap``) or a torch tensor and get the
same values back. Combine schedules with :func:`warmup`, :func:`join`,
:func:`cycle`, arithmetic and more; save them with ``to_config()`` and rebuild
them with :func:`from_config`.

``import lrsched`` imports no deep-learning framework.

Example:
    >>> import lrsched
    >>> sched = lrsched.warmup(lrsched.cosine_decay(init_value=3e-4, decay_steps=9_000), warmup_steps=1_000)
    >>> round(sched(1_000), 6)
    0.0003
"""

from typing import Any

from lrsched import search
from lrsched._annealing import (
    CosineDecay,
    CosineRestarts,
    Cyclic,
    InverseSqrt,
    OneCycle,
    Rex,
    WarmupStableDecay,
)
from lrsched._base import FunctionSchedule, Schedule, as_schedule, registry
from lrsched._combinators import (
    Clip,
    Cycle,
    Maximum,
    Minimum,
    Perturb,
    Product,
    Quantize,
    Shift,
    Sum,
    Warmup,
    scale,
)
from lrsched._config import from_config, from_json
from lrsched._join import Join, phases
from lrsched._schedules import (
    Constant,
    ExponentialDecay,
    InverseTimeDecay,
    Linear,
    MultiStepDecay,
    NaturalExpDecay,
    PiecewiseConstant,
    PiecewiseLinear,
    Polynomial,
    StepDecay,
)
from lrsched.greedy import (
    GreedyLR,
    GreedyOn,
    GreedyOnScheduler,
    GreedyScheduler,
    GreedyState,
    greedy,
    greedy_on,
    reduce_on_plateau,
)
from lrsched.range_test import RangeTestResult, lr_range_test
from lrsched.record import Recorder, Trace, load_trace

__version__ = "0.1.0"

# Factories: the registered name of each schedule is the name it is built by,
# so ``repr`` reads like the call that made it.
constant = Constant
linear = Linear
polynomial = Polynomial
step_decay = StepDecay
multistep_decay = MultiStepDecay
piecewise_constant = PiecewiseConstant
piecewise_linear = PiecewiseLinear
exponential_decay = ExponentialDecay
natural_exp_decay = NaturalExpDecay
inverse_time_decay = InverseTimeDecay
inverse_sqrt = InverseSqrt
cosine_decay = CosineDecay
cosine_restarts = CosineRestarts
one_cycle = OneCycle
cyclic = Cyclic
wsd = WarmupStableDecay
rex = Rex
warmup = Warmup
join = Join
cycle = Cycle
shift = Shift
clip = Clip
minimum = Minimum
maximum = Maximum
quantize = Quantize
perturb = Perturb

__all__ = [
    "Schedule",
    "FunctionSchedule",
    "as_schedule",
    "from_config",
    "from_json",
    "registry",
    # schedules
    "constant",
    "linear",
    "polynomial",
    "step_decay",
    "multistep_decay",
    "piecewise_constant",
    "piecewise_linear",
    "exponential_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "inverse_sqrt",
    "cosine_decay",
    "cosine_restarts",
    "one_cycle",
    "cyclic",
    "wsd",
    "rex",
    # combinators
    "warmup",
    "join",
    "phases",
    "cycle",
    "shift",
    "clip",
    "scale",
    "minimum",
    "maximum",
    "quantize",
    "perturb",
    # GreedyLR (lrsched.greedy)
    "greedy",
    "greedy_on",
    "reduce_on_plateau",
    "GreedyLR",
    "GreedyState",
    "GreedyScheduler",
    "GreedyOn",
    "GreedyOnScheduler",
    # classes
    "Constant",
    "Linear",
    "Polynomial",
    "StepDecay",
    "MultiStepDecay",
    "PiecewiseConstant",
    "PiecewiseLinear",
    "ExponentialDecay",
    "NaturalExpDecay",
    "InverseTimeDecay",
    "InverseSqrt",
    "CosineDecay",
    "CosineRestarts",
    "OneCycle",
    "Cyclic",
    "WarmupStableDecay",
    "Rex",
    "Warmup",
    "Join",
    "Cycle",
    "Shift",
    "Clip",
    "Sum",
    "Product",
    "Minimum",
    "Maximum",
    "Quantize",
    "Perturb",
]

# Tools: lrsched.range_test, lrsched.record, lrsched.search, and lrsched.plotting (matplotlib, imported on use).
__all__ += ["plot", "search", "lr_range_test", "RangeTestResult", "Recorder", "Trace", "load_trace"]


def plot(schedules: Any, steps: Any = None, **options: Any) -> Any:
    """Plot schedules or recorded traces with matplotlib; returns the ``Axes`` (see :func:`lrsched.plotting.plot`).

    Needs ``pip install "lrsched[plot]"``; matplotlib is imported on the first call only.

    Example:
        >>> import lrsched
        >>> ax = lrsched.plot(lrsched.warmup(lrsched.cosine_decay(1e-3, 900), warmup_steps=100), 1000)
    """
    from lrsched.plotting import plot as _plot

    return _plot(schedules, steps, **options)
