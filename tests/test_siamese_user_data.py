"""benchmarks.siamese_user_data: its Lorentz transformations and event pairs, and the --quick run of the script."""

import csv
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks.siamese_user_data import ETA, benchmark, boosts, user_events, user_lorentz  # noqa: E402


def test_boosts_keep_the_metric_move_along_their_direction_only_and_have_the_stated_rapidity():
    rng = np.random.default_rng(0)
    n = rng.normal(size=(50, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    phi = rng.uniform(-1.5, 1.5, 50)
    lam = boosts(n, phi)
    np.testing.assert_allclose(np.einsum("nji,jk,nkl->nil", lam, ETA, lam), np.broadcast_to(ETA, lam.shape),
                               atol=1e-10)
    np.testing.assert_allclose(np.linalg.det(lam), 1.0, atol=1e-10)
    np.testing.assert_allclose(lam[:, 0, 0], np.cosh(phi))
    side = np.cross(n, rng.normal(size=(50, 3)))  # a spatial vector orthogonal to the boost is left alone
    moved = np.einsum("nij,nj->ni", lam, np.concatenate([np.zeros((50, 1)), side], axis=1))
    np.testing.assert_allclose(moved[:, 1:], side, atol=1e-10)
    np.testing.assert_allclose(moved[:, 0], 0.0, atol=1e-10)


@pytest.mark.parametrize("rotations", [True, False])
def test_user_transformations_are_lorentz_of_the_stated_group(rotations):
    lam = user_lorentz(4000, np.random.default_rng(1), rotations)
    np.testing.assert_allclose(np.einsum("nji,jk,nkl->nil", lam, ETA, lam), np.broadcast_to(ETA, lam.shape),
                               atol=1e-9)
    det, t_sign = np.round(np.linalg.det(lam)), np.sign(lam[:, 0, 0])
    assert set(det) == {-1.0, 1.0} and set(t_sign) == {-1.0, 1.0}  # time reversal in about half
    assert abs(np.mean(t_sign < 0) - 0.5) < 0.05
    # det = sign(Λ⁰₀) for a boost (with the reflections of O(3) flipping it once more in half of the rotated ones)
    agree = np.mean(det == t_sign)
    assert agree == 1.0 if not rotations else abs(agree - 0.5) < 0.05


def test_user_events_keep_the_interval_on_every_pair_and_are_not_the_papers_box():
    data = user_events(3000, seed=2, rotations=True)
    s2 = -data.x[..., 0] ** 2 + np.sum(data.x[..., 1:] ** 2, axis=-1)
    np.testing.assert_allclose(s2[:, 0], data.c.reshape(-1), atol=1e-9)
    np.testing.assert_allclose(s2[:, 1], s2[:, 0], rtol=1e-9, atol=1e-8)
    assert np.abs(data.x[:, 0]).max() > 4.0  # Gaussian of std 2: far outside [-1, 1]
    assert data.x.shape == (3000, 2, 4) and data.feature_names == ["t", "x", "y", "z"]


@pytest.mark.slow
def test_quick_run_trains_the_script_on_the_written_csv(tmp_path):
    res = benchmark(quick=True, out_dir=str(tmp_path), seeds=(0,), data_sets=("rotations",))
    row = res["rotations"][0]
    assert 0.0 <= row["test_accuracy"] <= 1.0 and row["epochs"] == 2 and np.isfinite(row["r2_degree2"])
    with open(tmp_path / "rotations.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == ["group", "C", "t", "x", "y", "z"]
    assert (tmp_path / "rotations_seed0" / "results.json").exists() and (tmp_path / "results.md").exists()
    with pytest.raises(ValueError, match="unknown data sets"):
        benchmark(quick=True, out_dir=str(tmp_path), data_sets=("box",))


@pytest.mark.slow
def test_boosts_only_events_are_read_as_the_interval_with_the_defaults():
    """The even start and the batch rule (docs/siamese.md): events whose transformations lack rotations, where the
    previous default settled on a spatial projection (about 81 % on 5 seeds of 6), are read as s² within 30 epochs
    (8 seeds of 8 in the scratch runs; this is the benchmark's data set, seed 0: 94.9 %)."""
    from scipy.stats import spearmanr

    from siamese.training import grouped_invariant, train_siamese

    train, test = user_events(25_000, 101, rotations=False).split_by_group(test_fraction=0.2, seed=0)
    model, info = train_siamese(train, test, epochs=30, seed=0)
    assert info["test_accuracy"] >= 0.85
    f = grouped_invariant(model, test.x)[:, 0, 0]
    assert abs(spearmanr(f, test.c)[0]) > 0.95  # the interval, not a projection (|Spearman| < 0.2 there)
