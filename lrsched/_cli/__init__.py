"""The ``lrsched`` command line (private): ``show``, ``list`` and ``demo``.

* ``commands``: argument parsing and the ``show``/``list`` commands;
* ``demo``: the gallery and the GreedyLR-vs-schedules demo on scikit-learn's digits;
* ``termchart``: the terminal chart ``show`` prints;
* ``errors``: ``UserError`` (one ``lrsched: error:`` line, exit status 2) and the matplotlib helper.
"""

from lrsched._cli.commands import main

__all__ = ["main"]
