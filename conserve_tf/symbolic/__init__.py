"""Read a formula off a learned scalar F(x).

Public API:

* :func:`polynomial_readout`, :class:`ReadoutResult`, :func:`design_matrix`, :func:`format_terms`,
  :func:`symbol_names` (module :mod:`.polynomial`): ridge regression on polynomial features, as in the three papers;
* :func:`symbolic_readout`, :class:`SymbolicResult`, :func:`keras_input_gradient`, :data:`FUNCTIONS`,
  :data:`FITS`
  (module :mod:`.regression`): symbolic regression with Operon (``pyoperon``), printed by sympy,
  robust to F being the invariant only up to a monotone map (docs/symbolic.md);
* :func:`library_candidates`, :func:`build_library` (module :mod:`.library`): sparse sums of terms from a
  fixed grammar, the first proposer of :func:`symbolic_readout`;
* :func:`conserved_formula`, :class:`ConservedResult`, :func:`within_fraction` (module :mod:`.conserved`): the
  sparse formula most nearly constant within the groups of the data themselves, without a network;
* :func:`read_out`, :data:`READOUTS` (module :mod:`.scripted`): what the scripts print under ``--readout``.
"""

from .polynomial import ReadoutResult, design_matrix, format_terms, polynomial_readout, symbol_names
from .library import build_library, library_candidates
from .conserved import ConservedResult, conserved_formula, within_fraction
from .regression import FITS, FUNCTIONS, SymbolicResult, keras_input_gradient, symbolic_readout
from .scripted import READOUTS, read_out

__all__ = ["ReadoutResult", "polynomial_readout", "design_matrix", "format_terms", "symbol_names",
           "SymbolicResult", "symbolic_readout", "keras_input_gradient", "FUNCTIONS", "FITS", "READOUTS", "read_out",
           "library_candidates", "build_library", "ConservedResult", "conserved_formula", "within_fraction"]
