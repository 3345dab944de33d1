"""Lagrangian networks with exactly conserved Noether charges (Müller 2023, paper 003).

Symmetry-enforcing layers (:mod:`lagrangian.symmetry`), the network and Eq. (9) accelerations
(:mod:`lagrangian.model`), the paper's systems (:mod:`lagrangian.systems`), Noether charges
(:mod:`lagrangian.invariants`), compiled RK4 (:mod:`lagrangian.integrators`), training
(:mod:`lagrangian.training`) and your own recorded trajectories (:mod:`lagrangian.measured`). Scripts: ``python -m lagrangian.train`` and ``python -m lagrangian.rollout``.
TensorFlow is imported lazily: ``import lagrangian`` alone stays light.
"""

from __future__ import annotations

import importlib

__all__ = [
    # symmetry
    "NoSymmetry", "RotationInvariant", "TranslationInvariant", "RotationTranslationInvariant",
    "SchwarzschildInvariant", "levi_civita",
    # model
    "LagrangianNetwork", "SingularHessianError", "HessianGuard", "euler_lagrange", "conjugate_momentum",
    "lagrangian_energy", "velocity_hessian_condition",
    # systems
    "Kepler", "Schwarzschild", "TwoParticle", "get_system", "SYSTEMS", "SYMMETRIES", "LAYER_NAMES",
    # invariants
    "angular_momentum", "linear_momentum", "relative_deviation", "energy_deviation",
    # integration and training
    "RK4Integrator", "rollout", "build_model", "make_dataset", "train_model",
    # recorded trajectories
    "Trajectories", "TrajectoryDataError", "load_trajectories", "double_pendulum_trajectories", "MeasuredSystem",
    "acceleration_r2", "fit_measured",
]

_WHERE = {
    "symmetry": ["NoSymmetry", "RotationInvariant", "TranslationInvariant", "RotationTranslationInvariant",
                 "SchwarzschildInvariant", "levi_civita"],
    "model": ["LagrangianNetwork", "SingularHessianError", "HessianGuard", "euler_lagrange", "conjugate_momentum",
              "lagrangian_energy", "velocity_hessian_condition"],
    "systems": ["Kepler", "Schwarzschild", "TwoParticle", "get_system", "SYSTEMS", "SYMMETRIES", "LAYER_NAMES"],
    "invariants": ["angular_momentum", "linear_momentum", "relative_deviation", "energy_deviation"],
    "integrators": ["RK4Integrator", "rollout"],
    "training": ["build_model", "make_dataset", "train_model"],
    "measured": ["Trajectories", "TrajectoryDataError", "load_trajectories", "double_pendulum_trajectories",
                 "MeasuredSystem", "acceleration_r2", "fit_measured"],
}
_MODULE_OF = {name: mod for mod, names in _WHERE.items() for name in names}


def __getattr__(name):
    if name in _MODULE_OF:
        return getattr(importlib.import_module(f"lagrangian.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'lagrangian' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


# Keras finds a saved model's class only once the module defining it is imported. When Keras is loaded already,
# TensorFlow's start-up is paid anyway: import those modules now, so keras.models.load_model works after a plain
# ``import lagrangian``. (Otherwise they wait, so that scripts check their flags before TensorFlow starts.)
if __import__("sys").modules.get("keras") is not None:
    for _name in ("model", "symmetry"):
        __import__(f"lagrangian.{_name}")
