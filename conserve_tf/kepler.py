"""The planar Kepler problem with m = GM = 1: the one place its physics is written.

State x (..., 4) = (x, y, v_x, v_y); H = v²/2 − 1/r, Hamilton's equations ẋ = v, v̇ = −x/r³.

* :func:`kepler_invariants` -- angular momentum L = x v_y − y v_x and energy E = v²/2 − 1/r;
* :func:`laplace_runge_lenz` -- A = v × L ẑ − r̂ = (L v_y − x/r, −L v_x − y/r): |A| is the eccentricity
  e = sqrt(1 + 2 E L²) and A points to the periapsis, so its direction is a third invariant;
* :func:`kepler_rhs` -- the right-hand side of Hamilton's equations, for ``scipy.integrate.solve_ivp``;
* :func:`kepler_propagate` -- the exact solution of bound orbits (Kepler's equation and Lagrange's f, g);
* :func:`draw_orbits` -- random bound initial states within :data:`ORBIT_LIMITS` (the ranges of the
  ConservNet paper's published Kepler data), shared by ConservNet's and the Siamese network's data.

Used by the ConservNet data sets (:mod:`conserve_tf.physical`), the read-out of several invariants
(:mod:`conserve_tf.invariants`) and the Siamese central-potential data (:mod:`siamese.systems`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["kepler_invariants", "laplace_runge_lenz", "kepler_rhs", "kepler_propagate", "eccentricity",
           "ORBIT_LIMITS", "accept_orbits", "draw_orbits"]

#: Orbit acceptance matched to the published ConservNet Kepler data (E in [-0.35, -0.014], positions within
#: about [-7, 27], speeds within 1.5): loosely bound orbits only.
ORBIT_LIMITS = {"max_eccentricity": 0.99, "max_apoapsis": 27.0, "min_energy": -0.35, "max_energy": -0.014,
                "max_speed": 1.5}


def _states(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1] != 4:
        raise ValueError(f"Kepler states need 4 features (x, y, vx, vy), got {x.shape[-1]}")
    return x


def kepler_invariants(x) -> tuple[np.ndarray, np.ndarray]:
    """(L, E) of states x (..., 4): L = x v_y − y v_x, E = v²/2 − 1/r; each of shape (...)."""
    x = _states(x)
    px, py, vx, vy = (x[..., i] for i in range(4))
    return px * vy - py * vx, 0.5 * (vx**2 + vy**2) - 1.0 / np.hypot(px, py)


def eccentricity(x) -> np.ndarray:
    """e = sqrt(1 + 2 E L²) of states x (..., 4) -> (...) (0 circle, < 1 ellipse, >= 1 unbound)."""
    L, E = kepler_invariants(x)
    return np.sqrt(np.maximum(1.0 + 2.0 * E * L**2, 0.0))


def laplace_runge_lenz(x) -> np.ndarray:
    """The Laplace-Runge-Lenz vector of states x (..., 4) -> (..., 2) = (L v_y − x/r, −L v_x − y/r)."""
    x = _states(x)
    px, py, vx, vy = (x[..., i] for i in range(4))
    ang, r = px * vy - py * vx, np.hypot(px, py)
    return np.stack([vy * ang - px / r, -vx * ang - py / r], axis=-1)


def kepler_rhs(_, y):
    """dy/dt = (v_x, v_y, −x/r³, −y/r³) of one state y (4,) (or states (4, n)), for ``solve_ivp``."""
    r3 = np.hypot(y[0], y[1]) ** 3
    return np.array([y[2], y[3], -y[0] / r3, -y[1] / r3])


def kepler_propagate(states, times, iterations: int = 60) -> np.ndarray:
    """Exact bound orbits: states (n, 4) at t = 0 -> (n, M, 4) at times (n, M).

    With a = −1/(2E), mean motion n = a^(-3/2), σ0 = r0·v0, Kepler's equation in the eccentric-anomaly
    difference ΔE, n t = ΔE − (1 − r0/a) sin ΔE + σ0/sqrt(a) (1 − cos ΔE), is solved by Newton's method
    kept inside a bisection bracket; then x(t) = f x0 + g v0, v(t) = ḟ x0 + ġ v0 (Lagrange's f and g).
    The invariants hold to rounding, at any t, in milliseconds for 10⁵ orbits.
    """
    s = _states(states)
    t = np.asarray(times, np.float64)
    r0 = np.hypot(s[:, 0], s[:, 1])[:, None]
    sigma = (s[:, 0] * s[:, 2] + s[:, 1] * s[:, 3])[:, None]
    energy = kepler_invariants(s)[1][:, None]
    if np.any(energy >= 0):
        raise ValueError("kepler_propagate needs bound orbits (E < 0)")
    a = -0.5 / energy
    mean = np.mod(t * a**-1.5, 2 * np.pi)
    # F(ΔE) is increasing (F' = r/a > 0) with F(0) <= 0 <= F(2π): Newton kept inside a bisection bracket
    lo, hi = np.zeros_like(mean), np.full_like(mean, 2 * np.pi)
    de = mean.copy()
    for _ in range(iterations):
        f_val = de - (1 - r0 / a) * np.sin(de) + sigma / np.sqrt(a) * (1 - np.cos(de)) - mean
        lo, hi = np.where(f_val < 0, de, lo), np.where(f_val > 0, de, hi)
        new = de - f_val / (1 - (1 - r0 / a) * np.cos(de) + sigma / np.sqrt(a) * np.sin(de))
        new = np.where((new <= lo) | (new >= hi), 0.5 * (lo + hi), new)
        done = np.max(np.abs(new - de)) < 1e-14
        de = new
        if done:
            break
    r = a + (r0 - a) * np.cos(de) + sigma * np.sqrt(a) * np.sin(de)
    f = 1 - a / r0 * (1 - np.cos(de))
    g = mean * a**1.5 - a**1.5 * (de - np.sin(de))
    fdot = -np.sqrt(a) * np.sin(de) / (r * r0)
    gdot = 1 - a / r * (1 - np.cos(de))
    pos = f[..., None] * s[:, None, :2] + g[..., None] * s[:, None, 2:]
    vel = fdot[..., None] * s[:, None, :2] + gdot[..., None] * s[:, None, 2:]
    return np.concatenate([pos, vel], axis=-1)


def accept_orbits(states, max_eccentricity, max_apoapsis, min_energy=-np.inf, max_energy=0.0, max_speed=np.inf):
    """Bound orbits with e < max_eccentricity, apoapsis a (1 + e) <= max_apoapsis, E in [min_energy, max_energy]
    and periapsis speed (the largest along the orbit) <= max_speed; states (B, 4) -> (B,) bool."""
    L, E = kepler_invariants(states)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.sqrt(np.maximum(1.0 + 2.0 * E * L**2, 0.0))
        a = -1.0 / (2.0 * E)
        v_peri = np.sqrt(np.maximum(2.0 * E + 2.0 / (a * (1.0 - e)), 0.0))
        ok = ((E < 0) & (E >= min_energy) & (E <= max_energy) & (e < max_eccentricity)
              & (a * (1.0 + e) <= max_apoapsis) & (v_peri <= max_speed))
    return ok


def draw_orbits(n: int, rng, limits: dict | None = None, fixed_l: float | None = None, low: float = -5.0,
                high: float = 5.0) -> np.ndarray:
    """n initial states (n, 4) by rejection sampling within ``limits`` (default :data:`ORBIT_LIMITS`).

    Position ~ U(low, high)², velocity ~ U(-v, v)² with v = ``limits["max_speed"]``; with ``fixed_l`` the
    radial speed is ~ U(-v, v) and the tangential speed L / r, so every orbit has angular momentum L.
    ``rng`` is a ``numpy.random.Generator``; candidates are drawn 4096 at a time.
    """
    limits = {**ORBIT_LIMITS, **(limits or {})}
    speed = limits["max_speed"]
    found, tries = [], 0
    while sum(len(f) for f in found) < n:
        tries += 1
        if tries > 10_000:
            with_l = f" with angular momentum {fixed_l}" if fixed_l is not None else ""
            raise ValueError(f"could not draw enough orbits{with_l} within {limits}; loosen the limits")
        cand = np.concatenate([rng.uniform(low, high, size=(4096, 2)),
                               rng.uniform(-speed, speed, size=(4096, 2))], axis=1)
        if fixed_l is not None:
            r = np.hypot(cand[:, 0], cand[:, 1])
            rhat = cand[:, :2] / r[:, None]
            that = np.stack([-rhat[:, 1], rhat[:, 0]], axis=1)
            v = cand[:, 2:3] * rhat + (fixed_l / r)[:, None] * that
            cand = np.concatenate([cand[:, :2], v], axis=1)
        found.append(cand[accept_orbits(cand, **limits)])
    return np.concatenate(found)[:n]
