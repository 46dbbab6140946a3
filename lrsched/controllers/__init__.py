"""Adaptive LR controllers on one protocol (see ``protocol``); one module per method."""

from lrsched.controllers.abel import ABEL
from lrsched.controllers.gap_aware import GapAware
from lrsched.controllers.hypergradient import Hypergradient
from lrsched.controllers.lrtuner import LRTuner
from lrsched.controllers.protocol import SIGNALS, Controller, register_controller

__all__ = ["SIGNALS", "Controller", "register_controller", "Hypergradient", "ABEL", "GapAware", "LRTuner"]
