"""Input scaling that travels with a model: ``x_s = (x - offset) * scale``.

Modes (``input_scaling(data, mode)``):

* ``"auto"``: the per-system factors a paper used when the data carries them (``data.scale``, e.g.
  Lotka-Volterra x, y by 0.1), else ``"rule"``;
* ``"rule"``: the ConservNet paper's rule: a variable whose largest magnitude exceeds 10 is scaled by
  0.1 (applied once, as stated in appendix D);
* ``"standardize"``: zero mean, unit standard deviation per feature over all samples;
* ``"none"``: identity.

Returns ``(scale, offset)``, lists of F floats (offset None unless standardizing), ready for the
``scale``/``offset`` arguments of the models.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCALINGS", "input_scaling"]

SCALINGS = ("auto", "rule", "standardize", "none")


def input_scaling(data, mode: str = "auto"):
    """(scale, offset) for :class:`~conserve_tf.groups.GroupedData` ``data`` under ``mode``."""
    if mode not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {mode!r}")
    x = data.flat()
    if mode == "auto":
        if data.scale is not None:
            return [float(v) for v in data.scale], None
        mode = "rule"
    if mode == "none":
        return [1.0] * x.shape[1], None
    if mode == "rule":
        return [0.1 if v > 10.0 else 1.0 for v in np.abs(x).max(axis=0)], None
    std = x.std(axis=0)
    if np.any(std == 0):
        bad = [data.feature_names[i] for i in np.flatnonzero(std == 0)]
        raise ValueError(f"cannot standardize constant feature(s) {bad}")
    return [float(v) for v in 1.0 / std], [float(v) for v in x.mean(axis=0)]
