"""The "no invariant found" verdict (Fig. 9 of Ha & Jeong 2021) from held-out grouped outputs."""

import numpy as np
import pytest

from conserve_tf.verdict import invariant_verdict, report_verdict, verdict_from_outputs


def test_outputs_constant_within_groups_are_an_invariant():
    rng = np.random.default_rng(0)
    f = np.linspace(-1, 1, 12)[:, None] + 0.01 * rng.normal(size=(12, 30))
    v = verdict_from_outputs(f)
    assert v.found and v.ratio < 0.1 and v.z < -5
    assert v.message.startswith("invariant found")


def test_a_loose_invariant_is_found_but_called_approximate():
    """Group means spread evenly, members scattered by a fifth of that spread (a ratio near 0.2, where a Siamese
    network stuck on a projection of boosted events sat): found, flagged, and shown with a WARNING."""
    rng = np.random.default_rng(3)
    means = np.linspace(-1, 1, 12)[:, None]
    loose = verdict_from_outputs(means + 0.12 * rng.normal(size=(12, 30)))
    assert loose.found and loose.approximate and 0.1 < loose.ratio < 0.5
    assert "only approximate" in loose.message and loose.as_dict()["approximate"] is True
    shown = []
    report_verdict("F", loose, log=shown.append)
    assert shown[0].startswith("WARNING, F: invariant found, but only approximate")
    tight = verdict_from_outputs(means + 0.01 * rng.normal(size=(12, 30)))
    assert tight.found and not tight.approximate
    report_verdict("F", tight, log=shown.append)
    assert shown[1].startswith("F: invariant found: ")


def test_outputs_unrelated_to_groups_are_not():
    f = np.random.default_rng(1).normal(size=(12, 30))
    v = verdict_from_outputs(f)
    assert not v.found and 0.8 < v.ratio < 1.2
    assert v.message.startswith("no invariant found")


def test_constant_output_is_the_trivial_solution():
    v = verdict_from_outputs(np.full((5, 8), 3.0))
    assert not v.found and "constant" in v.message


def test_overfitting_and_history_are_reported():
    rng = np.random.default_rng(2)
    train = np.arange(10.0)[:, None] + 0.01 * rng.normal(size=(10, 20))
    test = rng.normal(size=(10, 20))
    v = verdict_from_outputs(test, train, test_spread_history=[1.0, 0.99, 0.98])
    assert not v.found and v.train_spread < 0.1
    assert "overfitting" in v.message and v.spread_fell is False and "did not fall" in v.message
    v = verdict_from_outputs(train, test_spread_history=[1.0, 0.5, 0.1])
    assert v.found and v.spread_fell is True


@pytest.mark.parametrize("f, what", [(np.zeros((1, 5)), "at least 2 groups"), (np.zeros(5), "shape"),
                                     (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN")])
def test_bad_outputs_are_clear_errors(f, what):
    with pytest.raises(ValueError, match=what):
        verdict_from_outputs(f)


@pytest.fixture(scope="module")
def trained():
    from conserve_tf import fit_conservnet, make_system

    out = {}
    for name in ("random", "s1"):
        train, test = make_system(name, 10, 50, seed=0), make_system(name, 10, 50, seed=1)
        model, _ = fit_conservnet(train, steps=150, width=32, depth=2, learning_rate=1e-2, seed=0)
        out[name] = (model, train, test)
    return out


@pytest.mark.slow
def test_trained_on_random_data_no_invariant(trained):
    model, train, test = trained["random"]
    v = invariant_verdict(model, test, train)
    assert not v.found, v.message
    assert v.ratio > 0.8


@pytest.mark.slow
def test_trained_on_s1_invariant_found(trained):
    model, train, test = trained["s1"]
    v = invariant_verdict(model, test, train)
    assert v.found, v.message
    assert v.ratio < 0.5


class _Formula:
    """A stand-in for a trained model: predict(x) = fn(x) as a (N, 1) column."""

    def __init__(self, fn):
        self.fn = fn

    def predict(self, x, verbose=0):
        return self.fn(np.asarray(x, np.float64))[:, None]


def test_trajectory_verdict_tells_an_invariant_from_a_coordinate_and_a_constant():
    from conserve_tf.groups import GroupedData
    from conserve_tf.verdict import trajectory_verdict

    t = np.linspace(0.0, 20.0, 400)
    theta, omega = 1.2 * np.cos(t), -1.2 * np.sin(t)  # a harmonic oscillator: E = (θ² + ω²)/2 on the orbit
    orbit = GroupedData(np.column_stack([theta, omega])[None], name="orbit")
    energy = trajectory_verdict(_Formula(lambda x: 0.5 * (x[:, 0] ** 2 + x[:, 1] ** 2)), orbit)
    assert energy.found and energy.ratio < 0.01 and "invariant found" in energy.message
    angle = trajectory_verdict(_Formula(lambda x: x[:, 0]), orbit)
    assert not angle.found and angle.ratio > 0.8
    flat = trajectory_verdict(_Formula(lambda x: np.zeros(len(x))), orbit)
    assert not flat.found and "constant" in flat.message
    with pytest.raises(ValueError, match="n_shuffles"):
        trajectory_verdict(_Formula(lambda x: x[:, 0]), orbit, n_shuffles=1)
