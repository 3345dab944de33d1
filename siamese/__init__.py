"""Interpretable Siamese networks (Wetzel, Melko, Scott, Panju, Ganesh, PRR 2, 033499 (2020)).

A shared subnetwork with a one-neuron bottleneck f learns whether two observations belong to the same
event, orbit or field configuration; a polynomial read-out of f reveals the invariant it uses.
TensorFlow is imported only when a model is built or trained.
"""

from .pairs import PairSet, make_pairs
from .systems import (central_potential, electromagnetism, make_system, random_lorentz, special_relativity,
                      SYSTEMS, EXTRA_FEATURES)

__all__ = ["SiameseNetwork", "build_subnetwork", "make_pairs", "PairSet", "special_relativity",
           "central_potential", "electromagnetism", "random_lorentz", "make_system", "SYSTEMS", "EXTRA_FEATURES",
           "train_siamese", "compile_siamese", "recipe_callbacks", "RECIPES", "readout", "pattern_match",
           "invariant_scores", "scatter_invariants", "baseline_rho", "baseline_grid", "DecorrelatedSiamese",
           "train_decorrelated", "multi_readout", "count_siamese_invariants", "correlation_penalty"]

_LAZY = {"SiameseNetwork": "model", "build_subnetwork": "model", "train_siamese": "training",
         "compile_siamese": "training", "recipe_callbacks": "training", "RECIPES": "training", "readout": "interpret",
         "pattern_match": "interpret", "invariant_scores": "interpret", "scatter_invariants": "interpret",
         "baseline_rho": "baseline", "baseline_grid": "baseline", "DecorrelatedSiamese": "multi",
         "train_decorrelated": "multi", "multi_readout": "multi", "count_siamese_invariants": "multi",
         "correlation_penalty": "multi"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'siamese' has no attribute {name!r}")


# Keras finds a saved model's class only once the module defining it is imported. When Keras is loaded already,
# TensorFlow's start-up is paid anyway: import those modules now, so keras.models.load_model works after a plain
# ``import siamese``. (Otherwise they wait, so that scripts check their flags before TensorFlow starts.)
if __import__("sys").modules.get("keras") is not None:
    for _name in ("model", "multi"):
        __import__(f"siamese.{_name}")
