"""The within-group variance ratio trace(C⁻¹ W) as a ConservNet objective, and the decorrelating map."""

import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from conserve_tf import fit_conservnet, make_system, predict_groups, within_group_ratio
from conserve_tf.counting import count_invariants
from conserve_tf.invariants import output_spreads
from conserve_tf.losses import decorrelating_map
from conserve_tf.metrics import pearson_rho
from conserve_tf.model import ConservNet


def _outputs(rng, g=15, m=25):
    """Three outputs: a group constant, a constant plus within-group noise, pure within-group noise."""
    const = rng.normal(size=(g, 1, 1)) * np.ones((1, m, 1))
    noise = rng.normal(size=(g, m, 2))
    return np.concatenate([const, const + 0.3 * noise[..., :1], noise[..., 1:]], axis=-1)


def test_ratio_is_the_sum_of_generalized_eigenvalues_and_ignores_linear_maps():
    f = _outputs(np.random.default_rng(0))
    g, m, k = f.shape
    within = f - f.mean(1, keepdims=True)
    w = np.einsum("gmi,gmj->ij", within, within) / (g * m)
    flat = f.reshape(-1, k) - f.reshape(-1, k).mean(0)
    c = flat.T @ flat / (g * m)
    expected = scipy.linalg.eigh(w, c, eigvals_only=True).sum()
    got = float(within_group_ratio(tf.constant(f), jitter=0.0))
    assert got == pytest.approx(expected, rel=1e-9)
    mix = np.array([[2.0, -1.0, 0.5], [0.3, 1.0, 4.0], [-1.0, 0.2, 1.0]])  # invertible
    assert float(within_group_ratio(tf.constant(f @ mix + 7.0), jitter=0.0)) == pytest.approx(expected, rel=1e-8)


def test_ratio_is_zero_for_invariants_and_one_for_outputs_that_ignore_the_groups():
    rng = np.random.default_rng(1)
    const = rng.normal(size=(10, 1, 2)) * np.ones((1, 30, 2))
    assert float(within_group_ratio(tf.constant(const), jitter=0.0)) == pytest.approx(0.0, abs=1e-12)
    noise = rng.normal(size=(10, 30, 1))
    noise -= noise.mean(axis=1, keepdims=True)  # every group has the same mean: no between-group variance
    assert float(within_group_ratio(tf.constant(noise), jitter=0.0)) == pytest.approx(1.0, abs=1e-12)
    # a constant output does not break the factorisation (jitter) and costs nothing but its own share
    mixed = np.concatenate([const[..., :1], np.ones_like(noise)], axis=-1)
    assert np.isfinite(float(within_group_ratio(tf.constant(mixed))))


def test_decorrelating_map_whitens_and_sorts_by_invariance():
    f = _outputs(np.random.default_rng(2))
    mixing, ratios = decorrelating_map(f)
    z = f @ mixing
    flat = z.reshape(-1, 3) - z.reshape(-1, 3).mean(0)
    np.testing.assert_allclose(flat.T @ flat / len(flat), np.eye(3), atol=1e-9)
    assert np.all(np.diff(ratios) >= 0) and ratios[0] < 1e-12
    spreads = output_spreads(z)
    assert spreads[0] < 1e-6 and spreads[2] > 0.8
    with pytest.raises(ValueError, match="singular"):
        decorrelating_map(np.concatenate([f[..., :1], 2 * f[..., :1]], axis=-1))


def test_count_judges_every_direction_in_the_span_of_the_outputs():
    """(C, C + 0.1 sin 60 x1): the second output alone looks invariant (spread 0.02) and independent (its
    gradient is dominated by the wiggle), but their span holds sin 60 x1, which is not invariant."""
    train, test = make_system("s1", 10, 30, seed=0), make_system("s1", 10, 30, seed=1)

    def c(x):
        return x[:, :1] - 3.0 * x[:, 1:2] * x[:, 2:3] + 0.5 * x[:, 3:4] ** 2

    funcs = {1: c, 2: lambda x: tf.concat([c(x), c(x) + 0.1 * tf.sin(60.0 * x[:, :1])], 1)}
    fit = lambda tr, te, k: (None, funcs[k], None)  # noqa: E731
    raw = count_invariants(train, test, k_max=2, fit=fit, log=None, decorrelate=False)
    rotated = count_invariants(train, test, k_max=2, fit=fit, log=None)
    assert raw.rows[1]["worst_spread"] < 0.05 and raw.rows[1]["gram_min"] > 0.1 and raw.count == 2  # fooled
    assert rotated.rows[1]["worst_spread"] > 0.9 and rotated.count == 1  # not fooled
    assert rotated.rows[1]["decorrelated"]


@pytest.mark.slow
def test_ratio_objective_finds_s1_and_saves_its_output_map(tmp_path):
    import keras

    train, test = make_system("s1", 20, 40, seed=0), make_system("s1", 20, 40, seed=1)
    model, hist = fit_conservnet(train, test, steps=250, objective="ratio", width=64, depth=2, learning_rate=3e-3)
    assert set(hist.history) == {"loss", "ratio"}  # no noise term to log
    assert hist.history["ratio"][-1] < 0.05 < hist.history["ratio"][0]
    f = predict_groups(model, test)[..., 0]
    assert abs(pearson_rho(f, test.c)) > 0.98
    f_train = predict_groups(model, train)[..., 0]
    assert f_train.std() == pytest.approx(1.0, rel=1e-3)  # decorrelate_outputs: unit variance on train
    path = str(tmp_path / "ratio.keras")
    model.save(path)
    again = keras.models.load_model(path)
    assert again.objective.name == "ratio" and again.objective.jitter == model.objective.jitter
    np.testing.assert_allclose(predict_groups(again, test)[..., 0], f, atol=1e-6)


def test_ratio_objective_refuses_one_group_per_step_and_bad_options():
    train = make_system("s1", 4, 10, seed=0)
    with pytest.raises(ValueError, match="at least 2 groups"):
        fit_conservnet(train, steps=2, objective="ratio", recipe="paper", width=8, depth=1)
    with pytest.raises(ValueError, match="objective must be one of"):
        ConservNet(objective="varience")
    with pytest.raises(ValueError, match="penalty samples must be a positive integer"):
        ConservNet(penalty_samples=0)


def test_sampled_penalty_matches_full_penalty_when_it_samples_everything():
    x = make_system("s1", 3, 8, seed=0).x.astype(np.float32)
    kw = dict(width=16, depth=2, outputs=2, objective="ratio", penalty="logdet", scale=[1.0] * 4, seed=3)
    full, sampled = ConservNet(**kw), ConservNet(penalty_samples=10_000, **kw)
    sampled.set_weights(full.get_weights())
    gid, step = tf.range(3, dtype=tf.int64), tf.constant(5, tf.int64)
    a = {k: float(v) for k, v in full.loss_terms(tf.constant(x), gid, step).items()}
    b = {k: float(v) for k, v in sampled.loss_terms(tf.constant(x), gid, step).items()}
    assert a.keys() == b.keys() == {"loss", "ratio", "independence"}
    np.testing.assert_allclose([a[k] for k in a], [b[k] for k in a], rtol=1e-5)
    few = ConservNet(penalty_samples=4, **kw)
    few.set_weights(full.get_weights())
    c = {k: float(v) for k, v in few.loss_terms(tf.constant(x), gid, step).items()}
    assert c["ratio"] == pytest.approx(a["ratio"], rel=1e-6)
    assert c["independence"] != pytest.approx(a["independence"], rel=1e-6)
