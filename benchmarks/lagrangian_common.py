"""What the Lagrangian-network benchmarks (Müller 2023) share: one reproduction run, its table, its flags.

:func:`reproduction` trains one network per symmetry, integrates it (``lagrangian.experiment.reproduce``)
and writes every measured number beside the paper's statement through :func:`benchmarks.harness.write_results`;
:func:`two_networks` makes the benchmark of the figures comparing the unconstrained network with the
rotation-invariant one; :func:`main` is :func:`benchmarks.harness.main` with ``--epochs`` and, where a benchmark trains several
networks, ``--symmetries``.
"""

from __future__ import annotations

from benchmarks import harness


def reproduction(system: str, label: str, paper: dict, quick: bool, out_dir: str, epochs, seed: int, symmetries,
                 steps: int, t_final: float, rows_before=()) -> dict:
    """Train, integrate to ``t_final`` and tabulate; returns ``{"numbers": {symmetry: {...}}, "rows": [...]}``.

    ``paper``: ``{(symmetry, key): statement}``; ``epochs`` None: 2 (quick) or the paper's 2500; the
    networks are 2 x 32 (quick) or 2 x 128 softplus. ``rows_before`` lead the table.
    """
    from lagrangian.experiment import reproduce

    epochs = epochs or (2 if quick else 2500)
    numbers = reproduce(system, list(symmetries), epochs, steps, t_final, out_dir, seed=seed,
                        hidden_units=32 if quick else 128, jit_compile=not quick)
    rows = list(rows_before) + [{"quantity": f"{sym}: {key}", "paper": paper.get((sym, key)), "ours": value}
                                for sym, nums in numbers.items() for key, value in nums.items()]
    harness.write_results(out_dir, f"lagrangian_{system}", rows,
                          title=f"{label}, {epochs} epochs x {steps} steps, T = {t_final:g}")
    return {"numbers": numbers, "rows": rows}


def two_networks(system: str, label: str, paper: dict, t_final: float):
    """The benchmark of a figure set comparing the unconstrained network with the rotation-invariant one (R):
    100 steps an epoch, integrated to ``t_final`` (quick: 25 steps, T = 2)."""

    def benchmark(quick: bool = False, out_dir: str = f"results/lagrangian_{system}", epochs=None, seed: int = 0,
                  symmetries=("none", "R")) -> dict:
        return reproduction(system, label, paper, quick, out_dir, epochs, seed, symmetries,
                            steps=25 if quick else 100, t_final=2.0 if quick else t_final)

    return benchmark


def main(name: str, benchmark, symmetries=()) -> None:
    """Run ``benchmark(quick, out_dir, epochs, seed[, symmetries])`` as a script.

    ``symmetries``: the networks the benchmark can train; when given, ``--symmetries`` picks a subset (so that
    the networks can run in separate processes).
    """
    from absl import flags

    from conserve_tf import cli

    def define():
        flags.DEFINE_integer("epochs", None, "Override the number of training epochs (paper: 2500).")
        if symmetries:
            flags.DEFINE_list("symmetries", None, f"Networks to train, a subset of {','.join(symmetries)} "
                              "(default: the paper's set).")

    def arguments(F) -> dict:
        kwargs = {"epochs": F.epochs}
        if symmetries and F.symmetries:
            unknown = sorted(set(F.symmetries) - set(symmetries))
            if unknown:
                raise cli.UsageError(f"--symmetries: unknown {unknown}; choose from {list(symmetries)}")
            kwargs["symmetries"] = F.symmetries
        return kwargs

    harness.main(name, benchmark, define, arguments)
