"""Controllers: LRs steered by training signals (stand-in package; helper G's version replaces it)."""

from lrsched.controllers.protocol import SIGNALS, Controller, register_controller

__all__ = ["SIGNALS", "Controller", "register_controller"]
