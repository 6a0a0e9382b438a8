"""The multi-label classifier floor: a sigmoid classifier whose code is its predicted label set.

The multi-label counterpart of the one-hot floor (`hashzoo.methods.onehot`,
after Sablayrolles et al., "How should we evaluate supervised hashing?",
ICASSP 2017). On multi-label protocols (`digits-mosaic`, `cifar10-mosaic`)
relevance is "the label sets intersect", so a classifier that predicts the
label set well already ranks well when its code is that set. A supervised
multi-label hasher has to beat this code to show it learned more than the
classifier's decisions. The network is the from-scratch stage backbone
(`hashzoo.layers.stage_backbone.build_backbone`) that the multi-label
methods use, so the floor and those methods compare on equal networks.
See docs/multihot.md.
"""

import keras
import tensorflow as tf

from hashzoo import distribute
from hashzoo.layers.stage_backbone import build_backbone, check_backbone, config_without_missing_weights_file
from hashzoo.models import HashingModel
from hashzoo.utils.validation import check_positive_int


@keras.saving.register_keras_serializable(package="hashzoo")
class MultiHotClassifierHasher(HashingModel):
    """Sigmoid multi-label classifier whose code is the ±1 vector of its predicted label set.

    Bit c (c < num_classes) is +1 when the logit of label c is > 0 (label c
    predicted present) and -1 otherwise; the remaining
    `code_bits - num_classes` bits are -1 on every code. The Hamming
    distance of two codes is then the number of labels on which the two
    predicted sets disagree (the size of their symmetric difference).

    Why it is a floor: a supervised multi-label hasher must beat a plain
    classifier whose code is its predicted label set, or its training
    taught retrieval nothing beyond per-label decisions (docs/multihot.md).

    Training is sigmoid binary cross-entropy on the logits, averaged over
    batch and classes, with no hashing loss. Labels are multi-hot `[B, C]`;
    class ids `[B]` or `[B, 1]` are one-hot encoded, so the floor also runs on
    single-label data.

    Args:
        code_bits: int >= num_classes.
        num_classes: int >= 1, the number of labels.
        backbone, widths, weights_file: the feature network (see
            `hashzoo.layers.stage_backbone.build_backbone`).
        seed: initializer seed.
        preprocessing: the input contract.

    Example:

    >>> import numpy as np
    >>> model = MultiHotClassifierHasher(16, num_classes=10, widths=(4, 8),
    ...                                  preprocessing={"image_size": (8, 8), "channels": 1})
    >>> codes = model.encode(np.zeros((3, 8, 8, 1), "uint8"))
    >>> codes.shape, bool((codes[:, 10:] == -1).all())
    ((3, 16), True)
    """

    SUPERVISED = True

    @classmethod
    def data_arguments(cls, dataset, seed):
        """Label count from the training data, and the run's seed."""
        return {"num_classes": dataset.num_classes, "seed": seed}

    def __init__(self, code_bits, num_classes, backbone="stages", widths=(32, 64), weights_file=None, seed=0,
                 preprocessing=None, **kwargs):
        super().__init__(code_bits, preprocessing=preprocessing, **kwargs)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        if self.code_bits < self.num_classes:
            raise ValueError(
                f"a label-set code needs one bit per label, code_bits >= num_classes; got "
                f"code_bits={self.code_bits} and num_classes={self.num_classes}."
            )
        self.backbone_name, widths = check_backbone(backbone, widths)
        self.widths = list(widths)
        self.weights_file = None if weights_file is None else str(weights_file)
        self.seed = int(seed)
        self.backbone = build_backbone(self.preprocessing.input_shape, backbone=self.backbone_name,
                                       widths=widths, weights_file=self.weights_file, seed=self.seed)
        self.classifier = keras.layers.Dense(
            self.num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed=self.seed), name="classifier"
        )
        self.classifier.build(self.backbone.output_shape)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="label_accuracy")
        self.build()

    def logits(self, x, training=False):
        """Label logits `[B, num_classes]` of preprocessed images."""
        return self.classifier(self.backbone(x, training=training))

    def codes_from_logits(self, logits):
        """±1 codes `[B, code_bits]`: +1 where a logit is > 0, -1 elsewhere and on the padding bits."""
        present = keras.ops.cast(logits > 0, "float32")
        padding = keras.ops.zeros((keras.ops.shape(logits)[0], self.code_bits - self.num_classes))
        return keras.ops.concatenate([present, padding], axis=-1) * 2.0 - 1.0

    def hash_values(self, x, training=False):
        return self.codes_from_logits(self.logits(x, training=training))

    def serving_outputs(self, images):
        """`z` (the ±1 code) and the label `logits`, from one backbone pass."""
        logits = self.logits(self.preprocess(images), training=False)
        return {"z": self.codes_from_logits(logits), "logits": logits}

    def label_vectors(self, labels):
        """Float multi-hot `[B, num_classes]` from multi-hot labels or class ids `[B]` / `[B, 1]`."""
        labels = tf.convert_to_tensor(labels)
        rank = labels.shape.rank
        if rank == 1 or (rank == 2 and labels.shape[-1] == 1 and self.num_classes != 1):
            ids = tf.cast(tf.reshape(labels, [-1]), tf.int32)
            return tf.one_hot(ids, self.num_classes, dtype=tf.float32)
        return tf.cast(labels, tf.float32)

    def multilabel_loss(self, logits, label_vectors):
        """Sigmoid binary cross-entropy from logits, averaged over batch and labels."""
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=label_vectors, logits=logits))

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def train_step(self, data):
        images, label_vectors = data[0], self.label_vectors(data[1])
        with tf.GradientTape() as tape:
            logits = self.logits(self.preprocess(images), training=True)
            loss = self.multilabel_loss(logits, label_vectors)
            scaled = distribute.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        right = tf.equal(logits > 0, label_vectors > 0.5)
        self.accuracy_tracker.update_state(tf.reduce_mean(tf.cast(right, tf.float32)))
        return distribute.report(self.metrics)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, backbone=self.backbone_name, widths=list(self.widths),
                      weights_file=self.weights_file, seed=self.seed)
        return config

    @classmethod
    def from_config(cls, config):
        return super().from_config(config_without_missing_weights_file(config))
