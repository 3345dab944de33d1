"""Shared Keras callbacks: the progress log of long runs."""

import keras
import numpy as np
import pytest

from conserve_tf.callbacks import ProgressLog


def test_progress_log_prints_every_n_epochs_and_the_last():
    lines = []
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 2), np.float32)
    model.fit(x, x[:, :1], epochs=5, verbose=0, callbacks=[ProgressLog(every=2, prefix="run: ", print_fn=lines.append)])
    assert [line.split()[2] for line in lines] == ["2/5", "4/5", "5/5"]
    assert all(line.startswith("run: epoch") and "loss" in line for line in lines)
    with pytest.raises(ValueError, match="every"):
        ProgressLog(every=0)
