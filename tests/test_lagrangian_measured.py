"""Recorded trajectories for a Lagrangian network (lagrangian.measured, ``lagrangian.train --data``)."""

import csv
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.lagrangian_recorded import planar_orbits
from lagrangian.measured import (LEARNED_R2, RESTART_SEED_STEP, MeasuredSystem, Trajectories, TrajectoryDataError,
                                 double_pendulum_trajectories, fit_measured, load_trajectories)

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def kepler_orbits(n=3, t_final=12.0, dt=0.05, seed=0):
    """Planar orbits in the potential -1/r: (trajectory, t, x, y, vx, vy, ax, ay) rows, exact."""
    return [(k, ti, *qi, *vi, *ai) for k, orbit in enumerate(planar_orbits(n, t_final, dt, seed))
            for ti, qi, vi, ai in zip(*orbit)]


def write_csv(path, rows, header=("trajectory", "t", "x", "y", "vx", "vy", "ax", "ay"), keep=None):
    keep = list(range(len(header))) if keep is None else keep
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([header[j] for j in keep])
        w.writerows([[r[j] for j in keep] for r in rows])
    return str(path)


@pytest.fixture
def orbits_csv(tmp_path):
    """Positions only, as a camera would record them."""
    return write_csv(tmp_path / "orbits.csv", kepler_orbits(), keep=[0, 1, 2, 3])


def test_estimated_derivatives_match_the_exact_motion(tmp_path):
    rows = kepler_orbits(n=2, t_final=6.0, dt=0.01)
    data = load_trajectories(write_csv(tmp_path / "fine.csv", rows, keep=[0, 1, 2, 3]))
    assert data.estimated == ("velocities", "accelerations") and data.coordinates == ["x", "y"]
    x, a = data.arrays()
    exact = np.array([r[4:] for r in rows])
    assert x.shape == (len(rows), 4) and a.shape == (len(rows), 2)
    np.testing.assert_allclose(x[:, :2], np.array([r[2:4] for r in rows]), rtol=1e-6)
    v_err = np.max(np.abs(x[:, 2:] - exact[:, :2])) / np.max(np.abs(exact[:, :2]))
    a_err = np.max(np.abs(a - exact[:, 2:])) / np.max(np.abs(exact[:, 2:]))
    assert v_err < 1e-4 and a_err < 5e-3  # measured 4e-5 and 2.2e-3 at this step (cubic, 9 points)


def _accel_r2(data, rows):
    exact = np.array([r[6:] for r in rows])
    a = data.arrays()[1]
    return 1 - np.sum((a - exact) ** 2) / np.sum((exact - exact.mean(axis=0)) ** 2)


def test_the_automatic_window_smooths_a_noisy_record_more(tmp_path):
    rows = kepler_orbits()  # radius ~1, every 0.05
    noise = np.random.default_rng(1).normal(0.0, 1e-2, (len(rows), 2))
    noisy = [(*r[:2], *(np.array(r[2:4]) + n), *r[4:]) for r, n in zip(rows, noise)]
    clean = load_trajectories(write_csv(tmp_path / "clean.csv", rows, keep=[0, 1, 2, 3]))
    path = write_csv(tmp_path / "noisy.csv", noisy, keep=[0, 1, 2, 3])
    auto, narrow = load_trajectories(path), load_trajectories(path, window=9)
    assert clean.window <= 9 and auto.window >= 15 and narrow.window == 9
    # the second derivative of 1 % position noise: a narrow window amplifies it, the chosen one does not
    assert _accel_r2(clean, rows) > 0.999 and _accel_r2(auto, rows) > 0.95 > 0.8 > _accel_r2(narrow, rows)


def test_given_derivative_columns_are_taken_as_they_are(tmp_path):
    rows = kepler_orbits(n=2)
    data = load_trajectories(write_csv(tmp_path / "full.csv", rows), positions="x,y", velocities=["vx", "vy"],
                             accelerations="ax,ay")
    x, a = data.arrays()
    assert data.estimated == () and data.labels == ["0", "1"] and data.window is None
    np.testing.assert_allclose(a, np.array([r[6:] for r in rows]), rtol=1e-6)
    np.testing.assert_allclose(x[:, 2:], np.array([r[4:6] for r in rows]), rtol=1e-6)


def test_split_holds_out_the_end_of_every_trajectory(orbits_csv):
    data = load_trajectories(orbits_csv)
    train, test = data.split(0.25)
    for k in range(3):
        n = len(data.times[k])
        assert len(test.times[k]) == round(0.25 * n) and len(train.times[k]) + len(test.times[k]) == n
        assert train.times[k][-1] < test.times[k][0]
        np.testing.assert_array_equal(np.concatenate([train.states[k], test.states[k]]), data.states[k])
    assert train.name == "orbits_train" and test.name == "orbits_test"


def test_trajectories_made_by_hand_must_be_consistent(orbits_csv):
    data = load_trajectories(orbits_csv)
    assert Trajectories(data.times, data.states, data.accelerations, data.coordinates, data.labels).d == 2
    cases = [
        (dict(labels=data.labels[:-1]), "one entry per trajectory"),
        (dict(states=[s[:, :3] for s in data.states]), r"needs times \(T,\), states \(T, 4\)"),
        (dict(accelerations=[a[:-1] for a in data.accelerations]), "accelerations"),
        (dict(periodic=(2,)), r"periodic coordinate indices \[2\] are not in \[0, 2\)"),
    ]
    for change, message in cases:
        with pytest.raises(TrajectoryDataError, match=message):
            dataclasses.replace(data, **change)


@pytest.mark.parametrize("content, kwargs, message", [
    ("trajectory,time,x\n0,0,1\n0,1,2\n", {}, "no time column 't'"),
    ("t,x\n0,1\n0.1,2\n", {"positions": "x,z"}, "unknown position column(s) ['z']"),
    ("t,x,y,vx\n0,1,2,3\n", {"positions": "x,y", "velocities": "vx"}, "1 velocity column(s) ['vx'] for 2 positions"),
    ("t,x\n0,1\n0.1,oops\n", {}, "column 'x' has a non-numeric value 'oops'"),
    ("t,x\n0,1\n0.1,nan\n", {}, "column 'x' has a non-finite value in data row 2"),
    ("t,x\n" + "".join(f"{t},{t * t}\n" for t in (0, 0.1, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)), {},
     "not evenly spaced in time"),
    ("t,x\n0,1\n0.1,2\n0.1,3\n", {}, "times of trajectory 0 do not increase strictly"),
    ("trajectory,t,x\na,0,1\nb,0,1\na,1,2\nb,1,2\n", {}, "rows of trajectory 'a' are not contiguous"),
    ("t,x\n" + "".join(f"{t / 10},{t}\n" for t in range(6)), {"window": 9}, "fewer than the derivative window of 9"),
    ("t,x\n0,1\n0.1,2\n0.2,4\n0.3,8\n", {}, "a trajectory has 4 rows; estimating derivatives needs at least 5"),
    ("t,x\n0,1\n", {"velocities": "x", "accelerations": "x", "positions": "x"}, "has one row"),
    ("t,x,y\n0,1\n", {}, "line 2 has 2 fields, the header has 3"),
    ("t,x\n", {}, "header but no data rows"),
])
def test_bad_files_name_the_problem(tmp_path, content, kwargs, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(TrajectoryDataError) as err:
        load_trajectories(path, **kwargs)
    assert message in str(err.value)


def test_bad_options_and_missing_files(tmp_path, orbits_csv):
    with pytest.raises(FileNotFoundError, match="no such trajectory file"):
        load_trajectories(tmp_path / "missing.csv")
    with pytest.raises(TrajectoryDataError, match="window must be 'auto' or an odd integer >= 5"):
        load_trajectories(orbits_csv, window=4)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(TrajectoryDataError, match="unsupported file type '.json'"):
        load_trajectories(tmp_path / "x.json")
    np.savez(tmp_path / "ragged.npz", t=np.arange(5.0), x=np.arange(4.0))
    with pytest.raises(TrajectoryDataError, match="columns of one length, got lengths"):
        load_trajectories(tmp_path / "ragged.npz")
    with pytest.raises(TrajectoryDataError, match="test_fraction must lie strictly between 0 and 1"):
        load_trajectories(orbits_csv).split(1.0)


def test_npz_and_blank_separated_files_load_like_csv(tmp_path):
    rows = kepler_orbits(n=1, t_final=3.0)
    arr = np.array(rows, dtype=float)
    np.savez(tmp_path / "o.npz", t=arr[:, 1], x=arr[:, 2], y=arr[:, 3])
    (tmp_path / "o.txt").write_text("t x y\r\n" + "".join(f"{float(r[1])!r} {float(r[2])!r} {float(r[3])!r}\r\n" for r in rows))
    a, b, c = (load_trajectories(tmp_path / name) for name in ("o.npz", "o.txt", write_csv(
        tmp_path / "o.csv", rows, keep=[1, 2, 3])))
    for other in (b, c):
        np.testing.assert_allclose(other.arrays()[0], a.arrays()[0])
        np.testing.assert_allclose(other.arrays()[1], a.arrays()[1])


def test_the_shipped_double_pendulum_record():
    data = double_pendulum_trajectories()
    assert data.coordinates == ["t1", "t2"] and data.estimated == () and len(data) == 819
    x, a = data.arrays()
    # the file's velocities are the time derivatives of its angles (finite differences agree)
    slope = np.gradient(x[:, 0], data.times[0])
    assert np.corrcoef(slope, x[:, 2])[0, 1] > 0.999
    with pytest.raises(TrajectoryDataError, match="unknown trial 7"):
        double_pendulum_trajectories(trial=7)


def test_measured_system_offers_the_record_to_training_and_rollout(orbits_csv):
    train, test = load_trajectories(orbits_csv).split(0.2)
    system = MeasuredSystem(train, test, dim=2, symmetry="R")
    assert (system.d, system.dim, system.n_particles, system.charge_names) == (2, 2, 1, ("L",))
    assert system.symmetries == ("none", "R") and system.true_momentum is None
    x, y = system.training_data(10 ** 6)
    assert x.shape == (len(train), 4) and y.shape == (len(train), 2)
    # length and speed: root mean squares of the positions and velocities
    assert system.input_scale[0] == pytest.approx(np.sqrt(np.mean(x[:, :2] ** 2)), rel=1e-6)
    # the reference is the held-out record itself at the record's own times
    step = system.record_step()
    ref = system.reference(system.duration(), step)
    np.testing.assert_allclose(ref, test.states[0], atol=1e-9)
    np.testing.assert_allclose(system.initial_state(), test.states[0][0])
    p = np.array([[0.0, 1.0]])
    assert system.charges(np.array([[2.0, 0.0, 0.0, 0.0]]), p)["L"][0] == pytest.approx(-2.0)
    assert MeasuredSystem(train, test, dim=1, symmetry="RT").charge_names == ("M",)
    with pytest.raises(TrajectoryDataError, match="symmetry 'T' needs two particles or more"):
        MeasuredSystem(train, test, symmetry="T")
    with pytest.raises(TrajectoryDataError, match="dim=3 does not divide the 2 coordinates"):
        MeasuredSystem(train, test, dim=3)
    one = dataclasses.replace(test, coordinates=test.coordinates[:1], states=[s[:, [0, 2]] for s in test.states],
                              accelerations=[a[:, :1] for a in test.accelerations])
    with pytest.raises(TrajectoryDataError, match="held-out record must have the training record's coordinates"):
        MeasuredSystem(train, one)


class _FakeModel:
    def __init__(self, good):
        self.good = good

    def accelerations(self, x):
        y = -x[:, :2] / np.linalg.norm(x[:, :2], axis=1, keepdims=True) ** 3
        return y if self.good else np.zeros_like(y)


def test_fit_measured_restarts_a_run_that_learned_nothing(orbits_csv, monkeypatch):
    import lagrangian.training
    from lagrangian.model import SingularHessianError

    system = MeasuredSystem(*load_trajectories(orbits_csv).split(0.2), dim=2, symmetry="R")
    seeds = []

    def fake_train(system, symmetry, seed=0, **kwargs):
        seeds.append(seed)
        return _FakeModel(good=seed != 5), {"loss": [float(seed)]}

    monkeypatch.setattr(lagrangian.training, "train_model", fake_train)
    model, history, attempts = fit_measured(system, seed=5, restarts=2)
    assert seeds == [5, 5 + RESTART_SEED_STEP] and model.good and history["loss"] == [5.0 + RESTART_SEED_STEP]
    assert attempts[0]["r2_train"] < LEARNED_R2 <= attempts[1]["r2_train"]
    seeds.clear()

    class Singular:
        def accelerations(self, x):
            raise SingularHessianError("singular")

    def singular_train(system, symmetry, seed=0, **kwargs):
        seeds.append(seed)
        return Singular(), {}

    monkeypatch.setattr(lagrangian.training, "train_model", singular_train)
    model, _, attempts = fit_measured(system, seed=5, restarts=1)  # a singular network scores NaN: restarted
    assert seeds == [5, 5 + RESTART_SEED_STEP] and all(np.isnan(a["r2_train"]) for a in attempts)
    monkeypatch.setattr(lagrangian.training, "train_model", fake_train)
    seeds.clear()
    model, _, attempts = fit_measured(system, seed=5, restarts=0)
    assert seeds == [5] and not model.good and len(attempts) == 1
    with pytest.raises(ValueError, match="restarts must be a non-negative integer"):
        fit_measured(system, restarts=-1)


def test_scale_divides_the_inputs_and_keeps_the_data_units(tmp_path):
    import keras
    import tensorflow as tf

    from lagrangian.model import LagrangianNetwork
    from lagrangian.symmetry import RotationInvariant

    keras.utils.set_random_seed(0)
    plain = LagrangianNetwork(RotationInvariant(dim=2), hidden_units=16, dtype="float64")
    scaled = LagrangianNetwork(RotationInvariant(dim=2), hidden_units=16, dtype="float64", scale=(0.5, 2.0))
    scaled.set_weights(plain.get_weights())
    x = np.random.default_rng(0).normal(size=(5, 4))
    inner = np.concatenate([x[:, :2] / 0.5, x[:, 2:] / 2.0], axis=1)
    # L(q, q̇) = N(q / ℓ, q̇ / v): q̈ = (v² / ℓ) q̈_N and p = p_N / v
    np.testing.assert_allclose(scaled.accelerations(x), plain.accelerations(inner) * 2.0 ** 2 / 0.5, rtol=1e-9)
    np.testing.assert_allclose(scaled.momentum(tf.constant(x)).numpy(), plain.momentum(tf.constant(inner)).numpy() / 2.0,
                               rtol=1e-9)
    scaled.save(tmp_path / "s.keras")
    back = keras.models.load_model(tmp_path / "s.keras")
    assert back.scale == (0.5, 2.0)
    np.testing.assert_allclose(back.accelerations(x), scaled.accelerations(x), rtol=1e-9)
    with pytest.raises(ValueError, match="scale must be two finite positive numbers"):
        LagrangianNetwork(RotationInvariant(dim=2), scale=(1.0, 0.0))


@pytest.mark.slow
def test_training_on_recorded_orbits_learns_them_and_conserves_the_charge(orbits_csv):
    from lagrangian.experiment import evaluate, final_numbers
    from lagrangian.measured import acceleration_r2

    system = MeasuredSystem(*load_trajectories(orbits_csv).split(0.2), dim=2, symmetry="R")
    model, _, attempts = fit_measured(system, seed=1, epochs=20, steps_per_epoch=100, sigma=0.0)
    assert acceleration_r2(model, system.test) > 0.9  # 0.999, 0.93 (after a restart), 0.963 on seeds 1-3
    out = evaluate(model, system, system.duration(), dt=system.record_step() / 10, jit_compile=False)
    numbers = final_numbers(out)
    # R makes the network's angular momentum exact: what is left is the RK4 error (4e-6 to 1e-5 on seeds 1-3)
    assert numbers["dL_NN_max"] < 1e-4
    assert "L_true" not in out["delta"] and np.isfinite(numbers["dref_max"]) and not numbers["breakdown"]
    # time translation: the network's own energy holds along its run; along the recorded orbit it holds as
    # well as the network describes that motion
    assert "E_true" not in out["delta_energy"] and len(out["delta_energy"]["E_NN_ref"]) == len(out["ref"])
    assert numbers["dE_NN_max"] < 1e-4 and numbers["dE_NN_ref_max"] < 0.1  # seed 1: 1.7e-6 and 0.016


def _run(*args):
    return subprocess.run([sys.executable, "-m", "lagrangian.train", *args], capture_output=True, text=True,
                          env=ENV, timeout=600)


@pytest.mark.slow
def test_script_on_recorded_data_reports_the_fit_and_says_when_it_failed(orbits_csv, tmp_path):
    run_dir = tmp_path / "run"
    res = _run(f"--data={orbits_csv}", "--dim=2", "--symmetry=R", "--epochs=1", "--steps_per_epoch=3",
               "--hidden_units=8", "--restarts=0", "--verbose=0", f"--out_dir={run_dir}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "velocities and accelerations estimated" in res.stdout
    assert "WARNING: the network did not learn the dynamics" in res.stdout  # three steps learn nothing
    with open(run_dir / "results.json") as fh:
        out = json.load(fh)
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("accelerations, R² train / held-out: "))
    printed = [float(v) for v in line.split(": ")[1].split(" / ")]
    assert [out["metrics"]["acceleration_r2_train"], out["metrics"]["acceleration_r2_test"]] == pytest.approx(
        printed, abs=1e-4)
    assert printed[1] < 0.5  # and so the warning above
    assert out["data"]["coordinates"] == ["x", "y"] and out["data"]["symmetry"] == "R"
    assert out["data"]["window"] == 5 and [a["seed"] for a in out["metrics"]["attempts"]] == [0]
    assert "dref_final" in out["metrics"]["rollout"] and "dL_NN_final" in out["metrics"]["rollout"]
    assert (run_dir / "orbits_trajectories.png").stat().st_size > 0
    rollout = [sys.executable, "-m", "lagrangian.rollout", f"--model={run_dir / 'model.keras'}", "--nojit_compile"]
    res = subprocess.run(rollout + [f"--out_dir={tmp_path / 'ro'}"], capture_output=True, text=True, env=ENV,
                         timeout=600)
    assert res.returncode == 2 and "was trained on recorded data ('orbits'): pass the same --data" in res.stderr
    res = subprocess.run(rollout + [f"--data={orbits_csv}", f"--out_dir={tmp_path / 'ro'}"], capture_output=True,
                         text=True, env=ENV, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    with open(tmp_path / "ro" / "rollout.json") as fh:
        again = json.load(fh)["metrics"]
    # the same network from the same held-out state over the same record: the training run's numbers again
    assert again["dref_max"] == pytest.approx(out["metrics"]["rollout"]["dref_max"], rel=1e-3)
    assert again["t_final"] == pytest.approx(out["metrics"]["rollout"]["t_final"])
    res = _run("--system=kepler", f"--data={orbits_csv}")
    assert res.returncode == 2 and "error: --system and --data exclude each other" in res.stderr
    res = _run(f"--data={orbits_csv}", "--symmetry=T")
    assert res.returncode == 2 and "symmetry 'T' needs two particles or more" in res.stderr
    res = _run(f"--data={tmp_path / 'none.csv'}")
    assert res.returncode == 2 and "no such trajectory file" in res.stderr


def pendulum_rows(t_final=6.0, dt=0.01, omega0=4.0):
    """A simple pendulum (θ̈ = −sin θ) started fast enough to turn over: (t, θ, θ̇, θ̈) rows, θ unwrapped."""
    from scipy.integrate import solve_ivp

    t = np.arange(0.0, t_final + 1e-9, dt)
    sol = solve_ivp(lambda _, y: [y[1], -np.sin(y[0])], (0.0, t[-1]), [0.0, omega0], t_eval=t, rtol=1e-11, atol=1e-11)
    return t, sol.y[0], sol.y[1], -np.sin(sol.y[0])


def test_periodic_angles_are_unwrapped_before_their_derivatives_are_estimated(tmp_path):
    t, theta, omega, alpha = pendulum_rows()
    assert theta[-1] > 4 * np.pi  # it turns over: a wrapped record jumps by 2π several times
    wrapped = np.angle(np.exp(1j * theta))  # in (−π, π], as an encoder stores it
    path = write_csv(tmp_path / "p.csv", list(zip(t, wrapped)), header=("t", "theta"))
    data = load_trajectories(path, periodic="theta")
    assert data.periodic == (0,)
    x, a = data.arrays()
    np.testing.assert_allclose(x[:, 0], theta - theta[0] + wrapped[0], atol=1e-5)  # unwrapped again
    assert np.max(np.abs(x[:, 1] - omega)) < 1e-3 and np.max(np.abs(a[:, 0] - alpha)) < 1e-2
    raw = load_trajectories(path)  # the same file without --periodic: the jumps wreck the derivatives
    assert np.max(np.abs(raw.arrays()[0][:, 1] - omega)) > 10
    assert load_trajectories(path, periodic=[0]).periodic == (0,)
    with pytest.raises(TrajectoryDataError, match="periodic column 'phi' is not a position column"):
        load_trajectories(path, periodic="phi")
    with pytest.raises(TrajectoryDataError, match="periodic coordinate index 3"):
        load_trajectories(path, periodic=[3])


def test_periodic_coordinates_make_the_lagrangian_periodic_exactly(tmp_path):
    import keras

    from lagrangian.model import LagrangianNetwork
    from lagrangian.symmetry import NoSymmetry, RotationInvariant

    keras.utils.set_random_seed(0)
    model = LagrangianNetwork(NoSymmetry(dim=2), hidden_units=16, dtype="float64", periodic=[1], scale=(0.5, 2.0))
    x = np.random.default_rng(0).normal(size=(6, 4))
    turned = x + np.array([0.0, 2 * np.pi, 0.0, 0.0])  # q2 one turn further: the same physical state
    np.testing.assert_allclose(model(turned).numpy(), model(x).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.accelerations(turned), model.accelerations(x), rtol=1e-9, atol=1e-12)
    shifted = x + np.array([2 * np.pi, 0.0, 0.0, 0.0])  # q1 is a length: not periodic
    assert np.max(np.abs(model(shifted).numpy() - model(x).numpy())) > 1e-3
    model.save(tmp_path / "p.keras")
    back = keras.models.load_model(tmp_path / "p.keras")
    assert back.periodic == (1,)
    np.testing.assert_allclose(back.accelerations(x), model.accelerations(x), rtol=1e-9)
    both = LagrangianNetwork(NoSymmetry(dim=2), hidden_units=16, dtype="float64", periodic=[0, 1])  # a pendulum's
    np.testing.assert_allclose(both.accelerations(x + np.array([2 * np.pi, -4 * np.pi, 0.0, 0.0])),
                               both.accelerations(x), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="need the symmetry layer NoSymmetry"):
        LagrangianNetwork(RotationInvariant(dim=2), periodic=[0])
    with pytest.raises(ValueError, match=r"periodic must list coordinate indices in \[0, 2\)"):
        LagrangianNetwork(NoSymmetry(dim=2), periodic=[2])


def test_measured_system_with_angles(tmp_path):
    t, theta, _, _ = pendulum_rows()
    rows = list(zip(t, np.angle(np.exp(1j * theta)), 0.5 + 0.1 * np.sin(t)))
    data = load_trajectories(write_csv(tmp_path / "p.csv", rows, header=("t", "theta", "r")), periodic="theta")
    train, test = data.split(0.2)
    system = MeasuredSystem(train, test)
    assert system.periodic == (0,)
    x = train.arrays()[0]
    assert system.input_scale[0] == pytest.approx(np.sqrt(np.mean(x[:, 1] ** 2)), rel=1e-6)  # r only
    a, b = np.zeros((1, 4)), np.zeros((1, 4))
    a[0, :2], b[0, :2] = (np.pi - 0.1, 0.3), (-np.pi + 0.1, 0.1)
    np.testing.assert_allclose(system.position_gap(a, b), [[-0.2, 0.2]], atol=1e-12)  # across ±π, not 2π − 0.2
    with pytest.raises(TrajectoryDataError, match=r"\['theta'\] are angles \(periodic\): use symmetry none"):
        MeasuredSystem(train, test, symmetry="R")
    from lagrangian.training import build_model

    assert build_model(system, "none", hidden_units=8).periodic == (0,)
    shipped = double_pendulum_trajectories()
    assert shipped.periodic == (0, 1) and double_pendulum_trajectories(periodic=None).periodic == ()


@pytest.mark.slow
def test_script_reads_angles_and_the_rollout_keeps_them(tmp_path):
    t, theta, _, _ = pendulum_rows()
    path = write_csv(tmp_path / "p.csv", list(zip(t, np.angle(np.exp(1j * theta)))), header=("t", "theta"))
    run_dir = tmp_path / "run"
    res = _run(f"--data={path}", "--periodic=theta", "--epochs=1", "--steps_per_epoch=3", "--hidden_units=8",
               "--restarts=0", "--verbose=0", f"--out_dir={run_dir}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "angles ['theta'] read as cos and sin" in res.stdout
    with open(run_dir / "results.json") as fh:
        out = json.load(fh)
    rollout = [sys.executable, "-m", "lagrangian.rollout", f"--model={run_dir / 'model.keras'}", "--nojit_compile",
               f"--data={path}"]
    res = subprocess.run(rollout + [f"--out_dir={tmp_path / 'ro'}"], capture_output=True, text=True, env=ENV,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]  # the model's angles, without --periodic again
    with open(tmp_path / "ro" / "rollout.json") as fh:
        assert json.load(fh)["metrics"]["dref_max"] == pytest.approx(out["metrics"]["rollout"]["dref_max"], rel=1e-3)
    res = subprocess.run(rollout + ["--periodic=", f"--out_dir={tmp_path / 'ro2'}"], capture_output=True, text=True,
                         env=ENV, timeout=600)
    assert res.returncode == 2 and "reads coordinates [0] as angles, --periodic names []" in res.stderr
    res = _run(f"--data={path}", "--periodic=theta", "--symmetry=R")
    assert res.returncode == 2 and "symmetry 'R'" in res.stderr
    res = _run("--data=double_pendulum", "--epochs=1", "--steps_per_epoch=2", "--hidden_units=8", "--restarts=0",
               "--verbose=0", "--out_dir=")
    assert res.returncode == 0 and "angles ['t1', 't2'] read as cos and sin" in res.stdout, res.stderr[-2000:]
