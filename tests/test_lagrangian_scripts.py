"""The absl scripts: train -> save -> rollout writes monitors and plots; bad flags give one-line errors."""

import os
import subprocess
import sys

import numpy as np

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=ENV, timeout=600)


def test_train_then_rollout(tmp_path):
    model = tmp_path / "tp.keras"
    res = run("lagrangian.train", "--system=two_particle", "--symmetry=RT", "--epochs=1", "--steps_per_epoch=5",
              "--hidden_units=16", f"--save={model}", f"--history_csv={tmp_path / 'h.csv'}", "--verbose=0")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "final training MSE" in res.stdout and model.exists()
    out_dir = tmp_path / "ro"
    res = run("lagrangian.rollout", f"--model={model}", "--t_final=0.2", "--every=5", "--nojit_compile",
              f"--out_dir={out_dir}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "dL_NN_final" in res.stdout and "dM_true_final" in res.stdout
    mon = np.load(out_dir / "monitors.npz")
    assert mon["traj"].shape == (5, 16) and np.all(np.isfinite(mon["delta_M_NN"]))
    assert (out_dir / "monitors.csv").read_text().startswith("t,delta_L_NN")
    assert (out_dir / "two_particle_trajectories.png").stat().st_size > 0


def test_script_errors_are_one_line(tmp_path):
    res = run("lagrangian.train", "--system=kepler", "--symmetry=RT", "--epochs=1")
    assert res.returncode == 2 and res.stderr.strip().splitlines()[-1].startswith("error: symmetry 'RT'")
    res = run("lagrangian.rollout", f"--model={tmp_path / 'missing.keras'}")
    assert res.returncode == 2 and "model file not found" in res.stderr
