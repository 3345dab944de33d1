"""conserve_tf: ConservNet (Ha & Jeong 2021) and the foundation shared by ``siamese`` and ``lagrangian``.

Public API:

* grouped data: :class:`GroupedData`, :class:`GroupedDataError`
* systems: :func:`make_system`, :data:`SYSTEMS`, :func:`load_double_pendulum`, :func:`double_pendulum_split`
* the model: :class:`ConservNet`, :func:`ball_noise`, :func:`input_scaling`; its losses (module :mod:`losses`):
  :func:`nv_loss_terms`, :func:`within_group_ratio`, and the independence penalties of several outputs
  :func:`gradient_cosine_penalty`, :func:`gradient_logdet_penalty`
* training: :func:`fit_conservnet`, :func:`build_conservnet`, :func:`as_dataset`, :func:`predict_groups`,
  :func:`evaluate_invariant`
* analysis: module :mod:`metrics` (rho, intra-group std, R², :class:`InvariantMetrics` callback),
  module :mod:`symbolic` (:func:`polynomial_readout`)
* several invariants (module :mod:`invariants`): :func:`count_invariants`, :func:`decide_count`,
  :func:`invariant_readout`, :func:`known_invariants`, :func:`output_spreads`
"""

import importlib

# name -> submodule; resolved on first use so that light imports (``conserve_tf.cli``, the data
# classes) do not pay TensorFlow's start-up time
_EXPORTS = {
    "GroupedData": "groups", "GroupedDataError": "groups",
    "make_system": "systems", "SYSTEMS": "systems",
    "load_double_pendulum": "pendulum", "double_pendulum_split": "pendulum",
    "ConservNet": "model", "nv_loss_terms": "losses", "gradient_cosine_penalty": "losses",
    "gradient_logdet_penalty": "losses", "within_group_ratio": "losses",
    "ball_noise": "spreaders", "input_scaling": "scaling",
    "InvariantMetrics": "metrics", "invariant_report": "metrics", "polynomial_readout": "symbolic",
    "as_dataset": "training", "build_conservnet": "training", "fit_conservnet": "training",
    "predict_groups": "training", "evaluate_invariant": "training",
    "count_invariants": "invariants", "decide_count": "invariants", "invariant_readout": "invariants",
    "known_invariants": "invariants", "output_spreads": "invariants",
    "Verdict": "verdict", "invariant_verdict": "verdict", "verdict_from_outputs": "verdict",
}
_MODULES = ("metrics", "symbolic", "groups", "systems", "physical", "pendulum", "model", "training", "distribute",
            "callbacks", "cli", "scaling", "spreaders", "invariants", "verdict", "losses")

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
