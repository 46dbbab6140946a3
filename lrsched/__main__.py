"""``python -m lrsched`` / ``lrsched``: command-line entry point (see :mod:`lrsched.cli`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lrsched show|list|demo``; returns the exit status."""
    from lrsched._cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
