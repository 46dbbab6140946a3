"""The ``lrsched`` command line: ``show``, ``list`` and ``demo``.

* ``lrsched show CONFIG [--steps N] [--log] [--png FILE] [--csv FILE]``: a terminal chart and the
  key values (start, peak, end, warmup end, restarts, phases) of a schedule config given as a
  JSON file, a YAML file (needs PyYAML) or inline JSON.
* ``lrsched list``: every schedule and combinator with its parameters and defaults.
* ``lrsched --version``: the installed version.
* ``lrsched demo [--out FILE]``: a gallery PNG of the standard schedules and a small training
  comparison (GreedyLR vs cosine vs constant) on scikit-learn's bundled digits.

User mistakes print one ``lrsched: error: ...`` line on stderr and exit with status 2
(set ``LRSCHED_DEBUG=1`` to get the traceback instead).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np

from lrsched._cli.errors import UserError, require_matplotlib

__all__ = ["load_config", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    from lrsched import __version__

    parser = _Parser(prog="lrsched", description="Learning-rate schedules: look at them, list them, run the demo.")
    parser.add_argument("--version", action="version", version=f"lrsched {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{show,list,demo}", parser_class=_Parser)
    show = sub.add_parser("show", help="chart a schedule config and print its key values")
    show.add_argument("config", help='JSON or YAML file, or inline JSON such as \'{"name": "rex", ...}\'')
    show.add_argument("--steps", type=int, default=1000, help="number of steps to show (default: 1000)")
    show.add_argument("--log", action="store_true", help="log-scale the learning-rate axis")
    show.add_argument("--png", metavar="FILE", help="save a plot (needs matplotlib)")
    show.add_argument("--csv", metavar="FILE", help="save step,lr,phase rows")
    show.add_argument("--width", type=int, default=64, help="chart width in characters")
    sub.add_parser("list", help="list every schedule and combinator with its parameters")
    demo = sub.add_parser("demo", help="gallery PNG + GreedyLR vs cosine vs constant on a small model")
    demo.add_argument("--out", default="lrsched_demo.png", metavar="FILE", help="gallery PNG path")
    demo.add_argument("--epochs", type=int, default=30, help="training epochs per run (default: 30)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--no-train", action="store_true", help="only render the gallery")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = _parser()
        args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help()
            return 0
        if args.command == "show":
            return show(args.config, args.steps, log=args.log, png=args.png, csv_path=args.csv, width=args.width)
        if args.command == "list":
            print(list_text())
            return 0
        from lrsched._cli.demo import run_demo

        return run_demo(out=args.out, epochs=args.epochs, seed=args.seed, train=not args.no_train)
    except BrokenPipeError:  # e.g. `lrsched list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (UserError, ValueError, TypeError, OSError) as err:
        if os.environ.get("LRSCHED_DEBUG"):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"lrsched: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lrsched: interrupted", file=sys.stderr)
        return 130


# -- show -----------------------------------------------------------------
def load_config(source: str) -> Any:
    """The config in file ``source`` (``.json``, ``.yaml``/``.yml``) or the inline JSON ``source``."""
    if os.path.isfile(source):
        with open(source, encoding="utf-8") as fh:
            text = fh.read()
        if source.lower().endswith((".yaml", ".yml")):
            return _yaml(text, source)
        return _json(text, source)
    if source.lstrip().startswith(("{", "[")):
        return _json(source, "inline config")
    raise UserError(f"no such file {source!r}; CONFIG is a JSON/YAML file or inline JSON like '{{\"name\": ...}}'")


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{where} is not valid JSON: {err}") from None


def _yaml(text: str, where: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise UserError(f"reading {where} needs PyYAML (pip install pyyaml); or give the config as JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UserError(f"{where} is not valid YAML: {err}") from None


def _schedule(source: str) -> Any:
    from lrsched._core.config import from_config
    from lrsched._core.schedule import Schedule

    sched = from_config(load_config(source))
    if not isinstance(sched, Schedule):
        raise UserError(f"{type(sched).__name__} is a controller driven by the loss, not a step -> value schedule")
    return sched


def show(
    source: str, steps: int, *, log: bool = False, png: str | None = None, csv_path: str | None = None, width: int = 64
) -> int:
    """``lrsched show``: print a chart and key values; optionally write a PNG and a CSV."""
    from lrsched._cli.termchart import chart
    from lrsched._core.markers import markers, phase_spans

    if steps < 2:
        raise UserError(f"--steps must be >= 2, got {steps}")
    if not 16 <= width <= 400:
        raise UserError(f"--width must be in [16, 400], got {width}")
    sched = _schedule(source)
    x = np.arange(steps, dtype=np.float64)
    y = np.asarray(sched(x), dtype=np.float64)
    print(repr(sched))
    print(chart(x, y, width=width, log=log))
    found = markers(sched, steps - 1)
    spans = phase_spans(sched, x)
    for line in _key_values(x, y, found, spans):
        print(line)
    if csv_path:
        _write_csv(csv_path, x, y, sched)
        print(f"wrote {csv_path}")
    if png:
        _write_png(png, sched, steps, log)
        print(f"wrote {png}")
    return 0


def _key_values(x: np.ndarray, y: np.ndarray, found: list[Any], spans: list[Any]) -> list[str]:
    peak = int(np.nanargmax(y))
    lines = [
        f"start  {y[0]:.6g} (step 0)",
        f"peak   {y[peak]:.6g} (step {int(x[peak])})",
        f"min    {np.nanmin(y):.6g}",
        f"end    {y[-1]:.6g} (step {int(x[-1])})",
    ]
    kinds = {"warmup": "warmup end", "phase": "boundary", "restart": "restart"}
    for kind, title in kinds.items():
        hits = [m for m in found if m.kind == kind]
        if hits:
            shown = ", ".join(f"{m.step:g}" + (f" ({m.label})" if kind == "phase" else "") for m in hits[:12])
            more = f" ... ({len(hits)} in all)" if len(hits) > 12 else ""
            lines.append(f"{title + 's' if len(hits) > 1 else title}: {shown}{more}")
    if spans:
        lines.append("phases: " + ", ".join(f"{name} {lo:g}-{hi:g}" for lo, hi, name in spans))
    return lines


def _write_csv(path: str, x: np.ndarray, y: np.ndarray, sched: Any) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["step", "lr", "phase"])
        for step, value in zip(x, y):
            writer.writerow([int(step), repr(float(value)), sched.phase_at(float(step)) or ""])


def _write_png(path: str, sched: Any, steps: int, log: bool) -> None:
    plt = require_matplotlib("--png")
    from lrsched.tools.plotting import plot

    ax = plot(sched, steps, log=log, title=sched.name)
    ax.figure.savefig(path, dpi=100)
    plt.close(ax.figure)


# -- list -----------------------------------------------------------------
def list_text() -> str:
    """Every registered schedule and combinator as ``name(param, param=default, ...)`` plus its summary."""
    import lrsched

    schedules: list[str] = []
    combinators: list[str] = []
    for name, cls in sorted(lrsched.registry().items()):
        entry = f"  {name}({_signature(cls)})\n      {_summary(cls)}"
        nested = any(kind.startswith("schedule") for kind in cls._kinds.values())
        (combinators if nested else schedules).append(entry)
    parts = ["Schedules:", *schedules, "", "Combinators (take schedules):", *combinators]
    controller = getattr(lrsched, "GreedyLR", None)
    if controller is not None and dataclasses.is_dataclass(controller):
        parts += ["", "Loss-driven controllers:", f"  greedy({_signature(controller)})\n      {_summary(controller)}"]
    return "\n".join(parts)


def _signature(cls: Any) -> str:
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out.append(f"{f.name}={f.default!r}")
        elif f.default_factory is not dataclasses.MISSING:
            out.append(f"{f.name}={f.default_factory()!r}")
        else:
            out.append(f.name)
    return ", ".join(out)


def _summary(cls: Any) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
