"""README.md's "Which schedule?" block and report.md are what the code writes from the committed runs (no training)."""

from __future__ import annotations

import os

import pytest
from _benchmarks import use_benchmarks

use_benchmarks("jax")


def test_readme_block_is_what_the_generator_writes_from_the_committed_results() -> None:
    from benchmarks.convergence import readme

    with open(readme.README, encoding="utf-8") as fh:
        current = fh.read()
    assert readme.rewrite(current, readme.block()) == current, "run: python -m benchmarks.convergence.readme"


def test_rewrite_replaces_only_the_marked_block() -> None:
    from benchmarks.convergence.readme import END, START, rewrite

    text = f"# T\n\n## Which schedule?\n\n{START}\nold\nlines\n{END}\n\nNotebooks.\n"
    assert rewrite(text, "new") == f"# T\n\n## Which schedule?\n\n{START}\nnew\n{END}\n\nNotebooks.\n"
    with pytest.raises(ValueError, match="block"):
        rewrite("# no markers\n", "new")


def test_the_lm_part_ran_the_best_ranked_controller_of_part_2() -> None:
    from benchmarks.convergence.lm import ARMS
    from benchmarks.convergence.readme import load_results
    from benchmarks.convergence.report_noisy import overall_ranks

    results = load_results()
    ev = [r for r in results["runs"] if r["part"] == "noisy" and r["stage"] == "eval"]
    ranks = overall_ranks(ev)
    controllers = [n for n in ranks if any(r["scheduler"] == n and r["kind"] == "controller" for r in ev)]
    best = min(controllers, key=lambda n: ranks[n][0])
    lm_arms = {r["scheduler"] for r in results["runs"] if r["part"] == "lm"}
    assert lm_arms == {*ARMS, best} and results["meta"]["lm"]["adaptive"] == best


def test_notebook_accuracies_are_read_from_its_printed_output() -> None:
    from benchmarks.convergence.readme import notebook_accuracies

    acc = notebook_accuracies()
    assert set(acc) == {
        "constant LR, noisy data only",
        "anneal, noisy data only",
        "constant LR, clean subset last",
        "anneal on the clean subset",
    }
    assert all(0 < v <= 100 for v in acc.values())


def test_committed_report_is_what_report_only_writes_from_the_committed_runs(tmp_path) -> None:
    import shutil

    from benchmarks.convergence.run import RESULTS, main

    shutil.copy(os.path.join(RESULTS, "runs.json"), tmp_path / "runs.json")
    assert main(["--report-only", "--out", str(tmp_path)]) == 0
    with open(os.path.join(RESULTS, "report.md"), encoding="utf-8") as fh:
        committed = fh.read()
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == committed, (
        "run: python -m benchmarks.convergence --report-only"
    )
