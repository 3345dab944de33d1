"""Synthetic systems of the ConservNet paper (Table II, as the published code draws them) and the registry.

Each generator returns :class:`~conserve_tf.groups.GroupedData` with ``groups`` groups of ``members``
points; every point of group k satisfies the system's invariant C(x) = C_k exactly (to rounding).
The last variable is solved from the others and draws that would put it out of range are
rejected and redrawn, as in appendix D.

=======  ==============================================  ===============================================
system   invariant C(x)                                  sampling
=======  ==============================================  ===============================================
S1       x1 - 3 x2 x3 + 0.5 x4²                          x2, x3, x4 ~ N(0, 2²); x1 solved, |x1| < 5;
                                                         C_k = -5 + 10 (k+1)/N
S2       3 x1 + 2 sin x2 + sqrt|x1| x3³                  x1, x3 ~ U(-3, 3); x2 one of the six solutions
                                                         of sin x2 = s in [-3π, 3π) at random (Table II:
                                                         x2 in [-9.42, 9.42]); C_k = -5 + 5 (k+1)/N
S2+      S2 with a nuisance x4 ~ N(0, 1)                 as S2
S3       2 x1 x2 - (ln|x1 + x3| - x4) / x3               x1, x2 ~ U(-10, 10), x3 ~ U(0.5, 5); x4 solved
                                                         (it enters linearly), |x4| < 10; C_k = 1 + 3k/N
random   none: x ~ N(mu, I5), mu fixed for all groups    groups are arbitrary (appendix H.3)
=======  ==============================================  ===============================================

docs/design.md (errata E1 and E2) records why S1 is x1 - 3 x2 x3 + 0.5 x4² (the main text's formula is a
misprint) and why S3 solves x4 rather than the starred x1.

Input scaling: S1, S2, S2+ and S3 carry per-system factors of 1 (``scale``), because the published code
feeds them to the network unscaled; scaling x2 of S2 shrinks the three periods of sin x2 and the network
then misses the sine (docs/conservnet_recipe.md and docs/reproductions.md hold the measurements).
"""

from __future__ import annotations

import numpy as np

from . import pendulum, physical
from .groups import GroupedData, UnknownSystemError, check_counts, check_seed

__all__ = ["s1", "s2", "s2_plus", "s3", "random_data", "make_system", "SYSTEMS", "invariant",
           "INVARIANTS"]


def _c_s1(x):
    return x[..., 0] - 3.0 * x[..., 1] * x[..., 2] + 0.5 * x[..., 3] ** 2


def _c_s2(x):
    return 3.0 * x[..., 0] + 2.0 * np.sin(x[..., 1]) + np.sqrt(np.abs(x[..., 0])) * x[..., 2] ** 3


def _c_s3(x):
    return 2.0 * x[..., 0] * x[..., 1] - (np.log(np.abs(x[..., 0] + x[..., 2])) - x[..., 3]) / x[..., 2]


#: The closed-form invariant of each synthetic system, C(x) for x (..., F).
INVARIANTS = {"s1": _c_s1, "s2": _c_s2, "s2+": _c_s2, "s3": _c_s3}


def invariant(system: str, x) -> np.ndarray:
    """The true invariant of a synthetic system evaluated on samples x (..., F)."""
    if system not in INVARIANTS:
        raise KeyError(f"no closed-form invariant for {system!r}; known: {sorted(INVARIANTS)}")
    return INVARIANTS[system](np.asarray(x, dtype=np.float64))





def _fill(members, draw, rng, max_rounds=10_000):
    """Call ``draw(n, rng) -> (points, ok)`` until ``members`` accepted points are collected."""
    out, have = [], 0
    for _ in range(max_rounds):
        pts, ok = draw(2 * (members - have) + 16, rng)
        pts = pts[ok]
        out.append(pts)
        have += len(pts)
        if have >= members:
            return np.concatenate(out)[:members]
    raise RuntimeError("rejection sampling did not collect enough points")


def s1(groups: int = 20, members: int = 100, seed: int = 0) -> GroupedData:
    """S1: C = x1 - 3 x2 x3 + 0.5 x4² (see the module table)."""
    groups, members = check_counts(groups, members)
    rng = np.random.default_rng(seed)
    consts = -5.0 + 10.0 * (np.arange(groups) + 1) / groups
    xs = []
    for ck in consts:
        def draw(n, rng, ck=ck):
            x234 = rng.normal(0.0, 2.0, size=(n, 3))
            x1 = ck + 3.0 * x234[:, 0] * x234[:, 1] - 0.5 * x234[:, 2] ** 2
            return np.column_stack([x1, x234]), np.abs(x1) < 5.0
        xs.append(_fill(members, draw, rng))
    return GroupedData(np.stack(xs), c=consts, name="s1", scale=np.ones(4),
                       params={"system": "s1", "groups": groups, "members": members, "seed": seed})


def s2(groups: int = 20, members: int = 100, seed: int = 0, nuisance: bool = False) -> GroupedData:
    """S2: C = 3 x1 + 2 sin x2 + sqrt|x1| x3³; with ``nuisance`` an extra x4 ~ N(0, 1) (S2+)."""
    groups, members = check_counts(groups, members)
    rng = np.random.default_rng(seed)
    consts = -5.0 + 5.0 * (np.arange(groups) + 1) / groups
    xs = []
    for ck in consts:
        def draw(n, rng, ck=ck):
            x1, x3 = rng.uniform(-3, 3, n), rng.uniform(-3, 3, n)
            s = (ck - 3.0 * x1 - np.sqrt(np.abs(x1)) * x3 ** 3) / 2.0
            ok = np.abs(s) <= 1.0
            base = np.arcsin(np.clip(s, -1, 1))
            # the two solutions of sin x2 = s in [-π, π), then one of the periods [-3π, -π), [-π, π), [π, 3π)
            other = np.mod(np.pi - base + np.pi, 2.0 * np.pi) - np.pi
            x2 = np.where(rng.random(n) < 0.5, base, other) + 2.0 * np.pi * rng.integers(-1, 2, n)
            cols = [x1, x2, x3] + ([rng.normal(0.0, 1.0, n)] if nuisance else [])
            return np.column_stack(cols), ok
        xs.append(_fill(members, draw, rng))
    name = "s2+" if nuisance else "s2"
    return GroupedData(np.stack(xs), c=consts, name=name, scale=np.ones(4 if nuisance else 3),
                       params={"system": name, "groups": groups, "members": members, "seed": seed})


def s2_plus(groups: int = 20, members: int = 100, seed: int = 0) -> GroupedData:
    """S2+: S2 with a nuisance variable x4 ~ N(0, 1) that carries no information (Fig. 3b)."""
    return s2(groups, members, seed, nuisance=True)


def s3(groups: int = 20, members: int = 100, seed: int = 0) -> GroupedData:
    """S3: C = 2 x1 x2 - (ln|x1 + x3| - x4)/x3, x4 solved (see the module table)."""
    groups, members = check_counts(groups, members)
    rng = np.random.default_rng(seed)
    consts = 1.0 + 3.0 * np.arange(groups) / groups
    xs = []
    for ck in consts:
        def draw(n, rng, ck=ck):
            x1, x2 = rng.uniform(-10, 10, n), rng.uniform(-10, 10, n)
            x3 = rng.uniform(0.5, 5, n)
            with np.errstate(divide="ignore"):
                x4 = np.log(np.abs(x1 + x3)) - (2.0 * x1 * x2 - ck) * x3
            return np.column_stack([x1, x2, x3, x4]), np.isfinite(x4) & (np.abs(x4) < 10.0)
        xs.append(_fill(members, draw, rng))
    return GroupedData(np.stack(xs), c=consts, name="s3", scale=np.ones(4),
                       params={"system": "s3", "groups": groups, "members": members, "seed": seed})


def random_data(groups: int = 20, members: int = 100, seed: int = 0, dim: int = 5) -> GroupedData:
    """Data with no invariant: x ~ N(mu, I) in ``dim`` dimensions, one mu for all groups (appendix H.3).

    The returned ``c`` is the group index, which no function of x can predict.
    """
    groups, members = check_counts(groups, members)
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, 1.0, size=dim)
    x = mu + rng.normal(size=(groups, members, dim))
    return GroupedData(x, c=np.arange(groups, dtype=float), name="random",
                       params={"system": "random", "groups": groups, "members": members, "seed": seed,
                               "mu": mu.tolist()})


def _physical(name):
    def make(groups=20, members=100, seed=0, **kwargs):
        return getattr(physical, name)(groups=groups, members=members, seed=seed, **kwargs)

    make.__name__ = name
    return make


#: name -> generator(groups, members, seed, **options) -> GroupedData
SYSTEMS = {
    "s1": s1,
    "s2": s2,
    "s2+": s2_plus,
    "s3": s3,
    "random": random_data,
    "lotka_volterra": _physical("lotka_volterra"),
    "kepler": _physical("kepler"),
    "kepler_fixed_l": _physical("kepler_fixed_l"),
    "kepler+": _physical("kepler_plus"),
    "double_pendulum_sim": pendulum.simulated_double_pendulum,
}


def make_system(name: str, groups: int = 20, members: int = 100, seed: int = 0, **options) -> GroupedData:
    """Generate the named system; an unknown name is a ``KeyError`` listing the known ones."""
    key = str(name).lower().replace("-", "_")
    key = {"s2plus": "s2+", "s2_plus": "s2+", "kepler_plus": "kepler+", "lv": "lotka_volterra"}.get(key, key)
    if key not in SYSTEMS:
        raise UnknownSystemError(f"unknown system {name!r}; choose one of {sorted(SYSTEMS)}")
    return SYSTEMS[key](groups=groups, members=members, seed=check_seed(seed), **options)
