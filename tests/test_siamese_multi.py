"""The decorrelated multi-neuron Siamese network (issue 7): the penalty, training, saving, read-out."""

import keras
import numpy as np
import pytest

from siamese.multi import (DecorrelatedSiamese, correlation_penalty, multi_readout, scale_floor_penalty,
                           train_decorrelated)
from conserve_tf.counting import decide_count
from siamese.systems import electromagnetism


def _pen(f):
    return float(correlation_penalty(keras.ops.convert_to_tensor(np.asarray(f, np.float32))))


def test_penalty_zero_for_uncorrelated_one_for_affine_and_scale_free():
    rng = np.random.default_rng(0)
    a = rng.normal(size=4000)
    b = rng.normal(size=4000)
    assert _pen(np.stack([a, b], 1)) < 1e-3
    assert _pen(np.stack([a, -3.0 * a + 2.0], 1)) == pytest.approx(1.0, abs=1e-4)
    mixed = np.stack([a, a + b], 1)  # corr = 1/sqrt(2)
    assert _pen(mixed) == pytest.approx(0.5, abs=0.03)
    assert _pen(mixed * np.array([1e3, 1e-2], np.float32)) == pytest.approx(_pen(mixed), abs=1e-3)
    # averaged over the three pairs: (1 + 0 + 0) / 3
    assert _pen(np.stack([a, 2 * a, b], 1)) == pytest.approx(1 / 3, abs=0.01)
    assert _pen(a[:, None]) == 0.0


def test_scale_floor_stops_collapse_only():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(5000, 2)).astype(np.float32)
    floor = lambda a: float(scale_floor_penalty(keras.ops.convert_to_tensor(a)))  # noqa: E731
    assert floor(3.0 * f) == 0.0
    assert floor(0.5 * f) == pytest.approx(0.25, abs=0.01)  # (1 - 0.5)² for both neurons
    assert floor(np.zeros_like(f)) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
def test_training_logs_penalty_and_saved_model_reproduces(tmp_path):
    train, test = electromagnetism(300, seed=0), electromagnetism(100, seed=1)
    model, info = train_decorrelated(train, test, bottleneck=2, decorrelation=2.0, hidden=(8,), epochs=2)
    assert set(info["history"]) >= {"loss", "accuracy", "decorrelation"}
    held = test.flat()
    f = model.invariant(held).reshape(len(held), -1)
    assert info["decorrelation"] == pytest.approx(np.corrcoef(f.T)[0, 1] ** 2, rel=1e-3, abs=1e-6)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, DecorrelatedSiamese) and loaded.decorrelation == 2.0 and loaded.bottleneck == 2
    assert model.first_layer == loaded.first_layer == "dense"  # the layer the counting was measured with
    x = test.flat()[:50]
    np.testing.assert_array_equal(loaded.invariant(x), model.invariant(x))
    res = multi_readout(model, train, test, degree=1)
    assert set(res.r2) == {"EdotB", "E2mB2"} and len(res.outputs) == 2
    with pytest.raises(ValueError, match="decorrelation weight"):
        DecorrelatedSiamese(6, decorrelation=-1.0)


@pytest.mark.slow
def test_penalty_decorrelates_two_neurons():
    """Two neurons that start almost equal (corr ~ 1): a short run with the penalty decorrelates them, the
    same run without it leaves them correlated."""
    from siamese.pairs import make_pairs
    from siamese.training import compile_siamese

    train = electromagnetism(1500, seed=2, even=False)  # the fixture this mechanism test was built on
    pairs = make_pairs(train, seed=0)
    flat = train.flat()
    corr = {}
    for lam in (0.0, 100.0):
        keras.utils.set_random_seed(3)
        model = DecorrelatedSiamese(6, hidden=(16,), bottleneck=2, mean=flat.mean(0), variance=flat.var(0),
                                    decorrelation=lam)
        layer = model.subnetwork.get_layer("bottleneck")
        w, b = layer.get_weights()
        w[:, 1] = w[:, 0] + 0.1 * np.random.default_rng(0).normal(size=w.shape[0]) * np.std(w[:, 0])
        layer.set_weights([w, b])
        before = _pen(model.invariant(flat))
        compile_siamese(model, "adam", learning_rate=1e-3)
        model.fit(pairs.x.astype(np.float32), pairs.y, batch_size=256, epochs=3, verbose=0)
        corr[lam] = _pen(model.invariant(flat))
    assert before > 0.9
    assert corr[0.0] > 0.9 and corr[100.0] < corr[0.0] - 0.1


@pytest.mark.slow
def test_count_with_siamese_bottlenecks():
    from siamese.multi import count_siamese_invariants

    train, test = electromagnetism(200, seed=0), electromagnetism(60, members=3, seed=1)
    res = count_siamese_invariants(train, test, k_max=2, log=None, hidden=(8,), epochs=2, warmup=1)
    assert [r["k"] for r in res.rows] == [1, 2] and res.rows[1]["model"].bottleneck == 2
    assert all(np.isfinite(r["spreads"]).all() for r in res.rows)
    assert res.count == decide_count(res.rows, res.spread_threshold, res.independence_threshold).count


@pytest.mark.slow
def test_siamese_script_invariants_flag(tmp_path):
    import os
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "siamese.train", "--system=electromagnetism", "--groups=300",
                          "--test_groups=100", "--invariants=2", "--epochs=2", "--warmup=1", "--hidden=8",
                          "--verbose=0", f"--out_dir={tmp_path}"], capture_output=True, text=True, timeout=240,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "2 decorrelated neurons" in out.stdout and "| EdotB |" in out.stdout
    assert (tmp_path / "readout_multi.md").exists()
