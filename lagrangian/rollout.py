"""Script: integrate a saved Lagrangian network and write monitors and plots (Müller 2023, Sec. 3.1).

    python -m lagrangian.rollout --model=kepler_R.keras --t_final=128 --dt=0.01 --out_dir=results/rollout

Writes ``<out_dir>/monitors.csv`` (t, δL_NN, δL_true, [δM_NN, δM_true], δq, Hessian condition),
``monitors.npz`` (trajectories too) and three PNG plots, and prints the final-time values.
"""

from __future__ import annotations

import os

from absl import flags

from conserve_tf import cli

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Saved model (.keras) written by lagrangian.train.")
flags.DEFINE_enum("system", None, ["kepler", "schwarzschild", "two_particle"],
                  "System; default: the one recorded in the model file.")
flags.DEFINE_float("t_final", 128.0, "Final time T (paper: 128 Kepler, 1000 Schwarzschild, 8 two particles).")
flags.DEFINE_float("dt", 0.01, "RK4 time step (paper: 0.01).")
flags.DEFINE_integer("every", 10, "Record the state every this many steps.")
flags.DEFINE_float("perturbation", 1e-3, "Std of the normal perturbation of the second run's initial state.")
flags.DEFINE_integer("seed", 0, "Seed of the perturbation.")
flags.DEFINE_bool("jit_compile", True, "Integrate under XLA (fastest measured on CPU).")
flags.DEFINE_string("out_dir", "results/rollout", "Folder for monitors and plots.")


def main(argv):
    if len(argv) > 1:
        raise cli.UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.model:
        raise cli.UsageError("--model is required (a .keras file written by lagrangian.train)")
    if not os.path.exists(FLAGS.model):
        raise FileNotFoundError(f"model file not found: {FLAGS.model}")
    if FLAGS.t_final <= 0 or FLAGS.dt <= 0 or FLAGS.every < 1:
        raise cli.UsageError("need --t_final > 0, --dt > 0 and --every >= 1")
    import keras

    from lagrangian.experiment import evaluate, final_numbers, plot_rollout, write_monitors
    from lagrangian.model import LagrangianNetwork
    from lagrangian.systems import get_system

    model = keras.models.load_model(FLAGS.model)
    if not isinstance(model, LagrangianNetwork):
        raise cli.UsageError(f"{FLAGS.model} does not hold a LagrangianNetwork")
    name = FLAGS.system or model.system
    if name is None:
        raise cli.UsageError("the model file records no system; pass --system")
    system = get_system(name)
    if 2 * system.d != model.symmetry.input_width:
        raise cli.UsageError(f"model expects states of width {model.symmetry.input_width}, "
                             f"system {name} has {2 * system.d}")
    out = evaluate(model, system, FLAGS.t_final, dt=FLAGS.dt, every=FLAGS.every,
                   perturbation=FLAGS.perturbation, seed=FLAGS.seed, jit_compile=FLAGS.jit_compile)
    os.makedirs(FLAGS.out_dir, exist_ok=True)
    files = write_monitors(out, os.path.join(FLAGS.out_dir, "monitors"))
    files += plot_rollout({type(model.symmetry).__name__: out}, system, os.path.join(FLAGS.out_dir, name), name)
    for key, value in final_numbers(out).items():
        print(f"{key:>16s}: {value:.3e}")
    for path in files:
        print(f"wrote {path}")


if __name__ == "__main__":
    cli.quiet_tensorflow()
    cli.run(main)
