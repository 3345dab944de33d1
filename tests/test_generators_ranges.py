"""The generators draw the ranges of Table II of Ha & Jeong (2021) and of the published data files, and every
group holds one value of its invariant."""

import numpy as np
import pytest

from conserve_tf import physical as P
from conserve_tf.systems import invariant, make_system

G, M = 20, 200


def _within(x, low, high):
    assert x.min() >= low and x.max() <= high, f"range [{x.min():.3f}, {x.max():.3f}] not within [{low}, {high}]"


def test_s2_x2_spans_three_periods_symmetrically():
    x = make_system("s2", G, M, seed=0).flat()
    _within(x[:, 0], -3, 3)
    _within(x[:, 1], -3 * np.pi, 3 * np.pi)
    assert x[:, 1].min() < -2.5 * np.pi and x[:, 1].max() > 2.5 * np.pi  # both outer periods are used
    # every one of the six sine periods' halves holds members: no branch is left out
    halves = np.floor(x[:, 1] / np.pi).astype(int)
    assert set(halves) == set(range(-3, 3))


@pytest.mark.parametrize("name", ["s1", "s2", "s2+", "s3"])
def test_synthetic_invariant_is_constant_within_groups(name):
    d = make_system(name, G, 50, seed=1)
    np.testing.assert_allclose(invariant(name, d.x), np.broadcast_to(d.c[:, None], d.x.shape[:2]), atol=1e-9)


def test_synthetic_constants_and_ranges_follow_table_ii():
    s1, s2, s3 = (make_system(n, G, M, seed=2) for n in ("s1", "s2", "s3"))
    np.testing.assert_allclose([s1.c.min(), s1.c.max()], [-4.5, 5.0])
    np.testing.assert_allclose([s2.c.min(), s2.c.max()], [-4.75, 0.0])
    np.testing.assert_allclose([s3.c.min(), s3.c.max()], [1.0, 3.85])
    _within(s1.flat()[:, 0], -5, 5)
    x3 = s3.flat()
    for j in (0, 1, 3):
        _within(x3[:, j], -10, 10)
    _within(x3[:, 2], 0.5, 5)


@pytest.mark.parametrize("seed", [0, 1])
def test_lotka_volterra_ranges_match_the_published_data(seed):
    d = P.lotka_volterra(G, 100, seed=seed)
    _within(d.c, -1.25, 0.12)  # the published C range; the draw alone reaches 0.167 at the fixed point
    _within(d.flat()[:, 0], 0.01, 27.0)
    _within(d.flat()[:, 1], 0.2, 10.0)
    inv = P.lotka_volterra_invariant(d.x)
    np.testing.assert_allclose(inv, np.broadcast_to(d.c[:, None], inv.shape), atol=1e-8)


@pytest.mark.parametrize("gen", [P.kepler, P.kepler_fixed_l])
def test_kepler_orbits_are_loosely_bound_like_the_published_ones(gen):
    d = gen(G, 100, seed=3)
    L, E = P.kepler_invariants(d.x)
    _within(E, -0.35, -0.014)
    _within(np.abs(d.flat()[:, :2]), 0.0, 27.0 + 1e-6)
    _within(np.abs(d.flat()[:, 2:]), 0.0, 1.5 + 1e-6)
    np.testing.assert_allclose(E, E[:, :1] * np.ones_like(E), atol=1e-8)
    np.testing.assert_allclose(L, L[:, :1] * np.ones_like(L), atol=1e-8)
    if gen is P.kepler:
        _within(L, -3.0, 3.0)
        assert L.min() < 0 < L.max()  # both senses of rotation
    else:
        np.testing.assert_allclose(L, -1.5, atol=1e-8)
