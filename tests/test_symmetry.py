"""Rotation-invariant inputs (conserve_tf.symmetry): exact invariance, the scaling they need, clear errors,
saving, and the physics they make reachable (Kepler with L fixed: the energy, not the orbit's orientation)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conserve_tf import ConservNet, fit_conservnet, make_system
from conserve_tf.groups import GroupedData
from conserve_tf.kepler import kepler_invariants
from conserve_tf.symmetry import n_invariants, rotation_invariants, symmetric_scaling
from conserve_tf.training import build_conservnet


def _rotate(x, matrix):
    d = x.shape[-1] // 2
    return np.concatenate([x[..., :d] @ matrix.T, x[..., d:] @ matrix.T], axis=-1)


def _rotation_2d(angle):
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def test_the_invariants_are_the_dot_products_and_in_the_plane_the_angular_momentum():
    x = np.random.default_rng(0).normal(size=(50, 4))
    got = np.asarray(rotation_invariants(tf.constant(x)))
    L, E = kepler_invariants(x)
    np.testing.assert_allclose(got[:, 0], x[:, 0] ** 2 + x[:, 1] ** 2)
    np.testing.assert_allclose(got[:, 1], x[:, 0] * x[:, 2] + x[:, 1] * x[:, 3])
    np.testing.assert_allclose(got[:, 2], x[:, 2] ** 2 + x[:, 3] ** 2)
    np.testing.assert_allclose(got[:, 3], L)
    np.testing.assert_allclose(np.asarray(rotation_invariants(tf.constant(_rotate(x, _rotation_2d(1.1))))), got,
                               atol=1e-12)
    flipped = _rotate(x, np.diag([1.0, -1.0]))  # a reflection reverses L: only proper rotations are symmetries
    np.testing.assert_allclose(np.asarray(rotation_invariants(tf.constant(flipped)))[:, 3], -L)
    assert (n_invariants(4), n_invariants(6)) == (4, 3)
    x3 = np.random.default_rng(1).normal(size=(20, 6))
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))
    np.testing.assert_allclose(np.asarray(rotation_invariants(tf.constant(_rotate(x3, q)))),
                               np.asarray(rotation_invariants(tf.constant(x3))), atol=1e-12)


def test_a_network_on_the_invariants_is_rotation_invariant_exactly_and_saves(tmp_path):
    data = make_system("kepler", 4, 20, seed=0)
    model = build_conservnet(data, symmetry="rotation", width=16, depth=2, seed=0)
    x = data.flat().astype(np.float32)
    f = model.predict(x, verbose=0)
    for angle in (0.3, 2.0, -2.9):
        np.testing.assert_allclose(model.predict(_rotate(x, _rotation_2d(angle)).astype(np.float32), verbose=0), f,
                                   rtol=1e-5, atol=1e-5)
    plain = build_conservnet(data, width=16, depth=2, seed=0)  # without the symmetry the output turns with the data
    assert np.abs(plain.predict(_rotate(x, _rotation_2d(2.0)).astype(np.float32), verbose=0)
                  - plain.predict(x, verbose=0)).max() > 1e-3
    model.save(tmp_path / "m.keras")
    back = keras.models.load_model(tmp_path / "m.keras")
    assert back.symmetry == "rotation"
    np.testing.assert_allclose(back.predict(x, verbose=0), f, rtol=1e-6, atol=1e-6)


def test_the_scaling_gives_every_component_of_a_vector_one_factor():
    x = np.zeros((2, 5, 4))
    x[..., 0] = np.linspace(-30, 30, 10).reshape(2, 5)   # x beyond 10: the rule would scale it alone
    x[..., 1:] = np.random.default_rng(0).normal(size=(2, 5, 3))
    data = GroupedData(x, name="mine")
    assert build_conservnet(data, scaling="rule", width=4, depth=1).scale == [0.1, 1.0, 1.0, 1.0]
    assert build_conservnet(data, scaling="rule", symmetry="rotation", width=4, depth=1).scale == [0.1, 0.1, 1.0, 1.0]
    assert symmetric_scaling(None, [0.1, 1.0], [1.0, 2.0], [0]) == ([0.1, 1.0], [1.0, 2.0], [0])


@pytest.mark.parametrize("kwargs, message", [
    ({"symmetry": "reflection"}, "symmetry must be None or one of"),
    ({"symmetry": "rotation", "scaling": "standardize"}, "without an offset"),
])
def test_bad_symmetry_settings_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_conservnet(make_system("kepler", 4, 10, seed=0), width=4, depth=1, **kwargs)


def test_the_layout_and_a_mismatched_scaling_are_clear_errors():
    with pytest.raises(ValueError, match="positions then the velocities of one body"):
        build_conservnet(make_system("s2", 4, 10, seed=0), symmetry="rotation", width=4, depth=1)  # 3 features
    with pytest.raises(ValueError, match="one scale factor for all positions"):
        ConservNet(width=4, depth=1, scale=[0.1, 1.0, 1.0, 1.0], symmetry="rotation")
    with pytest.raises(ValueError, match="would enter as their logarithm"):
        lv = make_system("lotka_volterra", 4, 10, seed=0)
        two_bodies = GroupedData(np.concatenate([lv.x, lv.x], axis=-1), name="positive")  # positive, spanning decades
        build_conservnet(two_bodies, symmetry="rotation", width=4, depth=1)


@pytest.mark.slow  # about 10 s
def test_with_l_fixed_the_rotation_invariant_network_finds_the_energy():
    """The orbit's orientation is conserved too and is what a free network reads (docs/conservnet_recipe.md,
    Fig. 6); on rotation-invariant inputs only functions of E remain."""
    train, test = make_system("kepler_fixed_l", 12, 80, seed=0).split_within(0.5, seed=0)
    energy = kepler_invariants(test.flat())[1]
    rho = {}
    for symmetry in ("rotation", None):
        model, _ = fit_conservnet(train, steps=600, width=32, depth=2, symmetry=symmetry, seed=0)
        f = model.predict(test.flat().astype(np.float32), verbose=0)[:, 0]
        rho[symmetry] = abs(np.corrcoef(f, energy)[0, 1])
    assert rho["rotation"] > 0.95 and rho[None] < 0.9, rho  # the same budget without it reads something else
