"""Every ConservNet reproduction benchmark runs in --quick mode and returns sane numbers and files."""

import math
import os

import pytest

BENCHMARKS = ["fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "appf"]


def _numbers(rows):
    out = []
    for r in rows:
        v = r["ours"]
        if isinstance(v, (int, float)):
            out.append(float(v))
    return out


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("repro")


@pytest.mark.parametrize("name", BENCHMARKS)
def test_quick_benchmark(name, root):
    import importlib

    mod = importlib.import_module(f"benchmarks.conservnet_{name}")
    out_dir = os.path.join(root, f"conservnet_{name}")
    result = mod.benchmark(quick=True, out_dir=out_dir)
    nums = _numbers(result["rows"])
    assert nums and all(math.isfinite(v) for v in nums), result["rows"]
    files = os.listdir(out_dir)
    assert {"results.csv", "results.md", "results.json"} <= set(files)
    assert any(f.endswith(".png") for f in files)
    if name == "fig5":
        # appendix C: the variance term alone shrinks F towards a constant; the NV loss keeps its spread
        assert result["simple"]["output_std"] < 0.2 * result["nv"]["output_std"]
    if name in ("fig2", "fig5", "fig6", "fig7", "fig8", "appf", "fig3"):
        # correlations and R² are bounded
        for r in result["rows"]:
            if ("rho" in r["quantity"] or "R²" in r["quantity"]) and isinstance(r["ours"], float):
                assert -1.0 <= r["ours"] <= 1.0 + 1e-9, r


def test_table_collects_every_benchmark(root):
    from benchmarks import conservnet_table

    done = {n for n in BENCHMARKS if os.path.exists(os.path.join(root, f"conservnet_{n}", "results.csv"))}
    result = conservnet_table.benchmark(quick=True, out_dir=os.path.join(root, "table"), results_root=str(root))
    assert set(result["missing"]) == set(BENCHMARKS) - done
    assert os.path.exists(os.path.join(root, "table", "results.md"))
    assert result["n_rows"] >= len(BENCHMARKS)


def test_bad_flags_are_clear_errors(root):
    from benchmarks import _common, conservnet_fig2, conservnet_fig7

    with pytest.raises(ValueError, match="unknown system"):
        conservnet_fig2.benchmark(True, str(root), systems=["nope"])
    with pytest.raises(ValueError, match="NxM"):
        conservnet_fig7._parse_conditions(["20by100"])
    with pytest.raises(ValueError, match="steps must be positive"):
        _common.make_budget(True, steps=0)
