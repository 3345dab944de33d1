"""Input scaling that travels with a model: ``x_s = (g(x) - offset) * scale``, g = log on the features in
``log``, the identity on the others.

Modes (``input_scaling(data, mode)``):

* ``"auto"`` (the default recipe's): every feature that is strictly positive and spans more than a decade on
  ``data`` (largest / smallest > 10: populations, radii, concentrations) enters as its natural logarithm,
  with factor 1. The network then sees relative changes of such a variable evenly, which keeps the learned
  F closer to an affine map of the invariant (docs/conservnet_recipe.md, round 5: Lotka-Volterra and
  Kepler+). The other features take the paper's factors when the data carries them; data without them (a
  user's own) take the paper's rule, except that a feature far from zero (mean beyond
  :data:`CENTRE_SIGMAS` standard deviations) is centred and one whose standard deviation lies outside
  :data:`STD_RANGE` is standardized: measured data in any units or with an offset reach the network at the
  order one the rule assumes (docs/conservnet_recipe.md, round 12);
* ``"factors"``: the per-system factors a paper used when the data carries them (``data.scale``, e.g.
  Lotka-Volterra x, y by 0.1), else ``"rule"`` (the paper recipe's);
* ``"rule"``: the ConservNet paper's rule: a variable whose largest magnitude exceeds 10 is scaled by
  0.1 (applied once, as stated in appendix D);
* ``"standardize"``: zero mean, unit standard deviation per feature over all samples;
* ``"none"``: identity.

Returns :class:`InputScaling` ``(scale, offset, log)``: F floats, F floats or None (offset None unless
standardizing), and the sorted indices of the logged features (empty unless ``"auto"`` found some),
ready for the ``scale``/``offset``/``log_inputs`` arguments of the models.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["SCALINGS", "LOG_SPAN", "CENTRE_SIGMAS", "STD_RANGE", "InputScaling", "input_scaling", "log_features"]

SCALINGS = ("auto", "factors", "rule", "standardize", "none")

#: a strictly positive feature whose largest / smallest value on the data exceeds this enters as its log
#: under ``"auto"``
LOG_SPAN = 10.0

#: under ``"auto"``, on data without a paper's factors, a feature whose mean lies more than this many standard
#: deviations from zero is centred (an offset such as a lab frame's origin or an absolute temperature)
CENTRE_SIGMAS = 2.0

#: ... and a feature whose standard deviation lies outside this range is divided by it (other units)
STD_RANGE = (0.1, 10.0)


class InputScaling(NamedTuple):
    """``x_s = (g(x) - offset) * scale`` with g = log on the features listed in ``log``."""
    scale: list
    offset: list | None
    log: list


def log_features(x) -> list[int]:
    """Indices of the columns of x (N, F) that are strictly positive and span more than :data:`LOG_SPAN`."""
    x = np.asarray(x, np.float64)
    low, high = x.min(axis=0), x.max(axis=0)
    return [int(i) for i in np.flatnonzero((low > 0) & (high > LOG_SPAN * low))]


def _user_data_scaling(x, logged, centre: bool) -> InputScaling:
    """``"auto"`` on data without a paper's factors: the rule, with far-off features centred (when ``centre``) and
    features of a standard deviation outside :data:`STD_RANGE` standardized (module doc)."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    scale, offset = [], []
    for i in range(x.shape[1]):
        off = float(mean[i]) if centre and i not in logged and abs(mean[i]) > CENTRE_SIGMAS * std[i] else 0.0
        if i in logged:
            factor = 1.0
        elif std[i] > 0 and not STD_RANGE[0] <= std[i] <= STD_RANGE[1]:
            factor = float(1.0 / std[i])
        else:
            factor = 0.1 if np.abs(x[:, i] - off).max() > 10.0 else 1.0
        scale.append(factor)
        offset.append(off)
    return InputScaling(scale, offset if any(offset) else None, logged)


def input_scaling(data, mode: str = "auto", centre: bool = True) -> InputScaling:
    """:class:`InputScaling` for :class:`~conserve_tf.groups.GroupedData` ``data`` under ``mode``.

    ``centre=False`` keeps ``"auto"`` from centring (a rotation symmetry needs the origin where it is)."""
    if mode not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {mode!r}")
    x = data.flat()
    if mode == "auto":
        logged = log_features(x)
        if data.scale is None:
            return _user_data_scaling(x, logged, centre)
        return InputScaling([1.0 if i in logged else float(v) for i, v in enumerate(data.scale)], None, logged)
    if mode == "factors":
        if data.scale is not None:
            return InputScaling([float(v) for v in data.scale], None, [])
        mode = "rule"
    if mode == "none":
        return InputScaling([1.0] * x.shape[1], None, [])
    if mode == "rule":
        return InputScaling([0.1 if v > 10.0 else 1.0 for v in np.abs(x).max(axis=0)], None, [])
    std = x.std(axis=0)
    if np.any(std == 0):
        bad = [data.feature_names[i] for i in np.flatnonzero(std == 0)]
        raise ValueError(f"cannot standardize constant feature(s) {bad}")
    return InputScaling([float(v) for v in 1.0 / std], [float(v) for v in x.mean(axis=0)], [])
