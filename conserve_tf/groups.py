"""Grouped data: the one data type every model of the package trains on.

A data set is ``x`` of shape ``(groups G, members M, features F)``: the members of one group share a
hidden invariant (one trajectory, one orbit, one family of transformed events). The true constants
``c`` of shape ``(G,)`` or ``(G, k)`` are optional: with them the scripts report Pearson rho against the
truth, without them the spread alone.

Unequal group sizes are refused by default with a message listing the sizes; ``ragged="truncate"``
keeps the first ``min(size)`` members of every group instead (``ragged="sample"`` picks them at
random), because every model here batches whole groups as dense ``(groups, members, features)``
tensors.
"""

from __future__ import annotations

import csv
import dataclasses
import os
from typing import Sequence

import numpy as np

__all__ = ["GroupedData", "GroupedDataError", "UnknownSystemError", "check_counts", "check_integer", "check_finite", "check_seed", "require_grouped", "read_columns", "numeric_column"]


class GroupedDataError(ValueError):
    """Grouped data that cannot be used; the message names the problem."""


class UnknownSystemError(KeyError, ValueError):
    """A system name that no ``make_system``/``get_system`` of the three packages knows; the message lists
    the known names. A ``KeyError`` (a lookup failed) and a ``ValueError`` (a bad argument) at once."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


def check_integer(value, what: str, minimum: int = 0, note: str = "") -> int:
    """``value`` as an int when it is an integer (not a bool or a float) >= ``minimum``, else an error naming
    ``what`` (``note`` follows the bound in the message)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}{note}, got {value!r}")
    return int(value)


def check_counts(groups, members, min_members: int = 2) -> tuple[int, int]:
    """Validate the size of a grouped data set to draw: (groups >= 1, members >= ``min_members``) as ints."""
    return (check_integer(groups, "groups", 1),
            check_integer(members, "members", min_members, note=" (points per group)"))


def check_seed(seed) -> int:
    """``seed`` as an int, or an error naming it: seeds are integers >= 0 (NumPy's and TensorFlow's)."""
    return check_integer(seed, "seed", 0)


def _as_float_array(value, what: str) -> np.ndarray:
    raw = np.asarray(value)
    if raw.dtype.kind == "c":
        raise GroupedDataError(f"{what} must be real numbers, got complex values")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise GroupedDataError(f"{what} must be numeric: {err}") from None
    return arr


#: largest float32: data beyond it would overflow to Inf inside the networks
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_finite(arr: np.ndarray, what: str) -> None:
    """Refuse NaN, Inf and values beyond float32 in arr, naming the first one's index."""
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[first]) else "Inf"
        raise GroupedDataError(f"{what} contains {int(bad.sum())} non-finite value(s) ({kind} first at index {first})")
    huge = np.abs(arr) > FLOAT32_MAX
    if huge.any():
        first = tuple(int(i) for i in np.argwhere(huge)[0])
        raise GroupedDataError(f"{what} holds {arr[first]:g} at index {first}, beyond float32's range "
                               f"({FLOAT32_MAX:.3g}) in which the networks compute: rescale it")


def require_grouped(data, what: str, min_groups: int = 1):
    """``data`` itself if it is a :class:`GroupedData` with at least ``min_groups`` groups, else an error naming
    ``what`` needed it."""
    if not isinstance(data, GroupedData):
        raise TypeError(f"{what} needs GroupedData (x of shape (groups, members, features) and its constants), got "
                        f"{type(data).__name__}; wrap arrays as GroupedData(x, c) or GroupedData.from_flat(x, group_ids)")
    if data.n_groups < min_groups:
        raise GroupedDataError(f"{what} needs at least {min_groups} groups, got {data.n_groups}: with fewer, nothing "
                               f"tells an invariant from a constant")
    return data


@dataclasses.dataclass(frozen=True, eq=False)
class GroupedData:
    """Grouped samples ``x`` (G, M, F) with optional true constants ``c`` (G,) or (G, k).

    ``scale`` (F,) holds per-feature factors that a paper applies before its network (ConservNet's
    input scaling uses them when present); ``params`` records how the data was made.
    """

    x: np.ndarray
    c: np.ndarray | None = None
    feature_names: Sequence[str] | None = None
    constant_names: Sequence[str] | None = None
    name: str = "data"
    scale: np.ndarray | None = None
    params: dict | None = None

    def __post_init__(self):
        x = _as_float_array(self.x, "x")
        if x.ndim != 3:
            raise GroupedDataError(
                f"x must have shape (groups, members, features), got rank {x.ndim} with shape {x.shape}; "
                "use GroupedData.from_flat for flat arrays with a group id"
            )
        g, m, f = x.shape
        if g < 1 or f < 1:
            raise GroupedDataError(f"x must hold at least one group and one feature, got shape {x.shape}")
        if m < 2:
            raise GroupedDataError(f"every group needs at least two members, got {m} member(s) per group")
        check_finite(x, "x")
        object.__setattr__(self, "x", x)
        if self.c is not None:
            c = _as_float_array(self.c, "c")
            if c.ndim == 2 and c.shape[1] == 1:
                c = c[:, 0]
            if c.ndim not in (1, 2) or c.shape[0] != g:
                raise GroupedDataError(f"c must have shape ({g},) or ({g}, k) to match {g} groups, got {c.shape}")
            check_finite(c, "c")
            object.__setattr__(self, "c", c)
            k = 1 if c.ndim == 1 else c.shape[1]
            names = list(self.constant_names) if self.constant_names is not None else (
                ["C"] if k == 1 else [f"C{i}" for i in range(k)])
            if len(names) != k:
                raise GroupedDataError(f"constant_names has {len(names)} names for {k} constants")
            object.__setattr__(self, "constant_names", names)
        else:
            object.__setattr__(self, "constant_names", [])
        names = list(self.feature_names) if self.feature_names is not None else [f"x{i + 1}" for i in range(f)]
        if len(names) != f:
            raise GroupedDataError(f"feature_names has {len(names)} names for {f} features")
        object.__setattr__(self, "feature_names", names)
        if self.scale is not None:
            scale = _as_float_array(self.scale, "scale").reshape(-1)
            if scale.shape != (f,):
                raise GroupedDataError(f"scale must have one factor per feature ({f}), got shape {scale.shape}")
            check_finite(scale, "scale")
            object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "params", dict(self.params or {}))

    # ----------------------------------------------------------------- shape
    @property
    def n_groups(self) -> int:
        return self.x.shape[0]

    @property
    def n_members(self) -> int:
        return self.x.shape[1]

    @property
    def n_features(self) -> int:
        return self.x.shape[2]

    @property
    def n_constants(self) -> int:
        return len(self.constant_names)

    def __len__(self) -> int:
        return self.n_groups

    def __repr__(self) -> str:
        consts = ", ".join(self.constant_names) or "none"
        return (f"GroupedData({self.name!r}: {self.n_groups} groups x {self.n_members} members x "
                f"{self.n_features} features [{', '.join(self.feature_names)}]; constants: {consts})")

    # ----------------------------------------------------------------- views
    def constants(self, k: int | str = 0) -> np.ndarray | None:
        """The true constant number ``k`` (or named ``k``) per group, shape (G,); None without constants."""
        if self.c is None:
            return None
        if isinstance(k, str):
            if k not in self.constant_names:
                raise GroupedDataError(f"unknown constant {k!r}; this data has {self.constant_names}")
            k = self.constant_names.index(k)
        names = self.constant_names
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < len(names):
            raise GroupedDataError(f"constant {k!r} does not exist: this data has {len(names)} constant(s) {names}, "
                                   f"numbered from 0")
        return self.c if self.c.ndim == 1 else self.c[:, k]

    def varying_constant(self) -> int:
        """Index of the first known constant that differs between groups (0 if none does, or without constants):
        the one to score a learned invariant against when others are held fixed (e.g. L = -1.5, then E)."""
        if self.c is None or self.c.ndim == 1:
            return 0
        varies = np.ptp(self.c, axis=0) > 1e-12 * np.maximum(np.abs(self.c).max(axis=0), 1.0)
        return int(np.argmax(varies)) if varies.any() else 0

    def conserved_features(self, rtol: float = 1e-9) -> list[str]:
        """Names of the features that vary between groups but not within any: such a column is a conserved
        quantity already (often the known constant, loaded as a feature), and a network will simply read it."""
        x = self.x
        spread = x.std(axis=1).max(axis=0)  # (F,) widest within-group spread of each feature
        overall = x.reshape(-1, x.shape[-1]).std(axis=0)
        return [name for name, w, o in zip(self.feature_names, spread, overall) if o > 0 and w <= rtol * o]

    def flat(self) -> np.ndarray:
        """All members of all groups, shape (G*M, F), group-major."""
        return self.x.reshape(-1, self.n_features)

    def flat_group_ids(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_groups), self.n_members)

    def flat_constants(self, k: int | str = 0) -> np.ndarray | None:
        c = self.constants(k)
        return None if c is None else np.repeat(c, self.n_members)

    def replace(self, **fields) -> "GroupedData":
        return dataclasses.replace(self, **fields)

    def select_groups(self, indices) -> "GroupedData":
        idx = np.asarray(indices, dtype=int).reshape(-1)
        if idx.size == 0:
            raise GroupedDataError("select_groups needs at least one group index")
        if idx.min() < -self.n_groups or idx.max() >= self.n_groups:
            raise GroupedDataError(f"group index out of range for {self.n_groups} groups")
        return self.replace(x=self.x[idx], c=None if self.c is None else self.c[idx])

    # ----------------------------------------------------------------- splits
    def split_within(self, train_fraction: float = 0.5, seed: int | None = None):
        """Split the members of every group (the ConservNet paper's split): every group appears in both parts.

        With ``seed=None`` the first ``round(train_fraction * M)`` members train and the rest test (for
        time series: the past trains, the future tests); with a seed the members are shuffled first.
        """
        n_train = int(round(float(train_fraction) * self.n_members))
        if not 2 <= n_train <= self.n_members - 2:
            raise GroupedDataError(
                f"train_fraction={train_fraction} leaves {n_train} of {self.n_members} members for training: "
                "both parts need at least two members per group")
        order = np.arange(self.n_members)
        if seed is not None:
            order = np.random.default_rng(seed).permutation(self.n_members)
        tr, te = np.sort(order[:n_train]), np.sort(order[n_train:])
        return self.replace(x=self.x[:, tr]), self.replace(x=self.x[:, te])

    def split_by_group(self, test_fraction: float = 0.5, seed: int | None = 0):
        """Hold out whole groups: the test constants are never seen in training."""
        n_test = int(round(float(test_fraction) * self.n_groups))
        if not 1 <= n_test <= self.n_groups - 1:
            raise GroupedDataError(
                f"test_fraction={test_fraction} leaves {n_test} of {self.n_groups} groups for testing: "
                "splitting by group needs at least one group on each side")
        order = np.arange(self.n_groups)
        if seed is not None:
            order = np.random.default_rng(seed).permutation(self.n_groups)
        return self.select_groups(np.sort(order[n_test:])), self.select_groups(np.sort(order[:n_test]))

    def with_noise(self, s, seed: int = 0) -> "GroupedData":
        """Measurement noise: ``x + N(0, s)`` element-wise (Fig. 3a of the ConservNet paper).

        ``s`` is one standard deviation for every feature, or one per feature (F,) for instruments of
        different precision."""
        try:
            strength = np.asarray(s, dtype=np.float64)
        except (TypeError, ValueError):
            raise GroupedDataError(f"noise strength must be a number or one number per feature, got {s!r}") from None
        if strength.ndim > 1 or (strength.ndim == 1 and strength.shape != (self.n_features,)):
            raise GroupedDataError(f"noise strength must be a number or one per feature ({self.n_features}), "
                                   f"got shape {strength.shape}")
        if not np.all(np.isfinite(strength)) or np.any(strength < 0):
            raise GroupedDataError(f"noise strength must be finite and >= 0, got {s}")
        if not np.any(strength > 0):
            return self
        noise = np.random.default_rng(seed).normal(0.0, 1.0, size=self.x.shape) * strength
        label = float(strength) if strength.ndim == 0 else strength.tolist()
        return self.replace(x=self.x + noise, params={**self.params, "noise": label})

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_flat(cls, x, group_ids, c=None, ragged: str = "error", seed: int = 0, **kwargs) -> "GroupedData":
        """Build from flat samples ``x`` (N, F) and a group id per sample (N,).

        ``c`` is per sample (N,) / (N, k) (it must then be constant within each group) or per group
        (G,) / (G, k) in the sorted order of the group ids. Unequal group sizes: see the module doc.
        """
        x = _as_float_array(x, "x")
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise GroupedDataError(f"flat x must have shape (samples, features), got shape {x.shape}")
        gid = np.asarray(group_ids).reshape(-1)
        if gid.shape[0] != x.shape[0]:
            raise GroupedDataError(f"group_ids has {gid.shape[0]} entries but x has {x.shape[0]} samples")
        if x.shape[0] == 0:
            raise GroupedDataError("no samples: x is empty")
        if gid.dtype.kind == "f" and not np.all(np.isfinite(gid)):
            first = int(np.flatnonzero(~np.isfinite(gid))[0])
            raise GroupedDataError(f"group_ids hold NaN or Inf (first at sample {first}); every sample needs its group")
        labels, inverse, counts = np.unique(gid, return_inverse=True, return_counts=True)
        if counts.min() < 2:
            bad = labels[counts < 2][:5].tolist()
            raise GroupedDataError(f"every group needs at least two members; group(s) {bad} have one")
        m = int(counts.min())
        if counts.max() != m:
            if ragged == "error":
                sizes = dict(zip(labels[:8].tolist(), counts[:8].tolist()))
                raise GroupedDataError(
                    f"groups have unequal sizes ({m} to {int(counts.max())} members, e.g. {sizes}); models batch whole "
                    "groups as dense tensors: pass ragged='truncate' (or --ragged=truncate) to keep the first "
                    f"{m} members of each group, or ragged='sample' to keep {m} at random")
            if ragged not in ("truncate", "sample"):
                raise GroupedDataError(f"ragged must be 'error', 'truncate' or 'sample', got {ragged!r}")
        rng = np.random.default_rng(seed)
        rows = []
        for k in range(len(labels)):
            members = np.flatnonzero(inverse == k)
            if ragged == "sample" and len(members) > m:
                members = np.sort(rng.choice(members, size=m, replace=False))
            rows.append(members[:m])
        rows = np.stack(rows)
        if c is not None:
            c = _as_float_array(c, "c")
            if c.shape[0] == x.shape[0]:
                per_group = c[rows]
                spread = np.ptp(per_group, axis=1)
                if np.any(spread > 1e-9 * (1 + np.abs(per_group).max())):
                    raise GroupedDataError("the constant column varies within a group; it must be one value per group")
                c = per_group[:, 0]
            elif c.shape[0] != len(labels):
                raise GroupedDataError(
                    f"c must have one value per sample ({x.shape[0]}) or per group ({len(labels)}), got {c.shape[0]}")
        params = dict(kwargs.pop("params", None) or {})
        params.setdefault("group_labels", labels.tolist())
        return cls(x[rows], c=c, params=params, **kwargs)

    @classmethod
    def load(cls, path, group_column: str = "group", constant_columns: Sequence[str] | str = ("C",),
             feature_columns: Sequence[str] | None = None, ragged: str = "error") -> "GroupedData":
        """Load a ``.csv`` (header row) or ``.npz`` file.

        CSV: one row per sample; ``group_column`` holds the group id, the ``constant_columns`` that are
        present hold true constants (optional), every other column is a feature unless
        ``feature_columns`` names them. NPZ: either ``x`` (G, M, F) with optional ``c``, or flat columns
        under the same names as a CSV's (``group``, ``C``, features).
        """
        path = os.fspath(path)
        if isinstance(constant_columns, str):
            constant_columns = [constant_columns] if constant_columns else []
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such data file: {path}")
        ext = os.path.splitext(path)[1].lower()
        name = os.path.splitext(os.path.basename(path))[0]
        if ext == ".npz":
            try:
                with np.load(path, allow_pickle=False) as z:
                    columns = {k: z[k] for k in z.files}
            except Exception as err:  # zipfile, pickle and format errors all mean: not a usable .npz
                raise GroupedDataError(f"{path}: not a readable .npz file ({type(err).__name__}: {err})") from None
            if not isinstance(columns, dict):
                raise GroupedDataError(f"{path}: not an .npz archive of named arrays")
            if not columns:
                raise GroupedDataError(f"{path}: the file holds no arrays")
            if "x" in columns:
                x = columns["x"]
                names = columns.get("feature_names")
                return cls(x, c=columns.get("c"), name=name,
                           feature_names=None if names is None else [str(n) for n in names])
        elif ext == ".csv":
            columns = read_columns(path)
        else:
            raise GroupedDataError(f"{path}: unsupported file type {ext!r}; use .csv or .npz")
        return cls._from_columns(columns, path, group_column, list(constant_columns), feature_columns, ragged, name)

    @classmethod
    def _from_columns(cls, columns, path, group_column, constant_columns, feature_columns, ragged, name):
        if group_column not in columns:
            raise GroupedDataError(f"{path}: no group column {group_column!r}; columns are {list(columns)} "
                                   "(choose another with group_column= / --group_column)")
        consts = [c for c in constant_columns if c in columns]
        if feature_columns is None:
            feature_columns = [k for k in columns if k != group_column and k not in constant_columns]
        else:
            missing = [k for k in feature_columns if k not in columns]
            if missing:
                raise GroupedDataError(f"{path}: unknown feature column(s) {missing}; columns are {list(columns)}")
        if not feature_columns:
            raise GroupedDataError(f"{path}: no feature columns besides {group_column!r} and the constants")
        n = len(columns[group_column])
        if n == 0:
            raise GroupedDataError(f"{path}: the file has a header but no data rows")
        x = np.stack([numeric_column(columns[k], k, path) for k in feature_columns], axis=1)
        c = np.stack([numeric_column(columns[k], k, path) for k in consts], axis=1) if consts else None
        return cls.from_flat(x, np.asarray(columns[group_column]), c=c, ragged=ragged, name=name,
                             feature_names=list(feature_columns), constant_names=consts or None)

    def save(self, path) -> str:
        """Write ``.npz`` (arrays as they are) or ``.csv`` (one row per sample, ``group`` and constant columns)."""
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower()
        if ext == ".npz":
            arrays = {"x": self.x, "feature_names": np.array(self.feature_names)}
            if self.c is not None:
                arrays["c"] = self.c
            np.savez(path, **arrays)
        elif ext == ".csv":
            cols = ["group", *self.constant_names, *self.feature_names]
            c = None if self.c is None else self.c.reshape(self.n_groups, -1)
            with open(path, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(cols)
                for g in range(self.n_groups):
                    cg = [] if c is None else [repr(float(v)) for v in c[g]]
                    for row in self.x[g]:
                        w.writerow([g, *cg, *(repr(float(v)) for v in row)])
        else:
            raise GroupedDataError(f"unsupported file type {ext!r}; use .csv or .npz")
        return path


def read_columns(path: str, blank_separated: bool = False, error=GroupedDataError) -> dict:
    """``{column: [text of each row]}`` from a table with a header row: comma-separated (``csv``) or, with
    ``blank_separated``, split on runs of blanks. Blank lines are skipped. ``error`` (default
    :class:`GroupedDataError`) is raised, naming ``path``, for an empty file, duplicate column names or a row
    whose number of fields differs from the header's (also used by ``lagrangian.measured``)."""
    with open(path, newline=None if blank_separated else "", encoding="utf-8-sig") as fh:  # a spreadsheet's BOM
        rows = [line.split() for line in fh] if blank_separated else list(csv.reader(fh))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise error(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise error(f"{path}: duplicate column names in the header {header}")
    body = rows[1:]
    for i, r in enumerate(body, start=2):
        if len(r) != len(header):
            raise error(f"{path}: line {i} has {len(r)} fields, the header has {len(header)}")
    return {h: [r[j].strip() for r in body] for j, h in enumerate(header)}


def numeric_column(values, column: str, path: str, error=GroupedDataError) -> np.ndarray:
    """``values`` as float64; ``error`` names the column and the first value that is not a number, or the first
    finite value beyond float32's range (the networks compute in float32)."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except ValueError:
        for i, v in enumerate(values):
            try:
                float(v)
            except ValueError:
                raise error(f"{path}: column {column!r} has a non-numeric value {v!r} in data row {i + 1}") from None
        raise
    huge = np.isfinite(arr) & (np.abs(arr) > FLOAT32_MAX)
    if huge.any():
        i = int(np.argmax(huge))
        raise error(f"{path}: column {column!r} has {arr[i]:g} in data row {i + 1}, beyond float32's range "
                    f"({FLOAT32_MAX:.3g}) in which the networks compute: rescale that column")
    return arr
