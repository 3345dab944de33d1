"""Shared absl plumbing of the lagrangian benchmarks (flags --quick, --out_dir, --epochs)."""

from __future__ import annotations

import os

from conserve_tf import cli


def main_for(name: str, benchmark, symmetries=()) -> None:
    """Define the flags, then run ``benchmark(quick, out_dir, epochs, seed[, symmetries])`` under ``cli.run``.

    ``symmetries``: the networks the benchmark can train; when given, ``--symmetries`` picks a subset.
    """
    from absl import flags

    flags.DEFINE_bool("quick", False, "Small, fast run (the tests use it).")
    flags.DEFINE_string("out_dir", os.path.join("results", name), "Folder for CSV, markdown and PNG output.")
    flags.DEFINE_integer("epochs", None, "Override the number of training epochs (paper: 2500).")
    flags.DEFINE_integer("seed", 0, "Random seed.")
    if symmetries:
        flags.DEFINE_list("symmetries", None, f"Networks to train, a subset of {','.join(symmetries)} "
                          "(default: the paper's set); lets the networks run in separate processes.")

    def main(argv):
        if len(argv) > 1:
            raise cli.UsageError(f"unexpected arguments: {argv[1:]}")
        f = flags.FLAGS
        extra = {}
        if symmetries and f.symmetries:
            unknown = sorted(set(f.symmetries) - set(symmetries))
            if unknown:
                raise cli.UsageError(f"--symmetries: unknown {unknown}; choose from {list(symmetries)}")
            extra["symmetries"] = f.symmetries
        result = benchmark(quick=f.quick, out_dir=f.out_dir, epochs=f.epochs, seed=f.seed, **extra)
        print(result.get("table", ""))
        print(f"output in {f.out_dir}")

    cli.quiet_tensorflow()
    cli.run(main)
