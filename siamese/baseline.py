"""The Siamese network as the ConservNet paper's baseline (Ha & Jeong 2021, appendix B / E; Fig. 3).

The ConservNet paper trains the SNN with Adam, batch 64, on every combination of learning rates
{5e-3, 5e-4, 5e-5} and widths {160, 320}, reports for each condition the best of five trials by test
accuracy, and scores the bottleneck f with |Pearson rho| against the true constant C. ``baseline_rho``
runs that grid (reduced by default: ``trials=1`` and an epoch budget, documented in docs/siamese.md)
and returns the rho of the run with the best test accuracy.
"""

from __future__ import annotations

import itertools

import numpy as np

from conserve_tf import metrics

from .training import train_siamese

__all__ = ["baseline_rho", "baseline_grid"]


def baseline_grid(train, test, widths=(160, 320), learning_rates=(5e-3, 5e-4, 5e-5), trials: int = 1,
                  depth: int = 2, epochs: int = 100, batch_size: int = 64, seed: int = 0, constant=0) -> list:
    """Every run of the grid: list of dicts (width, learning_rate, trial, train/test accuracy, rho)."""
    if test.c is None:
        raise ValueError("baseline_rho needs test data with known constants (c) to score rho against")
    if int(trials) < 1 or int(depth) < 1:
        raise ValueError(f"trials and depth must be >= 1, got {trials} and {depth}")
    runs = []
    for (width, lr), trial in itertools.product(itertools.product(widths, learning_rates), range(int(trials))):
        model, info = train_siamese(train, test, hidden=[int(width)] * int(depth), recipe="adam",
                                    learning_rate=lr, epochs=epochs, batch_size=batch_size,
                                    seed=seed + 1000 * trial, first_layer="dense")  # the paper's SNN
        f = model.invariant(test.flat()).reshape(test.n_groups, test.n_members)
        runs.append({"width": int(width), "learning_rate": float(lr), "trial": trial,
                     "train_accuracy": info["train_accuracy"], "test_accuracy": info["test_accuracy"],
                     "epochs": info["epochs"], "rho": metrics.pearson_rho(f, test.constants(constant))})
    return runs


def baseline_rho(train, test, widths=(160, 320), learning_rates=(5e-3, 5e-4, 5e-5), trials: int = 1,
                 depth: int = 2, epochs: int = 100, batch_size: int = 64, seed: int = 0, constant=0) -> float:
    """|Pearson rho| between f and C on ``test`` for the grid run with the best test accuracy.

    ``train``, ``test``: GroupedData (G, M, F) with at least two groups each (the SNN compares groups).
    """
    runs = baseline_grid(train, test, widths, learning_rates, trials, depth, epochs, batch_size, seed, constant)
    best = max(runs, key=lambda r: (r["test_accuracy"], r["rho"]))
    return float(best["rho"]) if np.isfinite(best["rho"]) else 0.0
