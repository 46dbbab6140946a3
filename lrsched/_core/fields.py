"""A schedule's instance ``__dict__``: its fields, read as usual, and plain data when torch copies it.

``torch.optim.lr_scheduler.LambdaLR`` (and ``MultiplicativeLR``) checkpoint a callable object through its
``__dict__``: ``state_dict()`` stores ``fn.__dict__.copy()`` and ``load_state_dict()`` calls
``fn.__dict__.update(saved)``. A composed schedule's fields hold other schedules, which
``torch.load(..., weights_only=True)`` refuses (``Unsupported global``): that is how the transformers ``Trainer``
loads ``scheduler.pt`` and Lightning loads ``fit(ckpt_path=...)``. And an ``update`` would rewrite a frozen,
hashed value in place.

So every schedule's ``__dict__`` is a :class:`Fields`, a ``dict`` whose entries are the fields, exactly as before:
attribute lookup, ``vars(schedule)["x"]``, ``torch.compile`` and ``inspect.getattr_static`` see the real values.
Only two methods differ:

* ``copy()`` returns plain data: each field as in :meth:`Schedule.to_config`, a nested schedule as its config
  (``None`` for one that wraps a plain Python callable, which has no config: ``LambdaLR`` stores ``None`` for a
  plain function too). It loads with ``weights_only=True`` without lrsched being imported.
* ``update()`` changes nothing (schedules are immutable). ``LambdaLR.load_state_dict`` calls it with the saved
  copy: the scheduler keeps the schedule it was built with, as :class:`lrsched.adapters.torch.ScheduleLR` does,
  and a warning says so when the checkpoint was saved with a different one.

Pickle, ``copy`` and ``deepcopy`` go through ``Schedule.__getstate__``/``__setstate__``, not through these methods.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["Fields", "plain"]


def plain(value: Any) -> Any:
    """``value`` as checkpoint data: a schedule becomes its config (``None`` without one), a tuple a list."""
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    to_config = getattr(value, "to_config", None)
    if to_config is not None:
        try:
            return to_config()
        except TypeError:  # a schedule wrapping a plain callable: no config
            return None
    if callable(value):  # a plain callable (``function(fn)``'s field): not data
        return None
    return value


class Fields(dict[str, Any]):
    """The instance dict of a schedule named ``owner`` (see the module docstring)."""

    __slots__ = ("owner",)

    def __init__(self, owner: str) -> None:
        super().__init__()
        self.owner = owner

    def copy(self) -> dict[str, Any]:  # type: ignore[override]
        """The fields as plain data (what ``LambdaLR.state_dict()`` stores)."""
        return {k: plain(v) for k, v in self.items() if not k.startswith("_")}

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Nothing changes; warns when ``args``/``kwargs`` describe a different schedule (``LambdaLR`` resume)."""
        saved = {k: plain(v) for k, v in dict(*args, **kwargs).items()}
        if saved != self.copy():
            warnings.warn(
                f"{self.owner}: a schedule is immutable, its fields were not updated; the checkpoint loaded into "
                "this LambdaLR was saved with a different schedule, and this scheduler keeps the one it was "
                "built with (only the step counters are restored)",
                UserWarning,
                stacklevel=3,
            )
