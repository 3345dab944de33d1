"""Rotation-invariant inputs: a learned invariant that cannot depend on the orientation of the data.

A state x = (q, v) of one body in d >= 2 dimensions (features q_1..q_d, then v_1..v_d: the layout of the
Kepler data, (x, y, v_x, v_y)) is mapped to the scalars that no rotation R (applied to q and v together)
changes: the dot products |q|², q·v and |v|² and, in the plane, the Levi-Civita contraction
q × v = q_1 v_2 − q_2 v_1 (Müller 2023, Eqs. 40-41; :class:`lagrangian.symmetry.RotationInvariant` is the
layer of the Lagrangian networks for n bodies). Any function of them is rotation invariant exactly, not just
on the training data.

Why it matters: a central potential conserves L, E and the orientation of the orbit (the direction of the
Laplace-Runge-Lenz vector, docs/conservnet_recipe.md and docs/siamese.md). A network free to use the
orientation does, when L is held fixed (the paper's Fig. 6); on rotation-invariant inputs it can only learn
functions of L, E and e = |A|, and with L fixed that leaves E.

The invariants are computed from the scaled inputs, so the scaling must treat every component of q alike
and every component of v alike (one factor per vector, no offset, no logarithm); :func:`symmetric_scaling`
makes a scaling so.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

__all__ = ["SYMMETRIES", "n_invariants", "rotation_invariants", "symmetric_scaling", "check_symmetry",
           "check_symmetric_scaling", "RotationInvariants", "vector_variances"]

#: the symmetries a ConservNet input can be made invariant under (None: no constraint)
SYMMETRIES = ("rotation",)


def check_symmetry(symmetry, n_features: int | None = None) -> None:
    """A clear error unless ``symmetry`` is None or in :data:`SYMMETRIES` and ``n_features`` (if given) is
    2 d with d >= 2 (positions then velocities of one body)."""
    if symmetry is None:
        return
    if symmetry not in SYMMETRIES:
        raise ValueError(f"symmetry must be None or one of {SYMMETRIES}, got {symmetry!r}")
    if n_features is not None and (n_features % 2 or n_features < 4):
        raise ValueError(f"symmetry={symmetry!r} reads the features as the positions then the velocities of one body "
                         f"in d >= 2 dimensions (2 d features, e.g. x, y, vx, vy); got {n_features} features")


def check_symmetric_scaling(symmetry, factors, offset=None, log_inputs=()) -> None:
    """A clear error unless the scaling a model applies before the invariants keeps them invariant: ``factors``
    (per feature, a scale or a variance) one value for all of q and one for all of v, ``offset`` (a centring:
    an offset or a mean) absent or zero, no ``log_inputs``."""
    if symmetry is None:
        return
    d = None if factors is None else len(factors) // 2
    uneven = d is not None and any(np.ptp(np.asarray(part, float)) > 0 for part in (factors[:d], factors[d:]))
    centred = offset is not None and np.any(np.asarray(offset) != 0)
    if uneven or centred or len(log_inputs):
        raise ValueError(f"symmetry={symmetry!r} needs one scale factor for all positions and one for all velocities, "
                         f"a normalization without centring (no offset or mean) and no logarithm "
                         f"(conserve_tf.symmetry.symmetric_scaling, vector_variances); got factors {factors}, "
                         f"centring {offset}, logarithm of features {list(log_inputs)}")


def n_invariants(n_features: int) -> int:
    """How many rotation invariants a state of ``n_features`` = 2 d features gives: 4 in the plane, else 3."""
    return 4 if n_features == 4 else 3


def rotation_invariants(x):
    """x (..., 2 d) = (q, v) -> (..., 3) = (|q|², q·v, |v|²), or (..., 4) with q × v appended when d = 2."""
    d = x.shape[-1] // 2
    q, v = x[..., :d], x[..., d:]
    out = [tf.reduce_sum(q * q, axis=-1), tf.reduce_sum(q * v, axis=-1), tf.reduce_sum(v * v, axis=-1)]
    if d == 2:
        out.append(q[..., 0] * v[..., 1] - q[..., 1] * v[..., 0])
    return tf.stack(out, axis=-1)


def symmetric_scaling(symmetry, scale, offset, log_inputs, feature_names=None):
    """``(scale, offset, log_inputs)`` fit for ``symmetry``: every component of q takes the smallest factor
    any of them had, and so does v; an offset or a logarithm (they break the invariance) is an error."""
    if symmetry is None:
        return scale, offset, log_inputs
    if offset is not None and any(o != 0 for o in offset):
        raise ValueError(f"symmetry={symmetry!r} needs inputs scaled without an offset (the rotation acts about the "
                         f"origin); use scaling='auto', 'factors', 'rule' or 'none', not 'standardize'")
    if log_inputs:
        names = [feature_names[i] for i in log_inputs] if feature_names is not None else list(log_inputs)
        raise ValueError(f"symmetry={symmetry!r} needs linear inputs, but feature(s) {names} would enter as their "
                         f"logarithm; use scaling='factors'")
    if scale is None:
        return scale, None, []
    d = len(scale) // 2
    scale = [min(scale[:d])] * d + [min(scale[d:])] * d
    return scale, None, []


@keras.saving.register_keras_serializable(package="conserve_tf")
class RotationInvariants(keras.layers.Layer):
    """:func:`rotation_invariants` as a Keras layer (no weights): (batch, 2 d) -> (batch, 4 or 3), for models
    built as a stack of layers (the Siamese subnetwork)."""

    def call(self, x):
        return rotation_invariants(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], n_invariants(int(input_shape[-1])))


def vector_variances(x) -> np.ndarray:
    """Per-feature variances (2 d,) for a normalization that keeps rotation invariance: no centring, and one
    value for all of q (the mean square of its components over x (N, 2 d)) and one for all of v."""
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1] // 2
    return np.repeat([np.mean(x[:, :d] ** 2), np.mean(x[:, d:] ** 2)], d)
