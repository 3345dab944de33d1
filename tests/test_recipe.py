"""The default ConservNet recipe ("fast") and the published one ("paper"): what each sets, the learning-rate
schedule, and a short S1 run reaching the invariant with the defaults."""

import numpy as np
import pytest

from conserve_tf import fit_conservnet, make_system
from conserve_tf.groups import GroupedData
from conserve_tf.training import RECIPES, HoldThenCosine, build_conservnet, recipe_settings


def _toy(seed=0):
    """Three features on scales 1000, 1 and 0.01 around offsets 50, -3, 0; C = x1/1000 + x2."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(6, 20, 3)) * np.array([1000.0, 1.0, 0.01]) + np.array([50.0, -3.0, 0.0])
    return GroupedData(x, c=np.arange(6.0), name="toy")


def _built(data, recipe="fast", **kwargs):
    scaling, model_kwargs = recipe_settings(recipe, **kwargs)
    return build_conservnet(data, scaling=scaling, **model_kwargs)


def test_fast_recipe_brings_user_data_to_order_one_and_uses_the_ratio_objective():
    data = _toy()
    model = _built(data)
    std, mean = data.flat().std(axis=0), data.flat().mean(axis=0)
    # x1 (std 1000) and x3 (std 0.01) standardized, x2 (mean -3, std 1) centred; x1's offset 50 is within 2 std
    np.testing.assert_allclose(model.scale, [1 / std[0], 1.0, 1 / std[2]], rtol=1e-6)
    np.testing.assert_allclose(model.offset, [0.0, mean[1], 0.0], rtol=1e-6)
    assert _built(data, "paper").scale == [0.1, 1.0, 1.0] and _built(data, "paper").offset is None  # the paper's rule
    assert (model.objective.name, model.width, model.depth, model.activation) == ("ratio", 128, 3, "tanh")
    lv = make_system("lotka_volterra", 3, 50, seed=0)
    assert (_built(lv).scale, _built(lv).log_inputs) == ([1.0, 1.0], [0, 1])  # populations spanning decades: logs
    assert (_built(lv, "paper").scale, _built(lv, "paper").log_inputs) == ([0.1, 0.1], [])  # the system's factors
    assert _built(_toy(), scaling="standardize").offset is not None


def test_paper_recipe_keeps_the_published_settings_and_explicit_arguments_win():
    model = _built(_toy(), "paper", width=8)
    nv = model.objective
    assert (nv.name, nv.spread, nv.radial, model.width, model.depth) == ("nv", "var", "uniform", 8, 4)
    model = _built(_toy(), objective="nv", r=0.3, q=0.3, width=8, depth=1)
    assert (model.objective.name, model.objective.r, model.objective.radial) == ("nv", 0.3, "volume")
    with pytest.raises(ValueError, match="apply to the nv objective only"):
        _built(_toy(), r=0.3)  # the default recipe's objective has no noise radius
    with pytest.raises(ValueError, match="recipe must be one of"):
        recipe_settings("slow")


def test_script_defaults_are_the_recipes():
    """``python -m conserve_tf.train`` with no flag trains DEFAULT_STEPS steps; network flags left unset."""
    from absl import flags

    from conserve_tf import train as script
    from conserve_tf.training import DEFAULT_STEPS

    before = set(flags.FLAGS)
    script.define_flags()
    try:
        flags.FLAGS(["conserve_tf.train"])
        assert flags.FLAGS.epochs == DEFAULT_STEPS
        assert [getattr(flags.FLAGS, k) for k in ("width", "depth", "activation", "objective", "weight_decay")] == [None] * 5
    finally:
        for name in set(flags.FLAGS) - before:
            delattr(flags.FLAGS, name)


def test_hold_then_cosine_holds_the_peak_then_decays_to_the_final_rate():
    s = HoldThenCosine(1e-3, total_steps=100, decay_steps=30, final=1e-5, warmup_steps=10)
    lr = np.array([float(s(i)) for i in (0, 9, 10, 69, 70, 85, 100, 150)])
    np.testing.assert_allclose(lr, [1e-4, 1e-3, 1e-3, 1e-3, 1e-3, (1e-3 + 1e-5) / 2, 1e-5, 1e-5], rtol=1e-5)
    assert RECIPES["fast"]["schedule"] == "hold_cosine"


@pytest.mark.slow  # 11-15 s on the shared 2-core machine, most of it Keras tracing
def test_short_s1_run_with_the_defaults_finds_the_invariant():
    train, test = make_system("s1", 20, 200, seed=0).split_within(0.5, seed=0)
    model, _ = fit_conservnet(train, steps=120, width=64, depth=2, seed=0)
    f = np.asarray(model(test.x.astype(np.float32)))[..., 0]
    rho = abs(np.corrcoef(f.ravel(), np.repeat(test.c, test.n_members))[0, 1])
    assert rho >= 0.95, rho


def _weights_recorder():
    """A Keras callback recording val_loss and the weights at the end of every epoch."""
    import keras

    class Recorder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.val, self.weights = [], []

        def on_epoch_end(self, epoch, logs=None):
            self.val.append(logs["val_loss"])
            self.weights.append([w.copy() for w in self.model.get_weights()])

    return Recorder()


@pytest.mark.slow  # about 2 s, most of it Keras tracing
def test_validation_keeps_the_weights_of_the_lowest_held_out_objective():
    train = make_system("s1", 6, 20, seed=0).with_noise(0.3, seed=1)
    rec = _weights_recorder()
    model, history = fit_conservnet(train, steps=80, width=16, depth=1, validation=0.25, steps_per_epoch=10,
                                    callbacks=[rec], seed=0, decorrelate=False, restarts=0)
    assert len(history.history["val_loss"]) == 8 and rec.val == history.history["val_loss"]
    best = int(np.argmin(rec.val))
    assert best < 7, rec.val  # on these noisy data the held-out objective turns up before the end
    for got, want in zip(model.get_weights(), rec.weights[best]):
        np.testing.assert_array_equal(got, want)
    assert model.optimizer.iterations.numpy() == 80  # never stops early
    short, history = fit_conservnet(train, steps=30, width=8, depth=1, validation=0.25, seed=0)
    assert short.optimizer.iterations.numpy() == 30 and len(history.history["val_loss"]) == 1


@pytest.mark.parametrize("fraction", [-0.2, 1.0, 0.95])
def test_validation_fraction_is_checked(fraction):
    with pytest.raises(ValueError, match="validation"):
        fit_conservnet(make_system("s1", 4, 10, seed=0), steps=1, validation=fraction)


def test_one_group_falls_back_to_the_nv_objective_with_mish_and_explicit_choices_win():
    x = np.random.default_rng(0).normal(size=(1, 30, 3))
    one = GroupedData(x, name="trajectory")
    model, _ = fit_conservnet(one, steps=2, width=8, depth=1)
    assert model.objective.name == "nv" and model.activation == "mish"
    assert model.optimizer._learning_rate.peak == pytest.approx(2e-3)  # the schedule; the NV loss's own settings
    model, _ = fit_conservnet(one, steps=2, width=8, depth=1, activation="tanh", learning_rate=4e-3)
    assert model.objective.name == "nv" and model.activation == "tanh"
    assert model.optimizer._learning_rate.peak == pytest.approx(4e-3)
    with pytest.raises(ValueError, match="at least 2 groups"):
        fit_conservnet(one, steps=2, width=8, depth=1, objective="ratio")  # asked for: an error, not a switch


def test_the_nv_objective_brings_its_own_settings_on_grouped_data_and_explicit_choices_win():
    train = make_system("s1", 4, 10, seed=0)
    ratio, _ = fit_conservnet(train, steps=2, width=8, depth=1)
    assert ratio.objective.name == "ratio" and ratio.activation == "tanh"
    assert ratio.optimizer._learning_rate.peak == pytest.approx(RECIPES["fast"]["learning_rate"])
    nv, _ = fit_conservnet(train, steps=2, width=8, depth=1, objective="nv", q=2.0)
    assert nv.objective.name == "nv" and nv.objective.q == 2.0 and nv.activation == "mish"
    assert nv.optimizer._learning_rate.peak == pytest.approx(2e-3)
    mine, _ = fit_conservnet(train, steps=2, width=8, depth=1, objective="nv", activation="tanh", learning_rate=3e-3)
    assert mine.activation == "tanh" and mine.optimizer._learning_rate.peak == pytest.approx(3e-3)
    paper, _ = fit_conservnet(train, steps=2, width=8, depth=1, recipe="paper")
    assert paper.activation == "mish" and float(paper.optimizer.learning_rate) == pytest.approx(5e-5)


def test_weight_decay_is_the_ratio_objectives_and_explicit_values_win():
    """The fast recipe trains the ratio objective with AdamW's decoupled weight decay (round 14), the NV loss and
    the paper recipe with plain Adam; a given weight_decay wins, 0 meaning plain Adam."""
    import keras

    train = make_system("s1", 4, 10, seed=0)

    def decay(**kwargs):
        model, _ = fit_conservnet(train, steps=2, width=8, depth=1, restarts=0, **kwargs)
        opt = model.optimizer
        return float(opt.weight_decay) if isinstance(opt, keras.optimizers.AdamW) else None

    assert decay() == pytest.approx(RECIPES["fast"]["weight_decay"]) == pytest.approx(0.1)
    assert decay(objective="nv") is None and decay(recipe="paper") is None
    assert decay(weight_decay=0.0) is None and decay(objective="nv", weight_decay=0.05) == pytest.approx(0.05)
    for bad in (-0.1, float("nan"), True):
        with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
            fit_conservnet(train, steps=2, width=8, depth=1, weight_decay=bad)


def test_a_run_that_finds_nothing_is_restarted_from_fresh_starts_and_the_flattest_kept():
    """Random groups: no attempt finds an invariant, each restart is a fresh start with its own seed, and the
    model returned is the attempt whose training groups are flattest against the shuffled baseline."""
    from conserve_tf.training import RESTART_SEED_STEP
    from conserve_tf.verdict import fitted_verdict

    data = make_system("random", 6, 20, seed=0)
    model, history = fit_conservnet(data, steps=20, width=8, depth=1, seed=3, restarts=2)
    attempts = history.attempts
    assert [a["seed"] for a in attempts] == [3, 3 + RESTART_SEED_STEP, 3 + 2 * RESTART_SEED_STEP]
    assert [a["found"] for a in attempts] == [False, False, False]
    best = min(attempts, key=lambda a: a["ratio"])
    assert fitted_verdict(model, data, seed=best["seed"]).ratio == pytest.approx(best["ratio"])
    alone, _ = fit_conservnet(data, steps=20, width=8, depth=1, seed=3 + RESTART_SEED_STEP, restarts=0)
    assert fitted_verdict(alone, data, seed=3 + RESTART_SEED_STEP).ratio == pytest.approx(attempts[1]["ratio"])


def test_a_run_that_finds_the_invariant_is_not_restarted_and_restarts_default_to_the_recipe():
    train = make_system("s1", 8, 30, seed=0)
    assert (RECIPES["fast"]["restarts"], RECIPES["paper"]["restarts"]) == (1, 0)
    _, history = fit_conservnet(train, steps=150, width=32, depth=2, seed=0)  # the recipe's one restart, unused
    assert len(history.attempts) == 1 and history.attempts[0]["found"] and history.attempts[0]["ratio"] < 0.2
    _, history = fit_conservnet(train, steps=2, width=8, depth=1, restarts=0)
    (only,) = history.attempts  # one attempt, not judged
    assert (only["seed"], only["found"], only["ratio"]) == (0, None, None)
    one = GroupedData(np.random.default_rng(0).normal(size=(1, 30, 3)), name="trajectory")
    _, history = fit_conservnet(one, steps=2, width=8, depth=1, restarts=1)  # one group: the trajectory verdict
    assert len(history.attempts) == 2 and not history.attempts[0]["found"]


@pytest.mark.parametrize("restarts, extra, message", [
    (-1, {}, "restarts must be a whole number >= 0"),
    (1.5, {}, "restarts must be a whole number >= 0"),
    (True, {}, "restarts must be a whole number >= 0"),
    (1, {"scheme": "sequential", "outputs": 2}, "not supported with scheme='sequential'"),
])
def test_bad_restarts_are_clear_errors(restarts, extra, message):
    with pytest.raises(ValueError, match=message):
        fit_conservnet(make_system("s1", 4, 10, seed=0), steps=1, restarts=restarts, **extra)


def test_restarts_cannot_continue_a_given_model():
    train = make_system("s1", 4, 10, seed=0)
    model, _ = fit_conservnet(train, steps=1, width=8, depth=1, restarts=0)
    with pytest.raises(ValueError, match="cannot continue a given model"):
        fit_conservnet(train, steps=1, model=model, restarts=1)
    _, history = fit_conservnet(train, steps=1, model=model)  # the recipe's restart does not apply to it
    assert len(history.attempts) == 1 and history.attempts[0]["found"] is None
