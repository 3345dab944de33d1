"""Training the interpretable Siamese network, and the absl script ``python -m siamese.train``.

Two recipes (both binary cross-entropy through ``compile``, batch 256, callbacks watching the
training loss as in appendix B of Wetzel et al. 2020):

* ``paper``: Adadelta starting at learning rate 100, ``ReduceLROnPlateau`` factor 0.5 after 50 epochs
  without improvement, ``EarlyStopping`` after 200, at most 10 000 epochs (the paper's recipe).
* ``adam`` (default, faster): Adam at 3e-3, halved after 5 epochs without improvement, early stop
  after 20.

Example::

    python -m siamese.train --system=special_relativity --groups=50000 --epochs=100 --save=sr.keras
    python -m siamese.train --data=my_groups.npz --constant_columns=C --epochs=50 --out_dir=results/mine
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["RECIPES", "compile_siamese", "recipe_callbacks", "train_siamese", "accuracy"]

RECIPES = {
    "paper": dict(optimizer="adadelta", learning_rate=100.0, lr_patience=50, stop_patience=200,
                  max_epochs=10_000),
    "adam": dict(optimizer="adam", learning_rate=3e-3, lr_patience=5, stop_patience=20, max_epochs=500),
}


def _recipe(name):
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]


def compile_siamese(model, recipe: str = "adam", learning_rate: float | None = None):
    """Compile with the recipe's optimizer, binary cross-entropy (Eq. (B1)) and accuracy."""
    import keras

    r = _recipe(recipe)
    lr = float(learning_rate if learning_rate is not None else r["learning_rate"])
    opt = keras.optimizers.Adadelta(lr) if r["optimizer"] == "adadelta" else keras.optimizers.Adam(lr)
    model.compile(optimizer=opt, loss=keras.losses.BinaryCrossentropy(),
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])
    return model


def recipe_callbacks(recipe: str = "adam"):
    """ReduceLROnPlateau and EarlyStopping on the training loss, with the recipe's patiences."""
    import keras

    r = _recipe(recipe)
    return [keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=r["lr_patience"]),
            keras.callbacks.EarlyStopping(monitor="loss", patience=r["stop_patience"], restore_best_weights=True)]


def accuracy(model, pairs, batch_size: int = 8192) -> float:
    """Fraction of pairs classified right (P(unrelated) > 0.5 <=> label 1)."""
    x = pairs.x.astype(np.float32)  # eager calls: no tf.function tracing for a one-off evaluation
    p = np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))[:, 0]
                        for i in range(0, len(x), batch_size)])
    return float(np.mean((p > 0.5) == (pairs.y > 0.5)))


def train_siamese(train, test=None, hidden=(160, 160), activation: str = "tanh", bottleneck: int = 1,
                  recipe: str = "adam", epochs: int | None = None, batch_size: int = 256,
                  learning_rate: float | None = None, pairs_per_group: int | None = None, seed: int = 0,
                  normalize: bool = True, verbose: int = 0, callbacks=(), validate: bool = True, strategy=None,
                  backup_dir: str | None = None):
    """Build pairs from GroupedData ``train`` (and ``test``), build and fit a SiameseNetwork.

    ``epochs`` caps the recipe's maximum (the budget); ``validate=False`` skips the per-epoch test
    accuracy (saves time; the recipes' callbacks watch the training loss anyway). ``strategy`` (see
    :mod:`conserve_tf.distribute`) builds and compiles the model in its scope; ``backup_dir`` resumes an
    interrupted run; a NaN loss stops training with a clear error. Returns ``(model, info)`` with ``info`` holding
    ``train_accuracy``, ``test_accuracy`` (None without test data), ``epochs`` run and ``history``.
    """

    from conserve_tf.cli import set_seed

    from .model import SiameseNetwork
    from .pairs import make_pairs

    r = _recipe(recipe)
    epochs = r["max_epochs"] if epochs is None else int(epochs)
    if epochs < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    if test is not None and test.n_features != train.n_features:
        raise ValueError(f"train has {train.n_features} features but test has {test.n_features}")
    set_seed(seed)
    tr = make_pairs(train, pairs_per_group, seed=seed)
    te = make_pairs(test, pairs_per_group, seed=seed + 1) if test is not None else None
    flat = train.flat()
    stats = dict(mean=flat.mean(0), variance=flat.var(0)) if normalize else {}
    import tensorflow as tf

    from conserve_tf.callbacks import standard_callbacks

    with (strategy or tf.distribute.get_strategy()).scope():
        model = SiameseNetwork(train.n_features, hidden=hidden, activation=activation, bottleneck=bottleneck,
                               **stats)
        compile_siamese(model, recipe, learning_rate)
    val = (te.x.astype(np.float32), te.y) if te is not None and validate else None
    hist = model.fit(tr.x.astype(np.float32), tr.y, batch_size=int(batch_size), epochs=epochs, verbose=verbose,
                     validation_data=val, shuffle=True,
                     callbacks=recipe_callbacks(recipe) + standard_callbacks(backup_dir) + list(callbacks))
    info = {"train_accuracy": accuracy(model, tr), "test_accuracy": accuracy(model, te) if te is not None else None,
            "epochs": len(hist.history["loss"]), "history": {k: [float(v) for v in vals]
                                                             for k, vals in hist.history.items()}}
    return model, info


# ---------------------------------------------------------------------------------------------- script
def _define_flags():
    from absl import flags

    flags.DEFINE_string("system", "special_relativity", "data set: special_relativity, sr_fixed_interval, "
                        "central_potential, central_fixed_L, electromagnetism, em_fixed_EdotB, or a ConservNet "
                        "system (S1, S2, S2+, Kepler, Kepler+, ...); ignored with --data")
    flags.DEFINE_string("data", None, "your own grouped data (.npz or .csv, see GroupedData.load); "
                        "whole groups are held out for testing")
    flags.DEFINE_string("group_column", "group", "--data: column with the group id")
    flags.DEFINE_list("constant_columns", ["C"], "--data: columns with known invariants (may be absent)")
    flags.DEFINE_integer("groups", 50_000, "training groups (pairs) to generate")
    flags.DEFINE_integer("test_groups", 5_000, "test groups to generate")
    flags.DEFINE_integer("members", 2, "members per generated group (2 = the paper's pairs)")
    flags.DEFINE_float("test_fraction", 0.2, "--data: fraction of groups held out for testing")
    flags.DEFINE_list("hidden", ["160", "160"], "hidden layer widths of the shared subnetwork")
    flags.DEFINE_string("activation", "tanh", "hidden activation")
    flags.DEFINE_integer("bottleneck", 1, "bottleneck neurons (1 = interpretable scalar f)")
    flags.DEFINE_enum("recipe", "adam", sorted(RECIPES), "adam: fast default; paper: Adadelta lr 100 (Wetzel 2020)")
    flags.DEFINE_integer("epochs", 100, "epoch budget (caps the recipe's maximum)")
    flags.DEFINE_integer("batch_size", 256, "mini-batch size")
    flags.DEFINE_string("backup_dir", None, "checkpoint every epoch here and resume from it after a crash or kill")
    from conserve_tf import distribute

    distribute.define_flags()
    flags.DEFINE_float("learning_rate", None, "override the recipe's starting learning rate")
    flags.DEFINE_integer("seed", 0, "seed for data, pairs and weights")
    flags.DEFINE_string("save", None, "write the trained model to this .keras path")
    flags.DEFINE_string("out_dir", None, "write the read-out table, formula and scatter plot here")
    flags.DEFINE_integer("verbose", 2, "Keras fit verbosity")
    flags.DEFINE_integer("invariants", 0, "k > 1: a k-neuron bottleneck kept decorrelated (siamese.multi), read out "
                         "against the known invariants; overrides --bottleneck")
    flags.DEFINE_float("decorrelation", 1.0, "--invariants/--count: weight of the squared-correlation penalty")
    flags.DEFINE_integer("warmup", 10, "--invariants/--count: epochs without the penalty first")
    flags.DEFINE_boolean("count", False, "estimate the number of independent invariants: train decorrelated "
                         "bottlenecks k = 1..--max_invariants and print the table (conserve_tf.invariants)")
    flags.DEFINE_integer("max_invariants", 3, "--count: largest bottleneck tried")
    flags.DEFINE_float("spread_threshold", 0.2, "--count: largest held-out relative spread of an invariant neuron")


def _load_data(flag_values):
    from conserve_tf.groups import GroupedData

    from .systems import make_system

    f = flag_values
    if f.data:
        if not os.path.exists(f.data):
            raise FileNotFoundError(f"--data file not found: {f.data}")
        data = GroupedData.load(f.data, group_column=f.group_column, constant_columns=tuple(f.constant_columns))
        return data.split_by_group(test_fraction=f.test_fraction, seed=f.seed)
    if f.groups < 2 or f.test_groups < 2:
        raise ValueError("--groups and --test_groups must be >= 2: negatives need two groups")
    return (make_system(f.system, f.groups, f.members, seed=f.seed),
            make_system(f.system, f.test_groups, f.members, seed=f.seed + 10_000))


def main(argv):
    del argv
    from absl import flags, logging

    from conserve_tf.cli import UsageError, save_model

    from .interpret import readout, scatter_invariants
    from .systems import EXTRA_FEATURES

    f = flags.FLAGS
    if f.save and not f.save.endswith(".keras"):
        raise UsageError(f"--save must end in .keras, got {f.save!r}")
    try:
        hidden = [int(h) for h in f.hidden]
    except ValueError:
        raise UsageError(f"--hidden must be comma-separated integers, got {f.hidden}") from None
    from conserve_tf import distribute

    strategy = distribute.strategy_from_flags()  # before TensorFlow starts its devices
    train, test = _load_data(f)
    logging.info("train %s, test %s", train, test)
    if f.count or f.invariants > 1:
        return _multi(f, train, test, hidden)
    model, info = train_siamese(train, test, hidden=hidden, activation=f.activation, bottleneck=f.bottleneck,
                                recipe=f.recipe, epochs=f.epochs, batch_size=f.batch_size,
                                learning_rate=f.learning_rate, seed=f.seed, verbose=f.verbose, strategy=strategy,
                                backup_dir=f.backup_dir)
    print(f"{train.name}: {info['epochs']} epochs, train accuracy {info['train_accuracy']:.4f}, "
          f"test accuracy {info['test_accuracy']:.4f}")
    if f.save:
        print("saved", save_model(model, f.save))
    if f.bottleneck == 1:
        res = readout(model, train, test, extra_features=EXTRA_FEATURES.get(train.name))
        print(res.markdown())
        print("f ≈", res.formula)
        if f.out_dir:
            os.makedirs(f.out_dir, exist_ok=True)
            with open(os.path.join(f.out_dir, "readout.md"), "w") as fh:
                fh.write(f"{res.markdown()}\n\nf ≈ {res.formula}\n")
            if test.c is not None:
                print("plot", scatter_invariants(model, test, os.path.join(f.out_dir, "scatter.png")))


def _multi(f, train, test, hidden):
    """--invariants=k (one decorrelated training, read-out) or --count (k = 1..--max_invariants)."""
    from conserve_tf.cli import UsageError, save_model

    from .multi import count_siamese_invariants, multi_readout, train_decorrelated

    kwargs = dict(hidden=hidden, activation=f.activation, recipe=f.recipe, epochs=f.epochs, batch_size=f.batch_size,
                  learning_rate=f.learning_rate, seed=f.seed, verbose=f.verbose, warmup=f.warmup)
    if f.count:
        if f.max_invariants < 1 or not 0 < f.spread_threshold < 1:
            raise UsageError("--max_invariants must be >= 1 and --spread_threshold in (0, 1)")
        from conserve_tf.invariants import plot_count

        res = count_siamese_invariants(train, test, k_max=f.max_invariants, decorrelation=f.decorrelation,
                                       spread_threshold=f.spread_threshold, **kwargs)
        print("count of independent invariants (relative spread = intra-group std / overall std, held-out):")
        print(res.markdown())
        if f.out_dir:
            os.makedirs(f.out_dir, exist_ok=True)
            print("plot", plot_count(res, os.path.join(f.out_dir, "count.png")))
        return
    model, info = train_decorrelated(train, test, bottleneck=f.invariants, decorrelation=f.decorrelation, **kwargs)
    print(f"{train.name}: {info['epochs']} epochs, {f.invariants} decorrelated neurons, train accuracy "
          f"{info['train_accuracy']:.4f}, test accuracy {info['test_accuracy']:.4f}, held-out corr² "
          f"{info['decorrelation']:.4f}")
    if f.save:
        print("saved", save_model(model, f.save))
    if train.c is not None and test.c is not None:
        table = multi_readout(model, train, test)
        print(table.markdown())
        if f.out_dir:
            os.makedirs(f.out_dir, exist_ok=True)
            with open(os.path.join(f.out_dir, "readout_multi.md"), "w") as fh:
                fh.write(table.markdown() + "\n")


if __name__ == "__main__":
    from conserve_tf.cli import quiet_tensorflow, run

    quiet_tensorflow()
    _define_flags()
    run(main)
