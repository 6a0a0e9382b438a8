"""BGAN's staged slope schedule for its smooth-sign hash layer (see docs/bgan.md).

The slope k of `tanh(k * a)` grows over training so codes approach ±1;
`BGAN.training_callbacks` hands `staged_slope` to the shared
`hashzoo.training.callbacks.SmoothSignSchedule`, which sets it at each epoch.
"""


def staged_slope(epoch, epochs, slopes=(1.0, 2.5, 5.0, 7.5, 10.0), stages=6):
    """Slope of the smooth sign at `epoch` (0-based) of an `epochs`-long run.

    Epoch 0 uses `slopes[0]`; later epochs advance one slope every
    `max(1, epochs // stages)` epochs and stay at the last one. With 51
    epochs: 0-8 -> 1, 9-16 -> 2.5, 17-24 -> 5, 25-32 -> 7.5, 33-50 -> 10.

    Example:

    >>> [staged_slope(e, 12) for e in range(12)]
    [1.0, 1.0, 1.0, 2.5, 2.5, 5.0, 5.0, 7.5, 7.5, 10.0, 10.0, 10.0]
    """
    if epoch == 0:
        return slopes[0]
    stage_length = max(1, epochs // stages)
    return slopes[min(len(slopes) - 1, (epoch - 1) // stage_length)]
