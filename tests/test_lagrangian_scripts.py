"""The absl scripts: train -> save -> rollout writes monitors and plots; bad flags give one-line errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conserve_tf.runs import read_scalars
from run_checks import assert_help_lists, check_run_folder, printed_number

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=ENV, timeout=600)


@pytest.mark.slow
def test_train_then_rollout(tmp_path):
    pytest.importorskip("tensorboard")
    model = tmp_path / "tp.keras"
    run_dir = tmp_path / "run"
    res = run("lagrangian.train", "--system=two_particle", "--symmetry=RT", "--epochs=2", "--steps_per_epoch=5",
              "--hidden_units=16", f"--save={model}", f"--history_csv={tmp_path / 'h.csv'}", "--verbose=0",
              f"--out_dir={run_dir}", "--tensorboard", "--t_final=0.1")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "final training MSE" in res.stdout and model.exists()
    out = check_run_folder(run_dir, ["model.keras", "results.json", "training.png", "monitors.csv", "monitors.npz",
                                     "two_particle_trajectories.png", "two_particle_charges.png",
                                     "two_particle_dq.png"])
    assert out["metrics"]["final_mse"] == pytest.approx(printed_number(res.stdout, "final training MSE: "), rel=1e-3)
    assert out["metrics"]["rollout"]["dq_final"] == pytest.approx(printed_number(res.stdout, "dq_final: "), rel=1e-3)
    assert out["flags"]["symmetry"] == "RT" and len(out["history"]["loss"]) == 2
    scalars = read_scalars(str(run_dir / "tensorboard"))
    assert [v for _, v in scalars["train"]["epoch_loss"]] == pytest.approx(out["history"]["loss"], rel=1e-5)
    out_dir = tmp_path / "ro"
    res = run("lagrangian.rollout", f"--model={model}", "--t_final=0.2", "--every=5", "--nojit_compile",
              f"--out_dir={out_dir}")
    assert res.returncode == 0, res.stderr[-2000:]
    with open(out_dir / "rollout.json") as fh:
        rollout = json.load(fh)
    assert rollout["metrics"]["dL_NN_final"] == pytest.approx(printed_number(res.stdout, "dL_NN_final: "), rel=1e-3)
    assert "dL_NN_final" in res.stdout and "dM_true_final" in res.stdout
    mon = np.load(out_dir / "monitors.npz")
    assert mon["traj"].shape == (5, 16) and np.all(np.isfinite(mon["delta_M_NN"]))
    assert (out_dir / "monitors.csv").read_text().startswith("t,delta_L_NN")
    assert (out_dir / "two_particle_trajectories.png").stat().st_size > 0
    assert "dE_NN_final" in res.stdout and "dE_true_final" in res.stdout
    assert np.all(np.isfinite(mon["energy_delta_E_NN"]))
    # the training's folder already holds a rollout: refused before any work, its monitors kept
    kept = (run_dir / "monitors.csv").read_bytes()
    res = run("lagrangian.rollout", f"--model={run_dir / 'model.keras'}", "--t_final=0.2", f"--out_dir={run_dir}")
    assert res.returncode == 2 and "already holds a run" in res.stderr and "--overwrite" in res.stderr
    assert (run_dir / "monitors.csv").read_bytes() == kept


@pytest.mark.slow
@pytest.mark.parametrize("command, flags", [
    ("lagrangian-train", ("--system:", "--data:", "--dim:", "--symmetry:", "--out_dir:", "--[no]tensorboard:",
                          "--t_final:")),
    ("lagrangian-rollout", ("--model:", "--t_final:", "--out_dir:", "--every:")),
])
def test_console_script_help_lists_its_flags(command, flags):
    assert_help_lists(command, flags)


@pytest.mark.slow
def test_script_errors_are_one_line(tmp_path):
    res = run("lagrangian.train", "--system=kepler", "--symmetry=RT", "--epochs=1")
    assert res.returncode == 2 and res.stderr.strip().splitlines()[-1].startswith("error: symmetry 'RT'")
    res = run("lagrangian.rollout", f"--model={tmp_path / 'missing.keras'}")
    assert res.returncode == 2 and "model file not found" in res.stderr


def test_xla_with_a_strategy_is_refused_before_training():
    res = run("lagrangian.train", "--system=kepler", "--jit_compile", "--strategy=mirrored", "--devices=2")
    assert res.returncode == 2 and "--jit_compile needs --strategy=default" in res.stderr
