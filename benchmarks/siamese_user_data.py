"""Issue 15's user-data check: Lorentz-transformed events drawn unlike the paper's, through ``siamese.train --data``.

    python -m benchmarks.siamese_user_data [--quick] [--seeds 0,1,2] [--groups 25000] [--epochs 30]
        [--out_dir results/siamese_user_data]

A scientist's events rarely come from the paper's box. This benchmark draws two such data sets, writes
each as a CSV (``group,C,t,x,y,z``; C = s²), and trains ``python -m siamese.train --data=FILE
--epochs=30 --readout=polynomial`` on it with every other flag at its default, as a user would (whole
groups held out for testing). The events are Gaussian with std 2 (not uniform in [-1, 1]⁴); the second
member of a group is Λ x with Λ a boost along a uniform direction with rapidity ~ U(-1.5, 1.5) (not a
speed uniform in (-0.9, 0.9) along x), time-reversed in half of the groups:

* ``rotations``: a rotation from O(3) (a reflection in half) after the boost, as the paper's Λ = D1 Λ_v D2;
* ``boosts_only``: no rotation (docs/siamese.md says why this one is hard).

The table gives train / test accuracy and the degree-2 test R² of f against the polynomial read-out,
beside issue 15's target (test accuracy >= 0.85 within 30 epochs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from benchmarks import harness

DATA_SETS = ("rotations", "boosts_only")
TARGET = 0.85  # issue 15: test accuracy on user data within 30 epochs
ETA = np.diag([-1.0, 1.0, 1.0, 1.0])


def boosts(directions, rapidities) -> np.ndarray:
    """Pure boosts along unit ``directions`` (n, 3) with ``rapidities`` (n,): (n, 4, 4) acting on (t, x, y, z).

    Λ⁰₀ = cosh φ, Λ⁰ᵢ = Λⁱ₀ = -sinh φ nᵢ, Λⁱⱼ = δᵢⱼ + (cosh φ - 1) nᵢ nⱼ; Λᵀ η Λ = η.
    """
    n = np.asarray(directions, np.float64)
    phi = np.asarray(rapidities, np.float64).reshape(-1)
    ch, sh = np.cosh(phi), np.sinh(phi)
    out = np.zeros((len(phi), 4, 4))
    out[:, 0, 0] = ch
    out[:, 0, 1:] = out[:, 1:, 0] = -sh[:, None] * n
    out[:, 1:, 1:] = np.eye(3) + (ch - 1.0)[:, None, None] * n[:, :, None] * n[:, None, :]
    return out


def user_lorentz(n: int, rng, rotations: bool, max_rapidity: float = 1.5) -> np.ndarray:
    """n Lorentz transformations unlike the paper's: boost (uniform direction, rapidity ~ U(-max, max)), then a
    rotation from O(3) if ``rotations``, then time reversal in half; (n, 4, 4)."""
    from siamese.systems import random_rotations

    directions = rng.normal(size=(n, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    lam = boosts(directions, rng.uniform(-max_rapidity, max_rapidity, n))
    if rotations:
        d = np.tile(np.eye(4), (n, 1, 1))
        d[:, 1:, 1:] = random_rotations(n, rng)
        d[rng.random(n) < 0.5, 1:, :] *= -1.0  # a reflection: O(3), not only SO(3)
        lam = d @ lam
    lam[rng.random(n) < 0.5, 0, :] *= -1.0
    return lam


def user_events(groups: int, seed: int, rotations: bool):
    """GroupedData of event pairs (x, Λ x): x ~ N(0, 2²) in each of (t, x, y, z); C = s² = -t² + x² + y² + z²."""
    from conserve_tf import GroupedData

    rng = np.random.default_rng(seed)
    ev = rng.normal(0.0, 2.0, (int(groups), 4))
    pairs = np.stack([ev, np.einsum("gij,gj->gi", user_lorentz(int(groups), rng, rotations), ev)], axis=1)
    s2 = -ev[:, 0] ** 2 + np.sum(ev[:, 1:] ** 2, axis=1)
    return GroupedData(pairs, c=s2, feature_names=["t", "x", "y", "z"], constant_names=["C"],
                       name=f"user_events_{'rotations' if rotations else 'boosts_only'}")


def benchmark(quick: bool, out_dir: str, seeds=(0, 1, 2), groups: int | None = None,
              epochs: int | None = None, data_sets=DATA_SETS) -> dict:
    """Write each data set as a CSV, train the script on it per seed; returns {data set: {seed: numbers}}."""
    unknown = set(data_sets) - set(DATA_SETS)
    if unknown:
        raise ValueError(f"unknown data sets {sorted(unknown)}; choose from {list(DATA_SETS)}")
    os.makedirs(out_dir, exist_ok=True)
    groups = groups or (200 if quick else 25_000)
    epochs = epochs or (2 if quick else 30)
    extra = ["--hidden=8"] if quick else []
    results, rows = {}, []
    for k, name in enumerate(data_sets):
        path = user_events(groups, 100 + k, rotations=name == "rotations").save(os.path.join(out_dir, f"{name}.csv"))
        for seed in seeds:
            run_dir = os.path.join(out_dir, f"{name}_seed{seed}")
            cmd = [sys.executable, "-m", "siamese.train", f"--data={path}", f"--epochs={epochs}", f"--seed={seed}",
                   "--readout=polynomial", "--verbose=0", f"--out_dir={run_dir}", *extra]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
            with open(os.path.join(run_dir, "results.json")) as fh:
                res = json.load(fh)
            r2 = {t["degree"]: t["r2_test"] for t in res["readout"]["f"]["r2_table"]}
            row = {"train_accuracy": res["metrics"]["train_accuracy"], "test_accuracy": res["metrics"]["test_accuracy"],
                   "r2_degree2": r2.get(2), "formula": res["readout"]["f"]["formula"], "epochs": res["epochs"],
                   "seconds": res["training_seconds"], "rho": res["metrics"]["f"].get("rho")}
            results.setdefault(name, {})[int(seed)] = row
            rows.append({"quantity": f"{name} (seed {seed}): test accuracy after {row['epochs']} epochs",
                         "paper": f">= {TARGET} (issue 15)", "ours": row["test_accuracy"],
                         "note": f"train {row['train_accuracy']:.4f}, {row['seconds']:.0f} s of training"})
            rows.append({"quantity": f"{name} (seed {seed}): degree-2 read-out R² (test)", "ours": row["r2_degree2"],
                         "note": f"rho(f, s²) {row['rho']:+.4f}; f ≈ {row['formula']}"})
    harness.write_results(out_dir, "siamese_user_data", rows,
                          title="Siamese network on user data (CSV, Gaussian events, boosts of any direction)",
                          notes=f"{groups} groups per data set, python -m siamese.train --data=FILE --epochs={epochs}")
    return results


def define_flags():
    """The benchmark's own absl flags."""
    from absl import flags

    flags.DEFINE_list("seeds", ["0", "1", "2"], "training seeds (each trains every data set once)")
    flags.DEFINE_integer("groups", None, "groups per data set (default 25000; 200 with --quick)")
    flags.DEFINE_integer("epochs", None, "--epochs of siamese.train (default 30, issue 15's budget; 2 with --quick)")
    flags.DEFINE_list("data_sets", list(DATA_SETS), "which data sets: rotations, boosts_only")


if __name__ == "__main__":
    harness.main("siamese_user_data", benchmark, define_flags, lambda F: {
        "seeds": [int(s) for s in F.seeds], "groups": F.groups, "epochs": F.epochs, "data_sets": F.data_sets},
        seed=False)
