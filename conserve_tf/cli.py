"""Helpers shared by the absl scripts of all three packages.

* :func:`run` starts an absl ``main`` and turns the errors a user can cause (bad flag values, bad
  data files, unknown system names) into one clear line on stderr and exit status 2, instead of a
  traceback.
* :func:`save_model` writes a ``.keras`` file atomically: the model goes to a temporary file in the
  same folder which then replaces the target in one ``os.replace``, so a crash while saving never
  leaves a truncated file where a good one stood.
* :func:`set_seed` seeds Python, NumPy and TensorFlow together.
"""

from __future__ import annotations

import os
import sys
import tempfile

from absl import app

__all__ = ["UsageError", "run", "save_model", "set_seed", "quiet_tensorflow"]


class UsageError(ValueError):
    """A flag value or an input file that the script cannot use; printed as one line."""


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter (call before importing TensorFlow)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(main) -> None:
    """``absl.app.run(main)``, printing user errors as ``error: <message>`` and exiting with 2.

    ``ValueError`` (including :class:`UsageError` and the package's data errors), ``FileNotFoundError``,
    ``KeyError`` and ``FloatingPointError`` (a diverged training, see
    :class:`conserve_tf.callbacks.NonFiniteLoss`) raised by ``main`` are reported in one line; anything
    else is a bug and keeps its traceback.
    """

    def guarded(argv):
        try:
            return main(argv)
        except (ValueError, FileNotFoundError, KeyError, FloatingPointError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            print(f"error: {msg}", file=sys.stderr)
            sys.exit(2)

    app.run(guarded)


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and TensorFlow (``keras.utils.set_random_seed``)."""
    import keras

    keras.utils.set_random_seed(int(seed))


def save_model(model, path: str) -> str:
    """Save ``model`` to ``path`` (must end in ``.keras``) without ever leaving a partial file.

    Returns the path. The previous file at ``path``, if any, stays intact until the new one is
    complete.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise UsageError(f"model path must end in .keras, got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=folder, prefix=".partial-")
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
