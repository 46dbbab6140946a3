"""The README's "Which schedule?" decision table quotes the measurements, never restates them from memory.

Every number in its evidence column (a value with its 95% interval, a rank, a ratio) must appear in the
measurements it summarises: the generated section under it (between the ``which-schedule`` markers, written by
``python -m benchmarks.convergence.readme``) or the learned controller's held-out results (docs/controllers.md).
A rerun of the benchmark that changes a number makes this test fail until the table is updated.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end >= 0 else None]


def _table_rows() -> list[list[str]]:
    which = _section("Which schedule?")
    table = which[: which.index("<!-- which-schedule:start -->")]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| situation")]
    return [[c.strip() for c in row.strip("|").split(" | ")] for row in rows]


def test_the_table_comes_first_and_has_the_situations() -> None:
    which = _section("Which schedule?")
    assert which.index("| situation | use | evidence |") < which.index("<!-- which-schedule:start -->")
    rows = _table_rows()
    assert len(rows) >= 4 and all(len(r) == 3 for r in rows)


def test_every_number_in_the_evidence_is_quoted_from_the_measurements() -> None:
    which = _section("Which schedule?")
    generated = " ".join(which[which.index("<!-- which-schedule:start -->") :].split())  # lines unwrapped
    controllers = (ROOT / "docs" / "controllers.md").read_text(encoding="utf-8")  # the learned controller's numbers
    learned = " ".join(controllers.split())
    sources = generated + learned
    for situation, _, evidence in _table_rows():
        for interval in re.findall(r"-?\d+(?:\.\d+)? \[-?\d+(?:\.\d+)?, -?\d+(?:\.\d+)?\]", evidence):
            assert interval in generated, f"{situation!r}: {interval} is not in the generated measurements"
        for number in re.findall(r"(?<![\w.\[])-?\d+\.\d+(?:\u00d7)?", evidence):
            assert number in sources, f"{situation!r}: {number} is not in the measurements"
