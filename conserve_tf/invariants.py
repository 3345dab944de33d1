"""What several learned outputs are made of: spreads, independence and the read-out against known invariants.

None of the three papers finds more than one invariant per training: appendix G of Ha & Jeong (papers
000/001) finds Kepler's energy only once L is held fixed. This module measures k learned outputs on
held-out grouped data; :mod:`conserve_tf.counting` builds the count of invariants on it.

* :func:`output_spreads` -- relative spread s_j = mean_g std_m f_gmj / std_{g,m} f_gmj of each output
  (``metrics.relative_spread``): the fraction of the output's variation that lies *within* groups,
  unchanged when an output is rescaled or shifted; 0 is a perfect invariant, near 1 ignores the groups.
* :func:`gradient_independence` -- the pairwise cos² of the outputs' input gradients and g_min, the
  smallest eigenvalue of their Gram matrix (1 orthogonal, 0 when an output is locally a function of the
  others, which the pairwise cosines cannot see for three gradients in a plane);
* :func:`input_jacobian` -- those gradients of any Keras callable; :func:`local_input_scale` -- the factor
  dx_s/dx that turns them into a ConservNet's scaled (and, for logged features, logarithmic) coordinates;
* :func:`invariant_readout` -- regresses every known invariant on polynomial features of the k outputs
  (held-out R²) and, the other way round, each output on every subset of the known invariants, naming the
  smallest subset that explains it; :func:`known_invariants` lists the known ones of a data set.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import tensorflow as tf
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

from .kepler import laplace_runge_lenz
from .metrics import relative_spread

__all__ = ["output_spreads", "gradient_independence", "input_jacobian", "local_input_scale", "invariant_readout",
           "ReadoutTable", "known_invariants"]


# ----------------------------------------------------------------------------- spreads and independence
def output_spreads(f) -> np.ndarray:
    """Relative spread of each output: f (G, M, k) (or (G, M)) -> (k,), see the module docstring."""
    f = np.asarray(f, dtype=np.float64)
    if f.ndim == 2:
        f = f[..., None]
    if f.ndim != 3:
        raise ValueError(f"outputs must have shape (groups, members, k), got {f.shape}")
    if f.shape[1] < 2:
        raise ValueError(f"every group needs at least two members to have a spread, got {f.shape[1]}")
    return np.array([relative_spread(f[..., j]) for j in range(f.shape[-1])])


def gradient_independence(jacobian) -> dict:
    """Independence of k outputs from their input gradients: jacobian (N, k, F) -> dict.

    ``cos2``: mean over samples and pairs i < j of cos²(∇F_i, ∇F_j) (the training penalty);
    ``gram_min``: mean over samples of the smallest eigenvalue of the Gram matrix of unit gradients
    (1 orthonormal, 0 linearly dependent). One output gives cos2 = 0, gram_min = 1.
    """
    jac = np.asarray(jacobian, dtype=np.float64)
    if jac.ndim != 3:
        raise ValueError(f"jacobian must have shape (samples, outputs, features), got {jac.shape}")
    if not np.all(np.isfinite(jac)):
        raise ValueError("jacobian contains NaN or Inf")
    k = jac.shape[1]
    unit = jac / np.maximum(np.linalg.norm(jac, axis=-1, keepdims=True), 1e-12)
    gram = np.einsum("nif,njf->nij", unit, unit)
    if k < 2:
        return {"cos2": 0.0, "gram_min": 1.0}
    iu = np.triu_indices(k, 1)
    cos2 = float(np.mean(gram[:, iu[0], iu[1]] ** 2))
    return {"cos2": cos2, "gram_min": float(np.mean(np.linalg.eigvalsh(gram)[:, 0]))}


def input_jacobian(fn, x, input_scale=None, batch_size: int = 1024) -> np.ndarray:
    """Input gradients of a Keras callable ``fn`` (N, F) -> (N, k) at x (N, F): returns (N, k, F).

    ``input_scale`` (F,) expresses the gradients in scaled coordinates x_s = x * scale (the ones the
    ConservNet penalty sees): dF/dx_s = dF/dx / scale; an (N, F) ``input_scale`` is the local factor
    dx_s/dx at every sample (a logged feature's is scale / x, see :func:`local_input_scale`).
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"inputs must have shape (samples, features), got {x.shape}")
    out = []
    for i in range(0, len(x), batch_size):
        xb = tf.constant(x[i:i + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(xb)
            y = fn(xb)
            y = tf.reshape(y, [tf.shape(xb)[0], -1])
        out.append(tape.batch_jacobian(y, xb).numpy())
    jac = np.concatenate(out).astype(np.float64)
    if input_scale is not None:
        input_scale = np.asarray(input_scale, dtype=np.float64)
        jac = jac / (input_scale[:, None, :] if input_scale.ndim == 2 else input_scale)
    return jac


def local_input_scale(model, x) -> np.ndarray | None:
    """dx_s/dx (N, F) of a ConservNet's input scaling at x (N, F): scale, times 1/x on its logged features."""
    if model.scale is None and not model.log_inputs:
        return None
    x = np.asarray(x, dtype=np.float64)
    local = np.broadcast_to(np.asarray(model.scale if model.scale is not None else 1.0, np.float64), x.shape).copy()
    local[:, model.log_inputs] /= x[:, model.log_inputs]
    return local


# ----------------------------------------------------------------------------- read-out
def known_invariants(data) -> dict:
    """Per-sample known invariants of grouped data, flattened in ``data.flat()`` order: name -> (N,) or (N, d).

    Every stored constant (``data.constant_names``) broadcast to the members; for 4-feature Kepler data
    (x, y, vx, vy) also "LRL direction" = (cos ω, sin ω) of the Laplace-Runge-Lenz vector.
    """
    out = {}
    names = list(data.constant_names or [])
    for i, name in enumerate(names):
        out[name] = np.repeat(np.asarray(data.constants(i), dtype=np.float64), data.n_members)
    if str(data.name).startswith("kepler") and list(data.feature_names) == ["x", "y", "vx", "vy"]:
        a = laplace_runge_lenz(data.flat())
        out["LRL direction"] = a / np.linalg.norm(a, axis=-1, keepdims=True)
    return out


READOUT_ALPHAS = tuple(10.0 ** np.arange(-6, 3))


def _poly_fit(x_tr, y_tr, x_te, y_te, degree, alphas=READOUT_ALPHAS, folds: int = 5) -> float:
    """Held-out R² of y regressed on polynomial features of x (ridge), averaged over y's columns.

    The ridge weight is chosen from ``alphas`` by ``folds``-fold cross-validation on the training rows taken
    in order, not shuffled: rows in group-major order (``GroupedData.flat()``) then fall into folds of whole
    groups, so a weight is judged on groups it has not seen. Held-out inputs are clipped to the training
    range of each input first: a polynomial fitted there is not evaluated where it was never fitted (a
    cubic of an output that overshoots on one held-out orbit otherwise ruins the whole R²).
    """
    cv = KFold(min(int(folds), len(x_tr))) if len(x_tr) >= 2 * folds else None
    pipe = make_pipeline(StandardScaler(), PolynomialFeatures(degree, include_bias=False), StandardScaler(),
                         RidgeCV(alphas=alphas, cv=cv))
    pipe.fit(x_tr, y_tr)
    x_te = np.clip(x_te, x_tr.min(axis=0), x_tr.max(axis=0))
    return float(pipe.score(x_te, y_te))


@dataclasses.dataclass
class ReadoutTable:
    """``r2``: invariant name -> held-out R² of that invariant regressed on polynomials of all outputs;
    ``outputs``: one dict per output with ``r2`` (subset label -> held-out R² of the output regressed on
    polynomials of that subset of invariants), ``made_of`` (names of the smallest adequate subset, empty
    when none explains the output) and ``best`` (the best R²)."""

    r2: dict
    outputs: list
    degree: int
    name_threshold: float

    def markdown(self) -> str:
        lines = ["| invariant | R² from the outputs (held-out) |", "| --- | --- |"]
        lines += [f"| {n} | {v:.4f} |" for n, v in self.r2.items()]
        lines += ["", "| output | made of | R² | best R² of each invariant alone |", "| --- | --- | --- | --- |"]
        for j, o in enumerate(self.outputs):
            alone = ", ".join(f"{n} {v:.3f}" for n, v in o["r2"].items() if " + " not in n)
            made = " + ".join(o["made_of"]) or "none"
            lines.append(f"| F{j + 1} | {made} | {o['r2_made_of']:.4f} | {alone} |")
        return "\n".join(lines)

    def names(self) -> list:
        """``["L", "L + E", ...]``: what each output is made of ("none" where nothing explains it)."""
        return [" + ".join(o["made_of"]) or "none" for o in self.outputs]


def invariant_readout(f_train, inv_train: dict, f_test, inv_test: dict, degree: int = 3,
                      name_threshold: float = 0.9, tolerance: float = 0.02) -> ReadoutTable:
    """Polynomial read-out between k outputs and known invariants, both directions, scored held-out.

    f_train, f_test: (N, k) outputs; inv_train, inv_test: name -> (N,) or (N, d) values (for example
    :func:`known_invariants`), rows in group-major order. Each invariant is regressed on standardized
    polynomial features (up to ``degree``) of all outputs (ridge weight by cross-validation over whole
    groups of the training rows, held-out inputs clipped to the training range; see ``_poly_fit``). Each output is regressed on polynomials of every non-empty subset of the
    invariants; it is "made of" the smallest subset (the best one among the smallest) whose R² reaches
    ``name_threshold`` and lies within ``tolerance`` of the best subset's R².
    """
    f_train, f_test = (np.asarray(a, dtype=np.float64) for a in (f_train, f_test))
    f_train = f_train[:, None] if f_train.ndim == 1 else f_train
    f_test = f_test[:, None] if f_test.ndim == 1 else f_test
    if f_train.ndim != 2 or f_test.ndim != 2 or f_train.shape[1] != f_test.shape[1]:
        raise ValueError(f"outputs must be (samples, k) with the same k, got {f_train.shape} and {f_test.shape}")
    if not inv_train or set(inv_train) != set(inv_test):
        raise ValueError(f"need the same non-empty set of invariants for train and test, got "
                         f"{sorted(inv_train)} and {sorted(inv_test)}")
    names = list(inv_train)

    def cols(inv, n, rows):
        out = []
        for name in n:
            v = np.asarray(inv[name], dtype=np.float64)
            v = v[:, None] if v.ndim == 1 else v
            if v.shape[0] != rows:
                raise ValueError(f"invariant {name!r} has {v.shape[0]} samples, the outputs {rows}")
            out.append(v)
        return np.concatenate(out, axis=1)

    r2 = {n: _poly_fit(f_train, cols(inv_train, [n], len(f_train)), f_test, cols(inv_test, [n], len(f_test)),
                       degree) for n in names}
    subsets = [s for size in range(1, len(names) + 1) for s in itertools.combinations(names, size)]
    outputs = []
    for j in range(f_train.shape[1]):
        scores = {s: _poly_fit(cols(inv_train, s, len(f_train)), f_train[:, j], cols(inv_test, s, len(f_test)),
                               f_test[:, j], degree) for s in subsets}
        best = max(scores.values())
        ok = [s for s in subsets if scores[s] >= name_threshold and scores[s] >= best - tolerance]
        made = min(ok, key=lambda s: (len(s), -scores[s])) if ok else ()
        outputs.append({"r2": {" + ".join(s): v for s, v in scores.items()}, "made_of": list(made),
                        "r2_made_of": scores[made] if made else best, "best": best})
    return ReadoutTable(r2=r2, outputs=outputs, degree=int(degree), name_threshold=float(name_threshold))
