"""The library's public functions refuse careless input by name, before any training (a helper audit's cases)."""

import numpy as np
import pytest

import lagrangian
from conserve_tf import (ConservNet, GroupedData, InvariantMetrics, as_dataset, count_invariants,
                         evaluate_invariant, fit_conservnet, invariant_verdict, make_system)
from conserve_tf.groups import GroupedDataError
from conserve_tf.symbolic import conserved_formula, polynomial_readout, symbol_names
from siamese import SiameseNetwork, special_relativity, train_siamese
from siamese.interpret import readout


@pytest.fixture(scope="module")
def s1():
    return make_system("s1", 6, 10, seed=0)


@pytest.fixture(scope="module")
def model(s1):
    return ConservNet(width=8, depth=1, scale=[1.0] * 4, seed=0)


def _never(*args, **kwargs):
    raise AssertionError("trained although the input was refused")


@pytest.mark.parametrize("call", [
    lambda d, m: fit_conservnet(d.x),
    lambda d, m: evaluate_invariant(m, d.x),
    lambda d, m: invariant_verdict(m, d.x),
    lambda d, m: as_dataset(d.x),
    lambda d, m: InvariantMetrics(d.x),
    lambda d, m: count_invariants(d.x, d, fit=_never),
])
def test_arrays_where_grouped_data_is_needed_are_named(s1, model, call):
    with pytest.raises(TypeError, match="needs GroupedData .* got ndarray"):
        call(s1, model)


@pytest.mark.parametrize("call", [
    lambda d, m: count_invariants(d, d.select_groups([0]), fit=_never),
    lambda d, m: invariant_verdict(m, d.select_groups([0])),
])
def test_one_held_out_group_is_refused_where_groups_are_compared(s1, model, call):
    """One group has no between-group spread: every output has spread 1 by construction, so the count would be 0.
    (A single trajectory still trains and is evaluated: its verdict is trajectory_verdict's.)"""
    with pytest.raises(GroupedDataError, match="at least 2 groups, got 1"):
        call(s1, model)


def test_constants_and_outputs_that_do_not_exist_are_named(s1, model):
    with pytest.raises(GroupedDataError, match=r"constant 2 does not exist: this data has 1 constant\(s\) \['C'\]"):
        s1.constants(2)
    with pytest.raises(GroupedDataError, match="constant 2 does not exist"):
        evaluate_invariant(model, s1, constant=2)
    with pytest.raises(GroupedDataError, match="constant 5 does not exist"):
        InvariantMetrics(s1, constant=5)
    with pytest.raises(ValueError, match=r"output 3 does not exist: the model has 1 output\(s\)"):
        evaluate_invariant(model, s1, output=3)
    assert np.array_equal(s1.constants("C"), s1.constants(0))


def test_counting_checks_its_thresholds_before_training(s1):
    with pytest.raises(ValueError, match="spread_threshold must lie in"):
        count_invariants(s1, s1, fit=_never, spread_threshold=20)
    with pytest.raises(ValueError, match="jacobian_samples must be an integer >= 1"):
        count_invariants(s1, s1, fit=_never, jacobian_samples=0)
    with pytest.raises(ValueError, match="k_max must be an integer"):
        count_invariants(s1, s1, fit=_never, k_max=2.5)


def test_a_constant_target_has_no_formula(s1):
    """Before, every degree scored R² = 1 and the formula read "0 x1 + 0 x2 + ...": a collapsed network looked perfect."""
    x = s1.flat()
    with pytest.raises(ValueError, match="target is constant"):
        polynomial_readout(x, np.full(len(x), 3.0))
    with pytest.raises(ValueError, match="at least 3 training samples"):
        polynomial_readout(x[:1], np.ones(1))
    with pytest.raises(ValueError, match="give both x_test and y_test"):
        polynomial_readout(x, x[:, 0], x, None)


def test_feature_names_become_identifiers_in_formulas(s1):
    assert symbol_names(["v (m/s)", "x 1", "2nd", "lambda", "a", "a", ""], 7) == [
        "v_m_s", "x_1", "x3_2nd", "x4_lambda", "a", "a_6", "x7"]
    names = ["x 1", "x2", "x3", "x4"]
    res = polynomial_readout(s1.flat(), s1.flat_constants(), degrees=(2,), feature_names=names)
    assert "x_1" in res.formula and "x*1" not in res.formula
    found = conserved_formula(s1.x, feature_names=names, time_budget=2, seed=0)
    assert "x 1" not in str(found.formula)
    with pytest.raises(ValueError, match="3 feature names for 4 features"):
        symbol_names(["a", "b", "c"], 4)


def test_siamese_refuses_a_negative_learning_rate_and_arrays():
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        train_siamese(special_relativity(20), learning_rate=-1.0)
    model = SiameseNetwork(n_features=4, hidden=(4,))
    with pytest.raises(TypeError, match="needs GroupedData"):
        readout(model, special_relativity(20).x)
    with pytest.raises(ValueError, match="max_samples must be None or >= 3"):
        readout(model, special_relativity(20), max_samples=0)


def test_learning_rate_schedules_never_climb():
    with pytest.raises(ValueError, match=r"final_learning_rate \(0.01\) must not exceed learning_rate"):
        lagrangian.train_model("kepler", "R", epochs=1, steps_per_epoch=1, learning_rate=1e-3,
                               final_learning_rate=1e-2)
    from siamese.training import compile_siamese

    model = compile_siamese(SiameseNetwork(n_features=4, hidden=(4,)), "cosine", learning_rate=1e-6,
                            total_steps=100)  # below the recipe's final rate of 1e-5
    schedule = model.optimizer._learning_rate  # the schedule itself (learning_rate is its current value)
    rates = [float(schedule(step)) for step in range(0, 101, 10)]
    assert rates[0] == pytest.approx(1e-6) and max(rates) <= 1e-6 * (1 + 1e-6) and rates[-1] < rates[0]


def test_hidden_widths_and_grouped_outputs_are_named():
    assert SiameseNetwork(n_features=4, hidden=8).hidden == [8]  # one integer: one layer
    for bad in ("16", (8, 2.5), None):
        with pytest.raises(ValueError, match="hidden"):
            SiameseNetwork(n_features=4, hidden=bad)
    from conserve_tf.metrics import relative_spread

    assert relative_spread(np.ones((3, 4, 1)) * np.arange(3)[:, None, None]) == 0.0
    for bad in (np.arange(10.0), np.ones((3, 4, 2))):
        with pytest.raises(ValueError, match="relative_spread needs grouped outputs"):
            relative_spread(bad)


def test_rollouts_need_a_positive_time_step_and_span():
    system = lagrangian.get_system("kepler")
    model = lagrangian.build_model(system, "R", hidden_units=8)
    for dt, t_final in ((-0.01, 1.0), (0.0, 1.0), (0.01, -1.0)):
        with pytest.raises(ValueError, match="dt > 0 and t_final > 0"):
            lagrangian.rollout(model, system, t_final=t_final, dt=dt, jit_compile=False)
    with pytest.raises(ValueError, match="shorter than one record"):
        lagrangian.rollout(model, system, t_final=0.05, dt=0.01, every=10, jit_compile=False)
    with pytest.raises(ValueError, match="time step dt must be > 0"):
        lagrangian.RK4Integrator(model, jit_compile=False).integrate(system.initial_state()[None], -0.01, 5)


def test_grouped_data_made_by_hand_is_accepted_where_arrays_are_refused():
    x = np.random.default_rng(0).normal(size=(3, 5, 2))
    data = GroupedData(x, np.arange(3.0))
    assert evaluate_invariant(ConservNet(width=4, depth=1, scale=[1.0, 1.0]), data)["relative_spread"] > 0


@pytest.mark.parametrize("seed", [1.5, -1, "0", True])
def test_seeds_must_be_non_negative_integers(seed):
    from lagrangian.training import train_model

    for call in (lambda: make_system("s1", 4, 5, seed=seed), lambda: special_relativity(10, seed=seed),
                 lambda: train_siamese(special_relativity(20), seed=seed),
                 lambda: train_model("kepler", "R", epochs=1, steps_per_epoch=1, seed=seed)):
        with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got"):
            call()


def test_inconsistent_pairs_and_unbound_orbits_are_refused():
    from lagrangian.systems import Kepler
    from siamese.pairs import PairSet

    with pytest.raises(ValueError, match=r"x \(N, 2, F\), y \(N,\) and group \(N, 2\) for one N"):
        PairSet(np.zeros((10, 2, 4)), np.zeros(7), np.zeros((3, 2)))
    for kwargs in (dict(eccentricity=1.0), dict(l_z=0.0), dict(mass=-1.0)):
        with pytest.raises(ValueError, match="a bound Kepler orbit needs"):
            Kepler(**kwargs)


def test_fit_conservnet_warns_when_no_attempt_found_an_invariant():
    """Groups of pure noise hold no invariant: the library says so instead of returning a useless model silently."""
    rng = np.random.default_rng(0)
    noise = GroupedData(rng.normal(size=(6, 10, 3)), rng.normal(size=6))
    with pytest.warns(UserWarning, match=r"found no invariant in 2 attempt\(s\)"):
        model, history = fit_conservnet(noise, steps=20, width=8, depth=1, restarts=1, verbose=0)
    assert [a["found"] for a in history.attempts] == [False, False]


def test_options_that_were_silently_truncated_or_ignored_are_named(s1):
    x = s1.flat()
    with pytest.raises(ValueError, match=r"degrees must be positive integers, got \[2.5\]"):
        polynomial_readout(x, s1.flat_constants(), degrees=(2.5,))
    assert polynomial_readout(x, s1.flat_constants(), degrees=2).degree == 2  # one degree as a number
    with pytest.raises(ValueError, match="max_terms must be >= 1"):
        polynomial_readout(x, s1.flat_constants(), max_terms=0)
    with pytest.raises(ValueError, match="groups_per_step must be an integer or None, got 2.7"):
        as_dataset(s1, groups_per_step=2.7)
    with pytest.raises(ValueError, match="eval_every=1 evaluates on held-out groups: pass test"):
        fit_conservnet(s1, eval_every=1)
    ids = np.repeat(np.arange(6.0), 10)
    ids[7] = np.nan
    with pytest.raises(GroupedDataError, match="group_ids hold NaN or Inf \\(first at sample 7\\)"):
        GroupedData.from_flat(x, ids)


def test_outputs_that_cannot_be_decorrelated_keep_the_trained_model(s1):
    """Before, a singular output covariance raised after the whole training, and the trained model was lost."""
    model = ConservNet(width=4, depth=1, outputs=2, scale=[1.0] * s1.n_features, objective="variance")
    for w in model.trainable_weights:  # zero kernels and biases: both outputs are exactly 0, and stay so
        w.assign(np.zeros(w.shape, w.dtype))
    with pytest.warns(UserWarning, match="not decorrelated: the outputs' covariance is singular"):
        fitted, history = fit_conservnet(s1, steps=2, model=model, restarts=0, decorrelate=True, verbose=0)
    assert fitted is model and len(history.history["loss"]) >= 1


def test_a_single_trajectory_still_trains_and_is_evaluated(s1):
    """One group (a trajectory): the NV objective trains it and the held-out metrics run; only the between-group
    comparisons (the count, invariant_verdict) refuse it."""
    one = s1.select_groups([0])
    model, history = fit_conservnet(one, one, steps=3, eval_every=1, width=4, depth=1, verbose=0)
    assert "val_relative_spread" in history.history
    assert evaluate_invariant(model, one)["relative_spread"] == pytest.approx(1.0)


def test_integrating_states_of_the_wrong_width_is_named_before_tracing():
    system = lagrangian.get_system("kepler")
    model = lagrangian.build_model(system, "R", hidden_units=8)
    with pytest.raises(ValueError, match=r"takes states \(batch, 6\).*got initial states of shape \(1, 4\)"):
        lagrangian.RK4Integrator(model, jit_compile=False).integrate(np.zeros((1, 4)) + 1.0, 0.01, 5)
