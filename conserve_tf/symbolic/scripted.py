"""The read-out a script prints: polynomial, symbolic or both, of one learned scalar F.

:func:`read_out` runs the chosen read-outs of F (N,) on inputs x (N, F) (train and held-out), prints
each in a few lines and returns a JSON-ready dictionary for ``results.json``. The ConservNet and
Siamese scripts call it for every output under ``--readout=polynomial|symbolic|both``.
"""

from __future__ import annotations

from .polynomial import polynomial_readout
from .regression import DEFAULT_FUNCTIONS, symbolic_readout

__all__ = ["READOUTS", "read_out"]

READOUTS = ("polynomial", "symbolic", "both", "none")

#: the held-out score (the fit's own: R², R² of h(g) or alignment) below which a printed formula is flagged
NAMED = 0.9

#: the held-out R² of the printed polynomial below which it is called an approximation, not F's formula: a
#: network's F that is a polynomial reads at 0.999 (S1 in the README), S2's sine and root at 0.59, S3's log at 0.78
POLYNOMIAL_DESCRIBES = 0.99


def read_out(kind: str, name: str, x_train, f_train, x_test, f_test, feature_names, degree: int = 4,
             extra_features=None, seconds: float = 35.0, functions=DEFAULT_FUNCTIONS, seed: int = 0,
             fit: str = "affine", grad_train=None, grad_test=None, print_fn=print) -> dict:
    """Run the read-outs ``kind`` (one of :data:`READOUTS`) of output ``name``; returns what was found.

    Polynomial: ridge on monomials up to ``degree`` (with ``extra_features`` columns such as 1/r), the
    R² table and the formula of the chosen degree. Symbolic: library terms and Operon with ``functions``,
    at most about ``seconds`` of search; ``fit="affine"``: F ≈ a·g(x) + b, ``fit="monotone"``: F ≈ h(g(x))
    with h a monotone cubic, ``fit="gradient"``: ∇g ∥ ∇F
    with the input-gradients ``grad_train``/``grad_test`` (N, F); the printed g is the simplest of the front.
    """
    if kind not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {kind!r}")
    out = {}
    if kind in ("polynomial", "both") and degree > 0:
        res = polynomial_readout(x_train, f_train, x_test, f_test, degrees=range(1, int(degree) + 1),
                                 feature_names=feature_names, extra_features=extra_features)
        sign = "-" if res.intercept < 0 else "+"
        print_fn(f"\npolynomial read-out of {name} (ridge on monomials of the raw inputs):\n{res.markdown()}")
        print_fn(f"{name} ≈ {res.formula} {sign} {abs(res.intercept):.3g}   (degree {res.degree})")
        out["polynomial"] = {"formula": res.formula, "intercept": res.intercept, "degree": res.degree,
                             "r2_table": res.table}
        chosen = next(r for r in res.table if r["degree"] == res.degree)
        explained = chosen["r2_test"] if chosen["r2_test"] is not None else chosen["r2_train"]
        out["polynomial"]["describes"] = bool(explained >= POLYNOMIAL_DESCRIBES)
        if explained < POLYNOMIAL_DESCRIBES:
            hint = "" if kind == "both" else "; --readout=symbolic searches formulas with sin, log, 1/r ..."
            print_fn(f"NOTE: this polynomial explains {explained:.3f} of {name}'s variance on "
                     f"{'held-out' if chosen['r2_test'] is not None else 'training'} data (below "
                     f"{POLYNOMIAL_DESCRIBES}): it approximates {name}, it is not {name}'s formula{hint}")
    if kind in ("symbolic", "both"):
        res = symbolic_readout(x_train, f_train, x_test, f_test, fit=fit, grad_train=grad_train, grad_test=grad_test,
                               feature_names=feature_names, functions=functions, time_budget=seconds, seed=seed,
                               tolerance=1e-3)  # docs/symbolic.md: trained F
        how = {"affine": f"{name} ≈ a·g + b", "monotone": f"{name} ≈ h(g), h a monotone cubic"}.get(
            fit, f"level sets of g = those of {name}")
        print_fn(f"\nsymbolic read-out of {name} ({how}; found by the {res.source}; {res.seconds:.0f} s):")
        score = "" if res.alignment_test is None else f"alignment {res.alignment_test:.5f}, "
        print_fn(f"g = {res.formula}   (held-out {score}R² {res.r2_test:.5f} of a·g + b, {res.r2_h_test:.5f} "
                 f"of a cubic h(g); a = {res.scale:.4g}, b = {res.offset:.4g})")
        out["symbolic"] = res.as_dict()
        # below NAMED the formula is the best of a poor lot, and is said to be
        out["symbolic"]["named"] = bool(res.score >= NAMED)
        if res.score < NAMED:
            print_fn(f"WARNING: g explains little of {name} on held-out data (score {res.score:.3f} < {NAMED}): the "
                     f"read-out did not name {name} (docs/symbolic.md, Limits)")
    return out
