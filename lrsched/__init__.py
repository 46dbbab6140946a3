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

from lrsched import _moved, schedules
from lrsched._core.config import from_config, from_json
from lrsched._core.schedule import FunctionSchedule, Schedule, as_schedule, registry
from lrsched.controllers import (
    ABEL,
    SIGNALS,
    TIMINGS,
    Controller,
    GapAware,
    Hypergradient,
    LearnedLR,
    LearnedState,
    LRTuner,
    learned,
)
from lrsched.controllers.closure import control
from lrsched.controllers.on import on_schedule
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

# Every schedule, combinator and factory, from the modules of lrsched.schedules:
from lrsched.schedules.annealing import *  # noqa: F403
from lrsched.schedules.arithmetic import *  # noqa: F403
from lrsched.schedules.basic import *  # noqa: F403
from lrsched.schedules.combinators import *  # noqa: F403
from lrsched.schedules.cyclical import *  # noqa: F403
from lrsched.schedules.decay import *  # noqa: F403
from lrsched.schedules.eigencurve import *  # noqa: F403
from lrsched.schedules.joins import *  # noqa: F403
from lrsched.schedules.piecewise import *  # noqa: F403
from lrsched.schedules.taso import *  # noqa: F403
from lrsched.tools import search
from lrsched.tools.free_tournament import free_tournament, schedule_free_lr
from lrsched.tools.lr_range import RangeTestResult, lr_range_test
from lrsched.tools.record import Recorder, Trace, load_trace
from lrsched.tools.tournament import TournamentResult, peak_tournament

_moved.install()

__version__ = "0.2.0"

__all__ = [
    "Schedule",
    "FunctionSchedule",
    "as_schedule",
    "from_config",
    "from_json",
    "registry",
    # controllers (lrsched.controllers) and GreedyLR (lrsched.greedy)
    "control",
    "on_schedule",
    "Controller",
    "SIGNALS",
    "TIMINGS",
    "Hypergradient",
    "ABEL",
    "GapAware",
    "LRTuner",
    "greedy",
    "greedy_on",
    "reduce_on_plateau",
    "GreedyLR",
    "GreedyState",
    "GreedyScheduler",
    "GreedyOn",
    "GreedyOnScheduler",
    # The learned controller (lrsched.controllers.learned; meta-training: lrsched.learn, imports JAX)
    "learned",
    "LearnedLR",
    "LearnedState",
]
__all__ += schedules.__all__

# Tools (lrsched.tools): lr_range, tournament, record, search, and plotting (matplotlib, imported on use). Their
# 0.2 paths (lrsched.range_test, lrsched.record, lrsched.search, lrsched.plotting) still import (lrsched._moved).
__all__ += ["plot", "search", "lr_range_test", "RangeTestResult", "peak_tournament", "TournamentResult"]
__all__ += ["free_tournament", "schedule_free_lr"]
__all__ += ["Recorder", "Trace", "load_trace"]


def plot(schedules: Any, steps: Any = None, **options: Any) -> Any:
    """Plot schedules or recorded traces with matplotlib; returns the ``Axes`` (:func:`lrsched.tools.plotting.plot`).

    Needs ``pip install "lrsched[plot]"``; matplotlib is imported on the first call only.

    Example:
        >>> import lrsched
        >>> ax = lrsched.plot(lrsched.warmup(lrsched.cosine_decay(1e-3, 900), warmup_steps=100), 1000)
    """
    from lrsched.tools.plotting import plot as _plot

    return _plot(schedules, steps, **options)
