"""Training a Lagrangian network on one of the paper's systems (Müller 2023, Sec. 3.1).

Settings follow the paper: batch 128, Adam with cosine decay 1e-3 -> 1e-5 over all steps, MSE on
accelerations, noise σ = 1e-3 on inputs and targets. Data are generated once, in bulk, and fed
from memory through ``tf.data`` (shuffle, batch, repeat, prefetch).
"""

from __future__ import annotations

from conserve_tf import cli

__all__ = ["build_model", "make_dataset", "train_model"]


def build_model(system, symmetry: str, hidden_units: int = 128, dtype: str = "float32", init: str = "glorot"):
    """A :class:`~lagrangian.model.LagrangianNetwork` with ``system``'s layer for ``symmetry``."""
    from lagrangian.model import LagrangianNetwork
    from lagrangian.systems import get_system

    system = get_system(system) if isinstance(system, str) else system
    return LagrangianNetwork(system.symmetry_layer(symmetry), hidden_units=hidden_units,
                             system=system.name, dtype=dtype, init=init)


def make_dataset(x, y, batch_size: int = 128, seed: int = 0):
    """Endless shuffled ``tf.data`` pipeline of (states, accelerations) from in-memory arrays."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(min(len(x), 65536), seed=seed, reshuffle_each_iteration=True)
    return ds.repeat().batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def train_model(system, symmetry: str, epochs: int = 2500, steps_per_epoch: int = 100, batch_size: int = 128,
                learning_rate: float = 1e-3, final_learning_rate: float = 1e-5, sigma: float = 1e-3,
                n_samples: int | None = None, seed: int = 0, hidden_units: int = 128, jit_compile: bool = False,
                verbose: int = 0, callbacks=(), init: str = "glorot", strategy=None):
    """Build and fit a network; returns ``(model, history_dict)``.

    ``strategy`` (see :mod:`conserve_tf.distribute`) builds the model and optimizer in its scope; the
    batch is split across replicas and the per-replica MSE is divided by the replica count.

    ``n_samples`` defaults to min(epochs * steps_per_epoch * batch_size, 2**17) fresh samples.
    """
    import keras

    from conserve_tf.callbacks import StopOnNonFiniteLoss
    from lagrangian.model import HessianGuard
    from lagrangian.systems import get_system

    for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch), ("batch_size", batch_size)):
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if not (learning_rate > 0 and final_learning_rate > 0 and sigma >= 0):
        raise ValueError("learning rates must be > 0 and sigma >= 0")
    system = get_system(system) if isinstance(system, str) else system
    cli.set_seed(seed)
    total = int(epochs) * int(steps_per_epoch)
    n = int(n_samples or min(total * batch_size, 2**17))
    x, y = system.training_data(n, sigma=sigma, seed=seed)
    import tensorflow as tf

    with (strategy or tf.distribute.get_strategy()).scope():
        model = build_model(system, symmetry, hidden_units=hidden_units, init=init)
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total,
                                                          alpha=final_learning_rate / learning_rate)
        model.compile(optimizer=keras.optimizers.Adam(schedule), jit_compile=jit_compile)
    hist = model.fit(make_dataset(x, y, batch_size, seed), epochs=int(epochs), steps_per_epoch=int(steps_per_epoch),
                     verbose=verbose, callbacks=[HessianGuard(), StopOnNonFiniteLoss(), *callbacks])
    return model, hist.history


