"""Script: train a Lagrangian network (Müller 2023, Sec. 3.1), integrate it briefly, write the results.

    python -m lagrangian.train --system=kepler --symmetry=R --epochs=2500 --steps_per_epoch=100 \\
        --out_dir=runs/kepler_R --tensorboard
    python -m lagrangian.train --data=orbits.csv --dim=2 --symmetry=R     # your own recorded trajectories
    python -m lagrangian.train --data=double_pendulum                    # the measured pendulum shipped with it
    lagrangian-train --helpfull                                          # every flag

With ``--data`` (a file laid out as :mod:`lagrangian.measured` describes) the last ``--test_fraction`` of every
trajectory is held out: the script prints the held-out R² of the accelerations, warns when the network did not
learn the dynamics, and integrates the network from the first held-out state beside the held-out record.

``--out_dir`` (default ``runs/lagrangian-<UTC time>``) receives ``model.keras``, ``results.json``,
``training.png`` and, from a rollout of ``--t_final`` (:func:`lagrangian.experiment.write_rollout`),
``monitors.csv``/``.npz`` and the trajectory, charge-deviation and δq figures. The work is done by
:func:`lagrangian.training.train_model`.
"""

from __future__ import annotations

import os
import time

from absl import flags, logging

from conserve_tf import distribute
from conserve_tf.cli import (UsageError, define_output_flags, out_dir_from_flags, quiet_tensorflow, run as run_cli,
                             script_flags)
from conserve_tf.runs import save_model, tensorboard_callback, write_run

FLAGS = flags.FLAGS
SYSTEM_NAMES = ["kepler", "schwarzschild", "two_particle"]


def define_flags():
    """Define this script's flags (called by :func:`run`, so importing the module defines nothing)."""
    flags.DEFINE_enum("system", "kepler", SYSTEM_NAMES, "System to learn (not with --data).")
    define_data_flags()
    flags.DEFINE_integer("dim", None, "--data: components per particle, for the R, T and RT layers (default: "
                         "all coordinates, one particle).")
    flags.DEFINE_integer("restarts", 1, "--data: train afresh (new seed) up to this many times while the "
                         "accelerations' R² on the training states stays below 0.5.", lower_bound=0)
    flags.DEFINE_enum("symmetry", None, ["none", "R", "T", "RT"], "Symmetry-enforcing layer (T, RT: two or more "
                      "particles; default R for --system, none for --data).")
    flags.DEFINE_integer("epochs", None, "Training epochs (default 2500 as the paper; 200 with --data).")
    flags.DEFINE_integer("steps_per_epoch", 100, "Optimizer steps per epoch (paper: 100).")
    flags.DEFINE_integer("batch_size", 128, "Batch size (paper: 128).")
    flags.DEFINE_float("learning_rate", 1e-3, "Initial learning rate of the cosine decay.")
    flags.DEFINE_float("final_learning_rate", 1e-5, "Learning rate at the end of the cosine decay.")
    flags.DEFINE_float("sigma", None, "Std of the noise on inputs and targets (default 1e-3 as the paper; 0 "
                       "with --data, whose records carry their own).")
    flags.DEFINE_integer("n_samples", None, "Training samples generated up front (default min(steps*batch, 2^17)).")
    flags.DEFINE_integer("hidden_units", 128, "Width of the two softplus layers.")
    flags.DEFINE_enum("init", "glorot", ["glorot", "paper"],
                      "Kernel initialisation: Keras Glorot (published script) or the std 2/sqrt(n), 1/sqrt(n), "
                      "sqrt(n) printed in the paper (stalls for Kepler with R, see docs/lagrangian.md).")
    flags.DEFINE_integer("seed", 0, "Random seed (data and weights).")
    flags.DEFINE_bool("jit_compile", False, "XLA for the train step (slower on CPU, see lagrangian_speed).")
    flags.DEFINE_string("save", None, "Where to write the trained model (.keras).")
    flags.DEFINE_string("history_csv", None, "Optional CSV of the per-epoch loss.")
    flags.DEFINE_integer("verbose", 2, "Keras fit verbosity (0, 1, 2).")
    flags.DEFINE_string("backup_dir", None, "Checkpoint every epoch here and resume from it after a crash or kill.")
    define_output_flags()
    flags.DEFINE_float("t_final", None, "--out_dir: integrate the trained network up to this time for the "
                       "trajectory and charge figures (0: no rollout; default 16, with --data the held-out "
                       "record's length; lagrangian-rollout runs longer ones).", lower_bound=0.0)
    flags.DEFINE_float("dt", None, "--out_dir: RK4 time step of that rollout (default 0.01; with --data a tenth "
                       "of the record's step).", lower_bound=0.0)
    distribute.define_flags()


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.save is not None and not FLAGS.save.endswith(".keras"):
        raise UsageError(f"--save must end in .keras, got {FLAGS.save!r}")
    if FLAGS.dt is not None and not FLAGS.dt > 0:
        raise UsageError("--dt must be > 0")
    if FLAGS.data and FLAGS["system"].present:
        raise UsageError("--system and --data exclude each other: the data are the system")
    if FLAGS.history_csv and os.path.isdir(FLAGS.history_csv):
        raise UsageError(f"--history_csv {FLAGS.history_csv!r} is a folder; name a file")
    if FLAGS.jit_compile and FLAGS.strategy != "default":
        raise UsageError("--jit_compile needs --strategy=default: XLA cannot reach the variables the other replicas "
                         "hold (TensorFlow's known XLA issue), and Keras itself leaves XLA off under tf.distribute")
    out_dir = out_dir_from_flags("lagrangian")
    from lagrangian.measured import DEFAULT_EPOCHS  # NumPy and SciPy only: TensorFlow still waits

    symmetry = FLAGS.symmetry or ("none" if FLAGS.data else "R")
    strategy = distribute.strategy_from_flags()  # before TensorFlow starts its devices
    system = _system_from_flags(symmetry)  # data and flag errors come before TensorFlow is imported
    if symmetry not in system.symmetries:
        raise UsageError(f"symmetry {symmetry!r} is not available for {system.name}; "
                         f"choose one of {system.symmetries}")
    epochs = FLAGS.epochs if FLAGS.epochs is not None else (DEFAULT_EPOCHS if FLAGS.data else 2500)
    sigma = FLAGS.sigma if FLAGS.sigma is not None else (0.0 if FLAGS.data else 1e-3)
    span = system.rollout_span() if FLAGS.data else (16.0, 0.01)  # write_rollout records every 10th step
    t_final = FLAGS.t_final if FLAGS.t_final is not None else span[0]
    dt = FLAGS.dt or span[1]
    from conserve_tf.callbacks import standard_callbacks
    from lagrangian.experiment import write_rollout
    from lagrangian.training import train_model

    callbacks = standard_callbacks(FLAGS.backup_dir, nan_guard=False)
    if out_dir and FLAGS.tensorboard:
        callbacks.append(tensorboard_callback(os.path.join(out_dir, "tensorboard")))
    settings = dict(epochs=epochs, steps_per_epoch=FLAGS.steps_per_epoch, batch_size=FLAGS.batch_size,
                    learning_rate=FLAGS.learning_rate, final_learning_rate=FLAGS.final_learning_rate, sigma=sigma,
                    n_samples=FLAGS.n_samples, seed=FLAGS.seed, hidden_units=FLAGS.hidden_units,
                    jit_compile=FLAGS.jit_compile, verbose=FLAGS.verbose, init=FLAGS.init, strategy=strategy,
                    callbacks=callbacks)
    start = time.perf_counter()
    if FLAGS.data:
        from lagrangian.measured import fit_measured

        model, history, attempts = fit_measured(system, symmetry, restarts=FLAGS.restarts, **settings)
        for k, attempt in enumerate(attempts):
            print(f"attempt {k + 1}: seed {attempt['seed']}, accelerations' R² on the training states "
                  f"{attempt['r2_train']:.4f}")
    else:
        model, history = train_model(system, symmetry, **settings)
    seconds = time.perf_counter() - start
    logging.info("final training MSE %.3e", history["loss"][-1])
    print(f"final training MSE: {history['loss'][-1]:.3e} ({seconds:.1f} s)")
    metrics = {"final_mse": history["loss"][-1]}
    if FLAGS.data:
        metrics.update(_report_fit(model, system), attempts=attempts)
    if FLAGS.history_csv:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.history_csv)), exist_ok=True)
        with open(FLAGS.history_csv, "w") as fh:
            fh.write("epoch,loss\n")
            fh.writelines(f"{i + 1},{v:.6e}\n" for i, v in enumerate(history["loss"]))
    if FLAGS.save:
        print(f"saved {save_model(model, FLAGS.save)}")
    if not out_dir:
        return
    paths = []
    if t_final > 0:
        numbers, paths = write_rollout(model, system, out_dir, t_final, dt=dt, seed=FLAGS.seed)
        metrics["rollout"] = numbers
        for key, value in numbers.items():
            print(f"{key:>16s}: {value:.3e}")
        if numbers["breakdown"]:
            print(f"WARNING: the rollout stopped at t = {numbers['t_final']:.4g} of {t_final:.4g}: the network's "
                  "velocity Hessian d2L/dqdot2 became singular along the way (train longer, or integrate with a "
                  "smaller --dt)")
    results = {"script": "lagrangian-train", "flags": script_flags(), "metrics": metrics, "training_seconds": seconds,
               "data": {"system": system.name, "degrees_of_freedom": system.d, "sigma": sigma,
                        "symmetry": symmetry, **_describe_data(system)}}
    paths = write_run(out_dir, model, results, history=history, steps_per_epoch=FLAGS.steps_per_epoch,
                      title=f"{system.name} {symmetry}") + paths
    print(f"wrote {', '.join(os.path.basename(p) for p in paths)} to {out_dir}")


def define_data_flags():
    """``--data`` and the flags that read a record (also ``lagrangian.rollout``'s, which must split it alike)."""
    flags.DEFINE_string("data", None, "Your own recorded trajectories instead of --system: a .csv, .txt/.dat or "
                        ".npz file with a time column, the coordinates and optionally their derivatives "
                        "(lagrangian.measured); 'double_pendulum' is the measured pendulum shipped with the package.")
    flags.DEFINE_list("positions", None, "--data: the coordinate columns (default: every column not named "
                      "by the other flags).")
    flags.DEFINE_list("velocities", None, "--data: velocity columns, one per coordinate (default: estimated).")
    flags.DEFINE_list("accelerations", None, "--data: acceleration columns (default: estimated).")
    flags.DEFINE_string("time_column", "t", "--data: the time column.")
    flags.DEFINE_string("trajectory_column", "trajectory", "--data: the column naming each row's trajectory "
                        "(absent: one trajectory).")
    flags.DEFINE_string("window", "auto", "--data: points of the Savitzky-Golay estimate of missing derivatives "
                        "(odd, >= 5), or 'auto': chosen by cross-validation of the positions' fit.")
    flags.DEFINE_float("test_fraction", 0.2, "--data: the last part of every trajectory held out.")
    flags.DEFINE_list("periodic", None, "--data: the position columns that are angles in radians (wrapped or "
                      "not); they are unwrapped, and the network reads them as cos and sin, so a record that turns "
                      "over stays within what it learned (needs --symmetry=none; default: none, both angles for "
                      "--data=double_pendulum; --periodic= turns that off).")


def _system_from_flags(symmetry: str):
    """``--system`` by name, or the ``--data`` record split into training and held-out parts."""
    if not FLAGS.data:
        from lagrangian.systems import get_system

        return get_system(FLAGS.system)
    return measured_from_flags(symmetry, FLAGS.dim)


def measured_from_flags(symmetry: str, dim, periodic=None, model_file: str | None = None, coordinates=None):
    """The ``--data`` record as a :class:`lagrangian.measured.MeasuredSystem`, split by ``--test_fraction``;
    prints one line on what was read. ``periodic`` (coordinate indices) stands in for an absent ``--periodic``
    (``lagrangian.rollout`` passes the saved model's, and the number of ``coordinates`` its ``model_file``
    reads: a record with another number is refused before it is split)."""
    from lagrangian.measured import MeasuredSystem, double_pendulum_trajectories, load_trajectories

    angles = FLAGS.periodic if FLAGS.periodic is not None else periodic
    if FLAGS.data == "double_pendulum" and not os.path.exists(FLAGS.data):
        data = double_pendulum_trajectories() if angles is None else double_pendulum_trajectories(periodic=angles)
    else:
        data = load_trajectories(FLAGS.data, positions=FLAGS.positions, velocities=FLAGS.velocities,
                                 accelerations=FLAGS.accelerations, time_column=FLAGS.time_column,
                                 trajectory_column=FLAGS.trajectory_column, window=_window_flag(), periodic=angles)
    if coordinates is not None and len(data.coordinates) != coordinates:
        raise UsageError(f"{model_file} reads states of {coordinates} coordinates, {dim} per particle; --data holds "
                         f"{len(data.coordinates)}: {data.coordinates}")
    train, test = data.split(FLAGS.test_fraction)
    system = MeasuredSystem(train, test, dim=dim, symmetry=symmetry)
    estimated = f", {' and '.join(data.estimated)} estimated (window {data.window})" if data.estimated else ""
    estimated += (f"; angles {[data.coordinates[i] for i in data.periodic]} read as cos and sin" if data.periodic
                  else "")
    print(f"data: {len(data.times)} trajectory(ies), {len(train)} training and {len(test)} held-out states of "
          f"{system.d} coordinates {data.coordinates}{estimated}; network inputs divided by length "
          f"{system.input_scale[0]:.4g} and speed {system.input_scale[1]:.4g}")
    return system


def _window_flag():
    if FLAGS.window == "auto":
        return "auto"
    try:
        return int(FLAGS.window)
    except ValueError:
        raise UsageError(f"--window must be 'auto' or an odd integer >= 5, got {FLAGS.window!r}") from None


def _report_fit(model, system) -> dict:
    """Held-out R² of the accelerations, printed, with a warning when the network did not learn the dynamics."""
    from lagrangian.measured import LEARNED_R2, acceleration_r2

    scores = {"acceleration_r2_train": acceleration_r2(model, system.train),
              "acceleration_r2_test": acceleration_r2(model, system.test)}
    print(f"accelerations, R² train / held-out: {scores['acceleration_r2_train']:.4f} / "
          f"{scores['acceleration_r2_test']:.4f}")
    if not scores["acceleration_r2_test"] >= LEARNED_R2:
        print(f"WARNING: the network did not learn the dynamics (held-out R² of the accelerations "
              f"{scores['acceleration_r2_test']:.3f} < {LEARNED_R2}); train longer (--epochs), check the "
              "coordinates and derivatives, or hold out less (--test_fraction)")
    return scores


def _describe_data(system) -> dict:
    if not FLAGS.data:
        return {}
    return {"file": FLAGS.data, "coordinates": system.coordinate_names, "dim": system.dim,
            "trajectories": len(system.train.times), "train_states": len(system.train),
            "test_states": len(system.test), "estimated": list(system.train.estimated),
            "window": system.train.window,
            "input_scale": list(system.input_scale)}


def run():
    """Entry point of ``python -m lagrangian.train`` and the ``lagrangian-train`` command."""
    quiet_tensorflow()
    run_cli(main, define_flags)


if __name__ == "__main__":
    run()
