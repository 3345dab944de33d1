"""Several invariants from one training (issue 7): spreads, independence, the count rule, the read-out."""

import numpy as np
import pytest

from conserve_tf import make_system
from conserve_tf.counting import count_invariants, decide_count, plot_count
from conserve_tf.invariants import gradient_independence, invariant_readout, known_invariants, output_spreads
from conserve_tf.kepler import kepler_invariants
from conserve_tf.kepler import laplace_runge_lenz as kepler_lrl


def _grouped(rng, g=12, m=30):
    a = rng.normal(size=(g, 1)) * np.ones((1, m))
    return a, rng.normal(size=(g, m))


def test_spread_is_scale_free_and_separates_invariants_from_noise():
    rng = np.random.default_rng(0)
    a, noise = _grouped(rng)
    f = np.stack([a + 1e-3 * noise, rng.normal(size=a.shape)], axis=-1)
    s = output_spreads(f)
    assert s[0] < 0.01 and s[1] > 0.8
    rescaled = np.stack([1e4 * f[..., 0] - 7.0, 1e-3 * f[..., 1]], axis=-1)
    np.testing.assert_allclose(output_spreads(rescaled), s, rtol=1e-9)
    with pytest.raises(ValueError, match="at least two members"):
        output_spreads(f[:, :1])


def test_gradient_independence_orthogonal_parallel_and_coplanar():
    n = 50
    ortho = np.tile(np.eye(3, 4)[None], (n, 1, 1))
    r = gradient_independence(ortho)
    assert r["cos2"] == pytest.approx(0.0) and r["gram_min"] == pytest.approx(1.0)
    g = np.random.default_rng(1).normal(size=(n, 1, 4))
    r = gradient_independence(np.concatenate([g, -2.5 * g], axis=1))  # F2 a function of F1
    assert r["cos2"] == pytest.approx(1.0) and r["gram_min"] == pytest.approx(0.0, abs=1e-9)
    # three gradients 120 degrees apart in a plane: pairwise cos² only 1/4, yet linearly dependent
    ang = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    plane = np.stack([np.cos(ang), np.sin(ang), 0 * ang, 0 * ang], axis=-1)
    r = gradient_independence(np.tile(plane[None], (n, 1, 1)))
    assert r["cos2"] == pytest.approx(0.25) and r["gram_min"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="samples, outputs, features"):
        gradient_independence(np.ones((3, 4)))


def _row(k, spreads, gram=0.9):
    return {"k": k, "spreads": spreads, "gram_min": gram}


def test_count_rule_on_synthetic_tables():
    one = decide_count([_row(1, [0.02]), _row(2, [0.03, 0.6], 0.8), _row(3, [0.02, 0.5, 0.7], 0.5)])
    assert one.count == 1 and not one.saturated and "count = 1" in one.reasoning[1]
    two = decide_count([_row(1, [0.02]), _row(2, [0.04, 0.05], 0.7), _row(3, [0.03, 0.04, 0.05], 0.01)])
    assert two.count == 2 and "dependent" in two.reasoning[2]
    # a later passing row does not revive the count after a failure
    gap = decide_count([_row(1, [0.02]), _row(2, [0.02, 0.4]), _row(3, [0.02, 0.03, 0.04])])
    assert gap.count == 1
    assert decide_count([_row(1, [0.5])]).count == 0
    sat = decide_count([_row(1, [0.01]), _row(2, [0.01, 0.02])])
    assert sat.count == 2 and sat.saturated and "at least 2" in sat.markdown()
    # the threshold is the judge: the same table with a stricter threshold counts fewer
    assert decide_count([_row(1, [0.02]), _row(2, [0.02, 0.06])], spread_threshold=0.05).count == 1


def test_count_rule_rejects_bad_tables():
    with pytest.raises(ValueError, match="without gaps"):
        decide_count([_row(1, [0.1]), _row(3, [0.1, 0.1, 0.1])])
    with pytest.raises(ValueError, match="2 finite spreads"):
        decide_count([_row(1, [0.1]), _row(2, [0.1])])
    with pytest.raises(ValueError, match="spread_threshold"):
        decide_count([_row(1, [0.1])], spread_threshold=2.0)


def test_count_pipeline_with_exact_functions_on_s1(tmp_path):
    """Plumbing of count_invariants with analytic 'models': C is invariant, x1 is not, 2 C is dependent."""
    import tensorflow as tf

    train, test = make_system("s1", 8, 20, seed=0), make_system("s1", 8, 20, seed=1)

    def c(x):
        return x[:, :1] - 3.0 * x[:, 1:2] * x[:, 2:3] + 0.5 * x[:, 3:4] ** 2

    funcs = {1: lambda x: c(x), 2: lambda x: tf.concat([c(x), x[:, :1]], 1),
             3: lambda x: tf.concat([c(x), 2.0 * c(x) + 1.0, c(x) ** 3], 1)}
    res = count_invariants(train, test, k_max=3, fit=lambda tr, te, k: (None, funcs[k], None), log=None)
    assert res.count == 1
    assert res.rows[0]["worst_spread"] < 1e-5 and res.rows[1]["spreads"][1] > 0.3
    assert res.rows[2]["gram_min"] < 1e-4 and res.rows[2]["worst_spread"] < 1e-5
    assert (tmp_path / "c.png").exists() is False
    plot_count(res, str(tmp_path / "c.png"))
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_lrl_vector_is_constant_along_kepler_orbits():
    data = make_system("kepler", 3, 40, seed=2)
    a = kepler_lrl(data.x)
    assert np.max(np.std(a, axis=1)) < 1e-6
    L, E = kepler_invariants(data.x[:, 0])
    np.testing.assert_allclose(np.linalg.norm(a[:, 0], axis=-1), np.sqrt(1 + 2 * E * L**2), rtol=1e-8)
    inv = known_invariants(data)
    assert set(inv) == {"L", "E", "LRL direction"} and inv["LRL direction"].shape == (120, 2)
    with pytest.raises(ValueError, match="4 features"):
        kepler_lrl(np.ones((5, 3)))


@pytest.mark.slow
def test_readout_names_what_each_output_is_made_of():
    rng = np.random.default_rng(3)

    def draw(n):
        a, b, c = rng.uniform(-1, 1, (3, n))
        f = np.stack([3 * a - 1, a**2 + b, rng.normal(size=n)], axis=1)
        return f, {"a": a, "b": b, "c": c}

    (ftr, itr), (fte, ite) = draw(600), draw(300)
    res = invariant_readout(ftr, itr, fte, ite, degree=2)
    assert res.names() == ["a", "a + b", "none"]
    assert res.r2["a"] > 0.999 and res.r2["b"] > 0.999 and res.r2["c"] < 0.1
    assert "| F2 | a + b |" in res.markdown()
    with pytest.raises(ValueError, match="same non-empty set"):
        invariant_readout(ftr, itr, fte, {"a": ite["a"]})
    with pytest.raises(ValueError, match="same k"):
        invariant_readout(ftr, itr, fte[:, :2], ite)


def _script(capsys, *args):
    """Run conserve_tf.train's main in this process (saves a TensorFlow start-up per call): its flags are
    defined for the call and removed afterwards, so other scripts can define theirs in the same process."""
    from absl import flags

    from conserve_tf import train as script

    before = set(flags.FLAGS)
    script.define_flags()
    try:
        flags.FLAGS(["conserve_tf.train", "--out_dir=", *args])
        capsys.readouterr()
        script.main(["conserve_tf.train"])
        return capsys.readouterr().out
    finally:
        for name in set(flags.FLAGS) - before:
            delattr(flags.FLAGS, name)


@pytest.mark.slow
def test_script_invariants_and_count(tmp_path, capsys):
    out = _script(capsys, "--system=kepler", "--groups=6", "--members=8", "--epochs=3", "--width=8", "--depth=1",
                  "--invariants=2", "--degree=0", "--verbose=0", "--split=group")
    for text in ("F1 test: rho = ", "F2 train: rho = ", "| LRL direction |", "| F2 |"):
        assert text in out
    out = _script(capsys, "--system=kepler", "--groups=6", "--members=8", "--epochs=2", "--width=8", "--depth=1",
                  "--invariants=2", "--degree=0", "--verbose=0", "--scheme=sequential", "--penalty=logdet")
    assert "per output, one output after another" in out and "| F2 |" in out
    out = _script(capsys, "--system=kepler", "--groups=6", "--members=8", "--epochs=3", "--width=8", "--depth=1",
                  "--invariants=2", "--degree=0", "--verbose=0", "--objective=ratio", "--penalty=logdet",
                  "--penalty_samples=16", "--split=group")
    assert "F2 test: rho = " in out and "| F2 |" in out
    plot = tmp_path / "count.png"
    out = _script(capsys, "--system=s1", "--groups=4", "--members=8", "--epochs=2", "--width=8", "--depth=1",
                  "--count", "--max_invariants=2", "--verbose=0", f"--count_plot={plot}")
    assert "| 2 |" in out and "estimated number of independent invariants" in out and plot.exists()


@pytest.mark.slow
def test_benchmark_quick(tmp_path):
    from benchmarks.multi_invariants import benchmark

    out = benchmark(quick=True, out_dir=str(tmp_path), count_systems=("s1", "kepler"))
    assert np.isfinite(list(out["kepler"]["r2"].values())).all() and len(out["kepler"]["made_of"]) == 2
    assert np.isfinite(list(out["kepler_nv"]["r2"].values())).all()
    assert [r["k"] for r in out["count"]["kepler"]["rows"]] == [1, 2]
    assert np.isfinite(list(out["em"]["r2"].values())).all()
    s1 = out["count"]["s1"]  # the count reported is the one its own table of k = 1, 2 implies
    assert len(s1["rows"]) == 2 and s1["count"] == decide_count(s1["rows"]).count
    for name in ("results.md", "results.csv", "readout_kepler.md", "readout_em.md", "count_s1.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_logdet_penalty_is_a_barrier_against_dependence():
    import tensorflow as tf

    from conserve_tf.penalties import gradient_cosine_penalty, gradient_logdet_penalty

    n, ang = 40, 0.7
    ortho = tf.constant(np.tile(np.eye(3, 4)[None], (n, 1, 1)))
    pair = tf.constant(np.tile(np.array([[1.0, 0, 0, 0], [np.cos(ang), np.sin(ang), 0, 0]])[None], (n, 1, 1)))
    parallel = tf.constant(np.tile(np.array([[1.0, 2, 0, 0], [-2.0, -4, 0, 0]])[None], (n, 1, 1)))
    d = 1e-3
    assert float(gradient_logdet_penalty(ortho)) == pytest.approx(0.0, abs=1e-9)
    assert float(gradient_logdet_penalty(pair)) == pytest.approx(-np.log(((1 + d) ** 2 - np.cos(ang) ** 2) /
                                                                         (1 + d) ** 2), rel=1e-6)
    assert float(gradient_logdet_penalty(parallel)) == pytest.approx(-np.log((2 * d + d * d) / (1 + d) ** 2),
                                                                     rel=1e-6)
    # a moderate angle costs about what cos² charges; dependence costs far more than cos²'s ceiling of 1
    assert float(gradient_logdet_penalty(pair)) < 2 * float(gradient_cosine_penalty(pair))
    assert float(gradient_logdet_penalty(parallel)) > 6 * float(gradient_cosine_penalty(parallel))
    assert float(gradient_logdet_penalty(ortho[:, :1])) == 0.0


def _towers_model(data, **kw):
    from conserve_tf import build_conservnet

    return build_conservnet(data, scaling="standardize", width=8, depth=1, outputs=2, towers=True, **kw)


@pytest.mark.slow
def test_stage_training_freezes_earlier_outputs_and_trains_the_current_one():
    from conserve_tf import ConservNet, fit_conservnet

    data = make_system("kepler", 6, 8, seed=0)
    x = data.flat().astype(np.float32)
    model = _towers_model(data, penalty="logdet")
    before = model.predict(x, verbose=0)
    model.set_stage(1)
    assert len(model.trainable_variables) == 4  # tower 1's kernel and bias, two layers
    fit_conservnet(data, model=model, steps=5, learning_rate=1e-2)
    after = model.predict(x, verbose=0)
    np.testing.assert_array_equal(after[:, 0], before[:, 0])
    assert np.max(np.abs(after[:, 1] - before[:, 1])) > 1e-4
    with pytest.raises(ValueError, match="towers=True"):
        ConservNet(outputs=2).set_stage(0)
    with pytest.raises(ValueError, match="stage must lie"):
        model.set_stage(2)


@pytest.mark.slow
def test_stage_penalty_pushes_the_trained_output_away_from_a_frozen_copy():
    """Tower 1 starts as an exact copy of tower 0 (dependent: penalty at its ceiling); training stage 1
    lowers the penalty while output 0 stays put, so the penalty acts against the frozen output."""
    import tensorflow as tf

    from conserve_tf import fit_conservnet

    data = make_system("kepler", 6, 8, seed=0)
    model = _towers_model(data, penalty="logdet", independence=1.0)
    for src, dst in zip(model.tower_layers[0], model.tower_layers[1]):
        dst.set_weights(src.get_weights())
    model.set_stage(1)
    gid = tf.range(data.n_groups)

    def penalty():
        return float(model.loss_terms(tf.constant(data.x, tf.float32), gid, tf.constant(-1, tf.int64))["independence"])

    start = penalty()
    assert start == pytest.approx(-np.log(2e-3), rel=0.05)
    fit_conservnet(data, model=model, steps=30, learning_rate=1e-2)
    assert penalty() < 0.5 * start
    model.set_stage(0)  # stage 0 has nothing to be independent of
    assert not model.penalized


@pytest.mark.slow
def test_sequential_scheme_trains_every_output_and_saves(tmp_path):
    import keras

    from conserve_tf import fit_conservnet

    data = make_system("kepler", 6, 8, seed=0)
    model, hist = fit_conservnet(data, steps=3, width=8, depth=1, outputs=2, scheme="sequential",
                                 penalty="logdet", independence=0.1, scaling="standardize")
    assert model.towers and model.stage is None and len(hist.stage_histories) == 2
    assert "independence" not in hist.stage_histories[0].history and "independence" in hist.history
    model.save(tmp_path / "seq.keras")
    loaded = keras.models.load_model(tmp_path / "seq.keras")
    x = data.flat().astype(np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert type(loaded.penalty).__name__ == "GradientLogdetPenalty" and loaded.penalty.weight == 0.1
    assert loaded.towers
    with pytest.raises(ValueError, match="scheme"):
        fit_conservnet(data, steps=1, scheme="greedy")


@pytest.mark.slow
def test_sequential_scheme_honours_decorrelate():
    from conserve_tf import fit_conservnet, predict_groups

    data = make_system("kepler", 6, 8, seed=0)
    kw = dict(steps=2, width=8, depth=1, outputs=2, scheme="sequential", scaling="standardize", seed=1)
    plain, _ = fit_conservnet(data, **kw)
    np.testing.assert_array_equal(plain.output_mixing.numpy(), np.eye(2))
    mixed, _ = fit_conservnet(data, decorrelate=True, **kw)
    assert not np.allclose(mixed.output_mixing.numpy(), np.eye(2))
    f = predict_groups(mixed, data).reshape(-1, 2)
    np.testing.assert_allclose(np.cov(f.T, bias=True), np.eye(2), atol=1e-3)  # uncorrelated, unit variance


def test_level_set_noise_leaves_frozen_outputs_unchanged_to_first_order():
    import tensorflow as tf

    from conserve_tf.losses import level_set_noise
    from conserve_tf.spreaders import ball_noise

    data = make_system("kepler", 5, 8, seed=1)
    model = _towers_model(data, project_noise=True)
    model.set_stage(1)
    xs = model.scale_inputs(data.x.astype(np.float32))
    eps = ball_noise(tuple(xs.shape), 1e-2, seed=3)
    proj = level_set_noise(lambda flat: model.network(flat, 1), xs, eps)
    # the objective applies the same projection in stage 1: its noised inputs minus xs are projected noise
    gid, step = tf.range(5), tf.constant(7, tf.int64)
    noised = model.objective.perturbed_inputs(model, xs, gid, step) - xs
    raw = ball_noise(tuple(xs.shape), model.objective.r, seed=model.objective.seed, step=step, group_ids=gid)
    np.testing.assert_allclose(noised, level_set_noise(lambda flat: model.network(flat, 1), xs, raw), atol=1e-6)

    def moved(e):
        return np.abs(model.network(xs + e, 1) - model.network(xs, 1)).mean()

    assert moved(proj) < 0.05 * moved(eps)  # the frozen output barely moves along projected noise
    assert np.linalg.norm(proj) > 0.5 * np.linalg.norm(eps)  # most of the noise remains (3 of 4 directions)
    with tf.GradientTape() as tape:
        flat = tf.reshape(xs, [-1, 4])
        tape.watch(flat)
        f0 = model.network(flat, 1)
    grad = tape.gradient(f0, flat).numpy()
    np.testing.assert_allclose(np.sum(grad * proj.numpy().reshape(-1, 4), axis=1), 0.0, atol=1e-6)


def test_increment_noise_term_ignores_variation_along_the_data():
    """'total' (Eq. 1) lets variation along the data stand in for the noise; 'increment' does not."""
    from conserve_tf.losses import nv_loss_terms

    rng = np.random.default_rng(0)
    along = rng.normal(size=(6, 50, 1)).astype(np.float32)          # F varies within groups: std ~1
    bump = 0.1 * rng.normal(size=(6, 50, 1)).astype(np.float32)     # what the noise adds: std ~0.1
    s_tot, n_tot = (float(v) for v in nv_loss_terms(along, along + bump, q=1.0))
    s_inc, n_inc = (float(v) for v in nv_loss_terms(along, along + bump, q=1.0, noise_term="increment"))
    assert s_tot == pytest.approx(s_inc) and s_tot > 0.8
    assert n_tot < 0.1          # total: the variation along the data nearly meets Q = 1 by itself
    assert n_inc > 0.85         # increment: only the noise's own spread (~0.1) counts
    invariant = np.repeat(rng.normal(size=(6, 1, 1)), 50, axis=1).astype(np.float32)
    both = [float(nv_loss_terms(invariant, invariant + bump, q=1.0, noise_term=t)[1]) for t in ("total", "increment")]
    assert both[0] == pytest.approx(both[1], rel=1e-5)  # identical on an exact invariant
