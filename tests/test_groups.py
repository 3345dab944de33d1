"""Grouped data: construction, loaders, splits and every validation error."""

import numpy as np
import pytest

from conserve_tf import GroupedData, GroupedDataError
from conserve_tf.systems import INVARIANTS, invariant, make_system


def _flat_example(rng, groups=3, members=4, features=2):
    x = rng.normal(size=(groups * members, features))
    gid = np.repeat(np.arange(groups), members)
    return x, gid


def test_from_arrays_and_views():
    x = np.arange(24, dtype=float).reshape(2, 3, 4)
    d = GroupedData(x, c=[1.0, 2.0])
    assert (d.n_groups, d.n_members, d.n_features) == (2, 3, 4)
    assert d.feature_names == ["x1", "x2", "x3", "x4"] and d.constant_names == ["C"]
    np.testing.assert_array_equal(d.flat()[3], x[1, 0])
    np.testing.assert_array_equal(d.flat_group_ids(), [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(d.flat_constants(), [1, 1, 1, 2, 2, 2])


@pytest.mark.parametrize("x, msg", [
    (np.zeros((4, 3)), "rank 2"),
    (np.zeros((2, 1, 3)), "at least two members"),
    (np.zeros((0, 3, 3)), "at least one group"),
    ([[["a", "b"], ["c", "d"]]], "numeric"),
])
def test_bad_shapes_are_named(x, msg):
    with pytest.raises(GroupedDataError, match=msg):
        GroupedData(x)


def test_nan_and_inf_are_named():
    x = np.zeros((2, 3, 2))
    x[1, 2, 0] = np.nan
    with pytest.raises(GroupedDataError, match=r"NaN first at index \(1, 2, 0\)"):
        GroupedData(x)
    x[1, 2, 0] = np.inf
    with pytest.raises(GroupedDataError, match="Inf"):
        GroupedData(x)
    with pytest.raises(GroupedDataError, match="c contains"):
        GroupedData(np.zeros((2, 3, 2)), c=[0.0, np.nan])


def test_constants_must_match_groups():
    with pytest.raises(GroupedDataError, match="match 2 groups"):
        GroupedData(np.zeros((2, 3, 2)), c=[1.0, 2.0, 3.0])
    with pytest.raises(GroupedDataError, match="feature_names has 1"):
        GroupedData(np.zeros((2, 3, 2)), feature_names=["a"])


def test_from_flat_groups_and_checks():
    rng = np.random.default_rng(0)
    x, gid = _flat_example(rng)
    order = rng.permutation(len(gid))
    d = GroupedData.from_flat(x[order], gid[order], c=gid[order] * 10.0)
    assert d.x.shape == (3, 4, 2)
    np.testing.assert_array_equal(d.c, [0.0, 10.0, 20.0])
    for g in range(3):  # every member of group g is a row of x with id g
        rows = {tuple(r) for r in x[gid == g]}
        assert {tuple(r) for r in d.x[g]} == rows
    with pytest.raises(GroupedDataError, match="group_ids has 11 entries but x has 12"):
        GroupedData.from_flat(x, gid[:-1])
    with pytest.raises(GroupedDataError, match="varies within a group"):
        GroupedData.from_flat(x, gid, c=np.arange(12.0))
    lone = gid.copy()
    lone[-1] = 99
    with pytest.raises(GroupedDataError, match=r"group\(s\) \[99\] have one"):
        GroupedData.from_flat(x, lone)


def test_unequal_group_sizes_refused_or_truncated():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 2))
    gid = np.array([0, 0, 0, 0, 1, 1, 1])
    with pytest.raises(GroupedDataError, match="unequal sizes .*ragged='truncate'"):
        GroupedData.from_flat(x, gid)
    d = GroupedData.from_flat(x, gid, ragged="truncate")
    assert d.x.shape == (2, 3, 2)
    np.testing.assert_array_equal(d.x[0], x[:3])
    s = GroupedData.from_flat(x, gid, ragged="sample", seed=3)
    assert s.x.shape == (2, 3, 2)
    assert all(any(np.array_equal(r, y) for y in x[:4]) for r in s.x[0])


def test_csv_round_trip_and_column_options(tmp_path):
    d = make_system("s1", 3, 5, seed=0)
    path = d.save(tmp_path / "s1.csv")
    back = GroupedData.load(path)
    np.testing.assert_allclose(back.x, d.x, rtol=0, atol=0)
    np.testing.assert_allclose(back.c, d.c)
    assert back.feature_names == d.feature_names
    only = GroupedData.load(path, feature_columns=["x1", "x4"])
    assert only.feature_names == ["x1", "x4"]
    no_c = GroupedData.load(path, constant_columns=())  # C becomes a feature
    assert no_c.c is None and "C" in no_c.feature_names


def test_npz_round_trip_grouped_and_flat(tmp_path):
    d = make_system("s2", 2, 4, seed=1)
    back = GroupedData.load(d.save(tmp_path / "s2.npz"))
    np.testing.assert_array_equal(back.x, d.x)
    np.testing.assert_array_equal(back.c, d.c)
    rng = np.random.default_rng(0)
    x, gid = _flat_example(rng)
    np.savez(tmp_path / "flat.npz", group=gid, a=x[:, 0], b=x[:, 1])
    flat = GroupedData.load(tmp_path / "flat.npz")
    assert flat.x.shape == (3, 4, 2) and flat.c is None and flat.feature_names == ["a", "b"]


@pytest.mark.parametrize("text, msg", [
    ("", "empty"),
    ("group,C,x1\n", "no data rows"),
    ("g,C,x1\n0,1,2\n0,1,3\n", "no group column 'group'"),
    ("group,C,x1\n0,1,2\n0,1,abc\n", "non-numeric value 'abc' in data row 2"),
    ("group,C,x1\n0,1,2\n0,1\n", "line 3 has 2 fields"),
    ("group,C,x1\n0,1,nan\n0,1,2\n", "NaN"),
    ("group,C\n0,1\n0,1\n", "no feature columns"),
    ("group,x,x\n0,1,2\n0,1,2\n", "duplicate column"),
])
def test_bad_csv_files(tmp_path, text, msg):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(GroupedDataError, match=msg):
        GroupedData.load(p)


def test_unknown_columns_and_files(tmp_path):
    p = tmp_path / "ok.csv"
    p.write_text("group,x1\n0,1\n0,2\n")
    with pytest.raises(GroupedDataError, match=r"unknown feature column\(s\) \['zz'\]"):
        GroupedData.load(p, feature_columns=["zz"])
    with pytest.raises(FileNotFoundError, match="no such data file"):
        GroupedData.load(tmp_path / "missing.csv")
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(GroupedDataError, match="unsupported file type"):
        GroupedData.load(tmp_path / "d.json")


def test_splits():
    d = make_system("s1", 6, 10, seed=0)
    tr, te = d.split_within(0.8)
    assert tr.x.shape == (6, 8, 4) and te.x.shape == (6, 2, 4)
    np.testing.assert_array_equal(np.concatenate([tr.x, te.x], axis=1), d.x)
    tr, te = d.split_by_group(0.5, seed=0)
    assert tr.n_groups == 3 and te.n_groups == 3
    assert not set(tr.c) & set(te.c)  # test constants never seen in training
    with pytest.raises(GroupedDataError, match="at least two members"):
        d.split_within(0.95)
    with pytest.raises(GroupedDataError, match="at least one group on each side"):
        make_system("s1", 1, 10).split_by_group(0.5)


def test_noise_is_seeded_and_sized():
    d = make_system("s1", 10, 50, seed=0)
    n1, n2 = d.with_noise(0.3, seed=1), d.with_noise(0.3, seed=1)
    np.testing.assert_array_equal(n1.x, n2.x)
    assert abs((n1.x - d.x).std() - 0.3) < 0.02
    with pytest.raises(GroupedDataError, match="noise strength"):
        d.with_noise(-1)


def test_noise_can_differ_per_feature():
    d = make_system("s1", 10, 200, seed=0)
    noisy = d.with_noise([0.0, 0.1, 0.3, 1.0], seed=2)
    np.testing.assert_allclose((noisy.x - d.x).reshape(-1, 4).std(axis=0), [0.0, 0.1, 0.3, 1.0], rtol=0.05)
    assert noisy.params["noise"] == [0.0, 0.1, 0.3, 1.0]
    assert d.with_noise([0, 0, 0, 0]) is d
    for bad, message in (([0.1, 0.2], "one per feature \\(4\\)"), ([0.1, -0.1, 0, 0], "finite and >= 0"),
                         ("loud", "a number or one number per feature")):
        with pytest.raises(GroupedDataError, match=message):
            d.with_noise(bad)


@pytest.mark.parametrize("name", sorted(INVARIANTS))
def test_each_synthetic_invariant_holds(name):
    d = make_system(name, 20, 100, seed=3)
    assert d.x.shape[:2] == (20, 100)
    np.testing.assert_allclose(invariant(name, d.x), np.broadcast_to(d.c[:, None], (20, 100)), rtol=0, atol=1e-9)
    again = make_system(name, 20, 100, seed=3)
    np.testing.assert_array_equal(d.x, again.x)


def test_ranges_follow_the_paper():
    assert np.abs(make_system("s1", 20, 100).x[..., 0]).max() < 5
    assert np.abs(make_system("s3", 20, 100).x[..., 3]).max() < 10
    s2p = make_system("s2+", 20, 100)
    assert s2p.n_features == 4 and abs(s2p.x[..., 3].std() - 1) < 0.05
    np.testing.assert_allclose(make_system("s1", 20, 10).c, -5 + 10 * (np.arange(20) + 1) / 20)


def test_random_data_has_no_invariant():
    d = make_system("random", 20, 100, seed=0)
    means = d.x.mean(axis=1)  # every group is drawn from the same distribution
    assert means.std(axis=0).max() < 0.3
    with pytest.raises(KeyError, match="unknown system 'nope'"):
        make_system("nope")


def test_csv_round_trip_with_several_constants(tmp_path):
    d = make_system("kepler", 3, 6, seed=0)  # c (G, 2) = (L, E)
    path = d.save(tmp_path / "kepler.csv")
    back = GroupedData.load(path, constant_columns=["L", "E"])
    assert back.constant_names == ["L", "E"] and back.c.shape == (3, 2)
    np.testing.assert_allclose(back.c, d.c, rtol=1e-12)
    np.testing.assert_allclose(back.x, d.x, rtol=1e-12)
    np.testing.assert_allclose(back.constants("E"), d.c[:, 1], rtol=1e-12)
    only_l = GroupedData.load(path, constant_columns=["L"])  # E is then read as a feature
    assert only_l.constant_names == ["L"] and "E" in only_l.feature_names


def test_varying_constant_skips_constants_held_fixed():
    from siamese.systems import make_system

    fixed_first = GroupedData(np.zeros((4, 2, 1)), c=np.array([[-1.5, 0.1], [-1.5, 0.2], [-1.5, 0.3], [-1.5, 0.4]]),
                              constant_names=["L", "E"])
    assert fixed_first.varying_constant() == 1
    assert GroupedData(np.zeros((3, 2, 1)), c=np.array([1.0, 2.0, 3.0])).varying_constant() == 0
    assert GroupedData(np.zeros((3, 2, 1))).varying_constant() == 0
    data = make_system("central_fixed_L", 50, 2, seed=0)  # constants L (= -1.5), E, Ax, Ay
    assert data.constant_names[data.varying_constant()] == "E"
