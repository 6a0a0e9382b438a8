"""Sign activations for hash layers.

`HardSign` gives exact codes (+1 at 0, never 0) and passes gradients straight
through; `SmoothSign` is `tanh(slope * x)`, a differentiable stand-in whose
slope a callback raises during training (`hashzoo.training.callbacks.SmoothSignSchedule`)
so that it approaches `sign`.
"""

import keras
from keras import ops


def hard_sign(x):
    """+1 where x >= 0, else -1, in the dtype of `x` (never 0, unlike `sign`)."""
    return ops.where(x >= 0, ops.ones_like(x), -ops.ones_like(x))


@keras.saving.register_keras_serializable(package="hashzoo")
class HardSign(keras.layers.Layer):
    """Binarises to +1/-1 with a straight-through gradient.

    Forward: +1 where x >= 0, else -1. Backward: the identity, so layers in
    front of it still learn (the straight-through estimator of Bengio et al.,
    2013).

    Example:

    >>> import numpy as np
    >>> HardSign()(np.array([[-0.5, 0.0, 2.0]], "float32")).numpy().tolist()
    [[-1.0, 1.0, 1.0]]
    """

    def call(self, inputs):
        return inputs + ops.stop_gradient(hard_sign(inputs) - inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="hashzoo")
class SmoothSign(keras.layers.Layer):
    """`tanh(slope * x)`, a smooth sign whose slope can be raised in training.

    The slope is a non-trainable variable, so it is saved with the weights and
    restored when a run resumes; `hashzoo.training.callbacks.SmoothSignSchedule` sets it
    at the start of each epoch. As the slope grows the output tends to
    `sign(x)`; codes are always taken with a hard sign, so they are exact at any
    slope.

    Args:
        slope: float > 0, the initial slope.

    Example:

    >>> import numpy as np
    >>> layer = SmoothSign(slope=10.0)
    >>> np.round(layer(np.array([[-1.0, 0.5]], "float32")).numpy(), 3).tolist()
    [[-1.0, 1.0]]
    """

    def __init__(self, slope=1.0, **kwargs):
        super().__init__(**kwargs)
        slope = float(slope)
        if not slope > 0:
            raise ValueError(f"`slope` must be > 0, got {slope}.")
        self.initial_slope = slope
        self.slope = self.add_weight(
            name="slope",
            shape=(),
            initializer=keras.initializers.Constant(slope),
            trainable=False,
        )
        self.built = True

    def set_slope(self, slope):
        slope = float(slope)
        if not slope > 0:
            raise ValueError(f"`slope` must be > 0, got {slope}.")
        self.slope.assign(slope)

    def call(self, inputs):
        return ops.tanh(ops.cast(self.slope, inputs.dtype) * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["slope"] = self.initial_slope
        return config
