"""The examples in examples/ run end to end on tiny settings and leave what they promise."""

import importlib.util
import os

import keras
import numpy as np
import pytest

from conserve_tf import GroupedData, evaluate_invariant, predict_groups
from run_checks import check_run_folder

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pendulum_simulation_conserves_energy_per_group():
    example = _load("own_measurements")
    data = example.simulate(3, 20, seed=0)
    energy = 0.5 * data.x[..., 1] ** 2 - np.cos(data.x[..., 0])
    assert np.ptp(energy, axis=1).max() < 1e-6  # one constant per trajectory
    assert np.ptp(data.c) > 0.1  # and different constants across trajectories


@pytest.mark.slow
def test_own_measurements_example(tmp_path):
    example = _load("own_measurements")
    out = example.main(groups=4, members=12, steps=20, out_dir=str(tmp_path / "pendulum"))
    check_run_folder(out["out_dir"], ["measurements.csv", "model.keras", "results.json", "invariant.png",
                                      "training.png"])
    data = GroupedData.load(os.path.join(out["out_dir"], "measurements.csv"), constant_columns=["E"])
    assert data.x.shape == (4, 24, 2) and data.feature_names == ["theta", "omega"]
    reloaded = keras.models.load_model(os.path.join(out["out_dir"], "model.keras"))
    new = out["new_data"]
    np.testing.assert_allclose(predict_groups(reloaded, new), predict_groups(out["model"], new), rtol=1e-5,
                               atol=1e-6)
    assert evaluate_invariant(reloaded, new)["rho"] == pytest.approx(out["new"]["rho"], rel=1e-6)
    assert "theta" in out["formula"] or "omega" in out["formula"]


@pytest.mark.slow
def test_plain_keras_example(tmp_path):
    example = _load("plain_keras")
    out = example.main(steps=20, out_dir=str(tmp_path / "pk"))
    assert out["reloaded_identical"] is True
    assert set(out["losses"]) == {"loss", "noise", "spread"}
    assert "val_rho" in out["history"] and os.path.exists(tmp_path / "pk" / "history.csv")
    assert out["report"]["rho"] == pytest.approx(max(out["history"]["val_rho"]), abs=1e-4)  # best weights restored
