"""Learning-rate controllers: values that steer the LR from signals measured during training.

The protocol (:mod:`lrsched.controllers.protocol`): a frozen dataclass ``Controller`` with a pure
``init``/``update``/``lr``, declaring the :data:`SIGNALS` it reads. :func:`lrsched.control` turns one into a
stateful closure ``lr = sched(loss)``; :func:`lrsched.on_schedule` steers a schedule with one
(``lr_t = base(t) * g_t``). The framework adapters drive any controller (``ControllerScheduler`` for torch,
``scale_by_controller`` for Optax, ``ControllerCallback`` for Keras). GreedyLR (:mod:`lrsched.greedy`) is one.
"""

from lrsched.controllers.protocol import SIGNALS, Controller, register_controller

__all__ = ["SIGNALS", "Controller", "register_controller"]
