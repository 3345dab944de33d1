"""Physics data sets of the interpretable Siamese network (Sec. III of Wetzel et al. 2020, paper 004).

Every generator returns :class:`~conserve_tf.groups.GroupedData` shaped (groups G, members M, features F):
one group is one physical "thing" seen M times, so ``M = 2`` gives the paper's positive pairs.
The true invariants are returned as ``c`` (G, k) with ``constant_names``.

Distributions (the paper does not state them; these are our choices). The invariants a data set is read out
for are spread evenly over a range, as ConservNet's generators spread their constants: the Siamese
loss makes f steepest where the invariant is densest, so a peaked distribution bends f and lowers the
polynomial read-out's R² (measured in docs/siamese.md). The thinning is :func:`_even`.

* Special relativity (features t, x, y, z; c = s2 = -t² + x² + y² + z²): events drawn from the box
  [-1, 1]⁴ and thinned so that s² is spread evenly over [-0.9, 2.5] (``even=False``: the box itself, where
  s² is densest near 0.6); member 0 is the event, members m >= 1 are Λ_m x with an independent Λ = D1 Λ_v D2 each
  (Eq. (A1)); D1, D2 rotations Haar-random from O(3) (Eq. (A4)), Λ_v a boost along x (Eq. (A2)) with speed
  β ~ U(-0.9, 0.9) (γ <= 2.29), and a time reversal in half of the Λ: the paper samples "all possible"
  Lorentz transformations, and only under the whole group is s² the one invariant of an event (under the
  orthochronous group, ``sr_orthochronous``, the sign of t of a timelike event is a second one).
  ``fixed_interval=s0`` instead draws t ~ U(-1, 1), a uniform direction and |x| = sqrt(s0 + t²),
  so every event has s² = s0 (default s0 = 1).
* Central potential (features x, y, vx, vy; c = L, E, Ax, Ay with L = x v_y - y v_x, E = v²/2 - 1/r and
  the Laplace-Runge-Lenz vector (Ax, Ay) = v × L - r/r; m = GMm = 1): the initial states of ConservNet's Kepler
  data (:func:`conserve_tf.kepler.draw_orbits`: position ~ U(-5, 5)², velocity ~ U(-1.5, 1.5)², loosely bound
  orbits within the ranges of the published Kepler data, E in [-0.35, -0.014]). The M members are the states
  at M independent times t ~ U(0, P) along the orbit (P the period), from the exact solution of Hamilton's
  equations (:func:`conserve_tf.kepler.kepler_propagate`). ``fixed_L=L0`` draws the radial speed
  ~ U(-1.5, 1.5) and the tangential speed L0 / r, so every orbit has angular momentum L0 (default -1.5, as
  ConservNet's appendix G). docs/siamese.md compares this sampling with others.
* Electromagnetism (features Ex, Ey, Ez, Bx, By, Bz; c = EdotB, E2mB2 = |E|² - |B|²): E, B drawn from
  [-1, 1]³ and thinned so that (E·B, |E|² - |B|²) is spread evenly over [-1, 1] × [-1.5, 1.5] (both, since
  spreading E·B alone hides the second invariant from a second neuron; ``even=False``: the box itself);
  member m >= 1 is the field of F' = Λᵀ F Λ (Eq. (10)) with F of Eq. (9) and an independent
  proper Λ as above. ``fixed_EdotB=c0`` draws E with |E| >= 0.3 and sets the component of B along E
  to c0 / |E|, so E·B = c0 (default 0.25), and spreads |E|² - |B|² evenly over [-1.5, 1.5]. The paper
  calls this invariant det F; det F = (E·B)².
  Λ stays proper here: a reflection or time reversal flips the sign of the pseudoscalar E·B.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from conserve_tf import systems as cn_systems
from conserve_tf.groups import GroupedData, UnknownSystemError, check_counts, check_seed
from conserve_tf.kepler import draw_orbits, kepler_invariants, kepler_propagate, laplace_runge_lenz

__all__ = ["ETA", "random_rotations", "boost_x", "random_lorentz", "field_tensor", "fields_from_tensor",
           "special_relativity", "central_potential", "electromagnetism", "central_invariants",
           "inverse_radius", "em_invariants", "make_system", "SYSTEMS", "EXTRA_FEATURES"]

ETA = np.diag([-1.0, 1.0, 1.0, 1.0])  # Minkowski metric, signature (-, +, +, +), c = 1


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_seed(seed))


def random_rotations(n: int, rng) -> np.ndarray:
    """n Haar-random rotations from SO(3) (det = +1, never reflections), shape (n, 3, 3)."""
    return Rotation.random(int(n), random_state=_rng(rng)).as_matrix()


def boost_x(beta) -> np.ndarray:
    """Eq. (A2): boosts along x with speeds β (n,), shape (n, 4, 4) acting on (t, x, y, z)."""
    beta = np.asarray(beta, dtype=np.float64).reshape(-1)
    if np.any(np.abs(beta) >= 1):
        raise ValueError("boost speeds must satisfy |beta| < 1 (c = 1)")
    gamma = 1.0 / np.sqrt(1.0 - beta**2)
    out = np.zeros((beta.size, 4, 4))
    out[:, 0, 0] = out[:, 1, 1] = gamma
    out[:, 0, 1] = out[:, 1, 0] = -gamma * beta
    out[:, 2, 2] = out[:, 3, 3] = 1.0
    return out


def random_lorentz(n: int, rng=0, beta_max: float = 0.9, time_reversal: bool = False,
                   reflections: bool = False) -> np.ndarray:
    """Eq. (A1): Λ = D1 Λ_v D2 with D = diag(1, R), β ~ U(-beta_max, beta_max); (n, 4, 4), Λᵀ η Λ = η.

    R is Haar-random from SO(3); ``reflections=True`` negates it in half of the D (at random), so R is
    Haar-random from O(3) as Eq. (A4) states. ``time_reversal=True`` multiplies half of the Λ (at random) by
    T = diag(-1, 1, 1, 1). Both together draw from the full Lorentz group O(1, 3), under which the sign of t
    of a timelike event is no longer invariant and s² is the only invariant of an event.
    """
    if not 0 <= beta_max < 1:
        raise ValueError(f"beta_max must be in [0, 1), got {beta_max}")
    rng = _rng(rng)
    d1, d2 = np.tile(np.eye(4), (2, n, 1, 1))
    d1[:, 1:, 1:] = random_rotations(n, rng)
    d2[:, 1:, 1:] = random_rotations(n, rng)
    lam = d1 @ boost_x(rng.uniform(-beta_max, beta_max, n)) @ d2
    if time_reversal:
        lam[rng.random(n) < 0.5, 0, :] *= -1.0
    if reflections:
        lam[rng.random(n) < 0.5, 1:, :] *= -1.0  # the spatial part of D1 from O(3) \ SO(3)
    return lam


def field_tensor(e, b) -> np.ndarray:
    """Eq. (9): F_{μν} from E (n, 3) and B (n, 3), shape (n, 4, 4), F_{0i} = E_i, F_{ij} = -ε_{ijk} B_k."""
    e, b = np.asarray(e, np.float64), np.asarray(b, np.float64)
    f = np.zeros(e.shape[:-1] + (4, 4))
    f[..., 0, 1:] = e
    f[..., 1:, 0] = -e
    f[..., 1, 2], f[..., 1, 3], f[..., 2, 3] = -b[..., 2], b[..., 1], -b[..., 0]
    f[..., 2, 1], f[..., 3, 1], f[..., 3, 2] = b[..., 2], -b[..., 1], b[..., 0]
    return f


def fields_from_tensor(f) -> np.ndarray:
    """Inverse of :func:`field_tensor`: (n, 4, 4) -> (n, 6) = (Ex, Ey, Ez, Bx, By, Bz)."""
    f = np.asarray(f)
    return np.stack([f[..., 0, 1], f[..., 0, 2], f[..., 0, 3], -f[..., 2, 3], f[..., 1, 3], -f[..., 1, 2]], -1)


def _unit_vectors(n, rng):
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _even(draw, value, n, rng, low, high, bins: int | None = None, batch: int = 200_000):
    """n samples of ``draw(k, rng)`` (k, F) whose ``value`` (k,) or (k, d) is spread evenly over the box
    [low, high) (scalars or length-d sequences): candidates outside are dropped, the others kept with
    probability (count of the rarest cell) / (count of their own cell), cells of ``bins`` equal parts per
    axis (default 40 for one value, 10 for several), counted over each batch of candidates."""
    low, high = np.atleast_1d(np.asarray(low, float)), np.atleast_1d(np.asarray(high, float))
    bins = (40 if len(low) == 1 else 10) if bins is None else int(bins)
    out, have = [], 0
    while have < n:
        cand = draw(batch, rng)
        v = np.asarray(value(cand), float).reshape(len(cand), -1)
        inside = np.all((v >= low) & (v < high), axis=1)
        cand, v = cand[inside], v[inside]
        counts, _ = np.histogramdd(v, bins, list(zip(low, high)))
        if counts.min() == 0:
            raise RuntimeError(f"no draw falls in part of [{low}, {high}]: cannot spread the values evenly there")
        cell = tuple(np.minimum(((v - low) / (high - low) * bins).astype(int), bins - 1).T)
        keep = rng.uniform(size=len(v)) * counts[cell] < counts.min()
        out.append(cand[keep])
        have += int(keep.sum())
    return np.concatenate(out)[:n]


def _interval(ev):
    return -ev[:, 0] ** 2 + np.sum(ev[:, 1:] ** 2, axis=1)


def special_relativity(groups: int = 50_000, members: int = 2, seed=0, fixed_interval: float | None = None,
                       beta_max: float = 0.9, time_reversal: bool = True, reflections: bool = True,
                       even: bool = True) -> GroupedData:
    """Events x^μ and their Lorentz-transformed copies Λ x (Sec. III A); x (G, M, 4) = (t, x, y, z); c = s² (G,).

    By default Λ is drawn from the whole Lorentz group (``time_reversal`` and ``reflections`` of
    :func:`random_lorentz`); both False give the proper orthochronous group (``sr_orthochronous``).
    Events are drawn from the box [-1, 1]⁴; ``even`` (default) keeps s² spread evenly over [-0.9, 2.5]
    (:func:`_even`; docs/siamese.md: the read-out's degree-2 R² follows the density of the invariant);
    ignored with ``fixed_interval``.
    """
    check_counts(groups, members)
    rng = _rng(seed)
    if fixed_interval is None:
        box = lambda k, r: r.uniform(-1.0, 1.0, (k, 4))  # noqa: E731
        ev = _even(box, _interval, groups, rng, -0.9, 2.5) if even else box(groups, rng)
    else:
        t = rng.uniform(-1.0, 1.0, groups)
        radius = np.sqrt(fixed_interval + t**2)
        if np.any(~np.isfinite(radius)):
            raise ValueError("fixed_interval must be >= 0 (spacelike) for this sampler")
        ev = np.concatenate([t[:, None], radius[:, None] * _unit_vectors(groups, rng)], axis=1)
    lam = random_lorentz(groups * (members - 1), rng, beta_max, time_reversal, reflections).reshape(
        groups, members - 1, 4, 4)
    x = np.concatenate([ev[:, None], np.einsum("gmij,gj->gmi", lam, ev)], axis=1)
    s2 = _interval(ev)
    name = ("sr_fixed_interval" if fixed_interval is not None else
            "special_relativity" if time_reversal else "sr_orthochronous")
    return GroupedData(x, c=s2, feature_names=["t", "x", "y", "z"], constant_names=["s2"], name=name,
                       params=dict(seed=seed if isinstance(seed, int) else None, groups=groups, members=members,
                                   fixed_interval=fixed_interval, beta_max=beta_max,
                                   time_reversal=time_reversal, reflections=reflections,
                                   even=bool(even and fixed_interval is None)))


def central_invariants(x) -> np.ndarray:
    """(…, 4) states (x, y, vx, vy) -> (…, 4) = (L, E, A_x, A_y), m = GMm = 1: angular momentum, energy and
    the Laplace-Runge-Lenz vector (:mod:`conserve_tf.kepler`)."""
    return np.concatenate([np.stack(kepler_invariants(x), axis=-1), laplace_runge_lenz(x)], axis=-1)


def inverse_radius(x) -> np.ndarray:
    """1/r of states (N, 4): the extra read-out feature with which paper 002 recovers E."""
    x = np.asarray(x, np.float64)
    return 1.0 / np.hypot(x[:, 0], x[:, 1])


def central_potential(groups: int = 50_000, members: int = 2, seed=0, fixed_L: float | None = None
                      ) -> GroupedData:
    """Planar Kepler orbits (Eqs. (6)-(7), m = GMm = 1); members = states at random times; c = (L, E)."""
    check_counts(groups, members)
    rng = _rng(seed)
    init = draw_orbits(groups, rng, fixed_l=fixed_L)
    energy = kepler_invariants(init)[1]
    period = 2 * np.pi * (-1.0 / (2.0 * energy)) ** 1.5
    times = rng.uniform(0.0, 1.0, (groups, members)) * period[:, None]
    x = kepler_propagate(init, times)
    name = "central_potential" if fixed_L is None else "central_fixed_L"
    return GroupedData(x, c=central_invariants(init), feature_names=["x", "y", "vx", "vy"],
                       constant_names=["L", "E", "Ax", "Ay"], name=name,
                       params=dict(seed=seed if isinstance(seed, int) else None, groups=groups, members=members,
                                   fixed_L=fixed_L))


def em_invariants(x) -> np.ndarray:
    """(…, 6) fields -> (…, 2) = (E·B, |E|² - |B|²)."""
    x = np.asarray(x, np.float64)
    e, b = x[..., :3], x[..., 3:]
    return np.stack([np.sum(e * b, -1), np.sum(e * e, -1) - np.sum(b * b, -1)], -1)


def _fields_with_edotb(k, rng, c0):
    """(k, 6) fields (E, B): E ~ U(-1, 1)³ with |E| >= 0.3, B ~ U(-1, 1)³ with its component along E set so
    that E·B = c0."""
    e = np.empty((0, 3))
    while len(e) < k:
        cand = rng.uniform(-1.0, 1.0, (2 * k, 3))
        e = np.concatenate([e, cand[np.linalg.norm(cand, axis=1) >= 0.3]])
    e = e[:k]
    b = rng.uniform(-1.0, 1.0, (k, 3))
    e2 = np.sum(e * e, 1, keepdims=True)
    return np.concatenate([e, b - np.sum(b * e, 1, keepdims=True) / e2 * e + c0 / e2 * e], axis=1)


def electromagnetism(groups: int = 200_000, members: int = 2, seed=0, fixed_EdotB: float | None = None,
                     beta_max: float = 0.9, even: bool = True) -> GroupedData:
    """Fields (E, B) and their transforms F' = Λᵀ F Λ (Eqs. (9)-(10)); c = (EdotB, E2mB2).

    ``even`` (default) spreads the invariants evenly (:func:`_even`): (E·B, |E|² - |B|²) jointly over
    [-1, 1] × [-1.5, 1.5], or with ``fixed_EdotB`` |E|² - |B|² over [-1.5, 1.5]. Spreading E·B alone would
    hide |E|² - |B|² from a second bottleneck neuron (docs/siamese.md).
    """
    check_counts(groups, members)
    rng = _rng(seed)
    if fixed_EdotB is None:
        draw = lambda k, r: r.uniform(-1.0, 1.0, (k, 6))  # noqa: E731
        # even=False: the box, drawn as before ``even`` existed (E, then B), so that its data are unchanged
        fields = (_even(draw, em_invariants, groups, rng, (-1.0, -1.5), (1.0, 1.5)) if even
                  else np.concatenate(rng.uniform(-1.0, 1.0, (2, groups, 3)), axis=1))
    else:
        draw = lambda k, r: _fields_with_edotb(k, r, fixed_EdotB)  # noqa: E731
        fields = _even(draw, lambda x: em_invariants(x)[:, 1], groups, rng, -1.5, 1.5) if even else draw(groups, rng)
    e, b = fields[:, :3], fields[:, 3:]
    f = field_tensor(e, b)
    lam = random_lorentz(groups * (members - 1), rng, beta_max).reshape(groups, members - 1, 4, 4)
    f2 = np.einsum("gmai,gab,gmbj->gmij", lam, f, lam)
    x = np.concatenate([np.concatenate([e, b], 1)[:, None], fields_from_tensor(f2)], axis=1)
    name = "electromagnetism" if fixed_EdotB is None else "em_fixed_EdotB"
    return GroupedData(x, c=em_invariants(np.concatenate([e, b], 1)),
                       feature_names=["Ex", "Ey", "Ez", "Bx", "By", "Bz"], constant_names=["EdotB", "E2mB2"],
                       name=name, params=dict(seed=seed if isinstance(seed, int) else None, groups=groups,
                                              members=members, fixed_EdotB=fixed_EdotB, beta_max=beta_max,
                                              even=bool(even)))


SYSTEMS = {
    "special_relativity": lambda **kw: special_relativity(**kw),
    "sr_full_lorentz": lambda **kw: special_relativity(**kw),  # the same as special_relativity (its old name)
    "sr_orthochronous": lambda **kw: special_relativity(time_reversal=False, reflections=False, **kw),
    "sr_fixed_interval": lambda fixed_interval=1.0, **kw: special_relativity(fixed_interval=fixed_interval, **kw),
    "central_potential": lambda **kw: central_potential(**kw),
    "central_fixed_L": lambda fixed_L=-1.5, **kw: central_potential(fixed_L=fixed_L, **kw),
    "electromagnetism": lambda **kw: electromagnetism(**kw),
    "em_fixed_EdotB": lambda fixed_EdotB=0.25, **kw: electromagnetism(fixed_EdotB=fixed_EdotB, **kw),
}

#: extra read-out features per system (paper 002: E = v²/2 - 1/r appears once 1/r is offered)
EXTRA_FEATURES = {"central_potential": {"1/r": inverse_radius}, "central_fixed_L": {"1/r": inverse_radius}}


def make_system(name: str, groups: int, members: int = 2, seed=0, **options) -> GroupedData:
    """A data set by name: the six of paper 004 here, else ConservNet's (S1, S2, S2+, Kepler, ...)
    through ``conserve_tf.systems.make_system``."""
    key = str(name).strip().lower().replace("-", "_")
    key = {k.lower(): k for k in SYSTEMS}.get(key, key)
    if key in SYSTEMS:
        return SYSTEMS[key](groups=int(groups), members=int(members), seed=seed, **options)
    try:
        return cn_systems.make_system(name, groups=int(groups), members=int(members), seed=seed, **options)
    except UnknownSystemError as err:
        raise UnknownSystemError(f"unknown system {name!r}; the Siamese systems are {sorted(SYSTEMS)}; {err}") from None
