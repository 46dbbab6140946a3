"""``python -m benchmarks.convergence``: run the convergence suite (see :mod:`benchmarks.convergence.run`)."""

from benchmarks.convergence.run import main

if __name__ == "__main__":  # not when a spawned worker process imports this module
    raise SystemExit(main())
