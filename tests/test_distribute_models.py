"""Siamese and Lagrangian networks under MirroredStrategy: one step on two logical CPU devices gives
the same weights as on one device (the conftest splits the CPU in two)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conserve_tf.distribute import get_strategy


def _same_step(build, dataset):
    init = build().get_weights()
    weights = []
    for name in ("default", "mirrored"):
        strategy = get_strategy(name)
        with strategy.scope():
            model = build()
            model.set_weights(init)
            model.compile(optimizer=keras.optimizers.SGD(0.05), **getattr(build, "compile_kwargs", {}))
        model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0)
        assert int(model.optimizer.iterations.numpy()) == 1
        weights.append(model.get_weights())
    assert get_strategy("mirrored").num_replicas_in_sync == 2
    assert max(np.abs(a - b).max() for a, b in zip(weights[0], init)) > 1e-5  # the step moved the weights
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_siamese_step_on_two_devices_equals_one_device():
    from siamese import SiameseNetwork, make_pairs
    from siamese.systems import special_relativity

    pairs = make_pairs(special_relativity(64, seed=0), seed=0)

    def build():
        return SiameseNetwork(n_features=4, hidden=(16, 16))

    build.compile_kwargs = {"loss": keras.losses.BinaryCrossentropy()}
    ds = tf.data.Dataset.from_tensor_slices((pairs.x.astype("float32"), pairs.y.astype("float32"))).batch(32)
    _same_step(build, ds)


@pytest.mark.slow
def test_lagrangian_step_on_two_devices_equals_one_device():
    from lagrangian.systems import get_system
    from lagrangian.training import build_model

    system = get_system("kepler")
    x, y = system.training_data(32, sigma=1e-3, seed=0)

    def build():
        keras.utils.set_random_seed(1)
        # float64: the first step's gradients are O(1e3) and move weights to O(100), where float32's
        # resolution alone (1.5e-5) is coarser than the 1e-6 being checked
        return build_model(system, "R", hidden_units=16, dtype="float64")

    ds = tf.data.Dataset.from_tensor_slices((x.astype("float64"), y.astype("float64"))).batch(32)
    _same_step(build, ds)


@pytest.mark.slow
def test_distribution_benchmark_quick(tmp_path):
    import csv

    from benchmarks.distribute_faults import benchmark

    r = benchmark(quick=True, out_dir=str(tmp_path))
    with open(tmp_path / "results.csv", newline="") as fh:
        saved = {row["quantity"]: row["conserve_tf"] for row in csv.DictReader(fh)}
    for name in ("conservnet", "siamese", "lagrangian"):  # every model measured on both, as saved
        for key, label in (("one_device", "1 device"), ("two_devices", "2 logical CPU devices")):
            assert float(saved[f"{name}: steps/s, {label}"]) == pytest.approx(r["steps_per_second"][name][key])
    tally = r["bad_inputs"]
    assert tally["crash"] == 0, tally["examples_of_crashes"]
    assert tally["clear error"] + tally["loaded"] == tally["tried"] == 60
    assert int(saved["malformed inputs: crash"]) == 0
