"""A progress bar: tqdm when it is installed, otherwise a small text bar on stderr."""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["Progress", "progress"]


class Progress:
    """Fallback text progress bar: ``desc [#####     ] 50/100``, redrawn at most ~40 times."""

    def __init__(self, total: int, desc: str = "", stream: TextIO | None = None) -> None:
        self.total = max(int(total), 1)
        self.desc = desc
        self.n = 0
        self._stream = stream if stream is not None else sys.stderr
        self._shown = -1

    def update(self, n: int = 1) -> None:
        self.n = min(self.n + n, self.total)
        tick = self.n * 40 // self.total
        if tick != self._shown:
            self._shown = tick
            bar = "#" * (tick // 2) + " " * (20 - tick // 2)
            self._stream.write(f"\r{self.desc} [{bar}] {self.n}/{self.total}")
            self._stream.flush()

    def set_postfix_str(self, text: str) -> None:
        """Accepted for tqdm compatibility; the text bar does not show it."""

    def close(self) -> None:
        if self._shown >= 0:
            self._stream.write("\n")
            self._stream.flush()
            self._shown = -1

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Silent(Progress):
    def update(self, n: int = 1) -> None:
        self.n = min(self.n + n, self.total)


def progress(total: int, desc: str = "", enabled: bool = True) -> Any:
    """A context-managed bar with ``update(n)`` and ``close()``: tqdm if importable, else :class:`Progress`."""
    if not enabled:
        return _Silent(total, desc)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return Progress(total, desc)
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)
