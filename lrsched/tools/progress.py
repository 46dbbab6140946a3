"""A progress bar: tqdm when it is installed, otherwise a small text bar on stderr."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress", "progress"]


class Progress:
    """Fallback text progress bar: ``desc [#####     ] 50/100 ETA 0:12, postfix``, redrawn at most ~40 times.

    The time left is estimated from the rate since the bar was made (or since ``initial``, for a resumed job);
    the last ``set_postfix_str`` text is shown at the next redraw.
    """

    def __init__(self, total: int, desc: str = "", stream: TextIO | None = None, initial: int = 0) -> None:
        self.total = max(int(total), 1)
        self.desc = desc
        self.n = min(max(int(initial), 0), self.total)
        self._stream = stream if stream is not None else sys.stderr
        self._shown = -1
        self._postfix = ""
        self._start = (time.perf_counter(), self.n)

    def update(self, n: int = 1) -> None:
        self.n = min(self.n + n, self.total)
        tick = self.n * 40 // self.total
        if tick != self._shown:
            self._shown = tick
            bar = "#" * (tick // 2) + " " * (20 - tick // 2)
            self._stream.write(f"\r{self.desc} [{bar}] {self.n}/{self.total}{self._eta()}{self._postfix}")
            self._stream.flush()

    def _eta(self) -> str:
        t0, n0 = self._start
        if self.n >= self.total or self.n <= n0:
            return ""
        hours, left = divmod(round((time.perf_counter() - t0) / (self.n - n0) * (self.total - self.n)), 3600)
        return f" ETA {hours}:{left // 60:02d}:{left % 60:02d}" if hours else f" ETA {left // 60}:{left % 60:02d}"

    def set_postfix_str(self, text: str) -> None:
        """Show ``text`` after the counts from the next redraw on (as tqdm's ``set_postfix_str``)."""
        self._postfix = f", {text}" if text else ""

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


def progress(total: int, desc: str = "", enabled: bool = True, initial: int = 0) -> Any:
    """A context-managed bar with ``update(n)``, ``set_postfix_str(text)`` and ``close()``, on stderr.

    tqdm if importable, else :class:`Progress`; ``initial`` is the count already done (a resumed job).
    """
    if not enabled:
        return _Silent(total, desc, initial=initial)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return Progress(total, desc, initial=initial)
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, initial=initial)
