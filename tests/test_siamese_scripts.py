"""The absl script and the paper benchmark in --quick mode."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(*args):
    return subprocess.run([sys.executable, "-m", "siamese.train", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=300)


def test_train_script_on_own_data_saves_model_and_readout(tmp_path):
    from siamese import special_relativity

    special_relativity(300, 2, seed=0).save(str(tmp_path / "sr.npz"))
    out = _run(f"--data={tmp_path / 'sr.npz'}", "--constant_columns=s2", "--epochs=2", "--hidden=8",
               f"--save={tmp_path / 'm.keras'}", f"--out_dir={tmp_path / 'o'}", "--verbose=0")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "test accuracy" in out.stdout and "| degree |" in out.stdout
    assert (tmp_path / "m.keras").exists() and (tmp_path / "o" / "readout.md").exists()
    assert (tmp_path / "o" / "scatter.png").exists()


def test_train_script_reports_bad_input_in_one_line():
    out = _run("--system=warp_drive", "--groups=10", "--test_groups=10")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: unknown system 'warp_drive'")


@pytest.mark.slow
def test_paper_benchmark_quick(tmp_path):
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from benchmarks.siamese_paper import PAPER_ACC, benchmark

    res = benchmark(quick=True, out_dir=str(tmp_path))
    assert set(res) == set(PAPER_ACC)
    with open(tmp_path / "results.csv", newline="") as fh:
        saved = {row["quantity"]: row for row in csv.DictReader(fh)}
    for name, row in res.items():  # the saved table holds every accuracy beside the paper's
        for i, part in enumerate(("train", "test")):
            cell = saved[f"{name}: {part} accuracy"]
            assert float(cell["conserve_tf"]) == pytest.approx(row[f"{part}_accuracy"])
            assert float(cell["paper"]) == pytest.approx(PAPER_ACC[name][i] / 100)
        assert os.path.exists(row["plot"])
        if "table" in row:
            assert all(np.isfinite([t["r2_train"], t["r2_test"]]).all() for t in row["table"])
    assert (tmp_path / "results.md").exists()
