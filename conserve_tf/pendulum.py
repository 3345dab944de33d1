"""The measured double pendulum of Schmidt & Lipson (Science 324, 81, 2009), as used by ConservNet.

Ha & Jeong 2021 (appendix D.3, Fig. 4) train on trial 0 of the measured trajectories: the first 80 % of
its rows train, the rest test, with ω1, ω2 scaled by 0.1. The file ships with the package
(``conserve_tf/data/double_pendulum.txt``, see ``conserve_tf/data/README.md`` for the attribution).

Every loader returns a :class:`~conserve_tf.groups.GroupedData` with ONE group: ``x`` (1, M, 4) holds the
states (θ1, θ2, ω1, ω2) in rad and rad/s, unscaled; ``scale`` = (1, 1, 0.1, 0.1) is the paper's input
scaling; there are no true constants. The measurement times (M,) in seconds are in
``params["times"]`` (a NumPy array), the rows of the file in ``params["rows"]`` (start, stop).

One measured trajectory holds one value of the energy, so a network trained on it cannot single the
energy out (docs/symbolic.md). :func:`simulated_double_pendulum` draws many trajectories of the ideal
point-mass pendulum instead, one group per trajectory, with the energy as the group's constant
(``make_system("double_pendulum_sim")``).
"""

from __future__ import annotations

import os
from importlib import resources

import numpy as np

from conserve_tf.groups import GroupedData
from conserve_tf.physical import _add_noise, _check_common, _initial_states, _integrate

__all__ = [
    "FEATURES",
    "load_double_pendulum",
    "double_pendulum_split",
    "double_pendulum_energy",
    "double_pendulum_energy_features",
    "double_pendulum_rhs",
    "simulated_double_pendulum",
]

FEATURES = ("theta1", "theta2", "omega1", "omega2")
_COLUMNS = ("trial", "time", "t1", "t2", "o1", "o2")  # columns the loader needs
_SCALE = np.array([1.0, 1.0, 0.1, 0.1])


def _read_table(path) -> tuple[str, dict]:
    """Parse the space-separated file into {column: float array}; clear ValueErrors for bad files."""
    if path is None:
        ref = resources.files("conserve_tf") / "data" / "double_pendulum.txt"
        name = "double_pendulum.txt (shipped)"
        text = ref.read_text(encoding="utf-8")
    else:
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such double-pendulum file: {path}")
        name = path
        with open(path, encoding="utf-8", newline=None) as fh:  # universal newlines: CRLF or LF
            text = fh.read()
    lines = [(i, ln.split()) for i, ln in enumerate(text.splitlines(), start=1) if ln.strip()]
    if not lines:
        raise ValueError(f"{name}: the file is empty; expected a header 'trial time t1 t2 o1 o2 ...' and rows")
    header = lines[0][1]
    missing = [c for c in _COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{name}: missing column(s) {missing} in the header {header}; "
                         f"expected at least {list(_COLUMNS)}")
    if len(lines) == 1:
        raise ValueError(f"{name}: the file has a header but no data rows")
    want = {c: header.index(c) for c in _COLUMNS}
    values = np.empty((len(lines) - 1, len(_COLUMNS)))
    for r, (lineno, fields) in enumerate(lines[1:]):
        if len(fields) != len(header):
            raise ValueError(f"{name}: line {lineno} has {len(fields)} fields, the header has {len(header)}")
        for j, col in enumerate(_COLUMNS):
            try:
                v = float(fields[want[col]])
            except ValueError:
                raise ValueError(f"{name}: line {lineno}, column {col!r}: non-numeric value "
                                 f"{fields[want[col]]!r}") from None
            if not np.isfinite(v):
                raise ValueError(f"{name}: line {lineno}, column {col!r}: non-finite value {v}")
            values[r, j] = v
    return name, {c: values[:, j] for j, c in enumerate(_COLUMNS)}


def load_double_pendulum(trial: int = 0, path=None) -> GroupedData:
    """One trial of the measured double pendulum as ONE group.

    Args:
      trial: trial number in the file's ``trial`` column (the shipped file has 0 and 1).
      path: a file in the same format; None loads the shipped Schmidt & Lipson data.
    Returns:
      GroupedData with x (1, M, 4) = (θ1, θ2, ω1, ω2), scale (1, 1, 0.1, 0.1), no constants,
      ``params["times"]`` (M,) in s. Trial 0 of the shipped file has M = 819 (t = 0 to 8.86 s).
    """
    name, cols = _read_table(path)
    trials = sorted({int(t) for t in cols["trial"]})
    if isinstance(trial, bool) or not isinstance(trial, (int, np.integer)) or int(trial) not in trials:
        raise ValueError(f"{name}: unknown trial {trial!r}; the file holds trials {trials}")
    idx = np.nonzero(cols["trial"] == int(trial))[0]
    if idx.size < 2:
        raise ValueError(f"{name}: trial {trial} has {idx.size} row(s); at least two are needed")
    x = np.stack([cols[c][idx] for c in ("t1", "t2", "o1", "o2")], axis=1)
    params = dict(system="double_pendulum", source=name, trial=int(trial), times=cols["time"][idx].copy(),
                  rows=(int(idx[0]), int(idx[-1]) + 1))
    return GroupedData(x[None], feature_names=list(FEATURES), name="double_pendulum", scale=_SCALE.copy(),
                       params=params)


def double_pendulum_split(train_fraction: float = 0.8, trial: int = 0, path=None):
    """The paper's split (appendix D.3): the first ``floor(train_fraction * M)`` rows train, the rest test.

    For trial 0 of the shipped file (M = 819) that is 655 training and 164 test rows (the paper writes
    654 and 154 from a count of 818 rows; 154 is an arithmetic slip). Both parts keep scale
    (1, 1, 0.1, 0.1) -- ω1, ω2 scaled by 0.1 -- and their own ``params["times"]``.
    Returns (train, test), each a one-group GroupedData.
    """
    if not np.isscalar(train_fraction) or not 0.0 < float(train_fraction) < 1.0:
        raise ValueError(f"train_fraction must lie strictly between 0 and 1, got {train_fraction!r}")
    data = load_double_pendulum(trial=trial, path=path)
    m = data.n_members
    n_train = int(np.floor(float(train_fraction) * m))
    if n_train < 2 or m - n_train < 2:
        raise ValueError(f"train_fraction={train_fraction} leaves {n_train} of {m} rows for training: "
                         "both parts need at least two rows")
    times, (start, _) = data.params["times"], data.params["rows"]

    def part(sl, label):
        p = {**data.params, "times": times[sl].copy(), "part": label, "train_fraction": float(train_fraction),
             "rows": (start + (sl.start or 0), start + (sl.stop if sl.stop is not None else m))}
        return data.replace(x=data.x[:, sl], params=p, name=f"double_pendulum_{label}")

    return part(slice(0, n_train), "train"), part(slice(n_train, None), "test")


def double_pendulum_energy(x, m1: float = 1.0, m2: float = 1.0, l1: float = 1.0, l2: float = 1.0,
                           g: float = 9.81) -> np.ndarray:
    """Energy E of the ideal point-mass double pendulum (Table I of Ha & Jeong, corrected form).

    2E = (m1 + m2) l1² ω1² + m2 l2² ω2² + 2 m2 l1 l2 ω1 ω2 cos(θ1 − θ2)
         − 2 (m1 + m2) g l1 cos θ1 − 2 m2 g l2 cos θ2.
    x: (..., 4) states (θ1, θ2, ω1, ω2), unscaled, angles from the downward vertical. Returns E (...).
    Broadcasts, so a grid of states (for heat maps) works directly.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1:] != (4,):
        raise ValueError(f"states must have a last axis of 4 (theta1, theta2, omega1, omega2), got shape {x.shape}")
    t1, t2, w1, w2 = (x[..., i] for i in range(4))
    two_e = ((m1 + m2) * l1**2 * w1**2 + m2 * l2**2 * w2**2 + 2 * m2 * l1 * l2 * w1 * w2 * np.cos(t1 - t2)
             - 2 * (m1 + m2) * g * l1 * np.cos(t1) - 2 * m2 * g * l2 * np.cos(t2))
    return 0.5 * two_e


def double_pendulum_energy_features(x) -> np.ndarray:
    """The five terms the ideal energy is linear in: (ω1², ω2², ω1 ω2 cos(θ1 − θ2), cos θ1, cos θ2).

    x: (..., 4) states (θ1, θ2, ω1, ω2). Returns (..., 5). A least-squares fit of a learned output on
    these columns (plus a constant) recovers the physical form of the energy for heat-map comparison.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1:] != (4,):
        raise ValueError(f"states must have a last axis of 4 (theta1, theta2, omega1, omega2), got shape {x.shape}")
    t1, t2, w1, w2 = (x[..., i] for i in range(4))
    return np.stack([w1**2, w2**2, w1 * w2 * np.cos(t1 - t2), np.cos(t1), np.cos(t2)], axis=-1)


def double_pendulum_rhs(s, m1: float = 1.0, m2: float = 1.0, l1: float = 1.0, l2: float = 1.0,
                        g: float = 9.81) -> np.ndarray:
    """d/dt of states s (B, 4) = (θ1, θ2, ω1, ω2) of the ideal double pendulum: (B, 4).

    The Euler-Lagrange equations of the energy of :func:`double_pendulum_energy`, δ = θ1 − θ2:
    [[(m1 + m2) l1², m2 l1 l2 cos δ], [m2 l1 l2 cos δ, m2 l2²]] (ω1', ω2') =
    (−m2 l1 l2 ω2² sin δ − (m1 + m2) g l1 sin θ1, m2 l1 l2 ω1² sin δ − m2 g l2 sin θ2).
    """
    t1, t2, w1, w2 = (s[:, i] for i in range(4))
    d = t1 - t2
    a11, a12, a22 = (m1 + m2) * l1 ** 2, m2 * l1 * l2 * np.cos(d), m2 * l2 ** 2
    b1 = -m2 * l1 * l2 * w2 ** 2 * np.sin(d) - (m1 + m2) * g * l1 * np.sin(t1)
    b2 = m2 * l1 * l2 * w1 ** 2 * np.sin(d) - m2 * g * l2 * np.sin(t2)
    det = a11 * a22 - a12 ** 2
    return np.stack([w1, w2, (a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det], axis=1)


def simulated_double_pendulum(groups: int = 20, members: int = 100, seed: int = 0, energy=(-9.81, 19.62),
                              horizon: float = 100.0, noise: float = 0.0) -> GroupedData:
    """Trajectories of the ideal double pendulum (m1 = m2 = l1 = l2 = 1, g = 9.81), one group each.

    Each trajectory is released from rest at angles θ1, θ2 ~ U(−π, π), kept when its energy E lies in
    ``energy`` (default [−g, 2g]: the pendulum swings over large angles and chaotically, so E is its only
    invariant; nearer the bottom, E < −g, the motion is close to two independent normal modes whose
    energies are both nearly conserved). Members at M equally spaced times t = k · horizon / M,
    k = 0 … M − 1, from ``scipy.integrate.solve_ivp`` (DOP853, rtol = atol = 1e-12); angles wrapped to
    [−π, π). ``noise`` adds N(0, noise) to the stored states.
    Returns GroupedData: x (G, M, 4) = (θ1, θ2, ω1, ω2), c (G,) = E, scale (1, 1, 0.1, 0.1) (the paper's
    factors for the measured pendulum).
    """
    g, m = _check_common(groups, members, "solve_ivp", noise)
    low, high = (float(v) for v in energy)
    if not -29.43 < low < high:
        raise ValueError(f"energy must be a range (low, high) with -3g = -29.43 < low < high, got {energy!r}")
    if not np.isfinite(horizon) or horizon <= 0:
        raise ValueError(f"horizon must be a positive time in seconds, got {horizon!r}")
    rng = np.random.default_rng(seed)
    y0 = _initial_states(lambda n: np.column_stack([rng.uniform(-np.pi, np.pi, size=(n, 2)), np.zeros((n, 2))]),
                         double_pendulum_energy, low, high, g, "state released from rest with an energy")
    times = np.tile(np.arange(m) * (float(horizon) / m), (g, 1))
    x = _integrate(double_pendulum_rhs, y0, times, "solve_ivp")
    x[..., :2] = (x[..., :2] + np.pi) % (2 * np.pi) - np.pi
    params = dict(system="double_pendulum_sim", groups=g, members=m, seed=seed, energy=[low, high],
                  horizon=float(horizon), noise=float(noise), m1=1.0, m2=1.0, l1=1.0, l2=1.0, g=9.81)
    return GroupedData(_add_noise(x, noise, seed), c=double_pendulum_energy(y0), feature_names=list(FEATURES),
                       constant_names=["E"], name="double_pendulum_sim", scale=_SCALE.copy(), params=params)
