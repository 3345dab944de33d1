"""Glue between Operon (``pyoperon``) and sympy for :mod:`conserve_tf.symbolic.regression`.

Two searches, both NSGA-II over (error, length) so that the whole accuracy/length front comes back:

* ``"affine"``: Operon's own R² objective with linear scaling, i.e. the error of the best a·g(x) + b
  against F (N,); constants tuned by Levenberg-Marquardt inside the search.
* ``"gradient"``: a user-defined objective, the mean over samples of 1 - cos²(∇g(x), ∇F(x)), with ∇g
  by central differences on Operon's (float32) interpreter. It is unchanged when F is replaced by
  h(F) for any monotone h, because level sets determine an invariant. No Levenberg-Marquardt here
  (it would fit F itself); constants are refined afterwards (``regression._refine``).

``pyoperon`` is imported by the functions that need it: it pulls in scikit-learn, about 3 s on this
machine, and most users of :mod:`conserve_tf.symbolic` only want the polynomial read-out.
"""

from __future__ import annotations

import numpy as np

#: user-facing function name -> Operon primitive ("log" and "sqrt" act on |x|, so no NaN on the data)
FUNCTIONS = {"div": "div", "square": "square", "sin": "sin", "cos": "cos", "exp": "exp", "log": "logabs",
             "sqrt": "sqrtabs", "tanh": "tanh", "tan": "tan", "abs": "abs", "cbrt": "cbrt"}
DEFAULT_FUNCTIONS = ("div", "square", "sin", "cos", "exp", "log", "sqrt")


def function_names(functions) -> list[str]:
    """Validated user function names (a list, or one comma-separated string), each once, in order."""
    if isinstance(functions, str):
        functions = [f.strip() for f in functions.split(",") if f.strip()]
    unknown = [f for f in functions if f not in FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown function name(s) {unknown}; choose from {sorted(FUNCTIONS)} "
                         "(add, sub, mul, constants and the inputs are always allowed)")
    return list(dict.fromkeys(functions))


def check_functions(functions) -> list[str]:
    """Validate user function names; returns the Operon primitive names."""
    return [FUNCTIONS[f] for f in function_names(functions)]


class GradientDirectionLoss:
    """Objective of the gradient fit: mean over samples of 1 - cos²(∇g, ∇F), in [0, 1] (0 = parallel).

    x: (N, F) inputs; grad: (N, F) input-gradient of the learned F at x. ∇g by central differences
    with step 1e-3 x (the std of each input), on 2F shifted copies of the data built once.
    """

    def __init__(self, x, grad):
        import pyoperon as op  # delayed: see the module docstring

        x = np.asarray(x, np.float64)
        g = np.asarray(grad, np.float64)
        self.n = g / np.linalg.norm(g, axis=1, keepdims=True)
        self.h = 1e-3 * np.maximum(x.std(axis=0), 1e-12)
        n, k = x.shape
        shift = np.concatenate([s * self.h[j] * np.eye(k)[j][None].repeat(n, 0) for j in range(k) for s in (1, -1)])
        # all 2F shifted copies in one data set: one interpreter call per individual
        self.stacked = op.Dataset(np.asfortranarray(np.tile(x, (2 * k, 1)) + shift))
        self.range = op.Range(0, 2 * k * n)
        self.dtable = op.DispatchTable()
        self.shape = (k, 2, n)
        self._op = op

    def gradient(self, tree) -> np.ndarray:
        v = self._op.Evaluate(self.dtable, tree, self.stacked, self.range).astype(np.float64).reshape(self.shape)
        with np.errstate(all="ignore"):  # inf - inf of a candidate that overflows: __call__ rejects it
            return ((v[:, 0] - v[:, 1]) / (2 * self.h[:, None])).T

    def __call__(self, rng, individual):
        grad = self.gradient(individual.Genotype)
        norm = np.linalg.norm(grad, axis=1)
        if not np.all(np.isfinite(grad)) or np.any(norm == 0):
            return [1.0]
        cos = np.sum(grad * self.n, axis=1) / norm
        return [float(1.0 - np.mean(cos ** 2))]


def make_regressor(fit, primitives, *, seed, threads, time_budget, max_length, population, generations,
                   max_evaluations, loss=None):
    """A configured ``pyoperon.sklearn.SymbolicRegressor`` (multi-objective: error and length)."""
    from pyoperon.sklearn import SymbolicRegressor  # delayed: see the module docstring

    common = dict(allowed_symbols=_symbols(primitives),
                  max_length=int(max_length), max_depth=12, population_size=int(population),
                  generations=int(generations), max_evaluations=int(max_evaluations), n_threads=int(threads),
                  random_state=int(seed), max_time=max(1, int(time_budget)), offspring_generator="basic",
                  reinserter="keep-best", tournament_size=3)
    if fit == "affine":
        return SymbolicRegressor(objectives=["r2", "length"], optimizer_iterations=10, **common)

    class _GradientRegressor(SymbolicRegressor):
        # the sklearn wrapper knows only its own objectives; "graddir" becomes a UserDefinedEvaluator
        def _validate_params(self, resolved):
            resolved = dict(resolved, objectives=["r2" if o == "graddir" else o for o in resolved["objectives"]])
            super()._validate_params(resolved)

        def _init_evaluator(self, objective, problem, dtable, uncertainty):
            if objective == "graddir":
                import pyoperon as op

                return op.UserDefinedEvaluator(problem, loss)
            return SymbolicRegressor._init_evaluator(objective, problem, dtable, uncertainty)

    return _GradientRegressor(objectives=["graddir", "length"], optimizer_iterations=0, **common)


ARITHMETIC = ("div", "square")


def search(fit, primitives, x, f, *, seed, time_budget, max_evaluations, loss=None, **options):
    """Two independent Operon runs, their fronts merged: a list of ``(regressor, tree)``.

    The arithmetic primitives alone (a third of the budget, ``seed``), then all of ``primitives`` (the rest,
    ``seed + 1``). With the full set only, the search tends to settle on Taylor stand-ins (1830·cos(0.023 x)
    for x²/2) before it finds a polynomial invariant; the first run puts the polynomial on the front.
    (Starting the second run from the first one's population was tried: it then keeps polynomial
    stand-ins for cos θ.)"""
    first = [p for p in primitives if p in ARITHMETIC]
    stages = [(first, 1 / 3), (primitives, 2 / 3)] if len(first) < len(primitives) else [(primitives, 1.0)]
    members = []
    for i, (symbols, share) in enumerate(stages):
        reg = make_regressor(fit, symbols, loss=loss, seed=seed + i, time_budget=share * time_budget,
                             max_evaluations=share * max_evaluations, **options)
        reg.fit(x, f)
        members += [(reg, m["tree"]) for m in reg.pareto_front_]
    return members


def _symbols(primitives):
    return ",".join(["add", "sub", "mul", "constant", "variable"] + list(primitives))


def tree_to_sympy(regressor, tree, symbols):
    """An Operon tree as a sympy expression in ``symbols`` (one per input column, in order)."""
    import pyoperon as op
    import sympy

    text = op.InfixFormatter.Format(tree, regressor.variables_, 12).replace("^", "**")
    names = [regressor.variables_[h] for h in regressor.variables_]  # X1, X2, ... in column order
    local = {name: sym for name, sym in zip(names, symbols)}
    local.update(abs=sympy.Abs, cbrt=sympy.cbrt, sqrt=sympy.sqrt, log=sympy.log, exp=sympy.exp,
                 sin=sympy.sin, cos=sympy.cos, tan=sympy.tan, tanh=sympy.tanh)
    return sympy.parse_expr(text, local_dict=local)
