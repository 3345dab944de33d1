"""The three models used as plain Keras models: what Keras offers works, and what cannot apply is refused by name."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conserve_tf import ConservNet, as_dataset, make_system
from conserve_tf.distribute import get_strategy
from lagrangian import get_system
from lagrangian.model import LagrangianNetwork
from siamese import SiameseNetwork


@pytest.fixture(scope="module")
def s1():
    return make_system("s1", 6, 10, seed=0)


def small(data=None, **kwargs):
    scale = None if data is None else [1.0] * data.n_features
    return ConservNet(width=8, depth=1, activation="tanh", scale=scale, seed=3, **kwargs)


def compiled(model, lr=0.05):
    model.compile(optimizer=keras.optimizers.SGD(lr))
    return model


# ------------------------------------------------------------------ ConservNet: what it refuses, by name
@pytest.mark.parametrize("objective", ["nv", "ratio", "variance"])
def test_flat_samples_are_refused_for_training_with_every_objective(s1, objective):
    """Flat (N, F) data has no groups: before, "ratio" and "variance" trained on rows as if they were groups."""
    model = compiled(small(s1, objective=objective))
    with pytest.raises(ValueError, match=r"whole groups.*\(groups, members, features\), got \((10|None), 4\)"):
        model.fit(s1.flat().astype("float32"), batch_size=10, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="whole groups"):
        model.evaluate(s1.flat().astype("float32"), verbose=0)


def test_wrong_feature_counts_name_the_model_and_the_data(s1):
    model = compiled(small(s1))
    with pytest.raises(ValueError, match=r"built for 4 input features.*\((6|None), 10, 3\)"):
        model.fit(s1.x[..., :3].astype("float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"built for 4 input features.*\(3, 5\)"):
        model.predict(np.zeros((3, 5), np.float32), verbose=0)


def test_float_targets_sample_weights_and_compiled_losses_are_refused(s1):
    model = compiled(small(s1))
    with pytest.raises(ValueError, match="integer ids.*float32.*no targets"):
        model.fit(s1.x.astype("float32"), s1.c.astype("float32"), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="does not weight samples"):
        model.fit(s1.x.astype("float32"), np.arange(6), sample_weight=np.ones(6), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"loss is its objective \('nv'"):
        small(s1).compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="InvariantMetrics"):
        small(s1).compile(optimizer="sgd", metrics=["mae"])


def test_non_finite_arrays_are_refused_before_training(s1):
    x = s1.x.astype("float32").copy()
    x[2, 3, 1] = np.nan
    model = compiled(small(s1))
    with pytest.raises(ValueError, match=r"fit's x contains 1 non-finite.*NaN first at index \(2, 3, 1\)"):
        model.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="evaluate's x"):
        model.evaluate(x, verbose=0)


# ------------------------------------------------------------------ ConservNet: what Keras offers, working
def test_integer_group_ids_as_y_key_the_noise_like_the_default_ids(s1):
    """fit(x) keys the noise to ids 0..G-1 of the batch; passing those ids explicitly gives the same step."""
    init = small(s1).get_weights()
    weights = []
    for y in (None, np.arange(6)):
        model = compiled(small(s1))
        model.set_weights(init)
        model.fit(s1.x.astype("float32"), y, batch_size=6, epochs=1, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_grouped_data_itself_can_be_given_to_fit_evaluate_and_predict(s1):
    init = small(s1).get_weights()
    runs = []
    for x in (s1, s1.x):
        model = compiled(small(s1))
        model.set_weights(init)
        model.fit(x, batch_size=6, epochs=1, shuffle=False, verbose=0)
        runs.append((model.get_weights(), model.evaluate(x, verbose=0), model.predict(x, verbose=0)))
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == runs[1][1] and runs[0][2].shape == (6, 10, 1)
    np.testing.assert_array_equal(runs[0][2], runs[1][2])


def test_a_frozen_model_logs_its_loss_and_keeps_its_weights(s1):
    model = compiled(small(s1))
    before = model.get_weights()
    model.trainable = False
    history = model.fit(s1.x.astype("float32"), epochs=2, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_predict_keeps_any_leading_axes_after_a_flat_call(s1):
    """A retraced predict sees an input of unknown rank; grouped (G, M, F) input gives (G, M, 1)."""
    model = small(s1)
    flat = model.predict(s1.flat().astype("float32"), verbose=0)
    grouped = model.predict(s1.x.astype("float32"), verbose=0)
    assert flat.shape == (60, 1) and grouped.shape == (6, 10, 1)
    np.testing.assert_allclose(grouped.reshape(60, 1), flat, rtol=1e-6, atol=1e-6)


def test_a_model_saved_and_loaded_keeps_its_optimizer_and_trains_on(s1, tmp_path):
    model = compiled(small(s1))
    model.fit(s1.x.astype("float32"), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert int(loaded.optimizer.iterations.numpy()) == int(model.optimizer.iterations.numpy()) == 1
    loaded.fit(s1.x.astype("float32"), epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations.numpy()) == 2


def test_export_works_before_any_call_and_serves_the_same_numbers(s1, tmp_path):
    model = small(s1)
    model.export(str(tmp_path / "cn"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "cn"))
    served = loaded.serve(tf.constant(s1.flat(), tf.float32))
    np.testing.assert_allclose(served.numpy(), model.predict(s1.flat().astype("float32"), verbose=0), atol=1e-6)


def test_log_inputs_keep_their_positivity_check_by_default(s1):
    """jit_compile="auto" stays off XLA with log_inputs: XLA drops the check and the loss would silently be NaN."""
    x = np.abs(s1.x).astype("float32") + 1.0
    model = small(s1, log_inputs=[0])
    model.compile(optimizer="sgd")
    assert model.jit_compile is False
    x[0, 0, 0] = -1.0
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"log of input feature\(s\) \[0\]"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(6), epochs=1, verbose=0)


def test_mixed_precision_steps_move_the_weights_as_in_float32(s1):
    """The loss is scaled for float16 gradients, and the objective runs in float32 (the ratio's Cholesky).

    Before, the loss scale optimizer divided unscaled gradients by 2^15, so the weights barely moved
    (about 1e-5 of the float32 run's change)."""
    init = small(s1, objective="ratio", outputs=2).get_weights()
    moved = {}
    try:
        for policy in ("float32", "mixed_float16"):
            keras.mixed_precision.set_global_policy(policy)
            model = compiled(small(s1, objective="ratio", outputs=2), lr=0.1)
            model.set_weights(init)
            model.fit(s1.x.astype("float32"), batch_size=6, epochs=20, verbose=0)
            moved[policy] = max(float(np.abs(a - b).max()) for a, b in zip(model.get_weights(), init))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert moved["float32"] > 0.1
    # the dynamic loss scale skips the first steps whose float16 gradients overflow, so not every step counts
    assert moved["mixed_float16"] > 0.5 * moved["float32"]


# ------------------------------------------------------------------ ConservNet under a strategy
def test_two_replicas_without_ids_use_the_noise_of_one_device(s1):
    """Each replica's ids follow the previous replica's, so the noise (keyed to ids) matches one device."""
    init = small(s1).get_weights()
    weights = []
    for name in ("default", "mirrored"):
        strategy = get_strategy(name)
        with strategy.scope():
            model = compiled(small(s1))
            model.set_weights(init)
        model.fit(s1.x.astype("float32"), batch_size=6, epochs=1, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    assert max(float(np.abs(a - b).max()) for a, b in zip(weights[0], init)) > 1e-4
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_an_uneven_batch_over_two_replicas_numbers_each_group_once(s1):
    """5 groups split 3 + 2 over two replicas: ids 0-2 and 3-4 (the second replica's ids used to start at its
    own count, 2, so two groups of one step shared a noise key)."""
    strategy = get_strategy("mirrored")
    with strategy.scope():
        model = small(s1)
    batches = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(s1.x[:5].astype("float32")).batch(5))
    ids = strategy.run(lambda x: model._unpack(x)[1], args=(next(iter(batches)),))
    assert [list(v.numpy()) for v in strategy.experimental_local_results(ids)] == [[0, 1, 2], [3, 4]]


def test_an_unbuilt_model_made_in_a_strategy_scope_trains(s1):
    with get_strategy("mirrored").scope():
        model = compiled(small())
    model.fit(as_dataset(s1), epochs=1, verbose=0)
    assert model.built and model.predict(s1.flat().astype("float32"), verbose=0).shape == (60, 1)


# ------------------------------------------------------------------ LagrangianNetwork and SiameseNetwork
@pytest.fixture(scope="module")
def kepler():
    system = get_system("kepler")
    x, y = system.training_data(64, sigma=0.0, seed=0)
    return system, x.astype("float32"), y.astype("float32")


def test_lagrangian_shapes_are_named(kepler):
    system, x, y = kepler
    d = x.shape[1] // 2
    model = LagrangianNetwork(system.symmetry_layer("R"), hidden_units=8)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=rf"states \(batch, {2 * d}\).*got shape \((32|None), 3\)"):
        model.fit(x[:, :3], y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=rf"accelerations \(batch, {d}\).*got shape \((32|None),\)"):
        model.fit(x, y[:, 0], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="pass x and y"):
        model.evaluate(x, verbose=0)
    with pytest.raises(ValueError, match="does not weight samples"):
        model.fit(x, y, sample_weight=np.ones(len(x)), epochs=1, verbose=0)


@pytest.mark.parametrize("loss", ["mae", keras.losses.MeanSquaredError()])
def test_lagrangian_compiled_loss_trains_on_two_replicas(kepler, loss):
    system, x, y = kepler
    with get_strategy("mirrored").scope():
        model = LagrangianNetwork(system.symmetry_layer("R"), hidden_units=8)
        model.compile(optimizer=keras.optimizers.SGD(1e-4), loss=loss)
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"]).all()


def test_lagrangian_export_works_before_any_call(kepler, tmp_path):
    system, x, _ = kepler
    model = LagrangianNetwork(system.symmetry_layer("R"), hidden_units=8)
    model.export(str(tmp_path / "lg"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "lg"))
    served = loaded.serve(tf.constant(x))
    np.testing.assert_allclose(served.numpy(), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_siamese_learns_its_input_width_from_a_subnetwork_without_input():
    sub = keras.Sequential([keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    model = SiameseNetwork(subnetwork=sub)
    assert model.n_features is None
    model.compile(optimizer="adam", loss="binary_crossentropy")
    pairs = np.random.default_rng(0).normal(size=(16, 2, 3)).astype("float32")
    model.fit(pairs, np.arange(16) % 2, epochs=1, verbose=0)
    assert model.n_features == 3 and model.invariant(pairs[:, 0]).shape == (16,)
    with pytest.raises(ValueError, match="SiameseNetwork.invariant"):
        model.predict(pairs[:, 0], verbose=0)
