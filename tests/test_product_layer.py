"""ConservNet's optional product first layer (``first_layer="product"``, conserve_tf.layers): the equation it
computes, the gain set from the data, saving, errors, and that it learns a product invariant better than the
dense layer of the same width."""

import numpy as np
import pytest

import keras

from conserve_tf import fit_conservnet, make_system
from conserve_tf.groups import GroupedData
from conserve_tf.layers import ProductDense, product_gain
from conserve_tf.model import ConservNet
from conserve_tf.training import build_conservnet


def test_the_layer_computes_the_linear_map_plus_the_scaled_product_of_two_projections():
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")  # (groups, members, features)
    layer = ProductDense(6, activation="tanh", gain=0.3)
    out = keras.ops.convert_to_numpy(layer(x))
    w, b, u, v = (keras.ops.convert_to_numpy(t) for t in (layer.kernel, layer.bias, layer.u, layer.v))
    np.testing.assert_allclose(out, np.tanh(x @ w + b + 0.3 * (x @ u) * (x @ v)), rtol=1e-5, atol=1e-6)
    assert out.shape == (3, 5, 6)


def test_a_zero_linear_kernel_starts_the_layer_even_and_is_kept_in_its_config():
    layer = ProductDense(6, activation="tanh", kernel_initializer="zeros")
    x = np.random.default_rng(2).normal(size=(10, 4)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(layer(-x)), atol=1e-7)
    again = ProductDense.from_config(layer.get_config())
    again.build((None, 4))
    assert not np.any(keras.ops.convert_to_numpy(again.kernel)) and np.any(keras.ops.convert_to_numpy(again.u))
    default = ProductDense(6)
    default.build((None, 4))
    assert np.all(keras.ops.convert_to_numpy(default.kernel) != 0)  # Glorot unless told otherwise


def test_one_unit_holds_a_product_exactly():
    layer = ProductDense(1, gain=1.0)
    layer.build((None, 3))
    layer.set_weights([np.zeros((3, 1)), np.zeros(1), np.array([[1.0], [0.0], [0.0]]), np.array([[0.0], [1.0], [0.0]])])
    x = np.random.default_rng(1).uniform(-5, 5, size=(50, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x))[:, 0], x[:, 0] * x[:, 1], rtol=1e-5)


def test_the_gain_is_one_over_the_mean_square_of_what_the_first_layer_sees():
    assert product_gain(np.full((4, 2), 2.0)) == pytest.approx(0.25)
    assert product_gain(np.zeros((3, 2))) == 1.0
    data = make_system("s3", 4, 20, seed=0)  # the paper's factors are 1 on S3: the layer sees the raw inputs
    model = build_conservnet(data, width=8, depth=2, first_layer="product", objective="ratio")
    assert isinstance(model.hidden[0], ProductDense) and not isinstance(model.hidden[1], ProductDense)
    assert model.product_gain == pytest.approx(1.0 / np.mean(data.flat() ** 2), rel=1e-5)
    assert model.hidden[0].gain == model.product_gain
    given = build_conservnet(data, width=8, depth=2, first_layer="product", product_gain=0.5, objective="ratio")
    assert given.product_gain == 0.5
    plain = build_conservnet(data, width=8, depth=2, objective="ratio")
    assert plain.first_layer == "dense" and not any(isinstance(layer, ProductDense) for layer in plain.hidden)


def test_a_saved_product_model_reloads_with_its_layer_and_gain(tmp_path):
    data = make_system("s1", 4, 10, seed=0)
    for kwargs in ({}, {"outputs": 2, "towers": True}):
        model = build_conservnet(data, width=8, depth=2, first_layer="product", objective="ratio", **kwargs)
        path = str(tmp_path / f"product{len(kwargs)}.keras")
        model.save(path)
        again = keras.models.load_model(path)
        assert (again.first_layer, again.product_gain) == ("product", model.product_gain)
        np.testing.assert_allclose(again.predict(data.flat(), verbose=0), model.predict(data.flat(), verbose=0),
                                   rtol=1e-6)


def test_bad_choices_are_clear_errors():
    with pytest.raises(ValueError, match="first_layer must be one of"):
        ConservNet(first_layer="quadratic")
    with pytest.raises(ValueError, match="gain must be a positive"):
        ProductDense(4, gain=0.0)
    with pytest.raises(ValueError, match="units must be"):
        ProductDense(0)


def _hyperbolas(seed):
    """Groups on the hyperbolas x1 x2 = C, C in [0.5, 2.5], x1 in [0.3, 3], a third feature of noise."""
    rng = np.random.default_rng(seed)
    c = np.linspace(0.5, 2.5, 8)
    x1 = rng.uniform(0.3, 3.0, size=(8, 30))
    x = np.stack([x1, c[:, None] / x1, rng.uniform(-1, 1, size=(8, 30))], axis=-1)
    return GroupedData(x, c=c, name="hyperbolas")


@pytest.mark.slow  # about 6 s, two short trainings
def test_a_product_first_layer_learns_a_product_invariant_more_exactly_than_a_dense_one():
    train, test = _hyperbolas(0), _hyperbolas(1)

    def held_out_ratio(first_layer):
        model, _ = fit_conservnet(train, steps=300, width=16, depth=1, first_layer=first_layer, seed=0,
                                  restarts=0, decorrelate=False)
        f = model.predict(test.flat(), verbose=0)[:, 0].reshape(test.x.shape[:2])
        return np.mean(f.var(axis=1)) / f.mean(axis=1).var()  # the objective on held-out groups: no C needed

    dense, product = held_out_ratio("dense"), held_out_ratio("product")
    assert product < 0.5 * dense, (product, dense)
