"""Checked by mypy in ``test_architecture.py`` (never run): what ``Schedule.__call__`` returns, per step type."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from typing_extensions import assert_type

import lrsched as L

s = L.warmup(L.cosine_decay(1.0, 100), warmup_steps=10)
assert_type(s(3), float)
assert_type(s(3.5), float)
assert_type(s(np.zeros(4)), NDArray[np.float64])
assert_type(s(np.zeros(3, dtype=np.float32)), NDArray[np.float64])
assert_type(s([1, 2]), NDArray[np.float64])


class Tensor:  # stands in for a JAX array or torch tensor (mypy sees no framework here)
    def __mul__(self, other: Any) -> Tensor:
        return self


assert_type(s(Tensor()), Tensor)
assert_type((s * 2)(5), float)
