"""The multipurpose descriptor: one trunk, four heads (CoopHash spec §4)."""

import keras
from keras import ops

from hashzoo.layers import HashHead
from hashzoo.methods.coophash.architecture import coophash_architecture


def build_trunk(input_shape, width=1.0, init_std=0.005, seed=0, name="trunk"):
    """The descriptor trunk phi(x): convs with LeakyReLU(0.2), then a dense layer.

    No batch norm or dropout (see `Descriptor`). Also the trunk of the
    one-hot classifier baseline, so the two compare on equal networks.
    """
    arch = coophash_architecture(input_shape[:2], width)
    layers = [keras.Input(tuple(input_shape))]
    for i, (filters, kernel, stride) in enumerate(arch.trunk_convs):
        layers += [
            keras.layers.Conv2D(
                filters, kernel, strides=stride, padding="same",
                kernel_initializer=keras.initializers.RandomNormal(stddev=init_std, seed=seed + i),
                name=f"conv{i}",
            ),
            keras.layers.LeakyReLU(0.2),
        ]
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(arch.feature_dim, kernel_initializer=keras.initializers.GlorotUniform(seed + 50), name="features"),
        keras.layers.LeakyReLU(0.2),
    ]
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="hashzoo")
class DensityHead(keras.layers.Layer):
    """Negative energy `F(x, y) = w^T phi + b + ybar^T V phi`, ybar = y / max(1, sum y).

    Only this head sees the label, so the trunk and the hash head stay
    label-free (query labels are unknown at test time).

    Args:
        num_classes: int, C.
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)

    def build(self, features_shape, labels_shape=None):
        dim = features_shape[-1]
        self.w = self.add_weight(name="w", shape=(dim,), initializer="glorot_uniform")
        self.b = self.add_weight(name="b", shape=(), initializer="zeros")
        self.v = self.add_weight(name="v", shape=(self.num_classes, dim), initializer="glorot_uniform")

    def call(self, features, labels):
        labels = ops.cast(labels, features.dtype)
        ybar = labels / ops.maximum(1.0, ops.sum(labels, axis=-1, keepdims=True))
        conditional = ops.sum(ops.matmul(ybar, self.v) * features, axis=-1)
        return ops.matmul(features, self.w) + self.b + conditional

    def compute_output_shape(self, features_shape, labels_shape=None):
        return (features_shape[0],)

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config


@keras.saving.register_keras_serializable(package="hashzoo")
class Descriptor(keras.Model):
    """Bottom-up network with density, hash, inference and class heads.

    The trunk has no batch norm or dropout: batch statistics would couple the
    Langevin chains and dropout would make the energy random.

    Args:
        input_shape: `(H, W, C)` of preprocessed images (side 4 * 2**n).
        num_classes: int, C.
        code_bits: int, K.
        latent_dim: int, d (size of the generator's latent code).
        width: float, filter multiplier.
        init_std: std of the conv kernels' normal initializer.
        seed: int, initializer seed.
    """

    def __init__(self, input_shape, num_classes, code_bits, latent_dim, width=1.0, init_std=0.005, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.code_bits = int(code_bits)
        self.latent_dim = int(latent_dim)
        self.width = float(width)
        self.init_std = float(init_std)
        self.seed = int(seed)
        # === Trunk ===
        self.trunk = build_trunk(self.image_shape, self.width, self.init_std, self.seed)

        # === Heads ===
        dim = self.trunk.output_shape[-1]
        self.density_head = DensityHead(self.num_classes, name="density")
        self.density_head.build((None, dim))
        self.hash_head = HashHead(self.code_bits, activation="tanh", kernel_initializer=keras.initializers.GlorotUniform(seed + 51), name="hash")
        self.hash_head.build((None, dim))
        self.inference_head = keras.layers.Dense(2 * self.latent_dim, kernel_initializer=keras.initializers.GlorotUniform(seed + 52), name="inference")
        self.inference_head.build((None, dim))
        self.class_head = keras.layers.Dense(self.num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed + 53), name="classes")
        self.class_head.build((None, dim))
        self.built = True

    def features(self, x, training=False):
        return self.trunk(x, training=training)

    def energy(self, x, labels):
        """Negative energy F(x, y), `[B]`."""
        return self.density_head(self.features(x), labels)

    def latent(self, features):
        """`(mu, log_std)` of the latent code, each `[B, d]` (log-std = half the raw output)."""
        raw = self.inference_head(features)
        return raw[:, : self.latent_dim], 0.5 * raw[:, self.latent_dim :]

    def call(self, inputs, training=False):
        x, labels = inputs
        phi = self.features(x, training=training)
        mu, log_std = self.latent(phi)
        return {
            "energy": self.density_head(phi, labels),
            "hash": self.hash_head(phi),
            "mu": mu,
            "log_std": log_std,
            "logits": self.class_head(phi),
        }

    @property
    def descriptor_variables(self):
        """What the descriptor step trains: trunk, density, hash and class heads."""
        return (
            self.trunk.trainable_variables
            + self.density_head.trainable_variables
            + self.hash_head.trainable_variables
            + self.class_head.trainable_variables
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            input_shape=list(self.image_shape),
            num_classes=self.num_classes,
            code_bits=self.code_bits,
            latent_dim=self.latent_dim,
            width=self.width,
            init_std=self.init_std,
            seed=self.seed,
        )
        return config
