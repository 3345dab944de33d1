"""Pairs builder: balanced, seeded, labels 0 = same group, 1 = different group; works on any GroupedData."""

import numpy as np
import pytest

from conserve_tf.groups import GroupedData
from siamese import make_pairs


def _data(groups=6, members=10, features=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(groups, members, features))
    x[..., 0] = np.arange(groups)[:, None]  # feature 0 identifies the group
    return GroupedData(x, c=np.arange(groups, dtype=float))


@pytest.mark.parametrize("groups,members,ppg", [(6, 10, None), (2, 4, None), (3, 5, 7), (50, 2, None)])
def test_pairs_are_balanced_and_labelled_by_group(groups, members, ppg):
    d = _data(groups, members)
    p = make_pairs(d, pairs_per_group=ppg, seed=1)
    n_pos = groups * (members // 2 if ppg is None else ppg)
    assert len(p) == 2 * n_pos and p.x.shape == (2 * n_pos, 2, 3)
    assert p.y.sum() == n_pos
    same = p.x[:, 0, 0] == p.x[:, 1, 0]
    assert np.array_equal(same, p.y == 0)
    assert np.array_equal(p.group[:, 0] == p.group[:, 1], p.y == 0)
    pos = p.x[p.y == 0]
    assert not np.any(np.all(pos[:, 0] == pos[:, 1], axis=1))  # two different members


def test_disjoint_positives_use_each_member_once():
    d = _data(4, 10)
    p = make_pairs(d, seed=0, shuffle=False)
    pos = p.x[: 20].reshape(-1, 3)
    assert len(np.unique(pos, axis=0)) == 40


def test_pairs_are_seeded():
    d = _data()
    a, b, c = make_pairs(d, seed=3), make_pairs(d, seed=3), make_pairs(d, seed=4)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


def test_one_group_is_a_clear_error():
    with pytest.raises(ValueError, match="at least two groups"):
        make_pairs(_data(1, 10))
    with pytest.raises(ValueError, match="GroupedData"):
        make_pairs(np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="pairs_per_group"):
        make_pairs(_data(), pairs_per_group=0)
