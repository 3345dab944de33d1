"""Read-out of the bottleneck: R² tables, known-invariant patterns, 1/r features, scatter plots."""

import numpy as np
import pytest

from siamese import EXTRA_FEATURES, central_potential, electromagnetism, special_relativity
from siamese.interpret import invariant_scores, pattern_match, readout, scatter_invariants


def s2(x):
    return -x[:, 0] ** 2 + np.sum(x[:, 1:] ** 2, 1)


def test_readout_of_the_interval_finds_degree_two_and_s2():
    train, test = special_relativity(500, 2, seed=0), special_relativity(300, 2, seed=1)
    res = readout(lambda x: 3.0 * s2(x) + 1.0, train, test)
    r2 = {r["degree"]: r["r2_test"] for r in res.table}
    assert r2[1] < 0.2 and r2[2] > 0.999999 and res.degree == 2
    assert {m for m, _ in res.terms} == {"t^2", "x^2", "y^2", "z^2"}
    pm = pattern_match(lambda x: 3.0 * s2(x) + 1.0, test, "s2")
    assert pm["scale"] == pytest.approx(3.0, rel=1e-4) and pm["share"] > 0.9999
    assert all(v == pytest.approx(e, abs=1e-4) for v, e in zip(pm["normalized"].values(), [-1, 1, 1, 1]))


def test_wrong_function_does_not_match_the_pattern():
    test = electromagnetism(300, 2, seed=1)
    pm = pattern_match(lambda x: np.sum(x[:, :3] ** 2, 1), test, "EdotB")
    assert pm["share"] < 0.05


def test_energy_needs_the_inverse_radius_feature():
    train, test = central_potential(400, 2, seed=0, fixed_L=-1.5), central_potential(300, 2, seed=1, fixed_L=-1.5)

    def energy(x):
        return 0.5 * (x[:, 2] ** 2 + x[:, 3] ** 2) - 1 / np.hypot(x[:, 0], x[:, 1])

    plain = readout(energy, train, test, degrees=(2,))
    with_r = readout(energy, train, test, degrees=(2,), extra_features=EXTRA_FEATURES["central_fixed_L"])
    assert plain.table[0]["r2_test"] < 0.999 < with_r.table[0]["r2_test"]
    pm = pattern_match(energy, test, "E", extra_features=EXTRA_FEATURES["central_fixed_L"])
    assert pm["share"] > 0.999 and pm["normalized"]["1/r"] == pytest.approx(-1.0, abs=1e-3)


def test_scores_and_scatter_plot(tmp_path):
    test = central_potential(200, 2, seed=2)

    def lz(x):
        return x[:, 0] * x[:, 3] - x[:, 1] * x[:, 2]

    scores = invariant_scores(lz, test)
    assert scores["L"]["rho_f"] == pytest.approx(1.0, abs=1e-9) and scores["E"]["rho_f"] < 0.5
    path = scatter_invariants(lz, test, str(tmp_path / "l.png"))
    assert (tmp_path / "l.png").stat().st_size > 1000 and path.endswith("l.png")
    with pytest.raises(ValueError, match="one bottleneck output"):
        readout(lambda x: np.stack([lz(x)] * 2, 1), test)
    with pytest.raises(KeyError, match="unknown pattern"):
        pattern_match(lz, test, "momentum")


@pytest.mark.slow
def test_baseline_rho_runs_the_grid_and_scores_rho(monkeypatch):
    from siamese import baseline, baseline_grid, baseline_rho

    train, test = special_relativity(30, 4, seed=0), special_relativity(30, 4, seed=1)
    runs = baseline_grid(train, test, widths=(8,), learning_rates=(5e-3, 5e-4), epochs=2)
    assert [(r["width"], r["learning_rate"]) for r in runs] == [(8, 5e-3), (8, 5e-4)]
    assert all(np.isfinite(r["rho"]) and r["epochs"] == 2 for r in runs)
    assert runs[0]["rho"] != runs[1]["rho"]  # the two learning rates train two different networks
    monkeypatch.setattr(baseline, "baseline_grid", lambda *a, **k: [
        {"test_accuracy": 0.7, "rho": 0.2}, {"test_accuracy": 0.9, "rho": 0.6}, {"test_accuracy": 0.8, "rho": 0.95}])
    assert baseline_rho(train, test) == 0.6  # the run with the best test accuracy, as the paper reports
    monkeypatch.undo()
    with pytest.raises(ValueError, match="known constants"):
        baseline_rho(train, test.replace(c=None), widths=(8,), learning_rates=(5e-3,), epochs=1)
