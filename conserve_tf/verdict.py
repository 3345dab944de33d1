"""A readable verdict on whether a trained ConservNet found an invariant (Fig. 9 of Ha & Jeong 2021).

Appendix H.3 of the ConservNet paper: on data with no invariant the network "alarms the absence of
invariant by showing strong overfitting and large intra-group deviations" -- the training loss falls,
the held-out loss does not. This module turns that observation into a number and a sentence computed
from HELD-OUT grouped data, without any true constant:

* the held-out relative spread ``s = mean_g std_m F_gm / std F`` (:func:`conserve_tf.metrics.relative_spread`;
  0 for a perfect invariant, ~1 when the groups mean nothing to F);
* the same statistic after the members are shuffled across groups (``n_shuffles`` permutations): the
  baseline any function F reaches by chance, about sqrt((M - 1)/M) -- which also catches a trivial,
  near-constant F, whose grouped and shuffled spreads agree;
* optionally the training relative spread (a much smaller train than held-out spread is overfitting)
  and the history of the held-out spread over training (does it fall?).

"invariant found" needs the held-out spread to be at most ``max_ratio`` (default 0.5) of the shuffled
baseline AND at least ``min_z`` (default 5) baseline standard deviations below its mean. A found invariant
whose ratio is above :data:`APPROXIMATE_RATIO` (0.1) is called approximate: exact invariants of noise-free
data reach a few per cent here (ConservNet on S1 0.02, the Siamese bottleneck reading s² 0.02-0.04), while a
Siamese network stuck on a projection of boosted events reached 0.18 (docs/siamese.md). On noisy data an
exact invariant is approximate too; the message says both.

Shapes: grouped outputs ``f`` are (G, M) (a trailing axis of one output is dropped), G >= 2.

One group (a single trajectory, as the measured double pendulum) has no other group to compare with:
:func:`trajectory_verdict` compares the spread of F on the held-out states with its spread on the same
states after every input column is shuffled on its own (each coordinate keeps its values, the joint
relation that makes F constant is broken). An invariant is flat on the trajectory and varies on the
shuffled states; a trivial F is flat on both.

:func:`fitted_verdict` applies the same tests to the data a model was trained on, which is what
``fit_conservnet(restarts=...)`` has before any held-out data are touched: a run stuck on a trivial or
plateau solution is not flat even on its own training groups.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .groups import require_grouped
from .metrics import predict_groups, relative_spread, select_output

#: a found invariant with a larger held-out/shuffled spread ratio is reported as approximate
APPROXIMATE_RATIO = 0.1

__all__ = ["APPROXIMATE_RATIO", "Verdict", "verdict_from_outputs", "invariant_verdict", "trajectory_verdict",
           "fitted_verdict", "report_verdict"]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`verdict_from_outputs`; ``message`` is the sentence to show a user."""

    found: bool
    test_spread: float          # held-out relative spread
    shuffled_spread: float      # mean relative spread of the shuffled-group baseline
    shuffled_std: float         # its standard deviation over the shuffles
    ratio: float                # test_spread / shuffled_spread
    z: float                    # (test_spread - shuffled_spread) / shuffled_std (negative is good)
    train_spread: float | None  # training relative spread, if given
    spread_fell: bool | None    # did the held-out spread fall over training (if a history was given)
    message: str
    approximate: bool = False   # found, but the ratio is above APPROXIMATE_RATIO

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _grouped(f, what: str) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    if f.ndim == 3 and f.shape[-1] == 1:
        f = f[..., 0]
    if f.ndim != 2:
        raise ValueError(f"{what} must have shape (groups, members) or (groups, members, 1), got {f.shape}")
    if f.shape[0] < 2 or f.shape[1] < 2:
        raise ValueError(f"{what} needs at least 2 groups of at least 2 members, got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"{what} contains NaN or Inf: the model output is not finite")
    return f


def _against_baseline(s, base, max_ratio, min_z):
    """(mean, std, ratio, z, found) of a spread ``s`` against the spreads ``base`` of the shuffled baseline."""
    mu, sd = float(base.mean()), float(base.std())
    ratio = s / mu
    z = (s - mu) / sd if sd > 0 else (-np.inf if s < mu else 0.0)
    return mu, sd, float(ratio), float(z), bool(ratio <= max_ratio and z <= -min_z)


def verdict_from_outputs(f_test, f_train=None, test_spread_history=None, n_shuffles: int = 200,
                         max_ratio: float = 0.5, min_z: float = 5.0, seed: int = 0) -> Verdict:
    """Decide from held-out outputs ``f_test`` (G, M) whether F is an invariant of the groups.

    ``f_train`` (G', M'): training outputs, reported to show overfitting. ``test_spread_history``: the
    held-out relative spread at successive points of training (e.g. ``val_relative_spread`` of
    :class:`~conserve_tf.metrics.InvariantMetrics`); the verdict says whether it fell by 10 % or more.
    """
    f = _grouped(f_test, "f_test")
    if int(n_shuffles) < 2:
        raise ValueError(f"n_shuffles must be >= 2, got {n_shuffles}")
    if not 0 < max_ratio < 1:
        raise ValueError(f"max_ratio must lie in (0, 1), got {max_ratio}")
    if f.std() == 0:
        return Verdict(False, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"),
                       None, None, "no invariant found: the output is constant (trivial solution)")
    rng = np.random.default_rng(seed)
    flat = f.reshape(-1)
    base = np.array([relative_spread(rng.permutation(flat).reshape(f.shape)) for _ in range(int(n_shuffles))])
    s = relative_spread(f)
    mu, sd, ratio, z, found = _against_baseline(s, base, max_ratio, min_z)
    train_s = None if f_train is None else relative_spread(_grouped(f_train, "f_train"))
    fell = None
    if test_spread_history is not None:
        h = np.asarray(test_spread_history, dtype=np.float64).reshape(-1)
        h = h[np.isfinite(h)]
        if h.size >= 2:
            fell = bool(h[-1] <= 0.9 * h[0])
    detail = f"held-out spread {s:.3f} vs {mu:.3f} +- {sd:.3f} for shuffled groups (ratio {ratio:.2f})"
    approximate = found and ratio > APPROXIMATE_RATIO
    if approximate:
        msg = (f"invariant found, but only approximate: {detail}; an exact invariant of noise-free data reaches a "
               f"ratio of a few per cent, so unless the data are noisy F may be a partial invariant (such as a "
               f"projection of the inputs): train longer or on more groups, and check what F reads")
    elif found:
        msg = f"invariant found: {detail}"
    else:
        msg = f"no invariant found: held-out spread is not below the shuffled-group baseline; {detail}"
    if train_s is not None:
        msg += f"; train spread {train_s:.3f}"
        if not found and train_s < 0.5 * s:
            msg += " (overfitting: the training groups tighten, held-out ones do not)"
    if fell is not None:
        msg += "; held-out spread " + ("fell" if fell else "did not fall") + " during training"
    return Verdict(found, float(s), mu, sd, float(ratio), float(z), train_s, fell, msg, approximate)


def invariant_verdict(model, test, train=None, output: int = 0, **kwargs) -> Verdict:
    """:func:`verdict_from_outputs` for a trained model on held-out :class:`GroupedData` ``test``.

    ``train``: the training data, to report overfitting; ``kwargs`` go to :func:`verdict_from_outputs`.
    """
    require_grouped(test, "the verdict's held-out data", min_groups=2)
    f_test = select_output(predict_groups(model, test), output)
    f_train = None if train is None else select_output(predict_groups(model, train), output)
    return verdict_from_outputs(f_test, f_train, **kwargs)


def trajectory_verdict(model, test, output: int = 0, n_shuffles: int = 20, max_ratio: float = 0.5,
                       min_z: float = 5.0, seed: int = 0) -> Verdict:
    """Is F constant along one held-out trajectory (``test`` with one or more groups, flattened) while
    not constant on states with independently shuffled coordinates? Same fields as the grouped verdict:
    ``test_spread`` is std F on the states, ``shuffled_spread``/``shuffled_std`` the mean and std of
    std F over ``n_shuffles`` coordinate shuffles; "found" needs ratio <= ``max_ratio`` and z <= -``min_z``."""
    if int(n_shuffles) < 2:
        raise ValueError(f"n_shuffles must be >= 2, got {n_shuffles}")
    x = test.flat()
    if len(x) < 3:
        raise ValueError(f"the trajectory verdict needs at least 3 held-out states, got {len(x)}")
    rng = np.random.default_rng(seed)
    # the states, then n_shuffles copies with every coordinate permuted on its own, in one prediction
    states = np.concatenate([x] + [np.column_stack([rng.permutation(col) for col in x.T])
                                   for _ in range(int(n_shuffles))])
    f = np.asarray(model.predict(states.astype(np.float32), verbose=0)).reshape(len(states), -1)[:, output]
    if not np.all(np.isfinite(f)):
        raise ValueError("the model output is not finite on the held-out states")
    spreads = f.reshape(int(n_shuffles) + 1, len(x)).std(axis=1)
    s, base = float(spreads[0]), spreads[1:]
    if base.mean() == 0:
        return Verdict(False, s, 0.0, float(base.std()), float("nan"), float("nan"), None, None,
                       "no invariant found: the output is constant (trivial solution)")
    mu, sd, ratio, z, found = _against_baseline(s, base, max_ratio, min_z)
    detail = (f"std of F along the held-out trajectory {s:.4g} vs {mu:.4g} +- {sd:.2g} on states with shuffled "
              f"coordinates (ratio {ratio:.2f})")
    msg = f"invariant found: {detail}" if found else f"no invariant found: F is not flatter on the trajectory; {detail}"
    return Verdict(found, s, mu, sd, float(ratio), float(z), None, None, msg)


def fitted_verdict(model, data, output: int = 0, seed: int = 0) -> Verdict:
    """The verdict on the groups ``data`` that ``model`` was fitted on (or on members held out of them):
    :func:`invariant_verdict` with two or more groups, :func:`trajectory_verdict` with one. It cannot tell
    overfitting from an invariant (training groups are flat either way); it does tell a run that found
    nothing, which is what deciding a restart needs."""
    if data.n_groups < 2:
        return trajectory_verdict(model, data, output=output, seed=seed)
    return invariant_verdict(model, data, output=output, seed=seed)


def report_verdict(label: str, verdict: Verdict, log=print) -> dict:
    """Show ``verdict`` of the output named ``label`` as a script's user sees it (``WARNING, `` in front when
    no invariant was found or only an approximate one) and return it as a dict for results.json."""
    log(f"{label}: {verdict.message}" if verdict.found and not verdict.approximate
        else f"WARNING, {label}: {verdict.message}")
    return verdict.as_dict()
