"""The stateful closure of any controller: ``sched = lrsched.control(controller)``, ``lr = sched(loss)``.

The controller's rule is compiled once into straight-line Python (:mod:`lrsched.controllers._compile`) whose
locals hold the state, so a call costs a fraction of the pure ``update`` on a ``NamedTuple``; a rule that cannot
be compiled runs through ``controller.update``. ``state`` / ``load_state`` convert to and from the controller's
state value; ``state_dict`` / ``load_state_dict`` are strict JSON.
"""

from __future__ import annotations

import json
from typing import Any

from lrsched.controllers._compile import compile_controller, flatten, unflatten
from lrsched.controllers.protocol import LR, Controller
from lrsched.controllers.state import integer_fields, plain, state_from_json, state_to_json

__all__ = ["Control", "control"]

_STATE_VERSION = 1
_MAX_COMPILED_LEAVES = 1024


class Control:
    """Stateful controller: call it with each update's signals, get the LR for the next update.

    ``sched(loss)`` or ``sched(loss, grad_norm=...)`` / ``sched(**signals)`` (the controller's declared
    :data:`lrsched.controllers.SIGNALS`); ``sched.step`` is the same call.

    Example:
        >>> import lrsched
        >>> sched = lrsched.control(lrsched.GreedyLR(init_lr=0.1, patience=0, factor=0.5))
        >>> sched(3.0), sched(4.0), sched.t
        (0.2, 0.1, 2)
    """

    def __init__(self, controller: Controller[Any], lr: LR | None = None) -> None:
        if not isinstance(controller, Controller):
            raise TypeError(f"{type(self).__name__}: controller must be a Controller, got {type(controller).__name__}")
        self.controller, self._lr = controller, lr
        self._template = controller.init(lr)
        self._ints = integer_fields(self._template)
        leaves = sum(len(v) if isinstance(v, tuple) else 1 for v in self._template)
        # Generated code grows with the leaves (one per parameter group): past a few hundred, compiling costs
        # more than it saves, and the closure runs the pure update instead (the same values).
        self._compiled = compile_controller(controller, self._template) if leaves <= _MAX_COMPILED_LEAVES else None
        self._state = self._template
        self._single = controller.signals == ("loss",)
        if self._compiled is not None and self._single:
            # The compiled function itself is the call: a class of this instance's own, no wrapper per call.
            base = getattr(type(self), "_base_class", type(self))
            attrs = {"__call__": self._compiled.update, "step": self._compiled.update, "_base_class": base}
            self.__class__ = type(base.__name__, (base,), {**attrs, "__module__": base.__module__})

    @property
    def settings(self) -> Controller[Any]:
        """The controller (its settings)."""
        return self.controller

    def __call__(self, loss: Any = None, /, **signals: Any) -> Any:
        """Observe one update's signals (a number is the loss); return the LR of the next update."""
        if loss is not None:
            signals["loss"] = loss
        values = [float(signals[s]) for s in self.controller.signals]
        if self._compiled is not None:
            return self._compiled.update(None, *values)
        self._state = self.controller.update(self._state, dict(zip(self.controller.signals, values)))
        return self.controller.lr(self._state)

    step = __call__

    @property
    def lr(self) -> Any:
        """The LR of the next update (a float, or a tuple per parameter group)."""
        return self._compiled.lr() if self._compiled is not None else self.controller.lr(self._state)

    @property
    def t(self) -> int:
        """The number of updates observed (``state.step``)."""
        return int(self._compiled.step() if self._compiled is not None else self._state.step)

    @property
    def state(self) -> Any:
        """The current state, the controller's pure state value."""
        if self._compiled is None:
            return self._state
        return unflatten(self.controller, self._template, self._compiled.get())

    def load_state(self, state: Any) -> None:
        """Continue from ``state`` (from :attr:`state` or the controller's ``init``/``update``)."""
        name = type(self).__name__
        fields = []
        for field, value, like in zip(self._template._fields, state, self._template):
            value = plain(value, field in self._ints)
            if isinstance(like, tuple) and (not isinstance(value, tuple) or len(value) != len(like)):
                size = len(value) if isinstance(value, tuple) else 1
                raise ValueError(f"{name}: state.{field} holds {size} values, expected {len(like)}")
            fields.append(value)
        state = type(self._template)._make(fields)
        if self._compiled is None:
            self._state = state
        else:
            self._compiled.put(flatten(self.controller, state))

    def set_step(self, t: int) -> None:
        """Set the clock ``state.step`` (adapters whose values do not arrive once per update)."""
        self.load_state(self.state._replace(step=int(t)))

    def state_dict(self) -> dict[str, Any]:
        """Plain strict-JSON data (non-finite numbers as the strings ``"inf"``, ``"-inf"``, ``"nan"``)."""
        data: dict[str, Any] = {"version": _STATE_VERSION}
        for name, value in zip(self._template._fields, self.state):
            data[name] = state_to_json(value)
        return data

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a ``state_dict``; the run continues exactly as if uninterrupted."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or state_dict.get("version") != _STATE_VERSION:
            raise ValueError(f"{name}: not a {name} state_dict (version {_STATE_VERSION})")
        state_dict = self.controller.upgrade_state_dict(state_dict)
        missing = [n for n in self._template._fields if n not in state_dict]
        if missing:
            raise ValueError(f"{name}: state_dict is missing {', '.join(missing)}")
        self.load_state(type(self._template)._make(state_from_json(state_dict[n]) for n in self._template._fields))

    def to_config(self) -> dict[str, Any]:
        """The controller's config; ``lrsched.control(lrsched.from_config(cfg))`` rebuilds it."""
        return self.controller.to_config()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.controller!r}, lr={self.lr!r}, step={self.t})"

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (getattr(type(self), "_base_class", type(self)), self.__getstate__())

    def __getstate__(self) -> dict[str, Any]:
        return {"controller": self.controller, "lr": self._lr, "state": json.dumps(self.state_dict())}

    def __setstate__(self, data: dict[str, Any]) -> None:
        Control.__init__(self, data["controller"], data["lr"])
        self.load_state_dict(json.loads(data["state"]))


def _rebuild(cls: type[Control], data: dict[str, Any]) -> Control:
    obj: Control = cls.__new__(cls)
    obj.__setstate__(data)
    return obj


def control(controller: Controller[Any], lr: LR | None = None) -> Control:
    """A stateful closure over ``controller``: ``lr = sched(loss)`` (or ``sched(loss, **signals)``).

    ``lr`` overrides the controller's initial LR. See ``Control``.

    Example:
        >>> import lrsched
        >>> sched = lrsched.control(lrsched.reduce_on_plateau(init_lr=1.0, patience=0))
        >>> sched(1.0), sched(1.0)
        (1.0, 0.1)
    """
    return Control(controller, lr)
