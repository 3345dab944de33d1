"""ConservNet: an MLP F trained on grouped data with the noise-variance (NV) loss.

Eq. (1) of Ha & Jeong (PRR 3, L042035, 2021), per group i with members j and an average over groups:

    L = mean_i [ S_j(F(x_ij)) + | Q - S_j(F(x_ij + ε_ij)) | ]

S is the spread over the members of a group: the population standard deviation (the paper's
practice, ``spread="std"``) or the variance (``"var"``, the loss as printed and the published
code's choice). ε, the *spreader*, is uniform in a ball of radius R (``spreader="l2"``, or the
``"l1"``/``"linf"`` balls of appendix H.2), fresh at every optimizer step and keyed to
(seed, step, group id), see :mod:`conserve_tf.spreaders`; ``radial="uniform"`` draws the L2 radius
uniform in [0, R] as the published code does (default ``"volume"``: uniform in the ball).

Batches are whole groups: ``x`` of shape (G, M, F), optionally with the global group ids (G,) as the
second element of the batch (what ``fit`` calls ``y``); without them the groups of a batch are
numbered 0..G-1. ``call`` accepts any leading shape (..., F) and returns (..., outputs).

Inputs are scaled inside the model, ``x_s = (x - offset) * scale``, so ``predict`` and a saved model
take raw data (:func:`conserve_tf.scaling.input_scaling` computes scale and offset). The spreading
noise is added to the scaled inputs, as in the paper, which scales the data before training.

``objective="ratio"`` replaces Eq. (1) by the within-group variance ratio trace(C⁻¹ W) of
:func:`conserve_tf.losses.within_group_ratio` (this package's addition, made for several invariants at
once); the losses themselves live in :mod:`conserve_tf.losses`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .distribute import BuiltModelMixin
from .losses import (NOISE_TERMS, PENALTIES, PENALTY_FNS, gradient_cosine_penalty, gradient_logdet_penalty,
                     nv_loss_terms, within_group_ratio)
from . import schedules  # noqa: F401  (registers the recipes' schedules, so saved optimizers load)
from .spreaders import BALLS, RADIAL_LAWS, ball_noise

__all__ = ["ConservNet", "NOISE_TERMS", "OBJECTIVES", "PENALTIES", "nv_loss_terms", "within_group_ratio",
           "gradient_cosine_penalty", "gradient_logdet_penalty"]

OBJECTIVES = ("nv", "ratio")


@keras.saving.register_keras_serializable(package="conserve_tf")
class ConservNet(BuiltModelMixin, keras.Model):
    """F: R^F -> R^outputs, an MLP of ``depth`` hidden layers of ``width`` units, trained with the NV loss.

    Defaults follow the paper: 4 hidden layers of 320 Mish units, one output, Q = R = 1, L2-ball
    spreader, standard deviation as the spread. ``scale``/``offset`` (F,) are the input scaling saved with the
    model (None: identity).

    Several outputs (``outputs=k``): NV loss per output (averaged) + ``independence`` times a penalty on
    the outputs' input gradients, ``penalty="cos2"`` (mean squared cosine, :func:`gradient_cosine_penalty`)
    or ``"logdet"`` (barrier against dependence, :func:`gradient_logdet_penalty`). ``towers=True`` gives
    every output its own MLP (no shared hidden layers), which the one-output-at-a-time ("deflation")
    scheme needs: after ``set_stage(j)`` only output j trains (NV loss on F_j alone) while the towers of
    outputs < j are frozen and enter only the penalty, computed on F_0..F_j; ``set_stage(None)`` trains
    all outputs jointly again. ``project_noise=True``: in stage j the spreading noise ε of every point is
    projected onto the tangent space of the level sets of the frozen outputs F_0..F_{j-1} there
    (ε - U Uᵀ ε, U an orthonormal basis of their input gradients), so the noise, to first order, leaves
    them unchanged: the analogue of appendix G's data with L held fixed, where the NV loss finds a
    second invariant. A function of the frozen outputs then gets no noise spread and pays the full
    noise term |Q - S|, so the NV loss itself steers F_j away from them.

    ``objective="ratio"``: instead of Eq. (1) the loss is trace(C⁻¹ W) of the outputs over the batch
    (:func:`~conserve_tf.losses.within_group_ratio`; Q, R, the spreader and the noise options are then
    unused), plus the same independence penalty. A batch then needs at least two groups, better many:
    C and W are estimated from it. In stage j the ratio is taken over outputs 0..j, the frozen ones
    included, so output j must add a direction that is invariant and uncorrelated with theirs (the
    deflation of the generalized eigenproblem W v = λ C v). Under a distribution strategy each replica
    takes the ratio of its own groups and the replicas' losses are averaged.

    ``penalty_samples=n`` takes the independence penalty's input Jacobian at n points drawn afresh at
    every step from the batch (None: at every point); ``decorrelate_outputs(data)`` sets the fixed linear
    map applied after the MLP (``output_mixing``, identity until then, saved with the weights) to the
    generalized eigenvectors of (W, C) on ``data``: outputs uncorrelated, of unit variance, most invariant first.
    """

    def __init__(self, width: int = 320, depth: int = 4, activation: str = "mish", outputs: int = 1,
                 q: float = 1.0, r: float = 1.0, spread: str = "std", spreader: str = "l2",
                 scale=None, offset=None, seed: int = 0, independence: float = 1.0, penalty: str = "cos2",
                 towers: bool = False, project_noise: bool = False, noise_term: str = "total",
                 objective: str = "nv", penalty_samples: int | None = None, radial: str = "volume", **kwargs):
        super().__init__(**kwargs)
        if int(width) < 1 or int(depth) < 1 or int(outputs) < 1:
            raise ValueError(f"width, depth and outputs must be >= 1, got {width}, {depth}, {outputs}")
        if spread not in ("std", "var"):
            raise ValueError(f"spread must be 'std' or 'var', got {spread!r}")
        if spreader not in BALLS:
            raise ValueError(f"spreader (the noise ball) must be one of {BALLS}, got {spreader!r}")
        if not independence >= 0:
            raise ValueError(f"independence weight must be >= 0, got {independence}")
        if noise_term not in NOISE_TERMS:
            raise ValueError(f"noise_term must be one of {NOISE_TERMS}, got {noise_term!r}")
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if penalty_samples is not None and (isinstance(penalty_samples, bool) or int(penalty_samples) < 1):
            raise ValueError(f"penalty_samples must be a positive integer or None, got {penalty_samples!r}")
        if radial not in RADIAL_LAWS or (radial == "uniform" and spreader != "l2"):
            raise ValueError(f"radial must be one of {RADIAL_LAWS} ('uniform' with the l2 spreader only), got {radial!r}")
        if penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
        if not (q > 0 and r > 0):
            raise ValueError(f"Q and R must be positive, got Q={q}, R={r}")
        try:
            keras.activations.get(activation)
        except ValueError:
            raise ValueError(f"unknown activation {activation!r}") from None
        if scale is not None and offset is not None and len(scale) != len(offset):
            raise ValueError(f"scale has {len(scale)} entries but offset has {len(offset)}")
        self.width, self.depth, self.activation, self.outputs = int(width), int(depth), activation, int(outputs)
        self.q, self.r, self.spread, self.spreader, self.seed = float(q), float(r), spread, spreader, int(seed)
        self.independence, self.penalty, self.towers = float(independence), penalty, bool(towers)
        self.project_noise, self.noise_term = bool(project_noise), noise_term
        self.objective, self.radial = objective, radial
        self.penalty_samples = None if penalty_samples is None else int(penalty_samples)
        self.stage = None  # None: all outputs train jointly; j: only output j (towers of outputs < j frozen)
        self.scale = None if scale is None else [float(v) for v in scale]
        self.offset = None if offset is None else [float(v) for v in offset]
        # sub-layers do not inherit the model's dtype policy in Keras 3: pass it on
        if self.towers:  # one MLP per output
            self.tower_layers = [[keras.layers.Dense(self.width, activation=activation, name=f"tower{j}_hidden_{i}",
                                                     dtype=self.dtype_policy) for i in range(self.depth)]
                                 + [keras.layers.Dense(1, name=f"tower{j}_invariant", dtype=self.dtype_policy)]
                                 for j in range(self.outputs)]
        else:
            self.hidden = [keras.layers.Dense(self.width, activation=activation, name=f"hidden_{i}",
                                              dtype=self.dtype_policy) for i in range(self.depth)]
            self.head = keras.layers.Dense(self.outputs, name="invariant", dtype=self.dtype_policy)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.spread_tracker = keras.metrics.Mean(name="spread" if objective == "nv" else "ratio")
        self.noise_tracker = keras.metrics.Mean(name="noise")
        self.independence_tracker = keras.metrics.Mean(name="independence")
        if self.scale is not None:
            self.build((None, len(self.scale)))

    # ---------------------------------------------------------------- forward
    def build(self, input_shape):
        n_features = int(input_shape[-1])
        if self.scale is not None and len(self.scale) != n_features:
            raise ValueError(f"the model's input scaling has {len(self.scale)} features, the data {n_features}")
        for stack in (self.tower_layers if self.towers else [self.hidden + [self.head]]):
            shape = (None, n_features)
            for layer in stack:
                layer.build(shape)
                shape = (None, self.width)
        # fixed linear map after the MLP (see decorrelate_outputs); identity until set, saved with the weights
        self.output_mixing = self.add_weight(name="output_mixing", shape=(self.outputs, self.outputs),
                                             initializer="identity", trainable=False)
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
        """x (..., F) raw -> (x - offset) * scale."""
        x = tf.cast(x, self.compute_dtype)
        if self.offset is not None:
            x = x - tf.constant(self.offset, dtype=x.dtype)
        if self.scale is not None:
            x = x * tf.constant(self.scale, dtype=x.dtype)
        return x

    def network(self, xs, upto: int | None = None):
        """The MLP on already-scaled inputs (..., F) -> (..., outputs) (towers: the first ``upto`` outputs)."""
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

    def call(self, x, training=False):
        out = self.network(self.scale_inputs(x))
        return tf.einsum("...i,ij->...j", out, tf.cast(self.output_mixing, out.dtype))

    def raw_outputs(self, x, upto: int | None = None):
        """The MLP's outputs before ``output_mixing``: raw x (..., F) -> (..., upto or outputs)."""
        out = self.network(self.scale_inputs(x), upto)
        return out if upto is None else out[..., :upto]

    def decorrelate_outputs(self, data, batch_size: int = 8192):
        """Set ``output_mixing`` to the generalized eigenvectors of (W, C) of the raw outputs on ``data``.

        ``data``: :class:`~conserve_tf.groups.GroupedData` (or an array (G, M, F)). Afterwards the outputs
        on ``data`` are uncorrelated with unit variance, sorted from the most invariant direction to the
        least; the value of :func:`~conserve_tf.losses.within_group_ratio` does not change. Returns the k
        eigenvalues (within-group fraction of each output's variance, ascending).
        """
        import numpy as np

        from .invariants import decorrelating_map

        x = np.asarray(getattr(data, "x", data), dtype=np.float32)
        if x.ndim != 3 or x.shape[-1] != (len(self.scale) if self.scale is not None else x.shape[-1]):
            raise ValueError(f"decorrelate_outputs needs grouped inputs (groups, members, features), got {x.shape}")
        flat = x.reshape(-1, x.shape[-1])
        raw = np.concatenate([np.asarray(self.raw_outputs(tf.constant(flat[i:i + batch_size])))
                              for i in range(0, len(flat), batch_size)])
        mixing, ratios = decorrelating_map(raw.reshape(x.shape[0], x.shape[1], self.outputs))
        self.output_mixing.assign(mixing.astype(self.output_mixing.dtype))
        return ratios

    # ---------------------------------------------------------------- NV loss
    @staticmethod
    def _unpack(data):
        if isinstance(data, (tuple, list)):
            x = data[0]
            gid = data[1] if len(data) > 1 and data[1] is not None else None
        else:
            x, gid = data, None
        if gid is None:
            gid = tf.range(tf.shape(x)[0])
        return x, tf.reshape(tf.cast(gid, tf.int64), [-1])

    @property
    def _penalized(self) -> bool:
        return self.outputs > 1 and self.independence > 0 and self.stage != 0

    def nv_terms(self, x, group_ids, step, training: bool, with_penalty: bool = False):
        """The loss terms on a batch x (G, M, F): (spread, noise) and, ``with_penalty``, the independence penalty.

        NV objective: the spread and noise terms of Eq. (1). Ratio objective: (trace(C⁻¹ W), 0).
        """
        xs = self.scale_inputs(x)
        members = xs.shape[1] if xs.shape[1] is not None else tf.shape(xs)[1]
        n_features = xs.shape[-1]
        g = tf.shape(xs)[0]
        upto = None if self.stage is None else self.stage + 1  # in a stage, outputs after it are not used
        k = self.outputs if upto is None else upto
        if self.objective == "ratio":
            inputs = xs
        else:
            eps = ball_noise((None, members, n_features), self.r, self.spreader, self.seed, step, group_ids,
                             dtype=xs.dtype, radial=self.radial)
            if self.project_noise and self.stage:
                eps = self._level_set_noise(xs, eps, n_features)
            inputs = tf.concat([xs, xs + eps], axis=0)  # one pass for clean and noised inputs
        flat = tf.reshape(inputs, [-1, n_features])
        penalty = tf.zeros((), xs.dtype)
        if with_penalty and self._penalized and self.penalty_samples is None:
            with tf.GradientTape() as inner:
                inner.watch(flat)
                out = self.network(flat, upto)
            penalty = PENALTY_FNS[self.penalty](inner.batch_jacobian(out, flat))
        else:
            out = self.network(flat, upto)
            if with_penalty and self._penalized:
                penalty = self._sampled_penalty(flat, step, upto)
        out = tf.reshape(out, [-1, members, k])
        if self.objective == "ratio":  # frozen outputs stay in: output `stage` must add a new direction
            spread, noise = within_group_ratio(out), tf.zeros((), xs.dtype)
        else:
            if self.stage is not None:  # NV loss of the trained output only
                out = out[..., self.stage:]
            spread, noise = nv_loss_terms(out[:g], out[g:], self.q, self.spread, self.noise_term)
        return (spread, noise, penalty) if with_penalty else (spread, noise)

    def _sampled_penalty(self, flat, step, upto):
        """The independence penalty at ``penalty_samples`` points of flat (N, F), drawn afresh each step."""
        n = tf.shape(flat)[0]
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        pick = tf.argsort(tf.random.stateless_uniform([n], seed=seed))[: tf.minimum(n, self.penalty_samples)]
        sub = tf.gather(flat, pick)
        with tf.GradientTape() as inner:
            inner.watch(sub)
            out = self.network(sub, upto)
        return PENALTY_FNS[self.penalty](inner.batch_jacobian(out, sub))

    def _level_set_noise(self, xs, eps, n_features):
        """ε (G, M, F) minus its components along the input gradients of the frozen outputs at xs."""
        flat = tf.reshape(xs, [-1, n_features])
        with tf.GradientTape() as tape:
            tape.watch(flat)
            frozen = self.network(flat, self.stage)
        jac = tf.stop_gradient(tape.batch_jacobian(frozen, flat))  # (N, j, F)
        basis, _ = tf.linalg.qr(tf.transpose(jac, [0, 2, 1]))  # (N, F, j), orthonormal columns
        e = tf.reshape(eps, [-1, n_features])
        e = e - tf.einsum("nfj,nj->nf", basis, tf.einsum("nfj,nf->nj", basis, e))
        return tf.reshape(e, tf.shape(eps))

    def _record(self, spread, noise, penalty):
        self.loss_tracker.update_state(spread + noise + self.independence * penalty)
        self.spread_tracker.update_state(spread)
        self.noise_tracker.update_state(noise)
        if self._penalized:
            self.independence_tracker.update_state(penalty)
        return self.step_logs({m.name: m.result() for m in self.metrics})

    def train_step(self, data):
        x, gid = self._unpack(data)
        with tf.GradientTape() as tape:
            spread, noise, penalty = self.nv_terms(x, gid, self.optimizer.iterations, True, with_penalty=True)
            loss = spread + noise + self.independence * penalty
            # Fact 1 of DESIGN.md: gradients are summed across replicas, so scale the hand-made loss.
            scaled = loss / tf.cast(self.distribute_strategy.num_replicas_in_sync, loss.dtype)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._record(spread, noise, penalty)

    def test_step(self, data):
        x, gid = self._unpack(data)
        # evaluation noise is fixed (step -1) so that repeated evaluations agree
        terms = self.nv_terms(x, gid, tf.constant(-1, tf.int64), False, with_penalty=True)
        return self._record(*terms)

    @property
    def metrics(self):
        extra = [self.independence_tracker] if self._penalized else []
        noise = [self.noise_tracker] if self.objective == "nv" else []
        return [self.loss_tracker, self.spread_tracker] + noise + extra

    # ---------------------------------------------------------------- saving
    def get_config(self):
        config = super().get_config()
        config.update(width=self.width, depth=self.depth, activation=self.activation, outputs=self.outputs,
                      q=self.q, r=self.r, spread=self.spread, spreader=self.spreader, scale=self.scale,
                      offset=self.offset, seed=self.seed, independence=self.independence, penalty=self.penalty,
                      towers=self.towers, project_noise=self.project_noise,
                      noise_term=self.noise_term, objective=self.objective,
                      penalty_samples=self.penalty_samples, radial=self.radial)
        return config
