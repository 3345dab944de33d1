"""Formulas conserved within the groups of the data itself, found without a network.

A cross-check of what ConservNet or a Siamese network learned, and a first look at data a scientist brings:
among sparse sums C(x) = φ_a(x) + Σ_k c_k φ_k(x) of terms of the library's grammar
(:mod:`conserve_tf.symbolic.library`), find those whose value stays constant within every group.

For grouped data x (G, M, F), with C̄_g the mean of C over group g and C̄ over all points,

    W(C) = Σ_g Σ_m (C(x_gm) − C̄_g)²,   T(C) = Σ_g Σ_m (C(x_gm) − C̄)²,   within fraction = W / T.

With the anchor term φ_a at coefficient 1 (so C ≠ 0), minimizing W over the c_k is a least-squares problem
on the group-centred term values. A first pass looks at two small sets of terms, the one-factor terms and the
products of positive powers: in each, the combination c of least W / T over all its terms (the generalized
eigenvector of the within and total Gram matrices, c_k weighting unit-spread terms) orders the terms by
|c_k|; its 2, 3, ... leading terms are supports, and its leading terms anchor a beam search within the set.
Then the supports come from the same beam search and backward pruning as the read-out's gradient fit, every
term serving as anchor in turn (one-factor terms first, then two- and three-factor ones; within a level,
those whose own within fraction is smallest first). Candidates are ranked by W / T on the sample, which also exposes a combination that is
constant everywhere (T ≈ 0). The chosen formula is the one with the fewest terms whose held-out within
fraction is at most ``tolerance`` or within ``slack`` times the best; it is printed with the
:func:`~conserve_tf.symbolic.regression.symbolic_readout` conventions (no constant term, the smallest
coefficient ±1).
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
import scipy.linalg
import sympy

from ._operon import function_names
from .polynomial import symbol_names
from ._sympy_tools import compile_expression, normalize, rounded
from .library import _expression, _gradient_search, _values, build_library

__all__ = ["ConservedResult", "conserved_formula", "within_fraction"]

_PREPASS_ANCHORS = 8  # anchors of the first pass (docs/symbolic.md)


def within_fraction(c) -> float:
    """W / T of values c (G, M) grouped like the data: 0 for an exact invariant, about 1 for none."""
    c = np.asarray(c, np.float64)
    if c.ndim != 2 or c.shape[0] < 2 or c.shape[1] < 2:
        raise ValueError(f"within_fraction needs values of shape (groups >= 2, members >= 2), got {c.shape}")
    total = np.sum((c - c.mean()) ** 2)
    if not np.isfinite(total) or total <= 0:
        return float("inf")
    return float(np.sum((c - c.mean(axis=1, keepdims=True)) ** 2) / total)


@dataclasses.dataclass
class ConservedResult:
    """The chosen formula (sympy, text, LaTeX), its within fraction on the fitted and held-out data, every
    candidate as ``(expression, fit fraction, held-out fraction, terms)`` rows in ``front``, and ``verdict``
    (:class:`conserve_tf.verdict.Verdict`): whether the formula is conserved at all, by the test ConservNet's
    outputs get (its held-out spread within groups against groups of shuffled members)."""

    expression: sympy.Expr
    formula: str
    latex: str
    fraction_fit: float
    fraction_test: float
    seconds: float
    front: list
    verdict: object = None

    @property
    def found(self) -> bool:
        """Whether the chosen formula is conserved within the (held-out) groups: ``verdict.found``."""
        return bool(self.verdict is not None and self.verdict.found)


def _grouped(name, x):
    x = np.asarray(x, np.float64)
    if x.ndim != 3 or x.shape[0] < 2 or x.shape[1] < 2:
        raise ValueError(f"{name} must be grouped data (groups >= 2, members >= 2, features), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} holds NaN or Inf")
    return x


def _monomial(term) -> bool:
    """Whether a library term is a product of positive powers of the inputs."""
    return all(f.power and (f.expr.is_Symbol or f.expr.exp > 0) for f in term)


def _least_ratio_order(within, centred, spread):
    """The columns (of within and centred, both (rows, K); spread (K,) the norms of centred's columns)
    ordered by their weight |c_k| in the combination c of least W / T, largest first: the generalized
    eigenvector of the (within, centred) Gram matrices with the smallest eigenvalue, columns scaled to unit
    spread (a tiny ridge keeps the centred Gram positive definite)."""
    w, t = within / spread, centred / spread
    t_mat = t.T @ t
    t_mat += 1e-9 * np.trace(t_mat) / len(t_mat) * np.eye(len(t_mat))
    _, vectors = scipy.linalg.eigh(w.T @ w, t_mat, subset_by_index=[0, 0])
    return [int(i) for i in np.argsort(-np.abs(vectors[:, 0]))]


def _candidates(symbols, x, functions, max_terms, width, samples, seed, deadline, max_columns, keep, max_anchors):
    """{support: coefficients} minimizing W on a member subsample of x (G, M, F), the ``keep`` lowest in W / T
    of every size; also returns the terms."""
    g, m, n_features = x.shape
    per = max(2, min(m, int(samples) // g))
    rng = np.random.default_rng(seed)
    if g * per > max(int(samples), 4):  # many small groups (a Siamese network's pairs): a subset of the groups
        x = x[np.sort(rng.permutation(g)[:max(2, int(samples) // per)])]
        g = x.shape[0]
    pick = np.stack([rng.permutation(m)[:per] for _ in range(g)])
    flat = np.take_along_axis(x, pick[..., None], axis=1).reshape(-1, n_features)
    # whole levels and no look-ahead (docs/symbolic.md): this search runs one beam per anchor within its
    # budget, and the larger library and deeper beams of the read-out made it miss S3 within 20 s
    terms, levels = build_library(symbols, flat, functions, max_columns, by_order=False)
    levels = np.array(levels)
    values = np.column_stack([_values(t) for t in terms]).reshape(g, per, -1)
    within = (values - values.mean(axis=1, keepdims=True)).reshape(g * per, -1)
    centred = (values - values.mean(axis=(0, 1))).reshape(g * per, -1)
    spread = np.linalg.norm(centred, axis=0)
    own = np.linalg.norm(within, axis=0) / np.maximum(spread, 1e-300)
    # anchors: one-factor terms first, then two- and three-factor ones; the most nearly conserved first
    order = np.lexsort((own, levels))
    anchors = [int(i) for i in order if spread[i] > 0][:max_anchors]
    # a quick first pass (docs/symbolic.md): within the one-factor terms, and within the products of powers,
    # the columns ordered by their weight in the combination of least W / T; its leading columns as
    # supports, and as anchors of a search among the same columns. Sums of powers such as -t² + x² + y² + z²
    # and polynomials such as x v_y - y v_x are found here before the deeper searches use the time.
    found = {}
    for cols in (np.flatnonzero((levels == 1) & (spread > 0)),
                 np.flatnonzero(np.array([_monomial(t) for t in terms]) & (spread > 0))):
        if len(cols) < 2:
            continue
        ranking = _least_ratio_order(within[:, cols], centred[:, cols], spread[cols])
        for k in range(2, min(max_terms, len(ranking)) + 1):
            support = [int(cols[i]) for i in ranking[:k]]
            coef, *_ = np.linalg.lstsq(within[:, support[1:]], -within[:, support[0]], rcond=None)
            found.setdefault(tuple(support), np.concatenate([[1.0], coef]))
        first = _gradient_search(within[:, cols], spread[cols], ranking[:_PREPASS_ANCHORS], levels[cols],
                                 width, max_terms, deadline, lookahead=0)
        found.update({tuple(int(cols[k]) for k in support): coef for support, coef in first.items()})
    found.update(_gradient_search(within, spread, anchors, levels, width, max_terms, deadline, lookahead=0))
    ranked = {}
    for support, coef in found.items():  # the sample's W / T of every support, from the term values
        ranked.setdefault(len(support), []).append((within_fraction(values[..., list(support)] @ coef), support))
    kept = [s for rows in ranked.values() for _, s in sorted(rows)[:keep]]
    return {s: found[s] for s in kept}, terms


def conserved_formula(x_fit, x_test=None, *, feature_names=None, functions=("sin", "cos", "log", "sqrt", "div"),
                      max_terms: int = 6, width: int = 40, samples: int = 1000, seed: int = 0,
                      time_budget: float = 20.0, tolerance: float = 1e-3, slack: float = 1.5,
                      max_columns: int = 6000, digits: int = 3, keep: int = 3,
                      max_anchors: int | None = None) -> ConservedResult:
    """The sparse formula most nearly constant within the groups of ``x_fit`` (G, M, F).

    ``x_test`` (G', M', F) scores the candidates on other data (default: ``x_fit``); the result is the
    candidate with the fewest terms whose held-out within fraction is ≤ ``tolerance`` or ≤ ``slack`` times the
    lowest. ``samples`` points (spread over the groups; with more groups than ``samples`` / 2, two members of
    each of ``samples`` / 2 groups drawn at random) enter the search, which starts no new beam after
    ``time_budget`` seconds; ``keep`` candidates of every number of terms (the lowest W / T on the sample)
    are scored and listed in ``front``. ``seed`` fixes the sample; the search itself stops on the clock, so a
    slower or busier machine may stop earlier and print another candidate (docs/symbolic.md), unless
    ``max_anchors`` bounds the work instead: only that many anchor terms are tried after the first pass
    (whose work is fixed: two eigenproblems and eight anchors per term set), and with a budget that is not
    reached the result is the same on every machine.
    """
    start = time.perf_counter()
    x_fit = _grouped("x_fit", x_fit)
    x_test = x_fit if x_test is None else _grouped("x_test", x_test)
    if x_test.shape[2] != x_fit.shape[2]:
        raise ValueError(f"x_test has {x_test.shape[2]} features, x_fit {x_fit.shape[2]}")
    if max_anchors is not None and int(max_anchors) < 1:
        raise ValueError(f"max_anchors must be >= 1 or None, got {max_anchors}")
    max_anchors = None if max_anchors is None else int(max_anchors)
    if not time_budget > 0 or not tolerance >= 0 or not slack >= 1:
        raise ValueError(f"need time_budget > 0, tolerance >= 0 and slack >= 1; got {time_budget}, {tolerance}, {slack}")
    functions = tuple(function_names(functions))
    names = symbol_names(feature_names, x_fit.shape[2])
    symbols = sympy.symbols(names, real=True)
    found, terms = _candidates(symbols, x_fit, functions, max_terms, width, samples, seed,
                               start + float(time_budget), max_columns, keep, max_anchors)
    front = []
    for support, coef in found.items():
        expr = sympy.Add(*[sympy.Float(float(c)) * _expression(terms[i]) for i, c in zip(support, coef)])
        core = normalize(expr, symbols)
        if core is None:
            continue
        fn = compile_expression(core, symbols)
        fractions = [within_fraction(fn(d.reshape(-1, d.shape[2])).reshape(d.shape[:2])) for d in (x_fit, x_test)]
        front.append((core, fractions[0], fractions[1], len(support)))
    if not front:
        raise RuntimeError("no candidate formula could be evaluated on the data")
    front.sort(key=lambda row: (row[3], row[2]))
    best = min(row[2] for row in front)
    chosen = next(row for row in front if row[2] <= max(tolerance, slack * best))
    shown = rounded(chosen[0], digits)
    verdict = _verdict(compile_expression(chosen[0], symbols), x_fit, x_test, held_out=x_test is not x_fit)
    if not verdict.found:
        warnings.warn(f"no formula conserved within the groups: the best candidate, {shown}, is not: "
                      f"{verdict.message}", stacklevel=2)
    return ConservedResult(expression=chosen[0], formula=str(shown), latex=sympy.latex(shown),
                           fraction_fit=chosen[1], fraction_test=chosen[2],
                           seconds=time.perf_counter() - start, front=front, verdict=verdict)


def _verdict(fn, x_fit, x_test, held_out: bool):
    """The package's invariant verdict on the formula's values over ``x_test`` (and ``x_fit`` as training)."""
    from ..verdict import Verdict, verdict_from_outputs  # delayed: it loads Keras, which the search does not need

    f_test, f_fit = (fn(x.reshape(-1, x.shape[2])).reshape(x.shape[:2]) for x in (x_test, x_fit))
    if not (np.all(np.isfinite(f_test)) and np.all(np.isfinite(f_fit))):
        nan = float("nan")
        return Verdict(False, nan, nan, nan, nan, nan, None, None,
                       "no verdict: the formula is not finite on every point of the data")
    verdict = verdict_from_outputs(f_test, f_train=f_fit if held_out else None)
    if held_out:
        return verdict
    return dataclasses.replace(verdict, message=verdict.message + " (on the data the formula was chosen on: "
                                                                   "give held-out groups for an honest verdict)")
