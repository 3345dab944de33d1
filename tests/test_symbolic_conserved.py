"""conserve_tf.symbolic.conserved: formulas constant within the groups of the data, without a network."""

import warnings

import numpy as np
import pytest
import sympy

from conserve_tf import make_system
from conserve_tf.symbolic import conserved_formula, within_fraction


def _terms(expr, symbols):
    """{monomial: coefficient} of a polynomial expression."""
    return {t.as_independent(*symbols)[1]: float(t.as_independent(*symbols)[0])
            for t in sympy.Add.make_args(sympy.expand(expr))}


def test_within_fraction_is_zero_for_an_invariant_and_near_one_for_noise():
    rng = np.random.default_rng(0)
    c = np.repeat(rng.normal(size=(30, 1)), 20, axis=1)
    assert within_fraction(c) == pytest.approx(0.0, abs=1e-15)
    assert within_fraction(rng.normal(size=(30, 20))) == pytest.approx(0.95, abs=0.05)
    assert within_fraction(np.ones((4, 5))) == float("inf")  # constant everywhere: not an invariant
    with pytest.raises(ValueError, match="groups >= 2, members >= 2"):
        within_fraction(np.ones(5))


def test_s1_formula_is_found_exactly_from_the_raw_groups():
    train, test = make_system("s1", 12, 60, seed=0).split_within(0.5, seed=0)
    # bounded by work (three anchors), not by the clock: the same result on any machine; the budget is a cap
    res = conserved_formula(train.x, test.x, feature_names=train.feature_names, time_budget=600.0, samples=300,
                            max_anchors=3)
    x1, x2, x3, x4 = sympy.symbols("x1 x2 x3 x4", real=True)
    terms = _terms(res.expression, (x1, x2, x3, x4))
    assert set(terms) == {x1, x2 * x3, x4 ** 2}  # C = x1 - 3 x2 x3 + x4²/2, up to scale
    assert terms[x2 * x3] / terms[x1] == pytest.approx(-3.0, rel=1e-6)
    assert terms[x4 ** 2] / terms[x1] == pytest.approx(0.5, rel=1e-6)
    assert res.fraction_test < 1e-12 and res.formula and res.latex
    assert any(row[2] > 1e-3 for row in res.front)  # the front also holds what is not conserved


@pytest.mark.parametrize("system, expected", [
    ("special_relativity", {"t**2": -1.0, "x**2": 1.0, "y**2": 1.0, "z**2": 1.0}),  # s², from pairs (G, 2, 4)
    ("electromagnetism", {"Ex*Bx": 1.0, "Ey*By": 1.0, "Ez*Bz": 1.0}),            # E·B, six inputs
    ("em_fixed_EdotB", {"Ex**2": 1.0, "Ey**2": 1.0, "Ez**2": 1.0, "Bx**2": -1.0, "By**2": -1.0, "Bz**2": -1.0}),
])
def test_siamese_pairs_give_the_invariant_exactly(system, expected):
    from siamese import make_system as siamese_system

    train, test = siamese_system(system, 600, seed=0), siamese_system(system, 300, seed=1)
    # one deep anchor only: what is asserted comes from the first pass, which does a fixed amount of work
    res = conserved_formula(train.x, test.x, feature_names=train.feature_names, time_budget=600.0, samples=1200,
                            max_anchors=1)
    symbols = sympy.symbols(train.feature_names, real=True)
    terms = _terms(res.expression, symbols)
    want = {sympy.sympify(k, locals=dict(zip(train.feature_names, symbols))): v for k, v in expected.items()}
    assert set(terms) == set(want)
    ref = next(iter(want))
    for m, v in want.items():
        assert terms[m] / terms[ref] == pytest.approx(v / want[ref], rel=1e-6)
    assert res.fraction_test < 1e-12


def test_data_without_an_invariant_get_no_conserved_formula():
    train, test = make_system("random", 12, 60, seed=1).split_within(0.5, seed=1)
    with pytest.warns(UserWarning, match="no formula conserved within the groups"):
        res = conserved_formula(train.x, test.x, time_budget=600.0, samples=300, max_anchors=3)
    assert res.fraction_test > 0.3  # held-out groups are not separated by a sparse formula
    assert not res.found and res.verdict.message.startswith("no invariant found")


def test_a_conserved_formula_carries_the_verdict_that_it_is_one():
    train, test = make_system("s1", 12, 60, seed=1).split_within(0.5, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for a formula that is conserved
        res = conserved_formula(train.x, test.x, time_budget=600.0, samples=300, max_anchors=3)
    assert res.found and res.verdict.ratio < 0.01
    alone = conserved_formula(train.x, time_budget=600.0, samples=300, max_anchors=3)
    assert alone.found and "give held-out groups" in alone.verdict.message


@pytest.mark.parametrize("kwargs, message", [
    (dict(x_fit=np.ones((5, 4))), "grouped data"),
    (dict(x_fit=np.full((3, 4, 2), np.nan)), "NaN or Inf"),
    (dict(x_fit=np.ones((3, 4, 2)), x_test=np.ones((3, 4, 3))), "features"),
    (dict(x_fit=np.ones((3, 4, 2)), feature_names=["a"]), "1 feature names for 2 features"),
    (dict(x_fit=np.ones((3, 4, 2)), time_budget=0), "time_budget > 0"),
    (dict(x_fit=np.ones((3, 4, 2)), max_anchors=0), "max_anchors must be >= 1"),
    (dict(x_fit=np.ones((3, 4, 2)), functions=("sinn",)), "unknown function name"),
])
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        conserved_formula(**kwargs)


def test_benchmark_from_data_quick(tmp_path):
    from benchmarks.symbolic_readout import benchmark

    rows = benchmark(quick=True, out_dir=str(tmp_path), systems=(), from_data=True)
    assert [(r["system"], r["method"]) for r in rows] == [("s1", "conserved")]
    assert rows[0]["passed"] and rows[0]["r2_test"] > 1 - 1e-12  # 1 − held-out within fraction
    assert "s1 conserved" in (tmp_path / "results.md").read_text()
