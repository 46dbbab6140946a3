"""The CLI's user-error type and the optional-matplotlib helper (shared by the commands and the demo)."""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["PLOT_HINT", "UserError", "require_matplotlib"]

PLOT_HINT = 'pip install "lrsched[plot]"'


class UserError(Exception):
    """A mistake in the command line or its input: reported in one line, without a traceback."""


def require_matplotlib(what: str) -> Any:
    """``matplotlib.pyplot``, or a :class:`UserError` naming the extra to install."""
    try:
        import matplotlib

        if not os.environ.get("MPLBACKEND") and "matplotlib.pyplot" not in sys.modules:
            matplotlib.use("Agg")  # files only; never open a window from the command line
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError(f"{what} needs matplotlib: {PLOT_HINT}") from None
    return plt
