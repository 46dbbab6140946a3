"""Learning-rate controllers: values that steer the LR from signals measured during training.

The protocol (``lrsched.controllers.protocol``): a frozen dataclass :class:`lrsched.Controller` with a pure
``init``/``update``/``lr``, declaring the :data:`lrsched.SIGNALS` it reads; a new controller supplies its settings,
an initial state and a rule (``lrsched.controllers.registry()`` lists them all). :func:`lrsched.control` turns
one into a stateful closure ``lr = sched(loss)``; :func:`lrsched.on_schedule` steers a schedule with one
(``lr_t = base(t) * g_t``). The framework adapters drive any controller (``ControllerScheduler`` for torch,
``scale_by_controller`` for Optax, ``ControllerCallback`` for Keras). One module per method:

* GreedyLR and ReduceLROnPlateau (:mod:`lrsched.greedy`);
* ``hypergradient``: hypergradient descent (Baydin et al. 2018);
* ``abel``: ABEL, decay when the weight norm bounces (Lewkowycz 2021);
* ``gap_aware``: gap-aware discriminator LR for GANs (Hazimeh & Ponomareva 2023);
* ``lrtuner``: LRTuner-style look-ahead exploration (Iyer et al. 2021);
* ``learned``: a policy learned from past training runs (``lrsched.learn`` trains one);
* ``probe``: ``ProbeLR`` (experimental), an LR range test inside the run, then REX from the LR found to the end;
* ``decay_on_stall``: ``DecayOnStall``, warmup-stable-decay whose decay begins once the smoothed loss stops falling.
"""

from lrsched.controllers.abel import ABEL
from lrsched.controllers.decay_on_stall import DecayOnStall
from lrsched.controllers.gap_aware import GapAware
from lrsched.controllers.hypergradient import Hypergradient
from lrsched.controllers.learned import LearnedLR, LearnedState, learned
from lrsched.controllers.lrtuner import LRTuner
from lrsched.controllers.probe import ProbeLR
from lrsched.controllers.protocol import SIGNALS, TIMINGS, Controller, register_controller, registry

__all__ = [
    "SIGNALS",
    "TIMINGS",
    "Controller",
    "register_controller",
    "registry",
    "Hypergradient",
    "ABEL",
    "GapAware",
    "LRTuner",
    "ProbeLR",
    "DecayOnStall",
    "LearnedLR",
    "LearnedState",
    "learned",
]
