"""Training recipes for ConservNet on :class:`~conserve_tf.groups.GroupedData`.

Two recipes (``recipe=``, :data:`RECIPES`); arguments given explicitly override the recipe's:

* ``"fast"`` (default), chosen by the experiment of docs/conservnet_recipe.md over S1, S2, S2+, S3,
  Lotka-Volterra and Kepler: every optimizer step sees all groups; the within-group variance ratio
  objective (``objective="ratio"``, no spreading noise, Q or R); inputs scaled by the paper's factors
  (``scaling="auto"``: the system's own factors, else 0.1 for a variable beyond 10), and a strictly
  positive variable spanning more than a decade enters as its logarithm; 3 hidden layers of
  128 tanh units; Adam at 3e-3 held constant, then a cosine decay to 1e-5 over the last 30 % of the
  steps (:class:`HoldThenCosine`), so a short budget is not spent at a decayed rate; 4000 steps by default
  (:data:`DEFAULT_STEPS`); one restart from a fresh start when the trained network is no flatter on its
  own training groups than on shuffled ones (``restarts``).
* ``"paper"``: the published code's recipe: one group per optimizer step, Adam at 5e-5, constant; the
  NV loss with the variance as the spread, the L2 spreader's radius uniform in [0, R], R = Q = 1;
  4 hidden layers of 320 Mish units; the paper's input factors alone (``scaling="factors"``); no restarts.

Both are ordinary ``keras.Model.fit`` calls on a ``tf.data`` pipeline of whole groups
``(x (g, M, F), group ids (g,))``: callbacks, progress bar and ``History`` are Keras's own.
"""

from __future__ import annotations

import os
import time
import warnings

import keras
import numpy as np
import tensorflow as tf

from . import losses
from .callbacks import standard_callbacks
from .layers import product_gain
from .groups import require_grouped
from .metrics import InvariantMetrics, invariant_report, predict_groups, select_output
from .model import ConservNet
from .scaling import input_scaling
from .schedules import HoldThenCosine
from .symmetry import check_symmetry, symmetric_scaling
from .verdict import fitted_verdict

__all__ = ["RECIPES", "DEFAULT_STEPS", "SCHEDULES", "RESTART_SEED_STEP", "HoldThenCosine", "recipe_settings",
           "as_dataset", "build_conservnet", "fit_conservnet", "predict_groups", "evaluate_invariant"]

#: optimizer steps of a training when none are given (``fit_conservnet``, ``python -m conserve_tf.train``)
DEFAULT_STEPS = 4000

RECIPES = {
    "fast": {"learning_rate": 3e-3, "final_learning_rate": 1e-5, "groups_per_step": None, "schedule": "hold_cosine",
             "decay_fraction": 0.3, "warmup_steps": 0, "scaling": "auto",
             "model": {"objective": "ratio", "width": 128, "depth": 3, "activation": "tanh"},
             # one group per step (a single trajectory): the ratio objective has no between-group variance
             # to compare with, so the NV loss trains instead
             "one_group_objective": "nv",
             # an objective's own settings, replacing the recipe's where not given explicitly: the NV loss trains
             # with Mish at 2e-3 (docs/conservnet_recipe.md, round 6: on grouped S2, tanh at 3e-3 collapsed on 5 of
             # 10 runs (seeds 0-4, Q = 1 and 2), Mish at 1e-3 and at 2e-3 on none, 2e-3 the higher on every run;
             # round 3: on one trajectory F stays flatter along the held-out part than with tanh at 3e-3)
             "objective_settings": {"nv": {"learning_rate": 2e-3, "weight_decay": 0.0, "model": {"activation": "mish"}}},
             # decoupled weight decay (AdamW) for the ratio objective: on the six systems of Fig. 2a it raised the
             # worst R² of S3 (0.936 -> 0.958), Lotka-Volterra (0.954 -> 0.979) and Kepler (0.991 -> 0.9997) and
             # kept S1, S2, S2+ (docs/conservnet_recipe.md, round 14); 0.3 cost S3
             "weight_decay": 0.1,
             # a run whose training groups are no flatter than chance is trained once more from a fresh start
             "restarts": 1},
    "paper": {"learning_rate": 5e-5, "final_learning_rate": 5e-5, "groups_per_step": 1, "schedule": "constant",
              "decay_fraction": 0.0, "warmup_steps": 0, "scaling": "factors",
              "model": {"objective": "nv", "width": 320, "depth": 4, "activation": "mish", "spread": "var",
                        "radial": "uniform", "q": 1.0, "r": 1.0},
              "weight_decay": 0.0, "restarts": 0},
}


SCHEDULES = ("cosine", "constant", "hold_cosine")


def as_dataset(data, groups_per_step: int | None = None, shuffle: bool = True, seed: int = 0,
               dtype="float32") -> tf.data.Dataset:
    """A repeatable epoch of whole groups: elements ``(x (g, M, F), group_ids (g,))``.

    ``groups_per_step=None`` puts all groups in every batch. Group ids are the global indices, so the
    spreading noise of a group does not depend on the batching.
    """
    g = require_grouped(data, "as_dataset").n_groups
    if groups_per_step is not None and (isinstance(groups_per_step, bool)
                                        or not isinstance(groups_per_step, (int, np.integer))):
        raise ValueError(f"groups_per_step must be an integer or None, got {groups_per_step!r}")
    per = g if groups_per_step is None else int(groups_per_step)
    if not 1 <= per <= g:
        raise ValueError(f"groups_per_step must be between 1 and the number of groups ({g}), got {groups_per_step}")
    ds = tf.data.Dataset.from_tensor_slices((data.x.astype(dtype), np.arange(g, dtype=np.int64)))
    if shuffle and per < g:
        ds = ds.shuffle(g, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(per, drop_remainder=False).prefetch(tf.data.AUTOTUNE)


def build_conservnet(data, scaling: str = "auto", **model_kwargs) -> ConservNet:
    """A ConservNet whose input scaling is computed from ``data`` (see :mod:`conserve_tf.scaling`); with a
    ``symmetry``, made fit for it (:func:`conserve_tf.symmetry.symmetric_scaling`). With
    ``first_layer="product"`` and no ``product_gain``, the gain is 1 / mean(x²) of what the first layer sees
    on ``data`` (:func:`conserve_tf.layers.product_gain`)."""
    symmetry = model_kwargs.get("symmetry")
    check_symmetry(symmetry, data.n_features)
    scale, offset, log = symmetric_scaling(symmetry, *input_scaling(data, scaling, centre=symmetry is None),
                                           data.feature_names)
    model = ConservNet(scale=scale, offset=offset, log_inputs=log, **model_kwargs)
    if model.first_layer == "product" and "product_gain" not in model_kwargs:
        seen = model.first_layer_inputs(model.scale_inputs(data.flat()))
        model = ConservNet(scale=scale, offset=offset, log_inputs=log, product_gain=product_gain(seen), **model_kwargs)
    return model


def evaluate_invariant(model, data, output: int = 0, constant: int | str = 0) -> dict:
    """rho, intra-group std and R² of one output against one true constant (spread only without constants).

    ``data``: :class:`~conserve_tf.groups.GroupedData` (one group, a single trajectory, has a relative spread of 1
    by construction; :func:`~conserve_tf.verdict.trajectory_verdict` judges it)."""
    c = require_grouped(data, "evaluate_invariant").constants(constant)
    return invariant_report(select_output(predict_groups(model, data), output), c)


def recipe_settings(recipe: str = "fast", scaling: str | None = None, **model_kwargs):
    """``(scaling, model kwargs)`` of ``recipe``, with the arguments given here taking precedence."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}, got {recipe!r}")
    return (RECIPES[recipe]["scaling"] if scaling is None else scaling), {**RECIPES[recipe]["model"], **model_kwargs}


def fit_conservnet(train, test=None, steps: int = DEFAULT_STEPS, recipe: str = "fast",
                   learning_rate: float | None = None, groups_per_step: int | None = -1, scaling: str | None = None,
                   eval_every: int = 0, steps_per_epoch: int | None = None, callbacks=(), verbose: int = 0,
                   jit_compile: bool = False, model: ConservNet | None = None, seed: int = 0, strategy=None,
                   backup_dir: str | None = None, scheme: str = "joint", decorrelate: bool | None = None,
                   validation: float | None = None, restarts: int | None = None, weight_decay: float | None = None,
                   **model_kwargs):
    """Train a ConservNet on ``train`` for ``steps`` optimizer steps; returns ``(model, history)``.

    A Keras epoch is ``steps_per_epoch`` steps (default: one pass over the groups), so ``History``
    and the progress bar hold one entry per epoch. ``eval_every > 0`` with ``test`` adds
    :class:`~conserve_tf.metrics.InvariantMetrics`, logging ``val_rho`` etc. every that many epochs.
    ``groups_per_step=-1`` takes the recipe's choice (all groups for "fast", one for "paper").
    ``strategy`` (a ``tf.distribute`` strategy, see :mod:`conserve_tf.distribute`) builds the model and
    optimizer in its scope; ``backup_dir`` resumes an interrupted run from its last epoch
    (``keras.callbacks.BackupAndRestore``). A NaN or Inf loss stops training with
    :class:`~conserve_tf.callbacks.NonFiniteLoss` naming the epoch and step.

    ``scheme`` (several outputs): ``"joint"`` trains all outputs together; ``"sequential"`` (deflation)
    builds one tower per output (``towers=True``) and trains output 0 alone, then output 1 with output 0
    frozen and in the independence penalty, and so on, ``steps`` optimizer steps each (a fresh optimizer
    and schedule per output); it returns the last output's ``History`` with ``stage_histories`` (one per
    output) attached.

    ``validation`` (a fraction, e.g. 0.2) holds out that fraction of the members of every training group
    (seeded), evaluates the objective on them every Keras epoch (``val_loss``; no constants needed) and ends
    with the weights of the epoch where it was lowest (``keras.callbacks.EarlyStopping`` with
    ``restore_best_weights``, never stopping early): on noisy data the network otherwise goes on fitting
    the noise of its training members (docs/conservnet_recipe.md, noise). Epochs are then
    ``steps_per_epoch`` steps (default 100, or ``steps`` if fewer), the resolution of the choice.

    ``objective="ratio"`` (a model argument, see :class:`~conserve_tf.model.ConservNet`) needs at least two
    groups per step; when the recipe chose it (no ``objective`` given) and a step has one group (one
    trajectory), the recipe's ``"one_group_objective"`` trains instead (for "fast": the noise-variance
    loss). Whichever objective trains, its ``"objective_settings"`` in the recipe replace the settings not
    given explicitly (for "fast", the NV loss: Mish, learning rate 2e-3). ``decorrelate`` (default: for the ratio
    objective with the joint scheme) ends the training with ``model.decorrelate_outputs(train)``:
    uncorrelated outputs, the most invariant first.

    ``weight_decay`` (default: the recipe's, or its objective's): the decoupled weight decay of AdamW, each step
    shrinking every weight by ``learning rate * weight_decay`` of itself; 0 trains with plain Adam ("fast": 0.1
    with the ratio objective, 0 with the NV loss; "paper": 0).

    ``restarts`` (default: the recipe's, 1 for "fast", 0 for "paper"): after the training, the verdict of
    :func:`~conserve_tf.verdict.fitted_verdict` on the training groups (on the held-out members with
    ``validation``) decides whether the run found anything; a run that found nothing (stuck on a trivial or
    plateau solution) is trained again from a fresh start, attempt k with seed ``seed + RESTART_SEED_STEP * k``,
    up to ``restarts`` more times. The first attempt that finds an invariant is returned, else the one whose
    within-group spread is lowest against the shuffled-group baseline. ``history.attempts`` lists every
    attempt's seed, ``found``, ``ratio`` (that spread ratio, 1 = no better than chance) and seconds (one entry
    without a verdict when nothing was judged: ``restarts=0``, a given ``model``, or the sequential scheme).
    The ``callbacks`` given see every attempt's epochs, one attempt after another. With ``backup_dir``,
    attempt k > 0 backs up to ``backup_dir/restart_k``. Judged on the training groups, a network that
    memorised its training members (flat on them, not between them) counts as found: check held-out members
    (``evaluate_invariant(model, test)``, the script's verdict) or train with ``validation`` (docs/symbolic.md,
    the double pendulum: 1 of 8 runs).
    """
    if scheme not in ("joint", "sequential"):
        raise ValueError(f"scheme must be 'joint' or 'sequential', got {scheme!r}")
    require_grouped(train, "fit_conservnet's train")
    if eval_every and test is None:
        raise ValueError(f"eval_every={eval_every} evaluates on held-out groups: pass test as well")
    if test is not None:
        require_grouped(test, "fit_conservnet's test")  # one group: a trajectory (trajectory_verdict)
        if test.n_features != train.n_features:
            raise ValueError(f"train has {train.n_features} features but test has {test.n_features}")
    scaling, recipe_kwargs = recipe_settings(recipe, scaling, **model_kwargs)
    r = RECIPES[recipe]
    per = r["groups_per_step"] if groups_per_step == -1 else groups_per_step
    per = train.n_groups if per is None else int(per)
    if model is None:
        model_kwargs, learning_rate, objective = _objective_settings(r, per, recipe_kwargs, set(model_kwargs),
                                                                     learning_rate)
    else:
        objective = model.objective
    if weight_decay is None:
        weight_decay = _own_settings(r, objective).get("weight_decay", r.get("weight_decay", 0.0))
    if isinstance(weight_decay, bool) or not (np.isfinite(float(weight_decay)) and float(weight_decay) >= 0):
        raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    weight_decay = float(weight_decay)
    restarts = _restarts(r, restarts, model, scheme)
    if scheme == "sequential":
        return _fit_sequential(train, test, steps=steps, recipe=recipe, learning_rate=learning_rate,
                               groups_per_step=groups_per_step, scaling=scaling, eval_every=eval_every,
                               steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
                               jit_compile=jit_compile, model=model, seed=seed, strategy=strategy,
                               backup_dir=backup_dir, decorrelate=decorrelate, validation=validation,
                               weight_decay=weight_decay, **model_kwargs)
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    lr = r["learning_rate"] if learning_rate is None else float(learning_rate)
    if not lr > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    final = lr * r["final_learning_rate"] / r["learning_rate"]
    if per < objective.min_groups:
        raise ValueError(f"objective={objective.name!r} compares the variance within groups with the variance "
                         f"between them, so every step needs at least {objective.min_groups} groups; got "
                         f"groups_per_step={per} (recipe {recipe!r})")
    val = None
    if validation:
        train, val = _validation_split(train, validation, seed)
        steps_per_epoch = steps_per_epoch or min(100, int(steps))
    steps_per_epoch = -(-train.n_groups // per) if steps_per_epoch is None else int(steps_per_epoch)
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    epochs = max(1, -(-int(steps) // steps_per_epoch))
    strategy = strategy or tf.distribute.get_strategy()
    attempts, best = [], None
    for k in range(restarts + 1):
        attempt_seed = seed + RESTART_SEED_STEP * k
        backup = backup_dir if backup_dir is None or k == 0 else os.path.join(backup_dir, f"restart_{k}")
        start = time.perf_counter()
        fitted, history = _fit_once(train, val, test, model, scaling, model_kwargs, r, lr, final, per, epochs,
                                    steps_per_epoch, callbacks, verbose, jit_compile, attempt_seed, strategy,
                                    backup, eval_every, decorrelate, weight_decay)
        entry = {"seed": attempt_seed, "found": None, "ratio": None, "seconds": time.perf_counter() - start}
        if restarts:
            verdict = fitted_verdict(fitted, train if val is None else val, seed=attempt_seed)
            entry.update(found=verdict.found, ratio=verdict.ratio)
        attempts.append(entry)
        if best is None or entry["found"] or _better(entry, attempts[best[2]]):
            best = (fitted, history, k)
        if entry["found"] or not restarts:
            break
    model, history, _ = best
    history.attempts = attempts
    if restarts and not any(a["found"] for a in attempts):
        ratio = attempts[best[2]]["ratio"]
        warnings.warn(f"fit_conservnet found no invariant in {len(attempts)} attempt(s): the best output's spread "
                      f"within the training groups is {ratio:.3g} of the shuffled-group baseline. The returned model "
                      f"is that attempt's; check the data's units and offsets (scaling='standardize') or give more "
                      f"steps", stacklevel=2)
    return model, history


#: seed offset between restarts (attempt k trains with seed + RESTART_SEED_STEP * k), far from the small seeds
#: users and the benchmarks pick, so a restart does not repeat another run's initialisation
RESTART_SEED_STEP = 100_003


def _restarts(r, restarts, model, scheme) -> int:
    """The number of restarts: the recipe's unless given; none for a given model or the sequential scheme."""
    if restarts is None:
        return 0 if model is not None or scheme == "sequential" else int(r.get("restarts", 0))
    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 0:
        raise ValueError(f"restarts must be a whole number >= 0, got {restarts!r}")
    if restarts and model is not None:
        raise ValueError("restarts train fresh networks, so they cannot continue a given model; pass restarts=0")
    if restarts and scheme == "sequential":
        raise ValueError("restarts are not supported with scheme='sequential'; pass restarts=0")
    return int(restarts)


def _better(entry, other) -> bool:
    """Is attempt ``entry`` (no invariant found) closer to one than ``other``: a lower spread ratio?"""
    return other["ratio"] is None or (entry["ratio"] is not None and entry["ratio"] < other["ratio"])


def _fit_once(train, val, test, model, scaling, model_kwargs, r, lr, final, per, epochs, steps_per_epoch,
              callbacks, verbose, jit_compile, seed, strategy, backup_dir, eval_every, decorrelate, weight_decay):
    """One training of :func:`fit_conservnet` (settings already resolved): ``(model, history)``."""
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        if model is None:
            model = build_conservnet(train, scaling=scaling, seed=seed, **model_kwargs)
        schedule = _schedule(r, lr, final, epochs * steps_per_epoch)
        optimizer = (keras.optimizers.AdamW(schedule, weight_decay=weight_decay) if weight_decay > 0 else
                     keras.optimizers.Adam(schedule))
        model.compile(optimizer=optimizer, jit_compile=jit_compile)
    _check_logged_inputs(model, test)
    cbs = standard_callbacks(backup_dir) + list(callbacks)
    if eval_every and test is not None:
        cbs.insert(0, InvariantMetrics(test, every=eval_every))
    if val is not None:
        cbs.insert(0, keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=epochs,
                                                    restore_best_weights=True))
    history = model.fit(as_dataset(train, per, seed=seed).repeat(), epochs=epochs, steps_per_epoch=steps_per_epoch,
                        verbose=verbose, callbacks=cbs, shuffle=False,
                        validation_data=None if val is None else as_dataset(val, None, shuffle=False))
    if decorrelate if decorrelate is not None else (model.objective.mixing_invariant and model.stage is None):
        try:
            model.decorrelate_outputs(train)
        except ValueError as err:  # a collapsed or non-finite output: keep the trained model as it is, and say so
            warnings.warn(f"the trained outputs were left as they are, not decorrelated: {err}", stacklevel=3)
    return model, history


def _own_settings(r, objective) -> dict:
    """The settings recipe ``r`` gives ``objective`` of its own (``"objective_settings"``; empty when none)."""
    return r.get("objective_settings", {}).get(objective.name, {})


def _objective_settings(r, per, model_kwargs, given, learning_rate):
    """``(model kwargs, learning rate, objective)`` of recipe ``r`` once its objective is settled: the recipe's
    ``one_group_objective`` when ``per`` groups a step are too few for its own and none was ``given``, then
    that objective's ``objective_settings`` for every setting not ``given`` (the learning rate if None)."""
    objective = losses.get(model_kwargs.get("objective", "nv"))
    if "objective" not in given and per < objective.min_groups and r.get("one_group_objective"):
        model_kwargs = {**model_kwargs, "objective": r["one_group_objective"]}
        objective = losses.get(model_kwargs["objective"])
    own = _own_settings(r, objective)
    if own:
        model_kwargs = {**model_kwargs, **{k: v for k, v in own["model"].items() if k not in given}}
        learning_rate = own["learning_rate"] if learning_rate is None else learning_rate
    return model_kwargs, learning_rate, objective


def _check_logged_inputs(model, data):
    """A clear error before training when ``data`` has a value <= 0 in a feature the model enters as its log."""
    if data is None or not model.log_inputs:
        return
    bad = [data.feature_names[i] for i in model.nonpositive_log_inputs(data.x)]
    if bad:
        raise ValueError(f"the model enters feature(s) {bad} as their logarithm (scaling='auto': positive and "
                         f"spanning more than a decade in the training data), but the test data have values <= 0 "
                         f"there; train with scaling='factors' (--scaling=factors) to keep them linear")


def _validation_split(train, fraction, seed):
    """(fit part, validation part) of ``train``: ``fraction`` of every group's members held out (seeded)."""
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation must be a fraction in (0, 1) of every group's members, got {fraction}")
    m = train.n_members
    held = m - int(round((1.0 - fraction) * m))
    if held < 2 or m - held < 2:
        raise ValueError(f"validation={fraction} holds out {held} of the {m} members of every group; the fitted and "
                         f"the held-out part both need at least two members per group")
    return train.split_within(1.0 - fraction, seed=seed + 7919)


def _schedule(r, lr, final, total):
    """The learning rate of recipe ``r`` (its ``schedule``, one of :data:`SCHEDULES`) peaking at ``lr`` over
    ``total`` optimizer steps."""
    if r["schedule"] not in SCHEDULES:
        raise ValueError(f"recipe schedule must be one of {SCHEDULES}, got {r['schedule']!r}")
    if r["schedule"] == "constant" or final == lr:
        return lr
    if r["schedule"] == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, decay_steps=total, alpha=final / lr)
    return HoldThenCosine(lr, total, int(r["decay_fraction"] * total), final, r["warmup_steps"])


def _fit_sequential(train, test, model=None, seed=0, scaling="auto", strategy=None, backup_dir=None,
                    decorrelate=None, **kwargs):
    """The deflation scheme of :func:`fit_conservnet` (``scheme="sequential"``)."""
    fit_keys = ("steps", "recipe", "learning_rate", "groups_per_step", "eval_every", "steps_per_epoch", "callbacks",
                "verbose", "jit_compile", "validation", "weight_decay")
    fit_kwargs = {key: kwargs.pop(key) for key in fit_keys if key in kwargs}
    strategy = strategy or tf.distribute.get_strategy()
    if model is None:
        kwargs["towers"] = True
        with strategy.scope():
            model = build_conservnet(train, scaling=scaling, seed=seed, **kwargs)
    elif kwargs:
        raise ValueError(f"model arguments {sorted(kwargs)} cannot be applied to a given model")
    histories = []
    for j in range(model.outputs):
        model.set_stage(j)
        backup = None if backup_dir is None else f"{backup_dir}/output_{j}"
        _, history = fit_conservnet(train, test, model=model, seed=seed + j, strategy=strategy, backup_dir=backup,
                                    decorrelate=False, **fit_kwargs)
        histories.append(history)
    model.set_stage(None)
    if decorrelate:  # off by default: it mixes the outputs, so the first j no longer come from towers 0..j-1
        model.decorrelate_outputs(train)
    history.stage_histories = histories
    return model, history
