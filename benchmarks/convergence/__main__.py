"""``python -m benchmarks.convergence``: run the convergence suite (see :mod:`benchmarks.convergence.run`)."""

from benchmarks.convergence.run import main

raise SystemExit(main())
