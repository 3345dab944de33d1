"""Sparse sums of library terms: the second proposer of :func:`~conserve_tf.symbolic.symbolic_readout`.

The invariants of the papers are short sums C(x) = Σ_k c_k φ_k(x) of simple terms: x1, x2·x3, sin x2,
sqrt|x1|·x3³, log|x1 + x3|/x3, ω1·ω2·cos(θ1 − θ2). An evolutionary search finds such a sum only when it
happens to assemble every term with the right constants inside; a library of candidate terms and a
sparse linear fit find it directly when its terms are in the library. The grammar (docs/symbolic.md):

* a *factor* is a function of one input x: a power x^e (e = 1, 2, 3; and −1, −2 with ``"div"``) or an
  offered function of x (sin, cos, exp, log|x|, sqrt|x|, tanh, |x|, cbrt); or a function of two inputs:
  sin, cos or log|·| of x_i + x_j and x_i − x_j, the length sqrt(x_i² + x_j²) (with ``"sqrt"``) and
  its inverse (with ``"div"`` too: a central potential's 1/r);
* a *term* is a product of at most three factors of which at most one is not a power, the powers on
  distinct inputs (x·sin x and log|x1 + x3|/x3 are terms, x·x² is not: x³ is).
  Level L of the library holds the terms of at most L factors (L = 1, 2, 3).

Fits (x is (N, F), F's values (N,), its input-gradient (N, F)):

* ``"affine"``: F ≈ b + Σ c_k φ_k(x), least squares;
* ``"gradient"``: ∇C ∥ ∇F. With n = ∇F/|∇F| and P = I − n nᵀ, minimize Σ_x |P(∇φ_a + Σ_k c_k ∇φ_k)|²
  over the c_k, one anchor term φ_a with coefficient 1 (each of the best single terms is tried as
  anchor). A monotone map F = h(C) leaves n, hence the fit, unchanged.

Selection is a beam search over supports (the ``width`` best sets of k terms, k = 1 … ``max_terms``),
each scored by its least-squares residual on a subsample; the best support of every size is then also
pruned backward one term at a time. :func:`library_candidates` returns sympy expressions Σ c_k φ_k,
which the caller normalizes, refines and scores on held-out data like Operon's front members.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
import sympy

__all__ = ["library_candidates", "build_library"]

_UNARY = {"sin": sympy.sin, "cos": sympy.cos, "exp": sympy.exp, "log": lambda v: sympy.log(sympy.Abs(v)),
          "sqrt": lambda v: sympy.sqrt(sympy.Abs(v)), "tanh": sympy.tanh, "abs": sympy.Abs, "cbrt": sympy.cbrt}
_PAIR = ("sin", "cos", "log")


class _Factor:
    """One factor: its sympy expression, the input columns it uses, whether it is a power, and its
    values and partial derivatives (N,) at the data."""

    def __init__(self, expr, symbols, columns, power, x):
        self.expr, self.columns, self.power = expr, tuple(columns), power
        cols = list(np.asarray(x, np.float64).T)
        with np.errstate(all="ignore"):
            self.value = _column(sympy.lambdify(symbols, expr, "numpy")(*cols), len(x))
            self.grad = {c: _column(sympy.lambdify(symbols, sympy.diff(expr, symbols[c]), "numpy")(*cols), len(x))
                         for c in columns}

    def usable(self):
        return bool(np.all(np.isfinite(self.value)) and np.ptp(self.value) > 0
                    and all(np.all(np.isfinite(g)) for g in self.grad.values()))


def _column(v, n):
    return np.broadcast_to(np.asarray(v, np.float64), (n,)).copy()


def _factors(symbols, x, functions):
    out = []
    powers = [1, 2, 3] + ([-1, -2] if "div" in functions else [])
    unary = [f for f in functions if f in _UNARY]
    for c, s in enumerate(symbols):
        out += [_Factor(s ** e, symbols, [c], True, x) for e in powers]
        for name in unary:
            if name == "exp" and np.max(np.abs(x[:, c])) > 10:
                continue  # exp of a wide input is a few samples' outliers, not a term
            out.append(_Factor(_UNARY[name](s), symbols, [c], False, x))
    for (i, a), (j, b) in itertools.combinations(enumerate(symbols), 2):
        for name in (f for f in _PAIR if f in functions):
            out += [_Factor(_UNARY[name](a + b), symbols, [i, j], False, x),
                    _Factor(_UNARY[name](a - b), symbols, [i, j], False, x)]
        if "sqrt" in functions:  # the length of a pair, and with "div" its inverse (a central potential's 1/r)
            out.append(_Factor(sympy.sqrt(a ** 2 + b ** 2), symbols, [i, j], False, x))
            if "div" in functions:
                out.append(_Factor(1 / sympy.sqrt(a ** 2 + b ** 2), symbols, [i, j], False, x))
    return [f for f in out if f.usable()]


def build_library(symbols, x, functions, max_columns: int = 6000, by_order: bool = True):
    """The terms of the grammar above at x (N, F): ``(terms, levels)``, terms a list of tuples of
    :class:`_Factor`, levels the number of factors of each. A level that would take the library past
    ``max_columns`` terms (many inputs) enters by order of :func:`_order`, whole orders only: with four
    inputs level 3 keeps its order-3 terms (ω1·ω2·cos(θ1 − θ2), x1·x2·x3) and leaves out x1²·x2/x3.
    ``by_order=False`` takes whole levels only (such a level is left out)."""
    factors = _factors(symbols, x, functions)
    terms = [(f,) for f in factors]
    for level in (2, 3):
        new = []
        for combo in itertools.combinations(range(len(factors)), level):
            fs = [factors[i] for i in combo]
            used = [c for f in fs if f.power for c in f.columns]
            if len(set(used)) == len(used) and sum(not f.power for f in fs) <= 1:
                new.append(tuple(fs))
        orders = np.array([_order(t) for t in new]) if by_order else np.zeros(len(new))
        for order in np.unique(orders):
            chosen = [t for t, o in zip(new, orders) if o == order]
            if len(terms) + len(chosen) > max_columns:
                return terms, [len(t) for t in terms]
            terms += chosen
    return terms, [len(t) for t in terms]


def _order(term) -> int:
    """A term's order: the sum of |exponent| of its powers plus one per other factor (x1·x2·cos x3: 3,
    x1²/x2: 3, x1³·x2·sin x3: 5); within a level the library prefers low orders."""
    return sum(abs(int(f.expr.as_base_exp()[1])) if f.power else 1 for f in term)


def _values(term):
    return np.prod([f.value for f in term], axis=0)


def _gradient(term, n_features, rows):
    """∇ of a product of factors at the first ``rows`` samples: (rows, n_features)."""
    out = np.zeros((rows, n_features))
    for a, fa in enumerate(term):
        rest = np.prod([fb.value[:rows] for b, fb in enumerate(term) if b != a], axis=0) if len(term) > 1 else 1.0
        for c, g in fa.grad.items():
            out[:, c] += g[:rows] * rest
    return out


def _expression(term):
    return sympy.Mul(*[f.expr for f in term])


def _beam(Z, y, width, max_terms, deadline):
    """Beam search over supports for y ≈ Z[:, support] c. Z (rows, K) has unit-norm columns. Returns
    {support (sorted tuple): residual sum of squares} of every support kept in a beam."""
    beams = [((), y, np.zeros((Z.shape[0], 0)), np.zeros((0, Z.shape[1])))]  # support, residual, basis, basisᵀZ
    found = {}
    while beams and len(beams[0][0]) < max_terms and time.perf_counter() < deadline:
        children = {}
        for parent in beams:
            support, r, _, proj = parent
            left = 1.0 - np.sum(proj ** 2, axis=0)  # |z_j|² once the support is projected out
            ok = left > 1e-8
            gain = np.where(ok, (Z.T @ r) ** 2 / np.where(ok, left, 1.0), -1.0)
            gain[list(support)] = -1.0
            for j in np.argpartition(-gain, min(width, gain.size - 1))[:width]:
                key = tuple(sorted(support + (int(j),)))
                rss = float(r @ r - gain[j])
                if gain[j] > 0 and (key not in children or children[key][0] > rss):
                    children[key] = (rss, parent, int(j))
        beams = []
        for key, (rss, (support, r, q, proj), j) in sorted(children.items(), key=lambda kv: kv[1][0])[:width]:
            z = Z[:, j] - q @ proj[:, j]
            z /= np.linalg.norm(z)
            beams.append((support + (j,), r - z * (z @ r), np.column_stack([q, z]), np.vstack([proj, z @ Z])))
            found[key] = rss
    return found


def _lstsq_rss(A, y):
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return coef, float(np.sum((A @ coef - y) ** 2))


def _backward(support, design, y):
    """Drop the term that raises the residual least, one at a time: {support: rss} along the way."""
    out = {}
    support = list(support)
    while len(support) > 1:
        trials = [(_lstsq_rss(design(support[:i] + support[i + 1:]), y)[1], i) for i in range(len(support))]
        rss, i = min(trials)
        support = support[:i] + support[i + 1:]
        out[tuple(sorted(support))] = rss
    return out


def _best_per_size(found):
    best = {}
    for support, rss in found.items():
        if len(support) not in best or rss < best[len(support)][1]:
            best[len(support)] = (support, rss)
    return [s for s, _ in best.values()]


def library_candidates(symbols, x, f, grad=None, *, fit="affine", functions=("sin", "cos", "log", "sqrt", "div"),
                       max_terms: int = 6, width: int = 40, samples: int = 500, seed: int = 0,
                       time_budget: float = 10.0, max_columns: int = 6000, keep: int = 2):
    """Sparse sums Σ c_k φ_k of library terms that fit F (affine) or its gradient direction (gradient).

    x (N, F), f (N,), grad (N, F) for ``fit="gradient"``. One beam search per library level (1, 2, 3
    factors), on ``samples`` rows drawn with ``seed``; the best support of each size, and its backward
    prunings, become candidates; ``keep`` of them per number of terms are returned, the best by the fit's
    score on the subsample (R², or the alignment mean cos²(∇C, ∇F)). Returns sympy expressions (constant
    term dropped), at most ``max_terms`` terms each; no new search starts after ``time_budget`` seconds.
    """
    start = time.perf_counter()
    deadline = start + time_budget
    pick = np.random.default_rng(seed).permutation(x.shape[0])[:int(samples)]
    xs = np.asarray(x, np.float64)[pick]
    terms, levels = build_library(symbols, xs, functions, max_columns)
    levels = np.array(levels)
    values = np.column_stack([_values(t) for t in terms])
    values -= values.mean(axis=0)
    f = np.asarray(f, np.float64)[pick]
    out = _affine_search(values, f - f.mean(), levels, width, max_terms, deadline)
    if fit == "gradient":
        g = np.asarray(grad, np.float64)[pick[:max(1, int(samples) // 2)]]
        n = g / np.linalg.norm(g, axis=1, keepdims=True)
        grads = [_gradient(t, x.shape[1], len(g)) for t in terms]
        # P ∇φ of every term, flattened over (sample, component)
        projected = np.column_stack([(d - np.sum(d * n, axis=1, keepdims=True) * n).ravel() for d in grads])
        energy = np.sqrt(np.array([np.sum(d ** 2) for d in grads]))
        # anchors: the terms of the affine supports (F ≈ C is often nearly true), then the one-factor
        # terms, those whose gradient lies closest to ∇F's direction first
        share = np.linalg.norm(projected, axis=0) / np.maximum(energy, 1e-300)
        anchors = list(dict.fromkeys([i for support in out for i in support]
                                     + [int(i) for i in np.argsort(share) if levels[i] == 1]))
        out.update(_gradient_search(projected, energy, anchors, levels, width, max_terms, deadline))
        grads = np.stack(grads)  # (K, samples, F)

        def score(support, coef):
            d = np.tensordot(coef, grads[list(support)], axes=1)
            norm = np.linalg.norm(d, axis=1)
            return float(np.mean(np.where(norm > 0, np.sum(d * n, axis=1) / np.where(norm > 0, norm, 1), 0) ** 2))
    else:
        y = f - f.mean()

        def score(support, coef):
            return float(1.0 - np.sum((values[:, list(support)] @ coef - y) ** 2) / np.sum(y ** 2))
    # the best ``keep`` candidates of every number of terms, by the fit's own score on the subsample
    ranked = sorted(((len(s), -score(s, c), s) for s, c in out.items()), key=lambda r: r[:2])
    chosen = [s for i, (k, _, s) in enumerate(ranked) if sum(r[0] == k for r in ranked[:i]) < keep]
    return [sympy.Add(*[sympy.Float(float(c)) * _expression(terms[i]) for i, c in zip(s, out[s])]) for s in chosen]


#: terms the forward beam goes past ``max_terms`` before pruning back (docs/symbolic.md: the double pendulum)
LOOKAHEAD = 4


def _supports(Z, y, width, max_terms, deadline, lookahead=LOOKAHEAD):
    """The best support of every size up to ``max_terms``: a forward beam search to ``max_terms`` +
    ``lookahead`` terms, then backward pruning of the best support of every size. The look-ahead finds
    sums whose terms cancel: the double pendulum's E = T + V, where no single term follows E but the
    kinetic and the potential terms together do, is not on the forward path to five terms, yet is
    contained in the best support of seven to ten, from which pruning recovers it."""
    found = _beam(Z, y, width, max_terms + lookahead, deadline)
    for s in _best_per_size(found):
        found.update(_backward(s, lambda t: Z[:, list(t)], y))
    return [s for s in _best_per_size(found) if len(s) <= max_terms]


def _affine_search(values, y, levels, width, max_terms, deadline):
    """{support: coefficients} of F − mean ≈ Σ c_k φ_k, one beam search per library level."""
    norms = np.linalg.norm(values, axis=0)
    out = {}
    for level in np.unique(levels):
        if time.perf_counter() > deadline:
            break
        idx = np.flatnonzero((norms > 0) & (levels <= level))
        Z = values[:, idx] / norms[idx]
        for s in _supports(Z, y, width, max_terms, deadline):
            coef, _ = _lstsq_rss(Z[:, list(s)], y)
            out.setdefault(tuple(idx[list(s)]), coef / norms[idx[list(s)]])
    return out


def _gradient_search(projected, energy, anchors, levels, width, max_terms, deadline, lookahead=LOOKAHEAD):
    """{support: coefficients} with P(∇φ_a + Σ c_k ∇φ_k) ≈ 0, anchor φ_a first with coefficient 1; each
    anchor's beam looks ``lookahead`` terms ahead (:func:`_supports`)."""
    norms = np.linalg.norm(projected, axis=0)
    out = {}
    for a in anchors:
        out.setdefault((a,), np.array([1.0]))
        ya = -projected[:, a] / energy[a]
        for level in np.unique(levels):
            if time.perf_counter() > deadline:
                return out
            idx = np.flatnonzero((norms > 1e-12 * norms.max()) & (levels <= level) & (np.arange(len(norms)) != a))
            Z = projected[:, idx] / norms[idx]
            for s in _supports(Z, ya, width, max_terms - 1, deadline, lookahead):
                coef, _ = _lstsq_rss(Z[:, list(s)], ya)
                chosen = idx[list(s)]
                out.setdefault((a,) + tuple(chosen), np.concatenate([[1.0 / energy[a]], coef / norms[chosen]]))
    return out
