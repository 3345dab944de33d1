"""What every benchmark shares: the absl entry point, the results writer and the figure saver.

* :func:`main` runs one benchmark as a script: the common flags (``--quick``, ``--out_dir``, ``--seed``)
  and the benchmark's own, defined inside the call so that any number of benchmark modules can be
  imported in one process; one call of the benchmark; user errors printed in one line.
* :func:`write_results` prints and saves one table of rows -- our number beside the paper's -- as
  ``results.csv``, ``results.md`` and ``results.json``.
* :func:`write_csv` saves a raw table (training curves, every run of a grid) beside the results.
* :func:`pyplot` / :func:`save_figure`: matplotlib on the Agg backend, and a figure written into out_dir.

A row is a dict with ``quantity`` (what is measured), ``ours`` (number or string), optional ``paper``
(the paper's number or statement, None when it has none), ``note`` and ``benchmark`` (when a table
collects several benchmarks).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from typing import Callable

import numpy as np

COLUMNS = ("benchmark", "quantity", "paper", "conserve_tf", "note")


def main(name: str, benchmark: Callable[..., dict], define: Callable[[], None] | None = None,
         arguments: Callable[[object], dict] | None = None, seed: bool = True) -> None:
    """Run ``benchmark(quick=..., out_dir=..., [seed=...,] **own)`` as an absl script and exit.

    ``define()`` defines the benchmark's own flags (``absl.flags.DEFINE_*``). Each of them is passed to
    ``benchmark`` under its own name, unless ``arguments(FLAGS)`` is given: then it returns the keyword
    arguments made from them (parsed lists, budgets). ``seed=False``: the benchmark takes no seed (it
    draws none, or fixes its own). The benchmark prints its own table (:func:`write_results`).
    """
    from absl import flags

    from conserve_tf import cli

    flags.DEFINE_bool("quick", False, "tiny networks and data, few steps (seconds; what the tests run)")
    flags.DEFINE_string("out_dir", os.path.join("results", name), "folder for the result tables and figures")
    if seed:
        flags.DEFINE_integer("seed", 0, "seed of the data and the networks")
    own = defined_by(define)

    def run(argv):
        if len(argv) > 1:
            raise cli.UsageError(f"unexpected arguments: {argv[1:]}")
        F = flags.FLAGS
        kwargs = arguments(F) if arguments is not None else {k: getattr(F, k) for k in own}
        if seed:
            kwargs["seed"] = F.seed
        benchmark(quick=F.quick, out_dir=F.out_dir, **kwargs)
        print(f"results in {F.out_dir}")

    cli.quiet_tensorflow()
    cli.run(run)


def defined_by(define: Callable[[], None] | None) -> list:
    """Call ``define()`` (absl flag definitions, or None) and return the names of the flags it added."""
    from absl import flags

    before = set(flags.FLAGS)
    if define is not None:
        define()
    return sorted(set(flags.FLAGS) - before)


def fmt(value, digits: int = 4) -> str:
    """A table cell: numbers with ``digits`` decimals, or in e-notation when below 1e-3 or from 1e5."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_, str)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    if v != 0 and not 1e-3 <= abs(v) < 1e5:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}f}"


def _cell(value) -> str:
    """One Markdown table cell: a bare | (|rho|, |E|²) is escaped and a line break becomes a space, so the row
    keeps its columns."""
    return re.sub(r"(?<!\\)\|", r"\\|", str(value)).replace("\n", " ")


def markdown(rows: list, title: str, notes: str = "") -> str:
    """The Markdown table of ``rows``; a benchmark column only when rows name their own benchmark."""
    named = any("benchmark" in r for r in rows)
    head = ["benchmark"] * named + ["quantity", "paper", "conserve-tf", "note"]
    lines = [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in rows:
        cells = [r.get("benchmark", "")] * named + [r["quantity"], fmt(r.get("paper")), fmt(r.get("ours")),
                                                    r.get("note", "")]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if notes:
        lines += ["", notes]
    return "\n".join(lines) + "\n"


def write_results(out_dir: str, benchmark: str, rows: list, budget: dict | None = None, notes: str = "",
                  title: str | None = None) -> dict:
    """Print ``rows`` as Markdown and save them as results.csv / results.md / results.json in ``out_dir``.

    ``title`` heads the Markdown (default "<benchmark>: package vs paper", with the budget when given);
    ``notes`` follow the table. Returns the three paths.
    """
    for i, r in enumerate(rows):
        missing = {"quantity", "ours"} - set(r)
        if missing:
            raise ValueError(f"{benchmark}: result row {i} lacks {sorted(missing)}: {r}")
    os.makedirs(out_dir, exist_ok=True)
    title = title or f"{benchmark}: package vs paper" + (f" (budget: {budget})" if budget else "")
    text = markdown(rows, title, notes)
    print(text)
    paths = {ext: os.path.join(out_dir, f"results.{ext}") for ext in ("csv", "md", "json")}
    write_csv(paths["csv"], COLUMNS, [[r.get("benchmark", benchmark), r["quantity"], r.get("paper"), r["ours"],
                                       r.get("note", "")] for r in rows])
    with open(paths["md"], "w") as fh:
        fh.write(text)
    with open(paths["json"], "w") as fh:
        json.dump({"benchmark": benchmark, "budget": budget, "rows": rows, "notes": notes}, fh, indent=1,
                  default=_jsonable)
    return paths


def write_csv(path: str, header, rows) -> str:
    """A raw table (header, then one list per row) as CSV at ``path``; returns the path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, out_dir: str, filename: str, dpi: int = 120) -> str:
    """Lay out ``fig``, write it to ``out_dir/filename`` and close it; returns the path."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, filename)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path
