"""Symbolic read-out of a learned scalar: ridge regression on polynomial features of the inputs.

Appendix F of the ConservNet paper and Tables I-V of the Siamese paper fit the network output y
(N,) on all monomials of the inputs x (N, F) up to degree d = 1..4 and read the formula off the
dominant coefficients. scikit-learn does the work (``PolynomialFeatures`` + ``Ridge``); this module
adds the R² table over degrees, the choice of the most parsimonious adequate degree, and a readable
formula. ``extra_features`` adds columns such as 1/r before the polynomial expansion (paper 002
recovers E = v²/2 - 1/r that way).
"""

from __future__ import annotations

import dataclasses
import keyword
import re
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = ["ReadoutResult", "polynomial_readout", "design_matrix", "format_terms", "symbol_names"]


@dataclasses.dataclass
class ReadoutResult:
    """R² per degree and the formula of the chosen degree.

    ``table``: list of ``dict(degree, r2_train, r2_test)``; ``terms``: ``(monomial, coefficient)``
    pairs, dominant first (dominance = |coefficient| x std of the monomial over the training data);
    ``formula``: those terms as a string; ``degree``: the degree the formula is read at;
    ``intercept``: the fitted constant (not part of the formula).
    """

    table: list
    degree: int
    terms: list
    formula: str
    intercept: float
    feature_names: list

    def markdown(self) -> str:
        rows = ["| degree | R² train | R² test |", "| --- | --- | --- |"]
        for r in self.table:
            test = "-" if r["r2_test"] is None else f"{r['r2_test']:.4f}"
            rows.append(f"| {r['degree']} | {r['r2_train']:.4f} | {test} |")
        return "\n".join(rows)

    def coefficient(self, monomial: str) -> float:
        """The coefficient of one monomial of the formula's degree (0 when it is not among the terms)."""
        return dict(self.terms).get(monomial, 0.0)


def symbol_names(feature_names, n: int) -> list[str]:
    """Names fit for a formula: ``feature_names`` (default x1 .. xn), each made an identifier (a run of other
    characters becomes "_": "v (m/s)" -> "v_m_s") and unique, so a column name cannot split or merge terms."""
    if feature_names is None:
        return [f"x{i + 1}" for i in range(n)]
    names = [str(v) for v in feature_names]
    if len(names) != n:
        raise ValueError(f"{len(names)} feature names for {n} features")
    out = []
    for i, name in enumerate(names):
        safe = re.sub(r"\W+", "_", name).strip("_")
        if not safe or safe[0].isdigit() or keyword.iskeyword(safe):
            safe = f"x{i + 1}_{safe}" if safe else f"x{i + 1}"
        while safe in out:
            safe = f"{safe}_{i + 1}"
        out.append(safe)
    return out


def design_matrix(x, feature_names=None, extra_features: Mapping[str, Callable] | None = None):
    """Inputs plus extra feature columns: returns ``(X (N, F + E), names)``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"read-out inputs must have shape (samples, features), got {x.shape}")
    names = symbol_names(feature_names, x.shape[1])
    cols = [x]
    for name, fn in (extra_features or {}).items():
        col = np.asarray(fn(x), dtype=np.float64).reshape(-1, 1)
        if col.shape[0] != x.shape[0] or not np.all(np.isfinite(col)):
            raise ValueError(f"extra feature {name!r} must give one finite value per sample")
        cols.append(col)
        names.append(name)
    return np.concatenate(cols, axis=1), names


def _pretty(monomial: str) -> str:
    return monomial.replace(" ", "*")


def polynomial_readout(x_train, y_train, x_test=None, y_test=None, degrees: Sequence[int] = (1, 2, 3, 4),
                       feature_names=None, extra_features=None, alpha: float = 1e-6,
                       formula_degree: int | None = None, max_terms: int = 6, tolerance: float = 2e-3,
                       min_share: float = 0.02) -> ReadoutResult:
    """Fit ``y`` on monomials of ``x`` for each degree and read off the dominant terms.

    x: (N, F), y: (N,). ``formula_degree=None`` picks the lowest degree whose R² (test if given, else
    train) is within ``tolerance`` of the best. Terms whose contribution is below ``min_share`` of the
    largest are dropped, and at most ``max_terms`` are kept.
    """
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    xtr, names = design_matrix(x_train, feature_names, extra_features)
    ytr = np.asarray(y_train, dtype=np.float64).reshape(-1)
    if ytr.shape[0] != xtr.shape[0]:
        raise ValueError(f"{ytr.shape[0]} targets for {xtr.shape[0]} samples")
    if xtr.shape[0] < 3:
        raise ValueError(f"a read-out needs at least 3 training samples, got {xtr.shape[0]}")
    if not np.all(np.isfinite(ytr)):
        raise ValueError("the targets contain NaN or Inf")
    if np.ptp(ytr) <= 1e-12 * np.abs(ytr).max():
        raise ValueError("the target is constant on the training samples (a network collapsed to a constant?): "
                         "there is no formula to read off")
    if (x_test is None) != (y_test is None):
        raise ValueError("give both x_test and y_test, or neither")
    has_test = x_test is not None
    if has_test:
        xte, _ = design_matrix(x_test, feature_names, extra_features)
        yte = np.asarray(y_test, dtype=np.float64).reshape(-1)
    degrees = (degrees,) if isinstance(degrees, (int, np.integer)) else tuple(degrees)
    if any(isinstance(d, bool) or not float(d).is_integer() for d in degrees):
        raise ValueError(f"degrees must be positive integers, got {list(degrees)}")
    degrees = sorted({int(d) for d in degrees})
    if not degrees or degrees[0] < 1:
        raise ValueError(f"degrees must be positive integers, got {degrees}")
    if int(max_terms) < 1:
        raise ValueError(f"max_terms must be >= 1, got {max_terms}")

    fits, table = {}, []
    for d in degrees:
        pipe = make_pipeline(PolynomialFeatures(d, include_bias=False), Ridge(alpha=alpha))
        pipe.fit(xtr, ytr)
        fits[d] = pipe
        table.append({"degree": d, "r2_train": float(pipe.score(xtr, ytr)),
                      "r2_test": float(pipe.score(xte, yte)) if has_test else None})
    key = "r2_test" if has_test else "r2_train"
    if formula_degree is None:
        best = max(r[key] for r in table)
        formula_degree = next(r["degree"] for r in table if r[key] >= best - tolerance)
    elif formula_degree not in fits:
        raise ValueError(f"formula_degree {formula_degree} is not among the degrees {degrees}")

    poly, ridge = fits[formula_degree].steps[0][1], fits[formula_degree].steps[1][1]
    monomials = poly.get_feature_names_out(names)
    weight = np.abs(ridge.coef_) * poly.transform(xtr).std(axis=0)
    order = np.argsort(-weight)
    keep = [i for i in order[:max_terms] if weight[i] >= min_share * weight[order[0]]]
    terms = [(_pretty(monomials[i]), float(ridge.coef_[i])) for i in keep]
    return ReadoutResult(table=table, degree=formula_degree, terms=terms, formula=format_terms(terms),
                         intercept=float(ridge.intercept_), feature_names=names)


def format_terms(terms, digits: int = 3) -> str:
    """``[("x1", 0.31), ("x2*x3", -0.92)]`` -> ``"0.31 x1 - 0.92 x2*x3"``."""
    out = ""
    for i, (name, coef) in enumerate(terms):
        mag = f"{abs(coef):.{digits}g}"
        sign = ("-" if coef < 0 else "") if i == 0 else (" - " if coef < 0 else " + ")
        out += f"{sign}{mag} {name}"
    return out or "0"
