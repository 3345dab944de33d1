"""RK4 time integration of Lagrangian dynamics as one compiled TensorFlow graph, plus monitors.

:class:`RK4Integrator` advances ``(batch, 2 d)`` states (q, q̇) with the classical fourth-order
Runge-Kutta method, ``n`` steps inside one ``tf.while_loop`` (XLA by default: measured fastest on
CPU for this path, see ``benchmarks/lagrangian_speed.py``). Step count and dt are tensors, so new
counts do not retrace. :func:`rollout` integrates an unperturbed and a perturbed copy of each initial
state and returns the trajectories, the relative deviations of the network's and the true Noether
charges (Eqs. 35-37 of Müller 2023), the distance δq between the two runs (Figs. 5, 8) and the
condition number of the velocity Hessian along the way.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from lagrangian.invariants import energy_deviation, relative_deviation
from lagrangian.model import (SingularHessianError, conjugate_momentum, euler_lagrange, lagrangian_energy,
                              velocity_hessian_condition)

__all__ = ["RK4Integrator", "rollout"]


class RK4Integrator:
    """Classical RK4 for q̈ = Φ(q, q̇) where Φ comes from a Lagrangian (Eq. 9, corrected).

    ``lagrangian``: a :class:`~lagrangian.model.LagrangianNetwork` or any callable
    ``(batch, 2 d) -> (batch,)`` (e.g. a system's exact ``lagrangian``). ``dtype`` of the states
    defaults to the model's compute dtype (float32 otherwise).
    """

    def __init__(self, lagrangian, jit_compile: bool = True, dtype=None):
        self.lagrangian = lagrangian
        policy = getattr(lagrangian, "dtype_policy", None)
        self.dtype = tf.as_dtype(dtype or (policy.compute_dtype if policy is not None else "float32"))
        self.jit_compile = bool(jit_compile)
        self._advance = tf.function(self._advance_graph, jit_compile=self.jit_compile, reduce_retracing=True)
        self._momentum = tf.function(lambda x: conjugate_momentum(self.lagrangian, x), reduce_retracing=True)
        self._hessian = tf.function(lambda x: euler_lagrange(self.lagrangian, x)[1], reduce_retracing=True)
        self._energy = tf.function(lambda x: lagrangian_energy(self.lagrangian, x), reduce_retracing=True)

    def _rhs(self, x):
        d = x.shape[-1] // 2
        return tf.concat([x[:, d:], euler_lagrange(self.lagrangian, x)[0]], axis=1)

    def _advance_graph(self, x, dt, n):
        def body(i, x):
            k1 = self._rhs(x)
            k2 = self._rhs(x + 0.5 * dt * k1)
            k3 = self._rhs(x + 0.5 * dt * k2)
            k4 = self._rhs(x + dt * k3)
            return i + 1, x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

        return tf.while_loop(lambda i, _: i < n, body, (tf.constant(0), x))[1]

    def _state(self, x0):
        x0 = np.asarray(x0, dtype=np.float64)
        if x0.ndim == 1:
            x0 = x0[None]
        if x0.ndim != 2 or x0.shape[1] % 2:
            raise ValueError(f"initial states must have shape (batch, 2d), got {x0.shape}")
        width = getattr(getattr(self.lagrangian, "symmetry", None), "input_width", None)  # a LagrangianNetwork's
        if width is not None and x0.shape[1] != width:
            raise ValueError(f"the network takes states (batch, {width}) = (q, qdot) of its {width // 2} coordinates, "
                             f"got initial states of shape {x0.shape}")
        if not np.all(np.isfinite(x0)):
            raise ValueError("initial states contain NaN or Inf")
        return tf.constant(x0, dtype=self.dtype)

    def advance(self, x0, dt: float, n_steps: int):
        """``n_steps`` RK4 steps of ``(batch, 2 d)`` states in one compiled call; returns a tensor."""
        if int(n_steps) < 0 or not dt > 0:
            raise ValueError(f"need n_steps >= 0 and dt > 0, got n_steps={n_steps}, dt={dt}")
        x = x0 if isinstance(x0, tf.Tensor) else self._state(x0)
        try:
            return self._advance(x, tf.constant(dt, self.dtype), tf.constant(int(n_steps), tf.int32))
        except tf.errors.InvalidArgumentError as err:  # MatrixSolve on a numerically singular Hessian
            raise SingularHessianError(
                "velocity Hessian d2L/dqdot2 became singular or ill-conditioned during RK4 (exactly singular solve)"
            ) from None

    def integrate(self, x0, dt: float, n_steps: int, every: int = 1, allow_breakdown: bool = False) -> np.ndarray:
        """Trajectory ``(n_steps // every + 1, batch, 2 d)`` recorded every ``every`` steps.

        Raises :class:`~lagrangian.model.SingularHessianError` at the first record where a state
        stops being finite (the velocity Hessian could not be solved); with ``allow_breakdown``
        it returns the records before that point instead.
        """
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        if not dt > 0:
            raise ValueError(f"the time step dt must be > 0, got {dt}")
        if int(n_steps) < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}")
        x = self._state(x0)
        records = [x.numpy()]
        for k in range(int(n_steps) // int(every)):
            try:
                x = self.advance(x, dt, every)
            except SingularHessianError:
                if allow_breakdown:
                    break
                raise
            arr = x.numpy()
            if not np.all(np.isfinite(arr)):
                if allow_breakdown:
                    break
                bad = int(np.argmin(np.all(np.isfinite(arr), axis=1)))
                raise SingularHessianError(
                    f"trajectory {bad} became non-finite before t = {(k + 1) * every * dt:g}: the velocity "
                    "Hessian d2L/dqdot2 was singular or ill-conditioned along the way"
                )
            records.append(arr)
        return np.stack(records)

    def momentum(self, states) -> np.ndarray:
        """p = ∂L/∂q̇ for states ``(..., 2 d)``, same leading shape."""
        flat = states.reshape(-1, states.shape[-1])
        p = self._momentum(tf.constant(flat, self.dtype)).numpy()
        return p.reshape(states.shape[:-1] + (p.shape[-1],))

    def energy(self, states) -> np.ndarray:
        """E = q̇ · ∂L/∂q̇ − L for states ``(..., 2 d)``, shape ``(...)``."""
        flat = states.reshape(-1, states.shape[-1])
        return self._energy(tf.constant(flat, self.dtype)).numpy().reshape(states.shape[:-1])

    def condition(self, states) -> np.ndarray:
        """Condition number of ∂²L/∂q̇² at states ``(..., 2 d)``."""
        flat = states.reshape(-1, states.shape[-1])
        cond = velocity_hessian_condition(self._hessian(tf.constant(flat, self.dtype)).numpy())
        return cond.reshape(states.shape[:-1])


def rollout(model, system, t_final: float, dt: float = 0.01, every: int = 10, perturbation: float = 1e-3,
            x0=None, seed: int = 0, jit_compile: bool = True, integrator: RK4Integrator | None = None) -> dict:
    """Integrate ``model`` from ``x0`` (default ``system.initial_state()``) and a perturbed copy.

    The copy's q and q̇ get normal noise of std ``perturbation`` (Sec. 3.1.1). Returns a dict with
    ``t`` (T,), ``traj`` and ``traj_perturbed`` (T, 2 d), ``dq`` (T,) = ‖q − q_perturbed‖₂ of the
    spatial positions, ``delta`` = {"L_NN", "L_true", ("M_NN", "M_true")} each (T,) by Eqs. (35-37),
    ``charges`` (raw values, (T, k)), ``energy`` = {"E_NN", ("E_true")} each (T,), the energy q̇ · p − L of the
    network's and of the true Lagrangian along the run, ``delta_energy`` their drift δE
    (:func:`~lagrangian.invariants.energy_deviation`), ``condition`` (T,) of the velocity Hessian and ``breakdown``
    (True when a run became non-finite -- singular Hessian -- before ``t_final``; the arrays then
    stop at the last finite record).
    """
    if not dt > 0 or not t_final > 0:
        raise ValueError(f"a rollout needs dt > 0 and t_final > 0, got dt={dt}, t_final={t_final}")
    if int(round(t_final / dt)) < int(every):
        raise ValueError(f"t_final={t_final} is shorter than one record (every={every} steps of dt={dt}): the "
                         f"rollout would hold its starting state only")
    x0 = system.initial_state() if x0 is None else np.asarray(x0, dtype=np.float64)
    rng = np.random.default_rng(seed)
    x0p = x0 + perturbation * rng.standard_normal(x0.shape)
    integ = integrator or RK4Integrator(model, jit_compile=jit_compile)
    n_steps = int(round(t_final / dt))
    traj = integ.integrate(np.stack([x0, x0p]), dt, n_steps, every, allow_breakdown=True)  # (T, 2, 2d)
    main = traj[:, 0].astype(np.float64)
    p_nn = integ.momentum(traj[:, 0]).astype(np.float64)
    momenta = [("NN", p_nn)]
    if system.true_momentum is not None:  # measured data have no true Lagrangian
        momenta.append(("true", system.true_momentum(main)))
    delta, charges = {}, {}
    for tag, p in momenta:
        values = system.charges(main, p)
        scales = system.charge_scales(main[0], p[0])
        for key, val in values.items():
            delta[f"{key}_{tag}"] = relative_deviation(val, scales[key])
            charges[f"{key}_{tag}"] = val
    d = main.shape[1] // 2
    energy = {"E_NN": integ.energy(traj[:, 0]).astype(np.float64)}
    delta_energy = {"E_NN": energy_deviation(energy["E_NN"], main[:, d:], p_nn, motionless="nan")}
    if system.true_momentum is not None:  # the system's own Lagrangian, in float64
        states = tf.constant(main, tf.float64)
        energy["E_true"] = lagrangian_energy(system.lagrangian, states).numpy()
        delta_energy["E_true"] = energy_deviation(energy["E_true"], main[:, d:],
                                                  conjugate_momentum(system.lagrangian, states).numpy(),
                                                  motionless="nan")
    pos = system.positions(traj)
    return {
        "t": np.arange(traj.shape[0]) * dt * every,
        "traj": main,
        "traj_perturbed": traj[:, 1].astype(np.float64),
        "dq": np.linalg.norm(pos[:, 0] - pos[:, 1], axis=-1),
        "delta": delta,
        "charges": charges,
        "energy": energy,
        "delta_energy": delta_energy,
        "condition": integ.condition(traj[:, 0]),
        "breakdown": len(traj) < n_steps // every + 1,
    }
