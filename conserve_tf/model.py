"""ConservNet: an MLP F trained on grouped data with one objective and an optional independence penalty.

The network maps raw inputs x (..., F) to outputs (..., k): inputs are scaled inside the model,
x_s = (g(x) - offset) * scale with g = log on the features in ``log_inputs`` and the identity on the
others (so ``predict`` and a saved model take raw data; see
:func:`conserve_tf.scaling.input_scaling`), then an MLP (shared hidden layers, or one tower per output),
then a fixed linear ``output_mixing`` (identity until :meth:`ConservNet.decorrelate_outputs`).

Training is a Keras ``fit`` on batches of whole groups, ``x`` (G, M, F), optionally with their global
group ids (G,) as the second element (what ``fit`` calls ``y``; the spreading noise is keyed to them).
``train_step`` asks the objective (:mod:`conserve_tf.losses`; by default the noise-variance loss of
Eq. (1) of Ha & Jeong, PRR 3, L042035, 2021) for its terms on the batch's outputs (G, M, k), adds
``penalty.weight`` times the independence penalty (:mod:`conserve_tf.penalties`) when k > 1, and logs
``loss``, every term of the objective and ``independence``.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import losses, penalties, symmetry as symmetries
from .layers import ProductDense, check_first_layer
from . import schedules  # noqa: F401  (registers the recipes' learning-rate schedules, so saved optimizers load)
from .distribute import BuiltModelMixin
from .groups import GroupedData, check_finite

__all__ = ["ConservNet", "OPTION_NAMES", "objectives_from_options"]

#: keyword arguments that build the objective and penalty (the scripts' flags); see objectives_from_options
OPTION_NAMES = ("q", "r", "spread", "spreader", "radial", "noise_term", "seed", "project_noise", "independence",
                "penalty_samples")


def objectives_from_options(objective="nv", penalty="cos2", q: float = 1.0, r: float = 1.0, spread: str = "std",
                            spreader: str = "l2", radial: str = "volume", noise_term: str = "total", seed: int = 0,
                            project_noise: bool = False, independence: float = 1.0,
                            penalty_samples: int | None = None):
    """(objective, penalty) objects from flat options, the way the scripts' flags name them.

    ``objective``: "nv" (then q, r, spread, spreader, radial, noise_term, seed, project_noise build
    :class:`~conserve_tf.losses.NVLoss`), "variance", "ratio", or a :class:`~conserve_tf.losses.GroupLoss`.
    ``penalty``: "cos2" or "logdet" with weight ``independence`` and ``penalty_samples`` points, or an object.
    """
    nv_options = dict(q=q, r=r, spread=spread, spreader=spreader, radial=radial, noise_term=noise_term,
                      project_noise=project_noise)
    defaults = losses.NVLoss().get_config()
    changed = sorted(k for k, v in nv_options.items() if v != defaults[k])
    if changed and not (isinstance(objective, str) and objective == "nv"):
        raise ValueError(f"{', '.join(changed)} apply to the nv objective only (the noise of Eq. 1), not to "
                         f"objective={getattr(objective, 'name', objective)!r}")
    if isinstance(objective, str) and objective == "nv":
        objective = losses.NVLoss(q=q, r=r, spread=spread, spreader=spreader, radial=radial, noise_term=noise_term,
                                  seed=seed, project_noise=project_noise)
    if isinstance(penalty, str):
        if penalty not in penalties.PENALTIES:
            raise ValueError(f"penalty must be one of {sorted(penalties.PENALTIES)}, got {penalty!r}")
        penalty = penalties.PENALTIES[penalty](weight=independence, samples=penalty_samples, seed=seed)
    return losses.get(objective), penalties.get(penalty)


def _data_input(x, method: str):
    """What ``fit``/``evaluate`` pass on: a GroupedData's ``x``, and an array only when its values are finite."""
    x = x.x if isinstance(x, GroupedData) else x
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        check_finite(x, f"{method}'s x")
    return x


@keras.saving.register_keras_serializable(package="conserve_tf")
class ConservNet(BuiltModelMixin, keras.Model):
    """F: R^F -> R^k, an MLP of ``depth`` hidden layers of ``width`` units, plus its training objective.

    Defaults follow the paper: 4 hidden layers of 320 Mish units, one output, the NV loss with Q = R = 1
    (``objective="nv"``). ``objective``: a :class:`~conserve_tf.losses.GroupLoss` or its name;
    ``penalty``: a :class:`~conserve_tf.penalties.GradientPenalty` or its name (used only with k > 1
    outputs). ``scale``/``offset`` (F,): the input scaling saved with the model (None: identity);
    ``log_inputs``: indices of the features that enter as their natural logarithm before it (they must
    stay > 0; a non-positive value stops ``predict``/``fit`` with an error naming the feature).
    ``towers=True`` gives every output its own MLP, which the one-output-at-a-time scheme needs
    (:meth:`set_stage`). ``symmetry="rotation"`` feeds the MLP the rotation invariants of the scaled state
    (q, v) (:mod:`conserve_tf.symmetry`: (..., 2 d) -> (..., 4) in the plane, else (..., 3)) instead of the
    state, so F cannot depend on the orientation of the data. ``first_layer="product"`` makes the first hidden
    layer :class:`~conserve_tf.layers.ProductDense` (products of its inputs besides the linear map; the term is
    scaled by ``product_gain``, which :func:`~conserve_tf.training.build_conservnet` sets from the data). The
    flat options of :data:`OPTION_NAMES` (``q=``, ``r=``, ``independence=``, ...) are accepted as a
    convenience and turned into the objects by :func:`objectives_from_options`.
    """

    def __init__(self, width: int = 320, depth: int = 4, activation: str = "mish", outputs: int = 1,
                 objective="nv", penalty="cos2", scale=None, offset=None, towers: bool = False, log_inputs=None,
                 symmetry=None, first_layer: str = "dense", product_gain: float = 1.0, **kwargs):
        options = {key: kwargs.pop(key) for key in OPTION_NAMES if key in kwargs}
        super().__init__(**kwargs)
        if int(width) < 1 or int(depth) < 1 or int(outputs) < 1:
            raise ValueError(f"width, depth and outputs must be >= 1, got {width}, {depth}, {outputs}")
        try:
            keras.activations.get(activation)
        except ValueError:
            raise ValueError(f"unknown activation {activation!r}") from None
        if scale is not None and offset is not None and len(scale) != len(offset):
            raise ValueError(f"scale has {len(scale)} entries but offset has {len(offset)}")
        self.objective, self.penalty = objectives_from_options(objective, penalty, **options)
        self.width, self.depth, self.activation, self.outputs = int(width), int(depth), activation, int(outputs)
        self.towers = bool(towers)
        self.stage = None  # None: all outputs train jointly; j: only output j (towers of outputs < j frozen)
        self.scale = None if scale is None else [float(v) for v in scale]
        self.offset = None if offset is None else [float(v) for v in offset]
        self.log_inputs = sorted({int(i) for i in (log_inputs or ())})
        if self.log_inputs and self.log_inputs[0] < 0:
            raise ValueError(f"log_inputs must be feature indices >= 0, got {log_inputs}")
        symmetries.check_symmetry(symmetry, None if scale is None else len(scale))
        symmetries.check_symmetric_scaling(symmetry, self.scale, self.offset, self.log_inputs)
        self.symmetry = symmetry
        self.first_layer, self.product_gain = check_first_layer(first_layer), float(product_gain)

        def dense(units, name, act=None):  # sub-layers do not inherit the model's dtype policy in Keras 3
            return keras.layers.Dense(units, activation=act, name=name, dtype=self.dtype_policy)

        def mlp(prefix):
            first = (ProductDense(self.width, activation, self.product_gain, name=f"{prefix}0",
                                  dtype=self.dtype_policy) if first_layer == "product"
                     else dense(self.width, f"{prefix}0", activation))
            return [first] + [dense(self.width, f"{prefix}{i}", activation) for i in range(1, self.depth)]

        if self.towers:  # one MLP per output
            self.tower_layers = [mlp(f"tower{j}_hidden_") + [dense(1, f"tower{j}_invariant")]
                                 for j in range(self.outputs)]
        else:
            self.hidden = mlp("hidden_")
            self.head = dense(self.outputs, "invariant")
        names = ("loss",) + tuple(self.objective.term_names) + ("independence",)
        self.trackers = [keras.metrics.Mean(name=name) for name in names]
        if self.scale is not None:
            self.build((None, len(self.scale)))

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, jit_compile="auto",
                **kwargs):
        """``keras.Model.compile`` without ``loss`` or ``metrics``: the loss is the model's ``objective`` and the
        logs are its terms (held-out invariant metrics: :class:`~conserve_tf.callbacks.InvariantMetrics`).

        ``jit_compile="auto"`` is XLA off when the model takes logarithms of inputs (``log_inputs``): XLA drops the
        check that they are > 0, so a bad value would turn the loss into NaN instead of stopping with its name.
        """
        if loss is not None:
            raise ValueError(f"ConservNet's loss is its objective ({self.objective.name!r}, chosen with objective= "
                             f"when the model is made), so compile(loss={loss!r}) would be ignored; leave it out")
        if metrics or weighted_metrics:
            raise ValueError("ConservNet logs its objective's terms and has no targets to compare with, so "
                             "compile(metrics=...) would be ignored; measure the invariant on held-out groups with "
                             "conserve_tf.InvariantMetrics (a callback) instead")
        if jit_compile == "auto" and self.log_inputs:
            jit_compile = False
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def compile_from_config(self, config):
        """Recompile a loaded model as it was saved (Keras skips this for a model whose ``compile`` is its own)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, *args, **kwargs):
        """``keras.Model.fit``; a model made without ``scale`` is first built from the data's feature count, so its
        weights exist (and are saved) however it is trained. x may be a :class:`~conserve_tf.groups.GroupedData`
        (its ``x``); an array x with NaN or Inf is refused by name."""
        x = _data_input(x, "fit")
        if not self.built:
            spec = getattr(x, "element_spec", None)  # a tf.data.Dataset: its first element's shape
            if isinstance(spec, (tuple, list)):
                spec = spec[0]
            shape = getattr(spec, "shape", None) if spec is not None else getattr(x, "shape", None)
            if shape is not None and len(shape) >= 2 and shape[-1] is not None:
                with self.distribute_strategy.scope():  # the variables of a model made in a strategy's scope
                    self.build((None, int(shape[-1])))
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        """``keras.Model.evaluate``; x may be a :class:`~conserve_tf.groups.GroupedData`; an array x with NaN or Inf
        is refused by name."""
        return super().evaluate(_data_input(x, "evaluate"), *args, **kwargs)

    def input_width(self) -> int:
        """Features F of the raw inputs (..., F) (``export``'s default signature; the model must be built)."""
        return self.n_features

    # ---------------------------------------------------------------- the network
    def build(self, input_shape):
        n_features = int(input_shape[-1])
        if n_features < 1:
            raise ValueError(f"ConservNet needs at least one input feature, got input shape {tuple(input_shape)}")
        if self.scale is not None and len(self.scale) != n_features:
            raise ValueError(f"the model's input scaling has {len(self.scale)} features, the data {n_features}")
        if self.log_inputs and self.log_inputs[-1] >= n_features:
            raise ValueError(f"log_inputs {self.log_inputs} name features beyond the data's {n_features}")
        symmetries.check_symmetry(self.symmetry, n_features)
        first = n_features if self.symmetry is None else symmetries.n_invariants(n_features)
        for stack in (self.tower_layers if self.towers else [self.hidden + [self.head]]):
            shape = (None, first)
            for layer in stack:
                layer.build(shape)
                shape = (None, self.width)
        # fixed linear map after the MLP (see decorrelate_outputs); identity until set, saved with the weights
        self.output_mixing = self.add_weight(name="output_mixing", shape=(self.outputs, self.outputs),
                                             initializer="identity", trainable=False)
        self.n_features = n_features
        self.built = True

    def set_stage(self, stage):
        """Train only output ``stage`` (freezing the towers of the others), or all outputs (``None``).

        Needs ``towers=True``. Recompile (``fit_conservnet(model=...)`` does) after changing the stage.
        """
        if stage is not None:
            if not self.towers:
                raise ValueError("training one output at a time needs towers=True (separate MLPs per output)")
            if not 0 <= int(stage) < self.outputs:
                raise ValueError(f"stage must lie in 0..{self.outputs - 1} or be None, got {stage}")
            stage = int(stage)
        self.stage = stage
        if self.towers:
            for j, stack in enumerate(self.tower_layers):
                for layer in stack:
                    layer.trainable = stage is None or j == stage

    def scale_inputs(self, x):
        """x (..., F) raw -> (g(x) - offset) * scale, g = log on the ``log_inputs`` features."""
        x = tf.cast(x, self.compute_dtype)
        if self.log_inputs:
            n_features = x.shape[-1]
            mask = tf.constant([i in self.log_inputs for i in range(n_features)])
            logged = tf.gather(x, self.log_inputs, axis=-1)
            check = tf.debugging.assert_positive(
                logged, message=f"ConservNet takes the log of input feature(s) {self.log_inputs} (log_inputs, "
                                f"chosen by scaling='auto' for positive data spanning decades); they must be > 0 "
                                f"(train with scaling='factors', --scaling=factors, to keep them linear)")
            with tf.control_dependencies([check]):
                x = tf.where(mask, tf.math.log(tf.where(mask, x, tf.ones_like(x))), x)
        if self.offset is not None:
            x = x - tf.constant(self.offset, dtype=x.dtype)
        if self.scale is not None:
            x = x * tf.constant(self.scale, dtype=x.dtype)
        return x

    def first_layer_inputs(self, xs):
        """What the first hidden layer sees: the scaled inputs (..., F), or with a ``symmetry`` their invariants."""
        return xs if self.symmetry is None else symmetries.rotation_invariants(xs)

    def network(self, xs, upto: int | None = None):
        """The MLP on already-scaled inputs (..., F) -> (..., outputs) (towers: the first ``upto`` outputs); with a
        ``symmetry``, on their invariants."""
        xs = self.first_layer_inputs(xs)
        if self.towers:
            outs = []
            for stack in self.tower_layers[:upto]:
                h = xs
                for layer in stack:
                    h = layer(h)
                outs.append(h)
            return tf.concat(outs, axis=-1)
        h = xs
        for layer in self.hidden:
            h = layer(h)
        return self.head(h)

    def nonpositive_log_inputs(self, x) -> list[int]:
        """The ``log_inputs`` features that are <= 0 somewhere in the array x (..., F)."""
        x = np.asarray(x)
        return [i for i in self.log_inputs if not np.all(x[..., i] > 0)]

    def predict(self, x, *args, **kwargs):
        """``keras.Model.predict``; x may be a :class:`~conserve_tf.groups.GroupedData` (outputs (G, M, k)); an array
        with a value <= 0 in a logged feature is refused by name first."""
        x = x.x if isinstance(x, GroupedData) else x
        if self.log_inputs and isinstance(x, np.ndarray) and x.ndim >= 1 and x.shape[-1] > self.log_inputs[-1]:
            bad = self.nonpositive_log_inputs(x)
            if bad:
                raise ValueError(f"input feature(s) {bad} must be > 0: the model enters them as their logarithm "
                                 f"(log_inputs; scaling='auto' chose it for positive data spanning decades, "
                                 f"scaling='factors' keeps them linear)")
        return super().predict(x, *args, **kwargs)

    def check_features(self, x):
        """Refuse inputs whose last axis is not the model's features (when both are known)."""
        n = getattr(self, "n_features", None)
        if n is not None and x.shape.rank is not None and x.shape[-1] is not None and x.shape[-1] != n:
            raise ValueError(f"ConservNet was built for {n} input features (the last axis), got inputs of shape "
                             f"{tuple(x.shape)}")

    def call(self, x, training=False):
        """F of raw inputs x (..., F): (..., outputs)."""
        x = tf.convert_to_tensor(x)
        self.check_features(x)
        if x.shape.rank is None:  # a retraced predict may see no rank: score flat samples, then restore the axes
            out = self.call(tf.reshape(x, [-1, self.n_features]))
            return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [self.outputs]], axis=0))
        out = self.network(self.scale_inputs(x))
        return tf.einsum("...i,ij->...j", out, tf.cast(self.output_mixing, out.dtype))

    def raw_outputs(self, x, upto: int | None = None):
        """The MLP's outputs before ``output_mixing``: raw x (..., F) -> (..., upto or outputs)."""
        out = self.network(self.scale_inputs(x), upto)
        return out if upto is None else out[..., :upto]

    def decorrelate_outputs(self, data, batch_size: int = 8192):
        """Set ``output_mixing`` to the generalized eigenvectors of (W, C) of the raw outputs on ``data``.

        ``data``: :class:`~conserve_tf.groups.GroupedData` or an array (G, M, F). Afterwards the outputs on
        ``data`` are uncorrelated with unit variance, the most invariant direction first
        (:func:`~conserve_tf.losses.decorrelating_map`). Returns the k eigenvalues, ascending.
        """
        x = np.asarray(getattr(data, "x", data), dtype=np.float32)
        if x.ndim != 3 or x.shape[-1] != (len(self.scale) if self.scale is not None else x.shape[-1]):
            raise ValueError(f"decorrelate_outputs needs grouped inputs (groups, members, features), got {x.shape}")
        flat = x.reshape(-1, x.shape[-1])
        raw = np.concatenate([np.asarray(self.raw_outputs(tf.constant(flat[i:i + batch_size])))
                              for i in range(0, len(flat), batch_size)])
        mixing, ratios = losses.decorrelating_map(raw.reshape(x.shape[0], x.shape[1], self.outputs))
        self.output_mixing.assign(mixing.astype(self.output_mixing.dtype))
        return ratios

    # ---------------------------------------------------------------- the loss
    @property
    def penalized(self) -> bool:
        """Whether the independence penalty enters the loss (k > 1 outputs, weight > 0, not stage 0)."""
        return (self.outputs > 1 and self.penalty is not None and self.penalty.weight > 0
                and self.stage != 0)

    def _penalty(self, flat, upto, step):
        """Outputs at flat (N, F) and the unweighted penalty (at all points or the penalty's sample)."""
        if self.penalty.samples is None:
            with tf.GradientTape() as inner:
                inner.watch(flat)
                out = self.network(flat, upto)
            return out, self.penalty(inner.batch_jacobian(out, flat))
        sub = self.penalty.points(flat, step)
        with tf.GradientTape() as inner:
            inner.watch(sub)
            jac = inner.batch_jacobian(self.network(sub, upto), sub)
        return self.network(flat, upto), self.penalty(jac)

    def loss_terms(self, x, group_ids=None, step=-1) -> dict:
        """The loss on a batch x (G, M, F) of whole groups: {"loss", each objective term, "independence"}.

        ``group_ids`` (G,) default to 0..G-1; ``step`` keys the objective's noise (-1: fixed evaluation noise).
        """
        xs = self.scale_inputs(x)
        members = xs.shape[1] if xs.shape[1] is not None else tf.shape(xs)[1]
        n_features, g = xs.shape[-1], tf.shape(xs)[0]
        group_ids = tf.range(g) if group_ids is None else group_ids
        upto = None if self.stage is None else self.stage + 1  # in a stage, later outputs are not used
        extra = self.objective.perturbed_inputs(self, xs, group_ids, step)
        flat = tf.reshape(xs if extra is None else tf.concat([xs, extra], axis=0), [-1, n_features])
        if self.penalized:
            out, penalty = self._penalty(flat, upto, step)
        else:
            out, penalty = self.network(flat, upto), tf.zeros((), xs.dtype)
        out = tf.reshape(out, [-1, members, self.outputs if upto is None else upto])
        if self.stage is not None and not self.objective.keeps_frozen_outputs:
            out = out[..., self.stage:]  # only the trained output is scored
        if out.dtype != tf.float32 and out.dtype != tf.float64:  # a mixed-precision policy: the objective in float32
            out, penalty = tf.cast(out, tf.float32), tf.cast(penalty, tf.float32)
        clean, perturbed = (out, None) if extra is None else (out[:g], out[g:])
        terms = dict(zip(self.objective.term_names, self.objective.terms(clean, perturbed)))
        weight = self.penalty.weight if self.penalized else 0.0
        return {"loss": tf.add_n(list(terms.values())) + weight * penalty, **terms, "independence": penalty}

    def _unpack(self, data):
        """x (G, M, F) and the groups' ids (G,) from what ``fit``/``evaluate`` pass (x, or (x, ids))."""
        if isinstance(data, (tuple, list)):
            if len(data) > 2 and data[2] is not None:
                raise ValueError("ConservNet does not weight samples: its loss is a statistic of whole groups, so "
                                 "sample_weight and class_weight would be ignored; leave them out")
            x, gid = data[0], data[1] if len(data) > 1 else None
        else:
            x, gid = data, None
        if x.shape.rank is not None and x.shape.rank != 3:
            raise ValueError(f"ConservNet trains and evaluates on whole groups: x must have shape (groups, members, "
                             f"features), got {tuple(x.shape)} (GroupedData.x or conserve_tf.as_dataset give this "
                             f"layout; predict takes any leading axes)")
        self.check_features(x)
        if gid is None:  # ids 0..G-1 of this batch; under a strategy each replica's groups follow the previous one's
            g = tf.shape(x)[0]
            gid = tf.range(g) + self._first_group(g)
        elif gid.dtype.is_floating or gid.dtype.is_complex or gid.dtype == tf.string or gid.dtype == tf.bool:
            raise ValueError(f"the second element of ConservNet's data holds the groups' integer ids (groups,), which "
                             f"key the spreading noise; it got {gid.dtype.name} values. ConservNet has no targets: "
                             f"pass x alone, or x with integer ids")
        return x, tf.reshape(tf.cast(gid, tf.int64), [-1])

    @staticmethod
    def _first_group(g):
        """Index of this replica's first group in the global batch: the groups of the replicas before it (their
        counts gathered, so an uneven last batch numbers every group once, as one device does); 0 on one device."""
        replica = tf.distribute.get_replica_context()
        if replica is None or replica.num_replicas_in_sync == 1:
            return 0
        counts = replica.all_gather(tf.reshape(g, [1]), axis=0)  # (replicas,)
        before = tf.range(tf.shape(counts)[0]) < tf.cast(replica.replica_id_in_sync_group, tf.int32)
        return tf.reduce_sum(tf.where(before, counts, tf.zeros_like(counts)))

    def _record(self, terms):
        for tracker in self.metrics:
            tracker.update_state(terms[tracker.name])
        return self.step_logs({m.name: m.result() for m in self.metrics})

    def train_step(self, data):
        x, gid = self._unpack(data)
        with tf.GradientTape() as tape:
            terms = self.loss_terms(x, gid, self.optimizer.iterations)
            # gradients are summed across replicas (docs/design.md, Keras fact 1), so scale the hand-made loss
            scaled = terms["loss"] / tf.cast(self.distribute_strategy.num_replicas_in_sync, terms["loss"].dtype)
            scaled = self.optimizer.scale_loss(scaled)  # the loss scale of mixed precision (1 otherwise)
        if self.trainable_variables:  # a frozen model (trainable=False) only logs its loss
            grads = tape.gradient(scaled, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
        return self._record(terms)

    def test_step(self, data):
        x, gid = self._unpack(data)
        # evaluation noise is fixed (step -1) so that repeated evaluations agree
        return self._record(self.loss_terms(x, gid, tf.constant(-1, tf.int64)))

    @property
    def metrics(self):
        return [t for t in self.trackers if t.name != "independence" or self.penalized]

    # ---------------------------------------------------------------- saving
    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, depth=self.depth, activation=self.activation, outputs=self.outputs,
                      objective=keras.saving.serialize_keras_object(self.objective),
                      penalty=None if self.penalty is None else keras.saving.serialize_keras_object(self.penalty),
                      scale=self.scale, offset=self.offset, towers=self.towers, log_inputs=self.log_inputs,
                      symmetry=self.symmetry, first_layer=self.first_layer, product_gain=self.product_gain)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("objective", "penalty"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
