"""Your own measurements end to end: a pendulum's energy found from grouped trajectories.

Each group is one swing of a frictionless pendulum, theta'' = -sin(theta) (g / L = 1), started at its own
amplitude; its members are (theta, omega) samples along the trajectory. The energy
E = omega² / 2 - cos(theta) is the same for every member of a group and differs between groups: the
kind of hidden constant ConservNet (Ha & Jeong, PRR 3, L042035, 2021) learns from grouped data.

The example
1. integrates the pendulums with ``scipy.integrate.solve_ivp`` and writes ``measurements.csv`` with a
   ``group`` column (and the true ``E``, which you would not have for real data);
2. reads the CSV back as :class:`conserve_tf.GroupedData` and trains with :func:`conserve_tf.fit_conservnet`;
3. writes the run folder (``invariant.png``: the learned F against E per group, ``training.png``,
   ``results.json``, ``model.keras``) and prints the polynomial read-out of F;
4. reloads ``model.keras`` with ``keras.models.load_model`` and evaluates it on pendulums it never saw.

    python examples/own_measurements.py                      # 16 pendulums x 80 samples, 600 steps
    python examples/own_measurements.py --steps=30 --groups=4 --members=12 --out_dir=/tmp/pendulum

The same CSV trains with the script too:
``conservnet-train --data=<out_dir>/measurements.csv --constant_columns=E --scaling=standardize --objective=nv --q=0.3 --r=0.3``.
"""

from __future__ import annotations

import argparse
import csv
import os

import keras
import numpy as np
from scipy.integrate import solve_ivp

from conserve_tf import GroupedData, evaluate_invariant, fit_conservnet, predict_groups, symbolic
from conserve_tf.runs import write_run


def simulate(groups: int, members: int, seed: int = 0) -> GroupedData:
    """``groups`` pendulum trajectories, ``members`` samples each: x (groups, members, 2), c = E (groups,)."""
    rng = np.random.default_rng(seed)
    amplitudes = rng.uniform(0.2, 2.0, size=groups)  # start at rest at this angle: E = -cos(amplitude)
    x = np.empty((groups, members, 2))
    for g, a in enumerate(amplitudes):
        times = np.sort(rng.uniform(0.0, 20.0, size=members))  # irregular sampling times
        sol = solve_ivp(lambda t, y: [y[1], -np.sin(y[0])], (0.0, 20.0), [a, 0.0], t_eval=times, rtol=1e-9,
                        atol=1e-9)
        x[g] = sol.y.T
    energy = 0.5 * x[..., 1] ** 2 - np.cos(x[..., 0])
    return GroupedData(x, c=energy.mean(axis=1), feature_names=["theta", "omega"], constant_names=["E"],
                       name="pendulum")


def write_csv(data: GroupedData, path: str) -> str:
    """One row per sample: group, theta, omega, E (the format ``GroupedData.load`` and ``--data`` read)."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["group", *data.feature_names, "E"])
        for g in range(data.n_groups):
            for row in data.x[g]:
                writer.writerow([g, *(f"{v:.9g}" for v in row), f"{data.c[g]:.9g}"])
    return path


def main(groups: int = 16, members: int = 80, steps: int = 600, out_dir: str = "runs/pendulum", seed: int = 0):
    """Run the four steps; returns the held-out and new-data reports, the formula, the model and the new data."""
    os.makedirs(out_dir, exist_ok=True)
    csv_path = write_csv(simulate(groups, 2 * members, seed), os.path.join(out_dir, "measurements.csv"))
    data = GroupedData.load(csv_path, group_column="group", constant_columns=["E"])
    train, test = data.split_within(0.5, seed=seed)  # half of every trajectory for training, half held out
    model, history = fit_conservnet(train, test, steps=steps, scaling="standardize", objective="nv", q=0.3, r=0.3, width=64,
                                    depth=3, eval_every=1, steps_per_epoch=max(1, steps // 10), seed=seed)
    held_out = evaluate_invariant(model, test)
    readout = symbolic.polynomial_readout(train.flat(), predict_groups(model, train).reshape(-1), test.flat(),
                                          predict_groups(model, test).reshape(-1), degrees=(2, 4),
                                          feature_names=train.feature_names)
    write_run(out_dir, model, {"data": csv_path, "metrics": {"test": held_out}, "formula": readout.formula},
              history=history, steps_per_epoch=max(1, steps // 10), outputs=predict_groups(model, test),
              constants=test.c, constant_names=test.constant_names, title="pendulum")
    print(f"held-out: rho = {held_out['rho']:.4f}, R² = {held_out['r2']:.4f}")
    print(readout.markdown())
    print(f"F ≈ {readout.formula}   (E = omega²/2 - cos(theta) ≈ omega²/2 + theta²/2 - theta⁴/24 - 1)")

    reloaded = keras.models.load_model(os.path.join(out_dir, "model.keras"))
    new = simulate(groups, members, seed=seed + 1)  # other amplitudes, never seen in training
    fresh = evaluate_invariant(reloaded, new)
    print(f"reloaded model on {new.n_groups} new pendulums: rho = {fresh['rho']:.4f}, R² = {fresh['r2']:.4f}")
    print(f"figures and results in {out_dir}")
    return {"held_out": held_out, "new": fresh, "formula": readout.formula, "out_dir": out_dir, "model": model,
            "new_data": new}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=16, help="pendulums (groups)")
    parser.add_argument("--members", type=int, default=80, help="samples per pendulum for training (as many held out)")
    parser.add_argument("--steps", type=int, default=600, help="optimizer steps")
    parser.add_argument("--out_dir", default="runs/pendulum", help="folder for the CSV, model and figures")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.groups, args.members, args.steps, args.out_dir, args.seed)
