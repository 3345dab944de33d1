"""Distribution strategies from one name, shared by the scripts of all three packages.

``get_strategy(name)``:

* ``"default"``: no distribution (TensorFlow's default strategy, one device);
* ``"mirrored"``: synchronous data parallelism over the local devices: all GPUs, or, without GPUs,
  the logical CPU devices made by :func:`split_cpu` (``--devices=N``); batches are split along axis 0,
  which for grouped data ``(groups, members, features)`` means whole groups per replica;
* ``"multi_worker"``: ``MultiWorkerMirroredStrategy`` over the machines named in the ``TF_CONFIG``
  environment variable (every worker runs the same command with its own ``task.index``).

Build the model, its optimizer and metrics inside ``strategy.scope()``. The models divide their
hand-made losses by ``num_replicas_in_sync`` before taking gradients and log the unscaled value.
"""

from __future__ import annotations

import json
import os

from absl import flags

__all__ = ["STRATEGIES", "get_strategy", "split_cpu", "define_flags", "strategy_from_flags", "BuiltModelMixin"]

STRATEGIES = ("default", "mirrored", "multi_worker")


def split_cpu(n: int) -> None:
    """Split the first CPU into ``n`` logical devices (must run before TensorFlow touches any device)."""
    import tensorflow as tf  # delayed here and below: scripts import this module for its flags before TF starts

    if int(n) < 1:
        raise ValueError(f"devices must be >= 1, got {n}")
    cpus = tf.config.list_physical_devices("CPU")
    current = tf.config.get_logical_device_configuration(cpus[0])
    if current is not None and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * int(n))
    except RuntimeError as err:
        raise RuntimeError(f"cannot split the CPU into {n} devices after TensorFlow has started: {err}") from None


def get_strategy(name: str = "default", devices: int | None = None):
    """The ``tf.distribute`` strategy called ``name`` (see the module doc)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multi_worker":
        raw = os.environ.get("TF_CONFIG")
        if not raw:
            raise ValueError("strategy 'multi_worker' needs the TF_CONFIG environment variable "
                             "(cluster addresses and this worker's task index; see README)")
        try:
            config = json.loads(raw)
            config["cluster"]["worker"], config["task"]["index"]
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"TF_CONFIG is not a valid cluster description: {err}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_physical_devices("GPU"):  # listing physical devices does not start the runtime
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        return tf.distribute.MirroredStrategy(gpus[:devices] if devices else gpus)
    if devices:
        split_cpu(devices)
    cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())


def define_flags() -> None:
    """Define ``--strategy`` and ``--devices`` (call once at the top of a script)."""
    flags.DEFINE_enum("strategy", "default", list(STRATEGIES),
                      "Distribution: default (one device), mirrored (all local GPUs or --devices logical CPUs), "
                      "multi_worker (machines from TF_CONFIG).")
    flags.DEFINE_integer("devices", 0, "mirrored without GPUs: split the CPU into this many logical devices "
                         "(0: leave as is).", lower_bound=0)


def strategy_from_flags():
    """The strategy the ``--strategy``/``--devices`` flags ask for."""
    f = flags.FLAGS
    if f.devices and f.strategy != "mirrored":
        raise ValueError("--devices only applies to --strategy=mirrored")
    return get_strategy(f.strategy, f.devices or None)


class BuiltModelMixin:
    """Mix into a ``keras.Model`` that is built before ``fit`` so it also trains under multi-worker;
    return ``self.step_logs(logs)`` from custom ``train_step``/``test_step``.

    Keras 3.15's ``fit`` builds a model under a strategy from a sample batch averaged across replicas
    (``Trainer._maybe_symbolic_build``); under ``MultiWorkerMirroredStrategy`` that reduction fails
    ("Attempt to convert a value (PerReplica...) to a Tensor"). A model whose layers are already
    built needs no sample batch: only its optimizer is built here, in the strategy's scope.

    These are private Keras methods: setup.cfg pins Keras to the minor version they were checked on, and
    tests/test_keras_internals.py fails when a release renames them or ``fit`` stops calling them.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = getattr(self, "_distribute_strategy", None)
        if strategy is not None and self.built and all(layer.built for layer in self._flatten_layers()):
            with strategy.scope():
                if self.optimizer is not None and not self.optimizer.built:
                    self.optimizer.build(self.trainable_variables)
            return None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """``keras.Model.export``; without ``input_signature``, for inputs (batch, ``self.input_width()``), so a model
        built but never called exports too (Keras infers a subclassed model's signature from its first call)."""
        import keras

        if input_signature is None and self.built:
            input_signature = [keras.InputSpec(shape=(None, self.input_width()), dtype=self.compute_dtype)]
        return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    def step_logs(self, logs: dict) -> dict:
        """Logs to return from ``train_step``/``test_step``.

        Under ``MultiWorkerMirroredStrategy`` Keras 3.15 reduces every log with
        ``strategy.reduce("MEAN", v, axis=0)``, which needs a leading axis: scalars get one there.
        """
        import tensorflow as tf

        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return {k: tf.reshape(v, [1]) for k, v in logs.items()}
        return logs
