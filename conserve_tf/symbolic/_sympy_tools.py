"""sympy helpers of :mod:`conserve_tf.symbolic.regression`: affine normal form, constant refinement,
rounding for display, evaluation and gradient alignment. Expressions are in real sympy symbols, one per
input column; arrays x are (N, F), gradients (N, F)."""

from __future__ import annotations

import numpy as np
import sympy


def size(expr) -> int:
    """Number of nodes of the sympy expression tree (the length used for parsimony)."""
    return sum(1 for _ in sympy.preorder_traversal(expr))


def terms_bound(expr) -> int:
    """An upper bound of the number of terms of ``sympy.expand(expr)`` (function calls count as one);
    it tells, before expanding, whether that would blow up, as (((x + y + z)²)²)² does."""
    if expr.is_Add:
        return sum(terms_bound(a) for a in expr.args)
    if expr.is_Mul:
        return int(np.prod([terms_bound(a) for a in expr.args], dtype=float).clip(max=1e9))
    if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0:
        return int(min(float(terms_bound(expr.base)) ** int(expr.exp), 1e9))
    return 1


def normalize(expr, symbols, max_terms: int = 100):
    """g -> core with g = a·core + b: drop the additive constant, divide by the term coefficient of smallest
    magnitude (that term gets coefficient ±1), and flip the sign so that most coefficients are positive
    (a tie: the first printed term positive). ``None`` when g does not depend on the inputs, or when its
    expansion could have more than ``max_terms`` terms (too long to print and read anyway)."""
    if terms_bound(expr) > max_terms:
        return None
    e = sympy.expand(expr)
    _, rest = e.as_independent(*symbols, as_Add=True)
    if rest == 0:
        return None
    parts = [t.as_independent(*symbols, as_Add=False) for t in sympy.Add.make_args(rest)]
    mags = [abs(float(c)) for c, _ in parts]
    ref = int(np.argmin(mags))
    if mags[ref] == 0:
        return None
    scale = parts[ref][0]
    core = sympy.Add(*[(sympy.Integer(1) if i == ref else c / scale) * m for i, (c, m) in enumerate(parts)])
    coefs = [float(t.as_independent(*symbols, as_Add=False)[0]) for t in sympy.Add.make_args(core)]
    positive, negative = sum(c > 0 for c in coefs), sum(c < 0 for c in coefs)
    first = core.as_ordered_terms()[0].as_independent(*symbols, as_Add=False)[0]
    if negative > positive or (negative == positive and float(first) < 0):
        core = -core
    return core


def compile_expression(expr, symbols):
    """expr -> function of x (N, F) returning (N,) float64 values."""
    fn = sympy.lambdify(symbols, expr, "numpy")

    def evaluate(x):
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(fn(*np.asarray(x, np.float64).T), np.float64), (len(x),)).copy()
    return evaluate


def cubic_design(values, reference):
    """Columns 1, u, u², u³ of u = (values - mean) / std, mean and std those of ``reference`` (N,) -> (N, 4).

    The basis of h in F ≈ h(g) with h a cubic polynomial (the first two columns: an affine map). A reference
    whose std overflows float64 gives NaN columns (:func:`least_squares_or_none` then declines)."""
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.std(reference)
    u = (np.asarray(values, np.float64) - np.mean(reference)) / (scale if np.isfinite(scale) else np.nan)
    return np.column_stack([np.ones_like(u), u, u ** 2, u ** 3])


def monotone_cubic(coef, reference, points: int = 257) -> bool:
    """True when the cubic h with coefficients ``coef`` (of :func:`cubic_design`, constant first) has a
    derivative of one sign over the range of ``reference``: h is then monotone there, as F = h(C) must be."""
    u = (np.linspace(np.min(reference), np.max(reference), points) - np.mean(reference)) / np.std(reference)
    slope = coef[1] + 2 * coef[2] * u + 3 * coef[3] * u ** 2
    return bool(np.all(slope > 0) or np.all(slope < 0))


def straightened(values, coef, f, grid: int = 4001):
    """F mapped back through the inverse of its monotone cubic fit on ``values``: h⁻¹(F) (N,), or None.

    h is the cubic F ≈ h(g) with coefficients ``coef`` (of :func:`cubic_design`; None: the least-squares
    fit of ``f``); when it is monotone over the range of g,
    h⁻¹ is read off a ``grid`` of g by interpolation (F beyond h's range is clipped to its ends). If g is
    close to the invariant C, h⁻¹(F) is close to an affine function of C, which an affine fit can name where
    the bent F itself needed extra terms (the response transformation of alternating conditional
    expectations, one step)."""
    values, f = np.asarray(values, np.float64), np.asarray(f, np.float64)
    if coef is None:
        coef = least_squares_or_none(cubic_design(values, values), f)
    if coef is None or not monotone_cubic(coef, values):
        return None
    u = np.linspace(values.min(), values.max(), grid)
    h = cubic_design(u, values) @ coef
    if h[0] > h[-1]:
        u, h = u[::-1], h[::-1]
    return np.interp(f, h, u)


def _gradient_fn(expr, symbols, params=()):
    parts = [sympy.lambdify(list(symbols) + list(params), sympy.diff(expr, s), "numpy") for s in symbols]

    def grad(x, p=()):
        cols = list(np.asarray(x, np.float64).T) + list(p)
        with np.errstate(all="ignore"):
            return np.stack([np.broadcast_to(np.asarray(fn(*cols), np.float64), (len(x),)) for fn in parts], 1)
    return grad


def _cos2(grad, g):
    n = g / np.linalg.norm(g, axis=1, keepdims=True)
    norm = np.linalg.norm(grad, axis=1)
    cos = np.sum(grad * n, axis=1) / np.where(norm > 0, norm, 1.0)
    return np.where(np.isfinite(cos), cos, 0.0) ** 2


def alignment(expr, symbols, x, g) -> float:
    """Mean over samples of cos²(∇expr(x), g(x)): 1 when the level sets of expr are those of F."""
    return float(np.mean(_cos2(_gradient_fn(expr, symbols)(x), g)))


def refine(core, symbols, x, f, g, fit):
    """Refit the numeric constants of ``core`` in float64 by scipy least squares.

    affine: residuals a·core(x) + b - f with (a, b) solved for at every step (variable projection);
    monotone: the same with a cubic h(core) (:func:`cubic_design`) in place of a·core + b;
    gradient: the component of the unit ∇core orthogonal to g, whose squared norm is 1 - cos².
    The refit is kept only when it lowers the residual norm; more than 12 constants are left as they are."""
    from scipy.optimize import least_squares

    floats = sorted(core.atoms(sympy.Float), key=lambda v: float(v))
    if not floats or len(floats) > 12:
        return core
    params = sympy.symbols(f"_p0:{len(floats)}")
    template = core.xreplace(dict(zip(floats, params)))
    if fit in ("affine", "monotone"):
        fn = sympy.lambdify(list(symbols) + list(params), template, "numpy")

        def residual(p):
            with np.errstate(all="ignore"):
                v = np.broadcast_to(np.asarray(fn(*x.T, *p), np.float64), f.shape)
            if not np.all(np.isfinite(v)) or np.ptp(v) == 0:
                return np.full(f.shape, 1e6)
            design = cubic_design(v, v)[:, :2 if fit == "affine" else None]
            coef = least_squares_or_none(design, f)
            return np.full(f.shape, 1e6) if coef is None else design @ coef - f
    else:
        grad = _gradient_fn(template, symbols, params)
        n = g / np.linalg.norm(g, axis=1, keepdims=True)

        def residual(p):
            gr = grad(x, p)
            norm = np.linalg.norm(gr, axis=1, keepdims=True)
            if not np.all(np.isfinite(gr)) or np.any(norm == 0):
                return np.full(x.size, 1e3)
            u = gr / norm
            return (u - np.sum(u * n, axis=1, keepdims=True) * n).ravel()

    p0 = np.array([float(v) for v in floats])
    before = np.linalg.norm(residual(p0))
    try:
        fitted = least_squares(residual, p0, method="trf", x_scale="jac", max_nfev=30 * (len(p0) + 1))
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return core
    if not (np.all(np.isfinite(fitted.x)) and np.linalg.norm(fitted.fun) < before):
        return core
    return template.xreplace({p: sympy.Float(float(v)) for p, v in zip(params, fitted.x)})


def rounded(expr, digits: int):
    """Constants rounded to ``digits`` significant digits for display; integers become exact."""
    swap = {}
    for v in expr.atoms(sympy.Float):
        r = float(f"{float(v):.{digits}g}")
        swap[v] = sympy.Integer(int(r)) if r == int(r) and abs(r) < 1e6 else sympy.Float(f"{r:.{digits}g}", "")
    return expr.xreplace(swap)


def prune(core, symbols, x, share: float = 1e-3):
    """Drop the additive terms whose spread over x (std of the term) is below ``share`` x the largest term's
    spread: the crumbs an evolutionary search leaves behind (``0.00015*x2``). ``None`` if nothing changes."""
    terms = sympy.Add.make_args(core)
    if len(terms) < 2:
        return None
    spread = np.array([np.std(compile_expression(t, symbols)(x)) for t in terms])
    keep = [t for t, s in zip(terms, spread) if np.isfinite(s) and s >= share * np.nanmax(spread)]
    return sympy.Add(*keep) if 0 < len(keep) < len(terms) else None


_FUNCTIONS = (sympy.sin, sympy.cos, sympy.tan, sympy.tanh, sympy.exp, sympy.log)


def degenerate(expr, symbols, x, floor: float = 1e-5) -> bool:
    """True when a function of ``expr`` is used only in its Taylor range over x: its values are a
    quadratic polynomial of its argument up to a residual share below ``floor`` (1 - R² of that fit).
    1830·cos(0.0233 x) standing in for x²/2 in S1, 3270·cos(0.036 log|x| + 1.6) for log|x|, are the
    typical cases; cos θ over θ in (-π, π) is not."""
    for node in sympy.preorder_traversal(expr):
        is_root = isinstance(node, sympy.Pow) and node.exp in (sympy.Rational(1, 2), sympy.Rational(-1, 2))
        if not (isinstance(node, _FUNCTIONS) or is_root):
            continue
        arg = compile_expression(node.base if is_root else node.args[0], symbols)(x)
        val = compile_expression(node, symbols)(x)
        if not (np.all(np.isfinite(arg)) and np.all(np.isfinite(val))) or np.ptp(val) == 0 or np.ptp(arg) == 0:
            continue
        with np.errstate(over="ignore"):
            design = np.column_stack([np.ones_like(arg), arg, arg ** 2])
        coef = least_squares_or_none(design, val)
        if coef is not None and np.sum((design @ coef - val) ** 2) < floor * np.sum((val - val.mean()) ** 2):
            return True
    return False


def least_squares_or_none(design, target):
    """Least-squares coefficients of ``target`` (N,) on the columns of ``design`` (N, K), or None when
    the design is not finite (an argument of 1e200 squared) or LAPACK fails on it."""
    if not np.all(np.isfinite(design)):
        return None
    try:
        return np.linalg.lstsq(design, target, rcond=None)[0]
    except np.linalg.LinAlgError:
        return None
