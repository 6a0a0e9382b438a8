"""Training callbacks shared by the methods."""

import keras

from hashzoo.layers.sign import SmoothSign


def staged_slope(epoch, epochs, slopes=(1.0, 2.5, 5.0, 7.5, 10.0), stages=6):
    """Slope of a smooth sign at `epoch` (0-based) of an `epochs`-long run.

    Epoch 0 uses `slopes[0]`; later epochs advance one slope every
    `max(1, epochs // stages)` epochs and stay at the last one (BGAN spec §4:
    with 51 epochs, 0-8 -> 1, 9-16 -> 2.5, ..., 33-50 -> 10).
    """
    if epoch == 0:
        return slopes[0]
    stage_length = max(1, epochs // stages)
    return slopes[min(len(slopes) - 1, (epoch - 1) // stage_length)]


class SmoothSignSchedule(keras.callbacks.Callback):
    """Sets the slope of every `SmoothSign` layer in the model at each epoch start.

    The slope lives in a non-trainable weight, so it is saved and restored
    with the model; on resume the schedule recomputes it from the epoch.

    Args:
        schedule: callable `epoch -> slope`, e.g.
            `functools.partial(staged_slope, epochs=50)`.
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
