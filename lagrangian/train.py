"""Script: train a Lagrangian network (Müller 2023, Sec. 3.1) and save it.

    python -m lagrangian.train --system=kepler --symmetry=R --epochs=2500 --steps_per_epoch=100 \\
        --save=kepler_R.keras

The work is done by :func:`lagrangian.training.train_model`.
"""

from __future__ import annotations

import os

from absl import flags, logging

from conserve_tf import cli, distribute
from lagrangian.training import train_model

FLAGS = flags.FLAGS
flags.DEFINE_enum("system", "kepler", ["kepler", "schwarzschild", "two_particle"], "System to learn.")
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
                  "Kernel initialisation: Keras Glorot (published script) or the std 2/sqrt(n), 1/sqrt(n), sqrt(n) "
                  "printed in the paper (stalls for Kepler with R, see docs/lagrangian.md).")
flags.DEFINE_integer("seed", 0, "Random seed (data and weights).")
flags.DEFINE_bool("jit_compile", False, "XLA for the train step (slower on CPU, see lagrangian_speed).")
flags.DEFINE_string("save", None, "Where to write the trained model (.keras).")
flags.DEFINE_string("history_csv", None, "Optional CSV of the per-epoch loss.")
flags.DEFINE_integer("verbose", 2, "Keras fit verbosity (0, 1, 2).")
flags.DEFINE_string("backup_dir", None, "Checkpoint every epoch here and resume from it after a crash or kill.")
distribute.define_flags()


def main(argv):
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments: {argv[1:]}")
    if FLAGS.save is not None and not FLAGS.save.endswith(".keras"):
        raise cli.UsageError(f"--save must end in .keras, got {FLAGS.save!r}")
    from lagrangian.systems import get_system

    strategy = distribute.strategy_from_flags()  # before TensorFlow starts its devices
    system = get_system(FLAGS.system)
    if FLAGS.symmetry not in system.symmetries:  # checked before TensorFlow is imported
        raise cli.UsageError(f"symmetry {FLAGS.symmetry!r} is not available for {system.name}; "
                             f"choose one of {system.symmetries}")
    from conserve_tf.callbacks import standard_callbacks

    model, history = train_model(system, FLAGS.symmetry, epochs=FLAGS.epochs, steps_per_epoch=FLAGS.steps_per_epoch,
                                 batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
                                 final_learning_rate=FLAGS.final_learning_rate, sigma=FLAGS.sigma,
                                 n_samples=FLAGS.n_samples, seed=FLAGS.seed, hidden_units=FLAGS.hidden_units,
                                 jit_compile=FLAGS.jit_compile, verbose=FLAGS.verbose, init=FLAGS.init,
                                 strategy=strategy, callbacks=standard_callbacks(FLAGS.backup_dir, nan_guard=False))
    logging.info("final training MSE %.3e", history["loss"][-1])
    print(f"final training MSE: {history['loss'][-1]:.3e}")
    if FLAGS.history_csv:
        os.makedirs(os.path.dirname(os.path.abspath(FLAGS.history_csv)), exist_ok=True)
        with open(FLAGS.history_csv, "w") as fh:
            fh.write("epoch,loss\n")
            fh.writelines(f"{i + 1},{v:.6e}\n" for i, v in enumerate(history["loss"]))
    if FLAGS.save:
        print(f"saved {cli.save_model(model, FLAGS.save)}")


if __name__ == "__main__":
    cli.quiet_tensorflow()
    cli.run(main)
