"""Table 2 and Figs. 9-11 of Müller 2023: two particles in D = 4 with the double-well potential.

    python -m benchmarks.lagrangian_two_particle [--quick] [--epochs=N] [--out_dir=...]

Prints the input counts of D1 for none / R / T / R∘T (Table 2), then trains the four networks,
integrates to T = 8 and prints δL, δM (Eqs. 35-37), δq and the final training MSE.
"""

from __future__ import annotations

TABLE2 = {"none": 16, "R": 11, "T": 12, "RT": 6}
PAPER = {
    ("RT", "dL_true_final"): "within 1 %",
    ("RT", "dM_true_final"): "within 1 %",
    ("RT", "dL_NN_final"): "float32 rounding",
    ("RT", "dM_NN_final"): "float32 rounding",
    ("R", "dL_NN_final"): "float32 rounding (R conserves L)",
    ("T", "dM_NN_final"): "float32 rounding (T conserves M)",
    ("T", "dM_true_final"): "better than unconstrained",
    ("none", "dL_true_final"): "10 % to 100 %",
    ("none", "dM_true_final"): "10 % to 100 %",
    ("R", "dL_true_final"): "below about 10 %",
    ("R", "dM_true_final"): "below about 10 %",
    ("R", "dq_final"): "almost as small as R∘T (Fig. 11)",
    ("T", "dq_final"): "almost as small as R∘T (Fig. 11)",
    ("RT", "final_mse"): "about 1e-4",
    ("none", "final_mse"): "about 1e-4",
}


def table2() -> dict:
    """Outputs of the symmetry layer for two particles in D = 4, keyed by symmetry."""
    from lagrangian.systems import TwoParticle

    system = TwoParticle(dim=4)
    return {sym: system.symmetry_layer(sym).output_width for sym in TABLE2}


def benchmark(quick: bool = False, out_dir: str = "results/lagrangian_two_particle", epochs=None, seed: int = 0,
              symmetries=None) -> dict:
    import os

    from lagrangian.experiment import report, reproduce

    os.makedirs(out_dir, exist_ok=True)
    counts = table2()
    lines = ["## Table 2: inputs to D1 (two particles, D = 4)", "", "| symmetry | this package | paper |",
             "| --- | --- | --- |"] + [f"| {s} | {counts[s]} | {TABLE2[s]} |" for s in TABLE2]
    epochs = epochs or (2 if quick else 2500)
    steps = 20 if quick else 100
    t_final = 1.0 if quick else 8.0
    symmetries = list(symmetries or (["none", "RT"] if quick else ["none", "R", "T", "RT"]))
    numbers = reproduce("two_particle", symmetries, epochs, steps, t_final, out_dir, seed=seed,
                        hidden_units=32 if quick else 128, jit_compile=not quick)
    title = f"Two particles, D = 4 (Figs. 9-11), {epochs} epochs x {steps} steps, T = {t_final:g}"
    table = "\n".join(lines) + "\n\n" + report(title, numbers, PAPER, out_dir)
    with open(os.path.join(out_dir, "results.md"), "w") as fh:
        fh.write(table)
    return {"numbers": numbers, "table2": counts, "table": table}


if __name__ == "__main__":
    from benchmarks.lagrangian_common import main_for

    main_for("lagrangian_two_particle", benchmark, symmetries=tuple(TABLE2))
