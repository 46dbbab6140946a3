"""An lrsched array namespace built on ``keras.ops``, for backends lrsched has none for (TensorFlow).

Formulas see float32 backend tensors; constants are cast to float32 so that
TensorFlow's strict dtype rules never meet a float64 operand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrsched._core.backend import Namespace

__all__ = ["KerasOps"]

_MASK = 0xFFFFFFFF


class KerasOps(Namespace):
    """``xp`` for step tensors of the active Keras backend (float32)."""

    name = "keras"

    def __init__(self) -> None:
        from keras import ops

        self.ops = ops
        self.floor = ops.floor
        self.cos = ops.cos
        self.exp = ops.exp
        self.log = ops.log
        self.sqrt = ops.sqrt

    def _f(self, x: Any) -> Any:
        return self.ops.cast(x, "float32")

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.ops.where(cond, self._f(a), self._f(b))

    def minimum(self, a: Any, b: Any) -> Any:
        return self.ops.minimum(self._f(a), self._f(b))

    def maximum(self, a: Any, b: Any) -> Any:
        return self.ops.maximum(self._f(a), self._f(b))

    def power(self, a: Any, b: Any) -> Any:
        return self.ops.power(self._f(a), self._f(b))

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

    # 32-bit integer hashing (``perturb``), done in int64 with explicit masks.
    def _u(self, x: Any) -> Any:
        return self.ops.bitwise_and(self.ops.cast(x, "int64"), _MASK)

    def _signed(self, u: Any) -> Any:
        ops = self.ops
        return ops.cast(ops.where(u >= 1 << 31, u - (1 << 32), u), "int32")

    def to_int32(self, x: Any) -> Any:
        return self._signed(self._u(x))

    def mul_int32(self, a: Any, b: int) -> Any:
        ops, b = self.ops, b & _MASK
        a = self._u(a)
        low = a * (b & 0xFFFF)
        high = ops.left_shift(ops.bitwise_and(a * (b >> 16), 0xFFFF), 16)
        return self._signed(ops.bitwise_and(low + high, _MASK))

    def xorshift_right(self, h: Any, k: int) -> Any:
        u = self._u(h)
        return self._signed(self.ops.bitwise_xor(u, self.ops.right_shift(u, k)))

    def low24_as_float(self, h: Any, like: Any) -> Any:
        return self.ops.cast(self.ops.bitwise_and(h, 0xFFFFFF), "float32") / 16777216.0
