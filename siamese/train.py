"""Script: train the interpretable Siamese network (Wetzel et al. 2020), print and write its read-out.

    python -m siamese.train --system=special_relativity --out_dir=runs/sr
    python -m siamese.train --data=my_groups.npz --constant_columns=C --epochs=50 --tensorboard
    python -m siamese.train --system=electromagnetism --invariants=2     # two decorrelated neurons
    siamese-train --helpfull                                               # every flag

``--out_dir`` (default ``runs/siamese-<UTC time>``) receives ``model.keras``, ``results.json``,
``training.png``, ``invariant.png`` (f per held-out group against the known invariant it follows best),
``scatter.png`` (f against every known invariant) and the read-out as Markdown (``readout.md``, or
``readout_multi.md`` with ``--invariants``). The library is :mod:`siamese.training`; its names
are also reachable from here for code written against earlier versions.
"""

from __future__ import annotations

import os
import time

from absl import flags, logging

from conserve_tf import distribute
from conserve_tf.cli import (UsageError, check_features, define_output_flags, define_readout_flags,
                             out_dir_from_flags, quiet_tensorflow, report_data_formula, run as run_cli,
                             script_flags)
from conserve_tf.runs import describe_data, save_model, tensorboard_callback, write_results, write_run

FLAGS = flags.FLAGS
RECIPE_NAMES = ["adam", "cosine", "paper"]  # siamese.training.RECIPES; named here so that --help does not start TensorFlow
_MOVED = ("RECIPES", "compile_siamese", "recipe_callbacks", "train_siamese", "accuracy")


def __getattr__(name):
    """The library names that lived here before the split, from :mod:`siamese.training` (imported on demand)."""
    if name in _MOVED:
        from . import training  # delayed: importing the script must not start TensorFlow

        return getattr(training, name)
    raise AttributeError(f"module 'siamese.train' has no attribute {name!r}")


def _symmetry(f):
    """--symmetry, or the data set's default (:func:`siamese.training.default_symmetry`; none with --data)."""
    from .training import default_symmetry

    if f.symmetry is not None:
        return None if f.symmetry == "none" else f.symmetry
    return None if f.data else default_symmetry(f.system)


def define_flags():
    """Define this script's flags (called by :func:`run`, so importing the module defines nothing)."""
    flags.DEFINE_string("system", "special_relativity", "data set: special_relativity, sr_fixed_interval, "
                        "central_potential, central_fixed_L, electromagnetism, em_fixed_EdotB, or a ConservNet "
                        "system (S1, S2, S2+, Kepler, Kepler+, ...); ignored with --data")
    flags.DEFINE_string("data", None, "your own grouped data (.npz or .csv, see GroupedData.load); "
                        "whole groups are held out for testing")
    flags.DEFINE_string("group_column", "group", "--data: column with the group id")
    flags.DEFINE_list("constant_columns", ["C"], "--data: columns with known invariants (may be absent)")
    flags.DEFINE_integer("groups", None, "training groups (pairs) to generate (default: the paper's, 50000; "
                         "200000 for electromagnetism)")
    flags.DEFINE_integer("test_groups", 5_000, "test groups to generate")
    flags.DEFINE_integer("members", 2, "members per generated group (2 = the paper's pairs)")
    flags.DEFINE_float("test_fraction", 0.2, "--data: fraction of groups held out for testing", lower_bound=0.0,
                       upper_bound=1.0)
    flags.DEFINE_list("hidden", ["160", "160"], "hidden layer widths of the shared subnetwork")
    flags.DEFINE_string("activation", "tanh", "hidden activation")
    flags.DEFINE_integer("bottleneck", 1, "bottleneck neurons (1 = interpretable scalar f)")
    flags.DEFINE_enum("first_layer", None, ["dense", "product"], "first hidden layer of f (default: product; dense "
                      "with --symmetry, whose invariants are already the products, and with --invariants/--count): "
                      "product also forms learned products of its inputs (on the central potential f then reads L, "
                      "not the orbit's orientation: docs/siamese.md); dense is the paper's network")
    flags.DEFINE_enum("symmetry", None, ["rotation", "none"], "rotation: f reads the rotation invariants of the state "
                      "(|q|², q.v, |v|², and q x v in the plane; features = positions then velocities of one body), "
                      "so it cannot read the orientation of an orbit (docs/siamese.md, central potential); none: the "
                      "raw state, the paper's network. Default: rotation for central_fixed_L, none otherwise")
    flags.DEFINE_enum("recipe", "cosine", RECIPE_NAMES, "cosine (default): Adam 3e-3 held, then cosine decay over "
                      "the budget; adam: Adam 3e-3 halved on plateaus; paper: Adadelta lr 100 (Wetzel 2020)")
    flags.DEFINE_integer("epochs", None, "epoch budget (default: 10 million training pairs in all, at most 300 "
                         "epochs: 100 for 50000 groups; caps the recipe's maximum)")
    flags.DEFINE_integer("batch_size", None, "mini-batch size (default: the recipe's; cosine: a 32nd of the "
                         "training pairs within [256, 2048], adam and paper: 256; 256 with --invariants/--count)")
    flags.DEFINE_string("backup_dir", None, "checkpoint every epoch here and resume from it after a crash or kill")
    distribute.define_flags()
    flags.DEFINE_float("learning_rate", None, "override the recipe's starting learning rate", lower_bound=0.0)
    flags.DEFINE_integer("seed", 0, "seed for data, pairs and weights")
    flags.DEFINE_string("save", None, "write the trained model to this .keras path")
    define_output_flags()
    define_readout_flags()
    flags.DEFINE_integer("verbose", 2, "Keras fit verbosity")
    flags.DEFINE_integer("invariants", 0, "k > 1: a k-neuron bottleneck kept decorrelated (siamese.multi), read out "
                         "against the known invariants; overrides --bottleneck", lower_bound=0)
    flags.DEFINE_float("decorrelation", 1.0, "--invariants/--count: weight of the squared-correlation penalty")
    flags.DEFINE_integer("warmup", 10, "--invariants/--count: epochs without the penalty first")
    flags.DEFINE_boolean("count", False, "estimate the number of independent invariants: train decorrelated "
                         "bottlenecks k = 1..--max_invariants and print the table (conserve_tf.invariants)")
    flags.DEFINE_integer("max_invariants", 3, "--count: largest bottleneck tried")
    flags.DEFINE_float("spread_threshold", 0.2, "--count: largest held-out relative spread of an invariant neuron")


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {argv[1:]}")
    f = FLAGS
    if f.save and not f.save.endswith(".keras"):
        raise UsageError(f"--save must end in .keras, got {f.save!r}")
    try:
        hidden = [int(h) for h in f.hidden]
    except ValueError:
        raise UsageError(f"--hidden must be comma-separated integers, got {f.hidden}") from None
    if f.learning_rate is not None and not f.learning_rate > 0:
        raise UsageError(f"--learning_rate must be > 0, got {f.learning_rate}")
    out_dir = out_dir_from_flags("siamese")
    strategy = distribute.strategy_from_flags()  # before TensorFlow starts its devices
    from conserve_tf.metrics import invariant_report  # delayed: TensorFlow starts after the flag checks
    from conserve_tf.verdict import report_verdict, verdict_from_outputs

    from .interpret import readout, scatter_invariants
    from .systems import EXTRA_FEATURES
    from .training import grouped_invariant, load_data, train_siamese

    train, test = load_data(f.system, f.groups, f.test_groups, f.members, seed=f.seed, data=f.data,
                            group_column=f.group_column, constant_columns=f.constant_columns,
                            test_fraction=f.test_fraction)
    logging.info("train %s, test %s", train, test)
    check_features(train)
    if f.invariants > train.n_features:
        raise UsageError(f"--invariants={f.invariants} asks for more invariants than the "
                         f"{train.n_features} features")
    results = {"script": "siamese-train", "flags": script_flags(),
               "data": {"train": describe_data(train), "test": describe_data(test)}}
    tensorboard = [tensorboard_callback(os.path.join(out_dir, "tensorboard"))] if out_dir and f.tensorboard else []
    if f.count or f.invariants > 1:
        return _multi(f, train, test, hidden, out_dir, results, tensorboard)
    symmetry = _symmetry(f)
    if symmetry and not f["symmetry"].present:
        print(f"{train.name}: f reads the rotation invariants of the state (the default for this data set; "
              f"--symmetry=none reads the raw state)")
    start = time.perf_counter()
    model, info = train_siamese(train, test, hidden=hidden, activation=f.activation, bottleneck=f.bottleneck,
                                recipe=f.recipe, epochs=f.epochs, batch_size=f.batch_size,
                                learning_rate=f.learning_rate, seed=f.seed, verbose=f.verbose, strategy=strategy,
                                backup_dir=f.backup_dir, eval_every=1, callbacks=tensorboard, symmetry=symmetry,
                                first_layer=f.first_layer)
    seconds = time.perf_counter() - start
    print(f"{train.name}: {info['epochs']} epochs, train accuracy {info['train_accuracy']:.4f}, "
          f"test accuracy {info['test_accuracy']:.4f}")
    f_test = grouped_invariant(model, test.x)
    known = test.varying_constant()
    report = invariant_report(f_test[..., 0], test.constants(known))
    if "rho" in report:  # a known invariant came with the data: how well does f follow it on the test groups?
        print(f"f against {test.constant_names[known]} (test): rho = {report['rho']:+.4f}, "
              f"spearman = {report['spearman']:+.4f}, R² of a·f + b = {report['r2']:.4f}")
    results.update(metrics={"train_accuracy": info["train_accuracy"], "test_accuracy": info["test_accuracy"],
                            "f": report}, epochs=info["epochs"], training_seconds=seconds)
    # is each bottleneck neuron constant within the held-out pairs, against shuffled pairs? (conserve_tf.verdict)
    f_train = grouped_invariant(model, train.x)
    labels = ["f"] if f.bottleneck == 1 else [f"f{j + 1}" for j in range(f.bottleneck)]
    results["verdict"] = {label: report_verdict(label, verdict_from_outputs(f_test[..., j], f_train[..., j],
                                                                            seed=f.seed))
                          for j, label in enumerate(labels)}
    if f.save:
        print("saved", save_model(model, f.save))
    if f.bottleneck == 1 and f.readout in ("polynomial", "both"):
        res = readout(model, train, test, extra_features=EXTRA_FEATURES.get(train.name))
        print(res.markdown())
        print("f ≈", res.formula)
        results["readout"] = {"f": {"formula": res.formula, "intercept": res.intercept, "degree": res.degree,
                                    "r2_table": res.table}}
    if f.bottleneck == 1 and f.readout in ("symbolic", "both"):
        from conserve_tf.symbolic import keras_input_gradient, read_out  # delayed: pyoperon and sympy load late

        x_tr, x_te = train.flat()[:20_000], test.flat()[:5_000]
        grads = {} if f.readout_fit != "gradient" else {"grad_train": keras_input_gradient(model.subnetwork, x_tr),
                                                      "grad_test": keras_input_gradient(model.subnetwork, x_te)}
        found = read_out("symbolic", "f", x_tr, model.invariant(x_tr).reshape(-1), x_te,
                         model.invariant(x_te).reshape(-1), train.feature_names, seconds=f.readout_seconds,
                         functions=f.readout_functions, seed=f.seed, fit=f.readout_fit, **grads)
        results.setdefault("readout", {}).setdefault("f", {}).update(found)
    if f.data_formula:
        results["data_formula"] = report_data_formula(train, test, seed=f.seed)
    if out_dir:
        paths = write_run(out_dir, model, results, history=info["history"], outputs=f_test, constants=test.c,
                          constant_names=test.constant_names, title=test.name)
        if "formula" in results.get("readout", {}).get("f", {}):
            paths.append(_write_text(out_dir, "readout.md", f"{res.markdown()}\n\nf ≈ {res.formula}\n"))
        if test.c is not None:
            paths.append(scatter_invariants(model, test, os.path.join(out_dir, "scatter.png")))
        print(f"wrote {', '.join(os.path.basename(p) for p in paths)} to {out_dir}")


def _multi(f, train, test, hidden, out_dir, results, tensorboard):
    """--invariants=k (one decorrelated training, read-out) or --count (k = 1..--max_invariants)."""
    from conserve_tf.counting import plot_count  # delayed, as in main

    from .multi import count_siamese_invariants, multi_readout, train_decorrelated
    from .training import grouped_invariant

    kwargs = dict(hidden=hidden, activation=f.activation, recipe=f.recipe, epochs=f.epochs,
                  learning_rate=f.learning_rate, seed=f.seed, verbose=f.verbose, warmup=f.warmup,
                  first_layer=f.first_layer or "dense")
    if f.batch_size is not None:  # else train_decorrelated's own batch, the one its counts were measured with
        kwargs["batch_size"] = f.batch_size
    if f.count:
        if f.max_invariants < 1 or not 0 < f.spread_threshold < 1:
            raise UsageError("--max_invariants must be >= 1 and --spread_threshold in (0, 1)")
        res = count_siamese_invariants(train, test, k_max=f.max_invariants, decorrelation=f.decorrelation,
                                       spread_threshold=f.spread_threshold, **kwargs)
        print("count of independent invariants (relative spread = intra-group std / overall std, held-out):")
        print(res.markdown())
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            print("plot", plot_count(res, os.path.join(out_dir, "count.png")))
            print("wrote", write_results(out_dir, {**results, "count": res.markdown()}))
        return
    start = time.perf_counter()
    model, info = train_decorrelated(train, test, bottleneck=f.invariants, decorrelation=f.decorrelation,
                                     callbacks=tensorboard, **kwargs)
    seconds = time.perf_counter() - start
    print(f"{train.name}: {info['epochs']} epochs, {f.invariants} decorrelated neurons, train accuracy "
          f"{info['train_accuracy']:.4f}, test accuracy {info['test_accuracy']:.4f}, held-out corr² "
          f"{info['decorrelation']:.4f}")
    results.update(metrics={k: info[k] for k in ("train_accuracy", "test_accuracy", "decorrelation")},
                   epochs=info["epochs"], training_seconds=seconds)
    if f.save:
        print("saved", save_model(model, f.save))
    if train.c is not None and test.c is not None:
        table = multi_readout(model, train, test)
        print(table.markdown())
        results["readout"] = {"known_invariants": table.markdown()}
    if f.data_formula:
        results["data_formula"] = report_data_formula(train, test, seed=f.seed)
    if out_dir:
        paths = write_run(out_dir, model, results, history=info["history"], outputs=grouped_invariant(model, test.x),
                          constants=test.c, constant_names=test.constant_names, title=test.name)
        if "readout" in results:
            paths.append(_write_text(out_dir, "readout_multi.md", results["readout"]["known_invariants"] + "\n"))
        print(f"wrote {', '.join(os.path.basename(p) for p in paths)} to {out_dir}")


def _write_text(out_dir, name, text):
    """``<out_dir>/<name>`` holding ``text`` (the read-out tables as Markdown); returns the path."""
    path = os.path.join(out_dir, name)
    with open(path, "w") as fh:
        fh.write(text)
    return path


def run():
    """Entry point of ``python -m siamese.train`` and the ``siamese-train`` command."""
    quiet_tensorflow()
    run_cli(main, define_flags)


if __name__ == "__main__":
    run()
