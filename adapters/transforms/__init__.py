"""Optimizer transforms built on a framework: methods that change the update itself, not only its LR.

* :mod:`lrsched.adapters.transforms.leap`: LEAP's Langevin noise for Optax and torch (also importable as
  ``lrsched.adapters.leap``, its 0.2 path).
"""
