"""What a training run leaves behind: seeds, an atomically saved model, and a results folder.

* :func:`set_seed` seeds Python, NumPy and TensorFlow together.
* :func:`save_model` writes a ``.keras`` file atomically: the model goes to a temporary file in the
  same folder which then replaces the target in one ``os.replace``, so a crash while saving never
  leaves a truncated file where a good one stood.
* :func:`default_out_dir` names a fresh results folder ``runs/<script>-<UTC time>``.
* :func:`write_results` writes ``results.json``: flags, data description, held-out metrics, read-out,
  training seconds and the versions of Python and the libraries (:func:`versions`).
* :func:`history_of` turns a Keras ``History`` (or its dict) into plain lists for JSON and plots.
* :func:`tensorboard_callback` is ``keras.callbacks.TensorBoard`` with the settings the scripts use;
  :func:`read_scalars` reads the logged scalars back.
* :func:`write_run` writes a whole run folder: ``model.keras``, ``results.json``, ``training.png`` and
  ``invariant.png``.

The figures themselves are drawn by :mod:`conserve_tf.plots`.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
import tempfile

import numpy as np

__all__ = ["set_seed", "save_model", "default_out_dir", "versions", "describe_data", "history_of", "to_jsonable",
           "write_results", "read_results", "tensorboard_callback", "write_run", "read_scalars"]

LIBRARIES = ("conserve-tf", "tensorflow", "keras", "numpy", "scipy", "scikit-learn", "matplotlib", "absl-py")


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow (``keras.utils.set_random_seed``)."""
    import keras  # delayed: keeps `import conserve_tf.runs` (and the scripts' --help) free of TensorFlow

    keras.utils.set_random_seed(int(seed))


def _usual_mode(path) -> None:
    """Give a file made by ``tempfile.mkstemp`` (mode 0600) the mode an ordinary ``open`` would have given it."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def save_model(model, path) -> str:
    """Save ``model`` to ``path`` (must end in ``.keras``) without ever leaving a partial file.

    Returns the path. The previous file at ``path``, if any, stays intact until the new one is
    complete.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"model path must end in .keras, got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=folder, prefix=".partial-")
    os.close(fd)
    try:
        model.save(tmp)
        _usual_mode(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def default_out_dir(script: str, root: str = "runs", now: datetime.datetime | None = None) -> str:
    """``<root>/<script>-YYYYmmdd-HHMMSS`` (UTC); a suffix ``-2``, ``-3`` ... if that folder exists."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    base = os.path.join(root, f"{script}-{now:%Y%m%d-%H%M%S}")
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def versions() -> dict:
    """Python, platform and the installed versions of this package and its libraries (None if absent)."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def describe_data(data) -> dict:
    """Name, shape (groups, members, features), feature and constant names of a GroupedData."""
    return {"name": data.name, "groups": data.n_groups, "members": data.n_members, "features": data.n_features,
            "feature_names": list(data.feature_names), "constant_names": list(data.constant_names)}


def history_of(history) -> dict:
    """``{metric: [value per epoch]}`` of a ``keras.callbacks.History`` or of such a dict, as floats."""
    logs = getattr(history, "history", history) or {}
    return {key: [float(v) for v in values] for key, values in logs.items()}


def to_jsonable(value):
    """Nested dicts/lists of numbers, NumPy scalars and arrays as plain JSON (NaN and Inf become None)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def write_results(out_dir: str, results: dict, name: str = "results.json") -> str:
    """Write ``results`` plus ``versions`` (:func:`versions`) as ``<out_dir>/<name>``, atomically.

    ``results`` is a dict the script fills (flags, data, metrics, read-out, training seconds ...);
    values go through :func:`to_jsonable`. Returns the path.
    """
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, name)
    payload = to_jsonable({**results, "versions": versions()})
    fd, tmp = tempfile.mkstemp(suffix=".json", dir=out_dir, prefix=".partial-")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2, allow_nan=False)
        fh.write("\n")
    _usual_mode(tmp)
    os.replace(tmp, path)
    return path


def read_results(out_dir: str, name: str = "results.json") -> dict:
    """The dict :func:`write_results` wrote."""
    with open(os.path.join(out_dir, name)) as fh:
        return json.load(fh)


def tensorboard_callback(log_dir: str):
    """``keras.callbacks.TensorBoard`` logging every epoch's logs as scalars (no graph, no histograms).

    Put it after the callbacks that add entries to the logs (for example
    :class:`conserve_tf.metrics.InvariantMetrics`' ``val_rho``): Keras calls callbacks in list order.
    When the same callback sees a second training (a restart of ``fit_conservnet``), training k logs to
    ``log_dir/restart_k`` instead of writing over the first one's steps.
    """
    import keras  # delayed: see set_seed

    try:
        import tensorboard  # noqa: F401  (TensorFlow's summary writers need it; not a TensorFlow dependency)
    except ImportError:
        raise ValueError("--tensorboard needs the tensorboard package: pip install tensorboard") from None

    class AttemptTensorBoard(keras.callbacks.TensorBoard):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.base_dir, self.trainings = self.log_dir, 0

        def on_train_begin(self, logs=None):
            if self.trainings:  # set_model derives the train/validation writers' folders from log_dir
                self.log_dir = os.path.join(self.base_dir, f"restart_{self.trainings}")
                self.set_model(self.model)
            self.trainings += 1
            super().on_train_begin(logs)

    return AttemptTensorBoard(log_dir=log_dir, update_freq="epoch", write_graph=False, histogram_freq=0,
                              profile_batch=0)


def write_run(out_dir: str, model, results: dict, history=None, steps_per_epoch: int = 1, outputs=None,
              constants=None, constant_names=None, title: str = "") -> list[str]:
    """Write a training run's folder; returns the paths written.

    ``model.keras`` (:func:`save_model`), ``results.json`` (:func:`write_results`; the history goes in
    too), ``training.png`` (:func:`conserve_tf.plots.plot_training`, when ``history`` is given) and
    ``invariant.png`` (:func:`conserve_tf.plots.plot_invariant` of held-out ``outputs`` (G, M[, k])
    against ``constants``, when ``outputs`` is given).
    """
    from . import plots  # delayed: plots pulls in matplotlib and (through metrics) Keras

    os.makedirs(out_dir, exist_ok=True)
    paths = [save_model(model, os.path.join(out_dir, "model.keras"))]
    logs = history_of(history) if history is not None else None
    paths.append(write_results(out_dir, {**results, "history": logs, "steps_per_epoch": steps_per_epoch}))
    if logs:
        paths.append(plots.plot_training(logs, os.path.join(out_dir, "training.png"), steps_per_epoch, title))
    if outputs is not None:
        paths.append(plots.plot_invariant(outputs, constants, os.path.join(out_dir, "invariant.png"),
                                          constant_names=constant_names,
                                          title=f"{title} (held-out data)" if title else "held-out data"))
    return paths


def read_scalars(log_dir: str) -> dict:
    """The scalars in the TensorBoard event files under ``log_dir``: ``{run: {tag: [(step, value), ...]}}``.

    ``run`` is the sub-folder (``train``, ``validation``); Keras names epoch scalars ``epoch_<log key>``
    and files the ``val_`` entries under ``validation`` without the prefix (``val_rho`` -> ``epoch_rho``).
    """
    import tensorflow as tf  # delayed: see set_seed

    out: dict = {}
    for folder, _, files in sorted(os.walk(log_dir)):
        for name in sorted(f for f in files if ".tfevents." in f):
            run = os.path.relpath(folder, log_dir)
            for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
                for value in event.summary.value:
                    number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                    out.setdefault(run, {}).setdefault(value.tag, []).append((int(event.step), number))
    return out
