"""Interpreting the bottleneck f (Sec. III and Tables I-V of Wetzel et al. 2020, paper 004).

* :func:`readout`: ridge regression of f on polynomial features of the raw inputs, degrees 1-4, train
  and test R² (the paper's Tables I-V) and the dominant terms (Eqs. (5), (8), (11), (12)); extra
  features such as 1/r on request (paper 002 recovers E = v²/2 - 1/r that way).
* :func:`pattern_match`: how closely the degree-2 coefficients follow a known invariant, e.g.
  s² = -t² + x² + y² + z²: each expected monomial's coefficient divided by the common scale, and the
  share of the fit's weight that sits on the expected monomials.
* :func:`invariant_scores`: |Pearson rho| of f and of f² against every known invariant (Figs. 3-7 show
  f against them; with L fixed the paper finds f² tracks E).
* :func:`scatter_invariants`: those scatter plots as one PNG.

Shapes: data x (G, M, F) is flattened to (G*M, F); f is (G*M,).
"""

from __future__ import annotations

import numpy as np

from sklearn.preprocessing import PolynomialFeatures

from conserve_tf import metrics
from conserve_tf.groups import require_grouped
from conserve_tf.symbolic import design_matrix, polynomial_readout

__all__ = ["readout", "pattern_match", "invariant_scores", "scatter_invariants", "PATTERNS"]

#: known invariants as {monomial: coefficient} in the read-out's monomial names
PATTERNS = {
    "s2": {"t^2": -1.0, "x^2": 1.0, "y^2": 1.0, "z^2": 1.0},
    "L": {"x*vy": 1.0, "y*vx": -1.0},
    "E": {"vx^2": 0.5, "vy^2": 0.5, "1/r": -1.0},
    "EdotB": {"Ex*Bx": 1.0, "Ey*By": 1.0, "Ez*Bz": 1.0},
    "E2mB2": {"Ex^2": 1.0, "Ey^2": 1.0, "Ez^2": 1.0, "Bx^2": -1.0, "By^2": -1.0, "Bz^2": -1.0},
}


def _flat_subset(data, max_samples, seed):
    require_grouped(data, "the Siamese read-out")
    if max_samples is not None and int(max_samples) < 3:
        raise ValueError(f"max_samples must be None or >= 3 (samples the read-out fits), got {max_samples}")
    x = data.flat()
    if max_samples is not None and len(x) > max_samples:
        idx = np.sort(np.random.default_rng(seed).choice(len(x), int(max_samples), replace=False))
        return x[idx], idx
    return x, np.arange(len(x))


def _f_of(model_or_fn, x):
    fn = model_or_fn.invariant if hasattr(model_or_fn, "invariant") else model_or_fn
    f = np.asarray(fn(x), np.float64)
    if f.ndim != 1:
        raise ValueError(f"the read-out needs one bottleneck output per sample, got shape {f.shape}")
    return f


def readout(model, train, test=None, degrees=(1, 2, 3, 4), extra_features=None, max_samples: int | None = 20_000,
            formula_degree=None, max_terms: int = 6, seed: int = 0, transform=None, min_share: float = 0.02):
    """Polynomial read-out of f = ``model.invariant`` on GroupedData ``train`` (and ``test``).

    ``transform`` (e.g. ``np.square``) is applied to f before the regression. Returns the
    :class:`conserve_tf.symbolic.ReadoutResult` (``.table``, ``.formula``, ``.terms``, ``.markdown()``).
    """
    x_tr, _ = _flat_subset(train, max_samples, seed)
    y_tr = _f_of(model, x_tr)
    x_te = y_te = None
    if test is not None:
        x_te, _ = _flat_subset(test, max_samples, seed + 1)
        y_te = _f_of(model, x_te)
    if transform is not None:
        y_tr = transform(y_tr)
        y_te = None if y_te is None else transform(y_te)
    return polynomial_readout(x_tr, y_tr, x_te, y_te, degrees=degrees, feature_names=train.feature_names,
                              extra_features=extra_features, formula_degree=formula_degree, max_terms=max_terms,
                              min_share=min_share)


def pattern_match(model, data, pattern, degree: int = 2, extra_features=None, max_samples: int | None = 20_000,
                  seed: int = 0) -> dict:
    """Compare the degree-``degree`` read-out with a known invariant ``pattern`` ({monomial: coef}).

    Returns ``normalized`` ({monomial: fitted coef / scale}, ideally equal to ``pattern``), ``scale``
    (least-squares factor between the fitted and expected coefficients), ``share`` (fraction of the
    dominance weight |coef| x std(monomial) on the expected monomials; 1 = nothing else) and ``formula``.
    """
    if isinstance(pattern, str):
        if pattern not in PATTERNS:
            raise KeyError(f"unknown pattern {pattern!r}; known: {sorted(PATTERNS)}")
        pattern = PATTERNS[pattern]
    res = readout(model, data, None, degrees=(degree,), extra_features=extra_features, max_samples=max_samples,
                  formula_degree=degree, max_terms=10_000, seed=seed, min_share=0.0)
    coefs = dict(res.terms)
    missing = [m for m in pattern if m not in coefs]
    if missing:
        raise ValueError(f"pattern monomials {missing} are not among the read-out's monomials")
    fitted = np.array([coefs.get(m, 0.0) for m in pattern])
    expected = np.array(list(pattern.values()))
    scale = float(fitted @ expected / (expected @ expected))
    x, _ = _flat_subset(data, max_samples, seed)
    weights = _monomial_weights(res, x, extra_features, degree, data.feature_names)
    total = sum(weights.get(m, 0.0) for m, _ in res.terms)
    on = sum(weights.get(m, 0.0) for m in pattern)
    short = readout(model, data, None, degrees=(degree,), extra_features=extra_features, max_samples=max_samples,
                    formula_degree=degree, seed=seed)
    return {"normalized": {m: (c / scale if scale else float("nan")) for m, c in zip(pattern, fitted)},
            "scale": scale, "share": float(on / total) if total > 0 else 0.0, "formula": short.formula}


def _monomial_weights(res, x, extra_features, degree, feature_names):
    xd, names = design_matrix(x, feature_names, extra_features)
    poly = PolynomialFeatures(degree, include_bias=False).fit(xd)
    std = poly.transform(xd).std(axis=0)
    monos = [m.replace(" ", "*") for m in poly.get_feature_names_out(names)]
    coefs = dict(res.terms)
    return {m: abs(coefs.get(m, 0.0)) * s for m, s in zip(monos, std)}


def invariant_scores(model, data, max_samples: int | None = 20_000, seed: int = 0) -> dict:
    """{constant name: {"rho_f": |rho(f, C)|, "rho_f2": |rho(f², C)|}} over the flattened data."""
    if data.c is None:
        return {}
    x, idx = _flat_subset(data, max_samples, seed)
    f = _f_of(model, x)
    out = {}
    for name in data.constant_names:
        c = data.flat_constants(name)[idx]
        out[name] = {"rho_f": metrics.pearson_rho(f, c), "rho_f2": metrics.pearson_rho(f**2, c)}
    return out


def scatter_invariants(model, data, path: str, title: str | None = None, max_points: int = 3000,
                       square: bool = False, seed: int = 0) -> str:
    """Scatter f (or f² with ``square``) against each known invariant of ``data`` (Figs. 3-7); saves a PNG."""
    import matplotlib.pyplot as plt  # delayed: only callers that draw pay for matplotlib

    if data.c is None:
        raise ValueError(f"data {data.name!r} has no known invariants to plot against")
    x, idx = _flat_subset(data, max_points, seed)
    f = _f_of(model, x)
    f = f**2 if square else f
    names = data.constant_names
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        c = data.flat_constants(name)[idx]
        ax.scatter(c, f, s=2, alpha=0.4)
        ax.set_xlabel(name)
        ax.set_ylabel("f(x)²" if square else "f(x)")
        ax.set_title(f"|rho| = {metrics.pearson_rho(f, c):.3f}")
    fig.suptitle(title or data.name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
