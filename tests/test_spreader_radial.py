"""The L2 spreader's radial law: radius R u (uniform in the radius, the published code) or R u^(1/d)
(uniform in the ball's volume), checked with Kolmogorov-Smirnov tests."""

import numpy as np
import pytest
from scipy import stats

from conserve_tf.spreaders import ball_noise

D, R = 4, 0.3


def _radii(radial):
    eps = ball_noise((50, 100, D), R, "l2", seed=3, step=7, radial=radial).numpy()
    assert eps.shape == (50, 100, D)
    return np.linalg.norm(eps, axis=-1).ravel() / R


def test_uniform_radial_law_has_uniform_radius():
    r = _radii("uniform")
    assert r.max() <= 1.0 + 1e-6
    assert stats.kstest(r, "uniform").pvalue > 1e-3
    assert stats.kstest(r ** D, "uniform").pvalue < 1e-6  # and is not uniform in the volume
    assert abs(np.mean(r < 0.5) - 0.5) < 0.03


def test_volume_radial_law_is_uniform_in_the_ball():
    r = _radii("volume")
    assert stats.kstest(r ** D, "uniform").pvalue > 1e-3
    assert stats.kstest(r, "uniform").pvalue < 1e-6
    assert abs(np.mean(r < 0.5) - 0.5 ** D) < 0.02


def test_radial_law_is_checked():
    with pytest.raises(ValueError, match="radial"):
        ball_noise((2, 3, D), R, "l2", radial="log")
    with pytest.raises(ValueError, match="l2 ball only"):
        ball_noise((2, 3, D), R, "linf", radial="uniform")
