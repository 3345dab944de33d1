"""Script: train a Lagrangian network (Müller 2023, Sec. 3.1), integrate it briefly, write the results.

    python -m lagrangian.train --system=kepler --symmetry=R --epochs=2500 --steps_per_epoch=100 \\
        --out_dir=runs/kepler_R --tensorboard
    lagrangian-train --helpfull                                          # every flag

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
    flags.DEFINE_enum("system", "kepler", SYSTEM_NAMES, "System to learn.")
    flags.DEFINE_enum("symmetry", "R", ["none", "R", "T", "RT"], "Symmetry-enforcing layer (T, RT: two_particle only).")
    flags.DEFINE_integer("epochs", 2500, "Training epochs (paper: 2500).")
    flags.DEFINE_integer("steps_per_epoch", 100, "Optimizer steps per epoch (paper: 100).")
    flags.DEFINE_integer("batch_size", 128, "Batch size (paper: 128).")
    flags.DEFINE_float("learning_rate", 1e-3, "Initial learning rate of the cosine decay.")
    flags.DEFINE_float("final_learning_rate", 1e-5, "Learning rate at the end of the cosine decay.")
    flags.DEFINE_float("sigma", 1e-3, "Std of the noise on inputs and targets.")
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
    flags.DEFINE_float("t_final", 16.0, "--out_dir: integrate the trained network up to this time for the "
                       "trajectory and charge figures (0: no rollout; lagrangian-rollout runs longer ones).",
                       lower_bound=0.0)
    flags.DEFINE_float("dt", 0.01, "--out_dir: RK4 time step of that rollout.", lower_bound=0.0)
    distribute.define_flags()


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.save is not None and not FLAGS.save.endswith(".keras"):
        raise UsageError(f"--save must end in .keras, got {FLAGS.save!r}")
    if FLAGS.t_final > 0 and not FLAGS.dt > 0:
        raise UsageError("--dt must be > 0")
    out_dir = out_dir_from_flags("lagrangian")
    from lagrangian.systems import get_system  # delayed, like TensorFlow below: flag errors come first

    strategy = distribute.strategy_from_flags()  # before TensorFlow starts its devices
    system = get_system(FLAGS.system)
    if FLAGS.symmetry not in system.symmetries:  # checked before TensorFlow is imported
        raise UsageError(f"symmetry {FLAGS.symmetry!r} is not available for {system.name}; "
                         f"choose one of {system.symmetries}")
    from conserve_tf.callbacks import standard_callbacks
    from lagrangian.experiment import write_rollout
    from lagrangian.training import train_model

    callbacks = standard_callbacks(FLAGS.backup_dir, nan_guard=False)
    if out_dir and FLAGS.tensorboard:
        callbacks.append(tensorboard_callback(os.path.join(out_dir, "tensorboard")))
    start = time.perf_counter()
    model, history = train_model(system, FLAGS.symmetry, epochs=FLAGS.epochs, steps_per_epoch=FLAGS.steps_per_epoch,
                                 batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
                                 final_learning_rate=FLAGS.final_learning_rate, sigma=FLAGS.sigma,
                                 n_samples=FLAGS.n_samples, seed=FLAGS.seed, hidden_units=FLAGS.hidden_units,
                                 jit_compile=FLAGS.jit_compile, verbose=FLAGS.verbose, init=FLAGS.init,
                                 strategy=strategy, callbacks=callbacks)
    seconds = time.perf_counter() - start
    logging.info("final training MSE %.3e", history["loss"][-1])
    print(f"final training MSE: {history['loss'][-1]:.3e} ({seconds:.1f} s)")
    if FLAGS.history_csv:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.history_csv)), exist_ok=True)
        with open(FLAGS.history_csv, "w") as fh:
            fh.write("epoch,loss\n")
            fh.writelines(f"{i + 1},{v:.6e}\n" for i, v in enumerate(history["loss"]))
    if FLAGS.save:
        print(f"saved {save_model(model, FLAGS.save)}")
    if not out_dir:
        return
    metrics, paths = {"final_mse": history["loss"][-1]}, []
    if FLAGS.t_final > 0:
        numbers, paths = write_rollout(model, system, out_dir, FLAGS.t_final, dt=FLAGS.dt, seed=FLAGS.seed)
        metrics["rollout"] = numbers
        for key, value in numbers.items():
            print(f"{key:>16s}: {value:.3e}")
    results = {"script": "lagrangian-train", "flags": script_flags(), "metrics": metrics, "training_seconds": seconds,
               "data": {"system": system.name, "degrees_of_freedom": system.d, "sigma": FLAGS.sigma,
                        "symmetry": FLAGS.symmetry}}
    paths = write_run(out_dir, model, results, history=history, steps_per_epoch=FLAGS.steps_per_epoch,
                      title=f"{system.name} {FLAGS.symmetry}") + paths
    print(f"wrote {', '.join(os.path.basename(p) for p in paths)} to {out_dir}")


def run():
    """Entry point of ``python -m lagrangian.train`` and the ``lagrangian-train`` command."""
    quiet_tensorflow()
    run_cli(main, define_flags)


if __name__ == "__main__":
    run()
