"""The interpretable Siamese network (Fig. 1, Eq. (1) and appendix B of Wetzel et al. 2020, paper 004).

One shared subnetwork f (an MLP whose last layer is a bottleneck of ``bottleneck`` neurons, one by
default) is applied to both members of a pair; the algebra layer and the sigmoid neuron give

    y_p = sigmoid(w Σ_k (f_k(x) - f_k(x'))² + b),                                  Eq. (1)

the probability that x and x' are *unrelated* (label 1; related pairs have label 0, as in the paper),
trained with binary cross-entropy (Eq. (B1)). ``invariant(x)`` returns f(x), the intermediate output
that the read-out interprets.

Inputs: one tensor (batch, 2, features) -- the layout of :func:`siamese.pairs.make_pairs` -- or a
tuple/list of two (batch, features) tensors; both give the output (batch, 1).

Default sizes: two hidden layers of 160 units, the original SNN's size quoted in appendix B of the
ConservNet paper (paper 004 does not print its layer sizes); tanh keeps f smooth so that its polynomial
read-out is meaningful. A ``keras.layers.Normalization`` with fixed mean and variance (from the
training data) may open the subnetwork, so f is a function of the raw physical inputs.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

# registers HoldThenCosine, the schedule of the recipe's optimizer, so that keras.models.load_model can
# rebuild a compiled network saved by siamese.train in a process that only imported this module
from conserve_tf import schedules as _schedules  # noqa: F401
from conserve_tf.layers import ProductDense, check_first_layer
from conserve_tf.symmetry import RotationInvariants, check_symmetric_scaling, check_symmetry

__all__ = ["SimilarityHead", "SiameseNetwork", "build_subnetwork"]


def default_first_layer(symmetry=None) -> str:
    """The first hidden layer f gets when none is named: "product" on the (normalized) state, "dense" after the
    rotation invariants, which already are the quadratic invariants a product layer would form (docs/siamese.md:
    with them, products read E with L fixed less exactly)."""
    return "dense" if symmetry is not None else "product"


def hidden_widths(hidden) -> list[int]:
    """The hidden layer widths as a list: a sequence of integers, or one integer for one layer."""
    if isinstance(hidden, (int, np.integer)):
        return [int(hidden)]
    try:
        widths = [int(h) for h in hidden]
    except (TypeError, ValueError):
        raise ValueError(f"hidden must be a width or a sequence of widths (integers), got {hidden!r}") from None
    if any(w != h for w, h in zip(widths, hidden)):
        raise ValueError(f"hidden layer widths must be integers, got {list(hidden)}")
    return widths


def build_subnetwork(n_features: int, hidden=(160, 160), activation: str = "tanh", bottleneck: int = 1,
                     mean=None, variance=None, name: str = "f", symmetry=None,
                     first_layer: str | None = None) -> keras.Sequential:
    """The shared MLP f: (batch, n_features) -> (batch, bottleneck); optional input normalization, then with
    ``symmetry="rotation"`` the rotation invariants of the (normalized) state (:mod:`conserve_tf.symmetry`).
    ``first_layer="product"``: the first hidden layer is :class:`conserve_tf.layers.ProductDense` (learned
    products of its inputs, gain 1 on the normalized inputs; docs/siamese.md, central potential) with an even
    start: its linear kernel starts at zero, so f starts as an even function of the (centred) state and an
    even invariant such as s² or L is not raced by an odd projection (docs/siamese.md, "An even start");
    ``"dense"``: a plain Dense layer, the paper's network; None: :func:`default_first_layer` of ``symmetry``."""
    first_layer = default_first_layer(symmetry) if first_layer is None else first_layer
    n_features, bottleneck = int(n_features), int(bottleneck)
    hidden = hidden_widths(hidden)
    if n_features < 1:
        raise ValueError(f"n_features must be >= 1, got {n_features}")
    if bottleneck < 1:
        raise ValueError(f"bottleneck must be >= 1 neuron, got {bottleneck}")
    if any(h < 1 for h in hidden):
        raise ValueError(f"hidden layer widths must be >= 1, got {hidden}")
    if check_first_layer(first_layer) == "product" and not hidden:
        raise ValueError("first_layer='product' (the default without symmetry) needs at least one hidden layer; "
                         "first_layer='dense' with hidden=() gives a linear f")
    layers = [keras.Input((n_features,))]
    if mean is not None or variance is not None:
        mean = np.zeros(n_features) if mean is None else np.asarray(mean, np.float32).reshape(-1)
        variance = np.ones(n_features) if variance is None else np.asarray(variance, np.float32).reshape(-1)
        if mean.shape != (n_features,) or variance.shape != (n_features,):
            raise ValueError(f"mean and variance need one value per feature ({n_features})")
        layers.append(keras.layers.Normalization(mean=mean, variance=np.maximum(variance, 1e-12)))
    check_symmetry(symmetry, n_features)
    check_symmetric_scaling(symmetry, variance, mean)
    if symmetry is not None:
        layers.append(RotationInvariants(name="rotation_invariants"))
    layers += [ProductDense(h, activation=activation, kernel_initializer="zeros")  # the even start
               if i == 0 and first_layer == "product" else keras.layers.Dense(h, activation=activation)
               for i, h in enumerate(hidden)]
    layers.append(keras.layers.Dense(bottleneck, name="bottleneck"))
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="siamese")
class SimilarityHead(keras.layers.Layer):
    """Algebra layer and sigmoid neuron of Eq. (1): (f, f') each (batch, k) -> (batch, 1)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(1,), initializer=keras.initializers.Constant(1.0), name="w")
        self.b = self.add_weight(shape=(1,), initializer=keras.initializers.Constant(-1.0), name="b")

    def call(self, f_a, f_b):
        d2 = ops.sum(ops.square(f_a - f_b), axis=-1, keepdims=True)
        return ops.sigmoid(self.w * d2 + self.b)


@keras.saving.register_keras_serializable(package="siamese")
class SiameseNetwork(keras.Model):
    """Siamese network with a shared bottleneck subnetwork; output P(unrelated) (batch, 1), Eq. (1).

    Build either from ``subnetwork`` (any Keras model mapping (batch, F) -> (batch, k)) or from
    ``n_features`` with ``hidden``, ``activation``, ``bottleneck``, ``mean``/``variance``, ``symmetry``,
    ``first_layer`` (see :func:`build_subnetwork`).
    """

    def __init__(self, n_features: int | None = None, hidden=(160, 160), activation: str = "tanh",
                 bottleneck: int = 1, subnetwork=None, mean=None, variance=None, symmetry=None,
                 first_layer: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.symmetry = symmetry
        self.first_layer = default_first_layer(symmetry) if first_layer is None else first_layer
        if subnetwork is None:
            if n_features is None:
                raise ValueError("SiameseNetwork needs n_features (or a ready subnetwork)")
            subnetwork = build_subnetwork(n_features, hidden, activation, bottleneck, mean, variance,
                                          symmetry=symmetry, first_layer=self.first_layer)
        elif isinstance(subnetwork, dict):
            subnetwork = keras.saving.deserialize_keras_object(subnetwork)
        self.subnetwork = subnetwork
        shape = subnetwork.input_shape if hasattr(subnetwork, "input_shape") else None
        self.n_features = int(shape[-1]) if shape is not None and shape[-1] is not None else n_features
        self.bottleneck = int(subnetwork.output_shape[-1]) if hasattr(subnetwork, "output_shape") else bottleneck
        self.hidden, self.activation_name = hidden_widths(hidden), activation
        self.head = SimilarityHead(name="similarity")
        if self.n_features is not None:  # build now: variables must exist before fit traces (fact 4)
            self(np.zeros((1, 2, self.n_features), np.float32))

    def _split(self, inputs):
        if isinstance(inputs, dict):
            if set(inputs) != {"x1", "x2"}:
                raise ValueError(f"a dict of pairs needs the keys 'x1' and 'x2', got {sorted(inputs)}")
            inputs = (inputs["x1"], inputs["x2"])
        if isinstance(inputs, (tuple, list)):
            if len(inputs) != 2:
                raise ValueError(f"a pair input needs exactly two tensors (x, x'), got {len(inputs)}")
            x_a, x_b = inputs
        else:
            shape = tuple(inputs.shape)
            if len(shape) != 3 or shape[1] != 2:
                raise ValueError(f"pair input must have shape (batch, 2, features), got {shape} (f of single "
                                 f"samples (batch, features) is SiameseNetwork.invariant)")
            x_a, x_b = inputs[:, 0], inputs[:, 1]
        for t in (x_a, x_b):
            if len(t.shape) != 2 or (self.n_features is not None and t.shape[-1] != self.n_features):
                raise ValueError(f"each member must have shape (batch, {self.n_features}), got {tuple(t.shape)}")
        return x_a, x_b

    def call(self, inputs, training=None):
        x_a, x_b = self._split(inputs)
        if self.n_features is None and x_a.shape[-1] is not None:  # a subnetwork of unstated input width
            self.n_features = int(x_a.shape[-1])
        return self.head(self.subnetwork(x_a, training=training), self.subnetwork(x_b, training=training))

    def invariant(self, x, batch_size: int = 8192) -> np.ndarray:
        """The intermediate output f(x): x (N, F) -> (N,) for one bottleneck neuron, else (N, k)."""
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"invariant() needs inputs of shape (samples, {self.n_features}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("invariant() inputs contain NaN or Inf")
        out = np.concatenate([np.asarray(self.subnetwork(x[i:i + batch_size], training=False))
                              for i in range(0, max(len(x), 1), batch_size)]) if len(x) else np.zeros((0, 1))
        return out[:, 0] if out.shape[1] == 1 else out

    def get_config(self):
        config = super().get_config()
        config.update(n_features=self.n_features, hidden=self.hidden, activation=self.activation_name,
                      bottleneck=self.bottleneck, symmetry=self.symmetry, first_layer=self.first_layer,
                      subnetwork=keras.saving.serialize_keras_object(self.subnetwork))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.setdefault("first_layer", "dense")  # saved before the product layer existed (or became the default)
        config["subnetwork"] = keras.saving.deserialize_keras_object(config["subnetwork"])
        return cls(**config)
