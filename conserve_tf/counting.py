"""How many independent invariants a system has: train k = 1, 2, ... outputs and find where it stops.

For a k-output model on held-out data f (G, M, k) the count reads the relative spread s_j of every
output and the independence g_min of their input gradients (:mod:`conserve_tf.invariants`); a k-output
training is summarised by its worst output, max_j s_j.

**Count rule** (:func:`decide_count`): k passes when max_j s_j <= ``spread_threshold`` and (k = 1 or
g_min >= ``independence_threshold``); the count is the number of consecutive passing k from 1. With more
outputs than invariants, either an output stops being invariant (its spread jumps) or the outputs
become dependent (g_min collapses); the table shows which. The default thresholds 0.2 and 0.05 and the
spreads they separate are discussed in docs/invariants.md.

:func:`count_invariants` runs the trainings (ConservNet by default, any ``fit`` callable otherwise, e.g.
the Siamese bottlenecks of :mod:`siamese.multi`); :func:`plot_count` draws the evidence.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from .groups import check_integer, require_grouped
from .invariants import gradient_independence, input_jacobian, local_input_scale, output_spreads
from .losses import decorrelating_map
from .training import fit_conservnet

__all__ = ["CountResult", "decide_count", "count_invariants", "plot_count"]


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


def _check_thresholds(spread_threshold, independence_threshold) -> None:
    if not 0 < spread_threshold < 1:
        raise ValueError(f"spread_threshold must lie in (0, 1), got {spread_threshold}")
    if not 0 <= independence_threshold < 1:
        raise ValueError(f"independence_threshold must lie in [0, 1), got {independence_threshold}")


def decide_count(rows, spread_threshold: float = 0.2, independence_threshold: float = 0.05) -> CountResult:
    """Apply the count rule of the module docstring to a table of rows.

    Each row is a dict with ``k``, ``spreads`` (k held-out relative spreads) and ``gram_min``
    (``cos2`` optional); rows are sorted by k and must start at k = 1 without gaps.
    """
    _check_thresholds(spread_threshold, independence_threshold)
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
    model, _ = fit_conservnet(train, test, outputs=k, **fit_kwargs)
    return model, (lambda x: model(x)), (lambda x: local_input_scale(model, x))


def _sequential_prefixes(train, test, k_max, seed, log, fit_kwargs):
    """One sequential (deflation) training of k_max outputs; row k reads its first k outputs, which later
    stages leave unchanged, so k_max trainings cost one."""
    t0 = time.time()
    model, _ = fit_conservnet(train, test, outputs=k_max, seed=seed, **fit_kwargs)
    if log:
        log(f"sequential training of {k_max} outputs: {time.time() - t0:.0f} s (rows below read its first k outputs)")
    return lambda tr, te, k: (model, (lambda x: model.raw_outputs(x, k)), (lambda x: local_input_scale(model, x)))


def count_invariants(train, test, k_max: int = 4, fit=None, spread_threshold: float = 0.2,
                     independence_threshold: float = 0.05, jacobian_samples: int = 1000, seed: int = 0,
                     log=print, decorrelate: bool = True, **fit_kwargs) -> CountResult:
    """Train k = 1..k_max outputs on ``train``, measure held-out spreads and independence on ``test``.

    ``fit(train, test, k) -> (model, fn, input_scale)`` trains one model with k outputs, ``fn`` maps raw
    inputs (N, F) to the outputs (N, k); ``input_scale`` is (F,), None, or x (N, F) -> dx_s/dx (N, F)
    (:func:`~conserve_tf.invariants.local_input_scale`). Default: a ConservNet via ``fit_conservnet(train, test,
    outputs=k, **fit_kwargs)``; with ``scheme="sequential"`` one deflation training of k_max outputs whose
    first k outputs make row k. Returns a :class:`CountResult` (its ``rows`` also hold the models).

    ``decorrelate`` (default): the k outputs are first rotated by :func:`decorrelating_map` fitted on the
    training orbits, and spreads and independence are those of the rotated outputs. Every direction in
    the span of the outputs must then be invariant (the worst rotated spread is the largest over all
    linear combinations), so k outputs of which one is, say, L plus noise do not pass for two invariants.
    """
    check_integer(k_max, "k_max", 1)
    check_integer(jacobian_samples, "jacobian_samples", 1)
    _check_thresholds(spread_threshold, independence_threshold)  # here, not after k_max trainings
    require_grouped(train, "count_invariants' train")
    require_grouped(test, "count_invariants' test", min_groups=2)
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
        jac = input_jacobian(fn, x_test[pick], scale(x_test[pick]) if callable(scale) else scale)
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
    import matplotlib.pyplot as plt  # matplotlib is imported only by callers that draw

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
