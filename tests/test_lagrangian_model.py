"""LagrangianNetwork: Eq. (9) accelerations, Noether charges, save/load, singular Hessians."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conserve_tf import cli
from lagrangian import (HessianGuard, LagrangianNetwork, RK4Integrator, SingularHessianError, euler_lagrange,
                        get_system, relative_deviation)
from lagrangian.training import build_model, make_dataset


def clean_states(system, n, seed=0):
    return system.training_data(n, sigma=0.0, seed=seed)[0].astype(np.float64)


@pytest.mark.parametrize("name,kw", [("kepler", {}), ("schwarzschild", {}), ("two_particle", {"dim": 2}),
                                     ("two_particle", {"dim": 3}), ("two_particle", {"dim": 4})])
def test_exact_lagrangian_gives_exact_accelerations(name, kw):
    system = get_system(name, **kw)
    x = clean_states(system, 16, seed=1)
    x += 0.05 * np.random.default_rng(2).standard_normal(x.shape)  # off the training manifold too
    qddot, j_vv = euler_lagrange(system.lagrangian, tf.constant(x))
    exact = system.acceleration(x)
    assert qddot.shape == exact.shape == (16, system.d)
    np.testing.assert_allclose(qddot.numpy(), exact, rtol=1e-10, atol=1e-10)
    assert j_vv.shape == (16, system.d, system.d)


def network(system, symmetry, seed, dtype="float64", hidden=32):
    cli.set_seed(seed)
    return build_model(system, symmetry, hidden_units=hidden, dtype=dtype)


@pytest.mark.parametrize("name,symmetry", [("kepler", "R"), ("schwarzschild", "R"), ("two_particle", "RT"),
                                           ("two_particle", "R"), ("two_particle", "T")])
def test_noether_charges_of_invariant_network_are_conserved(name, symmetry):
    """float64, dt = 1e-3, 1000 RK4 steps: network charges constant to 1e-10, true ones not."""
    system = get_system(name)
    x0 = system.initial_state()
    for seed in range(10):  # first network whose velocity Hessian is well conditioned and dynamics tame
        model = network(system, symmetry, seed)
        integ = RK4Integrator(model, jit_compile=False)
        if integ.condition(x0[None])[0] < 100 and np.abs(model.accelerations(x0[None])).max() < 5:
            break
    else:
        pytest.fail("no well-conditioned network among 10 seeds")
    traj = integ.integrate(x0, 1e-3, 1000, every=100)[:, 0]
    assert np.all(np.isfinite(traj)) and np.linalg.norm(traj[-1] - traj[0]) > 1e-3  # it moved
    p = integ.momentum(traj)
    charges = system.charges(traj, p)
    scales = system.charge_scales(traj[0], p[0])
    expected = {"R": ["L"], "T": ["M"], "RT": ["L", "M"]}[symmetry]
    for key in expected:
        assert relative_deviation(charges[key], scales[key]).max() < 1e-10, key
    # the true charges of a random network are not conserved
    pt = system.true_momentum(traj)
    true = system.charges(traj, pt)
    key = expected[0]
    assert relative_deviation(true[key], system.charge_scales(traj[0], pt[0])[key]).max() > 1e-6


def test_unconstrained_network_does_not_conserve_charges():
    system = get_system("kepler")
    model = network(system, "none", 3)
    x0 = system.initial_state()
    integ = RK4Integrator(model, jit_compile=False)
    traj = integ.integrate(x0, 1e-3, 1000, every=100)[:, 0]
    p = integ.momentum(traj)
    assert relative_deviation(system.charges(traj, p)["L"]).max() > 1e-6


def test_xla_and_graph_rk4_agree():
    system = get_system("kepler")
    model = network(system, "R", 0, dtype="float32", hidden=16)
    x0 = np.stack([system.initial_state(), system.initial_state() * 1.01])
    a = RK4Integrator(model, jit_compile=True).advance(x0, 0.01, 50).numpy()
    b = RK4Integrator(model, jit_compile=False).advance(x0, 0.01, 50).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    system = get_system("two_particle")
    model = network(system, "RT", 5, dtype="float32", hidden=16)
    x = clean_states(system, 8).astype(np.float32)
    path = cli.save_model(model, str(tmp_path / "m.keras"))
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, LagrangianNetwork) and loaded.system == "two_particle"
    assert loaded.symmetry.output_width == 6
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    np.testing.assert_array_equal(loaded.acceleration(tf.constant(x)).numpy(), model.acceleration(tf.constant(x)).numpy())


def test_fit_lowers_acceleration_mse():
    system = get_system("kepler")
    model = network(system, "R", 1, dtype="float32", hidden=32)
    x, y = system.training_data(2048, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = model.evaluate(x, y, verbose=0, batch_size=256, return_dict=True)["loss"]
    hist = model.fit(make_dataset(x, y, 128), epochs=3, steps_per_epoch=40, verbose=0, callbacks=[HessianGuard()])
    assert set(hist.history) == {"loss", "nonfinite"}
    after = model.evaluate(x, y, verbose=0, batch_size=256, return_dict=True)["loss"]
    assert after < 0.5 * before


def singular_model():
    """Unconstrained network whose D1 ignores the velocities: ∂²L/∂q̇² = 0."""
    system = get_system("kepler")
    model = network(system, "none", 0, dtype="float32", hidden=8)
    kernel = model.d1.kernel.numpy()
    kernel[3:] = 0.0
    model.d1.kernel.assign(kernel)
    return system, model


def test_singular_hessian_is_reported_clearly():
    system, model = singular_model()
    x = clean_states(system, 4)
    with pytest.raises(SingularHessianError, match="singular or ill-conditioned"):
        model.accelerations(x)
    with pytest.raises(SingularHessianError, match="singular"):
        RK4Integrator(model, jit_compile=False).integrate(x, 0.01, 5)
    xs, ys = system.training_data(256)
    model.compile(optimizer="adam")
    with pytest.raises(SingularHessianError, match="training batch"):
        model.fit(make_dataset(xs, ys, 128), epochs=1, steps_per_epoch=2, verbose=0, callbacks=[HessianGuard()])


def test_bad_input_errors():
    system = get_system("kepler")
    model = network(system, "R", 0, dtype="float32", hidden=8)
    with pytest.raises(ValueError, match="shape"):
        model.accelerations(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        model.accelerations(np.full((3, 6), np.nan))
    with pytest.raises(ValueError, match="unknown system"):
        get_system("pendulum")
    with pytest.raises(ValueError, match="not available"):
        system.symmetry_layer("RT")
    with pytest.raises(ValueError, match="symmetry"):
        LagrangianNetwork("R")
