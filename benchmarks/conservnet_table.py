"""The results table of the ConservNet reproductions: every number beside the paper's.

    python -m benchmarks.conservnet_table [--results_root results] [--out_dir results/conservnet_table]
        [--run] [--quick]

Reads ``<results_root>/conservnet_<name>/results.csv`` written by the benchmarks
conservnet_fig2, fig3, fig4, fig5, fig6, fig7, fig8, fig9 and appf, and writes one ``results.md``, ``.json`` and
``results.csv`` with a row per reproduced quantity (benchmark, quantity, paper, conserve-tf, note). A
benchmark whose file is missing is listed as "not run"; ``--run`` runs the missing ones first
(``--quick`` with their quick budgets).
"""

from __future__ import annotations

import csv
import importlib
import os

from benchmarks import harness

BENCHMARKS = ("fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "appf")


def benchmark(quick: bool, out_dir: str, results_root: str = "results", run_missing: bool = False) -> dict:
    """Collect (and with ``run_missing`` produce) every benchmark's results into one table."""
    rows, missing = [], []
    for b in BENCHMARKS:
        path = os.path.join(results_root, f"conservnet_{b}", "results.csv")
        if not os.path.exists(path) and run_missing:
            importlib.import_module(f"benchmarks.conservnet_{b}").benchmark(quick, os.path.dirname(path))
        if not os.path.exists(path):
            missing.append(b)
            rows.append({"benchmark": f"conservnet_{b}", "quantity": "(not run)", "paper": None, "ours": "",
                         "note": f"run python -m benchmarks.conservnet_{b}"})
            continue
        with open(path, newline="") as fh:
            rows.extend({"benchmark": r["benchmark"], "quantity": r["quantity"], "paper": r["paper"],
                         "ours": _number(r["conserve_tf"]), "note": r["note"]} for r in csv.DictReader(fh))
    harness.write_results(out_dir, "conservnet_table", rows,
                          title="ConservNet reproductions: conserve-tf beside the paper")
    return {"rows": rows, "missing": missing, "n_rows": len(rows)}


def _number(cell: str):
    """A CSV cell back as a float when it is one (the table formats numbers alike), else the text."""
    try:
        return float(cell)
    except ValueError:
        return cell


def define_flags():
    """The collector's own absl flags."""
    from absl import flags

    flags.DEFINE_bool("run", False, "run the benchmarks whose results are missing (--quick: their quick mode)")
    flags.DEFINE_string("results_root", "results", "folder holding results/conservnet_<name>/results.csv")


if __name__ == "__main__":
    harness.main("conservnet_table", benchmark, define_flags,
                 lambda F: {"results_root": F.results_root, "run_missing": F.run}, seed=False)
