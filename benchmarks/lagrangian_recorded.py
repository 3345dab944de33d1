"""Lagrangian networks on recorded trajectories, as a user brings them (``lagrangian.train --data``).

    python -m benchmarks.lagrangian_recorded [--quick] [--seed=0] [--epochs=200] [--out_dir=results/lagrangian_recorded]

Three records, each split in time (the last 20 % of every trajectory held out) and trained with the defaults of
``python -m lagrangian.train --data`` (200 epochs x 100 steps, 2 x 128 softplus, one restart of a run that
learned nothing, :func:`lagrangian.measured.fit_measured`):

* ``orbits``: three planar orbits in the potential -1/r written as a camera would record them, positions
  only, every 0.05 time units over 12 (``recorded_orbits``); velocities and accelerations are estimated
  (Savitzky-Golay). Trained without symmetry layer and with R, the rotation layer (``--dim=2 --symmetry=R``).
* ``double_pendulum``: the measured double pendulum of Schmidt & Lipson shipped with the package (trial 0,
  angles, angular velocities and accelerations as measured), without symmetry layer; the angles are periodic
  coordinates (the network reads cos θ and sin θ, ``--data=double_pendulum``'s default).
* ``turning_pendulum``: trial 1 of the same file, where the pendulum turns over (θ2 runs from −46 to −110 rad,
  so the held-out angles lie outside the training ones unless they are read as angles), likewise.

Per network it prints the R² of the accelerations on the training and held-out states, the largest
deviation of the network's angular momentum along a rollout from the first held-out state (exact with R up
to the RK4 error, Müller 2023), the largest distance of that rollout from the held-out record, the attempts
and the seconds of training, and draws each record's rollouts (``<case>_trajectories.png``, ``_charges.png``,
``_dq.png``). Paper 003 trains on its own systems only; there is no paper column to match.
"""

from __future__ import annotations

import csv
import os
import time

import numpy as np
from scipy.integrate import solve_ivp

from benchmarks import harness

CASES = (("orbits", "none"), ("orbits", "R"), ("double_pendulum", "none"), ("turning_pendulum", "none"))


def planar_orbits(n: int = 3, t_final: float = 12.0, dt: float = 0.05, seed: int = 0) -> list:
    """``n`` planar orbits of q̈ = -q / |q|³ (r0 in [0.8, 1.2], speeds 0.8-1.1 of the circular one), exact
    (DOP853, rtol 1e-11) every ``dt``: a list of ``(t (T,), q (T, 2), q̇ (T, 2), q̈ (T, 2))``."""
    rng = np.random.default_rng(seed)
    orbits = []
    for _ in range(n):
        r0, angle = rng.uniform(0.8, 1.2), rng.uniform(0.0, 2 * np.pi)
        v0 = rng.uniform(0.8, 1.1) / np.sqrt(r0)
        x0 = [r0 * np.cos(angle), r0 * np.sin(angle), -v0 * np.sin(angle), v0 * np.cos(angle)]
        t = np.arange(0.0, t_final, dt)
        sol = solve_ivp(lambda _, s: [s[2], s[3], *(-s[:2] / np.linalg.norm(s[:2]) ** 3)], (0.0, t[-1]), x0,
                        t_eval=t, method="DOP853", rtol=1e-11, atol=1e-12)
        q, v = sol.y[:2].T, sol.y[2:].T
        orbits.append((t, q, v, -q / np.linalg.norm(q, axis=1, keepdims=True) ** 3))
    return orbits


def recorded_orbits(path: str, **kwargs) -> str:
    """Write :func:`planar_orbits` (``kwargs``) as a camera would record them, ``trajectory,t,x,y`` rows
    (positions only); returns ``path``."""
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["trajectory", "t", "x", "y"])
        for k, (t, q, _, _) in enumerate(planar_orbits(**kwargs)):
            out.writerows([k, f"{ti:.10g}", repr(float(x)), repr(float(y))] for ti, (x, y) in zip(t, q))
    return path


def _record(case: str, out_dir: str, seed: int):
    from lagrangian.measured import double_pendulum_trajectories, load_trajectories

    if case in ("double_pendulum", "turning_pendulum"):
        return double_pendulum_trajectories(trial=int(case == "turning_pendulum")), None
    return load_trajectories(recorded_orbits(os.path.join(out_dir, "orbits.csv"), seed=seed)), 2


def benchmark(quick: bool = False, out_dir: str = "results/lagrangian_recorded", seed: int = 0, epochs=None,
              cases=None) -> dict:
    """Train and integrate every case; returns ``{"numbers": {"case symmetry": {...}}, "rows": [...]}``.
    ``epochs``: override the script's default (``lagrangian.measured.DEFAULT_EPOCHS``; quick 2). ``cases``: the
    records to run (names of :data:`CASES`; default all)."""
    from lagrangian.experiment import evaluate, final_numbers, plot_rollout
    from lagrangian.measured import DEFAULT_EPOCHS, MeasuredSystem, acceleration_r2, fit_measured

    os.makedirs(out_dir, exist_ok=True)
    default_epochs, steps, hidden = (2, 5, 16) if quick else (DEFAULT_EPOCHS, 100, 128)
    epochs = epochs or default_epochs
    names = sorted({c for c, _ in CASES})
    if cases is not None and not set(cases) <= set(names):
        raise ValueError(f"unknown cases {sorted(set(cases) - set(names))}; choose from {names}")
    numbers, rows, rollouts = {}, [], {}
    for case, symmetry in [(c, s) for c, s in CASES if cases is None or c in cases]:
        data, dim = _record(case, out_dir, seed)
        system = MeasuredSystem(*data.split(0.2), dim=dim, symmetry=symmetry)
        start = time.perf_counter()
        model, _, attempts = fit_measured(system, symmetry, seed=seed, epochs=epochs, steps_per_epoch=steps,
                                          hidden_units=hidden, sigma=0.0)
        seconds = time.perf_counter() - start
        t_final, dt = system.rollout_span()
        out = evaluate(model, system, t_final, dt=dt, jit_compile=not quick)
        nums = final_numbers(out)
        rollouts.setdefault(case, (system, {}))[1][symmetry] = out
        key = f"{case} {symmetry}"
        numbers[key] = {"r2_train": acceleration_r2(model, system.train), "r2_test": acceleration_r2(model, system.test),
                        "dL_NN_max": nums.get("dL_NN_max"), "dref_max": nums["dref_max"],
                        "dE_NN_max": nums["dE_NN_max"], "dE_NN_ref_max": nums["dE_NN_ref_max"],
                        "rollout_time": nums["t_final"], "held_out_time": system.duration(),
                        "breakdown": nums["breakdown"], "attempts": len(attempts), "seconds": seconds}
        rows += [{"quantity": f"{key}: {name}", "paper": None, "ours": numbers[key][name], "note": note}
                 for name, note in (("r2_train", "R² of q̈, training states"),
                                    ("r2_test", "R² of q̈, held-out states"),
                                    ("dL_NN_max", "max δL of the network's charge along the rollout (R only)"),
                                    ("dref_max", "max distance of the rollout from the held-out record"),
                                    ("dE_NN_max", "max drift of the network's energy q̇·p − L along its rollout"),
                                    ("dE_NN_ref_max", "max drift of the network's energy along the held-out record"),
                                    ("rollout_time", "time integrated (held-out record's length unless it broke down)"),
                                    ("attempts", "trainings (a restart when R² on the training states < 0.5)"),
                                    ("seconds", "training, all attempts"))
                 if numbers[key][name] is not None]
    for case, (system, outs) in rollouts.items():  # <case>_trajectories.png, _charges.png, _dq.png
        plot_rollout(outs, system, os.path.join(out_dir, case), case)
    budget = {"epochs": epochs, "steps_per_epoch": steps, "hidden_units": hidden, "seed": seed}
    harness.write_results(out_dir, "lagrangian_recorded", rows, budget=budget,
                          title=f"Lagrangian networks on recorded trajectories ({epochs} epochs x {steps} steps, "
                                f"seed {seed})")
    return {"numbers": numbers, "rows": rows}


def _define():
    from absl import flags

    flags.DEFINE_integer("epochs", None, "Override the epochs of 100 steps (default: the script's, 200).")
    flags.DEFINE_list("cases", None, "Records to run: orbits, double_pendulum, turning_pendulum (default all).")


if __name__ == "__main__":
    harness.main("lagrangian_recorded", benchmark, _define)
