"""A Siamese network with a k-neuron bottleneck kept decorrelated: several invariants from one training.

The outlook of Wetzel et al. 2020 (paper 004) suggests a bottleneck of several neurons whose outputs are
kept decorrelated, so that each neuron carries a different invariant. :class:`DecorrelatedSiamese`
trains Eq. (1) of paper 004 (binary cross-entropy on y_p = sigmoid(w Σ_k (f_k(x) - f_k(x'))² + b)) plus

    λ · mean_{i<j} corr(f_i, f_j)²,                                  (:func:`correlation_penalty`)

the squared Pearson correlation of bottleneck neurons i and j over the batch (both members of every
pair), averaged over neuron pairs: 0 for uncorrelated neurons, 1 when one is an affine function of the
other. Correlation alone is lowered by collapsing the neurons to constants (docs/siamese.md), so for k > 1 the penalty also holds every neuron's batch
std at >= 1, λ · mean_k max(0, 1 - std(f_k))² (:func:`scale_floor_penalty`, as in VICReg); the scale of f
is arbitrary anyway (the head's w absorbs it). A penalty present from the first step can hold the network
on the ln 2 plateau (the neurons first pick up the same invariant, correlated, and only then separate), so :func:`train_decorrelated` trains ``warmup`` epochs without the penalty first.

:func:`train_decorrelated` builds pairs and fits it with the recipes of :mod:`siamese.training`;
:func:`multi_readout` names the invariants each neuron is made of
(:func:`conserve_tf.invariants.invariant_readout`); :func:`count_siamese_invariants` runs the count of
:func:`conserve_tf.counting.count_invariants` with bottlenecks k = 1..k_max.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from conserve_tf.counting import count_invariants
from conserve_tf.invariants import invariant_readout, known_invariants
from conserve_tf.runs import set_seed

from .model import SiameseNetwork
from .pairs import make_pairs
from .training import accuracy, compile_siamese, recipe_callbacks, optimizer_steps, resolve_epochs

__all__ = ["correlation_penalty", "scale_floor_penalty", "DecorrelatedSiamese", "train_decorrelated", "multi_readout",
           "count_siamese_invariants"]


def correlation_penalty(f):
    """Mean over neuron pairs i < j of the squared Pearson correlation over the batch: f (B, k) -> scalar."""
    k = f.shape[-1]
    if k is None or k < 2:
        return ops.zeros((), dtype=f.dtype)
    centred = f - ops.mean(f, axis=0, keepdims=True)
    cov = ops.matmul(ops.transpose(centred), centred) / ops.cast(ops.shape(f)[0], f.dtype)
    std = ops.sqrt(ops.diagonal(cov) + 1e-12)
    corr2 = ops.square(cov / (std[:, None] * std[None, :]))
    upper = np.triu(np.ones((k, k)), 1).astype(keras.backend.standardize_dtype(f.dtype))
    return ops.sum(corr2 * upper) / (k * (k - 1) / 2)


def scale_floor_penalty(f):
    """Mean over neurons of max(0, 1 - std over the batch)²: f (B, k) -> scalar; 0 once every std >= 1."""
    std = ops.sqrt(ops.var(f, axis=0) + 1e-12)
    return ops.mean(ops.square(ops.relu(1.0 - std)))


@keras.saving.register_keras_serializable(package="siamese")
class DecorrelatedSiamese(SiameseNetwork):
    """:class:`~siamese.model.SiameseNetwork` whose k bottleneck neurons are kept decorrelated (weight λ =
    ``decorrelation``). Inputs, outputs and constructor arguments as the parent; logs ``loss`` (the binary
    cross-entropy), ``accuracy`` and ``decorrelation`` (the penalty without λ). Its ``first_layer`` defaults to
    "dense", the layer the counting of invariants was measured with."""

    def __init__(self, *args, decorrelation: float = 1.0, first_layer: str = "dense", **kwargs):
        if not float(decorrelation) >= 0:
            raise ValueError(f"decorrelation weight must be >= 0, got {decorrelation}")
        # the parent builds the model in its __init__, after which Keras accepts no new state: create first
        self.decorrelation = float(decorrelation)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.BinaryAccuracy(name="accuracy")
        self.decorrelation_tracker = keras.metrics.Mean(name="decorrelation")
        super().__init__(*args, first_layer=first_layer, **kwargs)

    def _terms(self, data, training):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x_a, x_b = self._split(x)
        f_a, f_b = self.subnetwork(x_a, training=training), self.subnetwork(x_b, training=training)
        y_pred = self.head(f_a, f_b)
        bce = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        both = ops.concatenate([f_a, f_b], axis=0)
        penalty = correlation_penalty(both)
        floor = scale_floor_penalty(both) if self.bottleneck > 1 else ops.zeros((), dtype=bce.dtype)
        return y, y_pred, bce, penalty, floor

    def _record(self, y, y_pred, bce, penalty, floor=None):
        self.loss_tracker.update_state(bce)
        self.accuracy_tracker.update_state(y, y_pred)
        self.decorrelation_tracker.update_state(penalty)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            y, y_pred, bce, penalty, floor = self._terms(data, True)
            total = (bce + self.decorrelation * (penalty + floor)) / self.distribute_strategy.num_replicas_in_sync
        grads = tape.gradient(total, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._record(y, y_pred, bce, penalty)

    def test_step(self, data):
        return self._record(*self._terms(data, False))

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker, self.decorrelation_tracker]

    def get_config(self):
        return {**super().get_config(), "decorrelation": self.decorrelation}


def train_decorrelated(train, test=None, bottleneck: int = 2, decorrelation: float = 1.0, hidden=(160, 160),
                       activation: str = "tanh", recipe: str = "adam", epochs: int | None = None,
                       batch_size: int = 256, learning_rate: float | None = None, seed: int = 0,
                       verbose: int = 0, callbacks=(), warmup: int = 10, first_layer: str = "dense"):
    """Pairs from GroupedData ``train`` (and ``test``), then fit a :class:`DecorrelatedSiamese`:
    ``warmup`` epochs with λ = 0, then the rest of the ``epochs`` budget with λ = ``decorrelation``
    (recompiled, so the recipe's optimizer and callbacks start afresh). ``first_layer``: as in
    :func:`~siamese.model.build_subnetwork`; "dense" here, the layer the counting of invariants was measured with.

    Returns ``(model, info)``; info holds ``train_accuracy``, ``test_accuracy``, ``epochs``,
    ``decorrelation`` (the penalty on the test pairs, or the training pairs without test) and ``history``.
    """
    if test is not None and test.n_features != train.n_features:
        raise ValueError(f"train has {train.n_features} features but test has {test.n_features}")
    set_seed(seed)
    tr = make_pairs(train, seed=seed)
    epochs = resolve_epochs(recipe, epochs, len(tr.y), batch_size)
    te = make_pairs(test, seed=seed + 1) if test is not None else None
    flat = train.flat()
    model = DecorrelatedSiamese(train.n_features, hidden=hidden, activation=activation, bottleneck=bottleneck,
                                mean=flat.mean(0), variance=flat.var(0), decorrelation=decorrelation,
                                first_layer=first_layer)
    warmup = min(max(int(warmup), 0), epochs - 1) if bottleneck > 1 and decorrelation > 0 else 0
    history = {}
    for weight, n_epochs in ((0.0, warmup), (float(decorrelation), epochs - warmup)):
        if n_epochs < 1:
            continue
        model.decorrelation = weight  # read when fit traces the step: compile anew for each phase
        compile_siamese(model, recipe, learning_rate, optimizer_steps(n_epochs, len(tr.y), batch_size))
        hist = model.fit(tr.x.astype(np.float32), tr.y, batch_size=int(batch_size), epochs=n_epochs,
                         verbose=verbose, callbacks=recipe_callbacks(recipe, n_epochs) + list(callbacks), shuffle=True)
        for key, vals in hist.history.items():
            history.setdefault(key, []).extend(float(v) for v in vals)
    held = (test if test is not None else train).flat()
    info = {"train_accuracy": accuracy(model, tr), "test_accuracy": accuracy(model, te) if te is not None else None,
            "epochs": len(history["loss"]),
            "decorrelation": float(correlation_penalty(ops.convert_to_tensor(
                np.asarray(model.invariant(held), np.float32).reshape(len(held), -1)))),
            "history": history}
    return model, info


def multi_readout(model, train, test, degree: int = 3, **kwargs):
    """:func:`conserve_tf.invariants.invariant_readout` of the bottleneck neurons against the known invariants
    of the data (its constants): R² of each invariant from all neurons, and what each neuron is made of."""
    if train.c is None or test.c is None:
        raise ValueError("the read-out needs data with known invariants (constants c)")
    return invariant_readout(model.invariant(train.flat()), known_invariants(train), model.invariant(test.flat()),
                             known_invariants(test), degree=degree, **kwargs)


def count_siamese_invariants(train, test, k_max: int = 3, decorrelation: float = 1.0, log=print,
                             spread_threshold: float = 0.2, **train_kwargs):
    """The count of :func:`conserve_tf.invariants.count_invariants` with decorrelated Siamese bottlenecks of
    k = 1..k_max neurons; the spread of a neuron is its relative spread over the groups of ``test``."""
    def fit(tr, te, k):
        model, _ = train_decorrelated(tr, None, bottleneck=k, decorrelation=decorrelation, **train_kwargs)
        return model, (lambda x: model.subnetwork(x, training=False)), None

    return count_invariants(train, test, k_max=k_max, fit=fit, log=log, spread_threshold=spread_threshold)
