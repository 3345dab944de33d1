"""Training a Lagrangian network on one of the paper's systems (Müller 2023, Sec. 3.1).

Settings follow the paper: batch 128, Adam with cosine decay 1e-3 -> 1e-5 over all steps, MSE on
accelerations, noise σ = 1e-3 on inputs and targets. Clean states are generated once, in bulk, and
fed from memory through ``tf.data`` (shuffle, repeat, batch, prefetch); the noise is drawn afresh for
every batch inside the pipeline, as the published code draws a new noisy sample every time.

Why fresh noise: with one fixed noisy copy of 2^17 samples, 250 000 steps revisit each sample ~250
times and the network learns the noise: its training MSE falls below the floor σ²(1 + 2 E[r⁻⁶]) that input
noise alone sets for a perfect model (docs/lagrangian.md).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from conserve_tf.callbacks import StopOnNonFiniteLoss
from conserve_tf.groups import check_seed
from conserve_tf.runs import set_seed
from lagrangian.model import HessianGuard, LagrangianNetwork
from lagrangian.systems import get_system

__all__ = ["build_model", "make_dataset", "train_model"]


def build_model(system, symmetry: str, hidden_units: int = 128, dtype: str = "float32", init: str = "glorot"):
    """A :class:`~lagrangian.model.LagrangianNetwork` with ``system``'s layer for ``symmetry`` and its
    ``input_scale`` (1, 1 for the paper's systems; the data's own for :class:`lagrangian.measured.MeasuredSystem`)
    and its ``periodic`` coordinates (recorded angles; none for the paper's systems)."""
    system = get_system(system) if isinstance(system, str) else system
    return LagrangianNetwork(system.symmetry_layer(symmetry), hidden_units=hidden_units, system=system.name,
                             dtype=dtype, init=init, scale=system.input_scale, periodic=system.periodic)


def make_dataset(x, y, batch_size: int = 128, seed: int = 0, sigma: float = 0.0):
    """Endless shuffled ``tf.data`` pipeline of (states, accelerations) from in-memory arrays.

    ``x`` (n, 2 d), ``y`` (n, d). With ``sigma > 0`` every batch gets fresh N(0, σ²) noise on
    inputs and targets (Sec. 3.1), from stateless seeds drawn from ``seed``: reproducible, and never
    the same noise twice.
    """
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(min(len(x), 65536), seed=seed, reshuffle_each_iteration=True)
    ds = ds.repeat().batch(batch_size, drop_remainder=True)
    if sigma > 0:
        seeds = tf.data.Dataset.random(seed=seed).batch(4, drop_remainder=True)  # two stateless seeds a batch

        def noisy(batch, s):
            xb, yb = batch
            nx = tf.random.stateless_normal(tf.shape(xb), seed=s[:2], dtype=xb.dtype)
            ny = tf.random.stateless_normal(tf.shape(yb), seed=s[2:], dtype=yb.dtype)
            return xb + sigma * nx, yb + sigma * ny

        ds = tf.data.Dataset.zip((ds, seeds)).map(noisy, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def train_model(system, symmetry: str, epochs: int = 2500, steps_per_epoch: int = 100, batch_size: int = 128,
                learning_rate: float = 1e-3, final_learning_rate: float = 1e-5, sigma: float = 1e-3,
                n_samples: int | None = None, seed: int = 0, hidden_units: int = 128, jit_compile: bool = False,
                verbose: int = 0, callbacks=(), init: str = "glorot", strategy=None):
    """Build and fit a network; returns ``(model, history_dict)``.

    ``strategy`` (see :mod:`conserve_tf.distribute`) builds the model and optimizer in its scope; the
    batch is split across replicas and the per-replica MSE is divided by the replica count.

    ``n_samples`` defaults to min(epochs * steps_per_epoch * batch_size, 2**17) clean states; noise of
    std ``sigma`` is drawn afresh for every batch (:func:`make_dataset`).
    """
    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch), ("batch_size", batch_size)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if not (learning_rate > 0 and final_learning_rate > 0 and sigma >= 0):
        raise ValueError("learning rates must be > 0 and sigma >= 0")
    if final_learning_rate > learning_rate:  # the cosine would climb from one to the other
        raise ValueError(f"final_learning_rate ({final_learning_rate}) must not exceed learning_rate "
                         f"({learning_rate}): the schedule decays from the one to the other")
    if n_samples is not None and int(n_samples) < 1:
        raise ValueError(f"n_samples must be >= 1 (or None for the default), got {n_samples}")
    system = get_system(system) if isinstance(system, str) else system
    set_seed(check_seed(seed))
    total = int(epochs) * int(steps_per_epoch)
    n = int(n_samples or min(total * batch_size, 2**17))
    x, y = system.training_data(n, sigma=0.0, seed=seed)  # clean; the pipeline adds fresh noise per batch
    with (strategy or tf.distribute.get_strategy()).scope():
        model = build_model(system, symmetry, hidden_units=hidden_units, init=init)
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total,
                                                          alpha=final_learning_rate / learning_rate)
        model.compile(optimizer=keras.optimizers.Adam(schedule), jit_compile=jit_compile)
    hist = model.fit(make_dataset(x, y, batch_size, seed, sigma=sigma), epochs=int(epochs), steps_per_epoch=int(steps_per_epoch),
                     verbose=verbose, callbacks=[HessianGuard(), StopOnNonFiniteLoss(), *callbacks])
    return model, hist.history


