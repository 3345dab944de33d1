"""Metrics of a learned scalar against a hidden invariant (rho, rank correlation, R², spreads)."""

import numpy as np
import pytest

from conserve_tf.metrics import invariant_report, linear_fit, pearson_rho, r2, relative_spread, spearman_rho

C = np.linspace(-2.0, 2.0, 20)                                        # (G,)
NOISE = np.random.default_rng(0).normal(size=(20, 50))                 # (G, M)


def test_an_exact_invariant_scores_perfectly_at_any_scale():
    f = np.broadcast_to(-3.0 * C[:, None] + 7.0, (20, 50))
    rep = invariant_report(f, C)
    assert rep["rho"] == pytest.approx(1) and rep["spearman"] == pytest.approx(1) and rep["r2"] == pytest.approx(1)
    assert rep["std"] == pytest.approx(0, abs=1e-12) and rep["relative_spread"] == pytest.approx(0, abs=1e-12)
    assert linear_fit(f, C) == pytest.approx((-1 / 3, 7 / 3))


def test_a_curved_function_of_the_invariant_keeps_its_rank_correlation():
    f = np.broadcast_to(np.exp(3.0 * C)[:, None], (20, 50))   # still invariant, far from linear in C
    assert relative_spread(f) == pytest.approx(0, abs=1e-12)
    assert spearman_rho(f, C) == pytest.approx(1)
    assert r2(f, C) < 0.75 and pearson_rho(f, C) < 0.87


def test_outputs_that_ignore_the_groups_score_near_zero():
    assert pearson_rho(NOISE, C) < 0.1 and spearman_rho(NOISE, C) < 0.1 and r2(NOISE, C) < 0.01
    assert relative_spread(NOISE) == pytest.approx(1, abs=0.05)
    assert pearson_rho(np.ones((20, 50)), C) == 0 and spearman_rho(np.ones((20, 50)), C) == 0
    assert np.isnan(relative_spread(np.ones((20, 50))))
    assert set(invariant_report(NOISE)) == {"relative_spread"}   # no constants: the spread alone
    with pytest.raises(ValueError, match="do not match"):
        pearson_rho(np.ones(5), np.ones(6))


def test_invariant_metrics_callback_writes_held_out_metrics_into_the_logs():
    import keras

    from conserve_tf import GroupedData
    from conserve_tf.metrics import InvariantMetrics

    rng = np.random.default_rng(0)
    c = rng.uniform(1, 2, 6)
    x = np.stack([np.repeat(c[:, None], 5, 1), rng.normal(size=(6, 5))], axis=-1)  # feature 0 is C itself
    data = GroupedData(x, c=c)
    first = keras.Sequential([keras.Input((5, 2)), keras.layers.Dense(1, use_bias=False, trainable=False)])
    first.layers[0].set_weights([np.array([[2.0], [0.0]])])  # F = 2 C: an exact invariant
    cb = InvariantMetrics(data, every=2)
    cb.set_model(first)
    logs = {}
    cb.on_epoch_end(0, logs)
    assert logs == {} and cb.history == []  # epoch 1 of every=2: nothing
    cb.on_epoch_end(1, logs)
    assert logs["val_rho"] == pytest.approx(1.0) and logs["val_r2"] == pytest.approx(1.0)
    assert logs["val_relative_spread"] == pytest.approx(0.0, abs=1e-6)
    assert cb.history[0]["epoch"] == 2
    first.layers[0].set_weights([np.array([[0.0], [1.0]])])  # F = noise: no invariant
    cb.on_epoch_end(3, logs)
    assert abs(logs["val_rho"]) < 0.5 and logs["val_relative_spread"] > 0.5
