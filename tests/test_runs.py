"""conserve_tf.runs and conserve_tf.plots: the results folder a run leaves, and the script/library split."""

import datetime
import importlib
import json
import os
import subprocess
import sys

import keras
import matplotlib.image
import numpy as np
import pytest
from absl import flags

from conserve_tf import cli, plots, runs
from conserve_tf.metrics import InvariantMetrics
from conserve_tf.systems import make_system

SCRIPTS = ("conserve_tf.train", "siamese.train", "lagrangian.train", "lagrangian.rollout")


def _not_blank(path):
    image = matplotlib.image.imread(path)
    return image.ndim == 3 and float(image[..., :3].std()) > 0


def test_save_model_is_atomic_and_reloads_the_same_function(tmp_path):
    runs.set_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = runs.save_model(model, tmp_path / "sub" / "m.keras")
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(keras.models.load_model(path)(x), model(x), rtol=1e-6)
    assert [p for p in os.listdir(tmp_path / "sub")] == ["m.keras"]  # no partial file left behind
    with pytest.raises(ValueError, match="must end in .keras"):
        runs.save_model(model, tmp_path / "m.h5")
    assert cli.save_model is runs.save_model and cli.set_seed is runs.set_seed  # re-exported for old callers
    # the atomic writes keep an ordinary file's mode (mkstemp alone would leave 0600)
    mask = os.umask(0o022)
    try:
        for made in (runs.save_model(model, tmp_path / "p.keras"), runs.write_results(str(tmp_path), {})):
            assert os.stat(made).st_mode & 0o777 == 0o644, made
    finally:
        os.umask(mask)


def test_default_out_dir_is_timestamped_and_fresh(tmp_path):
    now = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
    first = runs.default_out_dir("conservnet", root=str(tmp_path), now=now)
    assert first == str(tmp_path / "conservnet-20260304-050607")
    os.makedirs(first)
    assert runs.default_out_dir("conservnet", root=str(tmp_path), now=now) == first + "-2"


def test_results_json_round_trip_with_numpy_and_nan(tmp_path):
    results = {"metrics": {"rho": np.float32(0.5), "r2": float("nan")}, "table": np.arange(3), "n": np.int64(4)}
    path = runs.write_results(str(tmp_path), results)
    back = runs.read_results(str(tmp_path))
    assert back["metrics"] == {"rho": 0.5, "r2": None} and back["table"] == [0, 1, 2] and back["n"] == 4
    assert back["versions"]["keras"] == keras.__version__
    json.loads(open(path).read())  # strict JSON: no NaN literal


def test_plot_invariant_with_and_without_constants(tmp_path):
    data = make_system("s1", 6, 10, seed=0)
    f = data.x[..., :1] + 0.1 * data.x[..., 1:2]
    assert _not_blank(plots.plot_invariant(f, data.c, str(tmp_path / "c.png"), data.constant_names))
    assert _not_blank(plots.plot_invariant(f[..., 0], None, str(tmp_path / "box.png")))
    two = np.concatenate([f, -f], axis=-1)
    path = plots.plot_invariant(two, np.stack([data.c, 2 * data.c], 1), str(tmp_path / "two.png"))
    assert matplotlib.image.imread(path).shape[1] > matplotlib.image.imread(tmp_path / "c.png").shape[1]  # 2 panels
    with pytest.raises(ValueError, match="outputs must have shape"):
        plots.plot_invariant(np.zeros(5), None, str(tmp_path / "bad.png"))


def test_plot_training_needs_values(tmp_path):
    hist = {"loss": [3.0, 2.0, 1.0], "val_rho": [0.2, 0.9], "learning_rate": [1e-3] * 3}
    assert _not_blank(plots.plot_training(hist, str(tmp_path / "t.png"), steps_per_epoch=10))
    with pytest.raises(ValueError, match="no logged values"):
        plots.plot_training({}, str(tmp_path / "empty.png"))


def test_tensorboard_logs_the_held_out_metrics(tmp_path):
    pytest.importorskip("tensorboard")
    data = make_system("s1", 4, 8, seed=0)
    runs.set_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = data.flat().astype("float32")
    callbacks = [InvariantMetrics(data, every=1, predict_fn=lambda g: model(g.reshape(-1, 4)).numpy().reshape(4, 8)),
                 runs.tensorboard_callback(str(tmp_path / "tb"))]
    model.fit(x, np.zeros(len(x)), epochs=2, verbose=0, callbacks=callbacks)
    scalars = runs.read_scalars(str(tmp_path / "tb"))
    assert [step for step, _ in scalars["validation"]["epoch_rho"]] == [0, 1]
    assert scalars["validation"]["epoch_rho"][-1][1] == pytest.approx(callbacks[0].history[-1]["rho"], rel=1e-5)
    assert len(scalars["train"]["epoch_loss"]) == 2


def test_scripts_define_no_flags_on_import():
    before = set(flags.FLAGS)
    for name in SCRIPTS:
        importlib.reload(importlib.import_module(name))  # a module-level DEFINE would raise DuplicateFlagError
    assert set(flags.FLAGS) == before


@pytest.mark.slow
def test_siamese_library_does_not_import_the_script():
    code = "import sys, siamese.multi, siamese.training; print('siamese.train' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def test_siamese_recipe_flag_matches_the_library():
    from siamese import train, training

    assert sorted(train.RECIPE_NAMES) == sorted(training.RECIPES)
    assert train.compile_siamese is training.compile_siamese  # the old import path still works
