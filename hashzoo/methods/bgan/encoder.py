"""BGAN's encoder: image to L-bit smooth-sign code.

Layer sizes and their sources: docs/bgan.md, "What follows the paper, the
code, and hashzoo's choices"; the slope: "Smooth sign and slope schedule".
"""

import os

import keras
import tensorflow as tf

from hashzoo import distribute
from hashzoo.layers import HashHead
from hashzoo.layers.stage_backbone import config_without_missing_weights_file
from hashzoo.utils.validation import check_choice

#: keras.applications VGG networks the encoder offers, by backbone name; each is used up to fc2 (fc7).
VGG_BACKBONES = {"vgg16": "VGG16", "vgg19": "VGG19"}
BACKBONES = ("conv", *VGG_BACKBONES)
ARCHITECTURES = ("standard", "smoke")
VGG_SIZE = 224
# The contract every VGG backbone needs (VGG16 and VGG19 share Keras's "caffe"
# preprocessing): ImageNet RGB means subtracted, no scaling (the encoder then
# flips RGB to the BGR order VGG's caffe weights expect).
VGG_PREPROCESSING = {"image_size": [VGG_SIZE, VGG_SIZE], "channels": 3,
                     "mean": [123.68, 116.779, 103.939], "std": [1.0]}
#: `backbone_weights` a VGG encoder is built with when it is rebuilt from a
#: saved model on a machine without its weights file: the VGG starts from
#: random weights, which the saved model's own weights then replace
#: (`loadable_config`). The rebuilt model's config still names the file.
FROM_SAVED_MODEL = "<from the saved model>"
# The names from when `vgg19` was the only VGG backbone.
VGG19_SIZE = VGG_SIZE
VGG19_PREPROCESSING = VGG_PREPROCESSING


def conv_encoder_size(image_size, architecture="standard", width=1.0):
    """`(block filters, feature units)` of the from-scratch encoder [choice].

    Standard: (64, 128, 256) and 1,024 units for inputs of side >= 32,
    (32, 64) and 256 below (8x8 digits). Smoke: (8, 16) and 32. `width`
    scales every count.
    """
    check_choice(architecture, "architecture", ARCHITECTURES)
    if architecture == "smoke":
        filters, units = (8, 16), 32
    elif min(image_size) >= 32:
        filters, units = (64, 128, 256), 1024
    else:
        filters, units = (32, 64), 256
    scale = lambda n: max(1, int(round(n * width)))  # noqa: E731
    side = 2 ** len(filters)
    if image_size[0] % side or image_size[1] % side:
        raise ValueError(
            f"the conv encoder pools {len(filters)} times, so image_size must be divisible by {side}; "
            f"got {tuple(image_size)}. Set `preprocessing.image_size` to such a size (inputs are resized)."
        )
    return tuple(scale(f) for f in filters), scale(units)


def conv_backbone(input_shape, filters, units, seed=0):
    """Blocks of [conv 3x3, BN, ReLU] x 2 + 2x2 max-pool; flatten; Dense(units) ReLU.

    Batch norm is synchronized across replicas, so a multi-replica step
    matches a one-device step on the same global batch.
    """
    init = lambda i: keras.initializers.GlorotUniform(seed=seed + i)  # noqa: E731
    layers = [keras.Input(tuple(input_shape))]
    for b, count in enumerate(filters):
        for c in range(2):
            layers += [
                keras.layers.Conv2D(count, 3, padding="same", use_bias=False, kernel_initializer=init(2 * b + c),
                                    name=f"conv{b}_{c}"),
                keras.layers.BatchNormalization(synchronized=True, name=f"bn{b}_{c}"),
                keras.layers.ReLU(),
            ]
        layers.append(keras.layers.MaxPooling2D(2, name=f"pool{b}"))
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(units, activation="relu", kernel_initializer=init(50), name="features"),
    ]
    return keras.Sequential(layers, name="backbone")


def loadable_config(config):
    """A config of the encoder, BGAN or SPAH that builds on this machine, and the weights file it names.

    Returns `(config, backbone_weights)`: for a VGG backbone whose weights
    file is not here, `config` has `backbone_weights=FROM_SAVED_MODEL`, so
    the VGG starts from random weights that the saved model's own weights
    replace (`hashzoo.layers.stage_backbone.config_without_missing_weights_file`).
    The `from_config` methods build from that config, then set
    `backbone_weights` back to the second value, so a model saved again
    still records the file it started from.
    """
    weights = config.get("backbone_weights")
    if config.get("backbone") in VGG_BACKBONES:
        config = config_without_missing_weights_file(config, "backbone_weights", FROM_SAVED_MODEL)
    return config, None if weights is None else str(weights)


def vgg_backbone(name, weights, dropout=0.5):
    """keras.applications VGG `name` (`VGG_BACKBONES`) with its top, from a local weights file, up to fc2 (= fc7).

    Dropout follows fc1 (fc6) here; the encoder applies the one after fc2.
    `weights=FROM_SAVED_MODEL` builds it with random weights, for a saved
    model that brings its own.
    """
    if weights == FROM_SAVED_MODEL:
        weights = None
    elif not weights or not os.path.isfile(str(weights)):
        raise FileNotFoundError(
            f"backbone={name!r} needs the {VGG_BACKBONES[name]} ImageNet weights file on disk (with the top, "
            f"{name}_weights_tf_dim_ordering_tf_kernels.h5), got backbone_weights={weights!r}, which does not "
            "exist. Pretrained weights are never downloaded at run time: pass the path of a local copy, "
            "or use backbone='conv' (from scratch)."
        )
    application = getattr(keras.applications, VGG_BACKBONES[name])
    vgg = application(include_top=True, weights=weights and str(weights), input_shape=(VGG_SIZE, VGG_SIZE, 3))
    x = vgg.get_layer("fc1").output
    x = keras.layers.Dropout(dropout, name="fc1_dropout")(x)
    x = vgg.get_layer("fc2")(x)
    return keras.Model(vgg.input, x, name="backbone")


@keras.saving.register_keras_serializable(package="hashzoo")
class Encoder(keras.Model):
    """Backbone, dropout, then the hash head: Dense(L) and the smooth sign `tanh(k a)`.

    Args:
        input_shape: `(H, W, C)` of preprocessed images.
        code_bits: int L.
        backbone: `"conv"` (from scratch), `"vgg16"` or `"vgg19"`
            (keras.applications up to fc7, weights from `backbone_weights`,
            224x224 input preprocessed by `VGG_PREPROCESSING`).
        backbone_weights: path of the local VGG weights file (VGG backbones only).
        architecture: `"standard"` or `"smoke"` sizes of the conv backbone.
        width: float, multiplies the conv backbone's filter and unit counts.
        dropout: float in [0, 1), dropout rate on the features in training.
        slope: the smooth sign's initial slope k.
        variance_head: bool, add the Dense(L) log-variance head used by
            `variational_jitter` (docs/bgan.md, "Losses and the training step").
        seed: int, initializer and dropout seed.
    """

    def __init__(self, input_shape, code_bits, backbone="conv", backbone_weights=None, architecture="standard",
                 width=1.0, dropout=0.5, slope=1.0, variance_head=False, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in input_shape)
        self.code_bits = int(code_bits)
        self.backbone_name = check_choice(backbone, "backbone", BACKBONES)
        self.backbone_weights = None if backbone_weights is None else str(backbone_weights)
        self.architecture = check_choice(architecture, "architecture", ARCHITECTURES)
        self.width = float(width)
        self.dropout_rate = float(dropout)
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"`dropout` must lie in [0, 1), got {dropout}.")
        self.slope = float(slope)
        self.variance_head = bool(variance_head)
        self.seed = int(seed)

        # === Backbone ===
        if self.backbone_name in VGG_BACKBONES:
            if self.image_shape != (VGG_SIZE, VGG_SIZE, 3):
                raise ValueError(
                    f"backbone={self.backbone_name!r} runs at {VGG_SIZE}x{VGG_SIZE} RGB, got input_shape "
                    f"{self.image_shape}; use preprocessing={VGG_PREPROCESSING}."
                )
            self.backbone = vgg_backbone(self.backbone_name, self.backbone_weights, self.dropout_rate)
            hash_init = keras.initializers.TruncatedNormal(stddev=1e-3, seed=self.seed + 60)
        else:
            filters, units = conv_encoder_size(self.image_shape[:2], self.architecture, self.width)
            self.backbone = conv_backbone(self.image_shape, filters, units, seed=self.seed)
            hash_init = keras.initializers.GlorotUniform(seed=self.seed + 60)
        units = self.backbone.output_shape[-1]

        # === Heads ===
        self.dropout = keras.layers.Dropout(self.dropout_rate, seed=self.seed + 61, name="dropout")
        self.hash_head = HashHead(self.code_bits, activation="smooth_sign", slope=self.slope,
                                  kernel_initializer=hash_init, name="hash")
        self.hash_head.build((None, units))
        self.log_variance_head = None
        if self.variance_head:
            self.log_variance_head = keras.layers.Dense(
                self.code_bits, kernel_initializer=keras.initializers.GlorotUniform(seed=self.seed + 62),
                name="log_variance",
            )
            self.log_variance_head.build((None, units))
        self.built = True

    @classmethod
    def from_config(cls, config):
        """Rebuilds the encoder; a VGG one whose weights file is not here starts from random weights.

        A saved encoder brings its own weights, and its config still names the
        file (`loadable_config`, which `SmoothSignGAN.from_config` shares).
        """
        config, weights = loadable_config(config)
        encoder = super().from_config(config)
        encoder.backbone_weights = weights
        return encoder

    @property
    def smooth_sign(self):
        """The `SmoothSign` layer whose slope the schedule sets."""
        return self.hash_head.smooth_sign

    def features(self, x, training=False, dropout_seed=None):
        """Backbone features after dropout (in training).

        With `dropout_seed` (an int32 `[2]` step seed) the mask is drawn for
        the global batch and sliced per replica (`distribute.replica_uniform`),
        so replicas drop different units and a multi-replica step equals a
        one-device step; without it, Keras's `Dropout` is used.
        """
        if self.backbone_name in VGG_BACKBONES:
            x = x[..., ::-1]  # RGB to the BGR order of VGG's caffe weights
        features = self.backbone(x, training=training)
        if not training or self.dropout_rate == 0.0:
            return features
        if dropout_seed is None:
            return self.dropout(features, training=True)
        keep = distribute.replica_uniform(tf.shape(features), dropout_seed) >= self.dropout_rate
        return tf.where(keep, features / (1.0 - self.dropout_rate), tf.zeros_like(features))

    def pre_activation(self, x, training=False, dropout_seed=None):
        """a = Dense(L)(features), before the smooth sign; `sign(a)` is the code."""
        return self.hash_head.projection(self.features(x, training=training, dropout_seed=dropout_seed))

    def log_variance(self, features):
        """log sigma^2 of the code jitter, `[B, L]` (needs `variance_head=True`)."""
        if self.log_variance_head is None:
            raise ValueError("this encoder has no log-variance head; build it with variance_head=True.")
        return self.log_variance_head(features)

    def call(self, x, training=False, dropout_seed=None):
        return self.hash_head(self.features(x, training=training, dropout_seed=dropout_seed))

    def get_config(self):
        config = super().get_config()
        config.update(
            input_shape=list(self.image_shape),
            code_bits=self.code_bits,
            backbone=self.backbone_name,
            backbone_weights=self.backbone_weights,
            architecture=self.architecture,
            width=self.width,
            dropout=self.dropout_rate,
            slope=self.slope,
            variance_head=self.variance_head,
            seed=self.seed,
        )
        return config
