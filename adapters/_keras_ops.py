"""An lrsched array namespace built on ``keras.ops``, for backends lrsched has none for (TensorFlow).

The operations are those of :class:`lrsched._core.backend.ArrayNamespace`, taken from ``keras.ops``; only
what Keras needs differently is written here. Formulas see float32 backend tensors; constants are cast to
float32 so that TensorFlow's strict dtype rules never meet a float64 operand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lrsched._core.backend import ArrayNamespace

__all__ = ["KerasOps"]

# Operations whose operands may be Python floats or float64 constants: cast to float32 first.
_CAST = {"where": slice(1, None), "minimum": slice(None), "maximum": slice(None), "power": slice(None)}


class KerasOps(ArrayNamespace):
    """``xp`` for step tensors of the active Keras backend (float32)."""

    name = "keras"

    def __init__(self) -> None:
        from keras import ops

        self.ops = ops
        super().__init__(ops)

    def lift(self, op: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        cast = _CAST.get(op)
        if cast is None:
            return fn
        f = self._f

        def lifted(*args: Any) -> Any:
            cast_args = list(args)
            cast_args[cast] = [f(a) for a in cast_args[cast]]
            return fn(*cast_args)

        lifted.__name__ = op
        return lifted

    def _f(self, x: Any) -> Any:
        return self.ops.cast(x, "float32")

    def searchsorted(self, sorted_values: Any, x: Any) -> Any:
        ops = self.ops  # TensorFlow's searchsorted wants a 1-D query
        flat = ops.searchsorted(self._f(sorted_values), ops.reshape(x, (-1,)), side="right")
        # float32, so that ``count + 0.0 * t`` type-checks; :meth:`take` casts it back to an index
        return ops.cast(ops.reshape(flat, ops.shape(x)), "float32")

    def take(self, values: Any, index: Any) -> Any:
        table = np.asarray(values)
        dtype = "int32" if np.issubdtype(table.dtype, np.integer) else "float32"
        return self.ops.take(self.ops.convert_to_tensor(table, dtype=dtype), self.ops.cast(index, "int32"))

    def full_like(self, t: Any, value: Any) -> Any:
        return self.ops.full_like(t, value, dtype="float32")

    def epsilon(self, t: Any) -> float:
        return float(np.finfo(np.float32).eps)

    # The four primitives of the 32-bit hashing (``perturb``), in int64 with explicit masks.
    def int64(self, x: Any) -> Any:
        return self.ops.cast(x, "int64")

    def int32(self, x: Any) -> Any:
        return self.ops.cast(x, "int32")

    def as_float(self, x: Any, like: Any) -> Any:
        return self.ops.cast(x, "float32")

    def bits(self, op: str, a: Any, b: Any) -> Any:
        ops = self.ops
        fn = {"&": ops.bitwise_and, "^": ops.bitwise_xor, ">>": ops.right_shift, "<<": ops.left_shift}[op]
        return fn(a, b)
