"""The conserve_tf.train script end to end, its clear errors, and the S1 benchmark's quick mode."""

import csv
import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from conserve_tf import ConservNet, make_system
from conserve_tf.runs import read_scalars
from run_checks import assert_help_lists, check_run_folder, printed_number

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(*args, timeout=240):
    if not any(a.startswith("--out_dir") for a in args):
        args += ("--out_dir=",)  # no results folder under runs/ from a test
    return subprocess.run([sys.executable, "-m", "conserve_tf.train", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


@pytest.mark.slow
def test_script_trains_reports_and_saves(tmp_path):
    path = tmp_path / "s1.keras"
    out = _run("--groups=4", "--members=12", "--epochs=30", "--width=8", "--depth=1", "--log_every=10",
               "--degree=2", "--verbose=0", f"--save={path}")
    assert out.returncode == 0, out.stderr[-2000:]
    for text in ("trained 30 optimizer steps", "network: 1 x 8 tanh, objective ratio", "test : rho = ", "R² train",
                 "F ≈ ", "saved model to"):
        assert text in out.stdout
    model = keras.models.load_model(path)
    assert isinstance(model, ConservNet) and model.width == 8


@pytest.mark.slow
def test_script_on_user_csv_without_constants(tmp_path):
    data = make_system("lotka_volterra", 4, 12, seed=0).replace(c=None, constant_names=None)  # populations
    csv = data.save(tmp_path / "mine.csv")
    out = _run(f"--data={csv}", "--epochs=5", "--width=8", "--depth=1", "--degree=0", "--verbose=0",
               "--split=group")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "no true constants: relative spread" in out.stdout
    assert "inputs entered as their logarithm: x, y (positive, spanning more than a decade" in out.stdout
    out = _run(f"--data={csv}", "--epochs=5", "--width=8", "--depth=1", "--degree=0", "--verbose=0",
               "--split=group", "--scaling=factors")
    assert out.returncode == 0 and "logarithm" not in out.stdout, out.stderr[-2000:]


@pytest.mark.slow
def test_script_out_dir_and_tensorboard(tmp_path):
    pytest.importorskip("tensorboard")
    out = _run("--groups=4", "--members=12", "--epochs=20", "--width=8", "--depth=1", "--log_every=10",
               "--degree=2", "--verbose=0", f"--out_dir={tmp_path / 'run'}", "--tensorboard", "--restarts=0")
    assert out.returncode == 0, out.stderr[-2000:]
    res = check_run_folder(tmp_path / "run", ["model.keras", "results.json", "invariant.png", "training.png"])
    printed = [line for line in out.stdout.splitlines() if line.startswith("test : ")][0]
    for key in ("rho", "spearman", "std", "r2", "relative spread"):  # the JSON holds the printed held-out numbers
        value = res["metrics"]["F"]["test"][key.replace(" ", "_")]
        assert value == pytest.approx(printed_number(printed, f"{key} = "), abs=6e-5)
    assert res["readout"]["F"]["formula"] in out.stdout and len(res["readout"]["F"]["r2_table"]) == 2
    assert res["flags"]["width"] == 8 and res["data"]["train"]["groups"] == 4 and res["optimizer_steps"] == 20
    assert res["versions"]["tensorflow"] and len(res["history"]["loss"]) == 2
    # the printed training time is the saved one, formatted (a record, not a speed check: speed is in benchmarks/)
    printed = f"optimizer steps in {res['training_seconds']:.1f} s"
    assert printed in out.stdout
    scalars = read_scalars(str(tmp_path / "run" / "tensorboard"))
    assert [s for s, _ in scalars["validation"]["epoch_rho"]] == [0, 1]
    assert scalars["validation"]["epoch_rho"][-1][1] == pytest.approx(res["history"]["val_rho"][-1], rel=1e-5)
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert isinstance(model, ConservNet) and model.width == 8
    # a second run into the same folder stops before any work, and the first run's files stay as they were
    saved = (tmp_path / "run" / "model.keras").read_bytes()
    again = _run("--groups=4", "--members=12", "--epochs=20", f"--out_dir={tmp_path / 'run'}")
    assert again.returncode == 2 and "error: --out_dir" in again.stderr and "already holds a run" in again.stderr
    assert "invariant.png, model.keras, results.json, tensorboard, training.png" in again.stderr
    assert (tmp_path / "run" / "model.keras").read_bytes() == saved and "Traceback" not in again.stderr


def test_out_dir_that_is_a_file_is_refused_and_overwrite_replaces_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    bad = _run("--epochs=20", f"--out_dir={tmp_path / 'notes.txt'}")
    assert bad.returncode == 2 and "is a file, not a folder" in bad.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"
    (tmp_path / "results.json").write_text("{}")  # an earlier run's file beside the user's notes
    args = ["--groups=4", "--members=12", "--epochs=20", "--width=8", "--depth=1", "--verbose=0", "--restarts=0",
            "--readout=none", f"--out_dir={tmp_path}"]
    assert "already holds a run (results.json)" in _run(*args).stderr
    out = _run(*args, "--overwrite")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((tmp_path / "results.json").read_text())["flags"]["overwrite"] is True
    assert (tmp_path / "notes.txt").read_text() == "mine"  # not a run's file: never touched


@pytest.mark.slow
def test_script_symbolic_readout_and_verdict(tmp_path):
    """--readout=both prints and saves the polynomial and the symbolic formula; the verdict is always given."""
    out = _run("--groups=4", "--members=12", "--epochs=20", "--width=8", "--depth=1", "--log_every=10",
               "--degree=2", "--verbose=0", "--readout=both", "--readout_seconds=2", "--readout_functions=square",
               "--data_formula", f"--out_dir={tmp_path / 'run'}")
    assert out.returncode == 0, out.stderr[-2000:]
    res = check_run_folder(tmp_path / "run", ["results.json"])
    formula = res["readout"]["F"]["symbolic"]["formula"]
    assert f"g = {formula}" in out.stdout and "symbolic read-out of F" in out.stdout
    # the default fit is F ≈ h(g) with h a monotone cubic, scored by the held-out R² of h(g)
    assert res["readout"]["F"]["symbolic"]["fit"] == "monotone" and "of a cubic h(g)" in out.stdout
    assert res["readout"]["F"]["symbolic"]["criterion"] == "r2_h"
    assert res["readout"]["F"]["formula"] in out.stdout  # the polynomial one stays where it was
    assert res["verdict"]["F"]["message"] in out.stdout and isinstance(res["verdict"]["F"]["found"], bool)
    # --data_formula: printed and saved; what it finds is tested without the clock in test_symbolic_conserved.py
    data = res["data_formula"]
    printed = f"(no network, {data['seconds']:.1f} s): {data['formula']}"
    assert printed in out.stdout
    assert f"held-out within-group fraction of its variance {data['fraction_test']:.2e}" in out.stdout
    assert isinstance(data["found"], bool) and data["verdict"] in out.stdout
    bad = _run("--readout=sparse", "--epochs=1")
    assert bad.returncode != 0 and "flag --readout=sparse: value should be one of" in bad.stderr


@pytest.mark.slow
def test_one_trajectory_trains_with_the_defaults_and_gets_a_verdict():
    """The measured double pendulum is one group: the recipe's ratio objective needs two, so the defaults
    train it with the noise-variance objective, and the verdict compares F along the held-out trajectory
    with F on states whose coordinates are shuffled."""
    out = _run("--system=double_pendulum", "--epochs=30", "--width=8", "--depth=1", "--log_every=10", "--verbose=0",
               "--out_dir=", "--data_formula")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "trained 30 optimizer steps" in out.stdout
    assert "network: 1 x 8 mish, objective nv" in out.stdout  # the NV loss's own settings
    assert "formula conserved within the groups: skipped, it needs at least two groups" in out.stdout
    assert "on states with shuffled coordinates (ratio" in out.stdout  # the one-trajectory verdict


@pytest.mark.slow
def test_a_stuck_run_is_restarted_and_says_so(tmp_path):
    """Random groups hold no invariant: the first attempt finds nothing on its own training groups, the script
    restarts it with the next seed, prints both attempts and saves them in results.json."""
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    out = _run("--system=random", "--groups=6", "--members=20", "--epochs=20", "--width=8", "--depth=1",
               "--log_every=10", "--verbose=0", "--readout=none", "--restarts=1", f"--out_dir={tmp_path}",
               *(["--tensorboard"] if tensorboard else []))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "trained 20 optimizer steps in" in out.stdout and "(2 attempts, the steps of the one kept)" in out.stdout
    assert "attempt 1 (seed 0, " in out.stdout and "found nothing, restarted (spread on its training groups" in out.stdout
    assert "attempt 2 (seed 100003, " in out.stdout and "WARNING, F: no invariant found" in out.stdout
    saved = json.loads((tmp_path / "results.json").read_text())["attempts"]
    assert [a["seed"] for a in saved] == [0, 100003] and not any(a["found"] for a in saved)
    if tensorboard:  # each attempt's curves in a folder of their own, not written over one another
        scalars = read_scalars(str(tmp_path / "tensorboard"))
        assert [s for s, _ in scalars["validation"]["epoch_rho"]] == [0, 1]
        assert [s for s, _ in scalars[os.path.join("restart_1", "validation")]["epoch_rho"]] == [0, 1]


@pytest.mark.slow
def test_first_layer_flag_builds_and_saves_the_product_layer(tmp_path):
    out = _run("--groups=4", "--members=12", "--epochs=10", "--width=8", "--depth=1", "--log_every=10",
               "--verbose=0", "--readout=none", "--first_layer=product", f"--out_dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "network: 1 x 8 tanh, objective ratio, product first layer (gain " in out.stdout
    saved = keras.models.load_model(tmp_path / "model.keras")
    assert saved.first_layer == "product" and saved.product_gain > 0


@pytest.mark.slow
def test_symmetry_flag_feeds_the_rotation_invariants(tmp_path):
    out = _run("--system=kepler_fixed_l", "--groups=4", "--members=12", "--epochs=10", "--width=8", "--depth=1",
               "--log_every=10", "--verbose=0", "--readout=none", "--symmetry=rotation", f"--out_dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "network: 1 x 8 tanh, objective ratio, rotation-invariant inputs" in out.stdout
    assert keras.models.load_model(tmp_path / "model.keras").symmetry == "rotation"
    bad = _run("--system=s2", "--epochs=1", "--symmetry=rotation", timeout=120)  # 3 features: not (q, v)
    assert bad.returncode != 0 and "error: symmetry='rotation' reads the features as the positions" in bad.stderr


@pytest.mark.slow
def test_console_script_help_lists_its_flags():
    assert_help_lists("conservnet-train", ("--system:", "--data:", "--out_dir:",
                                           "--[no]tensorboard:", "--strategy:", "Built-in system"))


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--epochs=0"], "flag --epochs=0: 0 is not a positive integer"),
    (["--spreader=l3"], "flag --spreader=l3: value should be one of"),
    (["--data=/no/such/file.csv"], "error: no such data file: /no/such/file.csv"),
    (["--save=model.h5"], "error: --save must name a .keras file"),
    (["--objective=ratio", "--recipe=paper", "--epochs=1"], "error: objective='ratio' compares the variance"),
    (["--restarts=-1"], "flag --restarts=-1: -1 is not a non-negative integer"),
])
def test_script_bad_flags_are_one_line_errors(args, message):
    out = _run(*args, timeout=120)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_s1_benchmark_quick(tmp_path):
    from benchmarks.conservnet_s1 import benchmark

    r = benchmark(quick=True, out_dir=str(tmp_path))
    assert r["rho"] > 0.9  # even the quick 32-wide network finds S1
    assert np.isfinite([r["r2"], r["std"], r["flop_fraction"], r["matmul_gflops"]]).all()
    assert r["fast_steps_to_099"] is None or r["fast_steps_to_099"] <= r["fast_steps"]
    assert r["default_steps_to_099"] is None or r["default_steps_to_099"] <= r["default_steps"]
    assert 0.0 <= r["default_rho"] <= 1.0
    assert {"results.csv", "results.md", "results.json", "curves.csv", "rho_vs_steps.png"} <= set(os.listdir(tmp_path))
    with open(tmp_path / "results.csv", newline="") as fh:
        saved = {row["quantity"]: row["conserve_tf"] for row in csv.DictReader(fh)}
    assert float(saved["R² of aF+b against C"]) == pytest.approx(r["r2"])


def test_every_built_in_system_is_a_choice_of_the_script():
    from conserve_tf.systems import SYSTEMS
    from conserve_tf.train import SYSTEM_NAMES

    assert set(SYSTEM_NAMES) == set(SYSTEMS) | {"double_pendulum"}  # the measured pendulum loads from its file
