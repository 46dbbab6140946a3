"""Execute every committed notebook (``notebooks/*.ipynb``) from a fresh kernel; any error fails.

Marked ``slow`` (select with ``-m slow``, skip with ``-m "not slow"``). Notebooks are executed in a
copy, so the committed outputs are not rewritten. ``python notebooks/build.py`` rebuilds them.
"""

from __future__ import annotations

import glob
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_executes(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(path)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors


def test_committed_notebooks_carry_their_outputs() -> None:
    """Notebooks are committed executed, so plots show on the web."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(c.get("execution_count") for c in code), path
        assert any(o.output_type in ("display_data", "execute_result") for c in code for o in c.outputs), path


def test_committed_outputs_are_clean() -> None:
    """What a reader sees: no warnings, no paths of the machine that ran them, no progress-bar lines."""
    machine = ("/root/", "/home/", "/tmp/", "site-packages", "ipykernel_")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            for out in cell.get("outputs", []):
                if out.output_type != "stream":
                    continue
                where = f"{os.path.basename(path)}, code cell {i}"
                assert out.name == "stdout", f"{where} writes to stderr: {out.text[:300]!r}"
                assert "Warning" not in out.text, f"{where} shows a warning: {out.text[:300]!r}"
                assert "\r" not in out.text, f"{where} shows a progress bar"
                assert not any(m in out.text for m in machine), f"{where} shows a machine path: {out.text[:300]!r}"


def test_plots_are_drawn_at_100_dpi_or_more() -> None:
    import re

    for src in sorted(glob.glob(os.path.join(ROOT, "notebooks", "src", "*.py"))):
        with open(src, encoding="utf-8") as fh:
            text = fh.read()
        for dpi in re.findall(r"""rcParams\["figure\.dpi"\]\s*=\s*(\d+)""", text):
            assert int(dpi) >= 100, f"{os.path.basename(src)}: figure.dpi = {dpi} (text about 6 px)"
