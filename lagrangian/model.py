"""Lagrangian network L_NN = D3 ∘ D2 ∘ D1 ∘ S and its Euler-Lagrange accelerations (Müller 2023).

Shapes: a state is ``x = concat(q, qdot)`` of shape ``(batch, 2 d)``; accelerations are ``(batch, d)``.

The acceleration is Eq. (9) of Müller 2023 with the bracket corrected to hold ∂L/∂q
(Cranmer et al. 2020, Eq. 6):

    q̈ = (∂²L/∂q̇∂q̇)⁻¹ (∂L/∂q − (∂²L/∂q̇∂q) q̇),

with both Hessian blocks taken from one forward pass (nested ``tf.GradientTape`` and one
``batch_jacobian``) and a batched ``tf.linalg.solve``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

import lagrangian.symmetry  # noqa: F401  (registers the symmetry layers for loading)
from conserve_tf.distribute import BuiltModelMixin

__all__ = [
    "LagrangianNetwork",
    "SingularHessianError",
    "HessianGuard",
    "euler_lagrange",
    "conjugate_momentum",
    "lagrangian_energy",
    "velocity_hessian_condition",
]

_PKG = "lagrangian"


class SingularHessianError(ValueError):
    """The velocity Hessian ∂²L/∂q̇² is singular or too ill-conditioned to solve Eq. (9)."""


def euler_lagrange(lagrangian, x):
    """Accelerations from a Lagrangian by Eq. (9) (bracket holding ∂L/∂q), batched.

    ``lagrangian``: callable ``(batch, 2 d) -> (batch,)``, independent per sample.
    ``x``: ``(batch, 2 d)``. Returns ``(qddot (batch, d), J_vv (batch, d, d))``; the velocity
    Hessian is returned so callers can check its conditioning.
    """
    d = x.shape[-1] // 2
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            lag = lagrangian(x)
        grad = inner.gradient(lag, x)  # (batch, 2d): (∂L/∂q, ∂L/∂q̇)
        p = grad[:, d:]
    hess = outer.batch_jacobian(p, x)  # (batch, d, 2d): rows ∂/∂q̇_i, columns (q, q̇)
    j_vq, j_vv = hess[:, :, :d], hess[:, :, d:]
    rhs = grad[:, :d] - tf.linalg.matvec(j_vq, x[:, d:])
    # An exactly singular Hessian makes MatrixSolve raise (graph) or return inf/NaN (XLA); callers
    # turn both into SingularHessianError.
    qddot = tf.linalg.solve(j_vv, rhs[:, :, None])[:, :, 0]
    return qddot, j_vv


def _value_and_momentum(lagrangian, x):
    """(L (batch,), p = ∂L/∂q̇ (batch, d)) of ``(batch, 2 d)`` states, from one tape."""
    d = x.shape[-1] // 2
    with tf.GradientTape() as tape:
        tape.watch(x)
        lag = lagrangian(x)
    return lag, tape.gradient(lag, x)[:, d:]


def conjugate_momentum(lagrangian, x):
    """p = ∂L/∂q̇ of ``(batch, 2 d)`` states, shape ``(batch, d)`` (enters Eqs. 2, 14, 21, 32)."""
    return _value_and_momentum(lagrangian, x)[1]


def lagrangian_energy(lagrangian, x):
    """E = q̇ · ∂L/∂q̇ − L of ``(batch, 2 d)`` states, shape ``(batch,)``.

    The Noether charge of time translation: conserved exactly along the flow of any Lagrangian that does
    not depend on t, a network's included, whatever its symmetry layer. An additive constant in L shifts E
    by minus that constant; q̇ · p does not change (for a quadratic kinetic term it is twice the kinetic
    energy), so :func:`lagrangian.integrators.rollout` measures E's drift against it.
    """
    lag, p = _value_and_momentum(lagrangian, x)
    return tf.reduce_sum(x[:, x.shape[-1] // 2:] * p, axis=1) - lag


def velocity_hessian_condition(j_vv) -> np.ndarray:
    """2-norm condition numbers of symmetric ``(batch, d, d)`` Hessians (inf when singular)."""
    eig = np.abs(np.linalg.eigvalsh(np.asarray(j_vv, dtype=np.float64)))
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = eig.max(axis=-1) / eig.min(axis=-1)
    return np.where(np.isfinite(cond), cond, np.inf)


INITS = ("glorot", "paper")


class _singular_as_error:
    """Context manager turning MatrixSolve's "not invertible" error into SingularHessianError."""

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if kind is not None and issubclass(kind, tf.errors.InvalidArgumentError) and "invertible" in str(err):
            raise SingularHessianError(
                "velocity Hessian d2L/dqdot2 is singular or ill-conditioned (exactly singular for some sample); "
                "Eq. (9) cannot be solved "
                "(check the data, lower the learning rate, or use a symmetry layer whose outputs depend on qdot)"
            ) from None
        return False


def _kernel_init(init, std):
    if init == "paper":
        return keras.initializers.RandomNormal(mean=0.0, stddev=std)
    return keras.initializers.GlorotUniform()


@keras.saving.register_keras_serializable(package=_PKG)
class LagrangianNetwork(BuiltModelMixin, keras.Model):
    """L_NN(q, q̇) = D3(D2(D1(S(q, q̇)))) with softplus dense layers (Sec. 2.2 and 3.1 of Müller 2023).

    Args:
        symmetry: a symmetry layer from :mod:`lagrangian.symmetry` (rebuilt in ``dtype``).
        hidden_units: width n_h of D1 and D2 (paper: 128).
        system: optional name of the system the network learns (kept in the saved file).
        dtype: "float32" (training speed) or "float64" (exactness checks).
        init: "paper" -- kernels normal with std 2/√n_h, 1/√n_h, √n_h (Sec. 3.1 as printed);
            "glorot" (default) -- Keras' Glorot-uniform, the initialisation of the published
            training script whose loss histories the paper shows (docs/lagrangian.md compares the two).
        scale: ``(ℓ, v)``, lengths and speeds of the data. The network reads q / ℓ and q̇ / v, so it sees
            numbers of order one in any units; Eq. (9) differentiates through the division, so accelerations
            and momenta stay in the data's units. One ℓ and one v for all coordinates keeps the symmetry of S.
            Default (1, 1): the paper's systems are already of order one.
        periodic: indices of the coordinates q_i that are angles (period 2π, e.g. a pendulum's θ). The network
            reads cos q_i and sin q_i in place of q_i / ℓ, so L_NN is exactly 2π-periodic in them and a
            trajectory that turns over (θ growing without bound) never leaves the inputs it was trained on.
            Needs the symmetry ``NoSymmetry`` (R, T and R∘T act on Cartesian coordinates). Default: none.

    ``model(x)`` with ``x = concat(q, qdot)`` ``(batch, 2 d)`` returns L_NN ``(batch,)``. Weights start
    as chosen by ``init`` with zero biases; D3 has no bias (a constant does not change
    the dynamics). ``fit`` minimises the loss given to ``compile`` (a ``keras.losses`` object or name;
    default the MSE of Eq. 12) between Eq. (9) accelerations and targets ``(batch, d)``; the logged ``nonfinite`` is the fraction of samples whose solve was not finite
    (use :class:`HessianGuard` to stop with a clear error).
    """

    def __init__(self, symmetry, hidden_units: int = 128, system: str | None = None, dtype="float32",
                 init: str = "glorot", scale=(1.0, 1.0), periodic=(), **kwargs):
        if isinstance(symmetry, dict):
            symmetry = keras.saving.deserialize_keras_object(symmetry)
        if not isinstance(symmetry, keras.layers.Layer) or not hasattr(symmetry, "input_width"):
            raise ValueError(f"symmetry must be a layer from lagrangian.symmetry, got {symmetry!r}")
        if isinstance(hidden_units, bool) or not isinstance(hidden_units, (int, np.integer)) or hidden_units < 1:
            raise ValueError(f"hidden_units must be a positive integer, got {hidden_units!r}")
        if isinstance(dtype, str) and dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        scale = tuple(float(v) for v in np.ravel(np.asarray(scale, dtype=np.float64)))
        if len(scale) != 2 or not all(np.isfinite(v) and v > 0 for v in scale):
            raise ValueError(f"scale must be two finite positive numbers (length, speed), got {scale!r}")
        width = symmetry.input_width // 2
        periodic = tuple(sorted({int(i) for i in np.ravel(np.asarray(periodic, dtype=np.int64))}))
        if any(not 0 <= i < width for i in periodic):
            raise ValueError(f"periodic must list coordinate indices in [0, {width}), got {periodic}")
        if periodic and not isinstance(symmetry, lagrangian.symmetry.NoSymmetry):
            raise ValueError(f"periodic coordinates (angles) need the symmetry layer NoSymmetry, got "
                             f"{type(symmetry).__name__}: R, T and R∘T act on Cartesian coordinates")
        super().__init__(dtype=dtype, **kwargs)
        self.scale = scale
        self.periodic = periodic
        self.init = init
        cfg = symmetry.get_config()
        cfg["dtype"] = self.dtype_policy.name
        cfg.pop("name", None)
        self.symmetry = type(symmetry).from_config(cfg)
        self.hidden_units = int(hidden_units)
        self.system = system
        n_h = self.hidden_units
        self.d1 = keras.layers.Dense(n_h, activation="softplus", kernel_initializer=_kernel_init(init, 2 / math.sqrt(n_h)),
                                     dtype=self.dtype_policy, name="D1")
        self.d2 = keras.layers.Dense(n_h, activation="softplus", kernel_initializer=_kernel_init(init, 1 / math.sqrt(n_h)),
                                     dtype=self.dtype_policy, name="D2")
        self.d3 = keras.layers.Dense(1, use_bias=False, kernel_initializer=_kernel_init(init, math.sqrt(n_h)),
                                     dtype=self.dtype_policy, name="D3")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.nonfinite_tracker = keras.metrics.Mean(name="nonfinite")
        self.build((None, self.symmetry.input_width))

    @property
    def d(self) -> int:
        """Number of generalised coordinates d."""
        return self.symmetry.input_width // 2

    def build(self, input_shape):
        if self.built:
            return
        self.symmetry.build((None, self.symmetry.input_width))  # every layer built: fit needs no sample batch
        self.d1.build((None, self.symmetry.output_width + len(self.periodic)))
        self.d2.build((None, self.hidden_units))
        self.d3.build((None, self.hidden_units))
        self.built = True

    def call(self, x, training=False):
        """L_NN of ``(batch, 2 d)`` states, shape ``(batch,)``."""
        x = tf.convert_to_tensor(x)
        if x.shape.rank is not None and (x.shape.rank != 2 or x.shape[-1] not in (None, 2 * self.d)):
            raise ValueError(f"LagrangianNetwork takes states (batch, {2 * self.d}) = (q, qdot) of its {self.d} "
                             f"coordinates, got shape {tuple(x.shape)}")
        if self.periodic:  # (q_other / ℓ, cos q_angle, sin q_angle, q̇ / v): width 2 d + (number of angles)
            d, angles = self.d, list(self.periodic)
            others = [i for i in range(d) if i not in self.periodic]
            q_angle = tf.gather(x, angles, axis=1)
            lengths = [tf.gather(x, others, axis=1) / self.scale[0]] if others else []
            return self.d3(self.d2(self.d1(tf.concat(
                lengths + [tf.cos(q_angle), tf.sin(q_angle), x[:, d:] / self.scale[1]], axis=1))))[:, 0]
        if self.scale != (1.0, 1.0):
            d = self.d
            x = tf.concat([x[:, :d] / self.scale[0], x[:, d:] / self.scale[1]], axis=1)
        return self.d3(self.d2(self.d1(self.symmetry(x))))[:, 0]

    # --- physics -------------------------------------------------------------------------------
    def acceleration(self, x):
        """q̈ by Eq. (9) (corrected), ``(batch, 2 d) -> (batch, d)``; graph-safe, no checks."""
        return euler_lagrange(self, x)[0]

    def momentum(self, x):
        """p = ∂L_NN/∂q̇, ``(batch, 2 d) -> (batch, d)``."""
        return conjugate_momentum(self, x)

    def energy(self, x):
        """E_NN = q̇ · ∂L_NN/∂q̇ − L_NN, ``(batch, 2 d) -> (batch,)`` (:func:`lagrangian_energy`)."""
        return lagrangian_energy(self, x)

    def _as_state(self, x):
        arr = np.asarray(x)
        if arr.ndim != 2 or arr.shape[1] != 2 * self.d:
            raise ValueError(f"states must have shape (batch, {2 * self.d}) = (q, qdot), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("states contain NaN or Inf")
        return tf.convert_to_tensor(arr, dtype=self.dtype_policy.compute_dtype)

    def accelerations(self, x, max_condition: float | None = None) -> np.ndarray:
        """Checked NumPy version of :meth:`acceleration` for ``(batch, 2 d)`` states.

        Raises :class:`SingularHessianError` naming the first bad sample when the velocity
        Hessian's condition number exceeds ``max_condition`` (default 1/(100 ε) of the dtype)
        or the solve is not finite.
        """
        xt = self._as_state(x)
        with _singular_as_error():
            qddot, j_vv = self._checked_fn(xt)
        qddot = qddot.numpy()
        cond = velocity_hessian_condition(j_vv.numpy())
        limit = max_condition or 0.01 / np.finfo(qddot.dtype).eps
        bad = (cond > limit) | ~np.all(np.isfinite(qddot), axis=1)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise SingularHessianError(
                f"velocity Hessian d2L/dqdot2 is singular or ill-conditioned at sample {i} "
                f"(condition number {cond[i]:.3g}, limit {limit:.3g}); Eq. (9) cannot be solved there"
            )
        return qddot

    @property
    def _checked_fn(self):
        if getattr(self, "_el_fn", None) is None:
            self._el_fn = tf.function(lambda x: euler_lagrange(self, x), reduce_retracing=True)
        return self._el_fn

    # --- training ------------------------------------------------------------------------------
    def fit(self, *args, **kwargs):
        """``keras.Model.fit``; an exactly singular velocity Hessian raises :class:`SingularHessianError`."""
        with _singular_as_error():
            return super().fit(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        with _singular_as_error():
            return super().evaluate(*args, **kwargs)

    def input_width(self) -> int:
        """2 d: the width of the states (q, q̇) (``export``'s default signature)."""
        return 2 * self.d

    def _loss(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2 or data[1] is None:
            raise ValueError(f"LagrangianNetwork.fit and evaluate take states (batch, {2 * self.d}) with their "
                             f"accelerations (batch, {self.d}) as targets: pass x and y")
        if len(data) > 2 and data[2] is not None:
            raise ValueError("LagrangianNetwork does not weight samples (sample_weight, class_weight): leave them out")
        x, y = data[0], data[1]
        if y.shape.rank is not None and (y.shape.rank != 2 or y.shape[-1] not in (None, self.d)):
            raise ValueError(f"the targets are the accelerations (batch, {self.d}) of the {self.d} coordinates, got "
                             f"shape {tuple(y.shape)}")
        x = tf.cast(x, self.dtype_policy.compute_dtype)
        y = tf.cast(y, self.dtype_policy.compute_dtype)
        pred = self.acceleration(x)
        finite = tf.reduce_all(tf.math.is_finite(pred), axis=1)
        # the compiled loss (compile(loss=...)), by default the MSE of Eq. (12), per sample and averaged here:
        # a Loss object's own reduction would also divide by the replica count (docs/design.md, Keras fact 1)
        loss_fn = keras.losses.get("mse" if self.loss is None else self.loss)
        per_sample = loss_fn.call(y, pred) if isinstance(loss_fn, keras.losses.Loss) else loss_fn(y, pred)
        loss = tf.cast(tf.reduce_mean(per_sample), pred.dtype)
        return loss, 1.0 - tf.reduce_mean(tf.cast(finite, loss.dtype))

    def train_step(self, data):
        """One Adam step on the MSE of Eq. (12); the loss is divided by the replica count for gradients."""
        with tf.GradientTape() as tape:
            loss, nonfinite = self._loss(data)
            scaled = loss / tf.cast(self.distribute_strategy.num_replicas_in_sync, loss.dtype)
            scaled = self.optimizer.scale_loss(scaled)  # an optimizer's loss_scale_factor (1 otherwise)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        self.nonfinite_tracker.update_state(nonfinite)
        return self.step_logs({m.name: m.result() for m in self.metrics})

    def test_step(self, data):
        loss, nonfinite = self._loss(data)
        self.loss_tracker.update_state(loss)
        self.nonfinite_tracker.update_state(nonfinite)
        return self.step_logs({m.name: m.result() for m in self.metrics})

    @property
    def metrics(self):
        return [self.loss_tracker, self.nonfinite_tracker]

    def get_config(self):
        return {
            "symmetry": keras.saving.serialize_keras_object(self.symmetry),
            "hidden_units": self.hidden_units,
            "system": self.system,
            "init": self.init,
            "scale": list(self.scale),
            "periodic": list(self.periodic),
            "dtype": self.dtype_policy.name,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["symmetry"] = keras.saving.deserialize_keras_object(config["symmetry"])
        return cls(**config)


class HessianGuard(keras.callbacks.Callback):
    """Stops ``fit`` with :class:`SingularHessianError` as soon as a batch had a non-finite solve."""

    def on_train_batch_end(self, batch, logs=None):
        if logs and float(logs.get("nonfinite", 0.0)) > 0.0:
            raise SingularHessianError(
                f"velocity Hessian d2L/dqdot2 was singular in training batch {batch} "
                "(non-finite accelerations); lower the learning rate or check the data"
            )
