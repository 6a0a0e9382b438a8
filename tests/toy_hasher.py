"""A minimal supervised hasher used to test the shared rails.

It follows every rule a real method follows (hand-written loss divided by the
replica count, `Mean` trackers only, complete `get_config`), so the battery in
`helpers.py` can be tested on it before any method exists.
"""

import keras
import tensorflow as tf

from hashzoo import HashingModel, distribute
from hashzoo.layers import HashHead


@keras.saving.register_keras_serializable(package="hashzoo_tests")
class ToyHasher(HashingModel):
    """Flatten -> Dense -> HashHead, plus a class head trained with cross-entropy."""

    def __init__(self, code_bits, num_classes=10, hidden=16, quantization_weight=0.1, seed=0, **kwargs):
        super().__init__(code_bits, **kwargs)
        self.num_classes = num_classes
        self.hidden = hidden
        self.quantization_weight = quantization_weight
        self.seed = seed
        init = keras.initializers.GlorotUniform(seed=seed)
        self.trunk = keras.Sequential(
            [
                keras.Input(self.preprocessing.input_shape),
                keras.layers.Flatten(),
                keras.layers.Dense(hidden, activation="relu", kernel_initializer=init),
            ],
            name="trunk",
        )
        self.hash_head = HashHead(code_bits, kernel_initializer=keras.initializers.GlorotUniform(seed + 1))
        self.classifier = keras.layers.Dense(num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed + 2))
        # Variables exist at construction, so the optimizer sees all of them.
        self.hash_head.build((None, hidden))
        self.classifier.build((None, code_bits))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.quantization_tracker = keras.metrics.Mean(name="quantization")

    def hash_values(self, x, training=False):
        return self.hash_head(self.trunk(x, training=training))

    @property
    def metrics(self):
        return [self.loss_tracker, self.quantization_tracker]

    def train_step(self, data):
        images, labels = data
        with tf.GradientTape() as tape:
            features = self.trunk(self.preprocess(images), training=True)
            codes = self.hash_head(features)
            logits = self.classifier(codes)
            ce = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)
            )
            quantization = tf.reduce_mean(tf.square(tf.abs(codes) - 1.0))
            loss = ce + self.quantization_weight * quantization
            scaled_loss = distribute.scale_loss(loss)
        grads = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        self.quantization_tracker.update_state(quantization)
        return distribute.report(self.metrics)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            hidden=self.hidden,
            quantization_weight=self.quantization_weight,
            seed=self.seed,
        )
        return config
