"""SiameseNetwork: Eq. (1) output, input layouts, errors, saving; a short training on special relativity."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from siamese import SiameseNetwork, make_pairs, special_relativity, train_siamese  # noqa: E402


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return SiameseNetwork(4, hidden=(8, 8), mean=np.zeros(4), variance=np.full(4, 2.0))


def test_output_is_eq1_of_the_bottleneck(model):
    x = np.random.default_rng(0).normal(size=(16, 2, 4)).astype(np.float32)
    out = np.asarray(model(x))
    assert out.shape == (16, 1) and np.all((out > 0) & (out < 1))
    fa, fb = model.invariant(x[:, 0]), model.invariant(x[:, 1])
    w, b = (float(v.numpy()[0]) for v in (model.head.w, model.head.b))
    expected = 1 / (1 + np.exp(-(w * (fa - fb) ** 2 + b)))
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-5, atol=1e-6)
    same = np.repeat(x[:, :1], 2, axis=1)  # identical members: f - f' = 0
    np.testing.assert_allclose(np.asarray(model(same))[:, 0], 1 / (1 + np.exp(-b)), rtol=1e-6)


def test_pair_layouts_agree_and_order_does_not_matter(model):
    x = np.random.default_rng(1).normal(size=(5, 2, 4)).astype(np.float32)
    a = np.asarray(model(x))
    np.testing.assert_allclose(np.asarray(model((x[:, 0], x[:, 1]))), a, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(model({"x1": x[:, 0], "x2": x[:, 1]})), a, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(model(x[:, ::-1])), a, rtol=1e-6)


def test_bad_inputs_give_clear_errors(model):
    with pytest.raises(ValueError, match=r"\(batch, 2, features\)"):
        model(np.zeros((3, 3, 4), np.float32))
    with pytest.raises(ValueError, match="each member"):
        model(np.zeros((3, 2, 5), np.float32))
    with pytest.raises(ValueError, match="exactly two"):
        model((np.zeros((3, 4), np.float32),) * 3)
    with pytest.raises(ValueError, match="samples, 4"):
        model.invariant(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        model.invariant(np.full((3, 4), np.nan))
    with pytest.raises(ValueError, match="bottleneck"):
        SiameseNetwork(4, bottleneck=0)
    with pytest.raises(ValueError, match="n_features"):
        SiameseNetwork()


def test_wider_bottleneck_sums_the_squared_differences():
    m = SiameseNetwork(3, hidden=(6,), bottleneck=2)
    x = np.random.default_rng(2).normal(size=(7, 2, 3)).astype(np.float32)
    f = m.invariant(x.reshape(-1, 3)).reshape(7, 2, 2)
    assert f.shape == (7, 2, 2)
    d2 = np.sum((f[:, 0] - f[:, 1]) ** 2, -1)
    w, b = float(m.head.w.numpy()[0]), float(m.head.b.numpy()[0])
    np.testing.assert_allclose(np.asarray(m(x))[:, 0], 1 / (1 + np.exp(-(w * d2 + b))), rtol=1e-5, atol=1e-6)


def test_save_and_reload_reproduce_outputs_and_subnetwork(model, tmp_path):
    from conserve_tf.runs import save_model

    x = np.random.default_rng(3).normal(size=(9, 2, 4)).astype(np.float32)
    path = save_model(model, str(tmp_path / "snn.keras"))
    back = keras.models.load_model(path)
    assert isinstance(back, SiameseNetwork) and back.bottleneck == 1 and back.n_features == 4
    np.testing.assert_array_equal(np.asarray(back(x)), np.asarray(model(x)))
    np.testing.assert_array_equal(back.invariant(x[:, 0]), model.invariant(x[:, 0]))
    assert [l.__class__.__name__ for l in back.subnetwork.layers][0] == "Normalization"


@pytest.mark.slow
def test_short_training_on_special_relativity_separates_events():
    proper = dict(beta_max=0.5, time_reversal=False, reflections=False)  # the orthochronous group: quicker to learn
    train = special_relativity(4000, 2, seed=0, **proper)
    test = special_relativity(1000, 2, seed=1, **proper)
    model, info = train_siamese(train, test, hidden=(32, 32), epochs=15, learning_rate=1e-2, seed=0)
    assert info["test_accuracy"] >= 0.85, info
    assert info["train_accuracy"] >= 0.85
    # positives and negatives really are told apart by f alone
    pairs = make_pairs(test, seed=9)
    f = model.invariant(pairs.x.reshape(-1, 4)).reshape(-1, 2)
    gap = np.abs(f[:, 0] - f[:, 1])
    assert np.median(gap[pairs.y == 1]) > 5 * np.median(gap[pairs.y == 0])
    # and the verdict the script prints calls f an invariant of the held-out pairs
    from conserve_tf.verdict import verdict_from_outputs
    from siamese.training import grouped_invariant

    verdict = verdict_from_outputs(grouped_invariant(model, test.x)[..., 0], grouped_invariant(model, train.x)[..., 0])
    assert verdict.found and verdict.ratio < 0.3, verdict.message


def test_paper_recipe_is_adadelta_at_100_with_the_papers_patiences():
    from siamese import compile_siamese, recipe_callbacks

    m = compile_siamese(SiameseNetwork(2, hidden=(4,)), "paper")
    assert isinstance(m.optimizer, keras.optimizers.Adadelta)
    assert float(m.optimizer.learning_rate.numpy()) == pytest.approx(100.0)
    lr_cb, stop_cb = recipe_callbacks("paper")
    assert (lr_cb.factor, lr_cb.patience, lr_cb.monitor) == (0.5, 50, "loss")
    assert (stop_cb.patience, stop_cb.monitor) == (200, "loss")
    assert isinstance(compile_siamese(SiameseNetwork(2, hidden=(4,))).optimizer, keras.optimizers.Adam)
    with pytest.raises(ValueError, match="unknown recipe"):
        compile_siamese(m, "sgd")


def test_cosine_recipe_stops_early_only_once_the_learning_rate_decays():
    from siamese import recipe_callbacks

    (stop_cb,) = recipe_callbacks("cosine", epochs=200)
    assert (stop_cb.patience, stop_cb.start_from_epoch, stop_cb.monitor) == (20, 100, "loss")
    assert recipe_callbacks("adam")[-1].start_from_epoch == 0
    with pytest.raises(ValueError, match="needs epochs"):
        recipe_callbacks("cosine")


def test_a_long_cosine_budget_is_not_cut_short_while_the_rate_is_held(monkeypatch):
    """A loss with no new low after epoch 0 (as the noisy peak-rate loss can go 20 epochs) must not end the fit
    before the decay: with patience 2 over 12 epochs (hold 6) the fit stops at epoch 8, not 2."""
    from siamese import RECIPES, recipe_callbacks

    monkeypatch.setitem(RECIPES["cosine"], "stop_patience", 2)

    class Flat(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["loss"] = 1.0 if epoch == 0 else 2.0

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((8, 2), np.float32)
    hist = model.fit(x, x[:, :1], epochs=12, verbose=0, callbacks=[Flat()] + recipe_callbacks("cosine", epochs=12))
    assert len(hist.history["loss"]) == 9  # monitoring from epoch 6: best there, two stale epochs, stop after 8


@pytest.mark.slow
def test_a_trained_network_reloads_in_a_fresh_process(tmp_path):
    """The recipe compiles with conserve_tf's HoldThenCosine schedule; importing siamese.model alone must
    be enough for keras.models.load_model (it was not: the schedule's class was unknown)."""
    import subprocess
    import sys

    from siamese import special_relativity, train_siamese

    train = special_relativity(groups=64, seed=0)
    model, _ = train_siamese(train, train, hidden=(4,), epochs=1, batch_size=32, seed=0)
    path = tmp_path / "sr.keras"
    model.save(path)
    code = ("import keras, numpy as np, siamese.model\n"
            f"m = keras.models.load_model({str(path)!r})\n"
            "print(type(m).__name__, type(m.optimizer.learning_rate).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.split()[0] == "SiameseNetwork"


def test_rotation_invariant_subnetwork_is_exact_saves_and_refuses_a_centring(tmp_path):
    from conserve_tf.symmetry import vector_variances
    from siamese.systems import make_system

    data = make_system("central_potential", 200, 2, seed=0)
    flat = data.flat()
    keras.utils.set_random_seed(0)
    net = SiameseNetwork(4, hidden=(8, 8), mean=np.zeros(4), variance=vector_variances(flat), symmetry="rotation")
    angle = 1.3
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    turned = np.concatenate([flat[:, :2] @ rot.T, flat[:, 2:] @ rot.T], axis=1)
    np.testing.assert_allclose(net.invariant(turned), net.invariant(flat), rtol=1e-5, atol=1e-5)
    net.save(tmp_path / "snn.keras")
    back = keras.models.load_model(tmp_path / "snn.keras")
    assert back.symmetry == "rotation"
    np.testing.assert_allclose(back.invariant(flat), net.invariant(flat), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="normalization without centring"):
        SiameseNetwork(4, hidden=(8,), mean=flat.mean(0), variance=flat.var(0), symmetry="rotation")
    with pytest.raises(ValueError, match="positions then the velocities"):
        SiameseNetwork(3, hidden=(8,), symmetry="rotation")
    model, info = train_siamese(data, epochs=1, hidden=(8,), symmetry="rotation", validate=False)
    assert model.symmetry == "rotation" and 0.0 <= info["train_accuracy"] <= 1.0


def test_product_first_layer_is_built_saved_and_checked(tmp_path):
    from conserve_tf.layers import ProductDense
    from siamese.systems import make_system

    keras.utils.set_random_seed(0)
    net = SiameseNetwork(4, hidden=(8, 8), mean=np.zeros(4), variance=np.ones(4), first_layer="product")
    kinds = [type(layer) for layer in net.subnetwork.layers]
    assert kinds.count(ProductDense) == 1 and kinds.index(ProductDense) < kinds.index(keras.layers.Dense)
    x = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    net.save(tmp_path / "product.keras")
    back = keras.models.load_model(tmp_path / "product.keras")
    assert back.first_layer == "product"
    np.testing.assert_allclose(back.invariant(x), net.invariant(x), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="first_layer must be one of"):
        SiameseNetwork(4, hidden=(8,), first_layer="square")
    with pytest.raises(ValueError, match="at least one hidden layer"):
        SiameseNetwork(4, hidden=(), first_layer="product")
    model, info = train_siamese(make_system("central_potential", 200, 2, seed=0), epochs=1, hidden=(8,),
                                validate=False)  # the default
    assert model.first_layer == "product" and 0.0 <= info["train_accuracy"] <= 1.0
    assert any(isinstance(layer, ProductDense) for layer in model.subnetwork.layers)
    # after the rotation invariants (already products of the state) the default is a plain dense layer
    flat = make_system("central_potential", 50, 2, seed=0).flat()
    from conserve_tf.symmetry import vector_variances

    rotated = SiameseNetwork(4, hidden=(8,), mean=np.zeros(4), variance=vector_variances(flat), symmetry="rotation")
    assert rotated.first_layer == "dense" and not any(isinstance(layer, ProductDense)
                                                      for layer in rotated.subnetwork.layers)


def test_a_model_saved_without_a_first_layer_entry_loads_as_the_dense_network_it_is():
    dense = SiameseNetwork(3, hidden=(6,), first_layer="dense")
    config = dense.get_config()
    del config["first_layer"]  # as saved before the product layer existed
    back = SiameseNetwork.from_config(config)
    assert back.first_layer == "dense"
    assert not any(type(layer).__name__ == "ProductDense" for layer in back.subnetwork.layers)
    linear = SiameseNetwork(3, hidden=(), first_layer="dense")
    assert [type(layer).__name__ for layer in linear.subnetwork.layers] == ["Dense"]


def test_the_product_subnetwork_starts_even_in_the_centred_state():
    """The even start (docs/siamese.md): the product layer's linear kernel starts at zero, so f(m + z) = f(m − z)
    for the training mean m; the paper's dense layer starts with an odd part."""
    keras.utils.set_random_seed(0)
    mean, z = np.array([0.5, -1.0, 2.0, 0.0]), np.random.default_rng(1).normal(size=(50, 4))
    even = SiameseNetwork(4, hidden=(16, 16), mean=mean, variance=np.full(4, 2.0))
    dense = SiameseNetwork(4, hidden=(16, 16), mean=mean, variance=np.full(4, 2.0), first_layer="dense")
    np.testing.assert_allclose(even.invariant(mean + z), even.invariant(mean - z), rtol=1e-5, atol=1e-6)
    odd = dense.invariant(mean + z) - dense.invariant(mean - z)
    assert np.std(odd) > 0.1 * np.std(dense.invariant(mean + z))


def test_the_cosine_recipe_takes_a_32nd_of_the_pairs_as_its_batch():
    from siamese.training import default_batch_size, recipe_batch_size

    assert default_batch_size(100_000) == 2048  # the paper's 50 000 groups: capped
    assert default_batch_size(40_000) == 1250 and default_batch_size(1000) == 256  # at least 32 steps an epoch
    assert recipe_batch_size("cosine", None, 40_000) == 1250 and recipe_batch_size("cosine", 64, 40_000) == 64
    assert recipe_batch_size("paper", None, 10 ** 6) == 256 == recipe_batch_size("adam", None, 10 ** 6)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        recipe_batch_size("cosine", 0, 1000)
