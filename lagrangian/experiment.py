"""Train-and-integrate experiments behind Figs. 3-11 of Müller 2023, with monitors and plots.

:func:`evaluate` integrates one trained model (its run and a perturbed run, Sec. 3.1) and
:func:`write_monitors` / :func:`plot_rollout` store what the figures show: trajectories (Figs. 3, 6,
9), δL and δM of network and true charges (Figs. 4, 7, 10, Eqs. 35-37) and δq (Figs. 5, 8, 11);
:func:`write_rollout` does all three for one model into a results folder (the scripts' ``--out_dir``).
"""

from __future__ import annotations

import csv
import os

import numpy as np

#: npz key prefix of the energy drifts δE (``delta_`` keys are the charges')
ENERGY_PREFIX = "energy_delta_"

__all__ = ["evaluate", "write_monitors", "load_monitors", "plot_rollout", "write_rollout", "final_numbers", "reproduce"]


def evaluate(model, system, t_final: float, dt: float = 0.01, every: int = 10, perturbation: float = 1e-3,
             seed: int = 0, jit_compile: bool = True) -> dict:
    """:func:`lagrangian.integrators.rollout` plus the true reference trajectory (``ref``, (T', 2 d)), the
    distance of the network's positions from it, ``dref`` (T',) (T' ≤ T: a measured record may end sooner), and
    the drift of the network's energy along the true motion, ``delta_energy["E_NN_ref"]`` (T',): small when the
    network's L describes the true motion; on a measured record it also shows energy the system lost.
    """
    import tensorflow as tf

    from lagrangian.integrators import rollout
    from lagrangian.invariants import energy_deviation
    from lagrangian.model import conjugate_momentum, lagrangian_energy

    out = rollout(model, system, t_final, dt=dt, every=every, perturbation=perturbation, seed=seed,
                  jit_compile=jit_compile)
    out["ref"] = ref = system.reference(t_final, dt * every)[: len(out["t"])]
    out["dref"] = np.linalg.norm(system.position_gap(out["traj"][: len(ref)], ref), axis=-1)
    states = tf.constant(ref, model.dtype_policy.compute_dtype)
    out["energy"]["E_NN_ref"] = lagrangian_energy(model, states).numpy().astype(np.float64)
    out["delta_energy"]["E_NN_ref"] = energy_deviation(out["energy"]["E_NN_ref"], ref[:, ref.shape[1] // 2:],
                                                       conjugate_momentum(model, states).numpy(), motionless="nan")
    return out


def final_numbers(out: dict) -> dict:
    """δ's at the final time, max over time, δq at the final time; with a reference, its distance ``dref``."""
    nums = {f"d{k}_final": float(v[-1]) for k, v in out["delta"].items()}
    nums.update({f"d{k}_max": float(np.max(v)) for k, v in out["delta"].items()})
    for key, val in out.get("delta_energy", {}).items():  # the energy's drift (Noether charge of time translation)
        nums[f"d{key}_final"], nums[f"d{key}_max"] = float(val[-1]), float(np.max(val))
    nums["dq_final"] = float(out["dq"][-1])
    nums["dq_max"] = float(np.max(out["dq"]))
    nums["t_final"] = float(out["t"][-1])
    if len(out.get("dref", ())):
        nums["dref_final"] = float(out["dref"][-1])  # distance from the reference at its last time
        nums["dref_max"] = float(np.max(out["dref"]))
    nums["breakdown"] = bool(out.get("breakdown", False))
    return nums


def write_monitors(out: dict, path_prefix: str) -> list[str]:
    """``<prefix>.csv`` (t, charge δ's, energy δ's, δq, condition) and ``<prefix>.npz`` (everything); returns the
    paths."""
    os.makedirs(os.path.dirname(os.path.abspath(path_prefix)), exist_ok=True)
    keys, energies = sorted(out["delta"]), sorted(out.get("delta_energy", {}))
    with open(path_prefix + ".csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["t"] + [f"delta_{k}" for k in keys + energies] + ["dq", "hessian_condition"])
        for i, t in enumerate(out["t"]):
            writer.writerow([f"{t:.4f}"] + [f"{out['delta'][k][i]:.6e}" for k in keys]
                            + [f"{out['delta_energy'][k][i]:.6e}" if i < len(out["delta_energy"][k]) else ""
                               for k in energies]  # E_NN_ref stops where a measured record ends
                            + [f"{out['dq'][i]:.6e}", f"{out['condition'][i]:.4e}"])
    arrays = {"t": out["t"], "traj": out["traj"], "traj_perturbed": out["traj_perturbed"], "dq": out["dq"],
              "condition": out["condition"], **{f"delta_{k}": v for k, v in out["delta"].items()},
              **{f"{ENERGY_PREFIX}{k}": v for k, v in out.get("delta_energy", {}).items()}}
    for key in ("ref", "dref"):
        if key in out:
            arrays[key] = out[key]
    np.savez_compressed(path_prefix + ".npz", **arrays)
    return [path_prefix + ".csv", path_prefix + ".npz"]


def load_monitors(path_prefix: str) -> dict:
    """Read back ``<prefix>.npz`` from :func:`write_monitors` as an :func:`evaluate`-like dict (no charges),
    so figures can be redrawn, or runs trained in separate processes drawn side by side."""
    with np.load(path_prefix + ".npz") as data:
        out = {k: data[k] for k in data.files if not k.startswith(("delta_", ENERGY_PREFIX))}
        out["delta"] = {k[len("delta_"):]: data[k] for k in data.files if k.startswith("delta_")}
        out["delta_energy"] = {k[len(ENERGY_PREFIX):]: data[k] for k in data.files if k.startswith(ENERGY_PREFIX)}
    return out


def _planes(system):
    """What the trajectory figure draws: per particle its first two components; with one component per
    particle the first two coordinates; with one coordinate (q, q̇). Returns (functions of (T, 2 d) states
    giving (T, 2) curves, axis names)."""
    names = list(getattr(system, "coordinate_names", None) or [f"x{i + 1}" for i in range(system.d)])
    dim, d = system.dim, system.d
    if dim >= 2:
        curves = [lambda x, k=k: system.positions(x)[:, k * dim:k * dim + 2] for k in range(system.n_particles)]
        return curves, (["x1", "x2"] if system.n_particles > 1 else names[:2])
    if d >= 2:
        return [lambda x: x[:, :2]], names[:2]
    return [lambda x: x[:, :2]], [names[0], f"d{names[0]}/dt"]


def plot_rollout(results: dict, system, path_prefix: str, title: str = "") -> list[str]:
    """Trajectory, charge-deviation and δq figures for ``{label: evaluate output}``; returns PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(results)
    n = len(labels)
    paths = []
    planes, names = _planes(system)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 4.2), squeeze=False)
    for ax, label in zip(axes[0], labels):
        out = results[label]
        for k, plane in enumerate(planes):
            ref, pos, posp = (plane(out[key]) for key in ("ref", "traj", "traj_perturbed"))
            ax.plot(*ref.T, "r:", lw=1, label=getattr(system, "reference_label", "true") if k == 0 else None)
            ax.plot(*pos.T, lw=1, label="network" if k == 0 else None)
            ax.plot(*posp.T, "--", lw=0.8, label="perturbed" if k == 0 else None)
            ax.plot(*pos[0], "k*")
            ax.plot(*pos[-1], "ko", mfc="none")
        ax.set_title(f"{title} {label}")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_aspect("equal", adjustable="box")
        # frame the true motion: a run that diverges leaves the frame instead of shrinking the orbit to a dot
        xy = np.concatenate([plane(out["ref"]) for plane in planes])
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        pad = 0.5 * np.max(hi - lo)
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(path_prefix + "_trajectories.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.6), squeeze=False)
    for ax, label in zip(axes[0], labels):
        out = results[label]
        for key, val in sorted(out["delta"].items()):
            ax.semilogy(out["t"][1:], np.maximum(val[1:], 1e-17), label=f"δ{key}")
        for key, val in sorted(out.get("delta_energy", {}).items()):  # time translation: every L conserves E
            ax.semilogy(out["t"][1:len(val)], np.maximum(val[1:], 1e-17), ":", label=f"δ{key}")  # ref may end first
        ax.set_title(f"{title} {label}: δ of charges and energy", fontsize=9)
        ax.set_xlabel("t")
        if out["delta"] or out.get("delta_energy"):
            ax.legend(fontsize=7)
        if not out["delta"]:  # no symmetry layer, no Noether charge but the energy
            ax.text(0.5, 0.9, "no spatial Noether charge (symmetry none)", ha="center", va="center",
                    fontsize=8, transform=ax.transAxes)
    fig.tight_layout()
    paths.append(path_prefix + "_charges.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for label in labels:
        ax.semilogy(results[label]["t"], np.maximum(results[label]["dq"], 1e-17), label=label)
    ax.set_xlabel("t")
    ax.set_ylabel("δq")
    ax.set_title(f"{title}: distance of perturbed runs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(path_prefix + "_dq.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def reproduce(system_name: str, symmetries, epochs: int, steps_per_epoch: int, t_final: float, out_dir: str,
              every: int = 10, seed: int = 0, hidden_units: int = 128, jit_compile: bool = True) -> dict:
    """Train one network per symmetry, integrate each, write monitors and plots.

    Returns ``{symmetry: {"final_mse", "epochs", "steps_per_epoch", δ's, δq ...}}`` and writes
    ``<out_dir>/<system>_<symmetry>.keras`` (the trained network), ``.csv``/``.npz`` (monitors) and
    ``<out_dir>/<system>_*.png``; prints a progress line every tenth of the training.
    """
    from conserve_tf.runs import save_model
    from conserve_tf.callbacks import ProgressLog
    from lagrangian.systems import get_system
    from lagrangian.training import train_model

    system = get_system(system_name)
    os.makedirs(out_dir, exist_ok=True)
    results, numbers = {}, {}
    for sym in symmetries:
        log = ProgressLog(every=max(1, epochs // 10), prefix=f"{system_name} {sym}: ")
        model, hist = train_model(system, sym, epochs=epochs, steps_per_epoch=steps_per_epoch, seed=seed,
                                  hidden_units=hidden_units, callbacks=[log])
        save_model(model, os.path.join(out_dir, f"{system_name}_{sym}.keras"))  # kept for later rollouts
        out = evaluate(model, system, t_final, every=every, seed=seed, jit_compile=jit_compile)
        write_monitors(out, os.path.join(out_dir, f"{system_name}_{sym}"))
        results[sym] = out
        numbers[sym] = {"final_mse": float(hist["loss"][-1]), "epochs": epochs, "steps_per_epoch": steps_per_epoch,
                        **final_numbers(out)}
    plot_rollout(results, system, os.path.join(out_dir, system_name), system_name)
    return numbers


def write_rollout(model, system, out_dir: str, t_final: float, dt: float = 0.01, every: int = 10,
                  perturbation: float = 1e-3, seed: int = 0, jit_compile: bool = True) -> tuple[dict, list[str]]:
    """Integrate ``model`` (:func:`evaluate`) and write its monitors and figures into ``out_dir``.

    Writes ``monitors.csv``/``.npz`` (:func:`write_monitors`) and ``<system>_trajectories.png``,
    ``<system>_charges.png``, ``<system>_dq.png`` (:func:`plot_rollout`). Returns ``(final_numbers, paths)``.
    """
    out = evaluate(model, system, t_final, dt=dt, every=every, perturbation=perturbation, seed=seed,
                   jit_compile=jit_compile)
    os.makedirs(out_dir, exist_ok=True)
    paths = write_monitors(out, os.path.join(out_dir, "monitors"))
    paths += plot_rollout({type(model.symmetry).__name__: out}, system, os.path.join(out_dir, system.name),
                          system.name)
    return final_numbers(out), paths
