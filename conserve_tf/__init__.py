"""conserve_tf: ConservNet (Ha & Jeong 2021) and the foundation shared by ``siamese`` and ``lagrangian``.

Public API:

* grouped data: :class:`GroupedData`, :class:`GroupedDataError`
* systems: :func:`make_system`, :data:`SYSTEMS`, :func:`load_double_pendulum`, :func:`double_pendulum_split`
* the model: :class:`ConservNet`, :func:`nv_loss_terms`, :func:`ball_noise`, :func:`input_scaling`
* training: :func:`fit_conservnet`, :func:`build_conservnet`, :func:`as_dataset`, :func:`predict_groups`,
  :func:`evaluate_invariant`
* analysis: module :mod:`metrics` (rho, intra-group std, R², :class:`InvariantMetrics` callback),
  module :mod:`symbolic` (:func:`polynomial_readout`)
"""

from . import metrics, symbolic
from .groups import GroupedData, GroupedDataError
from .metrics import InvariantMetrics, invariant_report
from .model import ConservNet, nv_loss_terms
from .pendulum import double_pendulum_split, load_double_pendulum
from .scaling import input_scaling
from .spreaders import ball_noise
from .symbolic import polynomial_readout
from .systems import SYSTEMS, make_system
from .training import as_dataset, build_conservnet, evaluate_invariant, fit_conservnet, predict_groups

__all__ = [
    "GroupedData", "GroupedDataError", "make_system", "SYSTEMS", "load_double_pendulum",
    "double_pendulum_split", "ConservNet", "nv_loss_terms", "ball_noise", "input_scaling",
    "metrics", "symbolic", "InvariantMetrics", "invariant_report", "polynomial_readout",
    "as_dataset", "build_conservnet", "fit_conservnet", "predict_groups", "evaluate_invariant",
]
__version__ = "0.1.0"
