"""Noether charges and their relative deviations (Müller 2023, Eqs. 14-15, 20-21, 32-37).

All functions are NumPy. ``pos`` and ``mom`` hold n particles of ``dim`` components each along the
last axis, ``(..., n * dim)``; ``mom`` is the conjugate momentum p = ∂L/∂q̇ (network charges) or
m q̇ (true charges).
"""

from __future__ import annotations

import numpy as np

__all__ = ["angular_momentum", "linear_momentum", "relative_deviation", "energy_deviation"]


def _split(arr, dim):
    arr = np.asarray(arr)
    if arr.shape[-1] % dim:
        raise ValueError(f"last axis {arr.shape[-1]} is not a multiple of dim = {dim}")
    return arr.reshape(arr.shape[:-1] + (arr.shape[-1] // dim, dim))


def angular_momentum(pos, mom, dim: int) -> np.ndarray:
    """Total angular momentum, ``(..., dim (dim - 1) / 2)``.

    D = 3: L^ρ = ε^{ρστ} x_σ p_τ summed over particles (Eqs. 14, 15, 20, 21), i.e. x × p.
    Other D: L^(ρ,σ) = Σ_k p_ρ x_σ − p_σ x_ρ for ρ < σ (Eqs. 32, 33).
    """
    x, p = _split(pos, dim), _split(mom, dim)
    if x.shape != p.shape:
        raise ValueError(f"positions {x.shape} and momenta {p.shape} do not match")
    if dim == 3:
        return np.cross(x, p).sum(axis=-2)
    rho, sigma = np.triu_indices(dim, k=1)
    pair = p[..., rho] * x[..., sigma] - p[..., sigma] * x[..., rho]
    return pair.sum(axis=-2)


def linear_momentum(mom, dim: int) -> np.ndarray:
    """Total linear momentum M^(α) = Σ_k p^(k)_α, ``(..., dim)`` (Eqs. 32, 33)."""
    return _split(mom, dim).sum(axis=-2)


def relative_deviation(values, scale=None) -> np.ndarray:
    """δC(t) = ‖C(t) − C(0)‖₂ / ‖scale‖₂ along axis 0 (Eqs. 35, 36).

    ``values``: ``(T, ..., k)``; ``scale``: ``(..., k)`` reference vector, default C(0) (Eq. 35);
    Eq. (36) passes the first particle's momentum (Eq. 37). Returns ``(T, ...)``.
    """
    values = np.asarray(values, dtype=np.float64)
    ref = values[0] if scale is None else np.asarray(scale, dtype=np.float64)
    norm = np.linalg.norm(ref, axis=-1)
    if np.any(norm == 0):
        raise ValueError("reference charge has zero norm; pass a non-zero scale (Eq. 37)")
    return np.linalg.norm(values - values[0], axis=-1) / norm


def energy_deviation(energy, qdot, mom, motionless: str = "raise") -> np.ndarray:
    """δE(t) = |E(t) − E(0)| / ⟨|q̇ · p|⟩_t along axis 0.

    ``energy``: ``(T,)`` values of E = q̇ · p − L; ``qdot``, ``mom``: ``(T, d)``. The scale is the mean of
    |q̇ · p| over the record (twice the mean kinetic energy for a quadratic kinetic term), not E(0): a
    Lagrangian fixes E only up to an additive constant, and q̇ · p does not depend on it. Returns ``(T,)``.
    Where q̇ · p is zero all along there is no scale: ``motionless="raise"`` raises ValueError, ``"nan"``
    returns NaN (what the rollout monitors do, so that a motionless record does not stop a run).
    """
    if motionless not in ("raise", "nan"):
        raise ValueError(f"motionless must be 'raise' or 'nan', got {motionless!r}")
    energy = np.asarray(energy, dtype=np.float64)
    scale = np.mean(np.abs(np.sum(np.asarray(qdot, np.float64) * np.asarray(mom, np.float64), axis=-1)))
    if not scale > 0:
        if motionless == "nan":
            return np.full(energy.shape, np.nan)
        raise ValueError("q̇ · p is zero all along the record: no kinetic scale to measure the energy's drift by")
    return np.abs(energy - energy[0]) / scale
