"""Learning-rate schedules of the ConservNet recipes (see :mod:`conserve_tf.training`).

Registered with Keras so that a saved model's optimizer loads again; :mod:`conserve_tf.model` imports this
module for that reason.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

__all__ = ["HoldThenCosine"]


@keras.saving.register_keras_serializable(package="conserve_tf")
class HoldThenCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up over ``warmup_steps``, constant ``peak`` until ``total_steps - decay_steps``, then a
    cosine decay to ``final`` at ``total_steps`` (constant ``final`` after it).

    The constant part lets a run sit out the plateau before the invariant appears at full learning rate;
    a cosine decay over the whole budget has already slowed down by then when the budget is short.
    """

    def __init__(self, peak: float, total_steps: int, decay_steps: int, final: float, warmup_steps: int = 0):
        self.peak, self.final = float(peak), float(final)
        self.total_steps, self.decay_steps, self.warmup_steps = int(total_steps), int(decay_steps), int(warmup_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = tf.minimum(1.0, (step + 1.0) / max(self.warmup_steps, 1))
        start = float(self.total_steps - self.decay_steps)
        t = tf.clip_by_value((step - start) / max(self.decay_steps, 1), 0.0, 1.0)
        cos = self.final + 0.5 * (self.peak - self.final) * (1.0 + tf.cos(np.pi * t))
        return warm * cos

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "decay_steps": self.decay_steps,
                "final": self.final, "warmup_steps": self.warmup_steps}
