"""The three model systems of Müller 2023 (Sec. 2.3, 3.1): exact Lagrangians, accelerations, data.

A state is ``x = concat(q, qdot)``, shape ``(batch, 2 d)``. Each system offers

* ``lagrangian(x)``: the true Lagrangian in TensorFlow, ``(batch, 2 d) -> (batch,)`` (any float dtype);
* ``acceleration(x)``: the exact q̈ in closed form (NumPy), ``(batch, d)``;
* ``charges(x, p)``: dict of Noether charges for momenta p (network: ∂L_NN/∂q̇; true: ``true_momentum``)
  and ``charge_scales`` (the norms of Eqs. 35-37);
* ``training_data(n, sigma, seed)``: inputs and targets with noise σ (Sec. 3.1), NumPy float32;
* ``initial_state()`` and ``reference(t_final, dt)``: the test trajectory.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from conserve_tf.groups import UnknownSystemError
from lagrangian.invariants import angular_momentum, linear_momentum

__all__ = ["Kepler", "Schwarzschild", "TwoParticle", "get_system", "SYSTEMS", "SYMMETRIES", "LAYER_NAMES"]

SYMMETRIES = ("none", "R", "T", "RT")
# the layer class of lagrangian.symmetry that enforces each symmetry (names: that module needs Keras)
LAYER_NAMES = {"none": "NoSymmetry", "R": "RotationInvariant", "T": "TranslationInvariant",
               "RT": "RotationTranslationInvariant"}


def _tf():
    import tensorflow as tf  # delayed: the scripts check their flags against this module before TF starts

    return tf


def _rk4_numpy(f, x0, dt, n_steps):
    """Classical RK4 of ``x' = f(x)`` for ``(batch, k)`` states, returns ``(n_steps + 1, batch, k)``."""
    out = np.empty((n_steps + 1,) + x0.shape)
    out[0] = x = x0
    for i in range(n_steps):
        k1 = f(x)
        k2 = f(x + 0.5 * dt * k1)
        k3 = f(x + 0.5 * dt * k2)
        k4 = f(x + dt * k3)
        out[i + 1] = x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return out


class _System:
    name = ""
    d = 0
    dim = 3
    n_particles = 1
    symmetries = ("none", "R")
    charge_names = ("L",)
    input_scale = (1.0, 1.0)  # (length, speed) the network divides q and q̇ by (LagrangianNetwork scale)
    periodic = ()  # indices of the coordinates that are angles (LagrangianNetwork periodic); recorded data only

    def symmetry_layer(self, symmetry: str):
        """The symmetry-enforcing layer S for ``symmetry`` in none|R|T|RT."""
        from lagrangian import symmetry as sym  # delayed, like TensorFlow: symmetry layers are Keras layers

        if symmetry not in self.symmetries:
            raise ValueError(f"symmetry {symmetry!r} is not available for {self.name}; choose one of {self.symmetries}")
        return getattr(sym, LAYER_NAMES[symmetry])(dim=self.dim, n_particles=self.n_particles)

    def rhs(self, x):
        """First-order form (q̇, q̈) of ``(batch, 2 d)`` states."""
        return np.concatenate([x[:, self.d:], self.acceleration(x)], axis=1)

    def reference(self, t_final: float, dt: float, x0=None):
        """Accurate true trajectory (solve_ivp, DOP853, rtol 1e-11) at ``dt`` spacing, ``(T, 2 d)``."""
        x0 = self.initial_state() if x0 is None else np.asarray(x0, dtype=np.float64)
        n = int(round(t_final / dt))
        t = np.arange(n + 1) * dt
        sol = solve_ivp(lambda _, y: self.rhs(y[None])[0], (0.0, t[-1]), x0, t_eval=t,
                        method="DOP853", rtol=1e-11, atol=1e-12)
        return sol.y.T

    def _noisy(self, x, y, sigma, rng):
        x = x + sigma * rng.standard_normal(x.shape)
        y = y + sigma * rng.standard_normal(y.shape)
        return x.astype(np.float32), y.astype(np.float32)

    def positions(self, x):
        """Spatial positions of states ``(..., 2 d)`` (τ dropped for Schwarzschild), ``(..., n dim)``."""
        return x[..., : self.n_particles * self.dim]

    def position_gap(self, a, b):
        """Positions of states ``a`` minus those of ``b``, ``(..., n dim)`` (the distance ``dref`` measures)."""
        return self.positions(a) - self.positions(b)

    def charge_scales(self, x0, p0):
        """Norm references: C(0) itself (Eq. 35) unless overridden."""
        return self.charges(x0, p0)


class Kepler(_System):
    """A particle in the potential −α/|q| in 3D, L = m q̇²/2 + α/|q| (Eq. 13), m = α = 1.

    Bound orbit with eccentricity 0.8 in the x-y plane and L_z = 1 (Sec. 3.1.1).
    """

    name, d, dim = "kepler", 3, 3

    def __init__(self, mass=1.0, alpha=1.0, eccentricity=0.8, l_z=1.0):
        if not (mass > 0 and alpha > 0 and 0 <= eccentricity < 1 and l_z != 0):
            raise ValueError(f"a bound Kepler orbit needs mass > 0, alpha > 0, 0 <= eccentricity < 1 and l_z != 0; "
                             f"got mass={mass}, alpha={alpha}, eccentricity={eccentricity}, l_z={l_z}")
        self.mass, self.alpha, self.ecc, self.l_z = mass, alpha, eccentricity, l_z
        self.p = l_z**2 / (mass * alpha)  # semi-latus rectum

    def lagrangian(self, x):
        tf = _tf()
        q, v = x[:, :3], x[:, 3:]
        return 0.5 * self.mass * tf.reduce_sum(v * v, 1) + self.alpha / tf.norm(q, axis=1)

    def acceleration(self, x):
        q = x[:, :3]
        r = np.linalg.norm(q, axis=1, keepdims=True)
        return -self.alpha / self.mass * q / r**3

    def on_ellipse(self, phi):
        """Exact states on the orbit at azimuthal angles ``phi`` ``(n,)``, ``(n, 6)``."""
        phi = np.asarray(phi, dtype=np.float64)
        r = self.p / (1 + self.ecc * np.cos(phi))
        rdot = self.alpha * self.mass / self.l_z * self.ecc * np.sin(phi)
        phidot = self.l_z / (self.mass * r**2)
        c, s, z = np.cos(phi), np.sin(phi), np.zeros_like(phi)
        vx = rdot * c - r * phidot * s
        vy = rdot * s + r * phidot * c
        return np.stack([r * c, r * s, z, vx, vy, z], axis=1)

    def training_data(self, n, sigma=1e-3, seed=0):
        rng = np.random.default_rng(seed)
        x = self.on_ellipse(rng.uniform(-np.pi, np.pi, n))
        return self._noisy(x, self.acceleration(x), sigma, rng)

    def initial_state(self):
        return self.on_ellipse(np.zeros(1))[0]

    def true_momentum(self, x):
        return self.mass * x[..., 3:]

    def charges(self, x, p):
        return {"L": angular_momentum(x[..., :3], p, 3)}


class Schwarzschild(_System):
    """Massive particle in the Schwarzschild metric, q = (x, τ) (Eqs. 17, 18), r_s = 0.1.

    In Cartesian form L = −f τ̇² + ẋ² + (1/f − 1)(x·ẋ)²/r² with f = 1 − r_s/r. Training data are
    samples along the true trajectory (the paper integrates it with RK4, dt = 0.01; here solve_ivp
    DOP853 at rtol 1e-11 sampled every 0.01, which is at least as accurate) (Sec. 3.1.2). Charges: L = x × p_x (Eqs. 20, 21).
    """

    name, d, dim = "schwarzschild", 4, 3

    def __init__(self, r_s=0.1, r0=1.0, v0=None):
        """``r0``: initial radius (10 r_s); ``v0``: initial speed perpendicular to the radius, by default
        1.26 sqrt(r_s / (2 r0)) / sqrt(1 - r_s / r0) (1.26 times the Newtonian circular speed with the
        metric factor), the initial state of the paper's published code."""
        if v0 is None:
            v0 = 1.26 * np.sqrt(0.5 * r_s / r0) / np.sqrt(1 - r_s / r0)
        self.r_s, self.r0, self.v0 = r_s, r0, float(v0)
        self._data_traj = None

    def symmetry_layer(self, symmetry: str):
        from lagrangian.symmetry import SchwarzschildInvariant  # delayed, as in Kepler.symmetry_layer

        if symmetry not in self.symmetries:
            raise ValueError(f"symmetry {symmetry!r} is not available for {self.name}; choose one of {self.symmetries}")
        return SchwarzschildInvariant(rotation=symmetry == "R")

    def lagrangian(self, x):
        tf = _tf()
        pos, vel, tdot = x[:, 0:3], x[:, 4:7], x[:, 7]
        r2 = tf.reduce_sum(pos * pos, 1)
        f = 1 - self.r_s / tf.sqrt(r2)
        xv = tf.reduce_sum(pos * vel, 1)
        return -f * tdot**2 + tf.reduce_sum(vel * vel, 1) + (1 / f - 1) * xv**2 / r2

    def acceleration(self, x):
        """Geodesic equations: radial r̈ from Eq. (18), ẍ = (r̈ − rΩ²) x/r, τ̈ = −(f'/f) ṙ τ̇."""
        pos, vel, tdot = x[:, 0:3], x[:, 4:7], x[:, 7:8]
        r = np.linalg.norm(pos, axis=1, keepdims=True)
        f, fp = 1 - self.r_s / r, self.r_s / r**2
        rdot = np.sum(pos * vel, 1, keepdims=True) / r
        r_omega2 = (np.sum(vel * vel, 1, keepdims=True) - rdot**2) / r
        rddot = 0.5 * f * (-fp * tdot**2 + fp * rdot**2 / f**2 + 2 * r_omega2)
        xddot = (rddot - r_omega2) * pos / r
        tddot = -fp / f * rdot * tdot
        return np.concatenate([xddot, tddot], axis=1)

    def initial_state(self):
        pos, vel = np.array([self.r0, 0, 0]), np.array([0, self.v0, 0])
        f = 1 - self.r_s / self.r0
        tdot = np.sqrt((1 + vel @ vel) / f)  # g(q̇, q̇) = −1 with ṙ = 0
        return np.concatenate([pos, [0.0], vel, [tdot]])

    def training_data(self, n, sigma=1e-3, seed=0, t_final=1000.0):
        rng = np.random.default_rng(seed)
        if self._data_traj is None:
            self._data_traj = self.reference(t_final, 0.01)
        x = self._data_traj[rng.integers(0, len(self._data_traj), n)]
        return self._noisy(x, self.acceleration(x), sigma, rng)

    def true_momentum(self, x):
        return x[..., 4:]

    def charges(self, x, p):
        return {"L": angular_momentum(x[..., :3], p[..., :3], 3)}


class TwoParticle(_System):
    """Two particles in D dimensions with the double well V(r) = μr²/2 − κr⁴/4 (Eqs. 22, 23).

    m1 = 1, m2 = 0.8, μ = κ = 1 (Sec. 3.1.3). Charges: M (linear) and L (angular) of Eqs. (32, 33),
    M normalised by the first particle's momentum (Eqs. 36, 37).
    """

    name = "two_particle"
    n_particles = 2
    symmetries = SYMMETRIES
    charge_names = ("L", "M")

    def __init__(self, dim=4, m1=1.0, m2=0.8, mu=1.0, kappa=1.0):
        if dim < 2:
            raise ValueError(f"two_particle needs dim >= 2, got {dim}")
        self.dim, self.d = dim, 2 * dim
        self.m1, self.m2, self.mu, self.kappa = m1, m2, mu, kappa
        self._data_traj, self._data_every = None, None

    def lagrangian(self, x):
        tf = _tf()
        D = self.dim
        x1, x2, v1, v2 = x[:, :D], x[:, D:2 * D], x[:, 2 * D:3 * D], x[:, 3 * D:]
        r2 = tf.reduce_sum((x1 - x2) ** 2, 1)
        kin = 0.5 * self.m1 * tf.reduce_sum(v1 * v1, 1) + 0.5 * self.m2 * tf.reduce_sum(v2 * v2, 1)
        return kin - (0.5 * self.mu * r2 - 0.25 * self.kappa * r2**2)

    def acceleration(self, x):
        D = self.dim
        rel = x[:, :D] - x[:, D:2 * D]
        force = -(self.mu - self.kappa * np.sum(rel**2, 1, keepdims=True)) * rel  # on particle 1
        return np.concatenate([force / self.m1, -force / self.m2], axis=1)

    def _from_relative(self, com, rel, vcom, vrel):
        m = self.m1 + self.m2
        x1, x2 = com + self.m2 / m * rel, com - self.m1 / m * rel
        v1, v2 = vcom + self.m2 / m * vrel, vcom - self.m1 / m * vrel
        return np.concatenate([x1, x2, v1, v2], axis=-1)

    def initial_state(self):
        """Fixed state with zero total momentum and a bound relative orbit (|r| < 1)."""
        rng = np.random.default_rng(20230516)
        com = rng.normal(0, 0.2, self.dim)
        rel = rng.normal(0, 1, self.dim)
        rel *= 0.6 / np.linalg.norm(rel)
        vrel = rng.normal(0, 1, self.dim)
        vrel -= rel * (vrel @ rel) / (rel @ rel) * 0.7
        vrel *= 0.5 / np.linalg.norm(vrel)
        return self._from_relative(com, rel, np.zeros(self.dim), vrel)

    def training_data(self, n, sigma=1e-3, seed=0, sampling="trajectory", every=0.1):
        """``n`` noisy samples (Sec. 3.1.3), by ``sampling``:

        * ``"trajectory"`` (default, the paper's protocol): states every ``every`` time units along one
          long true trajectory from :meth:`initial_state` (the published code samples every 0.1 of one
          RK4 run).
        * ``"region"``: independent states around the test region, |r| ~ U(0.1, 0.95), centre of mass
          and velocities normal: a harder, global fit (docs/lagrangian.md compares the two).
        """
        if sampling == "trajectory":
            rng = np.random.default_rng(seed)
            if self._data_traj is None or len(self._data_traj) < n or self._data_every != every:
                self._data_traj, self._data_every = self.reference(n * every, every), every
            x = self._data_traj[:n]
            return self._noisy(x, self.acceleration(x), sigma, rng)
        if sampling != "region":
            raise ValueError(f"sampling must be 'trajectory' or 'region', got {sampling!r}")
        rng = np.random.default_rng(seed)
        com = rng.normal(0, 0.3, (n, self.dim))
        rel = rng.normal(0, 1, (n, self.dim))
        rel *= rng.uniform(0.1, 0.95, (n, 1)) / np.linalg.norm(rel, axis=1, keepdims=True)
        vcom = rng.normal(0, 0.1, (n, self.dim))
        vrel = rng.normal(0, 0.3, (n, self.dim))
        x = self._from_relative(com, rel, vcom, vrel)
        return self._noisy(x, self.acceleration(x), sigma, rng)

    def true_momentum(self, x):
        D = self.dim
        return np.concatenate([self.m1 * x[..., 2 * D:3 * D], self.m2 * x[..., 3 * D:]], axis=-1)

    def charges(self, x, p):
        return {"L": angular_momentum(x[..., :self.d], p, self.dim), "M": linear_momentum(p, self.dim)}

    def charge_scales(self, x0, p0):
        scales = self.charges(x0, p0)
        scales["M"] = p0[..., :self.dim]  # Eq. (37): momentum of particle 1
        return scales


SYSTEMS = {"kepler": Kepler, "schwarzschild": Schwarzschild, "two_particle": TwoParticle}


def get_system(name: str, **kwargs):
    """A system by name: kepler | schwarzschild | two_particle."""
    if name not in SYSTEMS:
        raise UnknownSystemError(f"unknown system {name!r}; choose one of {sorted(SYSTEMS)}")
    return SYSTEMS[name](**kwargs)
