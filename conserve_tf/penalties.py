"""Independence penalties for a ConservNet with k > 1 outputs, as serializable objects.

A function of an invariant is invariant too, so no objective of :mod:`conserve_tf.losses` stops two
outputs from learning the same quantity. A penalty reads the outputs' input Jacobian J (N, k, F) and
charges dependence between the k gradient directions; the model adds ``weight`` times it to the loss.

* :class:`GradientCosinePenalty` -- mean over samples and pairs i < j of cos²(∇F_i, ∇F_j): 0 for
  orthogonal gradients, 1 when one output is a function of another.
* :class:`GradientLogdetPenalty` -- mean over samples of -log(det(G + δI) / (1 + δ)^k), G the Gram matrix of
  the unit gradients: a barrier, about cos² for nearly orthogonal pairs and about -log(2δ) for dependent
  ones, so a small weight charges little for the moderate angles independent invariants have.

``samples=n`` takes J at n points drawn afresh at every optimizer step from the batch (keyed to
(``seed``, step)) instead of at every point. Strings resolve through :func:`get` (``"cos2"``, ``"logdet"``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .losses import resolve

__all__ = ["GradientPenalty", "GradientCosinePenalty", "GradientLogdetPenalty", "PENALTIES", "get",
           "gradient_cosine_penalty", "gradient_logdet_penalty"]


def _unit_gram(jacobian):
    """Gram matrices (N, k, k) of the k unit input gradients in jacobian (N, k, F)."""
    unit = tf.math.l2_normalize(jacobian, axis=-1, epsilon=1e-12)
    return tf.einsum("nif,njf->nij", unit, unit)


def gradient_cosine_penalty(jacobian):
    """Mean over samples and output pairs i < j of cos²(∇F_i, ∇F_j); jacobian (N, k, F) -> scalar."""
    k = jacobian.shape[1]
    if k is None or k < 2:
        return tf.zeros((), jacobian.dtype)
    gram = _unit_gram(jacobian) ** 2
    upper = tf.linalg.band_part(tf.ones((k, k), jacobian.dtype), 0, -1) - tf.eye(k, dtype=jacobian.dtype)
    return tf.reduce_sum(tf.reduce_mean(gram, axis=0) * upper) / (k * (k - 1) / 2)


def gradient_logdet_penalty(jacobian, floor: float = 1e-3):
    """Mean over samples of -log(det(G + δI) / (1 + δ)^k), δ = ``floor``; jacobian (N, k, F) -> scalar.

    For k = 2: -log(((1 + δ)² - cos²) / (1 + δ)²). The log-determinant is taken through a Cholesky factor.
    """
    k = jacobian.shape[1]
    if k is None or k < 2:
        return tf.zeros((), jacobian.dtype)
    eye = tf.eye(k, dtype=jacobian.dtype)
    gram = _unit_gram(jacobian) / (1.0 + floor) + floor / (1.0 + floor) * eye
    chol = tf.linalg.cholesky(gram)
    return tf.reduce_mean(-2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(chol)), axis=-1))


class GradientPenalty:
    """Base: ``weight`` times a function of the input Jacobian (N, k, F), at all or ``samples`` points."""

    def __init__(self, weight: float = 1.0, samples: int | None = None, seed: int = 0):
        if not weight >= 0:
            raise ValueError(f"independence weight must be >= 0, got {weight}")
        if samples is not None and (isinstance(samples, bool) or int(samples) < 1):
            raise ValueError(f"penalty samples must be a positive integer or None, got {samples!r}")
        self.weight, self.seed = float(weight), int(seed)
        self.samples = None if samples is None else int(samples)

    def points(self, flat, step):
        """The rows of flat (N, F) at which the Jacobian is taken this step (all when ``samples`` is None)."""
        if self.samples is None:
            return flat
        n = tf.shape(flat)[0]
        key = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        pick = tf.argsort(tf.random.stateless_uniform([n], seed=key))[: tf.minimum(n, self.samples)]
        return tf.gather(flat, pick)

    def __call__(self, jacobian):
        """The unweighted penalty of jacobian (N, k, F) -> scalar."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"weight": self.weight, "samples": self.samples, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="conserve_tf")
class GradientCosinePenalty(GradientPenalty):
    """Mean squared cosine between the outputs' input gradients (:func:`gradient_cosine_penalty`)."""

    def __call__(self, jacobian):
        return gradient_cosine_penalty(jacobian)


@keras.saving.register_keras_serializable(package="conserve_tf")
class GradientLogdetPenalty(GradientPenalty):
    """Log-det barrier against dependent input gradients (:func:`gradient_logdet_penalty`), δ = ``floor``."""

    def __init__(self, weight: float = 1.0, samples: int | None = None, seed: int = 0, floor: float = 1e-3):
        super().__init__(weight, samples, seed)
        if not floor > 0:
            raise ValueError(f"floor must be positive, got {floor}")
        self.floor = float(floor)

    def __call__(self, jacobian):
        return gradient_logdet_penalty(jacobian, self.floor)

    def get_config(self):
        return {**super().get_config(), "floor": self.floor}


PENALTIES = {"cos2": GradientCosinePenalty, "logdet": GradientLogdetPenalty}


def get(identifier) -> GradientPenalty | None:
    """A penalty from a :class:`GradientPenalty`, a name in :data:`PENALTIES`, a config dict, or None."""
    return None if identifier is None else resolve(identifier, PENALTIES, GradientPenalty, "penalty")
