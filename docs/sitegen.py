"""Generate the documentation pages that come from the code: API reference, gallery, README mirrors, migration tables.

Everything here is derived at build time from what the package exports, so the site cannot drift from it:

* the API reference lists every name in ``lrsched.__all__`` (schedules and combinators found through
  ``lrsched.registry()``; a new public controller lands on the controllers page without an edit here);
* the gallery draws every registered schedule (an example is taken from :data:`EXAMPLES` or, for a schedule
  added later, from the first call of it in its docstring's examples; a schedule with neither stops the build);
* "Conventions" and "Which schedule?" are copied from the README's sections of those names;
* the migration tables are rendered from ``docs/migration_table.py``, whose rows ``tests/test_migration_guide.py``
  runs against the live peers.

Only public names are referenced (``lrsched.X``), never the private modules. ``conf.py`` calls :func:`generate`;
``python docs/sitegen.py`` runs it alone. Sphinx is not imported here.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import doctest
import importlib
import inspect
import json
import pkgutil
import re
import types
from pathlib import Path
from typing import Any

import lrsched

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"  # fragments included by hand-written pages, and gallery images
API = DOCS / "api"  # generated API pages
NOTEBOOKS = DOCS / "notebooks"  # copies of ../notebooks/*.ipynb (rendered with their committed outputs)

# ---------------------------------------------------------------------------------------------------------------
# API reference
# ---------------------------------------------------------------------------------------------------------------

# Public names that are not schedules, by page. A name listed here that is no longer exported is skipped; a name
# exported but listed nowhere (and not a registered schedule) goes to the controllers page.
CORE = ["Schedule", "FunctionSchedule", "as_schedule", "from_config", "from_json", "registry"]
COMBINATOR_FUNCTIONS = ["phases", "scale", "minimum", "maximum"]
SCHEDULE_FUNCTIONS = ["eigencurve_phases"]  # helpers that build a schedule's settings
#: Public modules the README and the notebooks use beyond ``lrsched.__all__``: an entry each, on the tools page.
TOOL_MODULES = [
    "lrsched.tools.plotting",
    "lrsched.tools.spectrum",
    "lrsched.tools.free_tournament",
    "lrsched.learn",
    "lrsched.controllers",
    "lrsched.controllers.gap_aware",
]
TOOLS = [
    "plot",
    "lr_range_test",
    "RangeTestResult",
    "peak_tournament",
    "TournamentResult",
    "free_tournament",
    "schedule_free_lr",
    "Recorder",
    "Trace",
    "load_trace",
    "search",
]


@dataclasses.dataclass
class Page:
    slug: str
    title: str
    intro: str
    entries: list[str]  # reStructuredText blocks (autodoc directives)
    names: list[str] = dataclasses.field(default_factory=list)  # the public names documented on the page


def _is_combinator(cls: type) -> bool:
    """A registered schedule whose fields hold other schedules."""
    return any("Schedule" in str(f.type) for f in dataclasses.fields(cls))


def factory_classes() -> dict[type, str]:
    """Registered classes exported under their registry name (``lrsched.cosine_decay is lrsched.CosineDecay``)."""
    out = {}
    for name, cls in lrsched.registry().items():
        if getattr(lrsched, name, None) is cls and name in lrsched.__all__:
            out[cls] = name
    return out


def _directive(name: str) -> str:
    obj = getattr(lrsched, name)
    if isinstance(obj, types.ModuleType):  # by its public path (``lrsched.search``, wherever it lives)
        return f".. automodule:: lrsched.{name}\n   :members:\n"
    if isinstance(obj, type):
        extra = "   :special-members: __call__\n" if name == "Schedule" else ""
        if dataclasses.is_dataclass(obj) or hasattr(obj, "_fields"):  # records: list their fields too
            extra += "   :undoc-members:\n"
        return f".. autoclass:: lrsched.{name}\n   :members:\n{extra}"
    if callable(obj):
        return f".. autofunction:: lrsched.{name}\n"
    return f".. autodata:: lrsched.{name}\n"


def _registered_entries(combinators: bool, used: set[str]) -> tuple[list[str], list[str]]:
    public = set(lrsched.__all__)
    entries, names = [], []
    for name, cls in lrsched.registry().items():
        if _is_combinator(cls) != combinators:
            continue
        factory = name if name in public and getattr(lrsched, name) is cls else None
        klass = cls.__name__ if cls.__name__ in public and getattr(lrsched, cls.__name__) is cls else None
        if factory is None and klass is None:
            raise RuntimeError(
                f"schedule {name!r} is registered (lrsched.from_config builds it) but not exported: "
                f"add {name!r} or {cls.__name__!r} to lrsched.__all__"
            )
        block = f"{factory or klass}\n{'-' * len(factory or klass)}\n\n"
        block += f".. image:: ../_generated/gallery/{name}.png\n   :alt: {name} drawn by lrsched.plot\n\n"
        if factory:
            # The factory is the class; documented as the call users write (conf.py sets the return annotation).
            block += f".. autofunction:: lrsched.{factory}\n\n"
        if klass:
            block += f".. autoclass:: lrsched.{klass}\n   :members:\n\n"
        entries.append(block)
        names += [n for n in (factory, klass) if n]
    used.update(names)
    return entries, names


def _named_entries(names: list[str], used: set[str]) -> tuple[list[str], list[str]]:
    names = [n for n in names if n in lrsched.__all__ and n not in used]
    used.update(names)
    return [f"{n}\n{'-' * len(n)}\n\n{_directive(n)}\n" for n in names], names


def adapter_modules() -> list[str]:
    import lrsched.adapters

    return [
        m.name
        for m in pkgutil.walk_packages(lrsched.adapters.__path__, "lrsched.adapters.")
        if not any(part.startswith("_") for part in m.name.split("."))
    ]


def api_pages() -> list[Page]:
    """The API reference: every name in ``lrsched.__all__`` on exactly one page, plus the adapter modules."""
    used: set[str] = set()
    pages = []
    entries, names = _registered_entries(combinators=False, used=used)
    more, more_names = _named_entries(SCHEDULE_FUNCTIONS, used)
    entries, names = entries + more, names + more_names
    pages.append(
        Page(
            "schedules",
            "Schedules",
            "Every schedule registered in ``lrsched.registry()``: a frozen value called as ``sched(step)``.\n"
            "Each is built by the lowercase factory (the same object as the class).\n"
            "See the :doc:`gallery <../gallery>` for a plot of each.",
            entries,
            names,
        )
    )
    entries, names = _registered_entries(combinators=True, used=used)
    more, more_names = _named_entries(COMBINATOR_FUNCTIONS, used)
    pages.append(
        Page(
            "combinators",
            "Combinators",
            "Schedules made of schedules; they compose with each other and with ``+ - * /``.",
            entries + more,
            names + more_names,
        )
    )
    entries, names = _named_entries(CORE, used)
    pages.append(Page("core", "Core", "The base class, configs and the registry.", entries, names))
    entries, names = _named_entries(TOOLS, used)
    entries += [f"{m}\n{'-' * len(m)}\n\n.. automodule:: {m}\n   :no-index:\n\n" for m in TOOL_MODULES]
    pages.append(
        Page(
            "tools",
            "Tools",
            "Plotting, the LR range test, search spaces and recording; the Hessian spectrum for Eigencurve; "
            "meta-training a learned controller (``lrsched.learn``, needs JAX); the controllers' package.",
            entries,
            names,
        )
    )
    rest = [n for n in lrsched.__all__ if n not in used]
    entries, names = _named_entries(rest, used)
    intro = "Learning rates steered by a monitored value (usually the loss)."
    if _module_exists("lrsched.greedy"):
        intro += "\n\n.. automodule:: lrsched.greedy\n   :no-members:\n   :no-index:\n"
    pages.append(Page("controllers", "Controllers", intro, entries, names))
    adapters = [f"{m}\n{'-' * len(m)}\n\n.. automodule:: {m}\n   :members:\n\n" for m in adapter_modules()]
    pages.append(
        Page(
            "adapters",
            "Adapters",
            "Any lrsched schedule or controller in PyTorch, Optax or Keras.",
            adapters,
            [],
        )
    )
    return pages


def _module_exists(name: str) -> bool:
    try:
        return isinstance(importlib.import_module(name), types.ModuleType)
    except ImportError:
        return False


def summary_table(names: list[str]) -> str:
    """An rst table: each public name (a link to its entry) and the first line of its docstring."""
    rows = []
    for name in names:
        obj = getattr(lrsched, name)
        role = "class" if isinstance(obj, type) and name[:1].isupper() else "func" if callable(obj) else "data"
        doc = (inspect.getdoc(obj) or "").strip().splitlines()
        rows.append(f"   * - :{role}:`~lrsched.{name}`\n     - {doc[0] if doc else ''}\n")
    return ".. list-table::\n   :widths: 1 3\n\n" + "".join(rows) + "\n"


def write_api(pages: list[Page]) -> None:
    API.mkdir(parents=True, exist_ok=True)
    toc = "\n".join(f"   {p.slug}" for p in pages)
    _write(
        API / "index.rst",
        "API reference\n=============\n\n"
        "Generated from the docstrings of every name in ``lrsched.__all__`` and of the adapter modules.\n"
        "Each docstring gives the formula, the units of ``step``, the boundary values and where lrsched differs\n"
        "from its peers; its examples run as doctests in the test suite.\n\n"
        f".. toctree::\n   :maxdepth: 1\n\n{toc}\n",
    )
    for page in pages:
        head = f"{page.title}\n{'=' * len(page.title)}\n\n.. currentmodule:: lrsched\n\n{page.intro}\n\n"
        if page.names:  # a summary table: each name, linking to its entry, with the first line of its docstring
            head += ".. currentmodule:: lrsched\n\n" + summary_table(page.names)
        _write(API / f"{page.slug}.rst", head + "\n".join(page.entries))


# ---------------------------------------------------------------------------------------------------------------
# Gallery
# ---------------------------------------------------------------------------------------------------------------

# registry name -> (expression over lrsched's public names, steps to draw). A schedule registered later without an
# entry here is drawn from the first call of it in its docstring's examples (see gallery_example).
EXAMPLES: dict[str, tuple[str, int]] = {
    "constant": ("constant(1e-3)", 1000),
    "linear": ("linear(init_value=1e-3, end_value=1e-4, transition_steps=800)", 1000),
    "polynomial": ("polynomial(init_value=1e-3, end_value=1e-5, transition_steps=800, power=2.0)", 1000),
    "step_decay": ("step_decay(init_value=1e-3, step_size=200, drop=0.5)", 1000),
    "multistep_decay": ("multistep_decay(init_value=1e-3, milestones=(300, 600, 800), drop=0.3)", 1000),
    "piecewise_constant": ("piecewise_constant(boundaries=(300, 700), values=(1e-3, 3e-4, 5e-5))", 1000),
    "piecewise_linear": ("piecewise_linear(points=((0, 0.0), (100, 1e-3), (600, 5e-4), (1000, 0.0)))", 1000),
    "exponential_decay": ("exponential_decay(init_value=1e-3, decay_rate=0.5, transition_steps=200)", 1000),
    "natural_exp_decay": ("natural_exp_decay(init_value=1e-3, decay_constant=0.004, end_value=1e-4)", 1000),
    "inverse_time_decay": ("inverse_time_decay(init_value=1e-3, decay_rate=1.0, decay_steps=100)", 1000),
    "inverse_sqrt": ("inverse_sqrt(peak_value=1e-3, warmup_steps=100)", 1000),
    "cosine_decay": ("cosine_decay(init_value=1e-3, decay_steps=800, end_value=1e-5)", 1000),
    "cosine_restarts": ("cosine_restarts(init_value=1e-3, first_period=100, period_mult=2.0, decay=0.7)", 1000),
    "one_cycle": ("one_cycle(peak_value=1e-3, total_steps=1000, pct_start=0.3)", 1000),
    "cyclic": ("cyclic(base_value=1e-4, max_value=1e-3, step_size_up=100, mode='triangular2')", 1000),
    "wsd": ("wsd(peak_value=1e-3, total_steps=1000, decay_steps=200, warmup_steps=100)", 1000),
    "rex": ("rex(init_value=1e-3, total_steps=1000)", 1000),
    "warmup": ("warmup(cosine_decay(init_value=1e-3, decay_steps=900), warmup_steps=100)", 1000),
    "cycle": ("cycle(linear(1e-3, 1e-4, 250), period=250, decay=0.7)", 1000),
    "shift": ("shift(cosine_decay(1e-3, 600), offset=200)", 1000),
    "clip": ("clip(cosine_restarts(1e-3, 250), min_value=2e-4, max_value=8e-4)", 1000),
    "sum": ("cosine_decay(9e-4, 800) + 1e-4", 1000),
    "product": ("cosine_decay(1e-3, 1000) * cyclic(0.5, 1.0, 100)", 1000),
    "minimum": ("minimum(inverse_sqrt(2e-3, 100), linear(1e-3, 0.0, 1000))", 1000),
    "maximum": ("maximum(exponential_decay(1e-3, 0.5, 100), 1e-4)", 1000),
    "quantize": ("quantize(cosine_decay(1e-3, 10), steps_per_epoch=100, schedule_in_epochs=True)", 1000),
    "perturb": ("perturb(cosine_decay(1e-3, 1000), amplitude=0.2, seed=0, every=20)", 1000),
    "join": (
        "join((linear(0.0, 1e-3, 100), constant(1e-3), cosine_decay(1e-3, 300)), boundaries=(100, 700), "
        "names=('warmup', 'stable', 'anneal'))",
        1000,
    ),
}


def _namespace() -> dict[str, Any]:
    import math

    return {"math": math, **{n: getattr(lrsched, n) for n in lrsched.__all__}}


def gallery_example(name: str, cls: type) -> tuple[str, int]:
    """The expression and step count drawn for registered schedule ``name``."""
    if name in EXAMPLES:
        return EXAMPLES[name]
    ns = _namespace()
    for example in doctest.DocTestParser().get_examples(cls.__doc__ or ""):
        for node in ast.walk(ast.parse(example.source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (name, cls.__name__):
                expr = ast.unparse(node)
                sched = eval(expr, ns)
                return expr, _horizon(sched.to_config())
    raise RuntimeError(
        f"gallery: schedule {name!r} has no example: give {cls.__name__}'s docstring an example that calls "
        f"{name}(...), or add {name!r} to EXAMPLES in docs/sitegen.py"
    )


_STEP_KEYS = re.compile(r"steps?$|_steps$|period|step_size|offset")


def _horizon(config: Any) -> int:
    """A step count that shows a docstring example whole: 1.5 x the step-like numbers in its config, summed."""

    def walk(c: Any, key: str = "") -> float:
        if isinstance(c, dict):
            return sum(walk(v, k) for k, v in c.items())
        if isinstance(c, (list, tuple)):
            if key in ("boundaries", "milestones"):
                return max((float(x) for x in c), default=0.0)
            if key == "points":
                return max((float(p[0]) for p in c), default=0.0)
            return sum(walk(v, key) for v in c)
        if isinstance(c, (int, float)) and not isinstance(c, bool) and _STEP_KEYS.search(key):
            return abs(float(c))
        return 0.0

    return max(20, int(1.5 * walk(config)))


def qualified(expr: str) -> str:
    """``expr`` with lrsched's public names written as ``lrsched.name`` (what a reader can paste after ``import``)."""
    public = set(lrsched.__all__)

    class Qualify(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in public:
                return ast.copy_location(ast.Attribute(ast.Name("lrsched", ast.Load()), node.id, ast.Load()), node)
            return node

    return ast.unparse(Qualify().visit(ast.parse(expr, mode="eval")))


def _wrapped(node: ast.expr, indent: str, width: int = 88) -> str:
    """``node`` as source, one argument (or tuple item) a line where it does not fit in ``width`` characters."""
    flat = ast.unparse(node)
    if len(indent) + len(flat) <= width or not isinstance(node, (ast.Call, ast.Tuple)):
        return flat
    inner = indent + "    "
    if isinstance(node, ast.Tuple):
        items = [_wrapped(e, inner, width) for e in node.elts]
        return "(\n" + "".join(f"{inner}{i},\n" for i in items) + f"{indent})"
    items = [_wrapped(a, inner, width) for a in node.args]
    items += [f"{k.arg}={_wrapped(k.value, inner, width)}" for k in node.keywords]
    return f"{ast.unparse(node.func)}(\n" + "".join(f"{inner}{i},\n" for i in items) + f"{indent})"


def gallery_snippet(expr: str, steps: int) -> str:
    """The gallery's code for one schedule: a complete program (its imports included) that draws it."""
    sched = _wrapped(ast.parse(qualified(expr), mode="eval").body, "", width=80)  # after "sched = "
    plot = f"ax = lrsched.plot(sched, {steps})  # needs matplotlib: the [plot] extra"
    return f"import lrsched\n\nsched = {sched}\n{plot}\n"


def write_gallery() -> list[str]:
    """One PNG per registered schedule under _generated/gallery/, and the gallery fragment; returns the names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = GENERATED / "gallery"
    out.mkdir(parents=True, exist_ok=True)
    ns = _namespace()
    factories = factory_classes()
    lines = []
    names = []
    for name, cls in lrsched.registry().items():
        expr, steps = gallery_example(name, cls)
        sched = eval(expr, ns)
        if not isinstance(sched, cls):
            raise RuntimeError(f"gallery: the example of {name!r} builds {type(sched).__name__}, not {cls.__name__}")
        fig, ax = plt.subplots(figsize=(6.4, 2.6), dpi=100)
        lrsched.plot(sched, steps, ax=ax, title=name)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", metadata={"Software": None})  # no version stamp: stable bytes
        plt.close(fig)
        ref = f"{{func}}`lrsched.{name}`" if cls in factories else f"{{class}}`lrsched.{cls.__name__}`"
        config = json.dumps(sched.to_config(), indent=2)
        lines += [
            f"## {name}",
            "",
            f"{ref}, {steps} steps.",
            "",
            f"![{name}](gallery/{name}.png)",
            "",
            "```python",
            gallery_snippet(expr, steps).rstrip("\n"),
            "```",
            "",
            "```{code-block} json",
            ":caption: to_config()",
            "",
            config,
            "```",
            "",
        ]
        names.append(name)
    _write(GENERATED / "gallery.md.inc", "\n".join(lines))
    return names


# ---------------------------------------------------------------------------------------------------------------
# README mirrors
# ---------------------------------------------------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6}) +(.*?)\s*$")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def readme_section(title: str | None, readme: str | None = None) -> str:
    """The README section headed ``title`` (to the next heading of its level), as a page headed ``# title``.

    ``title=None`` gives the text between the README's title and its first section, without a heading.

    Links to notebooks point at their rendered pages; links to other files of the repository (outside the site)
    become their text and path.
    """
    text = readme if readme is not None else (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = level = None
    fence = False
    body: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fence = not fence
        m = None if fence else _HEADING.match(line)
        if start is None:
            if m and (m.group(2) == title or (title is None and len(m.group(1)) == 1)):
                start, level = i, len(m.group(1)) + (title is None)
            continue
        if m and len(m.group(1)) <= level:
            break
        if m:  # shift subheadings so the section's own heading becomes the page title
            line = "#" * (len(m.group(1)) - level + 1) + " " + m.group(2)
        body.append(line)
    if start is None:
        raise RuntimeError(f"README.md has no section headed {title!r} (the docs mirror it)")

    def link(m: re.Match[str]) -> str:
        label, target = m.group(1), m.group(2)
        if target in SITE_PAGES:
            return f"[{label}]({SITE_PAGES[target]})"
        if target.startswith("docs/") and target.endswith(".md"):  # a hand-written page of the site
            return f"[{label}]({target.removeprefix('docs/')})"
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            return m.group(0)
        nb = re.fullmatch(r"notebooks/([^/]+)\.ipynb", target)
        if nb:
            return f"[{label}](notebooks/{nb.group(1)}.ipynb)"
        return label if label.strip("`") == target.rstrip("/") else f"{label} (`{target}`)"

    text = _LINK.sub(link, "\n".join(body)).strip() + "\n"
    return text if title is None else f"# {title}\n\n{text}"


# README links that are pages of the site: the README's anchor or file -> the page.
SITE_PAGES = {
    "#install": "install.md",
    "#quick-start": "quick-start.md",
    "#which-schedule": "which-schedule.md",
    "CHANGELOG.md": "changelog.md",
}

# README sections mirrored on the site: fragment name -> section title (None: the text above the first section).
MIRRORS: dict[str, str | None] = {
    "intro": None,
    "install": "Install",
    "quick-start": "Quick start",
    "which-schedule": "Which schedule?",
}


def write_readme_mirrors() -> None:
    for slug, title in MIRRORS.items():
        _write(GENERATED / f"{slug}.md.inc", readme_section(title))


def cli_reference() -> str:
    """The ``lrsched`` command's page: each subcommand's ``--help``, generated from the parser itself."""
    from lrsched._cli.commands import _parser

    parser = _parser()
    parts = ["# The `lrsched` command\n", "```text", parser.format_help().rstrip(), "```\n"]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        parts += [f"## `lrsched {name}`\n", "```text", command.format_help().rstrip(), "```\n"]
    return "\n".join(parts)


def write_cli() -> None:
    _write(GENERATED / "cli.md.inc", cli_reference())


# ---------------------------------------------------------------------------------------------------------------
# Notebooks and migration tables
# ---------------------------------------------------------------------------------------------------------------


def copy_notebooks() -> list[str]:
    NOTEBOOKS.mkdir(parents=True, exist_ok=True)
    names = []
    for src in sorted((ROOT / "notebooks").glob("*.ipynb")):
        dst = NOTEBOOKS / src.name
        data = src.read_bytes()
        if not dst.exists() or dst.read_bytes() != data:  # unchanged copies keep their mtime: no re-read
            dst.write_bytes(data)
        names.append(src.stem)
    for stale in NOTEBOOKS.glob("*.ipynb"):
        if stale.stem not in names:
            stale.unlink()
    return names


def write_migration() -> None:
    import migration_table

    for framework in migration_table.FRAMEWORKS:
        _write(GENERATED / f"migration-{framework}.md.inc", migration_table.render(framework))


def _write(path: Path, text: str) -> None:
    """Write only on change, so Sphinx re-reads only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate() -> None:
    write_api(api_pages())
    write_gallery()
    write_readme_mirrors()
    write_cli()
    copy_notebooks()
    write_migration()


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(DOCS))
    generate()
