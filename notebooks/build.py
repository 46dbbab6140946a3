"""Build the notebooks from the cell sources in ``notebooks/src/*.py`` and execute them in place.

A source file is Python with cell markers: a line ``# %% [markdown]`` starts a markdown cell (its
lines are ``# ``-prefixed), a line ``# %%`` starts a code cell. Usage, from the repository root::

    python notebooks/build.py                 # every notebook
    python notebooks/build.py 01_gallery      # one
"""

from __future__ import annotations

import os
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")


def cells(text: str) -> list[nbformat.NotebookNode]:
    """Split a ``# %%``-marked script into notebook cells."""
    out, kind, buf = [], None, []

    def flush() -> None:
        body = "\n".join(buf).strip("\n")
        if kind == "markdown":
            out.append(
                nbformat.v4.new_markdown_cell(
                    "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
                )
            )
        elif kind == "code" and body.strip():
            out.append(nbformat.v4.new_code_cell(body))

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, buf = ("markdown" if "[markdown]" in line else "code"), []
        else:
            buf.append(line)
    flush()
    return out


def build(name: str, execute: bool = True) -> float:
    """Write ``notebooks/<name>.ipynb`` from ``src/<name>.py``, executed; returns the seconds it took."""
    with open(os.path.join(SRC, name + ".py"), encoding="utf-8") as fh:
        nb = nbformat.v4.new_notebook(cells=cells(fh.read()))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    t0 = time.perf_counter()
    if execute:
        os.environ.setdefault("MPLBACKEND", "Agg")
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    nbformat.write(nb, os.path.join(HERE, name + ".ipynb"))
    return time.perf_counter() - t0


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(f[:-3] for f in os.listdir(SRC) if f.endswith(".py"))
    for n in names:
        print(f"{n}: {build(n):.1f} s")
