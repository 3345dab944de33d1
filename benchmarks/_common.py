"""Shared pieces of the ConservNet reproduction benchmarks (``benchmarks/conservnet_*.py``).

* :func:`paper_split` / :func:`group_split`: the train/test data of a condition (N, M);
* :func:`train_and_score`: one ConservNet fit plus its held-out rho / R² / std;
* :data:`BUDGETS`, :func:`make_budget`, :func:`budget_from_flags`: the network size and step budget of
  quick and full runs, overridable by flags (:func:`main`: :func:`benchmarks.harness.main` plus these flags);
* :func:`plot_fit` (the Fig. 2a panel) and :func:`loss_curves` (a callback recording held-out curves).

The results tables and figures are written by :mod:`benchmarks.harness`.
"""

from __future__ import annotations

import time

import numpy as np

from conserve_tf.training import DEFAULT_STEPS, RECIPES

SYNTHETIC = ("s1", "s2", "s2+", "s3", "random")
_FAST = RECIPES["fast"]
#: full: the package's default recipe (``fit_conservnet`` with nothing set, docs/conservnet_recipe.md), so the
#: reproductions show what a user gets; quick: a tiny network and few steps (the tests)
BUDGETS = {
    "quick": {"width": 32, "depth": 2, "activation": _FAST["model"]["activation"], "steps": 100,
              "learning_rate": 1e-2, "groups_per_step": None},
    "full": {"width": _FAST["model"]["width"], "depth": _FAST["model"]["depth"],
             "activation": _FAST["model"]["activation"], "steps": DEFAULT_STEPS,
             "learning_rate": _FAST["learning_rate"], "groups_per_step": _FAST["groups_per_step"]},
}
#: the full budget with the NV loss's own settings in the default recipe (Figs. 4, 8, 9 train the paper's loss)
_NV = _FAST["objective_settings"]["nv"]
BUDGETS["full_nv"] = {**BUDGETS["full"], **_NV["model"], "learning_rate": _NV["learning_rate"]}
PAPER_BUDGET = "paper: 4 x 320 Mish, Adam 5e-5, one group per step, up to 50 000 epochs with early stopping"


def paper_split(name: str, groups: int, members: int, seed: int = 0, **options):
    """The paper's split: train and test the same size (N, M) with the SAME constants.

    Synthetic systems: a second draw with seed + 1 (their constants depend only on N). Physical systems
    draw their constants from the seed, so one (N, 2M) draw is split within every group at random.
    """
    from conserve_tf import make_system

    key = name.lower()
    if key in SYNTHETIC:
        return (make_system(key, groups, members, seed=seed, **options),
                make_system(key, groups, members, seed=seed + 1, **options))
    data = make_system(key, groups, 2 * members, seed=seed, **options)
    return data.split_within(0.5, seed=seed)


def group_split(name: str, groups: int, members: int, seed: int = 0, **options):
    """Beyond the paper: 2N groups of M drawn, half the groups held out (constants never seen in training)."""
    from conserve_tf import make_system

    return make_system(name.lower(), 2 * groups, members, seed=seed, **options).split_by_group(0.5, seed=seed)


def train_and_score(train, test, budget: dict, seed: int = 0, constant=0, eval_every: int = 0, **model_kwargs):
    """Fit a ConservNet with ``budget`` (width, depth, activation, steps, learning_rate, groups per step) and
    score it on ``test``; the objective is the default recipe's unless ``model_kwargs`` name one (Fig. 8
    trains the paper's NV loss, ``objective="nv"``).

    Returns ``(model, history, row)`` with row = rho, r2, std, a, b, relative_spread, seconds.
    """
    from conserve_tf import evaluate_invariant, fit_conservnet

    t0 = time.time()
    model, history = fit_conservnet(train, test if eval_every else None, width=budget["width"],
                                    depth=budget["depth"], activation=budget["activation"], seed=seed,
                                    eval_every=eval_every, **fit_kwargs(budget, train), **model_kwargs)
    row = evaluate_invariant(model, test, constant=constant)
    row["seconds"] = time.time() - t0
    return model, history, row


def fit_kwargs(budget: dict, train, points: int | None = None) -> dict:
    """fit_conservnet arguments of a budget; ``points`` > 0 makes one Keras epoch 1/points of the run
    (so a per-epoch callback records ``points`` times)."""
    per = budget.get("groups_per_step")
    kw = {"steps": budget["steps"], "learning_rate": budget["learning_rate"],
          "groups_per_step": None if per is None else min(int(per), train.n_groups)}
    if points:
        kw["steps_per_epoch"] = max(1, budget["steps"] // int(points))
    return kw


def define_budget_flags() -> None:
    """--steps, --width, --depth, --learning_rate, --groups_per_step: overrides of the quick/full budget."""
    from absl import flags

    flags.DEFINE_integer("steps", None, "optimizer steps per training (default: the quick/full budget)")
    flags.DEFINE_integer("width", None, "hidden width (default: the quick/full budget; the paper's is 320)")
    flags.DEFINE_integer("depth", None, "hidden layers (default: the quick/full budget; the paper's is 4)")
    flags.DEFINE_float("learning_rate", None, "initial Adam learning rate of the cosine schedule")
    flags.DEFINE_integer("groups_per_step", None, "groups per optimizer step (default: all; the paper: 1)")


def main(name: str, benchmark, define=None, arguments=None, base: dict | None = None) -> None:
    """:func:`benchmarks.harness.main` with the budget flags: ``benchmark`` gets ``budget=`` (from
    ``base``, default the full budget, or the quick one) beside its own flags (``arguments(FLAGS)`` when
    they need parsing)."""
    from benchmarks import harness

    own = []

    def define_all():
        define_budget_flags()
        own.extend(harness.defined_by(define))

    def kwargs(F):
        args = arguments(F) if arguments is not None else {k: getattr(F, k) for k in own}
        return {"budget": budget_from_flags(F, base), **args}

    harness.main(name, benchmark, define=define_all, arguments=kwargs)


def make_budget(quick: bool, steps=None, width=None, depth=None, learning_rate=None, groups_per_step=None,
                base: dict | None = None) -> dict:
    """The quick budget, or ``base`` (default: the full budget), with any of its entries overridden."""
    b = dict(BUDGETS["quick"] if quick else (base or BUDGETS["full"]))
    if groups_per_step is not None:
        if groups_per_step < 1:
            raise ValueError(f"groups_per_step must be >= 1, got {groups_per_step}")
        b["groups_per_step"] = int(groups_per_step)
    for key, v in (("steps", steps), ("width", width), ("depth", depth), ("learning_rate", learning_rate)):
        if v is not None:
            if not v > 0:
                raise ValueError(f"{key} must be positive, got {v}")
            b[key] = type(b[key])(v)
    return b


def budget_from_flags(FLAGS, base: dict | None = None) -> dict:
    return make_budget(FLAGS.quick, FLAGS.steps, FLAGS.width, FLAGS.depth, FLAGS.learning_rate,
                       FLAGS.groups_per_step, base)


def plot_fit(ax, f, c, title: str, seed: int = 0):
    """The paper's Fig. 2a panel: C (jittered) against the fitted output a F + b, group means ± std.

    f: (G, M) outputs, c: (G,) true constants.
    """
    from conserve_tf import metrics

    f = np.asarray(f, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    a, b = metrics.linear_fit(f, c)
    fit = a * f + b
    gap = np.min(np.diff(np.sort(np.unique(c)))) if np.unique(c).size > 1 else 1.0
    jitter = np.random.default_rng(seed).uniform(-0.25, 0.25, size=f.shape) * gap
    ax.scatter(np.broadcast_to(c[:, None], f.shape) + jitter, fit, c=np.broadcast_to(np.arange(len(c))[:, None],
               f.shape), cmap="viridis", s=3, alpha=0.4)
    ax.errorbar(c, fit.mean(axis=1), yerr=fit.std(axis=1), fmt="o", color="k", ms=3, capsize=2)
    lo, hi = c.min(), c.max()
    ax.plot([lo, hi], [lo, hi], "k:", lw=1)
    ax.set_title(f"{title}\nR² = {metrics.r2(f, c):.4f} (a = {a:.2f}, b = {b:.2f})", fontsize=8)
    ax.set_xlabel("C")
    ax.set_ylabel("a F + b")


def loss_curves(test, every: int = 1, constant=0, steps_per_epoch: int = 1):
    """A Keras callback recording, every ``every`` epochs, the train loss (Keras logs), the held-out NV
    loss (fixed evaluation noise), the held-out mean intra-group std of F and its relative spread, and
    rho / std of a F + b against the constants when ``test`` has them. Records in ``.records``."""
    import keras
    import tensorflow as tf

    from conserve_tf import metrics

    class LossCurves(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.records = []

        def on_epoch_end(self, epoch, logs=None):
            if (epoch + 1) % every:
                return
            x = tf.constant(test.x, tf.float32)
            gid = tf.range(test.n_groups, dtype=tf.int64)
            test_loss = self.model.loss_terms(x, gid, tf.constant(-1, tf.int64))["loss"]
            f = self.model(x).numpy()[..., 0]
            rec = {"epoch": epoch + 1, "step": (epoch + 1) * steps_per_epoch, "train_loss": float((logs or {}).get("loss", np.nan)),
                   "test_loss": float(test_loss), "test_spread_f": float(np.mean(f.std(axis=1))),
                   "test_relative_spread": metrics.relative_spread(f)}
            if test.c is not None and constant is not None:
                rep = metrics.invariant_report(f, test.constants(constant))
                rec.update(rho=rep["rho"], std=rep["std"], r2=rep["r2"])
            self.records.append(rec)

    return LossCurves()
