"""Figs. 6-8 of Müller 2023: particle in the Schwarzschild metric (r_s = 0.1), unconstrained vs rotation-invariant Lagrangian network.

    python -m benchmarks.lagrangian_schwarzschild [--quick] [--epochs=N] [--out_dir=results/lagrangian_schwarzschild]

Trains both networks (paper: 2500 epochs x 100 steps), integrates to T = 1000 with RK4 (dt = 0.01)
and prints δL_NN, δL_true (Eq. 35), δq and the final training MSE beside the paper's statements.
"""

from __future__ import annotations

from benchmarks import lagrangian_common

PAPER = {
    ("R", "dL_NN_max"): "never exceeds about 1e-5 (float32 rounding)",
    ("R", "dL_true_max"): "below 1e-3",
    ("none", "dL_true_final"): "about 0.1 (10 %) at later times",
    ("R", "dq_final"): "about 10 times smaller than unconstrained (Fig. 8)",
    ("none", "dq_final"): "about 10 times larger than R (Fig. 8)",
    ("R", "final_mse"): "about 1e-6",
    ("none", "final_mse"): "about 1e-6",
}


benchmark = lagrangian_common.two_networks("schwarzschild", "Schwarzschild (Figs. 6-8)", PAPER, t_final=1000.0)


if __name__ == "__main__":
    lagrangian_common.main("lagrangian_schwarzschild", benchmark, symmetries=("none", "R"))
