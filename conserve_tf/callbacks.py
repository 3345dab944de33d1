"""Keras callbacks shared by the three packages' training loops."""

from __future__ import annotations

import json
import math
import os
import time

import keras

__all__ = ["NonFiniteLoss", "StopOnNonFiniteLoss", "AtomicBackupAndRestore", "ProgressLog", "standard_callbacks"]


class NonFiniteLoss(FloatingPointError):
    """Training produced a NaN or infinite loss; the message names the epoch and step."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop at the first NaN or Inf loss with an error naming the epoch and the step within it.

    Unlike ``keras.callbacks.TerminateOnNaN``, which stops quietly, this raises
    :class:`NonFiniteLoss` so that a script fails with a clear one-line message and a library
    caller cannot mistake a diverged model for a trained one.
    """

    def __init__(self, key: str = "loss"):
        super().__init__()
        self.key, self.epoch = key, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        value = (logs or {}).get(self.key)
        if value is not None and not math.isfinite(float(value)):
            self.model.stop_training = True
            step = int(self.model.optimizer.iterations.numpy())
            raise NonFiniteLoss(f"training stopped: {self.key} became {float(value)} at epoch {self.epoch + 1}, "
                                f"step {batch + 1} of that epoch (optimizer step {step}); lower the learning "
                                "rate or check the inputs for extreme values")


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` whose checkpoint files are replaced atomically.

    Keras writes the weights and the epoch counter in place, so a kill during the write leaves a
    truncated file that the restarted run cannot read. Here each file is written beside its target
    and renamed into place (weights first, then the counter), so a killed run always finds the last
    complete checkpoint. A kill between the two renames pairs new weights with the previous counter; the
    counter also records the optimizer's step count, so the resumed run recognises the newer weights by
    their own step count and resumes after their epoch instead of repeating one (seen twice in CI, where
    a resumed run trained 420 of 400 steps).
    """

    def on_train_begin(self, logs=None):
        """Say when a checkpoint is resumed (a leftover folder of another run would resume silently otherwise),
        and name the folder when its checkpoint does not fit the model."""
        saved = None
        if os.path.exists(self._training_metadata_path):
            with open(self._training_metadata_path) as fh:
                saved = json.load(fh)
            print(f"resuming the interrupted run checkpointed in {self.backup_dir} after epoch {saved.get('epoch')} "
                  "(delete that folder to start afresh)")
        try:
            super().on_train_begin(logs)
        except ValueError as err:
            raise ValueError(f"the checkpoint in backup folder {self.backup_dir} does not fit this model (a run on "
                             f"other data or settings?): delete it or choose another folder "
                             f"({str(err).splitlines()[0][:160]})") from None
        if saved is not None:
            self._align_epoch_with_weights(saved)

    def _align_epoch_with_weights(self, saved: dict):
        """After a resume: the epoch the restored weights reached, from their optimizer's step count."""
        steps = (self.params or {}).get("steps")
        if saved.get("iterations") is None or not steps or getattr(self.model, "optimizer", None) is None:
            return
        ahead = int(self.model.optimizer.iterations.numpy()) - int(saved["iterations"])
        if ahead and ahead % int(steps) == 0:  # the weights are whole epochs ahead of (or behind) the counter
            self.model._initial_epoch = int(saved["epoch"]) + ahead // int(steps)  # what Keras' own resume sets

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        tmp_weights = self._weights_path.replace(".weights.h5", ".partial.weights.h5")
        self.model.save_weights(filepath=tmp_weights, overwrite=True)
        tmp_meta = self._training_metadata_path + ".partial"
        with open(tmp_meta, "w") as fh:
            optimizer = getattr(self.model, "optimizer", None)
            json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen,
                       "iterations": None if optimizer is None else int(optimizer.iterations.numpy())}, fh)
        os.replace(tmp_weights, self._weights_path)
        os.replace(tmp_meta, self._training_metadata_path)


class ProgressLog(keras.callbacks.Callback):
    """One line every ``every`` epochs (and at the last): epoch, the logged metrics, seconds since start.

    For long silent runs (benchmarks) where Keras' one line per epoch would be thousands of lines.
    ``print_fn`` defaults to ``print``; pass ``absl.logging.info`` in scripts.
    """

    def __init__(self, every: int = 100, prefix: str = "", print_fn=print):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every, self.prefix, self.print_fn = int(every), prefix, print_fn

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        last = epoch + 1 == self.params.get("epochs")
        if (epoch + 1) % self.every and not last:
            return
        shown = " ".join(f"{k} {float(v):.4g}" for k, v in (logs or {}).items())
        total = self.params.get("epochs")
        self.print_fn(f"{self.prefix}epoch {epoch + 1}/{total} {shown} ({time.perf_counter() - self.start:.0f} s)")


def standard_callbacks(backup_dir: str | None = None, nan_guard: bool = True) -> list:
    """NaN/Inf guard, plus ``BackupAndRestore`` in ``backup_dir`` when given (resume after a kill)."""
    cbs = [StopOnNonFiniteLoss()] if nan_guard else []
    if backup_dir:
        cbs.append(AtomicBackupAndRestore(backup_dir, save_freq="epoch", delete_checkpoint=True))
    return cbs
