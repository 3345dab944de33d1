"""Recorded trajectories of your own system for a Lagrangian network (Müller 2023 fits q̈(q, q̇), Eq. 12).

A data file holds one row per recorded state (``.csv`` with a header row; ``.txt``/``.dat`` separated by
blanks with a header line; or ``.npz`` with one 1-D array per column):

* a trajectory column (default ``trajectory``; optional: without it the file is one trajectory), rows of one
  trajectory in time order;
* a time column (default ``t``);
* the d generalised coordinates q (``positions``; default every other column);
* optionally their velocities q̇ (``velocities``) and accelerations q̈ (``accelerations``), d columns each.

Coordinates that are angles in radians (``periodic``: a pendulum's θ) may be stored wrapped into one turn or
unwrapped; they are unwrapped per trajectory (``numpy.unwrap``) before derivatives are estimated, and the
network reads them as (cos θ, sin θ) (:class:`lagrangian.model.LagrangianNetwork`, ``periodic``).

Derivatives the file does not give are estimated per trajectory with a Savitzky-Golay filter
(``scipy.signal.savgol_filter``: a cubic fitted over ``window`` points), which needs evenly spaced times. The
window is chosen from the data by default (:func:`choose_window`: leave-one-out cross-validation of the cubic
fit of the positions), so that noisy records are smoothed more than clean ones.

:func:`load_trajectories` returns :class:`Trajectories` (states ``(T_k, 2 d)`` and accelerations ``(T_k, d)``
per trajectory); ``Trajectories.split`` holds out the last part of every trajectory; :class:`MeasuredSystem`
offers the two parts to :func:`lagrangian.training.train_model` and :func:`lagrangian.experiment.write_rollout`
in place of one of the paper's systems: training data from the first part, the rollout started at the first
held-out state and compared with the held-out record.
"""

from __future__ import annotations

import dataclasses
import os
from importlib import resources

import numpy as np
from scipy.signal import savgol_coeffs, savgol_filter

from conserve_tf.groups import numeric_column, read_columns
from lagrangian.invariants import angular_momentum, linear_momentum
from lagrangian.systems import SYMMETRIES, _System

__all__ = ["Trajectories", "TrajectoryDataError", "load_trajectories", "choose_window", "double_pendulum_trajectories",
           "MeasuredSystem", "acceleration_r2", "fit_measured", "LEARNED_R2", "RESTART_SEED_STEP", "DEFAULT_EPOCHS"]

LEARNED_R2 = 0.5  # below this R² of the accelerations, a run has not learned the dynamics
RESTART_SEED_STEP = 1000  # a restart trains afresh from seed + k * RESTART_SEED_STEP
DEFAULT_EPOCHS = 200  # of 100 steps: the budget of `lagrangian.train --data` (docs/lagrangian.md measures 100 and 200)


class TrajectoryDataError(ValueError):
    """A trajectory file or its columns cannot be used; the message names the file and the problem."""


@dataclasses.dataclass
class Trajectories:
    """Recorded trajectories: per trajectory k, ``times[k]`` (T_k,), ``states[k]`` (T_k, 2 d) = (q, q̇) and
    ``accelerations[k]`` (T_k, d). ``estimated`` names the derivatives taken from the positions."""

    times: list
    states: list
    accelerations: list
    coordinates: list
    labels: list
    name: str = "data"
    estimated: tuple = ()
    window: int | None = None  # points of the Savitzky-Golay estimate, when one was made
    periodic: tuple = ()  # indices of the coordinates that are angles (radians, period 2π)

    def __post_init__(self):
        n, d = len(self.times), len(self.coordinates)
        sizes = {"times": n, "states": len(self.states), "accelerations": len(self.accelerations),
                 "labels": len(self.labels)}
        if len(set(sizes.values())) > 1:
            raise TrajectoryDataError(f"{self.name}: times, states, accelerations and labels must hold one entry per "
                                      f"trajectory, got {sizes}")
        for k in range(n):
            t, x, a = (np.shape(v) for v in (self.times[k], self.states[k], self.accelerations[k]))
            if len(t) != 1 or x != (t[0], 2 * d) or a != (t[0], d):
                raise TrajectoryDataError(
                    f"{self.name}: trajectory {self.labels[k]!r} needs times (T,), states (T, {2 * d}) and "
                    f"accelerations (T, {d}) for its {d} coordinate(s) {list(self.coordinates)}; got {t}, {x}, {a}")
        if any(not 0 <= int(i) < d for i in self.periodic):
            raise TrajectoryDataError(f"{self.name}: periodic coordinate indices {list(self.periodic)} are not in "
                                      f"[0, {d})")

    @property
    def d(self) -> int:
        """Number of generalised coordinates."""
        return len(self.coordinates)

    def __len__(self) -> int:
        return sum(len(t) for t in self.times)

    def arrays(self):
        """All states ``(N, 2 d)`` and accelerations ``(N, d)``, float32, trajectories one after another."""
        return (np.concatenate(self.states).astype(np.float32),
                np.concatenate(self.accelerations).astype(np.float32))

    def split(self, test_fraction: float = 0.2):
        """``(train, test)``: the last ``test_fraction`` of every trajectory's rows is held out (in time)."""
        if not 0.0 < float(test_fraction) < 1.0:
            raise TrajectoryDataError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
        parts = ([], [])
        for k, t in enumerate(self.times):
            cut = len(t) - int(round(float(test_fraction) * len(t)))
            if cut < 2 or len(t) - cut < 2:
                raise TrajectoryDataError(f"{self.name}: trajectory {self.labels[k]!r} has {len(t)} rows; "
                                          f"test_fraction={test_fraction} leaves fewer than two on one side")
            for part, sl in zip(parts, (slice(0, cut), slice(cut, None))):
                part.append((t[sl], self.states[k][sl], self.accelerations[k][sl], self.labels[k]))

        def build(rows, label):
            t, x, a, lab = (list(v) for v in zip(*rows))
            return dataclasses.replace(self, times=t, states=x, accelerations=a, labels=lab, name=f"{self.name}_{label}")

        return build(parts[0], "train"), build(parts[1], "test")


def _columns(path: str) -> dict:
    """{name: 1-D array or list of strings} from a .csv, blank-separated .txt/.dat, or .npz file."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                cols = {k: np.ravel(z[k]) for k in z.files}
        except Exception as err:  # zip and format errors alike: not a usable archive
            raise TrajectoryDataError(f"{path}: not a readable .npz file ({type(err).__name__}: {err})") from None
        lengths = {k: len(v) for k, v in cols.items()}
        if len(set(lengths.values())) > 1:
            raise TrajectoryDataError(f"{path}: the arrays must be columns of one length, got lengths {lengths}")
        if not cols or not next(iter(lengths.values())):
            raise TrajectoryDataError(f"{path}: the file holds no rows")
        return cols
    if ext not in (".csv", ".txt", ".dat"):
        raise TrajectoryDataError(f"{path}: unsupported file type {ext!r}; use .csv, .txt, .dat or .npz")
    cols = read_columns(path, blank_separated=ext != ".csv", error=TrajectoryDataError)
    if not len(next(iter(cols.values()))):
        raise TrajectoryDataError(f"{path}: the file has a header but no data rows")
    return cols


def _numeric(values, column: str, path: str) -> np.ndarray:
    arr = numeric_column(values, column, path, error=TrajectoryDataError)
    if not np.all(np.isfinite(arr)):
        row = int(np.flatnonzero(~np.isfinite(arr))[0]) + 1
        raise TrajectoryDataError(f"{path}: column {column!r} has a non-finite value in data row {row}")
    return arr


def _names(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _even_step(t, label, path) -> float:
    """The time step of ``t`` (T,), which must increase by even steps (within 0.1 %)."""
    steps = np.diff(t)
    if np.any(steps <= 0):
        raise TrajectoryDataError(f"{path}: times of trajectory {label!r} do not increase strictly (row "
                                  f"{int(np.flatnonzero(steps <= 0)[0]) + 2} of it)")
    dt = float(np.median(steps))
    if np.max(np.abs(steps - dt)) > 1e-3 * dt:
        raise TrajectoryDataError(
            f"{path}: trajectory {label!r} is not evenly spaced in time (steps {steps.min():.4g} to "
            f"{steps.max():.4g}); estimating derivatives needs even steps: give the velocity and acceleration "
            "columns, or resample the trajectory")
    return dt


def choose_window(positions, largest: int = 51) -> int:
    """The odd window in [5, ``largest``] whose cubic Savitzky-Golay fit predicts the positions best when each
    point is left out of its own fit (leave-one-out cross-validation; the left-out residual of a linear smoother
    is its residual over 1 − h0, h0 the filter's weight on the centre point).

    ``positions``: list of ``(T_k, d)`` arrays, each coordinate weighed by its variance over all of them; every
    window is scored on the same points (those at least ``largest // 2`` rows from a trajectory's ends). On a
    clean record the smallest window wins; the noisier the record, the wider the window. Measured on orbits of
    radius ~1 sampled every 0.05 (docs/lagrangian.md): position noise 0 / 1e-4 / 1e-3 / 3e-3 / 1e-2 gives
    windows 5 / 7 / 11 / 15 / 19, each the best window for the second derivative; at 3e-2, 21 (best: 25).
    """
    shortest = min(len(q) for q in positions)
    top = min(int(largest), shortest if shortest % 2 else shortest - 1)
    if top < 5:
        raise TrajectoryDataError(f"a trajectory has {shortest} rows; estimating derivatives needs at least 5")
    weight = np.var(np.concatenate(positions), axis=0)
    weight = 1.0 / np.where(weight > 0, weight, 1.0)
    edge = top // 2
    scores = {}
    for w in range(5, top + 1, 2):
        centre = savgol_coeffs(w, 3)[w // 2]
        total = 0.0
        for q in positions:
            left_out = (q - savgol_filter(q, w, 3, axis=0)) / (1.0 - centre)
            total += float(np.sum(left_out[edge:len(q) - edge] ** 2 * weight))
        scores[w] = total
    return min(scores, key=scores.get)


def _periodic_indices(periodic, coordinates, path) -> tuple:
    """Indices into ``coordinates`` of the angle coordinates ``periodic`` (names, or indices as ints)."""
    if periodic is None or isinstance(periodic, str):
        periodic = _names(periodic)
    out = []
    for item in periodic:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= int(item) < len(coordinates):
                raise TrajectoryDataError(f"{path}: periodic coordinate index {item} is not one of the "
                                          f"{len(coordinates)} coordinates {coordinates}")
            out.append(int(item))
        elif str(item) in coordinates:
            out.append(coordinates.index(str(item)))
        else:
            raise TrajectoryDataError(f"{path}: periodic column {item!r} is not a position column; the positions "
                                      f"are {coordinates}")
    return tuple(sorted(set(out)))


def load_trajectories(path, positions=None, velocities=None, accelerations=None, time_column: str = "t",
                      trajectory_column: str = "trajectory", window="auto", periodic=None) -> Trajectories:
    """Read recorded trajectories (module docstring for the layout).

    ``positions``, ``velocities``, ``accelerations``: column names (a list or a comma-separated string);
    velocities and accelerations, when given, need one column per position. ``window``: odd number of
    points of the Savitzky-Golay estimate of missing derivatives (at least 5), or ``"auto"`` (default:
    :func:`choose_window`, one window for the whole file). ``periodic``: the position columns that are angles
    in radians (names, or their indices among the positions); they are unwrapped per trajectory.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such trajectory file: {path}")
    if window != "auto" and (isinstance(window, bool) or not isinstance(window, (int, np.integer))
                             or window < 5 or window % 2 == 0):
        raise TrajectoryDataError(f"window must be 'auto' or an odd integer >= 5, got {window!r}")
    cols = _columns(path)
    pos, vel, acc = _names(positions), _names(velocities), _names(accelerations)
    if time_column not in cols:
        raise TrajectoryDataError(f"{path}: no time column {time_column!r}; columns are {list(cols)}")
    if not pos:
        pos = [c for c in cols if c not in (time_column, trajectory_column, *vel, *acc)]
    for kind, names in (("position", pos), ("velocity", vel), ("acceleration", acc)):
        missing = [c for c in names if c not in cols]
        if missing:
            raise TrajectoryDataError(f"{path}: unknown {kind} column(s) {missing}; columns are {list(cols)}")
        if names and len(names) != len(pos):
            raise TrajectoryDataError(f"{path}: {len(names)} {kind} column(s) {names} for {len(pos)} positions {pos}")
    if not pos:
        raise TrajectoryDataError(f"{path}: no position columns besides {time_column!r}")
    t_all = _numeric(cols[time_column], time_column, path)
    q_all = np.stack([_numeric(cols[c], c, path) for c in pos], axis=1)
    v_all = np.stack([_numeric(cols[c], c, path) for c in vel], axis=1) if vel else None
    a_all = np.stack([_numeric(cols[c], c, path) for c in acc], axis=1) if acc else None
    ids = np.asarray(cols[trajectory_column]) if trajectory_column in cols else np.zeros(len(t_all), dtype=int)
    labels = list(dict.fromkeys(ids.tolist()))  # order of first appearance
    out = Trajectories([], [], [], list(pos), [], name=os.path.splitext(os.path.basename(path))[0],
                       estimated=tuple(k for k, given in (("velocities", vel), ("accelerations", acc)) if not given),
                       periodic=_periodic_indices(periodic, list(pos), path))
    parts = []
    for label in labels:
        rows = np.flatnonzero(ids == label)
        if np.any(np.diff(rows) != 1):
            raise TrajectoryDataError(f"{path}: the rows of trajectory {label!r} are not contiguous; "
                                      "sort the file by trajectory, then time")
        if len(rows) < 2:
            raise TrajectoryDataError(f"{path}: trajectory {label!r} has one row; at least two are needed")
        parts.append((label, rows, _even_step(t_all[rows], label, path) if out.estimated else None))
    if out.periodic:  # a wrapped angle jumps by 2π where it crosses ±π: undo that within each trajectory
        angles = list(out.periodic)
        for _, rows, _ in parts:
            q_all[np.ix_(rows, angles)] = np.unwrap(q_all[np.ix_(rows, angles)], axis=0)
    if out.estimated:
        if window == "auto":
            window = choose_window([q_all[rows] for _, rows, _ in parts])
        out.window = int(window)
    for label, rows, dt in parts:
        q = q_all[rows]
        v, a = (None if v_all is None else v_all[rows]), (None if a_all is None else a_all[rows])
        if out.estimated:
            if len(rows) < out.window:
                raise TrajectoryDataError(f"{path}: trajectory {label!r} has {len(rows)} rows, fewer than the "
                                          f"derivative window of {out.window}; lower --window or give velocities "
                                          "and accelerations")
            v = savgol_filter(q, out.window, 3, deriv=1, delta=dt, axis=0) if v is None else v
            a = savgol_filter(q, out.window, 3, deriv=2, delta=dt, axis=0) if a is None else a
        out.times.append(t_all[rows])
        out.states.append(np.concatenate([q, v], axis=1))
        out.accelerations.append(a)
        out.labels.append(label)
    return out


def double_pendulum_trajectories(trial: int = 0, periodic=("t1", "t2")) -> Trajectories:
    """The measured double pendulum shipped with the package (Schmidt & Lipson 2009; conserve_tf.pendulum):
    one trial, q = (θ1, θ2) in rad, q̇ and q̈ as measured (columns o1, o2, od1, od2). Trial 0 swings within
    |θ| < 2.2; in trial 1 the pendulum turns over (θ2 runs from −46 to −110 rad). ``periodic``: the angles
    the network reads as cos θ and sin θ (:func:`load_trajectories`; default both, () or None for neither)."""
    ref = resources.files("conserve_tf") / "data" / "double_pendulum.txt"
    with resources.as_file(ref) as path:
        data = load_trajectories(path, positions="t1,t2", velocities="o1,o2", accelerations="od1,od2",
                                 time_column="time", trajectory_column="trial",
                                 periodic=periodic or None)
    picked = [k for k, lab in enumerate(data.labels) if float(lab) == trial]
    if not picked:
        raise TrajectoryDataError(f"unknown trial {trial!r}; the shipped file holds trials {data.labels}")
    k = picked[0]
    return dataclasses.replace(data, times=[data.times[k]], states=[data.states[k]],
                               accelerations=[data.accelerations[k]], labels=[data.labels[k]],
                               name=f"double_pendulum_trial{trial}")


def acceleration_r2(model, data: Trajectories) -> float:
    """1 − Σ(q̈_NN − q̈)² / Σ(q̈ − mean q̈)² over all states of ``data`` and all coordinates; NaN where the
    network's velocity Hessian is singular at some state (it has then learned no usable dynamics)."""
    from lagrangian.model import SingularHessianError

    x, y = data.arrays()
    try:
        pred = model.accelerations(x)
    except SingularHessianError:
        return float("nan")
    return float(1.0 - np.sum((pred - y) ** 2) / np.sum((y - y.mean(axis=0)) ** 2))


class MeasuredSystem(_System):
    """Recorded trajectories in the place of one of the paper's systems.

    ``dim``: components per particle (default d: one particle; the rotation layer R then sees one vector);
    ``symmetry``: the layer the network will use; its Noether charges are monitored in the rollout (R: angular
    momentum, needs dim >= 2; T: total momentum, needs two particles or more; RT: both). There is no true
    Lagrangian, so the rollout reports the network's charges and the distance to the held-out record.
    """

    true_momentum = None
    reference_label = "record"  # how the figures name the held-out record

    def __init__(self, train: Trajectories, test: Trajectories, dim: int | None = None, symmetry: str = "none"):
        if test.d != train.d or tuple(test.periodic) != tuple(train.periodic):
            raise TrajectoryDataError(f"the held-out record must have the training record's coordinates and angles: "
                                      f"train {train.coordinates} (angles {list(train.periodic)}), test "
                                      f"{test.coordinates} (angles {list(test.periodic)})")
        self.train, self.test = train, test
        self.name, self.d = train.name.removesuffix("_train"), train.d
        self.periodic = tuple(train.periodic)
        if self.periodic and symmetry != "none":
            names = [train.coordinates[i] for i in self.periodic]
            raise TrajectoryDataError(f"symmetry {symmetry!r} acts on Cartesian coordinates, and {names} are "
                                      "angles (periodic): use symmetry none")
        self.dim = self.d if dim is None else int(dim)
        if self.dim < 1 or self.d % self.dim:
            raise TrajectoryDataError(f"dim={dim} does not divide the {self.d} coordinates {train.coordinates}")
        self.n_particles = self.d // self.dim
        self.symmetries = SYMMETRIES if self.n_particles >= 2 else ("none", "R")
        if symmetry not in self.symmetries:
            raise TrajectoryDataError(f"symmetry {symmetry!r} needs two particles or more; with dim={self.dim} "
                                      f"these data have {self.n_particles}: choose one of {self.symmetries}")
        self.symmetry = symmetry
        charges = {"none": (), "R": ("L",), "T": ("M",), "RT": ("L", "M")}[symmetry]
        self.charge_names = tuple(c for c in charges if c != "L" or self.dim >= 2)
        x, _ = train.arrays()
        d = self.d
        lengths = [i for i in range(d) if i not in self.periodic]  # angles enter as cos and sin, unscaled
        self.input_scale = (float(np.sqrt(np.mean(x[:, lengths] ** 2))) if lengths else 1.0,
                            float(np.sqrt(np.mean(x[:, d:] ** 2))))
        if not all(s > 0 for s in self.input_scale):
            raise TrajectoryDataError(f"{train.name}: the positions or velocities are all zero")

    @property
    def coordinate_names(self) -> list:
        """The position columns of the file (axis labels of the figures)."""
        return list(self.train.coordinates)

    def training_data(self, n=None, sigma=0.0, seed=0):
        """All training states and accelerations (``n`` is ignored: the record is what there is)."""
        x, y = self.train.arrays()
        if sigma > 0:
            return self._noisy(x, y, sigma, np.random.default_rng(seed))
        return x, y

    def position_gap(self, a, b):
        """Positions of states ``a`` minus those of ``b`` (``(..., 2 d)`` each), angles taken to (−π, π]."""
        gap = self.positions(a) - self.positions(b)
        if self.periodic:
            gap = np.array(gap, dtype=np.float64)
            gap[..., list(self.periodic)] = np.pi - np.remainder(np.pi - gap[..., list(self.periodic)], 2 * np.pi)
        return gap

    def initial_state(self):
        """The first held-out state of the first trajectory, ``(2 d,)``."""
        return self.test.states[0][0].astype(np.float64)

    def reference(self, t_final: float, dt: float, x0=None):
        """The held-out record of the first trajectory at ``dt`` spacing from its start (linear interpolation),
        up to ``t_final`` or the record's end, ``(T, 2 d)``."""
        if x0 is not None:
            raise ValueError("measured data have no reference from another initial state")
        t, x = self.test.times[0] - self.test.times[0][0], self.test.states[0]
        grid = np.arange(int(np.floor(min(t_final, t[-1]) / dt + 1e-9)) + 1) * dt
        return np.stack([np.interp(grid, t, x[:, j]) for j in range(x.shape[1])], axis=1)

    def duration(self) -> float:
        """Length in time of the first held-out record (the default rollout)."""
        return float(self.test.times[0][-1] - self.test.times[0][0])

    def record_step(self) -> float:
        """Median time step of the first held-out record."""
        return float(np.median(np.diff(self.test.times[0])))

    def rollout_span(self, every: int = 10) -> tuple:
        """``(t_final, dt)`` of the default rollout: the held-out record's length, with an RK4 step that puts
        every ``every``-th step on the record's own times (on their even spacing, where the record's steps vary a
        little: the last one then falls on the record's end, not past it)."""
        records = max(1, int(round(self.duration() / self.record_step())))
        return self.duration(), self.duration() / (records * int(every))

    def charge_scales(self, x0, p0):
        """C(0) (Eq. 35), or where it is zero the data's own scale: ℓ v for L, v for M."""
        scales = self.charges(x0, p0)
        floor = {"L": self.input_scale[0] * self.input_scale[1], "M": self.input_scale[1]}
        return {k: v if np.linalg.norm(v) > 0 else np.full_like(v, floor[k]) for k, v in scales.items()}

    def charges(self, x, p):
        out = {}
        if "L" in self.charge_names:
            out["L"] = angular_momentum(x[..., :self.d], p, self.dim)
        if "M" in self.charge_names:
            out["M"] = linear_momentum(p, self.dim)
        return out


def fit_measured(system: MeasuredSystem, symmetry: str | None = None, restarts: int = 1, seed: int = 0,
                 **train_kwargs):
    """:func:`lagrangian.training.train_model` on ``system``'s training record, restarted from a fresh
    initialisation (seed + k · ``RESTART_SEED_STEP``) while the R² of the accelerations on the *training*
    states stays below ``LEARNED_R2``: some initialisations start with a near-singular velocity Hessian and
    never leave it. The held-out part plays no role in the choice.

    Returns ``(model, history, attempts)`` of the attempt with the highest training R²; ``attempts`` lists
    ``{"seed", "r2_train"}`` per training.
    """
    from lagrangian.training import train_model

    if isinstance(restarts, bool) or not isinstance(restarts, (int, np.integer)) or restarts < 0:
        raise ValueError(f"restarts must be a non-negative integer, got {restarts!r}")
    symmetry = system.symmetry if symmetry is None else symmetry
    attempts, best = [], None
    for k in range(int(restarts) + 1):
        attempt_seed = int(seed) + k * RESTART_SEED_STEP
        model, history = train_model(system, symmetry, seed=attempt_seed, **train_kwargs)
        score = acceleration_r2(model, system.train)
        attempts.append({"seed": attempt_seed, "r2_train": score})
        if best is None or score > best[2]:  # NaN never wins
            best = (model, history, score)
        if score >= LEARNED_R2:
            break
    return best[0], best[1], attempts
