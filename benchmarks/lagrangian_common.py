"""Shared absl plumbing of the lagrangian benchmarks (flags --quick, --out_dir, --epochs)."""

from __future__ import annotations

import os

from conserve_tf import cli


def main_for(name: str, benchmark) -> None:
    """Define the flags, then run ``benchmark(quick, out_dir[, epochs])`` under ``cli.run``."""
    from absl import flags

    flags.DEFINE_bool("quick", False, "Small, fast run (the tests use it).")
    flags.DEFINE_string("out_dir", os.path.join("results", name), "Folder for CSV, markdown and PNG output.")
    flags.DEFINE_integer("epochs", None, "Override the number of training epochs (paper: 2500).")
    flags.DEFINE_integer("seed", 0, "Random seed.")

    def main(argv):
        if len(argv) > 1:
            raise cli.UsageError(f"unexpected arguments: {argv[1:]}")
        f = flags.FLAGS
        result = benchmark(quick=f.quick, out_dir=f.out_dir, epochs=f.epochs, seed=f.seed)
        print(result.get("table", ""))
        print(f"output in {f.out_dir}")

    cli.quiet_tensorflow()
    cli.run(main)
