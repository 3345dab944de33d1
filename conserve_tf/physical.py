"""Physical systems of the ConservNet paper (Ha & Jeong 2021, papers 000/001, appendix D, Table II).

Every generator returns a :class:`~conserve_tf.groups.GroupedData` with ``x`` of shape
``(groups G, members M, features F)``: one group is one trajectory (one orbit), its members are
points along it. The true constants ``c`` are computed from each group's initial state; ``scale``
holds the paper's per-feature input factors; ``params`` records every parameter.

Ground truth comes from ``scipy.integrate.solve_ivp`` (DOP853, rtol = atol = 1e-12) by default;
``integrator="euler"`` reproduces the paper's explicit Euler scheme (dt = 0.01), along which the
invariants drift (``c`` then still holds the initial-state value). ``noise=s`` adds N(0, s)
measurement noise to the stored (unscaled) inputs, seeded from ``seed`` (Fig. 3a).

Systems
-------
* :func:`lotka_volterra` -- dx/dt = αx − γxy, dy/dt = −βy + δxy, (α, β, δ, γ) = (1.1, 0.4, 0.1, 0.4),
  invariant C = α ln y + β ln x − γ y − δ x (the paper's print permutes the letters), x, y ~ U(1, 10),
  one point per time unit (t = 0, 1, ..., M − 1), scale (0.1, 0.1).
* :func:`kepler` -- m = GM = 1, features (x, y, v_x, v_y), constants L = x v_y − y v_x and
  E = v²/2 − 1/r (c of shape (G, 2), L first), scale (0.1, 0.1, 1, 1).
* :func:`kepler_fixed_l` -- the same with every orbit at L = −1.5 (appendix G); c is E alone.
* :func:`kepler_plus` -- the orbits of :func:`kepler` in polar coordinates (r, ṙ, θ, θ̇).

Kepler sampling (loosely bound orbits, as in the published data: E in [-0.35, -0.014], positions within
about [-7, 27], speeds within 1.5): initial position ~ U(−5, 5)², velocity ~ U(−1.5, 1.5)²; a draw is
rejected when the orbit is unbound, too eccentric (e >= ``max_eccentricity`` = 0.99, e = sqrt(1 + 2 E L²)),
reaches beyond ``max_apoapsis`` = 27, has E outside [-0.35, -0.014] or a periapsis speed above 1.5
(``KEPLER_LIMITS``, drawn by :func:`conserve_tf.kepler.draw_orbits`).
Members are taken at M equally spaced times over one orbital period T = 2π a^{3/2}, a = −1/(2E),
starting at the initial state, so every group covers its whole ellipse.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from conserve_tf.groups import GroupedData, check_counts
from conserve_tf.kepler import ORBIT_LIMITS, draw_orbits, kepler_invariants, kepler_rhs

__all__ = [
    "LV_PARAMS",
    "KEPLER_LIMITS",
    "lotka_volterra",
    "lotka_volterra_invariant",
    "kepler",
    "kepler_fixed_l",
    "kepler_plus",
    "kepler_invariants",
    "cartesian_to_polar",
    "polar_to_cartesian",
]

LV_PARAMS = {"alpha": 1.1, "beta": 0.4, "delta": 0.1, "gamma": 0.4}
_RTOL = _ATOL = 1e-12
_DT = 0.01


# ----------------------------------------------------------------------------- checks
def _check_common(groups, members, integrator, noise) -> tuple[int, int]:
    groups, members = check_counts(groups, members)
    if integrator not in ("solve_ivp", "euler"):
        raise ValueError(f"integrator must be 'solve_ivp' or 'euler', got {integrator!r}")
    if not np.isscalar(noise) or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0 (std of the measurement noise), got {noise!r}")
    return groups, members


def _add_noise(x: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """x + N(0, noise) element-wise, from a stream independent of the initial-condition draws."""
    if noise == 0:
        return x
    return x + np.random.default_rng([int(seed), 1]).normal(0.0, noise, size=x.shape)


def _initial_states(draw, value, low: float, high: float, count: int, what: str) -> np.ndarray:
    """``count`` states (count, D) kept in the order drawn from batches ``draw(4 * count)`` (n, D) whose
    ``value`` (n,) lies in [low, high]; a ValueError naming ``what`` when 10 000 batches hold too few."""
    kept = None
    for _ in range(10_000):
        cand = draw(4 * count)
        v = value(cand)
        ok = cand[(v >= low) & (v <= high)]
        kept = ok if kept is None else np.concatenate([kept, ok])
        if len(kept) >= count:
            return kept[:count]
    raise ValueError(f"no {what} in [{low}, {high}]")


# ----------------------------------------------------------------------------- integration
def _integrate(rhs, y0: np.ndarray, times: np.ndarray, integrator: str) -> np.ndarray:
    """Integrate the batched ODE dy/dt = rhs(y), y (B, D), and return states at ``times``.

    ``times`` is (B, M) (per-trajectory sample times, starting at 0). Returns (B, M, D).
    solve_ivp: DOP853 (rtol = atol = 1e-12), one stacked solve when all rows of ``times`` agree,
    else one solve per trajectory. Euler: all trajectories at once
    with dt = 0.01, keeping the step nearest to each requested time.
    """
    b, d = y0.shape
    out = np.empty((b, times.shape[1], d))
    if integrator == "solve_ivp" and np.all(times == times[:1]):
        # common sample times: one stacked solve of all B trajectories (B * D equations)
        sol = solve_ivp(lambda t, y: rhs(y.reshape(b, d)).ravel(), (0.0, times[0, -1]), y0.ravel(),
                        method="DOP853", t_eval=times[0], rtol=_RTOL, atol=_ATOL)
        if not sol.success:  # pragma: no cover
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        return sol.y.T.reshape(times.shape[1], b, d).transpose(1, 0, 2)
    if integrator == "solve_ivp":
        for i in range(b):
            sol = solve_ivp(lambda t, y: rhs(y[None, :])[0], (0.0, times[i, -1]), y0[i], method="DOP853",
                            t_eval=times[i], rtol=_RTOL, atol=_ATOL)
            if not sol.success:  # pragma: no cover - DOP853 on these smooth systems does not fail
                raise RuntimeError(f"solve_ivp failed on trajectory {i}: {sol.message}")
            out[i] = sol.y.T
        return out
    steps = np.rint(times / _DT).astype(np.int64)  # (B, M) step index of every kept point
    y = y0.astype(np.float64).copy()
    for n in range(int(steps.max()) + 1):
        hit = steps == n
        if hit.any():
            bi, mi = np.nonzero(hit)
            out[bi, mi] = y[bi]
        y = y + _DT * rhs(y)
    return out


# ----------------------------------------------------------------------------- Lotka-Volterra
def lotka_volterra_invariant(x: np.ndarray, alpha=1.1, beta=0.4, delta=0.1, gamma=0.4) -> np.ndarray:
    """C = α ln y + β ln x − γ y − δ x for states x (..., 2) = (x, y), unscaled. Returns (...)."""
    x = np.asarray(x, dtype=np.float64)
    return alpha * np.log(x[..., 1]) + beta * np.log(x[..., 0]) - gamma * x[..., 1] - delta * x[..., 0]


def lotka_volterra(groups: int = 20, members: int = 100, seed: int = 0, integrator: str = "solve_ivp",
                   noise: float = 0.0, min_c: float = -1.25, max_c: float = 0.12) -> GroupedData:
    """Lotka-Volterra populations (Table II of Ha & Jeong 2021): x (G, M, 2) = (x, y), c (G,) = C.

    dx/dt = αx − γxy, dy/dt = −βy + δxy with (α, β, δ, γ) = (1.1, 0.4, 0.1, 0.4); initial x, y ~ U(1, 10),
    redrawn while C lies outside [``min_c``, ``max_c``], the range of the published data (C in [-1.25, 0.12],
    x in [0.04, 25.5], y in [0.3, 9.8]; the draw alone reaches C = 0.167 at the fixed point (4, 2.75), where
    the orbits shrink to a point); members at t = 0, 1, ..., M − 1 (the paper: Euler with dt = 0.01 for
    100 M steps, every 100th kept).
    """
    g, m = _check_common(groups, members, integrator, noise)
    p = LV_PARAMS
    rng = np.random.default_rng(seed)
    y0 = _initial_states(lambda n: rng.uniform(1.0, 10.0, size=(n, 2)), lambda s: lotka_volterra_invariant(s, **p),
                         min_c, max_c, g, "initial state in [1, 10]² with C")

    def rhs(s):
        x, y = s[:, 0], s[:, 1]
        return np.stack([p["alpha"] * x - p["gamma"] * x * y, -p["beta"] * y + p["delta"] * x * y], axis=1)

    times = np.tile(np.arange(m, dtype=np.float64), (g, 1))
    x = _integrate(rhs, y0, times, integrator)
    c = lotka_volterra_invariant(y0, **p)
    params = dict(system="lotka_volterra", groups=g, members=m, seed=seed, integrator=integrator,
                  noise=float(noise), dt=_DT if integrator == "euler" else None, sample_interval=1.0,
                  rtol=_RTOL, atol=_ATOL, init_low=1.0, init_high=10.0, min_c=float(min_c), max_c=float(max_c),
                  **p)
    return GroupedData(_add_noise(x, noise, seed), c=c, feature_names=["x", "y"], constant_names=["C"],
                       name="lotka_volterra", scale=np.array([0.1, 0.1]), params=params)


# ----------------------------------------------------------------------------- Kepler
KEPLER_LIMITS = ORBIT_LIMITS  # the acceptance of the Kepler generators (conserve_tf.kepler.ORBIT_LIMITS)


def _kepler_orbits(groups, members, seed, integrator, max_eccentricity, max_apoapsis, fixed_l=None):
    if not 0 < max_eccentricity < 1:
        raise ValueError(f"max_eccentricity must lie in (0, 1) for bound orbits, got {max_eccentricity!r}")
    if not max_apoapsis > 0:
        raise ValueError(f"max_apoapsis must be > 0, got {max_apoapsis!r}")
    rng = np.random.default_rng(seed)
    limits = {**KEPLER_LIMITS, "max_eccentricity": max_eccentricity, "max_apoapsis": max_apoapsis}
    y0 = draw_orbits(groups, rng, limits, fixed_l)
    L, E = kepler_invariants(y0)
    period = 2.0 * np.pi * (-1.0 / (2.0 * E)) ** 1.5
    times = period[:, None] * np.arange(members)[None, :] / members
    return _integrate(lambda states: kepler_rhs(None, states.T).T, y0, times, integrator), L, E, period


def _kepler_params(name, g, m, seed, integrator, noise, max_eccentricity, max_apoapsis, period, **extra):
    return dict(system=name, groups=g, members=m, seed=seed, integrator=integrator, noise=float(noise),
                dt=_DT if integrator == "euler" else None, rtol=_RTOL, atol=_ATOL, GM=1.0, mass=1.0,
                init_low=-5.0, init_high=5.0,
                **{**KEPLER_LIMITS, "max_eccentricity": max_eccentricity, "max_apoapsis": max_apoapsis},
                sampling="M equally spaced times over one period", periods=period.tolist(), **extra)


def kepler(groups: int = 20, members: int = 100, seed: int = 0, integrator: str = "solve_ivp",
           noise: float = 0.0, max_eccentricity: float = 0.99, max_apoapsis: float = 27.0) -> GroupedData:
    """Kepler orbits (m = GM = 1): x (G, M, 4) = (x, y, v_x, v_y); c (G, 2) = (L, E), L first.

    L = x v_y − y v_x (the invariant ConservNet finds first), E = v²/2 − 1/r. Scale (0.1, 0.1, 1, 1).
    """
    g, m = _check_common(groups, members, integrator, noise)
    x, L, E, period = _kepler_orbits(g, m, seed, integrator, max_eccentricity, max_apoapsis)
    params = _kepler_params("kepler", g, m, seed, integrator, noise, max_eccentricity, max_apoapsis, period)
    return GroupedData(_add_noise(x, noise, seed), c=np.stack([L, E], axis=1), feature_names=["x", "y", "vx", "vy"],
                       constant_names=["L", "E"], name="kepler", scale=np.array([0.1, 0.1, 1.0, 1.0]),
                       params=params)


def kepler_fixed_l(groups: int = 20, members: int = 100, seed: int = 0, integrator: str = "solve_ivp",
                   noise: float = 0.0, L: float = -1.5, max_eccentricity: float = 0.99,
                   max_apoapsis: float = 27.0) -> GroupedData:
    """Kepler orbits all with angular momentum L (appendix G: L = −1.5); c (G,) = E alone.

    Initial position (x, y) ~ U(−5, 5)², radial speed ~ U(−1.5, 1.5); tangential speed L / r. Features and scale
    as :func:`kepler`; ``params["L"]`` records the fixed L.
    """
    g, m = _check_common(groups, members, integrator, noise)
    if not np.isfinite(L) or L == 0:
        raise ValueError(f"L must be a finite non-zero angular momentum, got {L!r}")
    x, _, E, period = _kepler_orbits(g, m, seed, integrator, max_eccentricity, max_apoapsis, fixed_l=float(L))
    params = _kepler_params("kepler_fixed_l", g, m, seed, integrator, noise, max_eccentricity, max_apoapsis,
                            period, L=float(L))
    return GroupedData(_add_noise(x, noise, seed), c=E, feature_names=["x", "y", "vx", "vy"],
                       constant_names=["E"], name="kepler_fixed_l", scale=np.array([0.1, 0.1, 1.0, 1.0]),
                       params=params)


def cartesian_to_polar(x: np.ndarray) -> np.ndarray:
    """(x, y, v_x, v_y) (..., 4) -> (r, ṙ, θ, θ̇) (..., 4); θ = atan2(y, x) in (−π, π]."""
    x = np.asarray(x, dtype=np.float64)
    px, py, vx, vy = (x[..., i] for i in range(4))
    r = np.hypot(px, py)
    return np.stack([r, (px * vx + py * vy) / r, np.arctan2(py, px), (px * vy - py * vx) / r**2], axis=-1)


def polar_to_cartesian(p: np.ndarray) -> np.ndarray:
    """(r, ṙ, θ, θ̇) (..., 4) -> (x, y, v_x, v_y) (..., 4); inverse of :func:`cartesian_to_polar`."""
    p = np.asarray(p, dtype=np.float64)
    r, rd, th, thd = (p[..., i] for i in range(4))
    c, s = np.cos(th), np.sin(th)
    return np.stack([r * c, r * s, rd * c - r * thd * s, rd * s + r * thd * c], axis=-1)


def kepler_plus(groups: int = 20, members: int = 100, seed: int = 0, integrator: str = "solve_ivp",
                noise: float = 0.0, max_eccentricity: float = 0.99, max_apoapsis: float = 27.0) -> GroupedData:
    """Kepler+: the orbits of :func:`kepler` (same seed, same orbits) in polar coordinates.

    x (G, M, 4) = (r, ṙ, θ, θ̇), θ = atan2(y, x); c (G, 2) = (L, E) with L = r² θ̇, E = (ṙ² + r² θ̇²)/2 − 1/r.
    Scale (0.1, 1, 1, 1): r like the Cartesian positions; θ̇ = L / r² is left unscaled although it
    exceeds 10 at the periapsis of the most eccentric orbits (about 1 % of the points at (20, 100)):
    its median is about 0.2, which a factor 0.1 would squash. Noise is added in polar coordinates.
    """
    g, m = _check_common(groups, members, integrator, noise)
    x, L, E, period = _kepler_orbits(g, m, seed, integrator, max_eccentricity, max_apoapsis)
    params = _kepler_params("kepler_plus", g, m, seed, integrator, noise, max_eccentricity, max_apoapsis, period)
    return GroupedData(_add_noise(cartesian_to_polar(x), noise, seed), c=np.stack([L, E], axis=1),
                       feature_names=["r", "rdot", "theta", "thetadot"], constant_names=["L", "E"],
                       name="kepler_plus", scale=np.array([0.1, 1.0, 1.0, 1.0]), params=params)
