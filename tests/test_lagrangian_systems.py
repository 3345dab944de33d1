"""The paper's systems: generated data keep their stated invariants; charges and deviations."""

import numpy as np
import pytest

from lagrangian import angular_momentum, get_system, linear_momentum, relative_deviation


def test_kepler_samples_lie_on_the_ellipse():
    system = get_system("kepler")
    x, y = system.training_data(500, sigma=0.0, seed=3)
    q, v = x[:, :3].astype(np.float64), x[:, 3:].astype(np.float64)
    r = np.linalg.norm(q, axis=1)
    assert np.allclose(np.cross(q, v)[:, 2], 1.0, atol=1e-5)  # L_z = 1
    energy = 0.5 * (v**2).sum(1) - 1 / r
    assert np.allclose(energy, energy[0], atol=1e-5)
    ecc = np.sqrt(1 + 2 * energy[0] * 1.0)  # e² = 1 + 2 E L² / (m α²)
    assert ecc == pytest.approx(0.8, abs=1e-5)
    assert np.allclose(y, -q / r[:, None] ** 3, atol=1e-4)
    noisy, _ = system.training_data(500, sigma=1e-3, seed=3)
    assert 5e-4 < np.std(noisy - x) < 2e-3


def test_schwarzschild_trajectory_conserves_its_invariants():
    system = get_system("schwarzschild")
    traj = system.reference(60.0, 0.01)
    pos, vel, tdot = traj[:, :3], traj[:, 4:7], traj[:, 7]
    lz = np.cross(pos, vel)
    assert relative_deviation(lz).max() < 1e-8  # Eq. (20)
    r = np.linalg.norm(pos, axis=1)
    f = 1 - system.r_s / r
    norm = -f * tdot**2 + (vel**2).sum(1) + (1 / f - 1) * ((pos * vel).sum(1) / r) ** 2
    assert np.allclose(norm, -1.0, atol=1e-8)  # timelike geodesic g(q̇, q̇) = -1
    assert np.allclose(f * tdot, f[0] * tdot[0], rtol=1e-8)  # energy (τ is cyclic)
    assert r.min() < 0.9 * r.max()  # an eccentric, precessing orbit


@pytest.mark.parametrize("dim", [2, 3, 4])
def test_two_particle_trajectory_conserves_momenta(dim):
    system = get_system("two_particle", dim=dim)
    traj = system.reference(8.0, 0.01)
    p = system.true_momentum(traj)
    charges = system.charges(traj, p)
    assert np.abs(charges["M"]).max() < 1e-9  # zero total momentum, kept
    scales = system.charge_scales(traj[0], p[0])
    assert relative_deviation(charges["M"], scales["M"]).max() < 1e-8
    assert relative_deviation(charges["L"], scales["L"]).max() < 1e-8
    rel = np.linalg.norm(traj[:, :dim] - traj[:, dim:2 * dim], axis=1)
    assert rel.max() < 1.0  # bound in the double well


def test_charge_helpers():
    rng = np.random.default_rng(0)
    x, p = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    np.testing.assert_allclose(angular_momentum(x[:, :3], p[:, :3], 3), np.cross(x[:, :3], p[:, :3]))
    lz = angular_momentum(x[:, :2], p[:, :2], 2)[:, 0]
    np.testing.assert_allclose(lz, p[:, 0] * x[:, 1] - p[:, 1] * x[:, 0])  # Eq. (32)
    np.testing.assert_allclose(linear_momentum(p, 3), p[:, :3] + p[:, 3:])
    with pytest.raises(ValueError, match="zero norm"):
        relative_deviation(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="multiple"):
        linear_momentum(p, 4)


def test_two_particle_training_samples_follow_one_trajectory():
    """Default sampling (the paper's): clean samples every 0.1 along one orbit keep M = 0, L and E."""
    system = get_system("two_particle")
    x, y = system.training_data(400, sigma=0.0)
    x = x.astype(np.float64)
    np.testing.assert_allclose(x[0], system.initial_state(), atol=1e-6)
    p = system.true_momentum(x)
    charges = system.charges(x, p)
    assert np.abs(charges["M"]).max() < 1e-5
    assert relative_deviation(charges["L"]).max() < 1e-5
    rel = x[:, :4] - x[:, 4:8]
    r2 = (rel**2).sum(1)
    energy = 0.5 * (x[:, 8:12] ** 2).sum(1) + 0.4 * (x[:, 12:] ** 2).sum(1) + 0.5 * r2 - 0.25 * r2**2
    assert np.ptp(energy) < 1e-5
    assert np.ptp(np.sqrt(r2)) > 0.1  # it moves through the well
    np.testing.assert_allclose(y, system.acceleration(x), atol=1e-5)
    region, _ = system.training_data(400, sigma=0.0, sampling="region")
    assert np.abs(system.charges(region, system.true_momentum(region))["M"]).max() > 0.1  # independent states
    with pytest.raises(ValueError, match="sampling"):
        system.training_data(10, sampling="grid")
