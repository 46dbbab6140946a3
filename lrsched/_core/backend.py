"""Array backends: one small namespace of operations per kind of step value.

A schedule formula is written once against a namespace ``xp`` and runs on

* Python ``int``/``float`` -> :data:`PYTHON` (``math``; returns a Python float),
* NumPy arrays and scalars -> :data:`NUMPY` (float64),
* JAX arrays and tracers -> the JAX namespace (works under ``jit``/``vmap``/``scan``),
* torch tensors -> the torch namespace.

Steps are converted to the step's floating type: Python numbers and NumPy
arrays to float64, JAX and torch integer steps to float32 (JAX with x64 and
torch's default dtype may give float64). Float32 holds every integer step only
up to ``2**24`` (16.8 M): beyond it a step is rounded to a multiple of 2 (of
256 near ``2**31``), so neighbouring steps can give the same value, and a
value is that of the rounded step. Ends still hold (an ``int32`` step near
``2**31 - 1`` gives a decay's end value). Pass float64 steps where per-step
resolution past ``2**24`` matters.

The backend is found from the step's type without importing any framework:
only frameworks already present in ``sys.modules`` are consulted (as einops
does), and the answer is cached per type.
"""

from __future__ import annotations

import bisect
import math
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Namespace", "PYTHON", "finalize", "namespace_for", "prepare_step"]

_INT32_MASK = 0xFFFFFFFF


class Namespace:
    """The operations a formula may use. Subclasses bind them to one backend."""

    name = "abstract"
    is_scalar = False

    where: Callable[[Any, Any, Any], Any]

    @staticmethod
    def call(fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` (the scalar compiler records it as a call instead)."""
        return fn(*args)

    minimum: Callable[[Any, Any], Any]
    maximum: Callable[[Any, Any], Any]
    floor: Callable[[Any], Any]
    cos: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    sqrt: Callable[[Any], Any]
    power: Callable[[Any, Any], Any]
    searchsorted: Callable[[Any, Any], Any]  # side="right"
    take: Callable[[Any, Any], Any]
    to_int32: Callable[[Any], Any]
    mul_int32: Callable[[Any, int], Any]
    xorshift_right: Callable[[Any, int], Any]
    low24_as_float: Callable[[Any, Any], Any]
    full_like: Callable[[Any, Any], Any]

    # -- controller ops (helper G) ------------------------------------------------------------------------------
    # What controllers (lrsched.controllers, lrsched.greedy) need beyond schedule formulas. One generic body per
    # op; the array module comes from ``self.name``. The scalar compiler of lrsched.controllers overrides them.
    def _array_module(self) -> Any:
        return sys.modules[{"numpy": "numpy", "jax": "jax.numpy", "torch": "torch"}[self.name]]

    def isfinite(self, x: Any) -> Any:
        """Elementwise ``x`` is neither NaN nor infinite."""
        if self.is_scalar:
            return x - x == 0
        return self._array_module().isfinite(self._array_module().asarray(x))

    def true_divide(self, a: Any, b: float) -> Any:
        """``a / b`` rounded as a true division (XLA would multiply by ``1 / b``: an optimization barrier stops it)."""
        if self.name == "jax":
            return a / sys.modules["jax"].lax.optimization_barrier(a * 0.0 + b)
        return a / b

    def asarray(self, value: Any, like: Any, integer: bool = False) -> Any:
        """``value`` as an array of ``like``'s backend and device: ``like``'s float dtype, or int32 with ``integer``."""
        if self.is_scalar:
            return int(value) if integer else float(value)
        mod = self._array_module()
        dtype = mod.int32 if integer else like.dtype
        if self.name == "torch":
            return mod.as_tensor(value, dtype=dtype, device=like.device)
        return mod.asarray(value, dtype=dtype)

    def where_vector(self, cond: Any, a: Any, b: Any) -> Any:
        """``a if cond else b`` for vectors: tuples elementwise, arrays along their last axis (``cond`` batches)."""
        if self.is_scalar:
            return a if cond else b
        if isinstance(b, tuple):
            a = a if isinstance(a, tuple) else (a,) * len(b)
            return tuple(self.where(cond, x, y) for x, y in zip(a, b))
        mod = self._array_module()
        return mod.where(mod.asarray(cond)[..., None], a, b)

    def ring_write(self, vector: Any, pos: Any, value: Any, cond: Any) -> Any:
        """``vector`` with slot ``pos`` set to ``value`` where ``cond`` (a ring buffer's write)."""
        if self.is_scalar:
            return (*vector[:pos], value, *vector[pos + 1 :]) if cond else vector
        if isinstance(vector, tuple):
            return tuple(self.where(cond & (pos == i), value, w) for i, w in enumerate(vector))
        mod = self._array_module()
        size = vector.shape[-1]
        slots = mod.arange(size, device=vector.device) if self.name == "torch" else mod.arange(size)
        here = mod.asarray(cond)[..., None] & (slots == mod.asarray(pos)[..., None])
        return mod.where(here, mod.asarray(value)[..., None], vector)

    # -- end of controller ops (helper G) ----------------------------------------------------------------------


class _Python(Namespace):
    name = "python"
    is_scalar = True

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def minimum(a: Any, b: Any) -> Any:
        return a if a <= b else b

    @staticmethod
    def maximum(a: Any, b: Any) -> Any:
        return a if a >= b else b

    @staticmethod
    def call(fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    floor = staticmethod(math.floor)
    cos = staticmethod(math.cos)
    log = staticmethod(math.log)
    sqrt = staticmethod(math.sqrt)

    @staticmethod
    def exp(x: Any) -> Any:
        try:
            return math.exp(x)
        except OverflowError:  # NumPy/JAX/torch give inf: so does the scalar path
            return math.inf

    @staticmethod
    def power(a: Any, b: Any) -> Any:
        try:
            return math.pow(a, b)
        except OverflowError:
            return math.inf

    @staticmethod
    def searchsorted(sorted_values: Any, x: Any) -> int:
        return bisect.bisect_right(sorted_values, x)

    @staticmethod
    def take(values: Any, index: Any) -> Any:
        return values[index]

    @staticmethod
    def to_int32(x: Any) -> int:
        v = int(x) & _INT32_MASK
        return v - (1 << 32) if v >= (1 << 31) else v

    @staticmethod
    def mul_int32(a: int, b: int) -> int:
        v = (a * b) & _INT32_MASK
        return v - (1 << 32) if v >= (1 << 31) else v

    @staticmethod
    def xorshift_right(h: int, k: int) -> int:
        # h ^ (h >>> k) on a 32-bit two's complement value.
        logical = (h & _INT32_MASK) >> k
        v = (h ^ logical) & _INT32_MASK
        return v - (1 << 32) if v >= (1 << 31) else v

    @staticmethod
    def low24_as_float(h: int, like: Any) -> float:
        return (h & 0xFFFFFF) / 16777216.0

    @staticmethod
    def full_like(t: Any, value: Any) -> Any:
        return value


_ELEMENTWISE = ("where", "minimum", "maximum", "floor", "cos", "exp", "log", "sqrt", "power")


def _bind_elementwise(ns: Namespace, module: Any) -> None:
    """Take the elementwise operations straight from an array module (NumPy, ``jax.numpy``)."""
    for op in _ELEMENTWISE:
        setattr(ns, op, getattr(module, op))


class _NumPy(Namespace):
    name = "numpy"

    def __init__(self) -> None:
        import numpy as np

        self.np = np
        _bind_elementwise(self, np)

    def searchsorted(self, sorted_values: Any, x: Any) -> Any:
        return self.np.searchsorted(sorted_values, x, side="right")

    def take(self, values: Any, index: Any) -> Any:
        return self.np.asarray(values)[index]

    def to_int32(self, x: Any) -> Any:
        np = self.np
        return (np.asarray(x).astype(np.int64) & _INT32_MASK).astype(np.uint32).view(np.int32)

    def mul_int32(self, a: Any, b: int) -> Any:
        np = self.np
        # ``np.multiply``, not ``*``: 0-d inputs are NumPy scalars, whose ``*`` warns on the wrap-around.
        return np.asarray(np.multiply(a.astype(np.uint32), np.uint32(b & _INT32_MASK))).view(np.int32)

    def xorshift_right(self, h: Any, k: int) -> Any:
        np = self.np
        u = h.view(np.uint32)
        return (u ^ (u >> np.uint32(k))).view(np.int32)

    def low24_as_float(self, h: Any, like: Any) -> Any:
        return (h & 0xFFFFFF).astype(self.np.float64) / 16777216.0

    def full_like(self, t: Any, value: Any) -> Any:
        return t * 0.0 + value


class _Jax(Namespace):
    name = "jax"

    def __init__(self) -> None:
        import jax
        import jax.numpy as jnp

        self.jnp = jnp
        self.canonicalize_dtype = jax.dtypes.canonicalize_dtype
        _bind_elementwise(self, jnp)

    def searchsorted(self, sorted_values: Any, x: Any) -> Any:
        jnp = self.jnp
        return jnp.searchsorted(jnp.asarray(sorted_values, dtype=x.dtype), x, side="right")

    def take(self, values: Any, index: Any) -> Any:
        # An explicit dtype: JAX caches NumPy constants and would otherwise keep
        # float32 copies made before ``jax.enable_x64`` was switched on.
        jnp = self.jnp
        dtype = getattr(values, "dtype", None)
        if dtype is not None:
            dtype = self.canonicalize_dtype(dtype)
        return jnp.asarray(values, dtype=dtype)[index]

    def to_int32(self, x: Any) -> Any:
        # Values are < 2**31 (documented); wrap-around matches the other backends.
        return self.jnp.asarray(x).astype(self.jnp.int32)

    def mul_int32(self, a: Any, b: int) -> Any:
        jnp = self.jnp
        return (a.astype(jnp.uint32) * jnp.uint32(b & _INT32_MASK)).astype(jnp.int32)

    def xorshift_right(self, h: Any, k: int) -> Any:
        jnp = self.jnp
        u = h.astype(jnp.uint32)
        return (u ^ (u >> jnp.uint32(k))).astype(jnp.int32)

    def low24_as_float(self, h: Any, like: Any) -> Any:
        return (h & 0xFFFFFF).astype(like.dtype) / 16777216.0

    def full_like(self, t: Any, value: Any) -> Any:
        return t * 0.0 + value


class _Torch(Namespace):
    name = "torch"

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.Tensor = torch.Tensor

    def _t(self, x: Any, like: Any = None) -> Any:
        if isinstance(x, self.Tensor):
            return x
        dtype = like.dtype if isinstance(like, self.Tensor) else None
        return self.torch.as_tensor(x, dtype=dtype)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return self.torch.where(cond, a, b)

    def minimum(self, a: Any, b: Any) -> Any:
        torch, T = self.torch, self.Tensor
        if isinstance(a, T) and isinstance(b, T):
            return torch.minimum(a, b)
        if isinstance(a, T):
            return torch.clamp(a, max=b)
        if isinstance(b, T):
            return torch.clamp(b, max=a)
        return a if a <= b else b

    def maximum(self, a: Any, b: Any) -> Any:
        torch, T = self.torch, self.Tensor
        if isinstance(a, T) and isinstance(b, T):
            return torch.maximum(a, b)
        if isinstance(a, T):
            return torch.clamp(a, min=b)
        if isinstance(b, T):
            return torch.clamp(b, min=a)
        return a if a >= b else b

    def _unary(self, fn: Any, scalar_fn: Any, x: Any) -> Any:
        return fn(x) if isinstance(x, self.Tensor) else scalar_fn(x)

    def floor(self, x: Any) -> Any:
        return self._unary(self.torch.floor, math.floor, x)

    def cos(self, x: Any) -> Any:
        return self._unary(self.torch.cos, math.cos, x)

    def exp(self, x: Any) -> Any:
        return self._unary(self.torch.exp, math.exp, x)

    def log(self, x: Any) -> Any:
        return self._unary(self.torch.log, math.log, x)

    def sqrt(self, x: Any) -> Any:
        return self._unary(self.torch.sqrt, math.sqrt, x)

    def power(self, a: Any, b: Any) -> Any:
        if not isinstance(a, self.Tensor) and not isinstance(b, self.Tensor):
            return math.pow(a, b)
        return self.torch.pow(a, b)

    def searchsorted(self, sorted_values: Any, x: Any) -> Any:
        torch = self.torch
        boundaries = torch.as_tensor(sorted_values, dtype=x.dtype, device=x.device)
        return torch.searchsorted(boundaries, x.contiguous(), right=True)

    def take(self, values: Any, index: Any) -> Any:
        # Parameters keep float64; results are cast to the step's dtype at the end.
        return self.torch.as_tensor(values, device=index.device)[index]

    def to_int32(self, x: Any) -> Any:
        torch = self.torch
        return (x.to(torch.int64) & _INT32_MASK).to(torch.int32)

    def mul_int32(self, a: Any, b: int) -> Any:
        torch = self.torch
        # (a * b) mod 2**32 from 16-bit halves of b, so no int64 product overflows.
        a = a.to(torch.int64) & _INT32_MASK
        b &= _INT32_MASK
        low = a * (b & 0xFFFF)
        high = ((a * (b >> 16)) & 0xFFFF) << 16
        return ((low + high) & _INT32_MASK).to(torch.int32)

    def xorshift_right(self, h: Any, k: int) -> Any:
        torch = self.torch
        u = h.to(torch.int64) & _INT32_MASK
        return ((u ^ (u >> k)) & _INT32_MASK).to(torch.int32)

    def low24_as_float(self, h: Any, like: Any) -> Any:
        return (h & 0xFFFFFF).to(like.dtype) / 16777216.0

    def full_like(self, t: Any, value: Any) -> Any:
        return t * 0.0 + value


PYTHON = _Python()
_NUMPY: _NumPy | None = None
_JAX: _Jax | None = None
_TORCH: _Torch | None = None
_BY_TYPE: dict[type, str] = {}


def _numpy_ns() -> _NumPy:
    global _NUMPY
    if _NUMPY is None:
        _NUMPY = _NumPy()
    return _NUMPY


def _jax_ns() -> _Jax:
    global _JAX
    if _JAX is None:
        _JAX = _Jax()
    return _JAX


def _torch_ns() -> _Torch:
    global _TORCH
    if _TORCH is None:
        _TORCH = _Torch()
    return _TORCH


def _kind_of(tp: type, value: Any) -> str:
    kind = _BY_TYPE.get(tp)
    if kind is not None:
        return kind
    kind = "unknown"
    np = sys.modules.get("numpy")
    jax = sys.modules.get("jax")
    torch = sys.modules.get("torch")
    if np is not None and isinstance(value, (np.ndarray, np.generic)):
        kind = "numpy"
    elif jax is not None and isinstance(value, jax.Array):
        kind = "jax"
    elif torch is not None and isinstance(value, torch.Tensor):
        kind = "torch"
    elif isinstance(value, (list, tuple)):
        kind = "sequence"
    if kind not in ("unknown", "sequence"):
        _BY_TYPE[tp] = kind
    return kind


def namespace_for(value: Any) -> Namespace:
    """The namespace that evaluates formulas on ``value``'s kind of array."""
    tp = type(value)
    if tp is int or tp is float:
        return PYTHON
    kind = _kind_of(tp, value)
    if kind == "numpy" or kind == "sequence":
        return _numpy_ns()
    if kind == "jax":
        return _jax_ns()
    if kind == "torch":
        return _torch_ns()
    raise TypeError(f"step must be a Python number, a NumPy array, a JAX array or a torch tensor, got {tp.__name__}")


def _negative_step_error(what: str) -> ValueError:
    return ValueError(f"step must be finite and >= 0, got {what}")


def prepare_step(step: Any) -> tuple[Any, Namespace]:
    """Validate ``step`` and convert it to the backend's floating type.

    Eager inputs with a negative or non-finite step raise ``ValueError``.
    Traced JAX steps cannot be inspected, so they are clamped to ``>= 0``.
    """
    tp = type(step)
    if tp is float or tp is int:
        if not 0 <= step < math.inf:
            raise _negative_step_error(repr(step))
        return step, PYTHON
    if tp is bool:
        raise TypeError("step must be a number, got bool")
    xp = namespace_for(step)
    if xp.name == "numpy":
        np = _numpy_ns().np
        t = np.asarray(step, dtype=np.float64)
        # Two reductions, no temporaries: a NaN makes min() NaN, an inf makes max() inf.
        if t.size and not (t.min() >= 0 and t.max() < math.inf):
            bad = t[~((t >= 0) & np.isfinite(t))].ravel()[0]
            raise _negative_step_error(repr(float(bad)))
        return t, xp
    if xp.name == "jax":
        jax = sys.modules["jax"]
        jnp = _jax_ns().jnp
        t = jnp.asarray(step)
        if not jnp.issubdtype(t.dtype, jnp.floating):
            t = t.astype(jnp.result_type(float))
        if not isinstance(t, jax.core.Tracer) and t.size:
            ok = bool(jnp.all((t >= 0) & jnp.isfinite(t)))
            if not ok:
                raise _negative_step_error("an array with negative or non-finite entries")
        return jnp.maximum(t, 0), xp
    torch = sys.modules["torch"]
    t = step
    if not t.is_floating_point():
        t = t.to(torch.get_default_dtype())
    if t.numel() and not (bool(t.min() >= 0) and bool(t.max() < math.inf)):
        raise _negative_step_error("a tensor with negative or non-finite entries")
    return t, xp


def finalize(out: Any, t: Any, xp: Namespace) -> Any:
    """Give the result the step's type, dtype and shape."""
    if xp.is_scalar:
        return float(out)
    if xp.name == "numpy":
        np = _numpy_ns().np
        out = np.asarray(out, dtype=np.float64)
        if out.shape != t.shape:
            out = np.array(np.broadcast_to(out, t.shape))
        return out
    if xp.name == "jax":
        jnp = _jax_ns().jnp
        out = jnp.asarray(out, dtype=t.dtype)
        if out.shape != t.shape:
            out = jnp.broadcast_to(out, t.shape)
        return out
    torch = sys.modules["torch"]
    out = torch.as_tensor(out, dtype=t.dtype, device=t.device)
    if out.shape != t.shape:
        out = out.expand(t.shape).clone()
    return out
