"""Script: integrate a saved Lagrangian network and write monitors and plots (Müller 2023, Sec. 3.1).

    python -m lagrangian.rollout --model=runs/kepler_R/model.keras --t_final=128 --dt=0.01 --out_dir=runs/kepler_R
    lagrangian-rollout --helpfull                                        # every flag

Writes into ``--out_dir`` (default ``runs/lagrangian-rollout-<UTC time>``) ``monitors.csv`` (t, δL_NN,
δL_true, [δM_NN, δM_true], δq, Hessian condition), ``monitors.npz`` (trajectories too), the trajectory,
charge-deviation and δq figures (:func:`lagrangian.experiment.write_rollout`, the same files
``lagrangian-train --out_dir`` writes) and ``rollout.json`` (the final-time values, also printed).
"""

from __future__ import annotations

import os

from absl import flags

from conserve_tf.cli import UsageError, out_dir_from_flags, quiet_tensorflow, run as run_cli, script_flags
from conserve_tf.runs import write_results

FLAGS = flags.FLAGS


def define_flags():
    """Define this script's flags (called by :func:`run`, so importing the module defines nothing)."""
    flags.DEFINE_string("model", None, "Saved model (.keras) written by lagrangian.train.")
    flags.DEFINE_enum("system", None, ["kepler", "schwarzschild", "two_particle"],
                      "System; default: the one recorded in the model file.")
    flags.DEFINE_float("t_final", 128.0, "Final time T (paper: 128 Kepler, 1000 Schwarzschild, 8 two particles).")
    flags.DEFINE_float("dt", 0.01, "RK4 time step (paper: 0.01).")
    flags.DEFINE_integer("every", 10, "Record the state every this many steps.")
    flags.DEFINE_float("perturbation", 1e-3, "Std of the normal perturbation of the second run's initial state.")
    flags.DEFINE_integer("seed", 0, "Seed of the perturbation.")
    flags.DEFINE_bool("jit_compile", True, "Integrate under XLA (fastest measured on CPU).")
    flags.DEFINE_string("out_dir", None, "Folder for monitors, plots and rollout.json (default: a new "
                        "runs/lagrangian-rollout-<UTC date-time> folder).")


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.model:
        raise UsageError("--model is required (a .keras file written by lagrangian.train)")
    if not os.path.exists(FLAGS.model):
        raise FileNotFoundError(f"model file not found: {FLAGS.model}")
    if FLAGS.t_final <= 0 or FLAGS.dt <= 0 or FLAGS.every < 1:
        raise UsageError("need --t_final > 0, --dt > 0 and --every >= 1")
    out_dir = out_dir_from_flags("lagrangian-rollout")
    if not out_dir:
        raise UsageError("--out_dir must name a folder: the rollout writes its monitors and plots there")
    import keras  # delayed: TensorFlow starts only after the flag checks

    from lagrangian.experiment import write_rollout
    from lagrangian.model import LagrangianNetwork
    from lagrangian.systems import SYSTEMS, get_system

    model = keras.models.load_model(FLAGS.model)
    if not isinstance(model, LagrangianNetwork):
        raise UsageError(f"{FLAGS.model} does not hold a LagrangianNetwork")
    name = FLAGS.system or model.system
    if name is None:
        raise UsageError("the model file records no system; pass --system")
    if name not in SYSTEMS:
        raise UsageError(f"{FLAGS.model} was trained on recorded data ({name!r}), which carry no system to "
                         "integrate against; lagrangian.train --data=FILE --out_dir=DIR writes its rollout beside "
                         "the held-out record (or pass --system to use one of the paper's)")
    system = get_system(name)
    if 2 * system.d != model.symmetry.input_width:
        raise UsageError(f"model expects states of width {model.symmetry.input_width}, "
                         f"system {name} has {2 * system.d}")
    numbers, files = write_rollout(model, system, out_dir, FLAGS.t_final, dt=FLAGS.dt, every=FLAGS.every,
                                   perturbation=FLAGS.perturbation, seed=FLAGS.seed, jit_compile=FLAGS.jit_compile)
    files.append(write_results(out_dir, {"script": "lagrangian-rollout", "flags": script_flags(), "system": name,
                                         "metrics": numbers}, name="rollout.json"))
    for key, value in numbers.items():
        print(f"{key:>16s}: {value:.3e}")
    for path in files:
        print(f"wrote {path}")


def run():
    """Entry point of ``python -m lagrangian.rollout`` and the ``lagrangian-rollout`` command."""
    quiet_tensorflow()
    run_cli(main, define_flags)


if __name__ == "__main__":
    run()
