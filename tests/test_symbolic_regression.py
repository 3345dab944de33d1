"""Symbolic-regression read-out (conserve_tf.symbolic.symbolic_readout) and its benchmark."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import sympy

from conserve_tf.symbolic import ReadoutResult, polynomial_readout, symbolic_readout
from conserve_tf.symbolic._sympy_tools import alignment, degenerate, normalize, prune, rounded

NAMES = ["theta", "omega"]
SMALL = dict(population=100, generations=30, max_length=12, time_budget=5.0)


def pendulum(n=400, seed=0):
    """States (θ, ω) (n, 2), energy C = ω²/2 - cos θ (n,) and its gradient (n, 2)."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(-np.pi, np.pi, n), rng.uniform(-2.0, 2.0, n)])
    c = x[:, 1] ** 2 / 2 - np.cos(x[:, 0])
    return x, c, np.column_stack([np.sin(x[:, 0]), x[:, 1]])


def control_target(c, seed=1):
    f = 1.7 * c - 0.4
    return f + 1e-3 * f.std() * np.random.default_rng(seed).normal(size=f.shape)


def test_polynomial_readout_still_exported():
    x, c, _ = pendulum(200)
    res = polynomial_readout(x, c, feature_names=NAMES, degrees=(2,))
    assert isinstance(res, ReadoutResult) and res.degree == 2


def test_pendulum_control_recovered_exactly():
    # Operon alone (the library's own tests are in test_symbolic_library.py)
    x, c, _ = pendulum()
    res = symbolic_readout(x, control_target(c), feature_names=NAMES, seed=0, functions=("square", "cos"),
                           library=False, **SMALL)
    assert res.formula == "omega**2 - 2*cos(theta)"
    # F = 1.7 C - 0.4 and the core is 2 C: scale 0.85, offset -0.4
    assert res.scale == pytest.approx(0.85, rel=1e-2) and res.offset == pytest.approx(-0.4, abs=1e-2)
    assert res.r2_test > 0.99999 and res.alignment_test is None and res.r2_h_test > 0.99999
    assert res.source == "operon"
    assert res.latex == sympy.latex(res.expression)
    assert any(formula == res.formula for _, _, formula in res.front)
    lengths = [length for length, _, _ in res.front]
    assert lengths == sorted(lengths)
    data = json.loads(json.dumps(res.as_dict()))
    assert data["formula"] == res.formula and data["fit"] == "affine" and len(data["front"]) == len(res.front)
    assert f"`{res.formula}` **(chosen)**" in res.markdown()


def test_same_seed_same_result():
    x, c, _ = pendulum(300)
    f = control_target(c)
    # generations end the run (not the clock), one thread: the front is reproducible
    opts = dict(feature_names=NAMES, seed=3, population=60, generations=8, time_budget=60.0, threads=1)
    a, b = symbolic_readout(x, f, **opts), symbolic_readout(x, f, **opts)
    assert a.front == b.front and a.formula == b.formula


@pytest.mark.slow
def test_affine_and_gradient_fits_agree_on_monotone_target():
    x, c, grad_c = pendulum()
    xt, ct, grad_ct = pendulum(seed=5)
    f, ft = np.exp(0.5 * c), np.exp(0.5 * ct)  # F = h(C) with h = exp(C/2): an invariant, not affine in C
    g, gt = 0.5 * f[:, None] * grad_c, 0.5 * ft[:, None] * grad_ct
    opts = dict(feature_names=NAMES, seed=0, functions=("square", "cos", "sin", "exp"), population=200,
                generations=40, time_budget=10.0, library=False)  # Operon's gradient objective itself
    by_gradient = symbolic_readout(x, f, xt, ft, fit="gradient", grad_train=g, grad_test=gt, **opts)
    by_affine = symbolic_readout(x, f, xt, ft, fit="affine", **opts)
    assert by_gradient.formula == "omega**2 - 2*cos(theta)"  # h dropped out
    assert by_gradient.alignment_test > 0.9999
    symbols = [sympy.Symbol(n, real=True) for n in NAMES]
    # the affine fit names h(C) in some form: its level sets are those of the gradient fit's formula
    assert alignment(by_affine.expression, symbols, xt, grad_ct) > 0.99


def test_monotone_fit_names_a_bent_invariant_that_the_affine_fit_misses():
    # F = z + 0.3 z³, z the standardized 1.7 C - 0.4: an invariant bent by a monotone map, as a network's is
    x, c, _ = pendulum()
    xt, ct, _ = pendulum(seed=5)
    f, ft = control_target(c), control_target(ct, seed=2)
    mean, std = f.mean(), f.std()

    def bend(v):
        return (v - mean) / std + 0.3 * ((v - mean) / std) ** 3

    opts = dict(feature_names=NAMES, seed=0, functions=("square", "cos"), library=False, **SMALL)
    monotone = symbolic_readout(x, bend(f), xt, bend(ft), fit="monotone", **opts)
    affine = symbolic_readout(x, bend(f), xt, bend(ft), fit="affine", **opts)
    assert monotone.formula == "omega**2 - 2*cos(theta)" and monotone.criterion == "r2_h"
    assert monotone.markdown().startswith("| length | held-out R² of h(g) | formula |")
    assert monotone.score == monotone.r2_h_test and affine.score == affine.r2_test
    assert monotone.r2_h_test > 0.99999 and monotone.r2_test < 0.95  # a·g + b cannot follow the bend
    assert affine.formula != monotone.formula  # the affine fit spends extra terms on h's curvature
    assert affine.r2_h_test < monotone.r2_h_test


def test_scripts_print_the_monotone_fit():
    from conserve_tf.symbolic import read_out

    x, c, _ = pendulum(300)
    lines = []
    out = read_out("symbolic", "F", x, np.exp(0.5 * c), x, np.exp(0.5 * c), NAMES, seconds=3.0,
                   functions=("square", "cos"), fit="monotone", print_fn=lines.append)
    assert "symbolic read-out of F (F ≈ h(g), h a monotone cubic;" in lines[0]
    assert out["symbolic"]["fit"] == "monotone" and out["symbolic"]["criterion"] == "r2_h"
    assert f"g = {out['symbolic']['formula']}" in lines[1]
    assert out["symbolic"]["named"] and not any(line.startswith("WARNING") for line in lines)
    # F without any formula behind it: the best of the front is printed, and said not to name F
    noise = np.random.default_rng(3).normal(size=300)
    lines = []
    out = read_out("symbolic", "F", x, noise, x, noise, NAMES, seconds=3.0, functions=("square", "cos"),
                   fit="monotone", print_fn=lines.append)
    assert not out["symbolic"]["named"] and lines[-1].startswith("WARNING: g explains little of F")


def test_a_polynomial_that_only_approximates_f_is_said_to():
    from conserve_tf.symbolic import read_out

    x, c, _ = pendulum(300)
    xt, ct, _ = pendulum(300, seed=5)
    for f, ft, describes in ((x[:, 1] ** 2 - 0.3 * x[:, 0] * x[:, 1], xt[:, 1] ** 2 - 0.3 * xt[:, 0] * xt[:, 1], True),
                             (c, ct, False)):  # a polynomial of degree 2; the energy with its cos θ
        lines = []
        out = read_out("polynomial", "F", x, f, xt, ft, NAMES, degree=2, print_fn=lines.append)
        assert out["polynomial"]["describes"] is describes
        assert any(line.startswith("NOTE: this polynomial explains") for line in lines) is not describes
    assert "--readout=symbolic" in lines[-1]


def test_monotone_fit_never_chooses_a_formula_whose_h_turns():
    from conserve_tf.symbolic._sympy_tools import cubic_design, monotone_cubic
    from conserve_tf.symbolic.regression import _score

    x, c, _ = pendulum()
    xt, ct, _ = pendulum(seed=5)
    symbols = [sympy.Symbol(n, real=True) for n in NAMES]
    t, w = symbols
    core = w ** 2 - 2 * sympy.cos(t)
    u = (c - c.mean()) / c.std()
    assert np.allclose(cubic_design(c, c)[:, 1], u) and np.allclose(cubic_design(c, c)[:, 3], u ** 3)
    assert monotone_cubic(np.array([0.0, 1.0, 0.0, 0.3]), c) and not monotone_cubic(np.array([0.0, 0.0, 1.0, 0.0]), c)
    # F = C² over C of both signs: C's level sets are not F's, so C is flagged, while C² is not
    args = (symbols, x, (c - 0.3) ** 2, None, xt, (ct - 0.3) ** 2, None, "monotone")
    assert _score(core, *args)["degenerate"] and not _score((core - 0.3) ** 2, *args)["degenerate"]
    # the affine fit has no such rule
    assert not _score(core, *args[:-1], "affine")["degenerate"]


def test_exp_of_a_formula_is_also_offered_as_the_formula_itself_when_h_drops_out():
    from conserve_tf.symbolic.regression import _variants

    x, c, g = pendulum(300)
    t, w = [sympy.Symbol(n, real=True) for n in NAMES]
    member = sympy.exp(0.5 * w ** 2) * sympy.exp(-sympy.cos(t))  # exp(C): the level sets of C
    f = np.exp(c)
    shown = {str(rounded(v, 3)) for v in _variants(member, [t, w], x, f, g * f[:, None], "monotone")}
    assert "omega**2 - 2*cos(theta)" in shown
    assert "omega**2 - 2*cos(theta)" in {str(rounded(v, 3)) for v in _variants(member, [t, w], x, f, g, "gradient")}
    # F ≈ a·g + b is not blind to h: the affine fit keeps exp(C) as it is
    assert "omega**2 - 2*cos(theta)" not in {str(rounded(v, 3)) for v in _variants(member, [t, w], x, f, None,
                                                                                 "affine")}


@pytest.mark.parametrize("change, message", [
    (dict(functions=("sin", "erf")), "unknown function"),
    (dict(fit="quadratic"), "fit must be"),
    (dict(time_budget=-1.0), "time_budget"),
    (dict(threads=0), "threads"),
    (dict(tolerance=-0.1), "tolerance"),
    (dict(fit="gradient"), "needs grad_train"),
    (dict(fit="gradient", grad_train=np.ones((5, 2))), "grad_train has shape"),
    (dict(feature_names=["a"]), "feature names"),
])
def test_bad_options_raise(change, message):
    x, c, _ = pendulum(50)
    with pytest.raises(ValueError, match=message):
        symbolic_readout(x, c, **change)


def test_bad_data_raise():
    x, c, g = pendulum(50)
    bad = c.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        symbolic_readout(x, bad)
    with pytest.raises(ValueError, match="dimension"):
        symbolic_readout(x[:, 0], c)
    with pytest.raises(ValueError, match="values for"):
        symbolic_readout(x, c[:-1])
    with pytest.raises(ValueError, match="both x_test and f_test"):
        symbolic_readout(x, c, x_test=x)
    with pytest.raises(ValueError, match="all zero"):
        symbolic_readout(x, c, fit="gradient", grad_train=np.zeros_like(g))
    with pytest.raises(ValueError, match="constant"):
        symbolic_readout(x, np.ones(50))


def test_normal_form_and_display():
    t, w = sympy.symbols("theta omega", real=True)
    core = normalize(-3.4 * w ** 2 + 6.8 * sympy.cos(t) + 11.0, [t, w])
    assert str(rounded(core, 3)) == "omega**2 - 2*cos(theta)"
    assert normalize(sympy.Float(2.5), [t, w]) is None
    assert str(rounded(0.333333 * t + 2.0000001 * w, 3)) == "2*omega + 0.333*theta"


def test_values_too_large_for_least_squares_are_skipped_not_raised():
    from conserve_tf.symbolic._sympy_tools import least_squares_or_none
    from conserve_tf.symbolic.regression import _score

    x, c, _ = pendulum(200)
    t, w = [sympy.Symbol(n, real=True) for n in NAMES]
    huge = sympy.sin(10 ** (60 * (w + 3)))  # finite sin of arguments up to 1e300: their squares overflow
    assert not degenerate(huge, [t, w], x)
    assert least_squares_or_none(np.array([[1.0, np.inf], [1.0, 2.0]]), np.ones(2)) is None
    assert _score(10 ** (60 * (w + 3)), [t, w], x, c, None, x, c, None, "monotone") is None
    row = _score(w ** 2 - 2 * sympy.cos(t), [t, w], x, 1.7 * c - 0.4, None, x, 1.7 * c - 0.4, None, "affine")
    assert row["scale"] == pytest.approx(0.85) and row["offset"] == pytest.approx(-0.4) and row["r2_test"] > 0.999999


def test_crumbs_pruned_and_taylor_stand_ins_flagged():
    x, _, _ = pendulum(200)
    t, w = sympy.symbols("theta omega", real=True)
    assert prune(w ** 2 - 2 * sympy.cos(t) + 1e-6 * t, [t, w], x) == w ** 2 - 2 * sympy.cos(t)
    assert prune(w ** 2 - 2 * sympy.cos(t), [t, w], x) is None
    assert degenerate(1830 * sympy.cos(0.0233 * w), [t, w], x)  # ≈ const - 0.5 ω², a Taylor stand-in
    assert not degenerate(w ** 2 - 2 * sympy.cos(t), [t, w], x)


@pytest.mark.slow
def test_keras_input_gradient_matches_a_linear_model():
    import keras

    from conserve_tf.symbolic import keras_input_gradient

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.random.default_rng(0).normal(size=(10, 3))
    grad = keras_input_gradient(model, x, output=1)
    np.testing.assert_allclose(grad, np.tile(model.layers[0].kernel.numpy()[:, 1], (10, 1)), rtol=1e-5)


@pytest.mark.slow
def test_benchmark_quick(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-m", "benchmarks.symbolic_readout", "--quick", f"--out_dir={tmp_path}"],
                         cwd=root, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert [r["quantity"] for r in rows] == [f"pendulum {m}: held-out R²" for m in ("polynomial", "symbolic-affine")]
    assert rows[1]["paper"] is None and rows[1]["ours"] > 0.9999 and "passed True" in rows[1]["note"]
    with open(tmp_path / "readouts.csv", newline="") as fh:
        details = list(csv.DictReader(fh))
    assert [(r["system"], r["method"], r["passed"]) for r in details] == [
        ("pendulum", "polynomial", "False"), ("pendulum", "symbolic-affine", "True")]
    assert details[1]["formula"] == "omega**2 - 2*cos(theta)"
    fronts = json.loads((tmp_path / "fronts.json").read_text())
    assert fronts["pendulum/symbolic-affine"]["formula"] == details[1]["formula"]
    assert (tmp_path / "results.md").read_text().count("| pendulum ") == 2


def test_benchmark_quick_monotone_fit_on_a_bent_control(tmp_path):
    from benchmarks.symbolic_readout import benchmark

    rows = benchmark(quick=True, out_dir=str(tmp_path), fit="monotone", warp="cube")
    assert [(r["method"], r["kind"], r["passed"]) for r in rows] == [
        ("polynomial", "control, cube warp", False), ("symbolic-monotone", "control, cube warp", True)]
    table = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert table[1]["quantity"] == "pendulum symbolic-monotone: held-out R² of h(g)" and table[1]["ours"] > 0.9999


def test_benchmark_reads_the_siamese_bottleneck_against_the_generators_energy():
    from benchmarks.symbolic_readout import _siamese_trained
    from conserve_tf.symbolic._sympy_tools import compile_expression
    from siamese.training import load_data

    x, f, g, xt, ft, gt, names, true, rho = _siamese_trained(0, groups=300, epochs=1)
    assert names == ["x", "y", "vx", "vy"] and x.shape == (600, 4) and xt.shape == (5000, 4)
    assert f.shape == (600,) and ft.shape == (5000,) and g.shape == x.shape and gt.shape == xt.shape
    assert 0.0 <= rho <= 1.0
    # the formula to be named is the generator's own E on every test state
    _, test = load_data("central_fixed_L", groups=300, seed=0)
    energy = compile_expression(true, [sympy.Symbol(n, real=True) for n in names])(xt)
    assert np.allclose(energy, test.flat_constants("E")[:5000], rtol=1e-9, atol=1e-9)


def test_large_offset_small_variation_is_read():
    # a trained F is often a big constant plus a small variation; Operon's float32 would lose it unstandardized
    x, c, _ = pendulum()
    res = symbolic_readout(x, 1000.0 + 1e-5 * c, feature_names=NAMES, seed=0, functions=("square", "cos"),
                           library=False, **SMALL)
    assert res.formula == "omega**2 - 2*cos(theta)" and res.r2_test > 0.99999
