"""The benchmark harness, and every ConservNet reproduction benchmark in --quick mode."""

import csv
import importlib
import json
import os
import pkgutil
import subprocess
import sys

import pytest

from benchmarks import harness

BENCHMARKS = ["fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "appf"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _rho_r2_pairs(result):
    """Every dict in a benchmark result holding both a held-out rho and an R² (evaluate_invariant rows)."""
    if isinstance(result, dict):
        if isinstance(result.get("rho"), float) and isinstance(result.get("r2"), float):
            yield result
        for v in result.values():
            yield from _rho_r2_pairs(v)


def test_results_writer_keeps_one_table_in_three_formats(tmp_path, capsys):
    rows = [{"quantity": "R² S1", "paper": 0.9994, "ours": 0.25, "note": "quick"},
            {"quantity": "verdict", "paper": "found", "ours": "none"},
            {"quantity": "tiny", "paper": None, "ours": 2.5e-7}]
    paths = harness.write_results(str(tmp_path), "demo", rows, budget={"steps": 3}, notes="a note")
    back = _read_csv(paths["csv"])
    assert [r["quantity"] for r in back] == ["R² S1", "verdict", "tiny"]
    assert [r["benchmark"] for r in back] == ["demo"] * 3
    assert float(back[0]["conserve_tf"]) == 0.25 and float(back[0]["paper"]) == 0.9994
    assert back[1]["conserve_tf"] == "none" and back[2]["paper"] == ""
    assert float(back[2]["conserve_tf"]) == 2.5e-7  # full precision in the CSV, not the table's rounding
    with open(paths["json"]) as fh:
        saved = json.load(fh)
    assert saved["rows"] == rows and saved["budget"] == {"steps": 3} and saved["notes"] == "a note"
    md = open(paths["md"]).read()
    assert "| R² S1 | 0.9994 | 0.2500 | quick |" in md and "| tiny | - | 2.500e-07 |  |" in md
    assert md in capsys.readouterr().out  # printed as written


def test_a_bar_in_a_cell_does_not_split_the_markdown_row(tmp_path):
    rows = [{"quantity": "|rho(f, L)| on the test set", "ours": 0.99, "note": "|rho(f²)| 0.1; already \\|E\\|\nnext"}]
    md = open(harness.write_results(str(tmp_path), "demo", rows)["md"]).read()
    row = md.splitlines()[-1]
    assert row == "| \\|rho(f, L)\\| on the test set | - | 0.9900 | \\|rho(f²)\\| 0.1; already \\|E\\| next |"
    assert len(row.replace("\\|", "").split("|")) == 6  # five borders: still four columns
    assert _read_csv(harness.write_results(str(tmp_path), "demo", rows)["csv"])[0]["quantity"] == rows[0]["quantity"]


def test_results_writer_rejects_a_row_without_our_number(tmp_path):
    with pytest.raises(ValueError, match=r"row 1 lacks \['ours'\]"):
        harness.write_results(str(tmp_path), "demo", [{"quantity": "a", "ours": 1.0}, {"quantity": "b"}])


def test_collected_rows_keep_their_benchmark(tmp_path):
    rows = [{"benchmark": "a", "quantity": "x", "ours": 1.0}, {"benchmark": "b", "quantity": "y", "ours": "z"}]
    paths = harness.write_results(str(tmp_path), "table", rows, title="all")
    assert [r["benchmark"] for r in _read_csv(paths["csv"])] == ["a", "b"]
    assert "| b | y | - | z |  |" in open(paths["md"]).read()


def test_every_benchmark_imports_in_one_process_without_defining_flags():
    from absl import flags

    import benchmarks

    before = set(flags.FLAGS)
    names = [m.name for m in pkgutil.iter_modules(benchmarks.__path__)]
    for name in names:
        importlib.import_module(f"benchmarks.{name}")
    assert set(flags.FLAGS) == before
    assert {"harness", "conservnet_fig2", "lagrangian_kepler", "siamese_paper"} <= set(names)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("repro")


@pytest.mark.slow
@pytest.mark.parametrize("name", BENCHMARKS)
def test_quick_benchmark(name, root):
    mod = importlib.import_module(f"benchmarks.conservnet_{name}")
    out_dir = os.path.join(root, f"conservnet_{name}")
    result = mod.benchmark(quick=True, out_dir=out_dir)
    # the saved table is the returned one
    saved = _read_csv(os.path.join(out_dir, "results.csv"))
    assert [r["quantity"] for r in saved] == [r["quantity"] for r in result["rows"]]
    for row, back in zip(result["rows"], saved):
        if isinstance(row["ours"], float):
            assert float(back["conserve_tf"]) == pytest.approx(row["ours"], rel=1e-12)
    assert any(f.endswith(".png") and os.path.getsize(os.path.join(out_dir, f)) > 0 for f in os.listdir(out_dir))
    # R² of the least-squares line a F + b against C is rho² on the same points: rho and R² must agree
    for rep in _rho_r2_pairs(result):
        assert rep["r2"] == pytest.approx(rep["rho"] ** 2, abs=1e-4), rep
    if name == "fig2":
        # the default recipe finds S1 even at the quick budget; the printed R² is the run's
        run = result["runs"][0]
        assert run["rho"] > 0.9 and run["r2"] == pytest.approx(run["rho"] ** 2, abs=1e-4)
        assert result["rows"][0]["ours"] == run["r2"] and "target R² >= 0.99" in result["rows"][0]["note"]
    if name == "fig3":
        # noisy test inputs scatter even the exact invariant within a group; its group means do not
        noisy = result["results"]["s2@0.2"]
        assert noisy["exact_c_rho"] < 0.95 and noisy["group_mean_rho"] > noisy["rho"]
        assert "test groups' mean output" in result["rows"][1]["quantity"]
    if name == "fig5":
        # appendix C: the variance term alone shrinks F towards a constant; the NV loss keeps its spread
        assert result["simple"]["output_std"] < 0.2 * result["nv"]["output_std"]
    if name == "fig6":
        # with L fixed the orbit's orientation is an invariant too; rotation-invariant inputs leave only E
        assert result["paper_rotation"]["r2"] > result["paper"]["r2"] + 0.2
    if name == "fig9":
        # random data share nothing: the verdict must not report an invariant
        assert result["random"]["verdict"]["found"] is False
    if name == "appf":
        # S1 is quadratic: degree 1 cannot read the output, degree 2 can, higher degrees add no more than noise
        r2 = [r["r2_test"] for r in result["table"]]
        assert r2[0] < r2[1] - 0.2 and r2[1] > 0.9 and max(r2) > 0.95 and min(r2[2:]) > r2[1] - 0.01, r2


def test_table_collects_every_benchmark(root):
    from benchmarks import conservnet_table

    done = {n for n in BENCHMARKS if os.path.exists(os.path.join(root, f"conservnet_{n}", "results.csv"))}
    result = conservnet_table.benchmark(quick=True, out_dir=os.path.join(root, "table"), results_root=str(root))
    assert set(result["missing"]) == set(BENCHMARKS) - done
    expected = sum(len(_read_csv(os.path.join(root, f"conservnet_{n}", "results.csv"))) for n in done)
    assert result["n_rows"] == expected + len(result["missing"])
    collected = _read_csv(os.path.join(root, "table", "results.csv"))
    assert {r["benchmark"] for r in collected} == {f"conservnet_{n}" for n in BENCHMARKS}


@pytest.mark.slow
def test_script_runs_through_the_harness(tmp_path):
    """The absl entry point: flags parsed, the benchmark run, its table written; a bad flag is one line."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    args = [sys.executable, "-m", "benchmarks.conservnet_table", f"--results_root={tmp_path}",
            f"--out_dir={tmp_path / 'table'}"]
    out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"results in {tmp_path / 'table'}" in out.stdout
    assert len(_read_csv(tmp_path / "table" / "results.csv")) == len(BENCHMARKS)  # all "not run"
    bad = subprocess.run(args + ["extra"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("error: unexpected arguments")


def test_bad_flags_are_clear_errors(root):
    from benchmarks import _common, conservnet_fig2, conservnet_fig7

    with pytest.raises(ValueError, match="unknown system"):
        conservnet_fig2.benchmark(True, str(root), systems=["nope"])
    with pytest.raises(ValueError, match="NxM"):
        conservnet_fig7._parse_conditions(["20by100"])
    with pytest.raises(ValueError, match="steps must be positive"):
        _common.make_budget(True, steps=0)
