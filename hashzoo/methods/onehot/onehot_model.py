"""The classifier + one-hot code baseline (Sablayrolles et al., ICASSP 2017).

"How should we evaluate supervised hashing?" showed that a plain classifier
whose code is the one-hot vector of its predicted class scores a high mAP on
class-based retrieval protocols, so supervised hashing tables report it as a
floor. Here the classifier uses the shared conv trunk
(`hashzoo.layers.build_conv_trunk`), the trunk of CoopHash's descriptor, so
the two compare on equal networks.
"""

import keras
import tensorflow as tf

from hashzoo import distribute
from hashzoo.layers import build_conv_trunk
from hashzoo.layers.augmentation import check_augment, make_augmentation
from hashzoo.layers.conv_trunk import nearest_trunk_size
from hashzoo.models import HashingModel
from hashzoo.utils.validation import check_positive_int


@keras.saving.register_keras_serializable(package="hashzoo")
class OneHotClassifierHasher(HashingModel):
    """Softmax classifier whose code is the one-hot vector of its predicted class.

    Bit c (c < num_classes) is +1 for the predicted class and -1 otherwise;
    the remaining `code_bits - num_classes` bits are -1 on every code. Two
    items are then 0 bits apart when predicted the same class and 2 otherwise.

    Args:
        code_bits: int >= num_classes.
        num_classes: int >= 2.
        width, init_std: trunk size and conv init (see `hashzoo.layers.build_conv_trunk`).
        seed: initializer seed (and, plus 300, the augmentation's).
        preprocessing: the input contract.
        augment: None (default, no augmentation), `"flip_crop"`, `"crop"`,
            `"flip"` or a dict of `hashzoo.layers.FlipCrop` arguments: random
            flips and shifts of each training batch, the same layer and
            settings as CoopHash's `augment`, so the floor compares on equal
            data (docs/onehot.md, "Augmentation"). Encoding never augments.

    Example:

    >>> import numpy as np
    >>> model = OneHotClassifierHasher(16, num_classes=10, width=0.25,
    ...                                preprocessing={"image_size": (8, 8), "channels": 1})
    >>> codes = model.encode(np.zeros((3, 8, 8, 1), "uint8"))
    >>> codes.shape, int((codes == 1).sum(axis=1).max())
    ((3, 16), 1)
    """

    SUPERVISED = True

    @classmethod
    def data_arguments(cls, dataset, seed):
        """Class count from the training data, and the run's seed."""
        return {"num_classes": dataset.num_classes, "seed": seed}

    @classmethod
    def supported_image_size(cls, image_size, model_kwargs=None):
        """The nearest square size the conv trunk takes (side 4 * 2**n): 28x28 trains at 32x32."""
        del model_kwargs
        return nearest_trunk_size(image_size)

    def __init__(
        self, code_bits, num_classes, width=1.0, init_std=0.05, seed=0, preprocessing=None, augment=None, **kwargs
    ):
        super().__init__(code_bits, preprocessing=preprocessing, **kwargs)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        if self.code_bits < self.num_classes:
            raise ValueError(
                f"a one-hot code needs code_bits >= num_classes, got code_bits={self.code_bits} "
                f"and num_classes={self.num_classes}."
            )
        self.width = float(width)
        self.init_std = float(init_std)
        self.augment = check_augment(augment)
        self.seed = int(seed)
        self.trunk = build_conv_trunk(self.preprocessing.input_shape, self.width, self.init_std, self.seed)
        self.classifier = keras.layers.Dense(self.num_classes, name="classifier")
        self.classifier.build(self.trunk.output_shape)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.augmentation = make_augmentation(self.augment, self.preprocessing.image_size, self.seed)
        self.build()

    def logits(self, x, training=False):
        return self.classifier(self.trunk(x, training=training))

    def hash_values(self, x, training=False):
        logits = self.logits(x, training=training)
        one_hot = keras.ops.one_hot(keras.ops.argmax(logits, axis=-1), self.num_classes)
        padding = keras.ops.zeros((keras.ops.shape(logits)[0], self.code_bits - self.num_classes))
        return keras.ops.concatenate([one_hot, padding], axis=-1) * 2.0 - 1.0

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def train_step(self, data):
        images, labels = data[0], tf.cast(tf.reshape(data[1], [-1]), tf.int32)
        x = self.preprocess(images)
        if self.augmentation is not None:
            x = self.augmentation(x, training=True)
        with tf.GradientTape() as tape:
            logits = self.logits(x, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
            scaled = distribute.scale_loss(loss)
        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(tf.reduce_mean(tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == labels, tf.float32)))
        return distribute.report(self.metrics)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, width=self.width, init_std=self.init_std, augment=self.augment, seed=self.seed
        )
        return config
