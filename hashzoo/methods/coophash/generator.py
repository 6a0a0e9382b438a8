"""The top-down contrastive pair generator G(z, y) (docs/coophash.md, "Sizes")."""

import keras
from keras import ops

from hashzoo.methods.coophash.architecture import coophash_architecture


@keras.saving.register_keras_serializable(package="hashzoo")
class PairGenerator(keras.Model):
    """Maps a latent code and a label vector to an image in [-1, 1].

    The label enters by concatenation with z (Conditional CoopNets). Batch
    norm is synchronized across replicas, so a multi-replica step matches a
    one-device step on the same global batch.

    Args:
        output_shape: `(H, W, C)` of the images (side 4 * 2**n).
        num_classes: int, C.
        latent_dim: int, d.
        width: float, filter multiplier.
        seed: int, initializer seed.
    """

    def __init__(self, output_shape, num_classes, latent_dim, width=1.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in output_shape)
        self.num_classes = int(num_classes)
        self.latent_dim = int(latent_dim)
        self.width = float(width)
        self.seed = int(seed)
        arch = coophash_architecture(self.image_shape[:2], self.width)

        def init(offset):
            return keras.initializers.GlorotUniform(seed=seed + offset)

        def bn():
            return keras.layers.BatchNormalization(synchronized=True)

        layers = [
            keras.Input((self.latent_dim + self.num_classes,)),
            keras.layers.Reshape((1, 1, self.latent_dim + self.num_classes)),
            keras.layers.Conv2DTranspose(arch.generator_start, 4, padding="valid", kernel_initializer=init(0)),
            bn(),
            keras.layers.LeakyReLU(0.2),
        ]
        for i, filters in enumerate(arch.generator_doublings):
            layers += [
                keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", kernel_initializer=init(i + 1)),
                bn(),
                keras.layers.LeakyReLU(0.2),
            ]
        layers += [
            keras.layers.Conv2DTranspose(arch.generator_last, 3, strides=2, padding="same", kernel_initializer=init(20)),
            keras.layers.LeakyReLU(0.2),
            keras.layers.Conv2DTranspose(self.image_shape[-1], 3, strides=1, padding="same", kernel_initializer=init(21)),
            keras.layers.Activation("tanh"),
        ]
        self.network = keras.Sequential(layers, name="network")
        self.built = True

    def call(self, inputs, training=False):
        z, labels = inputs
        return self.network(ops.concatenate([z, ops.cast(labels, z.dtype)], axis=-1), training=training)

    def get_config(self):
        config = super().get_config()
        config.update(
            output_shape=list(self.image_shape),
            num_classes=self.num_classes,
            latent_dim=self.latent_dim,
            width=self.width,
            seed=self.seed,
        )
        return config
