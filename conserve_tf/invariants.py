"""Several invariants from one training, what each is made of, and how many there are (issue 7).

None of the three papers finds more than one invariant per training: appendix G of Ha & Jeong (papers
000/001) finds Kepler's energy only once L is held fixed. Here a ConservNet with k outputs is trained
jointly (NV loss per output + the gradient-cosine independence penalty, :mod:`conserve_tf.model`), and

* :func:`invariant_readout` regresses every known invariant on polynomial features of the k outputs
  (held-out R²) and, the other way round, each output on polynomial features of every subset of the
  known invariants, naming the smallest subset that explains it;
* :func:`count_invariants` trains k = 1, 2, ... outputs and reports where adding one more stops giving
  an output that is both invariant and independent (:func:`decide_count`, the table, :func:`plot_count`).

**Spread used for the count.** For output j of a k-output model on held-out data f (G, M, k), the
relative spread s_j = mean_g std_m f_gmj / std_{g,m} f_gmj (``metrics.relative_spread``): the fraction of
the output's variation that lies *within* groups. It does not change when an output is rescaled or
shifted, so outputs of different scale compare fairly; 0 is a perfect invariant, values near 1 mean the
output ignores the groups. A k-output training is summarised by its worst output, max_j s_j.

**Independence used for the count.** The pairwise penalty cannot see three gradients lying in a plane,
so the count also measures g_min = the smallest eigenvalue of the Gram matrix of the k unit input
gradients, averaged over held-out samples: 1 for orthogonal gradients, 0 when some output is locally a
function of the others (functional dependence), whatever the pairwise cosines.

**Count rule** (:func:`decide_count`): k passes when max_j s_j <= ``spread_threshold`` and (k = 1 or
g_min >= ``independence_threshold``); the count is the number of consecutive passing k from 1. With more
outputs than invariants, either an output stops being invariant (its spread jumps) or the outputs
become dependent (g_min collapses); the table shows which. Defaults 0.2 and 0.05: in our runs, outputs
that were not invariant sat at held-out spreads 0.45-0.95 and learned invariants at 0.01-0.15.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from .metrics import relative_spread

__all__ = ["output_spreads", "decorrelating_map", "gradient_independence", "input_jacobian", "decide_count", "CountResult",
           "count_invariants", "plot_count", "invariant_readout", "ReadoutTable", "kepler_lrl",
           "known_invariants"]


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


def decorrelating_map(f):
    """Generalized eigenvectors of (W, C) of grouped outputs f (G, M, k): returns (V (k, k), ratios (k,)).

    W and C are the within-group and total covariances of :func:`conserve_tf.losses.within_group_ratio`;
    W v = λ C v. The columns of f @ V are uncorrelated with unit variance on f's data, ordered by ascending
    λ = within-group fraction of their variance (the most invariant direction first); each column's
    largest entry is made positive so the map is reproducible. Raises ValueError when C is singular
    (a constant output, or one output a linear combination of the others).
    """
    import scipy.linalg

    f = np.asarray(f, dtype=np.float64)
    if f.ndim != 3 or f.shape[0] < 2 or f.shape[1] < 2:
        raise ValueError(f"outputs must have shape (groups >= 2, members >= 2, k), got {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("outputs contain NaN or Inf")
    g, m, k = f.shape
    within = f - f.mean(axis=1, keepdims=True)
    w = np.einsum("gmi,gmj->ij", within, within) / (g * m)
    flat = f.reshape(-1, k) - f.reshape(-1, k).mean(axis=0)
    c = flat.T @ flat / (g * m)
    try:
        ratios, vecs = scipy.linalg.eigh(w, c)
    except np.linalg.LinAlgError:
        raise ValueError("the outputs' covariance is singular (a constant output, or one output a linear "
                         "combination of the others): cannot decorrelate them") from None
    pick = np.argmax(np.abs(vecs), axis=0)
    vecs = vecs * np.sign(vecs[pick, np.arange(k)])
    return vecs, np.clip(ratios, 0.0, 1.0)


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
    ConservNet penalty sees): dF/dx_s = dF/dx / scale.
    """
    import tensorflow as tf

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
        jac = jac / np.asarray(input_scale, dtype=np.float64)
    return jac


# ----------------------------------------------------------------------------- the count
@dataclasses.dataclass
class CountResult:
    """``rows``: one dict per k (k, spreads, worst_spread, cos2, gram_min, passed, seconds);
    ``count``: the estimated number of independent invariants; ``saturated``: every k tried passed,
    so the count is a lower bound; ``reasoning``: one sentence per k."""

    rows: list
    count: int
    saturated: bool
    reasoning: list
    spread_threshold: float
    independence_threshold: float

    def markdown(self) -> str:
        lines = ["| k | relative spread per output (held-out) | worst | pairwise cos² | Gram min eig | passes |",
                 "| --- | --- | --- | --- | --- | --- |"]
        for r in self.rows:
            spreads = ", ".join(f"{s:.3f}" for s in r["spreads"])
            lines.append(f"| {r['k']} | {spreads} | {r['worst_spread']:.3f} | {r['cos2']:.3f} | "
                         f"{r['gram_min']:.3f} | {'yes' if r['passed'] else 'no'} |")
        bound = "at least " if self.saturated else ""
        lines.append(f"\nestimated number of independent invariants: {bound}{self.count}")
        return "\n".join(lines + [f"- {s}" for s in self.reasoning])


def decide_count(rows, spread_threshold: float = 0.2, independence_threshold: float = 0.05) -> CountResult:
    """Apply the count rule of the module docstring to a table of rows.

    Each row is a dict with ``k``, ``spreads`` (k held-out relative spreads) and ``gram_min``
    (``cos2`` optional); rows are sorted by k and must start at k = 1 without gaps.
    """
    if not 0 < spread_threshold < 1:
        raise ValueError(f"spread_threshold must lie in (0, 1), got {spread_threshold}")
    if not 0 <= independence_threshold < 1:
        raise ValueError(f"independence_threshold must lie in [0, 1), got {independence_threshold}")
    rows = sorted((dict(r) for r in rows), key=lambda r: r["k"])
    if not rows or [r["k"] for r in rows] != list(range(1, len(rows) + 1)):
        raise ValueError(f"rows must cover k = 1, 2, ... without gaps, got k = {[r['k'] for r in rows]}")
    count, failed, reasoning = 0, False, []
    for r in rows:
        spreads = np.asarray(r["spreads"], dtype=np.float64).reshape(-1)
        if spreads.shape != (r["k"],) or not np.all(np.isfinite(spreads)):
            raise ValueError(f"row k={r['k']} needs {r['k']} finite spreads, got {spreads}")
        r["spreads"], r["worst_spread"] = spreads.tolist(), float(spreads.max())
        r.setdefault("cos2", 0.0)
        invariant = r["worst_spread"] <= spread_threshold
        independent = r["k"] == 1 or r["gram_min"] >= independence_threshold
        r["passed"] = bool(invariant and independent)
        if r["passed"]:
            why = f"k={r['k']}: all {r['k']} outputs invariant (worst spread {r['worst_spread']:.3f} <= " \
                  f"{spread_threshold})" + ("" if r["k"] == 1 else f" and independent (Gram min {r['gram_min']:.3f})")
        else:
            parts = [] if invariant else [f"an output is not invariant (worst spread {r['worst_spread']:.3f} > "
                                          f"{spread_threshold})"]
            parts += [] if independent else [f"the outputs are dependent (Gram min {r['gram_min']:.3f} < "
                                             f"{independence_threshold})"]
            why = f"k={r['k']}: " + " and ".join(parts)
        if not failed and r["passed"]:
            count = r["k"]
        elif not failed:
            failed = True
            why += f" -> adding output {r['k']} gives no further invariant: count = {count}"
        reasoning.append(why)
    return CountResult(rows=rows, count=count, saturated=not failed, reasoning=reasoning,
                       spread_threshold=spread_threshold, independence_threshold=independence_threshold)


def _fit_conservnet_k(train, test, k, **fit_kwargs):
    from .training import fit_conservnet

    model, _ = fit_conservnet(train, test, outputs=k, **fit_kwargs)
    return model, (lambda x: model(x)), model.scale


def _sequential_prefixes(train, test, k_max, seed, log, fit_kwargs):
    """One sequential (deflation) training of k_max outputs; row k reads its first k outputs, which later
    stages leave unchanged, so k_max trainings cost one."""
    import time

    from .training import fit_conservnet

    t0 = time.time()
    model, _ = fit_conservnet(train, test, outputs=k_max, seed=seed, **fit_kwargs)
    if log:
        log(f"sequential training of {k_max} outputs: {time.time() - t0:.0f} s (rows below read its first k outputs)")
    return lambda tr, te, k: (model, (lambda x: model.raw_outputs(x, k)), model.scale)


def count_invariants(train, test, k_max: int = 4, fit=None, spread_threshold: float = 0.2,
                     independence_threshold: float = 0.05, jacobian_samples: int = 1000, seed: int = 0,
                     log=print, decorrelate: bool = True, **fit_kwargs) -> CountResult:
    """Train k = 1..k_max outputs on ``train``, measure held-out spreads and independence on ``test``.

    ``fit(train, test, k) -> (model, fn, input_scale)`` trains one model with k outputs, ``fn`` maps raw
    inputs (N, F) to the outputs (N, k). Default: a ConservNet via ``fit_conservnet(train, test,
    outputs=k, **fit_kwargs)``; with ``scheme="sequential"`` one deflation training of k_max outputs whose
    first k outputs make row k. Returns a :class:`CountResult` (its ``rows`` also hold the models).

    ``decorrelate`` (default): the k outputs are first rotated by :func:`decorrelating_map` fitted on the
    training orbits, and spreads and independence are those of the rotated outputs. Every direction in
    the span of the outputs must then be invariant (the worst rotated spread is the largest over all
    linear combinations), so k outputs of which one is, say, L plus noise do not pass for two invariants.
    """
    import time

    if int(k_max) < 1:
        raise ValueError(f"k_max must be >= 1, got {k_max}")
    if test.n_features != train.n_features:
        raise ValueError(f"train has {train.n_features} features but test has {test.n_features}")
    if fit is None and fit_kwargs.get("scheme") == "sequential":
        fit = _sequential_prefixes(train, test, int(k_max), seed, log, fit_kwargs)
    fit = fit or (lambda tr, te, k: _fit_conservnet_k(tr, te, k, seed=seed, **fit_kwargs))
    x_test = test.flat().astype(np.float32)
    pick = np.random.default_rng(seed).permutation(len(x_test))[:jacobian_samples]
    rows = []
    for k in range(1, int(k_max) + 1):
        t0 = time.time()
        model, fn, scale = fit(train, test, k)
        f = np.asarray(fn(x_test)).reshape(test.n_groups, test.n_members, k)
        jac = input_jacobian(fn, x_test[pick], scale)
        rotated = False
        if decorrelate:
            f_train = np.asarray(fn(train.flat().astype(np.float32))).reshape(train.n_groups, train.n_members, k)
            try:
                mixing, _ = decorrelating_map(f_train)
                f, jac, rotated = f @ mixing, np.einsum("nif,ij->njf", jac, mixing), True
            except ValueError:  # linearly dependent outputs: kept as they are; the Gram test rejects them
                pass
        row = {"k": k, "spreads": output_spreads(f).tolist(), "seconds": time.time() - t0, "model": model,
               "decorrelated": rotated}
        row.update(gradient_independence(jac))
        rows.append(row)
        if log:
            log(f"k={k}: spreads {np.round(row['spreads'], 3).tolist()}, Gram min {row['gram_min']:.3f}, "
                f"{row['seconds']:.0f} s")
    return decide_count(rows, spread_threshold, independence_threshold)


def plot_count(result: CountResult, path: str, title: str = "") -> str:
    """The count's evidence as a PNG: spread of every output and the worst per k; Gram min eigenvalue."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = [r["k"] for r in result.rows]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for r in result.rows:
        ax.scatter([r["k"]] * r["k"], r["spreads"], color="tab:blue", s=14, alpha=0.6)
    ax.plot(ks, [r["worst_spread"] for r in result.rows], "o-", color="tab:blue", label="worst output spread")
    ax.axhline(result.spread_threshold, color="tab:blue", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("outputs k")
    ax.set_ylabel("held-out relative spread")
    ax.set_xticks(ks)
    ax2 = ax.twinx()
    ax2.plot(ks, [r["gram_min"] for r in result.rows], "s--", color="tab:red", label="Gram min eigenvalue")
    ax2.axhline(result.independence_threshold, color="tab:red", ls=":", lw=1)
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("independence (Gram min eig)", color="tab:red")
    ax.axvline(result.count + 0.5, color="gray", lw=0.8)
    ax.set_title(title or f"estimated invariants: {result.count}")
    fig.legend(loc="upper left", fontsize=7, bbox_to_anchor=(0.12, 0.88))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- read-out
def kepler_lrl(x) -> np.ndarray:
    """Laplace-Runge-Lenz vector A = v × L ẑ − r̂ (m = GM = 1) of planar states x (..., 4) = (x, y, v_x, v_y).

    Returns (..., 2) = (A_x, A_y) = (v_y L − x/r, −v_x L − y/r); |A| is the eccentricity and A points to
    the periapsis, so its direction (cos ω, sin ω) is a third invariant of a planar Kepler orbit.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1] != 4:
        raise ValueError(f"Kepler states need 4 features (x, y, vx, vy), got {x.shape[-1]}")
    px, py, vx, vy = (x[..., i] for i in range(4))
    ang, r = px * vy - py * vx, np.hypot(px, py)
    return np.stack([vy * ang - px / r, -vx * ang - py / r], axis=-1)


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
        a = kepler_lrl(data.flat())
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
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

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
