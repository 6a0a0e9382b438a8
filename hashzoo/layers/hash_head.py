"""The hash head: features to a `bits`-wide continuous code."""

import keras

from hashzoo.layers.sign import SmoothSign
from hashzoo.utils.validation import check_bits, check_choice

ACTIVATIONS = ("tanh", "smooth_sign", "linear")


@keras.saving.register_keras_serializable(package="hashzoo")
class HashHead(keras.layers.Layer):
    """Dense projection to `bits` units followed by a bounded activation.

    The output z is the continuous code; the binary code is +1 where z >= 0
    (`hashzoo.codes.binarize`, or `HashingModel.encode`).

    Args:
        bits: int >= 1, the code length.
        activation: `"tanh"`, `"smooth_sign"` (tanh with a slope a callback
            raises during training, `hashzoo.layers.SmoothSign`) or
            `"linear"` (no squashing).
        slope: initial slope when `activation="smooth_sign"`.
        kernel_initializer: Keras initializer for the projection.

    Example:

    >>> import numpy as np
    >>> head = HashHead(bits=16)
    >>> head(np.zeros((2, 8), "float32")).shape
    TensorShape([2, 16])
    """

    def __init__(
        self,
        bits,
        activation="tanh",
        slope=1.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bits = check_bits(bits)
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        self.slope = float(slope)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.projection = keras.layers.Dense(
            self.bits, kernel_initializer=self.kernel_initializer, name="projection"
        )
        self.smooth_sign = SmoothSign(self.slope, name="smooth_sign") if activation == "smooth_sign" else None

    def build(self, input_shape):
        self.projection.build(input_shape)
        self.built = True

    def call(self, inputs):
        z = self.projection(inputs)
        if self.activation == "tanh":
            return keras.ops.tanh(z)
        if self.activation == "smooth_sign":
            return self.smooth_sign(z)
        return z

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.bits,)

    def get_config(self):
        config = super().get_config()
        config.update(
            bits=self.bits,
            activation=self.activation,
            slope=self.slope,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
        )
        return config
