"""The preprocessing contract: what pixels a model expects and how it gets them.

Every hashzoo model takes images as `[N, H, W, C]` uint8 or float pixels in
[0, 255] (C = 1 or 3) and converts them itself, so `encode`, fine-tuning and
the exported SavedModel all see the same pixels. The contract is
a small serializable record stored in every model's config and written to
`preprocessing.json` beside published weights.
"""

import dataclasses

import keras
from keras import ops

from hashzoo.utils.validation import check_choice, check_positive_int

RESIZE_METHODS = ("bilinear", "nearest", "bicubic", "area")


def _as_channel_tuple(value, channels, name):
    values = (value,) if isinstance(value, (int, float)) else tuple(value)
    if len(values) == 1:
        values = values * channels
    values = tuple(float(v) for v in values)
    if len(values) != channels:
        raise ValueError(
            f"`{name}` needs one value or {channels} (one per channel), got {len(values)}: {values}."
        )
    return values


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """Input contract of a model.

    Args:
        image_size: `(height, width)` the network runs at; other sizes are
            resized with `resize`.
        channels: 1 (grey) or 3 (RGB) channels the network runs on; grey
            input is repeated to RGB and RGB is converted to grey as needed.
        mean, std: per-channel values (or one value) so that the network sees
            `(pixels - mean) / std`. `mean=std=127.5` maps [0, 255] to [-1, 1].
        resize: interpolation for resizing.

    Example:

    >>> p = Preprocessing(image_size=(8, 8), channels=1)
    >>> p.to_dict()["mean"], p.to_dict()["std"]
    ([127.5], [127.5])
    >>> Preprocessing.from_dict(p.to_dict()) == p
    True
    """

    image_size: tuple = (32, 32)
    channels: int = 3
    mean: tuple = (127.5,)
    std: tuple = (127.5,)
    resize: str = "bilinear"

    def __post_init__(self):
        size = tuple(self.image_size) if not isinstance(self.image_size, int) else (self.image_size,) * 2
        if len(size) != 2:
            raise ValueError(f"`image_size` must be (height, width), got {self.image_size!r}.")
        size = (check_positive_int(size[0], "image_size[0]"), check_positive_int(size[1], "image_size[1]"))
        object.__setattr__(self, "image_size", size)
        check_choice(self.channels, "channels", (1, 3))
        object.__setattr__(self, "mean", _as_channel_tuple(self.mean, self.channels, "mean"))
        std = _as_channel_tuple(self.std, self.channels, "std")
        if any(s <= 0 for s in std):
            raise ValueError(f"`std` values must be > 0, got {std}.")
        object.__setattr__(self, "std", std)
        check_choice(self.resize, "resize", RESIZE_METHODS)

    def to_dict(self):
        return {
            "image_size": list(self.image_size),
            "channels": self.channels,
            "mean": list(self.mean),
            "std": list(self.std),
            "resize": self.resize,
        }

    @classmethod
    def from_dict(cls, config):
        if isinstance(config, Preprocessing):
            return config
        if not isinstance(config, dict):
            raise ValueError(f"preprocessing must be a dict or `Preprocessing`, got {type(config).__name__}.")
        unknown = set(config) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(
                f"unknown preprocessing keys {sorted(unknown)}; allowed: "
                f"{[f.name for f in dataclasses.fields(cls)]}."
            )
        return cls(**config)

    @property
    def input_shape(self):
        """Shape of one preprocessed image, `(height, width, channels)`."""
        return (*self.image_size, self.channels)


@keras.saving.register_keras_serializable(package="hashzoo")
class ImagePreprocessing(keras.layers.Layer):
    """Applies a `Preprocessing` contract to pixels in [0, 255].

    Converts channels (grey <-> RGB), resizes when the spatial size differs
    from the contract, then normalises to `(x - mean) / std`.

    Args:
        preprocessing: a `Preprocessing` or its dict.

    Example:

    >>> import numpy as np
    >>> layer = ImagePreprocessing(Preprocessing(image_size=(4, 4), channels=3))
    >>> out = layer(np.full((2, 8, 8, 1), 255.0, "float32"))  # grey 8x8 in
    >>> out.shape, float(out.numpy().min())
    (TensorShape([2, 4, 4, 3]), 1.0)
    """

    def __init__(self, preprocessing=None, **kwargs):
        super().__init__(**kwargs)
        self.preprocessing = Preprocessing.from_dict(preprocessing or {})
        self.built = True

    def call(self, images):
        contract = self.preprocessing
        x = self._convert_channels(ops.cast(images, "float32"))
        # An unknown size (a relaxed trace) is resized too: same-size resizing is exact.
        if tuple(x.shape[1:3]) != contract.image_size:
            x = ops.image.resize(x, contract.image_size, interpolation=contract.resize)
        mean = ops.convert_to_tensor(contract.mean, "float32")
        std = ops.convert_to_tensor(contract.std, "float32")
        return (x - mean) / std

    def _convert_channels(self, x):
        target = self.preprocessing.channels

        def to_grey():
            # ITU-R 601 luma, as tf.image.rgb_to_grayscale.
            luma = ops.convert_to_tensor([0.2989, 0.587, 0.114], "float32")
            return ops.sum(x[..., :3] * luma, axis=-1, keepdims=True)

        def to_rgb():
            return ops.repeat(x[..., :1], 3, axis=-1)

        channels = x.shape[-1]
        if channels is None:
            # Traced with unknown channels (Keras relaxes shapes on retracing).
            if target == 1:
                return ops.cond(ops.shape(x)[-1] == 3, to_grey, lambda: x[..., :1])
            return ops.cond(ops.shape(x)[-1] == 1, to_rgb, lambda: x[..., :3])
        if channels == 3 and target == 1:
            return to_grey()
        if channels == 1 and target == 3:
            return to_rgb()
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.preprocessing.input_shape)

    def get_config(self):
        config = super().get_config()
        config["preprocessing"] = self.preprocessing.to_dict()
        return config
