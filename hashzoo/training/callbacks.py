"""Shared training callbacks: the non-finite stop and best-epoch keeper the runner adds to every
run, and `SmoothSignSchedule` for methods whose hash layer is a smooth sign."""

import math
import time

import keras

from hashzoo.layers.sign import SmoothSign


class NonFiniteLossError(FloatingPointError):
    """Raised when a tracked training value becomes NaN or infinite.

    Attributes:
        epoch: 1-based epoch of the bad step.
        step: 1-based step within that epoch.
        names: the tracked values that were not finite.
    """

    def __init__(self, message, epoch=None, step=None, names=()):
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.names = list(names)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first non-finite tracked value and says where.

    Keras's `TerminateOnNaN` stops silently; this raises
    `NonFiniteLossError` naming the epoch, the step and every tracked value.
    The runner catches it, restores the best finished epoch and still
    writes the preset from it (the stop is recorded in the metadata).
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        bad = [name for name, value in logs.items() if not math.isfinite(float(value))]
        if bad:
            values = ", ".join(f"{name}={float(value):.4g}" for name, value in sorted(logs.items()))
            raise NonFiniteLossError(
                f"training stopped: {bad} became non-finite at epoch {self.epoch + 1}, step {batch + 1}. "
                f"Tracked values (epoch means so far): {values}. Lower the learning rates or raise the "
                "energy / quantization regularisers in the config.",
                epoch=self.epoch + 1, step=batch + 1, names=bad,
            )


class KeepBestEpoch(keras.callbacks.Callback):
    """Records every finished epoch and keeps the weights of the best one, in the run's backup folder.

    At each epoch end: scores the model with `score(model)` (the runner
    passes the validation mAP: validation queries against the train
    database), records the epoch's logs and score (`RunBackup.record_epoch`),
    and when the score beats the best so far (strictly, so ties keep the
    earlier epoch) saves the weights atomically. With `score=None` every
    epoch is "best": the last finished epoch is kept. The runner puts it
    after the epoch checkpoint (`hashzoo.training.backup`): a run resumed
    from a checkpoint whose records were not yet written re-scores the
    restored weights and records that epoch again.

    Args:
        backup: the run's `RunBackup`.
        score: `score(model) -> float`, higher is better, or None.
        metric: the score's name, for progress lines.
        verbose: print one line per epoch with the score.
    """

    def __init__(self, backup, score=None, metric="score", verbose=0):
        super().__init__()
        self.backup = backup
        self.score = score
        self.metric = metric
        self.verbose = verbose
        best = backup.best()
        self.best_score = best["score"] if best and best["score"] is not None else -math.inf

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.time() - getattr(self, "started", time.time())
        value = None
        if self.score is not None:
            value = float(self.score(self.model))
            if logs is not None:
                logs[f"validation_{self.metric}"] = value
        self.backup.record_epoch(
            epoch, {k: v for k, v in (logs or {}).items() if not k.startswith("validation_")}, value, seconds
        )
        comparable = -math.inf if value is None or not math.isfinite(value) else value
        if self.score is None or comparable > self.best_score or self.backup.best() is None:
            if self.score is not None:
                self.best_score = comparable
            self.backup.save_best(self.model, epoch, value)
        if self.verbose and value is not None:
            print(f"  validation {self.metric} {value:.4f} (best {self.best_score:.4f})", flush=True)


class SmoothSignSchedule(keras.callbacks.Callback):
    """Sets the slope of every `SmoothSign` layer in the model at each epoch start.

    Methods whose hash layer is a smooth sign return one from
    `training_callbacks(epochs)`, with their own `epoch -> slope` rule. The
    slope lives in a non-trainable weight, so it is saved and restored with
    the model; on resume the schedule recomputes it from the epoch. The
    slope of the first layer is logged as `slope` at each epoch end.

    Args:
        schedule: callable `epoch -> slope` (epoch 0-based), e.g.
            `lambda epoch: min(10.0, 1.0 + epoch)`.
    """

    def __init__(self, schedule):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"`schedule` must be callable epoch -> slope, got {schedule!r}.")
        self.schedule = schedule

    def smooth_sign_layers(self):
        layers = [layer for layer in self.model._flatten_layers() if isinstance(layer, SmoothSign)]
        if not layers:
            raise ValueError(f"{type(self.model).__name__} has no SmoothSign layer to schedule.")
        return layers

    def on_epoch_begin(self, epoch, logs=None):
        slope = float(self.schedule(epoch))
        for layer in self.smooth_sign_layers():
            layer.set_slope(slope)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["slope"] = float(self.smooth_sign_layers()[0].slope.numpy())


__all__ = ["KeepBestEpoch", "NonFiniteLossError", "SmoothSignSchedule", "StopOnNonFinite"]
