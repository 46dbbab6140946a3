"""Framework adapters, imported as ``lrsched.adapters.optax``, ``.keras`` and ``.torch``.

Each adapter imports its framework only when it is imported itself.
"""
