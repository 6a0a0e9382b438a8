"""The multipurpose descriptor: one trunk, four heads (docs/coophash.md)."""

import keras
from keras import ops

from hashzoo.layers import HashHead, build_conv_trunk
from hashzoo.methods.coophash.stability import bounded_log_std, check_log_std_bounds

#: Default soft bounds of the inference head's log-std: std in (0.0025, 2.7).
DEFAULT_LOG_STD_BOUNDS = (-6.0, 1.0)


@keras.saving.register_keras_serializable(package="hashzoo")
class DensityHead(keras.layers.Layer):
    """Negative energy `F(x, y) = w^T phi + b + ybar^T V phi`, ybar = y / max(1, sum y).

    Only this head sees the label, so the trunk and the hash head stay
    label-free (query labels are unknown at test time).

    Args:
        num_classes: int, C.
        seed: int or None, seeds the initializers of `w` and `V`.
    """

    def __init__(self, num_classes, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.seed = None if seed is None else int(seed)

    def build(self, features_shape, labels_shape=None):
        dim = features_shape[-1]

        def init(offset):
            return keras.initializers.GlorotUniform(None if self.seed is None else self.seed + offset)

        self.w = self.add_weight(name="w", shape=(dim,), initializer=init(0))
        self.b = self.add_weight(name="b", shape=(), initializer="zeros")
        self.v = self.add_weight(name="v", shape=(self.num_classes, dim), initializer=init(1))

    def call(self, features, labels):
        labels = ops.cast(labels, features.dtype)
        ybar = labels / ops.maximum(1.0, ops.sum(labels, axis=-1, keepdims=True))
        conditional = ops.sum(ops.matmul(ybar, self.v) * features, axis=-1)
        return ops.matmul(features, self.w) + self.b + conditional

    def compute_output_shape(self, features_shape, labels_shape=None):
        return (features_shape[0],)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, seed=self.seed)
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
        log_std_bounds: `(low, high)` soft bounds of the inference head's
            log-std (`stability.bounded_log_std`), or None for the unbounded
            parent form (half the raw output).
    """

    def __init__(
        self, input_shape, num_classes, code_bits, latent_dim, width=1.0, init_std=0.005, seed=0,
        log_std_bounds=DEFAULT_LOG_STD_BOUNDS, **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.code_bits = int(code_bits)
        self.latent_dim = int(latent_dim)
        self.width = float(width)
        self.init_std = float(init_std)
        self.seed = int(seed)
        self.log_std_bounds = check_log_std_bounds(log_std_bounds)
        # === Trunk ===
        self.trunk = build_conv_trunk(self.image_shape, self.width, self.init_std, self.seed)

        # === Heads ===
        dim = self.trunk.output_shape[-1]
        self.density_head = DensityHead(self.num_classes, seed=self.seed + 54, name="density")
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
        """`(mu, log_std)` of the latent code, each `[B, d]`.

        log-std is half the raw output, soft-clamped into `log_std_bounds`.
        """
        raw = self.inference_head(features)
        return raw[:, : self.latent_dim], bounded_log_std(0.5 * raw[:, self.latent_dim :], self.log_std_bounds)

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
            log_std_bounds=None if self.log_std_bounds is None else list(self.log_std_bounds),
        )
        return config
