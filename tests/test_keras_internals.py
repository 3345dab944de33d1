"""The one place the package leans on private Keras methods: ``BuiltModelMixin`` (conserve_tf.distribute).

setup.cfg pins Keras to the minor version these were checked on; these tests fail loudly when a Keras
release renames, re-signs or stops calling the methods the workaround overrides.
"""

import inspect

import keras
import numpy as np

from conserve_tf import fit_conservnet, make_system
from conserve_tf.distribute import BuiltModelMixin


def _owner(name):
    return next((cls for cls in keras.Model.__mro__ if name in vars(cls)), None)


def test_keras_still_has_the_overridden_build_hook_with_its_signature():
    owner = _owner("_maybe_symbolic_build")
    assert owner is not None, "keras.Model no longer has _maybe_symbolic_build: BuiltModelMixin overrides nothing"
    params = list(inspect.signature(getattr(owner, "_maybe_symbolic_build")).parameters)
    assert params == ["self", "iterator", "data_batch"], params
    assert _owner("_flatten_layers") is not None


def test_fit_calls_the_override(monkeypatch):
    calls = []
    original = BuiltModelMixin._maybe_symbolic_build

    def spy(self, iterator=None, data_batch=None):
        calls.append(type(self).__name__)
        return original(self, iterator=iterator, data_batch=data_batch)

    monkeypatch.setattr(BuiltModelMixin, "_maybe_symbolic_build", spy)
    data = make_system("s1", 4, 6, seed=0)
    model, _ = fit_conservnet(data, steps=1, width=4, depth=1)
    assert calls and set(calls) == {"ConservNet"}, "Keras's fit no longer goes through _maybe_symbolic_build"
    layers = [layer.name for layer in model._flatten_layers(include_self=False)]
    assert "hidden_0" in layers and "invariant" in layers
    assert np.isfinite(model.predict(data.flat(), verbose=0)).all()
