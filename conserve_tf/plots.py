"""The figures a training run writes: the learned invariant per group, and the training curves.

* :func:`plot_invariant`: with true constants, the layout of Fig. 2a of the ConservNet paper (Ha &
  Jeong 2021): the fitted output F̂ = a F + b of every sample against its group's constant C (jittered
  along C so that a group's points do not sit on one vertical line), one colour per group, the group
  mean as a black dot with the group's standard deviation as error bar, and the identity line. Without
  constants: a box plot of the raw output per group against the group index. One panel per output.
* :func:`plot_training`: loss terms (left) and held-out metrics (right, the ``val_`` entries) of a Keras
  ``History`` against optimizer steps.

Both save a PNG and return its path; matplotlib runs on the Agg backend (no display needed).
"""

from __future__ import annotations

import numpy as np

from . import metrics

__all__ = ["plot_invariant", "plot_training"]

MAX_GROUPS = 40  # groups drawn per panel; more are thinned evenly (the title says how many are shown)


def _pyplot():
    import matplotlib  # delayed: matplotlib is only needed when a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str, title: str) -> str:
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def _shown_groups(n_groups: int, order=None) -> np.ndarray:
    order = np.arange(n_groups) if order is None else np.asarray(order)
    if n_groups <= MAX_GROUPS:
        return order
    return order[np.linspace(0, n_groups - 1, MAX_GROUPS).round().astype(int)]


def _constant_panel(ax, f, c, name, seed):
    """Fig. 2a panel: f (G, M) fitted to c (G,) and drawn against it."""
    a, b = metrics.linear_fit(f, c)
    fit = a * f + b
    groups = _shown_groups(len(c), np.argsort(c))
    colours = _pyplot().get_cmap("viridis")(np.linspace(0, 1, len(groups)))
    span = float(np.ptp(c)) or 1.0
    jitter = np.random.default_rng(seed).uniform(-0.01, 0.01, size=f.shape) * span
    for colour, g in zip(colours, groups):
        ax.scatter(c[g] + jitter[g], fit[g], s=4, color=colour, alpha=0.5, linewidths=0)
    ax.errorbar(c[groups], fit[groups].mean(axis=1), yerr=fit[groups].std(axis=1), fmt="o", color="black", ms=3,
                capsize=2, lw=1)
    lo, hi = float(c.min()), float(c.max())
    ax.plot([lo, hi], [lo, hi], "k:", lw=1)
    ax.set_xlabel(f"true {name}")
    ax.set_ylabel("fitted output  a F + b")
    shown = "" if len(groups) == len(c) else f", {len(groups)} of {len(c)} groups shown"
    return f"R² = {metrics.r2(f, c):.4f}{shown}"


def _box_panel(ax, f):
    """f (G, M) as one box per group against the group index."""
    groups = _shown_groups(len(f))
    ax.boxplot([f[g] for g in groups], positions=groups, widths=max(0.6, 0.6 * (groups[-1] + 1) / len(groups)),
               showfliers=False, manage_ticks=False)
    ax.set_xlabel("group index")
    ax.set_ylabel("output F")
    ax.set_xlim(-1, len(f))
    shown = "" if len(groups) == len(f) else f", {len(groups)} of {len(f)} groups shown"
    return f"relative spread = {metrics.relative_spread(f):.4f}{shown}"


def plot_invariant(outputs, constants, path: str, constant_names=None, title: str = "", seed: int = 0) -> str:
    """Learned output(s) per group: ``outputs`` (G, M) or (G, M, k), ``constants`` (G,), (G, n) or None.

    With constants, each output is drawn against the constant it correlates with best (|Pearson rho|)
    in the Fig. 2a layout; without, as box plots per group. Saves ``path`` (PNG) and returns it.
    """
    f = np.asarray(outputs, dtype=np.float64)
    if f.ndim == 2:
        f = f[..., None]
    if f.ndim != 3:
        raise ValueError(f"outputs must have shape (groups, members) or (groups, members, k), got {f.shape}")
    c = None if constants is None else np.asarray(constants, dtype=np.float64).reshape(len(f), -1)
    names = list(constant_names or []) or ([f"C{i}" for i in range(c.shape[1])] if c is not None else [])
    k = f.shape[-1]
    plt = _pyplot()
    fig, axes = plt.subplots(1, k, figsize=(4.6 * k, 4.2), squeeze=False)
    for j, ax in enumerate(axes[0]):
        label = "F" if k == 1 else f"F{j + 1}"
        if c is None:
            note = _box_panel(ax, f[..., j])
        else:
            best = int(np.argmax([metrics.pearson_rho(f[..., j], c[:, i]) for i in range(c.shape[1])]))
            note = _constant_panel(ax, f[..., j], c[:, best], names[best], seed)
        ax.set_title(f"{label}: {note}", fontsize=9)
    return _save(fig, path, title)


def _steps(n_values: int, n_epochs: int, steps_per_epoch: int) -> np.ndarray:
    """Optimizer step at the end of each logged epoch; a series logged less often ends at the last epoch."""
    every = max(1, n_epochs // max(n_values, 1))
    epochs = n_epochs - every * np.arange(n_values)[::-1]
    return epochs * steps_per_epoch


def plot_training(history, path: str, steps_per_epoch: int = 1, title: str = "") -> str:
    """Loss terms and held-out (``val_``) metrics of ``history`` (a Keras History or its dict) against steps.

    Losses that stay positive are drawn on a log scale. Saves ``path`` (PNG) and returns it.
    """
    logs = getattr(history, "history", history) or {}
    logs = {k: np.asarray(v, dtype=np.float64) for k, v in logs.items() if len(v) and k != "learning_rate"}
    if not logs:
        raise ValueError("the history holds no logged values to plot")
    n_epochs = max(len(v) for v in logs.values())
    train = {k: v for k, v in logs.items() if not k.startswith("val_")}
    held = {k: v for k, v in logs.items() if k.startswith("val_")}
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2 if held else 1, figsize=(10 if held else 5.5, 3.8), squeeze=False)
    ax = axes[0][0]
    for key, v in train.items():
        ax.plot(_steps(len(v), n_epochs, steps_per_epoch), v, label=key)
    if train and all(np.all(v[np.isfinite(v)] > 0) for v in train.values()):
        ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_title("training loss terms")
    ax.legend(fontsize=7)
    if held:
        ax = axes[0][1]
        for key, v in held.items():
            ax.plot(_steps(len(v), n_epochs, steps_per_epoch), v, marker=".", label=key)
        ax.set_xlabel("optimizer step")
        ax.set_title("held-out metrics")
        ax.legend(fontsize=7)
    return _save(fig, path, title)
