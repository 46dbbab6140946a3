"""Every schedule formula and combinator: **add a schedule here**.

A schedule is a frozen dataclass registered with ``@register("factory_name")``
(``lrsched._core.schedule``) whose ``_eval(t, xp)`` writes the formula once against
an array namespace ``xp``. Put it in the module of its family, add the class and
its factory alias to that module's ``__all__``; ``lrsched`` exports it from there.

* ``basic``: constant, linear, polynomial
* ``piecewise``: step_decay, multistep_decay, piecewise_constant, piecewise_linear
* ``decay``: exponential_decay, natural_exp_decay, inverse_time_decay, inverse_sqrt
* ``annealing``: cosine_decay, cosine_restarts, wsd, rex
* ``cyclical``: one_cycle, cyclic
* ``combinators``: warmup, cycle, shift, clip, quantize, perturb
* ``arithmetic``: ``+``, ``*``, minimum, maximum, scale
* ``joins``: join, phases
* ``taso``: taso
* ``eigencurve``: eigencurve (and eigencurve_phases)
* ``curves``: the shared curve pieces (progress, cosine, geometric, ...)

(``duplicates`` lists the schedules' field declarations and one-line ``_check`` calls as alike by shape:
they declare different settings, and the validation they call is written once in ``lrsched._core.validate``.)
"""

from lrsched.schedules import (
    annealing,
    arithmetic,
    basic,
    combinators,
    cyclical,
    decay,
    joins,
    piecewise,
)

# ``taso`` and ``eigencurve`` name both a module and its factory: the factory wins the package attribute.
from lrsched.schedules import eigencurve as _eigencurve_module
from lrsched.schedules import taso as _taso_module
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

__all__: list[str] = []
__all__ += annealing.__all__
__all__ += arithmetic.__all__
__all__ += basic.__all__
__all__ += combinators.__all__
__all__ += cyclical.__all__
__all__ += decay.__all__
__all__ += joins.__all__
__all__ += piecewise.__all__
__all__ += _taso_module.__all__
__all__ += _eigencurve_module.__all__
