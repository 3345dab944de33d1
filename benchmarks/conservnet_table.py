"""The results table of the ConservNet reproductions: every number beside the paper's.

    python -m benchmarks.conservnet_table [--results_root results] [--out_dir results/conservnet_table]
        [--run] [--quick]

Reads ``<results_root>/conservnet_<name>/results.csv`` written by the benchmarks
conservnet_fig2, fig3, fig4, fig5, fig6, fig7, fig8, fig9 and appf, and writes one ``results.md`` and
``results.csv`` with a row per reproduced quantity (benchmark, quantity, paper, conserve-tf, note). A
benchmark whose file is missing is listed as "not run"; ``--run`` runs the missing ones first
(``--quick`` with their quick budgets).
"""

from __future__ import annotations

import csv
import importlib
import os

from absl import flags

from benchmarks import _common

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
            rows.append({"benchmark": f"conservnet_{b}", "quantity": "(not run)", "paper": "", "conserve_tf": "",
                         "note": f"run python -m benchmarks.conservnet_{b}"})
            continue
        with open(path, newline="") as fh:
            rows.extend(csv.DictReader(fh))
    os.makedirs(out_dir, exist_ok=True)
    lines = ["| benchmark | quantity | paper | conserve-tf | note |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        ours = r.get("conserve_tf", "")
        try:
            ours = _common.fmt(float(ours))
        except ValueError:
            pass
        lines.append(f"| {r['benchmark']} | {r['quantity']} | {r.get('paper', '')} | {ours} | {r.get('note', '')} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(out_dir, "results.md"), "w") as fh:
        fh.write("# ConservNet reproductions: conserve-tf beside the paper\n\n" + text)
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["benchmark", "quantity", "paper", "conserve_tf", "note"])
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in w.fieldnames})
    return {"rows": rows, "missing": missing, "n_rows": len(rows)}


def main(argv):
    del argv
    F = flags.FLAGS
    benchmark(F.quick, F.out_dir, F.results_root, F.run)


def define_flags():
    """The script's absl flags (defined only when run as a script, so that importing is side-effect free)."""
    flags.DEFINE_bool("quick", False, "with --run: run missing benchmarks in quick mode")
    flags.DEFINE_bool("run", False, "run the benchmarks whose results are missing")
    flags.DEFINE_string("results_root", "results", "folder holding results/conservnet_<name>/results.csv")
    flags.DEFINE_string("out_dir", "results/conservnet_table", "folder for the collected table")


if __name__ == "__main__":
    define_flags()
    from conserve_tf.cli import quiet_tensorflow, run

    quiet_tensorflow()
    run(main)
