"""Train ConservNet on a built-in system or on your own grouped data, then report and read out the formula.

    python -m conserve_tf.train                      # S1 (20, 100), the default recipe, 4000 steps
    python -m conserve_tf.train --system=kepler --epochs=2000 --save=kepler.keras
    python -m conserve_tf.train --data=my.csv --group_column=run --constant_columns=
    python -m conserve_tf.train --system=kepler --invariants=2   # two outputs trained jointly
    python -m conserve_tf.train --system=s1 --count --max_invariants=3   # how many invariants?
    python -m conserve_tf.train --system=kepler --objective=ratio --invariants=3 --penalty=logdet \
        --independence=0.02 --scaling=standardize --groups=400 --members=20 --split=group --groups_per_step=100
    python -m conserve_tf.train --helpfull           # every flag

Built-in systems are drawn with ``2 x members`` points per group and split within each group
(``--split=within``, the paper's protocol: train and test the same size, same constants); ``--split=group``
holds out whole groups instead (test constants never seen in training).
"""

from __future__ import annotations

from absl import flags

from . import distribute
from .cli import UsageError, quiet_tensorflow, run as run_cli, save_model, set_seed

FLAGS = flags.FLAGS
SYSTEM_NAMES = ["s1", "s2", "s2+", "s3", "random", "lotka_volterra", "kepler", "kepler_fixed_l", "kepler+",
                "double_pendulum"]

flags.DEFINE_enum("system", "s1", SYSTEM_NAMES, "Built-in system to train on (ignored with --data).")
flags.DEFINE_string("data", None, "Your own grouped data: a .csv or .npz file (see README, 'Your own data').")
flags.DEFINE_string("group_column", "group", "Column of --data holding the group id.")
flags.DEFINE_list("constant_columns", ["C"], "Columns of --data holding true constants, if present (may be empty).")
flags.DEFINE_list("feature_columns", None, "Columns of --data used as features (default: all other columns).")
flags.DEFINE_enum("ragged", "error", ["error", "truncate", "sample"],
                  "Unequal group sizes in --data: refuse, keep the first members, or sample members.")
flags.DEFINE_integer("groups", 20, "Number of groups N of a built-in system.", lower_bound=2)
flags.DEFINE_integer("members", 100, "Members M per group of a built-in system (train and test each).", lower_bound=2)
flags.DEFINE_enum("split", "within", ["within", "group"], "Hold out members of every group, or whole groups.")
flags.DEFINE_float("test_fraction", 0.5, "Fraction held out for testing.", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_float("noise", 0.0, "Measurement noise: add N(0, noise) to the inputs (Fig. 3a).", lower_bound=0.0)
flags.DEFINE_integer("epochs", 4000, "Passes over the training groups (fast recipe: optimizer steps).", lower_bound=1)
flags.DEFINE_enum("recipe", "fast", ["fast", "paper"],
                  "fast: all groups per step, ratio objective, standardized inputs, 3 x 128 Mish, Adam 1e-3 held then "
                  "cosine-decayed over the last 30% of steps; paper: the published code (one group per step, Adam 5e-5, "
                  "4 x 320 Mish, NV loss with the variance, radius uniform in [0, R]). Flags left unset take the recipe's "
                  "values (conserve_tf.training.RECIPES).")
flags.DEFINE_integer("groups_per_step", 0, "Groups per optimizer step (0: the recipe's choice).", lower_bound=0)
flags.DEFINE_float("learning_rate", 0.0, "Peak learning rate (0: the recipe's).", lower_bound=0.0)
flags.DEFINE_integer("width", None, "Hidden layer width (default: the recipe's).", lower_bound=1)
flags.DEFINE_integer("depth", None, "Number of hidden layers (default: the recipe's).", lower_bound=1)
flags.DEFINE_string("activation", "mish", "Hidden activation (any Keras activation name).")
flags.DEFINE_enum("spread", None, ["std", "var"], "Spread of a group's outputs in the NV loss (default: the "
                  "recipe's, else std).")
flags.DEFINE_enum("radial", None, ["volume", "uniform"], "Radius law of the l2 spreader: uniform in the ball's "
                  "volume, or uniform in [0, R] as the published code (default: the recipe's, else volume).")
flags.DEFINE_enum("spreader", "l2", ["l2", "l1", "linf"], "Ball the spreading noise is drawn from.")
flags.DEFINE_float("q", None, "Spreading constant Q (default: the recipe's, else 1).", lower_bound=0.0)
flags.DEFINE_float("r", None, "Radius R of the spreading noise ball (default: the recipe's, else 1).", lower_bound=0.0)
flags.DEFINE_enum("scaling", None, ["auto", "rule", "standardize", "none"], "Input scaling saved in the model "
                  "(default: the recipe's).")
flags.DEFINE_integer("log_every", 100, "Optimizer steps per logged epoch (held-out metrics are computed then).",
                     lower_bound=1)
flags.DEFINE_integer("degree", 4, "Highest polynomial degree of the formula read-out (0: skip).", lower_bound=0)
flags.DEFINE_integer("seed", 0, "Seed of data, initialisation and noise.")
flags.DEFINE_string("save", None, "Save the trained model here (.keras).")
flags.DEFINE_string("backup_dir", None, "Checkpoint every logged epoch here and resume from it after a crash or kill "
                    "(deleted when training completes).")
flags.DEFINE_enum("objective", None, ["nv", "ratio"], "Loss (default: the recipe's): nv, the paper's noise-variance "
                  "loss (Eq. 1); ratio, the within-group variance ratio trace(C^-1 W) of the outputs (no noise, Q or "
                  "R; at least 2 groups per step).")
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


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments {argv[1:]}; every option is a --flag (see --helpfull)")
    if FLAGS.save and not FLAGS.save.endswith(".keras"):
        raise UsageError(f"--save must name a .keras file, got {FLAGS.save!r}")
    quiet_tensorflow()
    from . import symbolic
    from .training import evaluate_invariant, fit_conservnet, predict_groups

    strategy = distribute.strategy_from_flags()  # first: logical CPU devices must exist before TF starts
    set_seed(FLAGS.seed)
    train, test = load_data()
    print(f"train: {train}\ntest:  {test}\nstrategy: {FLAGS.strategy} ({strategy.num_replicas_in_sync} replica(s))")
    steps_per_pass = 1 if FLAGS.recipe == "fast" and not FLAGS.groups_per_step else -(
        -train.n_groups // (FLAGS.groups_per_step or 1))
    steps = FLAGS.epochs * steps_per_pass
    fit_kwargs = dict(
        recipe=FLAGS.recipe, learning_rate=FLAGS.learning_rate or None,
        groups_per_step=FLAGS.groups_per_step or -1, scaling=FLAGS.scaling, eval_every=1,
        steps_per_epoch=min(FLAGS.log_every, steps), verbose=FLAGS.verbose, activation=FLAGS.activation,
        spreader=FLAGS.spreader, strategy=strategy, independence=FLAGS.independence, penalty=FLAGS.penalty,
        penalty_samples=FLAGS.penalty_samples or None)
    for name in ("width", "depth", "spread", "radial", "q", "r", "objective"):  # unset: the recipe's value
        if getattr(FLAGS, name) is not None:
            fit_kwargs[name] = getattr(FLAGS, name)
    if FLAGS.scheme == "sequential":
        fit_kwargs["scheme"] = "sequential"
    if FLAGS.count:
        from .invariants import count_invariants, plot_count

        result = count_invariants(train, test, k_max=FLAGS.max_invariants, spread_threshold=FLAGS.spread_threshold,
                                  seed=FLAGS.seed, steps=steps, **{**fit_kwargs, "eval_every": 0})
        print("\ncount of independent invariants (relative spread = intra-group std / overall std, held-out):")
        print(result.markdown())
        if FLAGS.count_plot:
            print(f"plot: {plot_count(result, FLAGS.count_plot)}")
        return
    model, _ = fit_conservnet(train, test, steps=steps, seed=FLAGS.seed, outputs=FLAGS.invariants,
                              backup_dir=FLAGS.backup_dir, **fit_kwargs)
    per = " per output, one output after another" if FLAGS.scheme == "sequential" and FLAGS.invariants > 1 else ""
    print(f"\ntrained {int(model.optimizer.iterations.numpy())} optimizer steps{per}")
    k = FLAGS.invariants
    for j in range(k):
        for name, part in (("train", train), ("test", test)):
            report = evaluate_invariant(model, part, output=j)
            line = "".join(f"{key} = {report[key]:.4f}, " for key in ("rho", "spearman", "std", "r2") if key in report)
            label = name if k == 1 else f"F{j + 1} {name}"
            print(f"{label:5s}: {line or 'no true constants: '}relative spread = {report['relative_spread']:.4f}"
                  + ("" if "rho" in report else " (intra-group std / overall std; lower is better)"))
    if k > 1 and train.c is not None and test.c is not None:
        from .invariants import invariant_readout, known_invariants

        table = invariant_readout(predict_groups(model, train).reshape(-1, k), known_invariants(train),
                                  predict_groups(model, test).reshape(-1, k), known_invariants(test))
        print("\nknown invariants from the outputs, and what each output is made of (degree-3 polynomials):")
        print(table.markdown())
    for j in range(k if FLAGS.degree else 0):
        f_train = predict_groups(model, train)[..., j].reshape(-1)
        f_test = predict_groups(model, test)[..., j].reshape(-1)
        res = symbolic.polynomial_readout(train.flat(), f_train, test.flat(), f_test,
                                          degrees=range(1, FLAGS.degree + 1), feature_names=train.feature_names)
        name = "F" if k == 1 else f"F{j + 1}"
        print(f"\npolynomial read-out of {name} (ridge on monomials of the raw inputs):")
        print(res.markdown())
        sign = "-" if res.intercept < 0 else "+"
        print(f"{name} ≈ {res.formula} {sign} {abs(res.intercept):.3g}   (degree {res.degree})")
    if FLAGS.save:
        print(f"saved model to {save_model(model, FLAGS.save)}")


def run():
    run_cli(main)


if __name__ == "__main__":
    run()
