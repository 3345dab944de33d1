"""Symmetry-enforcing input layers S of a Lagrangian network (Müller 2023, Sec. 2.2-2.3, App. A).

Every layer takes one tensor ``x = concat(q, qdot)`` of shape ``(batch, 2 d)`` and returns invariant
scalars of shape ``(batch, M)``. The q and qdot halves are each read as ``n_particles`` vectors of
``dim`` components, ``q = (x^(1), ..., x^(n))``.

* :class:`NoSymmetry` -- identity (the unconstrained network).
* :class:`RotationInvariant` -- R: all dot products a^(i).a^(j), i <= j (Eq. 40), and all full
  contractions with the Levi-Civita symbol (Eq. 41) of the 2 n vectors; ``contractions=False``
  drops the latter (invariance under reflections too).
* :class:`TranslationInvariant` -- T: relative positions x^(1)-x^(k) (k >= 2) and all velocities (Table 1).
* :class:`RotationTranslationInvariant` -- R∘T: R applied to the output vectors of T (Table 1).
* :class:`SchwarzschildInvariant` -- (τ̇, x², ẋ², x·ẋ) of Sec. 2.3.2; with ``rotation=False`` it
  returns (x, ẋ, τ̇), i.e. it only drops τ.

Two particles in D = 4 give 16, 11, 12 and 6 outputs (Table 2).
"""

from __future__ import annotations

import itertools
import math

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "NoSymmetry",
    "RotationInvariant",
    "TranslationInvariant",
    "RotationTranslationInvariant",
    "SchwarzschildInvariant",
    "levi_civita",
]

_PKG = "lagrangian"


def levi_civita(dim: int) -> np.ndarray:
    """The D-dimensional Levi-Civita symbol ε (Eq. 39), shape ``(dim,) * dim``."""
    eps = np.zeros((dim,) * dim)
    for perm in itertools.permutations(range(dim)):
        inversions = sum(1 for i in range(dim) for j in range(i + 1, dim) if perm[i] > perm[j])
        eps[perm] = -1.0 if inversions % 2 else 1.0
    return eps


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class _Symmetry(keras.layers.Layer):
    """Common part: splits ``(batch, 2 d)`` into q, qdot vectors and checks the width."""

    def __init__(self, dim: int = 3, n_particles: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.dim = _check_positive_int("dim", dim)
        self.n_particles = _check_positive_int("n_particles", n_particles)

    @property
    def input_width(self) -> int:
        """Width 2 d of the layer's input (q and qdot concatenated)."""
        return 2 * self.dim * self.n_particles

    def _vectors(self, x):
        """Positions and velocities, each ``(batch, n_particles, dim)``."""
        if x.shape[-1] is not None and x.shape[-1] != self.input_width:
            raise ValueError(
                f"{type(self).__name__} expects inputs of width 2*n_particles*dim = {self.input_width} "
                f"(q and qdot concatenated), got width {x.shape[-1]}"
            )
        d = self.dim * self.n_particles
        pos = tf.reshape(x[:, :d], (-1, self.n_particles, self.dim))
        vel = tf.reshape(x[:, d:], (-1, self.n_particles, self.dim))
        return pos, vel

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_width)

    def get_config(self):
        config = super().get_config()
        config.update(dim=self.dim, n_particles=self.n_particles)
        return config


def _invariants(vectors, dim: int, contractions: bool, eps):
    """All dot products (Eq. 40) and Levi-Civita contractions (Eq. 41) of ``(batch, n, dim)`` vectors."""
    n = vectors.shape[1]
    cols = [vectors[:, k, :] for k in range(n)]
    # explicit pairwise products (no gather): keeps third derivatives (training through Eq. 9) dense
    out = [tf.stack([tf.reduce_sum(cols[i] * cols[j], axis=1) for i in range(n) for j in range(i, n)], axis=1)]
    if contractions and n >= dim:
        letters = "ijklmnopqrstuvwx"[:dim]
        spec = letters + "," + ",".join("b" + c for c in letters) + "->b"
        for combo in itertools.combinations(range(n), dim):
            out.append(tf.einsum(spec, eps, *[cols[k] for k in combo])[:, None])
    return tf.concat(out, axis=1)


def _n_invariants(n: int, dim: int, contractions: bool) -> int:
    return n * (n + 1) // 2 + (math.comb(n, dim) if contractions else 0)


@keras.saving.register_keras_serializable(package=_PKG)
class NoSymmetry(_Symmetry):
    """No symmetry: the inputs (q, qdot) pass unchanged, ``(batch, 2 d) -> (batch, 2 d)``."""

    @property
    def output_width(self) -> int:
        return self.input_width

    def call(self, x):
        self._vectors(x)
        return x


class _RotationInvariants:
    """Shared by R and R∘T: the rotation invariants of a stack of vectors, with or without the
    Levi-Civita contractions of Eq. (41) (``contractions``, saved in the config)."""

    def _set_contractions(self, contractions: bool) -> None:
        self.contractions = bool(contractions)
        self._eps = levi_civita(self.dim) if self.contractions else None

    def _rotation_invariants(self, vectors):
        """vectors (batch, n, D) -> (batch, n(n+1)/2 [+ C(n, D)])."""
        eps = None if self._eps is None else tf.constant(self._eps, dtype=vectors.dtype)
        return _invariants(vectors, self.dim, self.contractions, eps)

    def get_config(self):
        return {**super().get_config(), "contractions": self.contractions}


@keras.saving.register_keras_serializable(package=_PKG)
class RotationInvariant(_RotationInvariants, _Symmetry):
    """R: rotation (SO(D)) invariants of the 2 n vectors x^(k), ẋ^(k) (Eqs. 28, 40, 41; Table 1).

    Output ``(batch, n(2n+1) + C(2n, D))`` (without the C(2n, D) contractions when
    ``contractions=False``).
    """

    def __init__(self, dim: int = 3, n_particles: int = 1, contractions: bool = True, **kwargs):
        super().__init__(dim=dim, n_particles=n_particles, **kwargs)
        self._set_contractions(contractions)

    @property
    def output_width(self) -> int:
        return _n_invariants(2 * self.n_particles, self.dim, self.contractions)

    def call(self, x):
        pos, vel = self._vectors(x)
        return self._rotation_invariants(tf.concat([pos, vel], axis=1))


def _relative(pos, vel):
    """T (Table 1): x^(1) - x^(k) for k >= 2 followed by all velocities, ``(batch, 2n-1, dim)``."""
    rel = pos[:, :1, :] - pos[:, 1:, :]
    return tf.concat([rel, vel], axis=1)


@keras.saving.register_keras_serializable(package=_PKG)
class TranslationInvariant(_Symmetry):
    """T: relative positions and velocities, ``(batch, 2 d) -> (batch, (2n-1) D)`` (Table 1).

    Needs at least two particles (one particle has no translation-invariant position).
    """

    def __init__(self, dim: int = 3, n_particles: int = 2, **kwargs):
        super().__init__(dim=dim, n_particles=n_particles, **kwargs)
        if self.n_particles < 2:
            raise ValueError("translation invariance needs n_particles >= 2 (relative coordinates)")

    @property
    def output_width(self) -> int:
        return (2 * self.n_particles - 1) * self.dim

    def call(self, x):
        pos, vel = self._vectors(x)
        return tf.reshape(_relative(pos, vel), (-1, self.output_width))


@keras.saving.register_keras_serializable(package=_PKG)
class RotationTranslationInvariant(_RotationInvariants, TranslationInvariant):
    """R∘T: rotation invariants (Eqs. 40, 41) of the relative positions and the velocities."""

    def __init__(self, dim: int = 3, n_particles: int = 2, contractions: bool = True, **kwargs):
        super().__init__(dim=dim, n_particles=n_particles, **kwargs)
        self._set_contractions(contractions)

    @property
    def output_width(self) -> int:
        return _n_invariants(2 * self.n_particles - 1, self.dim, self.contractions)

    def call(self, x):
        pos, vel = self._vectors(x)
        return self._rotation_invariants(_relative(pos, vel))


@keras.saving.register_keras_serializable(package=_PKG)
class SchwarzschildInvariant(_Symmetry):
    """Schwarzschild layer (Sec. 2.3.2): q = (x, τ), qdot = (ẋ, τ̇), input ``(batch, 8)``.

    ``rotation=True``: output (τ̇, x², ẋ², x·ẋ), ``(batch, 4)``; ``rotation=False``: (x, ẋ, τ̇),
    ``(batch, 7)``. τ itself is always dropped (the paper found it destabilises training).
    """

    def __init__(self, rotation: bool = True, **kwargs):
        kwargs.pop("dim", None)
        kwargs.pop("n_particles", None)
        super().__init__(dim=4, n_particles=1, **kwargs)
        self.rotation = bool(rotation)

    @property
    def output_width(self) -> int:
        return 4 if self.rotation else 7

    def call(self, x):
        self._vectors(x)
        pos, tdot, vel = x[:, 0:3], x[:, 7:8], x[:, 4:7]
        if not self.rotation:
            return tf.concat([pos, vel, tdot], axis=1)
        dots = [tf.reduce_sum(a * b, axis=1, keepdims=True) for a, b in ((pos, pos), (vel, vel), (pos, vel))]
        return tf.concat([tdot] + dots, axis=1)

    def get_config(self):
        config = super().get_config()
        config.pop("dim", None)
        config.pop("n_particles", None)
        config.update(rotation=self.rotation)
        return config
