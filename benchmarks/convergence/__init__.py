"""Convergence benchmark: the GreedyLR paper's robustness grid rerun with lrsched, then real noise and real data.

Run ``python -m benchmarks.convergence`` (whole suite) or ``--smoke`` (pipeline check); results and the
report land in ``benchmarks/convergence/results/``.
"""
