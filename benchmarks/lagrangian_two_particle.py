"""Table 2 and Figs. 9-11 of Müller 2023: two particles in D = 4 with the double-well potential.

    python -m benchmarks.lagrangian_two_particle [--quick] [--epochs=N] [--out_dir=...]

Prints the input counts of D1 for none / R / T / R∘T (Table 2), then trains the four networks,
integrates to T = 8 and prints δL, δM (Eqs. 35-37), δq and the final training MSE.
"""

from __future__ import annotations

from benchmarks import lagrangian_common

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
    """Table 2, then the networks trained and integrated; adds ``"table2"`` (the input counts) to the result."""
    counts = table2()
    symmetries = list(symmetries or (["none", "RT"] if quick else ["none", "R", "T", "RT"]))
    rows = [{"quantity": f"Table 2: inputs to D1, {s}", "paper": TABLE2[s], "ours": counts[s]} for s in TABLE2]
    out = lagrangian_common.reproduction("two_particle", "Two particles, D = 4 (Table 2, Figs. 9-11)", PAPER, quick,
                                         out_dir, epochs, seed, symmetries, steps=20 if quick else 100,
                                         t_final=1.0 if quick else 8.0, rows_before=rows)
    return {**out, "table2": counts}


if __name__ == "__main__":
    lagrangian_common.main("lagrangian_two_particle", benchmark, symmetries=tuple(TABLE2))
