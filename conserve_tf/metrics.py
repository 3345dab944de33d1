"""How well a learned scalar F matches a hidden invariant C (ConservNet paper, Figs. 2 and 7).

* ``pearson_rho``: |Pearson correlation| between F and C over all samples.
* ``spearman_rho``: |Spearman rank correlation|: near 1 when F is any monotone function of C. Any function
  of an invariant is an invariant, so an F with a small spread but a curved relation to C scores a low
  Pearson rho and R² yet a high rank correlation (Lotka-Volterra, standardized inputs: relative spread
  0.012, R² 0.76).
* ``linear_fit``: a, b of the least-squares fit C ≈ a F + b (the paper's F̂ = a F + b).
* ``r2``: coefficient of determination of a F + b against C.
* ``mean_intra_group_std``: mean over groups of the standard deviation of a F + b within the group,
  i.e. the spread of the fitted output in units of C. Without true constants, ``relative_spread``
  gives the scale-free spread: mean intra-group std of F over the std of F across all samples.

Shapes: grouped outputs ``f`` are (G, M), constants ``c`` are (G,); flat forms are (N,).
"""

from __future__ import annotations

import keras
import numpy as np
from scipy.stats import spearmanr

from .groups import require_grouped

__all__ = ["pearson_rho", "spearman_rho", "linear_fit", "r2", "mean_intra_group_std", "relative_spread",
           "invariant_report", "select_output", "predict_groups", "InvariantMetrics"]


def _flat(f, c):
    f = np.asarray(f, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    if f.ndim == 3 and f.shape[-1] == 1:
        f = f[..., 0]
    if f.ndim == 2 and c.ndim == 1 and c.shape[0] == f.shape[0]:
        c = np.broadcast_to(c[:, None], f.shape)
    f, c = f.reshape(-1), c.reshape(-1)
    if f.shape != c.shape:
        raise ValueError(f"outputs and constants do not match: {f.shape} vs {c.shape}")
    return f, c


def pearson_rho(f, c) -> float:
    """|Pearson rho| between outputs F and constants C (0 when F is constant)."""
    f, c = _flat(f, c)
    fs, cs = f.std(), c.std()
    if fs == 0 or cs == 0:
        return 0.0
    return float(abs(np.mean((f - f.mean()) * (c - c.mean())) / (fs * cs)))


def spearman_rho(f, c) -> float:
    """|Spearman rank correlation| between outputs F and constants C (ties share ranks; 0 when constant)."""
    f, c = _flat(f, c)
    if f.std() == 0 or c.std() == 0:
        return 0.0
    return float(abs(spearmanr(f, c).statistic))


def linear_fit(f, c):
    """(a, b) minimising sum (a F + b - C)²."""
    f, c = _flat(f, c)
    var = f.var()
    if var == 0:
        return 0.0, float(c.mean())
    a = np.mean((f - f.mean()) * (c - c.mean())) / var
    return float(a), float(c.mean() - a * f.mean())


def r2(f, c) -> float:
    """R² of the fitted a F + b against C: 1 - SS_res / SS_tot (equals rho² for a linear fit)."""
    f, c = _flat(f, c)
    a, b = linear_fit(f, c)
    ss_tot = np.sum((c - c.mean()) ** 2)
    return float(1.0 - np.sum((a * f + b - c) ** 2) / ss_tot) if ss_tot > 0 else 0.0


def mean_intra_group_std(f, c) -> float:
    """Mean over groups of std_m(a F_gm + b); ``f`` (G, M), ``c`` (G,)."""
    f = np.asarray(f, dtype=np.float64)
    if f.ndim == 3:
        f = f[..., 0]
    a, _ = linear_fit(f, c)
    return float(np.mean(np.std(a * f, axis=1)))


def relative_spread(f) -> float:
    """Scale-free spread without constants: mean intra-group std of F / std of F over all samples."""
    f = np.asarray(f, dtype=np.float64)
    if f.ndim == 3 and f.shape[-1] == 1:
        f = f[..., 0]
    if f.ndim != 2:
        raise ValueError(f"relative_spread needs grouped outputs of shape (groups, members) or (groups, members, 1), "
                         f"got shape {f.shape}")
    total = f.std()
    return float(np.mean(np.std(f, axis=1)) / total) if total > 0 else float("nan")


def invariant_report(f, c=None) -> dict:
    """All metrics of one output ``f`` (G, M) against constants ``c`` (G,) (or the spread only without c)."""
    f = np.asarray(f, dtype=np.float64)
    if f.ndim == 3:
        f = f[..., 0]
    out = {"relative_spread": relative_spread(f)}
    if c is not None:
        a, b = linear_fit(f, c)
        out.update(rho=pearson_rho(f, c), spearman=spearman_rho(f, c), std=mean_intra_group_std(f, c),
                   r2=r2(f, c), a=a, b=b)
    return out


def select_output(f, output: int) -> np.ndarray:
    """Output ``output`` of outputs f (..., k), refused by name when the model has no such output."""
    f = np.asarray(f)
    k = f.shape[-1]
    if isinstance(output, bool) or not isinstance(output, (int, np.integer)) or not 0 <= output < k:
        raise ValueError(f"output {output!r} does not exist: the model has {k} output(s), numbered from 0")
    return f[..., output]


def predict_groups(model, data, batch_size: int = 4096) -> np.ndarray:
    """Model outputs on grouped data: (G, M, outputs)."""
    require_grouped(data, "predict_groups")
    flat = model.predict(data.flat().astype(np.float32), batch_size=batch_size, verbose=0)
    return np.asarray(flat).reshape(data.n_groups, data.n_members, -1)


class InvariantMetrics(keras.callbacks.Callback):
    """Keras callback: every ``every`` epochs, evaluate the model's first output on held-out grouped data.

    Adds ``{prefix}rho``, ``{prefix}spearman``, ``{prefix}std``, ``{prefix}r2`` (with true constants) and
    ``{prefix}relative_spread`` to the epoch logs, so they appear in ``fit``'s history and can drive
    ``EarlyStopping``. ``predict_fn(x) -> F`` defaults to ``model(x)`` on ``x`` (G, M, F).
    """

    def __init__(self, data, every: int = 10, predict_fn=None, prefix: str = "val_", constant: int | str = 0,
                 output: int = 0):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        require_grouped(data, "InvariantMetrics")
        data.constants(constant)  # an unknown constant is refused here, not after the first epoch
        self.data, self.every, self.predict_fn, self.prefix = data, int(every), predict_fn, prefix
        self.constant, self.output = constant, output
        self.history: list[dict] = []

    def compute(self) -> dict:
        x = self.data.x.astype(np.float32)
        f = self.predict_fn(x) if self.predict_fn is not None else self.model(x, training=False)
        f = np.asarray(f)
        if f.ndim == 3:
            f = select_output(f, self.output)
        return invariant_report(f, self.data.constants(self.constant))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        report = self.compute()
        self.history.append({"epoch": epoch + 1, **report})
        if logs is not None:
            for key in ("rho", "spearman", "std", "r2", "relative_spread"):
                if key in report:
                    logs[self.prefix + key] = report[key]
