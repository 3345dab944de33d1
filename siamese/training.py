"""Training the interpretable Siamese network (Wetzel et al. 2020): recipes, fit, accuracy, data.

Three recipes (all binary cross-entropy through ``compile``, callbacks watching the training loss as in
appendix B of Wetzel et al. 2020):

* ``paper``: Adadelta starting at learning rate 100, ``ReduceLROnPlateau`` factor 0.5 after 50 epochs
  without improvement, ``EarlyStopping`` after 200, at most 10 000 epochs (the paper's recipe); batch 256.
* ``adam``: Adam at 3e-3, halved after 5 epochs without improvement, early stop after 20; batch 256.
* ``cosine``: Adam at 3e-3 held for the first half of the epoch budget, then a cosine decay to 1e-5 at
  its end (:class:`conserve_tf.schedules.HoldThenCosine`); early stop after 20 stale epochs of the decay. With a
  fixed budget it ends on a small learning rate, where the ``adam`` recipe's plateau halvings rarely arrive.
  Its batch is :func:`default_batch_size` of the training pairs (2048 for the paper's data sets): with the
  even start of the subnetwork's product layer, little gradient noise keeps f from settling on an odd
  function of the state when the invariant is even (docs/siamese.md, "An even start").

:func:`load_data` gives the (train, test) groups the script ``siamese.train`` trains on.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from conserve_tf.callbacks import standard_callbacks
from conserve_tf.groups import GroupedData, check_seed
from conserve_tf.metrics import InvariantMetrics
from conserve_tf.runs import set_seed
from conserve_tf.schedules import HoldThenCosine
from conserve_tf.symmetry import check_symmetry, vector_variances

from .model import SiameseNetwork
from .pairs import make_pairs
from .systems import make_system

__all__ = ["RECIPES", "PAPER_GROUPS", "PAIR_BUDGET", "MIN_BATCH", "MAX_BATCH", "default_groups", "DEFAULT_SYMMETRY",
           "default_symmetry", "budget_epochs",
           "resolve_epochs", "optimizer_steps", "default_batch_size", "recipe_batch_size", "compile_siamese",
           "recipe_callbacks", "train_siamese", "accuracy", "grouped_invariant", "load_data"]

RECIPES = {
    "paper": dict(optimizer="adadelta", learning_rate=100.0, lr_patience=50, stop_patience=200,
                  max_epochs=10_000, batch_size=256),
    "adam": dict(optimizer="adam", learning_rate=3e-3, lr_patience=5, stop_patience=20, max_epochs=500,
                 batch_size=256),
    "cosine": dict(optimizer="adam", learning_rate=3e-3, lr_patience=None, stop_patience=20, max_epochs=None,
                   hold_fraction=0.5, final_learning_rate=1e-5, batch_size=None),
}
#: bounds of the ``cosine`` recipe's batch (:func:`default_batch_size`)
MIN_BATCH, MAX_BATCH = 256, 2048

#: Training groups (= positive pairs) of each data set in the paper: 50 000, 200 000 for electromagnetism.
PAPER_GROUPS = {"electromagnetism": 200_000, "em_fixed_EdotB": 200_000}
DEFAULT_GROUPS = 50_000
#: Pairs the default budget trains on (100 epochs of the paper's 50 000 positive + 50 000 negative pairs).
PAIR_BUDGET = 10_000_000


#: Data sets whose default subnetwork reads the rotation invariants of the state. With L fixed the orbit's
#: orientation is an exact invariant of the raw state and the network reads it instead of E, as paper 004's own
#: Table III shows its network did; the invariants (|q|², q·v, |v|², q × v) leave E to read (docs/siamese.md).
DEFAULT_SYMMETRY = {"central_fixed_L": "rotation"}


def default_symmetry(system: str) -> str | None:
    """The symmetry a built-in data set trains with by default (:data:`DEFAULT_SYMMETRY`; None for the others).
    The name is matched as :func:`siamese.systems.make_system` matches it (any case, "-" for "_")."""
    key = str(system).strip().lower().replace("-", "_")
    return {k.lower(): v for k, v in DEFAULT_SYMMETRY.items()}.get(key)


def default_groups(system: str) -> int:
    """The paper's number of training groups for a data set (50 000 unless :data:`PAPER_GROUPS` says)."""
    return PAPER_GROUPS.get(str(system), DEFAULT_GROUPS)


def default_batch_size(n_pairs: int) -> int:
    """The ``cosine`` recipe's batch: a 32nd of the training pairs, within [MIN_BATCH, MAX_BATCH] (2048 for the
    paper's 100 000 pairs; at least 32 steps an epoch on smaller data)."""
    return int(min(MAX_BATCH, max(MIN_BATCH, int(n_pairs) // 32)))


def recipe_batch_size(recipe: str, batch_size: int | None, n_pairs: int) -> int:
    """``batch_size``, else the recipe's (:func:`default_batch_size` for ``cosine``); checked >= 1."""
    batch = batch_size if batch_size is not None else (_recipe(recipe)["batch_size"] or default_batch_size(n_pairs))
    if int(batch) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch}")
    return int(batch)


def budget_epochs(n_pairs: int, max_epochs: int = 300) -> int:
    """Epochs that train on :data:`PAIR_BUDGET` pairs in all (100 for 100 000 pairs), at most ``max_epochs``."""
    return int(min(max_epochs, max(1, round(PAIR_BUDGET / max(int(n_pairs), 1)))))


def resolve_epochs(recipe: str, epochs: int | None, n_pairs: int, batch_size: int) -> int:
    """The epoch budget: ``epochs``, else the recipe's maximum, else :func:`budget_epochs`; checked >= 1."""
    epochs = (_recipe(recipe)["max_epochs"] or budget_epochs(n_pairs)) if epochs is None else int(epochs)
    if epochs < 1 or int(batch_size) < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    return epochs


def optimizer_steps(epochs: int, n_pairs: int, batch_size: int) -> int:
    """Optimizer steps of ``epochs`` over ``n_pairs`` pairs in batches of ``batch_size`` (the last one partial)."""
    return int(epochs) * -(-int(n_pairs) // int(batch_size))


def _recipe(name):
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return RECIPES[name]


def compile_siamese(model, recipe: str = "adam", learning_rate: float | None = None, total_steps: int | None = None):
    """Compile with the recipe's optimizer, binary cross-entropy (Eq. (B1)) and accuracy.

    The ``cosine`` recipe needs ``total_steps`` (optimizer steps of the whole budget) for its schedule.
    """
    r = _recipe(recipe)
    lr = float(learning_rate if learning_rate is not None else r["learning_rate"])
    if not lr > 0:  # a negative rate would climb the loss: gradient ascent, silently
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if "hold_fraction" in r:
        if not total_steps or total_steps < 1:
            raise ValueError(f"recipe {recipe!r} needs total_steps >= 1 for its learning-rate schedule")
        lr = HoldThenCosine(lr, int(total_steps), decay_steps=int(round(total_steps * (1 - r["hold_fraction"]))),
                            final=lr * r["final_learning_rate"] / r["learning_rate"])  # the recipe's ratio
    opt = keras.optimizers.Adadelta(lr) if r["optimizer"] == "adadelta" else keras.optimizers.Adam(lr)
    model.compile(optimizer=opt, loss=keras.losses.BinaryCrossentropy(),
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])
    return model


def recipe_callbacks(recipe: str = "adam", epochs: int | None = None):
    """ReduceLROnPlateau (not with a schedule) and EarlyStopping on the training loss, with the recipe's
    patiences.

    The ``cosine`` recipe needs the ``epochs`` of the fit: its early stop starts watching only when the
    learning rate begins to decay (after ``hold_fraction`` of them). At the held peak rate the loss is noisy
    and can go 20 epochs without a new low; stopping there would skip the decay that brings the loss down
    (docs/siamese.md: a 200-epoch run stopped at epoch 91, 96.8 % test accuracy, where 100 epochs reach 98.8 %).
    """
    r = _recipe(recipe)
    start = 0
    if "hold_fraction" in r:
        if epochs is None or int(epochs) < 1:
            raise ValueError(f"recipe {recipe!r} needs epochs >= 1: its early stop waits for the end of the hold")
        start = int(round(int(epochs) * r["hold_fraction"]))
    plateau = [keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=r["lr_patience"])
               ] if r["lr_patience"] else []
    return plateau + [keras.callbacks.EarlyStopping(monitor="loss", patience=r["stop_patience"],
                                                    restore_best_weights=True, start_from_epoch=start)]


def accuracy(model, pairs, batch_size: int = 8192) -> float:
    """Fraction of pairs classified right (P(unrelated) > 0.5 <=> label 1)."""
    x = pairs.x.astype(np.float32)  # eager calls: no tf.function tracing for a one-off evaluation
    p = np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))[:, 0]
                        for i in range(0, len(x), batch_size)])
    return float(np.mean((p > 0.5) == (pairs.y > 0.5)))


def train_siamese(train, test=None, hidden=(160, 160), activation: str = "tanh", bottleneck: int = 1,
                  recipe: str = "cosine", epochs: int | None = None, batch_size: int | None = None,
                  learning_rate: float | None = None, pairs_per_group: int | None = None, seed: int = 0,
                  normalize: bool = True, verbose: int = 0, callbacks=(), validate: bool = True, strategy=None,
                  backup_dir: str | None = None, eval_every: int = 0, symmetry=None, first_layer: str | None = None):
    """Build pairs from GroupedData ``train`` (and ``test``), build and fit a SiameseNetwork.

    ``epochs`` caps the recipe's maximum (the budget; the ``cosine`` recipe's default is
    :func:`budget_epochs` of the number of training pairs); ``batch_size`` None takes the recipe's
    (:func:`recipe_batch_size`); ``validate=False`` skips the per-epoch test
    accuracy (saves time; the recipes' callbacks watch the training loss anyway). ``strategy`` (see
    :mod:`conserve_tf.distribute`) builds and compiles the model in its scope; ``backup_dir`` resumes an
    interrupted run; a NaN loss stops training with a clear error. ``eval_every > 0`` with ``test`` adds
    :class:`~conserve_tf.metrics.InvariantMetrics` on f (``val_rho`` etc. against the first known invariant that
    varies between groups, or ``val_relative_spread`` without) every that many epochs, ahead of ``callbacks``. Returns
    ``(model, info)`` with ``info`` holding ``train_accuracy``, ``test_accuracy`` (None without test data),
    ``epochs`` run and ``history``. ``symmetry="rotation"``: f reads the rotation invariants of the state
    (features = positions then velocities of one body; :mod:`conserve_tf.symmetry`), after a normalization
    without centring and with one variance per vector (:func:`conserve_tf.symmetry.vector_variances`).
    ``first_layer="product"`` (the default without ``symmetry``): f's first hidden layer also forms learned
    products of its inputs (:func:`~siamese.model.build_subnetwork`); ``"dense"`` (the default with it): the
    paper's plain first layer.
    """

    _recipe(recipe)  # an unknown recipe fails before any work
    check_seed(seed)
    if learning_rate is not None and not float(learning_rate) > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    if test is not None and test.n_features != train.n_features:
        raise ValueError(f"train has {train.n_features} features but test has {test.n_features}")
    set_seed(seed)
    tr = make_pairs(train, pairs_per_group, seed=seed)
    batch_size = recipe_batch_size(recipe, batch_size, len(tr.y))
    epochs = resolve_epochs(recipe, epochs, len(tr.y), batch_size)
    te = make_pairs(test, pairs_per_group, seed=seed + 1) if test is not None else None
    flat = train.flat()
    check_symmetry(symmetry, train.n_features)
    if not normalize:
        stats = {}
    elif symmetry is None:
        stats = dict(mean=flat.mean(0), variance=flat.var(0))
    else:
        stats = dict(mean=np.zeros(train.n_features), variance=vector_variances(flat))
    with (strategy or tf.distribute.get_strategy()).scope():
        model = SiameseNetwork(train.n_features, hidden=hidden, activation=activation, bottleneck=bottleneck,
                               symmetry=symmetry, first_layer=first_layer, **stats)
        compile_siamese(model, recipe, learning_rate, optimizer_steps(epochs, len(tr.y), batch_size))
    val = (te.x.astype(np.float32), te.y) if te is not None and validate else None
    held_out = [InvariantMetrics(test, every=eval_every, predict_fn=lambda x: grouped_invariant(model, x),
                                 constant=test.varying_constant())] if eval_every and test is not None else []
    hist = model.fit(tr.x.astype(np.float32), tr.y, batch_size=int(batch_size), epochs=epochs, verbose=verbose,
                     validation_data=val, shuffle=True, callbacks=recipe_callbacks(recipe, epochs)
                     + standard_callbacks(backup_dir) + held_out + list(callbacks))
    info = {"train_accuracy": accuracy(model, tr), "test_accuracy": accuracy(model, te) if te is not None else None,
            "epochs": len(hist.history["loss"]), "history": {k: [float(v) for v in vals]
                                                             for k, vals in hist.history.items()}}
    return model, info


def grouped_invariant(model, x) -> np.ndarray:
    """f of a SiameseNetwork on grouped inputs: x (G, M, F) -> (G, M, bottleneck)."""
    x = np.asarray(x)
    return np.asarray(model.invariant(x.reshape(-1, x.shape[-1]))).reshape(x.shape[0], x.shape[1], -1)


def load_data(system: str = "special_relativity", groups: int | None = None, test_groups: int = 5_000, members: int = 2,
              seed: int = 0, data: str | None = None, group_column: str = "group", constant_columns=("C",),
              test_fraction: float = 0.2):
    """(train, test) GroupedData: ``data`` (a .npz/.csv file, whole groups held out) or generated ``system``.

    Generated test groups come from seed ``seed + 10000``, so they never repeat training groups;
    ``groups=None`` generates the paper's number (:func:`default_groups`).
    """
    if data:
        if not os.path.exists(data):
            raise FileNotFoundError(f"--data file not found: {data}")
        loaded = GroupedData.load(data, group_column=group_column, constant_columns=tuple(constant_columns))
        return loaded.split_by_group(test_fraction=test_fraction, seed=seed)
    groups = default_groups(system) if groups is None else groups
    if groups < 2 or test_groups < 2:
        raise ValueError("--groups and --test_groups must be >= 2: negatives need two groups")
    return (make_system(system, groups, members, seed=seed),
            make_system(system, test_groups, members, seed=seed + 10_000))
