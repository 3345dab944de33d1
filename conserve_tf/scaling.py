"""Input scaling that travels with a model: ``x_s = (g(x) - offset) * scale``, g = log on the features in
``log``, the identity on the others.

Modes (``input_scaling(data, mode)``):

* ``"auto"`` (the default recipe's): ``"factors"``, and every feature that is strictly positive and spans
  more than a decade on ``data`` (largest / smallest > 10: populations, radii, concentrations) enters as
  its natural logarithm, with factor 1. The network then sees relative changes of such a variable
  evenly, which keeps the learned F closer to an affine map of the invariant (docs/conservnet_recipe.md,
  round 5: Lotka-Volterra and Kepler+);
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

__all__ = ["SCALINGS", "LOG_SPAN", "InputScaling", "input_scaling", "log_features"]

SCALINGS = ("auto", "factors", "rule", "standardize", "none")

#: a strictly positive feature whose largest / smallest value on the data exceeds this enters as its log
#: under ``"auto"``
LOG_SPAN = 10.0


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


def input_scaling(data, mode: str = "auto") -> InputScaling:
    """:class:`InputScaling` for :class:`~conserve_tf.groups.GroupedData` ``data`` under ``mode``."""
    if mode not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {mode!r}")
    x = data.flat()
    if mode == "auto":
        scale = input_scaling(data, "factors").scale
        logged = log_features(x)
        return InputScaling([1.0 if i in logged else v for i, v in enumerate(scale)], None, logged)
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
