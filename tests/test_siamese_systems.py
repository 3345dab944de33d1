"""Physics of the Siamese data sets: Lorentz matrices, invariants along groups and pairs, Kepler orbits."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from conserve_tf import kepler
from siamese import make_pairs, systems


def test_every_sampled_lorentz_matrix_preserves_the_metric():
    lam = systems.random_lorentz(2000, np.random.default_rng(3))
    eta = systems.ETA
    err = np.abs(np.einsum("nai,ab,nbj->nij", lam, eta, lam) - eta).max(axis=(1, 2))
    assert err.max() < 1e-12
    assert np.all(np.abs(np.linalg.det(lam) - 1) < 1e-9)  # proper
    assert np.all(lam[:, 0, 0] >= 1 - 1e-12)  # orthochronous


def test_full_group_reaches_all_four_components_of_the_lorentz_group():
    lam = systems.random_lorentz(4000, np.random.default_rng(4), time_reversal=True, reflections=True)
    err = np.abs(np.einsum("nai,ab,nbj->nij", lam, systems.ETA, lam) - systems.ETA).max(axis=(1, 2))
    assert err.max() < 1e-12  # Λᵀ η Λ = η for every draw
    det, forward = np.rint(np.linalg.det(lam)), lam[:, 0, 0] > 0
    assert set(det) == {-1.0, 1.0}
    counts = [np.mean((det == d) & (forward == f)) for d in (-1, 1) for f in (True, False)]
    assert min(counts) > 0.2  # each component (det ±1, orthochronous or not) about a quarter of the draws
    assert np.all(np.abs(lam[:, 0, 0]) >= 1 - 1e-12)


def test_rotations_are_proper_so_EdotB_is_kept_but_a_reflection_flips_it():
    rot = systems.random_rotations(500, 1)
    assert np.allclose(np.linalg.det(rot), 1.0)
    e, b = np.random.default_rng(0).uniform(-1, 1, (2, 500, 3))
    # a reflection acts on the polar vector E but not on the axial vector B
    assert np.allclose(np.sum(-e * b, 1), -np.sum(e * b, 1))
    assert np.allclose(systems.fields_from_tensor(systems.field_tensor(e, b)), np.concatenate([e, b], 1))


@pytest.mark.parametrize("kw", [{}, {"even": False}, {"fixed_interval": 1.0},
                                {"time_reversal": False, "reflections": False}])
def test_special_relativity_keeps_the_interval(kw):
    d = systems.special_relativity(300, 4, seed=1, **kw)
    s2 = -d.x[..., 0] ** 2 + np.sum(d.x[..., 1:] ** 2, -1)
    assert np.abs(s2 - d.c[:, None]).max() < 1e-9
    assert d.constant_names == ["s2"] and d.feature_names == ["t", "x", "y", "z"]
    if "fixed_interval" in kw:
        assert np.allclose(d.c, 1.0)
    flips = np.sign(d.x[:, 1:, 0]) != np.sign(d.x[:, :1, 0])
    timelike = (d.c < 0)[:, None]
    # orthochronous Λ keep the sign of t of timelike events; the full group flips it half the time
    assert (flips & timelike).any() == (kw.get("time_reversal", True) and "fixed_interval" not in kw)
    assert np.abs(d.x[:, 1] - d.x[:, 0]).max() > 0.5  # the transformations really move the events


@pytest.mark.parametrize("kw", [{}, {"even": False}, {"fixed_EdotB": 0.25}])
def test_electromagnetism_keeps_both_field_invariants(kw):
    d = systems.electromagnetism(300, 3, seed=2, **kw)
    inv = systems.em_invariants(d.x)
    assert np.abs(inv - d.c[:, None, :]).max() < 1e-9
    if "fixed_EdotB" in kw:
        assert np.allclose(d.c[:, 0], 0.25)
        assert d.c[:, 1].std() > 0.1


@pytest.mark.parametrize("make, column, low, high", [
    (lambda **kw: systems.special_relativity(4000, 2, seed=5, **kw), None, -0.9, 2.5),
    (lambda **kw: systems.electromagnetism(4000, 2, seed=5, **kw), 0, -1.0, 1.0),
    (lambda **kw: systems.electromagnetism(4000, 2, seed=5, **kw), 1, -1.5, 1.5),
    (lambda **kw: systems.electromagnetism(4000, 2, seed=5, fixed_EdotB=0.25, **kw), 1, -1.5, 1.5),
])
def test_the_invariant_that_is_read_out_is_spread_evenly(make, column, low, high):
    """By default s², E·B and |E|² - |B|² (jointly, or alone with E·B fixed) are uniform over their ranges;
    even=False leaves the raw draw, whose invariant is peaked (docs/siamese.md: f is steepest where the
    invariant is densest)."""
    from scipy import stats

    def law(d):
        c = d.c if column is None else d.c[:, column]
        return c, stats.kstest((c - low) / (high - low), "uniform")

    c, even = law(make())
    assert c.min() >= low and c.max() < high and even.pvalue > 0.01
    _, raw = law(make(even=False))
    assert raw.statistic > 3 * even.statistic and raw.pvalue < 1e-6


@pytest.mark.parametrize("kw", [{}, {"fixed_L": -1.5}])
def test_orbits_conserve_angular_momentum_energy_and_lrl_vector(kw):
    d = systems.central_potential(400, 5, seed=3, **kw)
    inv = systems.central_invariants(d.x)
    assert np.abs(inv - d.c[:, None, :]).max() < 1e-9
    assert d.constant_names == ["L", "E", "Ax", "Ay"]
    assert np.all(d.c[:, 1] < 0)  # bound orbits
    ecc = np.sqrt(1 + 2 * d.c[:, 1] * d.c[:, 0] ** 2)
    assert np.allclose(np.hypot(d.c[:, 2], d.c[:, 3]), ecc)  # |A| = eccentricity
    if kw:
        assert np.allclose(d.c[:, 0], -1.5)
    assert np.abs(d.x[:, 1] - d.x[:, 0]).max() > 0.5  # the members are at different places


def test_kepler_closed_form_matches_solve_ivp():
    rng = np.random.default_rng(7)
    init = systems.central_potential(6, 2, seed=rng).x[:, 0]
    times = rng.uniform(0, 20, (6, 3))
    exact = kepler.kepler_propagate(init, times)
    for i in range(6):
        order = np.argsort(times[i])
        sol = solve_ivp(kepler.kepler_rhs, (0, times[i].max()), init[i], method="DOP853", rtol=1e-12, atol=1e-12,
                        t_eval=times[i][order])
        assert np.abs(sol.y.T - exact[i][order]).max() < 1e-6


@pytest.mark.parametrize("name,invariants", [
    ("special_relativity", lambda x: (-x[..., 0] ** 2 + np.sum(x[..., 1:] ** 2, -1))[..., None]),
    ("central_potential", systems.central_invariants),
    ("central_fixed_L", systems.central_invariants),
    ("electromagnetism", systems.em_invariants),
    ("em_fixed_EdotB", systems.em_invariants),
])
def test_every_positive_pair_preserves_the_invariants(name, invariants):
    d = systems.make_system(name, 200, 2, seed=4)
    pairs = make_pairs(d, seed=5)
    inv = invariants(pairs.x)  # (N, 2, k)
    pos = pairs.y == 0
    assert np.abs(inv[pos, 0] - inv[pos, 1]).max() < 1e-9
    if name in ("special_relativity", "central_potential", "electromagnetism"):
        assert np.median(np.abs(inv[~pos, 0] - inv[~pos, 1])) > 1e-2  # negatives differ


def test_make_system_errors():
    with pytest.raises(KeyError, match="unknown system"):
        systems.make_system("warp_drive", 10)
    with pytest.raises(ValueError, match="members must be an integer >= 2"):
        systems.special_relativity(10, 1)
    with pytest.raises(ValueError, match="beta"):
        systems.random_lorentz(3, 0, beta_max=1.0)


def test_electromagnetism_spreads_both_invariants_jointly():
    """E·B alone spread evenly hides |E|² - |B|² from a second neuron (docs/siamese.md): the default spreads
    the pair over a rectangle, so the two are also uncorrelated and every cell is about equally full."""
    c = systems.electromagnetism(20000, 2, seed=6).c
    assert abs(np.corrcoef(c.T)[0, 1]) < 0.03
    counts, _, _ = np.histogram2d(c[:, 0], c[:, 1], 4, [[-1, 1], [-1.5, 1.5]])
    assert counts.min() > 0.85 * counts.mean() and counts.sum() == len(c)
