"""Minimal supervised hashers used to test the shared rails.

`ToyHasher` follows every rule a real method follows (hand-written loss
divided by the replica count, `Mean` trackers only, complete `get_config`,
the training hooks), so the battery in `helpers.py` and the training core can
be tested on it before any method exists. `ToyStagedHasher` adds two stages
before the main fit (a warm-up `fit` and a computed centre), to test stage
progress, checkpointing and resume.
"""

import keras
import numpy as np
import tensorflow as tf

from hashzoo import HashingModel, distribute
from hashzoo.layers import HashHead
from hashzoo.models import Stage


@keras.saving.register_keras_serializable(package="hashzoo_tests")
class ToyHasher(HashingModel):
    """Flatten -> Dense -> HashHead, plus a class head trained with cross-entropy."""

    SUPERVISED = True

    @classmethod
    def data_arguments(cls, dataset, seed):
        return {"num_classes": dataset.num_classes, "seed": seed}

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


class StageCrash(RuntimeError):
    """Raised by `ToyStagedHasher` inside the stage named by `ToyStagedHasher.crash_in` (a simulated kill)."""


@keras.saving.register_keras_serializable(package="hashzoo_tests")
class ToyStagedHasher(ToyHasher):
    """`ToyHasher` with two stages before the main fit.

    1. `warmup`: one epoch of the model's own `fit` (its callbacks come from
       the runner, so it resumes inside the stage too);
    2. `center`: the mean trunk feature of the training images, stored in a
       non-trainable variable that `hash_values` subtracts.

    `calls` counts how often each stage ran (tests reset it); setting
    `crash_in` to a stage name makes that stage raise `StageCrash` halfway.
    """

    calls = {"warmup": 0, "center": 0}
    crash_in = None

    def __init__(self, code_bits, **kwargs):
        super().__init__(code_bits, **kwargs)
        self.center = self.add_weight(shape=(self.hidden,), initializer="zeros", trainable=False, name="center")

    def hash_values(self, x, training=False):
        return self.hash_head(self.trunk(x, training=training) - self.center)

    def training_stages(self):
        return [
            Stage("warmup", self.warmup, "one epoch of the class loss"),
            Stage("center", self.compute_center, "mean trunk feature"),
        ]

    def warmup(self, context):
        type(self).calls["warmup"] += 1
        dataset = self.make_train_dataset(context.train.images, context.train.labels, prepared=context.prepared,
                                          batch_size=context.batch_size, seed=context.seed)
        history = self.fit(dataset, epochs=1, verbose=0, callbacks=context.callbacks, shuffle=False)
        if type(self).crash_in == "warmup":
            raise StageCrash("killed in warmup")
        return {"loss": float(history.history["loss"][-1])}

    def compute_center(self, context):
        type(self).calls["center"] += 1
        progress = context.progress(1, unit_name="pass")
        features = np.asarray(self.trunk(self.preprocess(context.train.images.astype("float32"))))
        if type(self).crash_in == "center":
            raise StageCrash("killed in center")
        self.center.assign(features.mean(axis=0))
        progress.update(1)
        return {"center_norm": float(np.linalg.norm(features.mean(axis=0)))}
