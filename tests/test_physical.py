"""Physical systems (Lotka-Volterra, Kepler, Kepler with fixed L, Kepler+) and the measured double pendulum."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from conserve_tf import physical as P
from conserve_tf import pendulum as DP
from conserve_tf.groups import GroupedData
from conserve_tf.systems import make_system

G, M = 6, 30  # small data: every generator runs in well under a second


def _drift_ratio(inv, c):
    """max over groups of (max - min) of an invariant within a group, over the spread of the constants."""
    return np.max(inv.max(axis=1) - inv.min(axis=1)) / np.std(c)


# ----------------------------------------------------------------------------- Lotka-Volterra
def test_lotka_volterra_invariant_is_conserved_along_the_data():
    d = P.lotka_volterra(G, M, seed=1)
    assert isinstance(d, GroupedData) and d.x.shape == (G, M, 2) and d.c.shape == (G,)
    inv = P.lotka_volterra_invariant(d.x)
    assert _drift_ratio(inv, d.c) < 1e-6
    np.testing.assert_allclose(inv, np.repeat(d.c[:, None], M, axis=1), atol=1e-6 * np.std(d.c))
    assert np.all(d.x > 0)  # populations stay positive
    np.testing.assert_allclose(d.scale, [0.1, 0.1])
    assert d.params["seed"] == 1 and d.params["members"] == M and d.params["alpha"] == 1.1


def test_lotka_volterra_invariant_has_zero_time_derivative_and_the_printed_form_does_not():
    a, b, dl, gm = (P.LV_PARAMS[k] for k in ("alpha", "beta", "delta", "gamma"))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0.5, 20, 200), rng.uniform(0.5, 20, 200)
    xdot, ydot = a * x - gm * x * y, -b * y + dl * x * y
    # dC/dt = dC/dx xdot + dC/dy ydot for C = a ln y + b ln x - gm y - dl x (analytic gradient)
    dc = (b / x - dl) * xdot + (a / y - gm) * ydot
    np.testing.assert_allclose(dc, 0.0, atol=1e-12)
    C = a * np.log(y) + b * np.log(x) - gm * y - dl * x
    np.testing.assert_allclose(P.lotka_volterra_invariant(np.stack([x, y], axis=1)), C, rtol=1e-14)
    # the paper's print C = a ln x + dl ln y - b x - gm y is not conserved
    dc_print = (a / x - b) * xdot + (dl / y - gm) * ydot
    assert np.max(np.abs(dc_print)) > 1.0


# ----------------------------------------------------------------------------- Kepler
def test_kepler_both_invariants_are_conserved_and_orbits_bound():
    d = P.kepler(G, M, seed=2)
    assert d.x.shape == (G, M, 4) and d.c.shape == (G, 2) and d.constant_names == ["L", "E"]
    L, E = P.kepler_invariants(d.x)
    assert _drift_ratio(L, d.c[:, 0]) < 1e-6
    assert _drift_ratio(E, d.c[:, 1]) < 1e-6
    np.testing.assert_allclose(L, np.repeat(d.c[:, :1], M, axis=1), atol=1e-6 * np.std(d.c[:, 0]))
    np.testing.assert_allclose(E, np.repeat(d.c[:, 1:], M, axis=1), atol=1e-6 * np.std(d.c[:, 1]))
    Lc, Ec = d.c[:, 0], d.c[:, 1]
    e = np.sqrt(1 + 2 * Ec * Lc**2)
    assert np.all(Ec < 0) and np.all(e < 0.99)
    assert np.all(np.abs(d.x[:, 0, :]) <= 5)  # initial states from U(-5, 5)
    np.testing.assert_allclose(d.scale, [0.1, 0.1, 1, 1])


def test_kepler_members_cover_one_orbit():
    d = P.kepler(G, M, seed=3)
    period = np.asarray(d.params["periods"])
    np.testing.assert_allclose(period, 2 * np.pi * (-1 / (2 * d.c[:, 1])) ** 1.5)  # Kepler's third law
    for k in range(G):  # one more sample interval T/M after the last member closes the ellipse
        sol = solve_ivp(lambda t, s: [s[2], s[3], *(-s[:2] / np.hypot(*s[:2]) ** 3)], (0, period[k] / M),
                        d.x[k, -1], method="DOP853", rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(sol.y[:, -1], d.x[k, 0], atol=1e-6)
        assert np.max(np.linalg.norm(d.x[k, 1:, :2] - d.x[k, :1, :2], axis=1)) > 0.1  # and does not stand still


def test_kepler_fixed_l_has_l_fixed_and_energy_conserved():
    d = P.kepler_fixed_l(G, M, seed=4)
    L, E = P.kepler_invariants(d.x)
    np.testing.assert_allclose(L, -1.5, atol=1e-9)
    assert d.c.shape == (G,) and d.constant_names == ["E"] and d.params["L"] == -1.5
    assert _drift_ratio(E, d.c) < 1e-6
    np.testing.assert_allclose(E[:, 0], d.c, atol=1e-12)


def test_kepler_plus_is_the_same_physics_as_kepler():
    cart, polar = P.kepler(G, M, seed=5), P.kepler_plus(G, M, seed=5)
    assert polar.feature_names == ["r", "rdot", "theta", "thetadot"]
    np.testing.assert_allclose(P.polar_to_cartesian(polar.x), cart.x, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(polar.c, cart.c)
    r, rdot, _, thdot = (polar.x[..., i] for i in range(4))
    np.testing.assert_allclose(r**2 * thdot, cart.c[:, :1] * np.ones((1, M)), atol=1e-6 * np.std(cart.c[:, 0]))
    E = 0.5 * (rdot**2 + r**2 * thdot**2) - 1 / r
    assert _drift_ratio(E, cart.c[:, 1]) < 1e-6
    np.testing.assert_allclose(P.cartesian_to_polar(P.polar_to_cartesian(polar.x)), polar.x, atol=1e-10)


# ----------------------------------------------------------------------------- options
@pytest.mark.parametrize("gen", [P.lotka_volterra, P.kepler, P.kepler_fixed_l, P.kepler_plus])
def test_euler_option_runs_from_the_same_initial_states(gen):
    exact, euler = gen(3, 10, seed=6), gen(3, 10, seed=6, integrator="euler")
    assert euler.x.shape == exact.x.shape and np.all(np.isfinite(euler.x))
    assert euler.params["integrator"] == "euler" and euler.params["dt"] == 0.01
    np.testing.assert_allclose(euler.x[:, 0], exact.x[:, 0])  # same draws, same first member
    np.testing.assert_allclose(euler.c, exact.c)
    assert not np.allclose(euler.x[:, -1], exact.x[:, -1], atol=1e-6)  # first-order scheme does differ


def test_euler_drifts_more_than_solve_ivp():
    exact, euler = P.lotka_volterra(4, 20, seed=7), P.lotka_volterra(4, 20, seed=7, integrator="euler")
    assert _drift_ratio(P.lotka_volterra_invariant(euler.x), euler.c) > 1e3 * _drift_ratio(
        P.lotka_volterra_invariant(exact.x), exact.c)


@pytest.mark.parametrize("gen", [P.lotka_volterra, P.kepler, P.kepler_plus])
def test_noise_option_adds_seeded_gaussian_noise_of_size_s(gen):
    s = 0.05
    clean, noisy = gen(G, M, seed=8), gen(G, M, seed=8, noise=s)
    diff = noisy.x - clean.x
    assert abs(diff.std() - s) < 0.1 * s and abs(diff.mean()) < 0.1 * s
    np.testing.assert_array_equal(noisy.c, clean.c)
    assert noisy.params["noise"] == s
    np.testing.assert_array_equal(gen(G, M, seed=8, noise=s).x, noisy.x)  # reproducible
    assert not np.array_equal(gen(G, M, seed=9, noise=s).x, noisy.x)


@pytest.mark.parametrize("kwargs, word", [
    (dict(groups=0), "groups"), (dict(members=1), "members"), (dict(integrator="rk4"), "integrator"),
    (dict(noise=-1.0), "noise"), (dict(noise=float("nan")), "noise")])
def test_bad_arguments_are_clear_errors(kwargs, word):
    for gen in (P.lotka_volterra, P.kepler):
        with pytest.raises(ValueError, match=word):
            gen(**kwargs)
    with pytest.raises(ValueError, match="max_eccentricity"):
        P.kepler(2, 5, max_eccentricity=1.5)


# ----------------------------------------------------------------------------- double pendulum
def test_load_double_pendulum_trials():
    d = DP.load_double_pendulum()
    assert d.x.shape == (1, 819, 4) and d.c is None and d.feature_names == list(DP.FEATURES)
    t = d.params["times"]
    assert t.shape == (819,) and t[0] == 0 and abs(t[-1] - 8.86) < 0.01 and np.all(np.diff(t) > 0)
    np.testing.assert_allclose(d.scale, [1, 1, 0.1, 0.1])
    d1 = DP.load_double_pendulum(trial=1)
    assert d1.n_members == 701 and d1.params["times"][0] > 23


def test_double_pendulum_split_is_first_80_percent():
    full = DP.load_double_pendulum()
    train, test = DP.double_pendulum_split()
    assert (train.n_members, test.n_members) == (655, 164)
    np.testing.assert_array_equal(np.concatenate([train.x, test.x], axis=1), full.x)  # data not rescaled
    np.testing.assert_allclose(train.scale, [1, 1, 0.1, 0.1])
    assert train.params["times"][-1] < test.params["times"][0]
    assert test.params["times"].shape == (164,)


def _write(path, text):
    path.write_bytes(text.replace("\n", "\r\n").encode())
    return path


HEADER = "trial time t1 t2 o1 o2 td1 td2 od1 od2\n"
ROW = "0 {t} 0.1 0.2 0.3 0.4 0.3 0.4 1 2\n"


def test_user_file_with_crlf_loads(tmp_path):
    p = _write(tmp_path / "dp.txt", HEADER + "".join(ROW.format(t=0.01 * i) for i in range(5)))
    d = DP.load_double_pendulum(path=p)
    assert d.x.shape == (1, 5, 4)
    np.testing.assert_allclose(d.x[0, 0], [0.1, 0.2, 0.3, 0.4])


@pytest.mark.parametrize("text, message", [
    ("trial time t1 t2 o1 td1\n" + "0 0 1 2 3 4\n0 1 1 2 3 4\n", r"missing column.*o2"),
    (HEADER + ROW.format(t=0) + "0 0.01 0.1 abc 0.3 0.4 0.3 0.4 1 2\n", r"line 3.*'t2'.*non-numeric.*abc"),
    (HEADER + ROW.format(t=0) + "0 0.01 0.1 0.2\n", r"line 3 has 4 fields"),
    (HEADER, "no data rows"),
    ("", "empty"),
])
def test_bad_double_pendulum_files_are_clear_errors(tmp_path, text, message):
    p = _write(tmp_path / "bad.txt", text)
    with pytest.raises(ValueError, match=message):
        DP.load_double_pendulum(path=p)


def test_unknown_trial_and_missing_file_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown trial 5.*\[0, 1\]"):
        DP.load_double_pendulum(trial=5)
    with pytest.raises(FileNotFoundError, match="no such"):
        DP.load_double_pendulum(path=tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="train_fraction"):
        DP.double_pendulum_split(train_fraction=1.2)


def test_ideal_energy_is_conserved_by_the_double_pendulum_equations_of_motion():
    m1, m2, l1, l2, g = 1.0, 0.7, 1.2, 0.8, 9.81
    sol = solve_ivp(lambda _, s: DP.double_pendulum_rhs(s[None], m1, m2, l1, l2, g)[0], (0, 5), [1.0, -0.5, 0.3, 2.0],
                    method="DOP853", rtol=1e-11, atol=1e-11, t_eval=np.linspace(0, 5, 200))
    E = DP.double_pendulum_energy(sol.y.T, m1=m1, m2=m2, l1=l1, l2=l2, g=g)
    assert np.ptp(E) < 1e-8 * np.ptp(DP.double_pendulum_energy(sol.y.T * [1, 1, 0, 0], m1, m2, l1, l2, g))
    feats = DP.double_pendulum_energy_features(sol.y.T)
    coef = [0.5 * (m1 + m2) * l1**2, 0.5 * m2 * l2**2, m2 * l1 * l2, -(m1 + m2) * g * l1, -m2 * g * l2]
    np.testing.assert_allclose(feats @ coef, E, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="last axis of 4"):
        DP.double_pendulum_energy(np.zeros((3, 2)))


def test_double_pendulum_small_oscillations_have_the_normal_mode_frequencies():
    # m = l = 1: linearized about the bottom, the two modes have ω² = g (2 ± √2)
    eps, g = 1e-6, 9.81
    jac = np.column_stack([(DP.double_pendulum_rhs(eps * e[None]) - DP.double_pendulum_rhs(-eps * e[None]))[0]
                           / (2 * eps) for e in np.eye(4)])
    freqs = np.sort(np.abs(np.linalg.eigvals(jac).imag))[::2]
    np.testing.assert_allclose(freqs, np.sqrt(g * (2 + np.array([-1, 1]) * np.sqrt(2))), rtol=1e-6)


def test_simulated_double_pendulum_groups_keep_their_energy():
    data = DP.simulated_double_pendulum(groups=5, members=40, seed=3, horizon=20.0)
    assert data.x.shape == (5, 40, 4) and data.feature_names == list(DP.FEATURES) and data.constant_names == ["E"]
    E = DP.double_pendulum_energy(data.x)
    assert np.max(np.abs(E - data.c[:, None])) < 1e-8 * np.ptp(data.c)  # one energy per trajectory
    assert np.all((data.c >= -9.81) & (data.c <= 19.62)) and np.ptp(data.c) > 5.0
    assert np.all(np.abs(data.x[..., :2]) <= np.pi) and np.ptp(data.x[..., 2:]) > 5.0  # wrapped angles, fast swings
    np.testing.assert_array_equal(data.scale, [1.0, 1.0, 0.1, 0.1])
    np.testing.assert_array_equal(data.x, make_system("double_pendulum_sim", 5, 40, seed=3, horizon=20.0).x)
    with pytest.raises(ValueError, match="energy must be a range"):
        DP.simulated_double_pendulum(groups=2, members=5, energy=(5.0, 1.0))
    with pytest.raises(ValueError, match="horizon must be a positive"):
        DP.simulated_double_pendulum(groups=2, members=5, horizon=0.0)
