"""Callbacks that `hashzoo.training.train` adds to every run."""

import math

import keras


class NonFiniteLossError(FloatingPointError):
    """Raised when a tracked training value becomes NaN or infinite."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first non-finite tracked value and says where.

    Keras's `TerminateOnNaN` stops silently; this raises
    `NonFiniteLossError` naming the epoch, the step and every tracked value,
    so the run ends with a message instead of a model full of NaN.
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
                "energy / quantization regularisers in the config."
            )
