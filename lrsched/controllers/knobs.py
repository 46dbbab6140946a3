"""Keyword checks for controllers: a ``TypeError`` that names lrsched's equivalent of a torch/transformers name.

The wording and the table of peers' names are :mod:`lrsched._core.hints`' (schedules use the same): a hint names
only keywords the class has (``ABEL(window_size=5)`` lists ABEL's keywords instead of a ``window=`` ABEL lacks).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lrsched._core.hints import unknown_keyword

__all__ = ["check_knobs"]


def check_knobs(owner: str, cls: type, knobs: dict[str, Any]) -> None:
    """Raise a ``TypeError`` for keywords that are not fields of the dataclass ``cls``."""
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in knobs:
        if key not in fields:
            raise unknown_keyword(owner, key, fields)
