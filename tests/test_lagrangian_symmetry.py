"""Symmetry-enforcing layers of Müller 2023 (Table 1, Table 2, appendix A)."""

import numpy as np
import pytest
import tensorflow as tf

from lagrangian.symmetry import (NoSymmetry, RotationInvariant, RotationTranslationInvariant,
                                 SchwarzschildInvariant, TranslationInvariant, levi_civita)


def random_rotation(dim, rng, proper=True):
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))
    if (np.linalg.det(q) > 0) != proper:
        q[:, 0] = -q[:, 0]
    return q


def transform(x, n, dim, rot=None, shift=None):
    """Rotate all position and velocity vectors and shift the positions of (batch, 2 n dim) states."""
    pos = x[:, : n * dim].reshape(-1, n, dim)
    vel = x[:, n * dim:].reshape(-1, n, dim)
    if rot is not None:
        pos, vel = pos @ rot.T, vel @ rot.T
    if shift is not None:
        pos = pos + shift
    return np.concatenate([pos.reshape(len(x), -1), vel.reshape(len(x), -1)], axis=1)


def test_table2_counts_two_particles_d4():
    kw = dict(dim=4, n_particles=2)
    assert NoSymmetry(**kw).output_width == 16
    assert RotationInvariant(**kw).output_width == 11
    assert TranslationInvariant(**kw).output_width == 12
    assert RotationTranslationInvariant(**kw).output_width == 6
    x = tf.random.normal((5, 16), dtype=tf.float64)
    widths = [layer(x).shape[1] for layer in (NoSymmetry(**kw), RotationInvariant(**kw, dtype="float64"),
                                              TranslationInvariant(**kw), RotationTranslationInvariant(**kw))]
    assert widths == [16, 11, 12, 6]


def test_levi_civita_matches_determinant():
    rng = np.random.default_rng(0)
    for dim in (2, 3, 4):
        m = rng.standard_normal((dim, dim))
        eps = levi_civita(dim)
        val = np.einsum(eps, list(range(dim)), *sum([[m[k], [k]] for k in range(dim)], []), [])
        assert val == pytest.approx(np.linalg.det(m), rel=1e-12)


@pytest.mark.parametrize("dim", [2, 3, 4])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_rotation_invariance_float64(dim, n):
    rng = np.random.default_rng(10 * dim + n)
    x = rng.standard_normal((7, 2 * n * dim))
    layer = RotationInvariant(dim=dim, n_particles=n, dtype="float64")
    out = layer(tf.constant(x)).numpy()
    assert out.shape[1] == layer.output_width
    for _ in range(3):
        rot = random_rotation(dim, rng)
        np.testing.assert_allclose(layer(tf.constant(transform(x, n, dim, rot))).numpy(), out, rtol=1e-12, atol=1e-12)
    # a generic rotation-variant quantity (the first coordinate) does change
    assert not np.allclose(transform(x, n, dim, random_rotation(dim, rng))[:, 0], x[:, 0])


@pytest.mark.parametrize("dim", [2, 3, 4])
@pytest.mark.parametrize("n", [2, 3])
def test_translation_and_rt_invariance_float64(dim, n):
    rng = np.random.default_rng(dim + 100 * n)
    x = rng.standard_normal((6, 2 * n * dim))
    t_layer = TranslationInvariant(dim=dim, n_particles=n, dtype="float64")
    rt_layer = RotationTranslationInvariant(dim=dim, n_particles=n, dtype="float64")
    r_layer = RotationInvariant(dim=dim, n_particles=n, dtype="float64")
    shift = rng.standard_normal(dim) * 3
    rot = random_rotation(dim, rng)
    moved = tf.constant(transform(x, n, dim, rot, shift))
    shifted = tf.constant(transform(x, n, dim, None, shift))
    np.testing.assert_allclose(t_layer(shifted).numpy(), t_layer(tf.constant(x)).numpy(), atol=1e-12)
    np.testing.assert_allclose(rt_layer(moved).numpy(), rt_layer(tf.constant(x)).numpy(), rtol=1e-11, atol=1e-11)
    # R alone is not translation invariant
    assert not np.allclose(r_layer(shifted).numpy(), r_layer(tf.constant(x)).numpy())


@pytest.mark.parametrize("dim,n", [(2, 1), (3, 2), (4, 2)])
def test_improper_rotation_flips_contractions(dim, n):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 2 * n * dim))
    layer = RotationInvariant(dim=dim, n_particles=n, dtype="float64")
    n_dots = (2 * n) * (2 * n + 1) // 2
    assert layer.output_width > n_dots
    out = layer(tf.constant(x)).numpy()
    refl = layer(tf.constant(transform(x, n, dim, random_rotation(dim, rng, proper=False)))).numpy()
    np.testing.assert_allclose(refl[:, :n_dots], out[:, :n_dots], rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(refl[:, n_dots:], -out[:, n_dots:], rtol=1e-11, atol=1e-12)
    no_eps = RotationInvariant(dim=dim, n_particles=n, contractions=False, dtype="float64")
    assert no_eps.output_width == n_dots
    np.testing.assert_allclose(no_eps(tf.constant(x)).numpy(), out[:, :n_dots], rtol=1e-14)


def test_schwarzschild_layer():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 8))
    layer = SchwarzschildInvariant(dtype="float64")
    out = layer(tf.constant(x)).numpy()
    pos, vel = x[:, :3], x[:, 4:7]
    np.testing.assert_allclose(out, np.stack([x[:, 7], (pos**2).sum(1), (vel**2).sum(1), (pos * vel).sum(1)], 1),
                               rtol=1e-13)
    rot = random_rotation(3, rng)
    y = x.copy()
    y[:, :3], y[:, 4:7] = pos @ rot.T, vel @ rot.T
    y[:, 3] += 5.0  # τ is dropped
    np.testing.assert_allclose(layer(tf.constant(y)).numpy(), out, rtol=1e-12)
    assert SchwarzschildInvariant(rotation=False)(tf.constant(x, tf.float32)).shape == (5, 7)


def test_config_round_trip_and_bad_input():
    for layer in (RotationInvariant(dim=4, n_particles=2, contractions=False), TranslationInvariant(dim=3),
                  RotationTranslationInvariant(dim=4), SchwarzschildInvariant(rotation=False), NoSymmetry(dim=2)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.output_width == layer.output_width and clone.input_width == layer.input_width
    with pytest.raises(ValueError, match="width"):
        RotationInvariant(dim=3)(tf.zeros((2, 5)))
    with pytest.raises(ValueError, match="n_particles"):
        TranslationInvariant(dim=3, n_particles=1)
    with pytest.raises(ValueError, match="dim"):
        RotationInvariant(dim=0)
