"""conserve_tf: ConservNet (Ha & Jeong 2021) and the foundation shared by ``siamese`` and ``lagrangian``.

Public API:

* grouped data: :class:`GroupedData`, :class:`GroupedDataError`
* systems: :func:`make_system`, :data:`SYSTEMS`, :func:`load_double_pendulum`, :func:`double_pendulum_split`,
  :func:`simulated_double_pendulum`
* the model: :class:`ConservNet`, :func:`ball_noise`, :func:`input_scaling`; its objectives (module
  :mod:`losses`): :class:`NVLoss` (Eq. 1), :class:`VarianceLoss` (Eq. C1), :class:`WithinGroupRatio`, with
  their functional forms :func:`nv_loss_terms`, :func:`within_group_ratio`; the independence penalties of
  several outputs (module :mod:`penalties`): :class:`GradientCosinePenalty`, :class:`GradientLogdetPenalty`,
  :func:`gradient_cosine_penalty`, :func:`gradient_logdet_penalty`
* training: :func:`fit_conservnet`, :func:`build_conservnet`, :func:`as_dataset`, :func:`predict_groups`,
  :func:`evaluate_invariant`
* analysis: module :mod:`metrics` (rho, intra-group std, R², :class:`InvariantMetrics` callback),
  module :mod:`symbolic` (:func:`polynomial_readout`, :func:`symbolic_readout`, :func:`keras_input_gradient`)
* several invariants: module :mod:`invariants` (:func:`invariant_readout`, :func:`known_invariants`,
  :func:`output_spreads`) and module :mod:`counting` (:func:`count_invariants`, :func:`decide_count`)
* Kepler's physics, shared by the data sets of all packages: module :mod:`kepler`
* rotation-invariant inputs (``ConservNet(symmetry="rotation")``): module :mod:`symmetry`
  (:func:`rotation_invariants`, :func:`symmetric_scaling`)
* the verdict of a run: :class:`Verdict`, :func:`invariant_verdict`, :func:`verdict_from_outputs`,
  :func:`fitted_verdict` (what restarts are decided on)
"""

import importlib

# name -> submodule; resolved on first use so that light imports (``conserve_tf.cli``, the data
# classes) do not pay TensorFlow's start-up time
_EXPORTS = {
    "GroupedData": "groups", "GroupedDataError": "groups",
    "make_system": "systems", "SYSTEMS": "systems",
    "load_double_pendulum": "pendulum", "double_pendulum_split": "pendulum",
    "simulated_double_pendulum": "pendulum",
    "ConservNet": "model", "NVLoss": "losses", "VarianceLoss": "losses", "WithinGroupRatio": "losses",
    "nv_loss_terms": "losses", "within_group_ratio": "losses", "GradientCosinePenalty": "penalties",
    "GradientLogdetPenalty": "penalties", "gradient_cosine_penalty": "penalties",
    "gradient_logdet_penalty": "penalties",
    "ball_noise": "spreaders", "input_scaling": "scaling",
    "InvariantMetrics": "metrics", "invariant_report": "metrics", "polynomial_readout": "symbolic",
    "symbolic_readout": "symbolic", "SymbolicResult": "symbolic", "keras_input_gradient": "symbolic",
    "as_dataset": "training", "build_conservnet": "training", "fit_conservnet": "training",
    "predict_groups": "training", "evaluate_invariant": "training",
    "count_invariants": "counting", "decide_count": "counting", "invariant_readout": "invariants",
    "known_invariants": "invariants", "output_spreads": "invariants",
    "Verdict": "verdict", "invariant_verdict": "verdict", "verdict_from_outputs": "verdict",
    "fitted_verdict": "verdict", "rotation_invariants": "symmetry", "ProductDense": "layers",
}
_MODULES = ("metrics", "symbolic", "groups", "systems", "physical", "pendulum", "model", "training", "distribute",
            "callbacks", "cli", "scaling", "spreaders", "invariants", "verdict", "losses", "penalties",
            "counting", "kepler", "symmetry", "layers")

__all__ = sorted(_EXPORTS) + ["metrics", "symbolic"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | set(_MODULES))


__version__ = "0.1.0"


# Keras finds a saved model's class only once the module defining it is imported. When Keras is loaded already,
# TensorFlow's start-up is paid anyway: import those modules now, so keras.models.load_model works after a plain
# ``import conserve_tf``. (Otherwise they wait, so that scripts check their flags before TensorFlow starts.)
if __import__("sys").modules.get("keras") is not None:
    for _name in ("model", "layers", "symmetry", "penalties", "schedules", "losses"):
        __import__(f"conserve_tf.{_name}")
