"""The energy E = q̇ · ∂L/∂q̇ − L: the Noether charge of time translation, monitored along rollouts."""

import numpy as np
import pytest
import tensorflow as tf

from lagrangian import RK4Integrator, energy_deviation, get_system, lagrangian_energy, rollout
from lagrangian.experiment import final_numbers, load_monitors, write_monitors


def test_energy_of_the_exact_kepler_lagrangian_is_v2_over_2_minus_1_over_r():
    system = get_system("kepler")
    x = system.on_ellipse(np.linspace(-3.0, 3.0, 50))  # exact float64 states
    e = lagrangian_energy(system.lagrangian, tf.constant(x)).numpy()
    r = np.linalg.norm(x[:, :3], axis=1)
    np.testing.assert_allclose(e, 0.5 * np.sum(x[:, 3:] ** 2, axis=1) - 1 / r, rtol=1e-12)
    # on the orbit (e = 0.8, L_z = 1): E = −(1 − e²) / (2 p) with p = 1
    np.testing.assert_allclose(e, -0.18, rtol=1e-9)


def test_energy_drift_ignores_an_additive_constant_in_the_lagrangian():
    system = get_system("kepler")
    x = tf.constant(system.on_ellipse(np.linspace(-3.0, 3.0, 20)))
    e = lagrangian_energy(system.lagrangian, x).numpy()
    shifted = lagrangian_energy(lambda s: system.lagrangian(s) + 5.0, x).numpy()
    np.testing.assert_allclose(shifted, e - 5.0, rtol=1e-12)
    qdot, p = x.numpy()[:, 3:], x.numpy()[:, 3:]
    noisy = e + np.linspace(0, 1e-3, len(e))
    np.testing.assert_allclose(energy_deviation(noisy, qdot, p), energy_deviation(noisy - 5.0, qdot, p))
    assert energy_deviation(noisy, qdot, p)[-1] == pytest.approx(1e-3 / np.mean(np.sum(qdot * p, axis=1)))


def test_energy_deviation_needs_motion():
    with pytest.raises(ValueError, match="q̇ · p is zero"):
        energy_deviation(np.ones(5), np.zeros((5, 2)), np.ones((5, 2)))
    # the rollout monitors ask for NaN instead, so a motionless record does not stop a run
    assert np.all(np.isnan(energy_deviation(np.ones(5), np.zeros((5, 2)), np.ones((5, 2)), motionless="nan")))
    with pytest.raises(ValueError, match="motionless must be"):
        energy_deviation(np.ones(5), np.ones((5, 2)), np.ones((5, 2)), motionless="zero")


def test_rollout_of_the_true_lagrangian_conserves_energy_and_writes_it(tmp_path):
    """The exact Kepler L in float64 over one period (RK4, dt = 0.01): δE of 'network' and truth agree and stay
    at the integrator's error; the monitors carry δE through the CSV, the npz and the final numbers."""
    system = get_system("kepler")
    integ = RK4Integrator(system.lagrangian, jit_compile=False, dtype="float64")
    out = rollout(system.lagrangian, system, t_final=30.0, dt=0.01, every=100, integrator=integ)
    assert set(out["delta_energy"]) == {"E_NN", "E_true"}
    np.testing.assert_allclose(out["energy"]["E_NN"], -0.18, atol=1e-6)
    np.testing.assert_allclose(out["energy"]["E_NN"], out["energy"]["E_true"], rtol=1e-12)
    assert out["delta_energy"]["E_NN"].max() < 1e-5
    assert np.linalg.norm(out["traj"][-1] - out["traj"][0]) > 0.1  # it moved
    nums = final_numbers(out)
    assert nums["dE_NN_max"] == pytest.approx(out["delta_energy"]["E_NN"].max())
    write_monitors(out, str(tmp_path / "mon"))
    header = (tmp_path / "mon.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["t", "delta_L_NN"] and {"delta_E_NN", "delta_E_true"} <= set(header)
    back = load_monitors(str(tmp_path / "mon"))
    np.testing.assert_allclose(back["delta_energy"]["E_true"], out["delta_energy"]["E_true"])
    assert set(back["delta"]) == set(out["delta"])
