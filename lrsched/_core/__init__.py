"""The schedule machinery (private): what every schedule, controller and adapter is built on.

* ``schedule``: the ``Schedule`` value (frozen dataclass, registry, repr, config, algebra);
* ``validate``: the validation helpers (one message style: owner, field, value, range);
* ``backend``: the array namespaces (Python, NumPy, JAX, torch) a formula is written against;
* ``trace``: the symbolic tracer turning a formula or a controller's rule into straight-line Python;
* ``codegen``: the scalar compiler deriving straight-line Python from a formula (a front end of ``trace``);
* ``config``: ``from_config`` / ``from_json`` for untrusted configs;
* ``markers``: landmarks of a schedule (warmup end, restarts, phase boundaries) for plots and the CLI.
"""
