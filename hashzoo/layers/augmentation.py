"""Training-time augmentation of real images: random horizontal flip and pad-and-crop.

`FlipCrop` is the one layer that methods with an `augment` argument
(CoopHash, the one-hot floor) apply to the real images of a training step,
after preprocessing; `make_augmentation` turns that argument into the layer.
docs/coophash.md, "Augmentation" says what it does and why these defaults.

Every random choice of a step is drawn for the global batch from one seed and
each replica keeps its own rows (`hashzoo.distribute.replica_uniform`), so a
step on N replicas sees the images one device sees for the same global batch.
"""

import keras
import tensorflow as tf

from hashzoo import distribute
from hashzoo.utils.seed_state import SeedState
from hashzoo.utils.validation import check_choice, check_non_negative_int

#: Padding modes of the pad-and-crop (those of `tf.pad`).
PADDING_MODES = ("reflect", "symmetric", "constant")

#: Names an `augment` argument accepts, with the `FlipCrop` switches they set.
AUGMENTATIONS = {"flip_crop": {"flip": True, "crop": True}, "crop": {"flip": False, "crop": True},
                 "flip": {"flip": True, "crop": False}}

#: The seed offset of the augmentation stream from a model's seed (other streams use +0 .. +100).
SEED_OFFSET = 300


def default_pad(image_size):
    """Pixels of padding for the pad-and-crop: an eighth of the shorter side, at least 1 (32x32: 4)."""
    return max(1, min(int(side) for side in image_size) // 8)


def max_pad(padding, side):
    """The largest `pad` that `padding` allows on images whose shorter side is `side` (None: any pad).

    `tf.pad` reflects at most `side - 1` pixels (the edge pixel is not
    repeated) and mirrors at most `side` (`"symmetric"` repeats it); zeros
    (`"constant"`) have no limit.
    """
    return {"reflect": int(side) - 1, "symmetric": int(side)}.get(padding)


def check_pad(pad, padding, image_size):
    """`pad` when `padding` can pad images of `image_size` (`(height, width)`, None for an unknown side) by it.

    Raises a `ValueError` naming the value and the allowed range otherwise.
    """
    sides = [int(side) for side in image_size if side is not None]
    if not sides:
        return pad
    limit = max_pad(padding, min(sides))
    if limit is not None and pad > limit:
        shown = "x".join("?" if side is None else str(int(side)) for side in image_size)
        raise ValueError(
            f'`pad` must lie in [0, {limit}] for padding="{padding}" on {shown} images (at most '
            f"{'the side - 1' if padding == 'reflect' else 'the side'}), got pad={pad}; use a smaller pad or "
            'padding="constant".'
        )
    return pad


def flip_crop(images, seed, flip=True, pad=4, padding="reflect"):
    """Randomly flipped and shifted `images` (`[B, H, W, C]`), drawn from a stateless `seed`.

    Each image is mirrored left-right with probability 1/2 (when `flip`),
    then padded by `pad` pixels on every side (`padding` is a `tf.pad` mode)
    and cropped back to `H x W` at a uniformly random offset in
    `[0, 2 * pad]` along each axis. The draws are made for the global batch
    and sliced to this replica's rows, so every replica must hold the same
    number of rows (the training runner drops the last partial batch).
    """
    flip_seed, crop_seed = distribute.split_seed(seed, 2)
    batch = tf.shape(images)[0]
    if flip:
        mirror = distribute.replica_uniform(tf.reshape(batch, [1]), flip_seed) < 0.5
        images = tf.where(mirror[:, None, None, None], tf.reverse(images, axis=[2]), images)
    if pad:
        offsets = distribute.replica_uniform_int(tf.stack([batch, 2]), crop_seed, 0, 2 * pad + 1)
        padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode=padding.upper())
        rows = offsets[:, :1] + tf.range(tf.shape(images)[1])[None]
        columns = offsets[:, 1:] + tf.range(tf.shape(images)[2])[None]
        images = tf.gather(tf.gather(padded, rows, axis=1, batch_dims=1), columns, axis=2, batch_dims=1)
    return images


@keras.saving.register_keras_serializable(package="hashzoo")
class FlipCrop(SeedState, keras.layers.Layer):
    """Random horizontal flip and pad-and-crop, in training only; the identity otherwise.

    Each training call takes the next seed of its own seed stream, the same
    on every replica, and applies `flip_crop`; the stream's position is saved
    with the weights (`hashzoo.utils.seed_state.SeedState`). Images keep
    their shape and scale (apply it after preprocessing: the pixels of a
    `"constant"` pad are 0 in the scale it sees).

    Args:
        flip: bool, mirror each image left-right with probability 1/2.
        pad: int >= 0, pixels of padding before the random crop (0: no crop).
        padding: `"reflect"` (default: no artificial border), `"symmetric"`
            or `"constant"` (zeros). `"reflect"` needs `pad` below the
            image's shorter side, `"symmetric"` at most that side
            (`check_pad`: `make_augmentation` checks it when it builds the
            layer, the layer on each call's static image shape).
        seed: int, seeds the stream of random choices.

    Example:

    >>> import numpy as np
    >>> layer = FlipCrop(pad=1, seed=0)
    >>> images = np.arange(2 * 4 * 4 * 1, dtype="float32").reshape(2, 4, 4, 1)
    >>> bool(np.array_equal(layer(images), images))  # inference: unchanged
    True
    >>> layer(images, training=True).shape
    TensorShape([2, 4, 4, 1])
    """

    def __init__(self, flip=True, pad=4, padding="reflect", seed=0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(flip, bool):
            raise ValueError(f"`flip` must be True or False, got {flip!r}.")
        self.flip = flip
        self.pad = check_non_negative_int(pad, "pad")
        self.padding = check_choice(padding, "padding", PADDING_MODES)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="augmentation_seed")
        self.built = True

    def call(self, images, training=False):
        check_pad(self.pad, self.padding, tuple(images.shape[1:3]))  # on any call, not only in training
        if not training or not (self.flip or self.pad):
            return images
        seed = distribute.step_seed(self.seed_generator)
        return flip_crop(images, seed, flip=self.flip, pad=self.pad, padding=self.padding)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(flip=self.flip, pad=self.pad, padding=self.padding, seed=self.seed)
        return config


def check_augment(augment):
    """`augment` as stored in a model's config: None, a name of `AUGMENTATIONS`, or a dict of `FlipCrop` arguments.

    A dict may set `flip`, `pad` and `padding` (the seed follows the model's).
    Anything else raises a `ValueError` naming what is allowed.
    """
    if augment is None:
        return None
    if isinstance(augment, str):
        return check_choice(augment, "augment", tuple(AUGMENTATIONS))
    if isinstance(augment, dict):
        unknown = set(augment) - {"flip", "pad", "padding"}
        if unknown:
            raise ValueError(f"unknown `augment` keys {sorted(unknown)}; allowed: ['flip', 'pad', 'padding'].")
        return dict(augment)
    raise ValueError(f"`augment` must be None, one of {list(AUGMENTATIONS)} or a dict of FlipCrop arguments, "
                     f"got {augment!r}.")


def make_augmentation(augment, image_size, seed, name="augmentation"):
    """The `FlipCrop` layer for a model's `augment` argument, or None when `augment` is None.

    Names pad by `default_pad(image_size)` (4 pixels at 32x32, 1 at 8x8) with
    reflection; a dict gives `FlipCrop`'s arguments (missing ones: a flip, the
    default pad, reflection). A pad the padding mode cannot give at
    `image_size` is an error here, when the model is built (`check_pad`).
    `seed` is the model's seed; the stream uses `seed + SEED_OFFSET`, apart
    from the model's other streams.
    """
    augment = check_augment(augment)
    if augment is None:
        return None
    if isinstance(augment, str):
        switches = AUGMENTATIONS[augment]
        kwargs = {"flip": switches["flip"], "pad": default_pad(image_size) if switches["crop"] else 0}
    else:
        kwargs = {"flip": True, "pad": default_pad(image_size), **augment}
    layer = FlipCrop(**kwargs, seed=int(seed) + SEED_OFFSET, name=name)
    check_pad(layer.pad, layer.padding, tuple(image_size))
    return layer
