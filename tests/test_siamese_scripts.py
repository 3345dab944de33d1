"""The absl script and the paper benchmark in --quick mode."""

import csv
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from conserve_tf.runs import read_scalars
from run_checks import assert_help_lists, check_run_folder, printed_number

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(*args):
    if not any(a.startswith("--out_dir") for a in args):
        args += ("--out_dir=",)  # no results folder under runs/ from a test
    return subprocess.run([sys.executable, "-m", "siamese.train", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_train_script_on_own_data_writes_the_run_folder(tmp_path):
    pytest.importorskip("tensorboard")
    from siamese import special_relativity

    special_relativity(300, 2, seed=0).save(str(tmp_path / "sr.npz"))
    out = _run(f"--data={tmp_path / 'sr.npz'}", "--constant_columns=s2", "--epochs=2", "--hidden=8",
               f"--save={tmp_path / 'm.keras'}", f"--out_dir={tmp_path / 'o'}", "--verbose=0", "--tensorboard",
               "--data_formula", "--readout_seconds=5")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "test accuracy" in out.stdout and "| degree |" in out.stdout
    res = check_run_folder(tmp_path / "o", ["model.keras", "results.json", "invariant.png", "training.png",
                                            "scatter.png", "readout.md"])
    assert res["metrics"]["test_accuracy"] == pytest.approx(printed_number(out.stdout, "test accuracy "), abs=6e-5)
    assert res["readout"]["f"]["formula"] in out.stdout and res["data"]["test"]["groups"] == 60
    # the known invariant stored in the file (C = s²) scored on the test groups, as results.json has it
    assert res["metrics"]["f"]["rho"] == pytest.approx(printed_number(out.stdout, "f against C (test): rho = "),
                                                       abs=6e-5)
    assert res["flags"]["hidden"] == ["8"] and len(res["history"]["val_rho"]) == 2
    # --data_formula: the interval from the raw pairs, no network (its first pass does a fixed amount of work,
    # so the clock does not decide this; test_symbolic_conserved.py tests the search itself)
    data = res["data_formula"]
    assert data["formula"] == "-t**2 + x**2 + y**2 + z**2" and data["fraction_test"] < 1e-12
    printed = f"(no network, {data['seconds']:.1f} s): {data['formula']}"
    assert printed in out.stdout
    scalars = read_scalars(str(tmp_path / "o" / "tensorboard"))
    assert scalars["validation"]["epoch_rho"][-1][1] == pytest.approx(res["history"]["val_rho"][-1], rel=1e-5)
    assert scalars["validation"]["epoch_rho"][-1][1] == pytest.approx(res["metrics"]["f"]["rho"], rel=1e-4)
    import siamese.model  # noqa: F401  (registers SiameseNetwork for load_model)

    x = np.random.default_rng(0).normal(size=(5, 2, 4)).astype("float32")  # five pairs of events
    saved = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "o" / "model.keras")(x), saved(x), rtol=1e-5)
    assert saved.first_layer == "product" and res["flags"]["first_layer"] is None  # the default


@pytest.mark.slow
def test_a_run_on_data_without_an_invariant_says_so(tmp_path):
    # the interval held fixed and Λ from the whole Lorentz group: nothing else is conserved (the paper's failure case)
    out = _run("--system=sr_fixed_interval", "--groups=400", "--test_groups=200", "--epochs=3", "--hidden=16",
               "--verbose=0", "--readout=none", f"--out_dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "WARNING, f: no invariant found" in out.stdout
    import json

    with open(tmp_path / "results.json") as fh:
        verdict = json.load(fh)["verdict"]["f"]
    assert verdict["found"] is False and verdict["ratio"] > 0.5


@pytest.mark.slow
def test_console_script_help_lists_its_flags():
    assert_help_lists("siamese-train", ("--system:", "--hidden:", "--out_dir:", "--[no]tensorboard:",
                                        "--strategy:", "--[no]count:"))


@pytest.mark.slow
def test_train_script_reports_bad_input_in_one_line():
    out = _run("--system=warp_drive", "--groups=10", "--test_groups=10")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("error: unknown system 'warp_drive'")


@pytest.mark.slow
def test_paper_benchmark_quick(tmp_path):
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from benchmarks.siamese_paper import PAPER_ACC, benchmark

    res = benchmark(quick=True, out_dir=str(tmp_path))[0]  # seed 0
    # the defaults: the product first layer on the raw state; central_fixed_L reads the rotation invariants (dense)
    assert set(res) == set(PAPER_ACC)
    assert {n: (r["first_layer"], r["symmetry"]) for n, r in res.items()} == {
        n: ("dense", "rotation") if n == "central_fixed_L" else ("product", None) for n in PAPER_ACC}
    with open(tmp_path / "results.csv", newline="") as fh:
        saved = {row["quantity"]: row for row in csv.DictReader(fh)}
    for name, row in res.items():  # the saved table holds every accuracy beside the paper's
        label = f"{name} (seed 0, rotation-invariant inputs)" if row["symmetry"] else f"{name} (seed 0)"
        for i, part in enumerate(("train", "test")):
            cell = saved[f"{label}: {part} accuracy"]
            assert float(cell["conserve_tf"]) == pytest.approx(row[f"{part}_accuracy"])
            assert float(cell["paper"]) == pytest.approx(PAPER_ACC[name][i] / 100)
        assert os.path.exists(row["plot"])
        if "table" in row:
            assert all(np.isfinite([t["r2_train"], t["r2_test"]]).all() for t in row["table"])
    assert (tmp_path / "results.md").exists()


@pytest.mark.slow
def test_paper_benchmark_symmetry_applies_to_the_central_potential_only(tmp_path):
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from benchmarks.siamese_paper import benchmark

    res = benchmark(quick=True, out_dir=str(tmp_path), systems=["central_fixed_L", "electromagnetism"],
                    symmetry="rotation")[0]
    assert res["central_fixed_L"]["symmetry"] == "rotation" and res["electromagnetism"]["symmetry"] is None
    # the default first layer: dense after the rotation invariants, product on the raw state
    assert (res["central_fixed_L"]["first_layer"], res["electromagnetism"]["first_layer"]) == ("dense", "product")
    with open(tmp_path / "results.csv", newline="") as fh:
        names = [row["quantity"] for row in csv.DictReader(fh)]
    assert "central_fixed_L (seed 0, rotation-invariant inputs): test accuracy" in names
    with pytest.raises(ValueError, match=r"symmetry must be None \(each data set's default\), 'rotation' or 'none'"):
        benchmark(quick=True, out_dir=str(tmp_path), systems=["central_fixed_L"], symmetry="mirror")
    # the defaults, as siamese.train's: rotation invariants for central_fixed_L only; "none" for the paper's network
    res = benchmark(quick=True, out_dir=str(tmp_path), systems=["central_fixed_L", "central_potential"])[0]
    assert (res["central_fixed_L"]["symmetry"], res["central_potential"]["symmetry"]) == ("rotation", None)
    res = benchmark(quick=True, out_dir=str(tmp_path), systems=["central_fixed_L"], symmetry="none")[0]
    assert res["central_fixed_L"]["symmetry"] is None
    with pytest.raises(ValueError, match="first_layer must be one of"):
        benchmark(quick=True, out_dir=str(tmp_path), systems=["central_fixed_L"], first_layer="square")


def test_central_fixed_l_reads_the_rotation_invariants_by_default_and_none_turns_it_off():
    """With L fixed the raw state's orbit orientation is an exact invariant the network reads instead of E
    (docs/siamese.md); the data set's default is the rotation invariants, --symmetry=none the paper's network."""
    from siamese.training import default_symmetry

    assert default_symmetry("central_fixed_L") == default_symmetry("Central-Fixed-l") == "rotation"
    assert default_symmetry("central_potential") is None and default_symmetry("special_relativity") is None
    small = ("--system=central_fixed_L", "--groups=200", "--test_groups=50", "--epochs=1", "--hidden=8",
             "--readout=none", "--verbose=0")
    out = _run(*small)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "f reads the rotation invariants of the state (the default for this data set" in out.stdout
    out = _run(*small, "--symmetry=none")
    assert out.returncode == 0 and "rotation invariants" not in out.stdout
