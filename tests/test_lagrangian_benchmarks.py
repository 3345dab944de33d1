"""Each lagrangian benchmark runs in --quick mode and returns finite numbers and writes its files."""

import math
import os

import pytest

from benchmarks import lagrangian_kepler, lagrangian_schwarzschild, lagrangian_speed, lagrangian_two_particle


def _finite(numbers):
    for sym, nums in numbers.items():
        for key, val in nums.items():
            if isinstance(val, float):
                assert math.isfinite(val), (sym, key)


def test_kepler_quick(tmp_path):
    out = lagrangian_kepler.benchmark(quick=True, out_dir=str(tmp_path))
    _finite(out["numbers"])
    assert set(out["numbers"]) == {"none", "R"}
    assert out["numbers"]["R"]["epochs"] == 2 and out["numbers"]["R"]["t_final"] > 0
    for name in ("results.md", "results.csv", "kepler_trajectories.png", "kepler_charges.png", "kepler_dq.png",
                 "kepler_R.csv", "kepler_none.npz", "kepler_R.keras"):
        assert (tmp_path / name).stat().st_size > 0
    # monitors read back redraw the figures (runs trained in separate processes drawn side by side)
    from lagrangian.experiment import load_monitors, plot_rollout
    from lagrangian.systems import get_system

    mon = {sym: load_monitors(str(tmp_path / f"kepler_{sym}")) for sym in ("R", "none")}
    assert mon["R"]["delta"]["L_NN"].max() == pytest.approx(out["numbers"]["R"]["dL_NN_max"])
    assert mon["R"]["t"][-1] == pytest.approx(out["numbers"]["R"]["t_final"])
    paths = plot_rollout(mon, get_system("kepler"), str(tmp_path / "again"), "kepler")
    assert all(os.path.getsize(p) > 0 for p in paths)


def test_schwarzschild_quick(tmp_path):
    out = lagrangian_schwarzschild.benchmark(quick=True, out_dir=str(tmp_path))
    _finite(out["numbers"])
    assert {"dL_NN_final", "dL_true_final", "dq_final", "final_mse"} <= set(out["numbers"]["R"])
    assert (tmp_path / "schwarzschild_trajectories.png").stat().st_size > 0


def test_two_particle_quick_and_table2(tmp_path):
    out = lagrangian_two_particle.benchmark(quick=True, out_dir=str(tmp_path))
    assert out["table2"] == {"none": 16, "R": 11, "T": 12, "RT": 6}
    _finite(out["numbers"])
    assert {"dL_NN_final", "dM_NN_final", "dL_true_final", "dM_true_final"} <= set(out["numbers"]["RT"])
    assert "Table 2" in (tmp_path / "results.md").read_text()


def test_speed_quick(tmp_path):
    out = lagrangian_speed.benchmark(quick=True, out_dir=str(tmp_path))
    assert out["gflops"] > 0
    assert all(math.isfinite(v) and v > 0 for _, _, v, _, _ in out["rows"])
    assert {r[0] for r in out["rows"]} == {"fit_step_ms", "rk4_1traj_1000_s"}
    assert (tmp_path / "speed.png").stat().st_size > 0
