"""Script: integrate a saved Lagrangian network and write monitors and plots (Müller 2023, Sec. 3.1).

    python -m lagrangian.rollout --model=runs/kepler_R/model.keras --t_final=128 --dt=0.01 --out_dir=runs/kepler_R_128
    python -m lagrangian.rollout --model=runs/orbits/model.keras --data=orbits.csv --out_dir=runs/orbits_again
    lagrangian-rollout --helpfull                                        # every flag

With ``--data`` (and the record flags of ``lagrangian.train``, as in training) the network is integrated from
the first held-out state beside the held-out record. Writes into ``--out_dir`` (default
``runs/lagrangian-rollout-<UTC time>``) ``monitors.csv`` (t, δL_NN, δL_true, [δM_NN, δM_true], δE_NN, [δE_true],
δE_NN_ref, δq, Hessian condition), ``monitors.npz`` (trajectories too), the trajectory, charge-deviation and δq
figures (:func:`lagrangian.experiment.write_rollout`, the same files ``lagrangian-train --out_dir`` writes) and
``rollout.json`` (the final-time values, also printed). A folder that already holds a run's files is refused
unless ``--overwrite`` (the training's folder included).
"""

from __future__ import annotations

import os

from absl import flags

from conserve_tf.cli import (UsageError, define_overwrite_flag, out_dir_from_flags, quiet_tensorflow, run as run_cli,
                             script_flags)
from conserve_tf.runs import write_results
from lagrangian.train import define_data_flags, measured_from_flags

FLAGS = flags.FLAGS


def define_flags():
    """Define this script's flags (called by :func:`run`, so importing the module defines nothing)."""
    flags.DEFINE_string("model", None, "Saved model (.keras) written by lagrangian.train.")
    flags.DEFINE_enum("system", None, ["kepler", "schwarzschild", "two_particle"],
                      "System; default: the one recorded in the model file.")
    define_data_flags()
    flags.DEFINE_float("t_final", None, "Final time T (default 128; paper: 128 Kepler, 1000 Schwarzschild, 8 two "
                       "particles; with --data the held-out record's length).")
    flags.DEFINE_float("dt", None, "RK4 time step (default 0.01 as the paper; with --data a tenth of the record's "
                       "step).")
    flags.DEFINE_integer("every", 10, "Record the state every this many steps.")
    flags.DEFINE_float("perturbation", 1e-3, "Std of the normal perturbation of the second run's initial state.")
    flags.DEFINE_integer("seed", 0, "Seed of the perturbation.")
    flags.DEFINE_bool("jit_compile", True, "Integrate under XLA (fastest measured on CPU).")
    flags.DEFINE_string("out_dir", None, "Folder for monitors, plots and rollout.json (default: a new "
                        "runs/lagrangian-rollout-<UTC date-time> folder).")
    define_overwrite_flag()


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.model:
        raise UsageError("--model is required (a .keras file written by lagrangian.train)")
    if not os.path.exists(FLAGS.model):
        raise FileNotFoundError(f"model file not found: {FLAGS.model}")
    if (FLAGS.t_final is not None and FLAGS.t_final <= 0) or (FLAGS.dt is not None and FLAGS.dt <= 0) \
            or FLAGS.every < 1:
        raise UsageError("need --t_final > 0, --dt > 0 and --every >= 1")
    if FLAGS.data and FLAGS.system:
        raise UsageError("--system and --data exclude each other: the data are the system")
    out_dir = out_dir_from_flags("lagrangian-rollout")
    if not out_dir:
        raise UsageError("--out_dir must name a folder: the rollout writes its monitors and plots there")
    import keras  # delayed: TensorFlow starts only after the flag checks

    from lagrangian.experiment import write_rollout
    from lagrangian.model import LagrangianNetwork
    from lagrangian.systems import LAYER_NAMES, SYSTEMS, get_system

    try:
        model = keras.models.load_model(FLAGS.model)
    except (TypeError, ValueError, OSError) as err:  # another package's model, or not a .keras archive at all
        raise UsageError(f"{FLAGS.model} does not hold a LagrangianNetwork that Keras can load "
                         f"({type(err).__name__}: {str(err).splitlines()[0][:200]})") from None
    if not isinstance(model, LagrangianNetwork):
        raise UsageError(f"{FLAGS.model} does not hold a LagrangianNetwork")
    name = FLAGS.system or model.system
    if FLAGS.data:  # the record, split as in training; its layer decides which charges are watched
        layer = {cls: sym for sym, cls in LAYER_NAMES.items()}.get(type(model.symmetry).__name__)
        if layer is None:
            raise UsageError(f"{FLAGS.model} has a {type(model.symmetry).__name__} layer, made for "
                             f"{model.system!r}, not for recorded data")
        system = measured_from_flags(layer, model.symmetry.dim, periodic=model.periodic, model_file=FLAGS.model,
                                     coordinates=model.symmetry.input_width // 2)
        if tuple(system.periodic) != tuple(model.periodic):
            raise UsageError(f"{FLAGS.model} reads coordinates {list(model.periodic)} as angles, --periodic names "
                             f"{list(system.periodic)}: pass the --periodic of its training, or leave it out")
        name = system.name
    else:
        if name is None:
            raise UsageError("the model file records no system; pass --system")
        if name not in SYSTEMS:
            raise UsageError(f"{FLAGS.model} was trained on recorded data ({name!r}): pass the same --data "
                             "(and --positions, --test_fraction ...) as in training, or --system for one of the "
                             "paper's systems")
        system = get_system(name)
    if 2 * system.d != model.symmetry.input_width:
        raise UsageError(f"model expects states of width {model.symmetry.input_width}, "
                         f"{name} has {2 * system.d}")
    span = system.rollout_span(FLAGS.every) if FLAGS.data else (128.0, 0.01)
    t_final, dt = FLAGS.t_final or span[0], FLAGS.dt or span[1]
    numbers, files = write_rollout(model, system, out_dir, t_final, dt=dt, every=FLAGS.every,
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
