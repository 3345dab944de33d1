"""Figs. 3-5 of Müller 2023: Kepler problem, unconstrained vs rotation-invariant Lagrangian network.

    python -m benchmarks.lagrangian_kepler [--quick] [--epochs=N] [--out_dir=results/lagrangian_kepler]

Trains both networks (paper: 2500 epochs x 100 steps), integrates to T = 128 with RK4 (dt = 0.01)
and prints δL_NN, δL_true (Eq. 35), δq and the final training MSE beside the paper's statements.
"""

from __future__ import annotations

from benchmarks import lagrangian_common

PAPER = {
    ("R", "dL_NN_final"): "zero within float32 rounding",
    ("R", "dL_true_max"): "never exceeds 1e-3",
    ("none", "dL_true_final"): "about 1 by t = 50, then diverges",
    ("R", "dq_max"): "below 0.1 up to T = 128 (Fig. 5)",
    ("none", "dq_max"): "diverges (Fig. 5)",
    ("R", "final_mse"): "1e-5 to 1e-6",
    ("none", "final_mse"): "1e-5 to 1e-6",
}


benchmark = lagrangian_common.two_networks("kepler", "Kepler (Figs. 3-5)", PAPER, t_final=128.0)


if __name__ == "__main__":
    lagrangian_common.main("lagrangian_kepler", benchmark, symmetries=("none", "R"))
