"""Labelled pairs for the Siamese network from any grouped data (Sec. III of Wetzel et al. 2020).

Positives are two different members of one group (label 0, "related"); negatives keep the first member
of every positive pair and take the second member of another positive pair from a different group
(the paper's "randomly permuting among all second elements"; label 1, "unrelated"). The set is
balanced (as many negatives as positives) and fully determined by the seed.

Layout: ``x`` of shape (2 P, 2, F) -- pair index, the two members, features -- and labels ``y`` (2 P,).
This (batch, 2, features) tensor is what :class:`siamese.model.SiameseNetwork` takes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from conserve_tf.groups import GroupedData

__all__ = ["PairSet", "make_pairs", "RELATED", "UNRELATED"]

RELATED, UNRELATED = 0, 1


@dataclasses.dataclass(frozen=True)
class PairSet:
    """``x`` (N, 2, F) pairs, ``y`` (N,) labels 0/1, ``group`` (N, 2) group index of each member."""

    x: np.ndarray
    y: np.ndarray
    group: np.ndarray

    def __post_init__(self):
        n = len(self.y)
        if np.ndim(self.x) != 3 or np.shape(self.x)[1] != 2 or len(self.x) != n or np.shape(self.group) != (n, 2):
            raise ValueError(f"a PairSet needs x (N, 2, F), y (N,) and group (N, 2) for one N; got x "
                             f"{np.shape(self.x)}, y {np.shape(self.y)}, group {np.shape(self.group)}")

    def __len__(self) -> int:
        return len(self.y)

    def shuffled(self, seed=0) -> "PairSet":
        order = np.random.default_rng(seed).permutation(len(self))
        return PairSet(self.x[order], self.y[order], self.group[order])


def _positive_indices(n_groups, n_members, pairs_per_group, rng):
    """(P, 2) member indices and (P,) group indices of the positive pairs."""
    if pairs_per_group <= n_members // 2:  # disjoint pairs: every member used at most once
        order = np.argsort(rng.random((n_groups, n_members)), axis=1)[:, : 2 * pairs_per_group]
        members = order.reshape(n_groups, pairs_per_group, 2)
    else:  # more pairs than disjoint ones: distinct members, drawn with replacement across pairs
        first = rng.integers(0, n_members, (n_groups, pairs_per_group))
        second = (first + rng.integers(1, n_members, (n_groups, pairs_per_group))) % n_members
        members = np.stack([first, second], axis=-1)
    groups = np.repeat(np.arange(n_groups), pairs_per_group)
    return members.reshape(-1, 2), groups


def _cross_group_permutation(groups, rng):
    """A random permutation p with groups[p[i]] != groups[i] for all i (needs >= 2 groups, none > half)."""
    n = len(groups)
    perm = rng.permutation(n)
    for _ in range(50):
        bad = np.flatnonzero(groups[perm] == groups)
        if bad.size == 0:
            return perm
        for i in bad:
            if groups[perm[i]] != groups[i]:
                continue
            cand = rng.integers(0, n, 64)
            ok = (groups[perm[cand]] != groups[i]) & (groups[cand] != groups[perm[i]])
            if not ok.any():
                cand = np.arange(n)
                ok = (groups[perm[cand]] != groups[i]) & (groups[cand] != groups[perm[i]])
            j = cand[np.flatnonzero(ok)[0]] if ok.any() else None
            if j is not None:
                perm[i], perm[j] = perm[j], perm[i]
    raise ValueError("could not pair every first member with a member of another group")


def make_pairs(data: GroupedData, pairs_per_group: int | None = None, seed=0, shuffle: bool = True
               ) -> PairSet:
    """Balanced, seeded positive/negative pairs from grouped data ``data.x`` (G, M, F).

    ``pairs_per_group`` positives per group (default M // 2: disjoint pairs, so M = 2 gives exactly
    the paper's one pair per event/orbit/field); the same number of negatives. Returns a
    :class:`PairSet` with 2 G ``pairs_per_group`` pairs, shuffled unless ``shuffle=False``
    (then positives come first).
    """
    if not isinstance(data, GroupedData):
        raise ValueError(f"make_pairs needs GroupedData, got {type(data).__name__}")
    if data.n_groups < 2:
        raise ValueError("make_pairs needs at least two groups: negatives pair members of different "
                         f"groups, but {data.name!r} has only one group here (with --data: the training or the "
                         "held-out part of the file; raise --test_fraction or bring more groups)")
    ppg = data.n_members // 2 if pairs_per_group is None else int(pairs_per_group)
    if ppg < 1:
        raise ValueError(f"pairs_per_group must be >= 1, got {pairs_per_group}")
    rng = np.random.default_rng(seed)
    members, groups = _positive_indices(data.n_groups, data.n_members, ppg, rng)
    first = data.x[groups, members[:, 0]]
    second = data.x[groups, members[:, 1]]
    perm = _cross_group_permutation(groups, rng)
    x = np.concatenate([np.stack([first, second], 1), np.stack([first, second[perm]], 1)])
    y = np.concatenate([np.full(len(groups), RELATED), np.full(len(groups), UNRELATED)]).astype(np.float32)
    grp = np.concatenate([np.stack([groups, groups], 1), np.stack([groups, groups[perm]], 1)])
    out = PairSet(x, y, grp)
    return out.shuffled(rng) if shuffle else out
