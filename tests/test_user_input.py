"""What a careless user's input gets: clear errors before any work, warnings that name the problem."""

import os
import subprocess
import sys

import numpy as np
import pytest

from conserve_tf.groups import GroupedData, GroupedDataError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _script(module, *args):
    if not any(a.startswith("--out_dir") for a in args):
        args += ("--out_dir=",)  # no results folder under runs/ from a test
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=300)


def _csv(path, rows, header="group,a,b,E"):
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return str(path)


def _grouped_rows(n_groups=6, members=8, seed=0):
    """a, b vary within groups with a + b conserved; E is a per-group constant loaded as a feature."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        c = rng.uniform(1, 2)
        for a in rng.uniform(-1, 1, members):
            rows.append((g, round(a, 6), round(c - a, 6), round(3 * c, 6)))
    return rows


def test_a_feature_constant_within_groups_is_named(tmp_path):
    data = GroupedData.load(_csv(tmp_path / "d.csv", _grouped_rows()), constant_columns=())
    assert data.conserved_features() == ["E"]
    assert GroupedData.load(str(tmp_path / "d.csv"), constant_columns=("E",)).conserved_features() == []
    out = _script("conserve_tf.train", f"--data={tmp_path / 'd.csv'}", "--constant_columns=", "--epochs=20",
                  "--width=8", "--depth=1", "--restarts=0", "--readout=none", "--verbose=0")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "WARNING: feature(s) E vary between groups but within none" in out.stdout


def test_a_file_with_an_offset_and_large_units_says_how_its_inputs_were_scaled(tmp_path):
    """A user's file: a is shifted by 300, b = C - a is written in units a thousand times smaller (so its spread is
    large, and its mean, 1.5 of its old units, lies beyond 2 standard deviations), and E = 3 C lies in [3, 6]."""
    rows = [(g, a + 300.0, round(b * 1000, 3), e) for g, a, b, e in _grouped_rows()]
    out = _script("conserve_tf.train", f"--data={_csv(tmp_path / 'd.csv', rows)}", "--epochs=5", "--width=8",
                  "--depth=1", "--restarts=0", "--readout=none", "--verbose=0")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "inputs brought to order one: centred ['a', 'b', 'E'], divided by their standard deviation ['b']" in out.stdout


def test_no_feature_varying_within_groups_is_an_error(tmp_path):
    rows = [(g, g, 2 * g, 1.0) for g in range(4) for _ in range(5)]
    out = _script("conserve_tf.train", f"--data={_csv(tmp_path / 'd.csv', rows)}", "--constant_columns=",
                  "--epochs=5")
    assert out.returncode == 2 and "error: no feature varies within the groups (a, b, E)" in out.stderr


def test_values_beyond_float32_are_refused_naming_the_column(tmp_path):
    rows = _grouped_rows()
    rows[5] = (rows[5][0], 1e300, rows[5][2], rows[5][3])
    with pytest.raises(GroupedDataError, match=r"column 'a' has 1e\+300 in data row 6, beyond float32's range"):
        GroupedData.load(_csv(tmp_path / "d.csv", rows), constant_columns=("E",))
    with pytest.raises(GroupedDataError, match="beyond float32's range"):
        GroupedData(np.full((2, 3, 1), 1e39))


def test_a_spreadsheet_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffgroup,a,b,E\n".encode("utf-8") + b"0,1,2,3\n0,2,1,3\n1,1,3,4\n1,3,1,4\n")
    data = GroupedData.load(str(path), constant_columns=("E",))
    assert data.n_groups == 2 and list(data.feature_names) == ["a", "b"]


@pytest.mark.parametrize("module, args, message", [
    ("siamese.train", ["--system=special_relativity", "--learning_rate=-1"], "--learning_rate=-1"),
    ("siamese.train", ["--system=special_relativity", "--invariants=-2"], "--invariants=-2"),
    ("siamese.train", ["--system=special_relativity", "--test_fraction=1.5"], "--test_fraction=1.5"),
    ("siamese.train", ["--system=special_relativity", "--learning_rate=0"], "--learning_rate must be > 0"),
])
def test_bad_flag_values_fail_before_any_work(module, args, message):
    out = _script(module, *args)
    assert out.returncode != 0 and message in out.stderr and "Traceback" not in out.stderr


def test_too_many_invariants_and_counting_one_group_are_refused(tmp_path):
    path = _csv(tmp_path / "d.csv", _grouped_rows())
    out = _script("conserve_tf.train", f"--data={path}", "--constant_columns=E", "--invariants=3", "--epochs=5")
    assert out.returncode == 2 and "--invariants=3 asks for more invariants than the 2 features" in out.stderr
    one = _csv(tmp_path / "one.csv", [(0, a, b, 1.0) for a, b in zip(range(9), range(9, 0, -1))])
    out = _script("conserve_tf.train", f"--data={one}", "--constant_columns=E", "--count", "--epochs=5")
    assert out.returncode == 2 and "--count compares groups: it needs at least two groups" in out.stderr


def test_siamese_with_one_held_out_group_says_where_it_comes_from(tmp_path):
    path = _csv(tmp_path / "d.csv", _grouped_rows(n_groups=6))
    out = _script("siamese.train", f"--data={path}", "--constant_columns=E", "--epochs=1")
    assert out.returncode == 2
    assert "has only one group here (with --data: the training or the held-out part" in out.stderr


def test_rollout_of_a_file_that_is_not_a_lagrangian_network(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    out = _script("lagrangian.rollout", f"--model={junk}", "--t_final=0.1", f"--out_dir={tmp_path / 'ro'}")
    assert out.returncode == 2 and f"{junk} does not hold a LagrangianNetwork that Keras can load" in out.stderr


def test_a_saved_model_loads_after_a_plain_package_import(tmp_path):
    from conserve_tf import ConservNet
    from conserve_tf.runs import save_model

    model = ConservNet(width=8, depth=1, scale=[1.0] * 4)
    model(np.zeros((1, 4), np.float32))
    save_model(model, tmp_path / "m.keras")
    light = ("import sys, conserve_tf, siamese, lagrangian\n"
             "assert 'tensorflow' not in sys.modules  # without Keras loaded the packages stay light (scripts)\n")
    loads = f"import keras, conserve_tf\nprint(type(keras.models.load_model({str(tmp_path / 'm.keras')!r})).__name__)\n"
    for code in (light, loads):
        out = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=ENV, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "ConservNet"


def test_rollout_of_a_record_that_does_not_fit_the_network_says_so(tmp_path):
    from conserve_tf.runs import save_model
    from lagrangian import build_model, get_system

    save_model(build_model(get_system("kepler"), "R", hidden_units=8), tmp_path / "k.keras")
    t = np.arange(40) * 0.05
    rows = "\n".join(f"0,{ti:.3f},{np.cos(ti):.6f},{-np.sin(ti):.6f}" for ti in t)
    (tmp_path / "one.csv").write_text("trajectory,t,q,v\n" + rows + "\n")
    out = _script("lagrangian.rollout", f"--model={tmp_path / 'k.keras'}", f"--data={tmp_path / 'one.csv'}",
                  "--positions=q", "--velocities=v", f"--out_dir={tmp_path / 'ro'}")
    assert out.returncode == 2
    assert "reads states of 3 coordinates, 3 per particle; --data holds 1: ['q']" in out.stderr


def test_a_conservnet_made_without_scale_keeps_its_trained_weights(tmp_path):
    """The README's few-line use: ConservNet() with no scale, fit on grouped arrays, save, load."""
    import keras

    from conserve_tf import ConservNet, make_system

    data = make_system("s1", 8, 20, seed=0)
    model = ConservNet(width=16, depth=2)
    model.compile(optimizer="adam")
    model.fit(data.x.astype("float32"), batch_size=4, epochs=1, verbose=0)
    assert model.built
    f = model.predict(data.flat(), verbose=0)
    model.save(tmp_path / "m.keras")
    back = keras.models.load_model(tmp_path / "m.keras")
    assert len(back.weights) == len(model.weights) > 0
    np.testing.assert_allclose(back.predict(data.flat(), verbose=0), f, rtol=1e-6, atol=1e-7)
