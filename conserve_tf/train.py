"""Train ConservNet on a built-in system or on your own grouped data, then report and read out the formula.

    python -m conserve_tf.train                      # S1 (20, 100), the default recipe, 4000 steps
    python -m conserve_tf.train --system=kepler --epochs=2000 --save=kepler.keras
    python -m conserve_tf.train --data=my.csv --group_column=run --constant_columns=
    python -m conserve_tf.train --system=kepler --invariants=2   # two outputs trained jointly
    python -m conserve_tf.train --system=s1 --count --max_invariants=3   # how many invariants?
    python -m conserve_tf.train --system=kepler --objective=ratio --invariants=3 --penalty=logdet \
        --independence=0.02 --scaling=standardize --groups=400 --members=20 --split=group --groups_per_step=100
    python -m conserve_tf.train --out_dir=runs/s1 --tensorboard   # results folder, TensorBoard logs
    conservnet-train --helpfull                      # every flag (the installed command is this script)

Every run writes ``model.keras``, ``results.json``, ``invariant.png`` and ``training.png`` to ``--out_dir``
(default ``runs/conservnet-<UTC time>``; see :func:`conserve_tf.runs.write_run`).

Built-in systems are drawn with ``2 x members`` points per group and split within each group
(``--split=within``, the paper's protocol: train and test the same size, same constants); ``--split=group``
holds out whole groups instead (test constants never seen in training).
"""

from __future__ import annotations

import os
import time

from absl import flags

from . import distribute
from .cli import (UsageError, check_features, define_output_flags, define_readout_flags, out_dir_from_flags,
                  quiet_tensorflow, report_data_formula, run as run_cli, script_flags)
from .runs import describe_data, save_model, set_seed, tensorboard_callback, write_results, write_run
from .scaling import SCALINGS

FLAGS = flags.FLAGS
SYSTEM_NAMES = ["s1", "s2", "s2+", "s3", "random", "lotka_volterra", "kepler", "kepler_fixed_l", "kepler+",
                "double_pendulum", "double_pendulum_sim"]


def define_flags():
    """Define this script's flags (called by :func:`run`, so importing the module defines nothing)."""
    flags.DEFINE_enum("system", "s1", SYSTEM_NAMES, "Built-in system to train on (ignored with --data).")
    flags.DEFINE_string("data", None, "Your own grouped data: a .csv or .npz file (see README, 'Your own data').")
    flags.DEFINE_string("group_column", "group", "Column of --data holding the group id.")
    flags.DEFINE_list("constant_columns", ["C"], "Columns of --data holding true constants, if present (may be empty).")
    flags.DEFINE_list("feature_columns", None, "Columns of --data used as features (default: all other columns).")
    flags.DEFINE_enum("ragged", "error", ["error", "truncate", "sample"],
                      "Unequal group sizes in --data: refuse, keep the first members, or sample members.")
    flags.DEFINE_integer("groups", 20, "Number of groups N of a built-in system.", lower_bound=2)
    flags.DEFINE_integer("members", 100, "Members M per group of a built-in system (train and test each).",
                         lower_bound=2)
    flags.DEFINE_enum("split", "within", ["within", "group"], "Hold out members of every group, or whole groups.")
    flags.DEFINE_float("test_fraction", 0.5, "Fraction held out for testing.", lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_float("noise", 0.0, "Measurement noise: add N(0, noise) to the inputs (Fig. 3a).", lower_bound=0.0)
    # 4000 = conserve_tf.training.DEFAULT_STEPS, written out so that TensorFlow starts only after the flag checks
    flags.DEFINE_integer("epochs", 4000, "Passes over the training groups (fast recipe: optimizer steps).",
                         lower_bound=1)
    flags.DEFINE_enum("recipe", "fast", ["fast", "paper"],
                      "fast: all groups per step, ratio objective, the paper's input factors, 3 x 128 tanh, Adam 3e-3 "
                      "held then cosine-decayed over the last 30% of steps (with --objective=nv, or on one group: "
                      "Mish at 2e-3; docs/conservnet_recipe.md); paper: the published code (one group per step, "
                      "Adam 5e-5, 4 x 320 Mish, NV loss with the variance, radius uniform in [0, R]). Flags left "
                      "unset take the recipe's values.")
    flags.DEFINE_float("validation", 0.0, "Fraction of every training group's members held out; training ends with "
                       "the weights of the epoch (--log_every steps) where the objective on them was lowest. 0: off; "
                       "0.2 for noisy measurements (docs/conservnet_recipe.md, noise).", lower_bound=0.0,
                       upper_bound=0.9)
    flags.DEFINE_enum("symmetry", None, ["rotation"], "Feed the network the rotation invariants of the state "
                      "(|q|², q.v, |v|², and q x v in the plane; features = positions then velocities of one "
                      "body), so the invariant found cannot depend on orientation (a central potential's E with L "
                      "fixed, docs/conservnet_recipe.md, Fig. 6).")
    flags.DEFINE_enum("first_layer", "dense", ["dense", "product"], "First hidden layer: dense, or product (a dense "
                      "layer that also forms learned products of its inputs: more exact invariants, e.g. on S3, but F "
                      "may bend against the textbook C; docs/conservnet_recipe.md, round 10).")
    flags.DEFINE_integer("restarts", None, "Train again from a fresh start (seed + 100003 k) up to this many times "
                         "when the network is no flatter on its own training groups than on shuffled ones (a run stuck "
                         "on a trivial or plateau solution); default: the recipe's (fast 1, paper 0).", lower_bound=0)
    flags.DEFINE_integer("groups_per_step", 0, "Groups per optimizer step (0: the recipe's choice).", lower_bound=0)
    flags.DEFINE_float("learning_rate", 0.0, "Peak learning rate (0: the recipe's).", lower_bound=0.0)
    flags.DEFINE_float("weight_decay", None, "Decoupled weight decay of AdamW, 0 for plain Adam (default: the "
                       "recipe's; fast: 0.1 with the ratio objective, 0 with the NV loss).", lower_bound=0.0)
    flags.DEFINE_integer("width", None, "Hidden layer width (default: the recipe's).", lower_bound=1)
    flags.DEFINE_integer("depth", None, "Number of hidden layers (default: the recipe's).", lower_bound=1)
    flags.DEFINE_string("activation", None, "Hidden activation, any Keras activation name (default: the recipe's).")
    flags.DEFINE_enum("spread", None, ["std", "var"], "Spread of a group's outputs in the NV loss (default: the "
                      "recipe's, else std).")
    flags.DEFINE_enum("radial", None, ["volume", "uniform"], "Radius law of the l2 spreader: uniform in the ball's "
                      "volume, or uniform in [0, R] as the published code (default: the recipe's, else volume).")
    flags.DEFINE_enum("spreader", "l2", ["l2", "l1", "linf"], "Ball the spreading noise is drawn from.")
    flags.DEFINE_float("q", None, "Spreading constant Q (default: the recipe's, else 1).", lower_bound=0.0)
    flags.DEFINE_float("r", None, "Radius R of the spreading noise ball (default: the recipe's, else 1).",
                       lower_bound=0.0)
    flags.DEFINE_enum("scaling", None, list(SCALINGS), "Input scaling saved in the model (default: the "
                      "recipe's; auto: the paper's factors, and the log of a positive variable spanning decades; "
                      "factors: the paper's factors only).")
    flags.DEFINE_integer("log_every", 100, "Optimizer steps per logged epoch (held-out metrics are computed then).",
                         lower_bound=1)
    flags.DEFINE_integer("degree", 4, "Highest polynomial degree of the formula read-out (0: skip).", lower_bound=0)
    define_readout_flags()
    flags.DEFINE_integer("seed", 0, "Seed of data, initialisation and noise.")
    flags.DEFINE_string("save", None, "Save the trained model here (.keras).")
    flags.DEFINE_string("backup_dir", None, "Checkpoint every logged epoch here and resume from it after a crash or "
                        "kill (deleted when training completes).")
    flags.DEFINE_enum("objective", None, ["nv", "ratio"], "Loss (default: the recipe's): nv, the paper's "
                      "noise-variance loss (Eq. 1); ratio, the within-group variance ratio trace(C^-1 W) of the outputs "
                      "(no noise, Q or R; at least 2 groups per step).")
    flags.DEFINE_integer("invariants", 1, "Outputs k trained jointly (the loss of --objective + independence penalty).",
                         lower_bound=1)
    flags.DEFINE_integer("penalty_samples", 0, "k > 1: points per step at which the independence penalty's input "
                         "Jacobian is taken (0: every point of the batch).", lower_bound=0)
    flags.DEFINE_float("independence", 1.0, "Weight of the gradient-cosine independence penalty (k > 1).",
                       lower_bound=0.0)
    flags.DEFINE_enum("scheme", "joint", ["joint", "sequential"], "k > 1: train the outputs jointly, or one after "
                      "another with the earlier ones frozen (deflation; one MLP per output, --epochs each).")
    flags.DEFINE_enum("penalty", "cos2", ["cos2", "logdet"], "Independence penalty (k > 1): mean squared cosine of "
                      "the outputs' input gradients, or the log-det barrier against dependence.")
    flags.DEFINE_boolean("count", False, "Estimate the number of independent invariants: train k = 1..--max_invariants "
                         "outputs and print the table of held-out spreads (see conserve_tf.invariants).")
    flags.DEFINE_integer("max_invariants", 4, "Largest k tried by --count.", lower_bound=1)
    flags.DEFINE_float("spread_threshold", 0.2, "--count: largest held-out relative spread of an invariant output.",
                       lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_string("count_plot", None, "--count: save the evidence plot here (.png).")
    distribute.define_flags()
    define_output_flags()
    flags.DEFINE_integer("verbose", 1, "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.",
                         lower_bound=0, upper_bound=2)


def load_data():
    """(train, test) GroupedData from the flags."""
    from .groups import GroupedData
    from .pendulum import double_pendulum_split
    from .systems import make_system

    if FLAGS.data:
        data = GroupedData.load(FLAGS.data, group_column=FLAGS.group_column,
                                constant_columns=[c for c in FLAGS.constant_columns if c],
                                feature_columns=FLAGS.feature_columns, ragged=FLAGS.ragged)
    elif FLAGS.system == "double_pendulum":
        return double_pendulum_split(train_fraction=1.0 - FLAGS.test_fraction)
    else:
        data = make_system(FLAGS.system, FLAGS.groups, 2 * FLAGS.members, seed=FLAGS.seed)
    if FLAGS.noise:
        data = data.with_noise(FLAGS.noise, seed=FLAGS.seed + 7)
    if FLAGS.split == "group":
        return data.split_by_group(FLAGS.test_fraction, seed=FLAGS.seed)
    return data.split_within(1.0 - FLAGS.test_fraction, seed=FLAGS.seed)


def _report(model, train, test, k):
    """Print and return ``{output: {"train": metrics, "test": metrics}}`` (conserve_tf.metrics.invariant_report)."""
    from .training import evaluate_invariant  # delayed: TensorFlow starts only after the flags are checked

    metrics = {}
    for j in range(k):
        label = "F" if k == 1 else f"F{j + 1}"
        metrics[label] = {}
        for name, part in (("train", train), ("test", test)):
            report = metrics[label][name] = evaluate_invariant(model, part, output=j)
            line = "".join(f"{key} = {report[key]:.4f}, " for key in ("rho", "spearman", "std", "r2") if key in report)
            shown = name if k == 1 else f"{label} {name}"
            print(f"{shown:5s}: {line or 'no true constants: '}relative spread = {report['relative_spread']:.4f}"
                  + ("" if "rho" in report else " (intra-group std / overall std; lower is better)"))
    return metrics


def _print_attempts(attempts, results):
    """Record the judged attempts of ``fit_conservnet`` (``history.attempts``) and, when a run was restarted,
    print each attempt's outcome on its own training groups."""
    judged = [a for a in attempts if a["found"] is not None]
    if judged:
        results["attempts"] = attempts
    if len(judged) < 2:
        return
    for i, a in enumerate(judged):
        what = "found an invariant" if a["found"] else "found nothing" + (", restarted" if i + 1 < len(judged) else "")
        print(f"attempt {i + 1} (seed {a['seed']}, {a['seconds']:.1f} s): {what} (spread on its training groups "
              f"{a['ratio']:.2f} of the shuffled-group baseline)")


def _verdicts(model, test, f_train, f_test, k, history):
    """Print and return, per output of f (G, M, k), whether it is an invariant of the held-out groups
    (one held-out group: of the held-out trajectory, against states with shuffled coordinates)."""
    from .verdict import report_verdict, trajectory_verdict, verdict_from_outputs  # delayed, as in _report

    out = {}
    for j in range(k):
        label = "F" if k == 1 else f"F{j + 1}"
        spreads = history.history.get("val_relative_spread") if k == 1 else None
        if f_test.shape[0] < 2:
            verdict = trajectory_verdict(model, test, output=j, seed=FLAGS.seed)
        else:
            verdict = verdict_from_outputs(f_test[..., j], f_train[..., j], test_spread_history=spreads)
        out[label] = report_verdict(label, verdict)
    return out


def _readouts(model, f_train, f_test, train, test, k):
    """Print the --readout of every output of f (G, M, k) (and the known-invariant table for k > 1); return them."""
    from . import symbolic  # delayed, as in _report

    out = {}
    if k > 1 and train.c is not None and test.c is not None:
        from .invariants import invariant_readout, known_invariants  # delayed, as in _report

        table = invariant_readout(f_train.reshape(-1, k), known_invariants(train), f_test.reshape(-1, k),
                                  known_invariants(test))
        print("\nknown invariants from the outputs, and what each output is made of (degree-3 polynomials):")
        print(table.markdown())
        out["known_invariants"] = table.markdown()
    for j in range(k if FLAGS.readout != "none" else 0):
        name = "F" if k == 1 else f"F{j + 1}"
        grads = {}
        if FLAGS.readout in ("symbolic", "both") and FLAGS.readout_fit == "gradient":
            grads = {"grad_train": symbolic.keras_input_gradient(model, train.flat(), output=j),
                     "grad_test": symbolic.keras_input_gradient(model, test.flat(), output=j)}
        found = symbolic.read_out(FLAGS.readout, name, train.flat(), f_train[..., j].reshape(-1), test.flat(),
                                  f_test[..., j].reshape(-1), train.feature_names, degree=FLAGS.degree,
                                  seconds=FLAGS.readout_seconds, functions=FLAGS.readout_functions, seed=FLAGS.seed,
                                  fit=FLAGS.readout_fit, **grads)
        if "polynomial" in found:  # the polynomial entries stay where results.json has always had them
            out[name] = {**found.pop("polynomial"), **found}
        elif found:
            out[name] = found
    return out


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag (see --helpfull)")
    if FLAGS.save and not FLAGS.save.endswith(".keras"):
        raise UsageError(f"--save must name a .keras file, got {FLAGS.save!r}")
    if FLAGS.data and not os.path.isfile(FLAGS.data):  # before TensorFlow starts: a typo fails at once
        raise UsageError(f"no such data file: {FLAGS.data}")
    out_dir = out_dir_from_flags("conservnet")
    quiet_tensorflow()
    from .training import fit_conservnet, predict_groups  # delayed: TensorFlow starts after the flag checks

    strategy = distribute.strategy_from_flags()  # first: logical CPU devices must exist before TF starts
    set_seed(FLAGS.seed)
    train, test = load_data()
    print(f"train: {train}\ntest:  {test}\nstrategy: {FLAGS.strategy} ({strategy.num_replicas_in_sync} replica(s))")
    check_features(train)
    if FLAGS.invariants > train.n_features:
        raise UsageError(f"--invariants={FLAGS.invariants} asks for more invariants than the "
                         f"{train.n_features} features")
    if FLAGS.count and min(train.n_groups, test.n_groups) < 2:
        raise UsageError("--count compares groups: it needs at least two groups in the training and held-out data")
    steps_per_pass = 1 if FLAGS.recipe == "fast" and not FLAGS.groups_per_step else -(
        -train.n_groups // (FLAGS.groups_per_step or 1))
    steps = FLAGS.epochs * steps_per_pass
    fit_kwargs = dict(
        recipe=FLAGS.recipe, learning_rate=FLAGS.learning_rate or None,
        groups_per_step=FLAGS.groups_per_step or -1, scaling=FLAGS.scaling, eval_every=1,
        steps_per_epoch=min(FLAGS.log_every, steps), verbose=FLAGS.verbose,
        spreader=FLAGS.spreader, strategy=strategy, independence=FLAGS.independence, penalty=FLAGS.penalty,
        validation=FLAGS.validation or None,
        penalty_samples=FLAGS.penalty_samples or None)
    for name in ("width", "depth", "activation", "spread", "radial", "q", "r", "objective", "restarts",
                 "symmetry", "weight_decay"):  # unset: the recipe's (symmetry: none)
        if getattr(FLAGS, name) is not None:
            fit_kwargs[name] = getattr(FLAGS, name)
    if FLAGS.first_layer != "dense":
        fit_kwargs["first_layer"] = FLAGS.first_layer
    if FLAGS.scheme == "sequential":
        fit_kwargs["scheme"] = "sequential"
    if out_dir and FLAGS.tensorboard:  # after fit's InvariantMetrics, so val_rho etc. are in the logs it writes
        fit_kwargs["callbacks"] = [tensorboard_callback(os.path.join(out_dir, "tensorboard"))]
    results = {"script": "conservnet-train", "flags": script_flags(),
               "data": {"train": describe_data(train), "test": describe_data(test)}}
    if FLAGS.count:
        _count(train, test, steps, fit_kwargs, out_dir, results)
        return
    start = time.perf_counter()
    model, history = fit_conservnet(train, test, steps=steps, seed=FLAGS.seed, outputs=FLAGS.invariants,
                                    backup_dir=FLAGS.backup_dir, **fit_kwargs)
    seconds = time.perf_counter() - start
    k = FLAGS.invariants
    per = " per output, one output after another" if FLAGS.scheme == "sequential" and k > 1 else ""
    attempts = getattr(history, "attempts", [])
    tries = f" ({len(attempts)} attempts, the steps of the one kept)" if len(attempts) > 1 else ""
    print(f"\ntrained {int(model.optimizer.iterations.numpy())} optimizer steps{per} in {seconds:.1f} s{tries}")
    _print_attempts(attempts, results)
    results["network"] = (f"{model.depth} x {model.width} {model.activation}, objective {model.objective.name}"
                          + (f", {model.symmetry}-invariant inputs" if model.symmetry else "")
                          + (f", product first layer (gain {model.product_gain:.3g})" if model.first_layer == "product"
                             else "")
                          + (f", weight decay {float(model.optimizer.weight_decay):.3g}"
                             if getattr(model.optimizer, "weight_decay", None) else ""))
    print(f"network: {results['network']}")
    if model.log_inputs:
        logged = [train.feature_names[i] for i in model.log_inputs]
        results["log_inputs"] = logged
        print(f"inputs entered as their logarithm: {', '.join(logged)} (positive, spanning more than a decade; "
              f"--scaling=factors keeps them linear)")
    if train.scale is None:  # a user's data: say what the scaling changed
        names = train.feature_names
        centred = [names[i] for i, o in enumerate(model.offset or []) if o]
        divided = [names[i] for i, s in enumerate(model.scale or []) if s not in (1.0, 0.1)]
        if centred or divided:
            results["inputs_centred"], results["inputs_standardized"] = centred, divided
            print(f"inputs brought to order one: centred {centred or 'none'}, divided by their standard deviation "
                  f"{divided or 'none'} (far from zero, or in large or small units; --scaling=factors keeps the "
                  f"paper's rule)")
    f_train, f_test = predict_groups(model, train), predict_groups(model, test)
    results.update(metrics=_report(model, train, test, k), verdict=_verdicts(model, test, f_train, f_test, k, history),
                   readout=_readouts(model, f_train, f_test, train, test, k),
                   training_seconds=seconds, optimizer_steps=int(model.optimizer.iterations.numpy()))
    if FLAGS.data_formula:
        results["data_formula"] = report_data_formula(train, test, seed=FLAGS.seed)
    if FLAGS.save:
        print(f"saved model to {save_model(model, FLAGS.save)}")
    if out_dir:
        stages = getattr(history, "stage_histories", None) or [history]
        logs = {key: sum((h.history.get(key, []) for h in stages), []) for key in history.history}
        paths = write_run(out_dir, model, results, history=logs, steps_per_epoch=fit_kwargs["steps_per_epoch"],
                          outputs=f_test, constants=test.c,
                          constant_names=test.constant_names, title=test.name)
        print(f"wrote {', '.join(os.path.basename(p) for p in paths)} to {out_dir}")


def _count(train, test, steps, fit_kwargs, out_dir, results):
    """--count: train k = 1..--max_invariants outputs, print the table, write it (and its plot) to out_dir."""
    from .counting import count_invariants, plot_count

    result = count_invariants(train, test, k_max=FLAGS.max_invariants, spread_threshold=FLAGS.spread_threshold,
                              seed=FLAGS.seed, steps=steps, **{**fit_kwargs, "eval_every": 0, "callbacks": ()})
    print("\ncount of independent invariants (relative spread = intra-group std / overall std, held-out):")
    print(result.markdown())
    if FLAGS.count_plot:
        print(f"plot: {plot_count(result, FLAGS.count_plot)}")
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        print(f"plot: {plot_count(result, os.path.join(out_dir, 'count.png'))}")
        print(f"wrote {write_results(out_dir, {**results, 'count': result.markdown()})}")


def run():
    """Entry point of ``python -m conserve_tf.train`` and the ``conservnet-train`` command."""
    run_cli(main, define_flags)


if __name__ == "__main__":
    run()
