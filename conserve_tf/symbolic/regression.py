"""Symbolic-regression read-out of a learned scalar F(x): a term library and Operon propose, sympy
simplifies and prints.

F is an invariant only up to a monotone map h(C). Three fits (docs/symbolic.md says which works where):

* ``fit="affine"`` (default): F ≈ a·g(x) + b, scored by R² of that fit;
* ``fit="monotone"``: F ≈ h(g(x)) with h a cubic polynomial, monotone over the data, scored by the
  held-out R² of that fit; h's curvature no longer has to be made up by extra terms of g. The library
  runs a second time on h⁻¹(F) for the best first proposal (``_sympy_tools.straightened``);
* ``fit="gradient"``: ∇g(x) ∥ ∇F(x), scored by the alignment A = mean cos²(∇g, ∇F) (1 = level sets
  identical); h drops out. The caller passes ∇F as an array (N, F), e.g. from :func:`keras_input_gradient`.

Two proposers fill one accuracy/length front: sparse sums of library terms
(:mod:`conserve_tf.symbolic.library`, least squares, fast and exact when the invariant's terms are in the
grammar) and Operon (evolutionary search over any expression of the offered functions). Every front
member g is written in sympy, split as g = a·core + b (core with its smallest term coefficient scaled
to ±1, most terms positive), its constants refined in float64 (scipy least squares on the fit's own
residuals) and scored on held-out data. The printed formula is the shortest core whose held-out score
is within ``tolerance`` of the best.
"""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import sympy

from . import _operon
from ._operon import DEFAULT_FUNCTIONS, FUNCTIONS
from .library import library_candidates
from .polynomial import symbol_names
from ._sympy_tools import (alignment, compile_expression, cubic_design, degenerate, least_squares_or_none, monotone_cubic,
                           normalize, prune, refine, rounded, size, straightened)

__all__ = ["SymbolicResult", "symbolic_readout", "keras_input_gradient", "FUNCTIONS", "DEFAULT_FUNCTIONS", "FITS"]

#: the fits of :func:`symbolic_readout`: F ≈ a·g + b, F ≈ h(g) with a monotone cubic h, ∇g ∥ ∇F
FITS = ("affine", "monotone", "gradient")

#: the score each fit chooses by (held-out, the larger the better)
CRITERIA = {"affine": "r2", "monotone": "r2_h", "gradient": "alignment"}

#: where each criterion's held-out value is kept in a scored candidate, and its name in words
_SCORES = {"r2": ("r2_test", "R² of a·g + b"), "r2_h": ("r2_h_test", "R² of h(g)"), "alignment": ("al_test", "alignment")}

#: training rows on which the constants of every front member are refit
REFINE_ROWS = 300


@dataclasses.dataclass
class SymbolicResult:
    """The chosen formula and the front it was chosen from.

    ``formula``/``latex``: the chosen core, constants rounded to ``digits`` significant digits;
    ``expression``: the same as a sympy expression; ``scale``, ``offset``: F ≈ scale·core + offset on the
    training data; ``r2_train``/``r2_test``: R² of that affine map; ``r2_h_test``: held-out R² of
    F ≈ h(core) with h a cubic polynomial fitted on the training data (F is the invariant only up to
    such a map; with ``fit="gradient"`` this is the R² that says how well F is named);
    ``alignment_train``/``alignment_test``:
    mean cos²(∇core, ∇F) (``None`` without gradients); ``source``: which proposer found the chosen
    formula ("library" or "operon"); ``criterion``: the score the choice used ("r2", "r2_h" or
    "alignment", :data:`CRITERIA`); ``front``: list of ``(length, held-out score, formula)``, shortest
    first; ``seconds``: wall time of the whole read-out; ``fit``, ``seed``, ``threads``, ``feature_names``: the settings.
    """

    formula: str
    latex: str
    expression: object
    scale: float
    offset: float
    r2_train: float
    r2_test: float
    r2_h_test: float
    alignment_train: float | None
    alignment_test: float | None
    source: str
    criterion: str
    front: list
    seconds: float
    fit: str
    seed: int
    threads: int
    feature_names: list

    @property
    def score(self) -> float:
        """The held-out score the formula was chosen by (:attr:`criterion`)."""
        return {"r2": self.r2_test, "r2_h": self.r2_h_test, "alignment": self.alignment_test}[self.criterion]

    def as_dict(self) -> dict:
        """JSON-ready dictionary (the sympy expression as its string)."""
        out = dataclasses.asdict(self)
        out["expression"] = str(self.expression)
        out["front"] = [list(row) for row in self.front]
        return json.loads(json.dumps(out))

    def markdown(self) -> str:
        """The front as a Markdown table; the chosen row is marked."""
        rows = [f"| length | held-out {_SCORES[self.criterion][1]} | formula |", "| --- | --- | --- |"]
        for length, score, formula in self.front:
            mark = " **(chosen)**" if formula == self.formula else ""
            rows.append(f"| {length} | {score:.6f} | `{formula}`{mark} |")
        return "\n".join(rows)


def _array(name, a, ndim):
    try:
        a = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numeric: {err}") from None
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains {int(np.sum(~np.isfinite(a)))} NaN or infinite value(s)")
    return a


def _check_options(fit, time_budget, threads, tolerance, max_length, digits):
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    if not (np.isfinite(time_budget) and time_budget > 0):
        raise ValueError(f"time_budget must be a positive number of seconds, got {time_budget}")
    if int(threads) != threads or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads}")
    if not (np.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if int(max_length) < 3:
        raise ValueError(f"max_length must be >= 3, got {max_length}")
    if int(digits) < 1:
        raise ValueError(f"digits must be >= 1, got {digits}")


def _data(x_train, f_train, x_test, f_test, grad_train, grad_test, fit, seed):
    x, f = _array("x_train", x_train, 2), _array("f_train", f_train, 1)
    if f.shape[0] != x.shape[0]:
        raise ValueError(f"f_train has {f.shape[0]} values for {x.shape[0]} samples")
    g = None if grad_train is None else _array("grad_train", grad_train, 2)
    if fit == "gradient" and g is None:
        raise ValueError("fit='gradient' needs grad_train, the input-gradient of F, shape (samples, features)")
    if g is not None and g.shape != x.shape:
        raise ValueError(f"grad_train has shape {g.shape}, expected {x.shape} like x_train")
    if g is not None and np.any(np.linalg.norm(g, axis=1) == 0):
        raise ValueError("grad_train has rows that are all zero: no direction to fit there")
    if (x_test is None) != (f_test is None):
        raise ValueError("give both x_test and f_test, or neither")
    if x_test is None:  # hold out a quarter of the training data
        order = np.random.default_rng(seed).permutation(x.shape[0])
        cut = x.shape[0] - max(1, x.shape[0] // 4)
        tr, te = order[:cut], order[cut:]
        gt = None if g is None else g[te]
        return x[tr], f[tr], None if g is None else g[tr], x[te], f[te], gt
    xt, ft = _array("x_test", x_test, 2), _array("f_test", f_test, 1)
    if xt.shape[1] != x.shape[1] or ft.shape[0] != xt.shape[0]:
        raise ValueError(f"x_test {xt.shape} / f_test {ft.shape} do not match x_train's {x.shape[1]} features")
    gt = None if grad_test is None else _array("grad_test", grad_test, 2)
    if gt is not None and gt.shape != xt.shape:
        raise ValueError(f"grad_test has shape {gt.shape}, expected {xt.shape} like x_test")
    if fit == "gradient" and gt is None:
        raise ValueError("fit='gradient' with a test set needs grad_test as well")
    return x, f, g, xt, ft, gt


def _r2(pred, f):
    return float(1.0 - np.sum((f - pred) ** 2) / np.sum((f - f.mean()) ** 2))


def _variants(expr, symbols, x, f, g, fit):
    """The normal form of a front member with refined constants, the same without its crumbs, and (for the
    monotone and gradient fits, which h(g) does not change) the exponent u of a member exp(u)."""
    core = normalize(expr, symbols)
    if core is None:
        return []
    core = normalize(refine(core, symbols, x, f, g, fit), symbols)
    out = [core] if core is not None else []
    pruned = None if core is None else prune(core, symbols, x)
    if pruned is not None:
        pruned = normalize(refine(normalize(pruned, symbols), symbols, x, f, g, fit), symbols)
        out += [pruned] if pruned is not None else []
    if fit != "affine":
        for member in list(out):
            merged = sympy.powsimp(member, combine="exp")  # exp(a)·exp(b) -> exp(a + b)
            if merged.func is sympy.exp:
                inner = normalize(merged.args[0], symbols)
                inner = None if inner is None else normalize(refine(inner, symbols, x, f, g, fit), symbols)
                out += [inner] if inner is not None else []
    return out


def _straighten(proposals, symbols, x, f):
    """h⁻¹(F) (:func:`~._sympy_tools.straightened`) for the proposal g whose monotone cubic h(g) fits F
    best on (x, f); None when no proposal has a monotone h."""
    best, chosen = -np.inf, None
    for expr in proposals:
        values = compile_expression(expr, symbols)(x)
        if not np.all(np.isfinite(values)) or np.ptp(values) == 0:
            continue
        design = cubic_design(values, values)
        coef = least_squares_or_none(design, f)
        quality = -np.inf if coef is None or not monotone_cubic(coef, values) else _r2(design @ coef, f)
        if quality > best:
            best, chosen = quality, (values, coef)
    return None if chosen is None else straightened(*chosen, f)


def _score(expr, symbols, x, f, g, xt, ft, gt, fit):
    """Scores of one displayed formula on the full training and the held-out data; None if not finite."""
    evaluate = compile_expression(expr, symbols)
    values, values_t = evaluate(x), evaluate(xt)
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(values_t))) or np.ptp(values) == 0:
        return None
    design, design_t = cubic_design(values, values), cubic_design(values_t, values)  # a conditioned basis
    h, line = least_squares_or_none(design, f), least_squares_or_none(design[:, :2], f)  # h(g); a·g + b
    if h is None or line is None or not np.all(np.isfinite(design_t)):
        return None  # values too large for float64 least squares
    a, b = line[1] / values.std(), line[0] - line[1] * values.mean() / values.std()
    row = {"expr": expr, "length": size(expr), "scale": float(a), "offset": float(b),
           "r2_train": _r2(design[:, :2] @ line, f), "r2_test": _r2(design_t[:, :2] @ line, ft),
           "r2_h_test": _r2(design_t @ h, ft),
           "al_train": None if g is None else alignment(expr, symbols, x, g),
           "al_test": None if gt is None else alignment(expr, symbols, xt, gt),
           # F = h(C) with h monotone: a g that needs a non-monotone h does not have F's level sets
           "degenerate": degenerate(expr, symbols, x) or (fit == "monotone" and not monotone_cubic(h, values))}
    row["score"] = row[_SCORES[CRITERIA[fit]][0]]
    return row


def symbolic_readout(x_train, f_train, x_test=None, f_test=None, *, fit: str = "affine", grad_train=None,
                     grad_test=None, feature_names=None, functions=DEFAULT_FUNCTIONS, tolerance: float = 1e-4,
                     seed: int = 0, time_budget: float = 35.0, threads: int = 1, max_length: int = 30,
                     population: int = 500, generations: int = 1000, max_evaluations: int = 500_000,
                     max_samples: int = 1000, digits: int = 3, library: bool = True) -> SymbolicResult:
    """Symbolic regression of F (N,) on x (N, F); see the module docstring for the three fits.

    Without ``x_test`` a quarter of the training samples (drawn with ``seed``) is held out. At most
    ``max_samples`` training samples go to the search. ``functions`` (names in :data:`FUNCTIONS`) are
    offered besides +, -, ×; "log" and "sqrt" act on |x|. The search stops at ``generations``,
    ``max_evaluations`` or ``time_budget`` seconds, whichever comes first; it is deterministic for a
    fixed ``seed`` when it ends by generations or evaluations with ``threads=1`` (a run cut by the
    clock, or several threads, may differ from run to run). ``tolerance``: the printed formula is the
    shortest whose held-out score (R², R² of h(g), or alignment) is at least the best minus this; formulas
    that use a function only in its Taylor range (``_sympy_tools.degenerate``), and with ``fit="monotone"``
    those whose cubic h is not monotone over the data, are never chosen. Front members
    are simplified shortest first, and none is started after 1.5 x ``time_budget`` + 10 s.

    With ``library`` (default) a sparse fit on a library of candidate terms
    (:func:`~conserve_tf.symbolic.library.library_candidates`, a quarter of ``time_budget``, at most 10 s)
    proposes formulas first; Operon searches for the rest of the budget, and both sets compete on one front.
    """
    start = time.perf_counter()
    _check_options(fit, time_budget, threads, tolerance, max_length, digits)
    offered = _operon.function_names(functions)
    primitives = _operon.check_functions(offered)
    x, f, g, xt, ft, gt = _data(x_train, f_train, x_test, f_test, grad_train, grad_test, fit, seed)
    names = symbol_names(feature_names, x.shape[1])
    if np.ptp(f) == 0:
        raise ValueError("f_train is constant: there is nothing to read off")
    symbols = [sympy.Symbol(n, real=True) for n in names]
    pick = np.random.default_rng(seed).permutation(x.shape[0])[:int(max_samples)]
    # 256 samples carry the direction objective: its cost per candidate is 2F evaluations of each sample
    loss = _operon.GradientDirectionLoss(x[pick[:256]], g[pick[:256]]) if fit == "gradient" else None
    # Operon computes in float32: a learned F is often a large constant plus a small variation, which
    # float32 would round away, so the search sees F standardized (the affine map is refit below)
    f_search = (f[pick] - f.mean()) / f.std()
    search_fit = "gradient" if fit == "gradient" else "affine"  # the proposers' objective; monotone rescores
    proposals = []
    if library:
        proposals = library_candidates(symbols, x, f, g, fit=search_fit, functions=offered, seed=seed,
                                       time_budget=min(10.0, time_budget / 4))
        if fit == "monotone":  # once more on F straightened through the best proposal's h
            target = _straighten(proposals, symbols, x, f)
            if target is not None:
                proposals += library_candidates(symbols, x, target, fit="affine", functions=offered, seed=seed,
                                                time_budget=min(10.0, time_budget / 4))
    members = _operon.search(search_fit, primitives, x[pick], f_search, seed=seed, threads=threads,
                             time_budget=max(1.0, time_budget - (time.perf_counter() - start)), max_length=max_length,
                             population=population, generations=generations, max_evaluations=max_evaluations,
                             loss=loss)
    members.sort(key=lambda m: m[1].Length)
    proposals += [(reg, tree) for reg, tree in members]
    candidates = {}
    few = pick[:REFINE_ROWS]  # enough to refine a handful of constants, and cheaper than all (docs/symbolic.md)
    for proposal in proposals:
        if time.perf_counter() - start > 1.5 * time_budget + 10:
            break  # a guard against pathological simplification; the longest members are dropped
        expr = _operon.tree_to_sympy(*proposal, symbols) if isinstance(proposal, tuple) else proposal
        for expr in _variants(expr, symbols, x[few], f[few], None if g is None else g[few], fit):
            shown = rounded(expr, digits)
            if str(shown) not in candidates and not shown.is_number:
                row = _score(shown, symbols, x, f, g, xt, ft, gt, fit)
                if row is not None:
                    row["source"] = "operon" if isinstance(proposal, tuple) else "library"
                    candidates[str(shown)] = row
    if not candidates:
        raise RuntimeError("the search returned no usable formula (all constant or non-finite on the data); "
                           "raise time_budget or generations, or offer other functions")
    rows = sorted(candidates.values(), key=lambda r: (r["length"], -r["score"]))
    usable = [r for r in rows if not r["degenerate"]] or rows
    best = max(r["score"] for r in usable)
    chosen = next(r for r in usable if r["score"] >= best - tolerance)
    front = [r for r in rows if r is chosen or not any(
        o["length"] <= r["length"] and o["score"] > r["score"] for o in rows)]
    return SymbolicResult(
        formula=str(chosen["expr"]), latex=sympy.latex(chosen["expr"]), expression=chosen["expr"],
        scale=chosen["scale"], offset=chosen["offset"], r2_train=chosen["r2_train"], r2_test=chosen["r2_test"],
        r2_h_test=chosen["r2_h_test"],
        alignment_train=chosen["al_train"], alignment_test=chosen["al_test"],
        source=chosen["source"], criterion=CRITERIA[fit],
        front=[(r["length"], r["score"], str(r["expr"])) for r in front], seconds=time.perf_counter() - start,
        fit=fit, seed=int(seed), threads=int(threads), feature_names=names)


def keras_input_gradient(model, x, output: int = 0, batch_size: int = 4096) -> np.ndarray:
    """∂F/∂x of a Keras model's output column ``output`` at x (N, F), by ``tf.GradientTape``: (N, F)."""
    import tensorflow as tf

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (samples, features), got {x.shape}")
    parts = []
    for i in range(0, x.shape[0], int(batch_size)):
        xb = tf.convert_to_tensor(x[i:i + int(batch_size)])
        with tf.GradientTape() as tape:
            tape.watch(xb)
            y = model(xb, training=False)
            y = tf.reshape(y, (tf.shape(xb)[0], -1))[:, output]
        parts.append(tape.gradient(y, xb).numpy())
    return np.concatenate(parts).astype(np.float64)
