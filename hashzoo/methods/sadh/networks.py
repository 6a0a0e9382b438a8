"""SADH's two networks: the label network (LabNet) and the image network (ImgNet).

Both return a dict `{"features", "codes", "logits"}` (docs/sadh.md,
"Networks"). LabNet sees only label vectors and teaches; ImgNet sees only
images and is the one used for retrieval. The feature width is one argument
shared by both, since the image features are compared with LabNet's.

>>> import numpy as np
>>> label_net = SADHLabelNet(num_classes=3, code_bits=8, feature_dim=16, hidden_dim=32)
>>> {name: tuple(v.shape) for name, v in label_net(np.eye(3, dtype="float32")).items()}
{'features': (3, 16), 'codes': (3, 8), 'logits': (3, 3)}
"""

import keras

from hashzoo.layers.stage_backbone import build_backbone, check_backbone
from hashzoo.utils.validation import check_positive_int


def _normal(seed, stddev=0.01):
    return keras.initializers.RandomNormal(stddev=stddev, seed=seed)


@keras.saving.register_keras_serializable(package="hashzoo")
class SADHLabelNet(keras.Model):
    """Label vector `[B, c]` to semantic feature `[B, d_f]`, semantic code `[B, K]` in (-1, 1) and class scores `[B, c]`.

    Dense c -> hidden (ReLU) -> d_f (linear) gives the feature; a tanh dense
    layer on it gives the code, a linear one the class scores. Kernels and
    biases start from N(0, 0.01^2); no dropout and no batch norm, so a label
    set always maps to the same outputs (the dictionaries rely on it).
    """

    def __init__(self, num_classes, code_bits, feature_dim=512, hidden_dim=1024, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.code_bits = check_positive_int(code_bits, "code_bits")
        self.feature_dim = check_positive_int(feature_dim, "feature_dim")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        self.seed = int(seed)
        self.hidden = keras.layers.Dense(self.hidden_dim, activation="relu", kernel_initializer=_normal(self.seed),
                                         bias_initializer=_normal(self.seed + 1), name="hidden")
        self.feature_head = keras.layers.Dense(self.feature_dim, kernel_initializer=_normal(self.seed + 2),
                                               bias_initializer=_normal(self.seed + 3), name="features")
        self.code_head = keras.layers.Dense(self.code_bits, activation="tanh", kernel_initializer=_normal(self.seed + 4),
                                            bias_initializer=_normal(self.seed + 5), name="codes")
        self.class_head = keras.layers.Dense(self.num_classes, kernel_initializer=_normal(self.seed + 6),
                                             bias_initializer=_normal(self.seed + 7), name="logits")
        self.build((None, self.num_classes))

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.feature_head.build((None, self.hidden_dim))
        self.code_head.build((None, self.feature_dim))
        self.class_head.build((None, self.feature_dim))
        self.built = True

    def call(self, labels, training=False):
        features = self.feature_head(self.hidden(keras.ops.cast(labels, "float32")))
        return {"features": features, "codes": self.code_head(features), "logits": self.class_head(features)}

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, code_bits=self.code_bits, feature_dim=self.feature_dim,
                      hidden_dim=self.hidden_dim, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="hashzoo")
class SADHImageNet(keras.Model):
    """Preprocessed image `[B, H, W, C]` to feature `[B, d_f]`, code `[B, K]` in (-1, 1) and logits `[B, c]`.

    A backbone (`hashzoo.layers.stage_backbone`) gives pooled features x;
    the feature head is linear on x, the classifier is linear on the feature
    and the tanh hash head reads x directly. Head kernels start from
    N(0, 0.01^2), biases from 0.

    Args:
        input_shape_hwc: `(H, W, C)` of preprocessed images.
        num_classes, code_bits, feature_dim: head sizes.
        backbone, widths, weights_file: see `hashzoo.layers.stage_backbone.build_backbone`.
        seed: initializer seed.
    """

    def __init__(self, input_shape_hwc, num_classes, code_bits, feature_dim=512, backbone="stages",
                 widths=(64, 128, 256), weights_file=None, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.input_shape_hwc = tuple(int(v) for v in input_shape_hwc)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.code_bits = check_positive_int(code_bits, "code_bits")
        self.feature_dim = check_positive_int(feature_dim, "feature_dim")
        self.backbone_name, self.widths = check_backbone(backbone, widths)
        self.weights_file = None if weights_file is None else str(weights_file)
        self.seed = int(seed)
        self.backbone = build_backbone(self.input_shape_hwc, self.backbone_name, self.widths, self.weights_file,
                                       seed=self.seed, name="backbone")
        pooled = int(self.backbone.output_shape[-1])
        self.feature_head = keras.layers.Dense(self.feature_dim, kernel_initializer=_normal(self.seed + 100),
                                               name="features")
        self.hash_head = keras.layers.Dense(self.code_bits, activation="tanh", kernel_initializer=_normal(self.seed + 101),
                                            name="codes")
        self.classifier = keras.layers.Dense(self.num_classes, kernel_initializer=_normal(self.seed + 102),
                                             name="logits")
        self.feature_head.build((None, pooled))
        self.hash_head.build((None, pooled))
        self.classifier.build((None, self.feature_dim))
        self.built = True

    def call(self, images, training=False):
        pooled = self.backbone(images, training=training)
        features = self.feature_head(pooled)
        return {"features": features, "codes": self.hash_head(pooled), "logits": self.classifier(features)}

    def get_config(self):
        config = super().get_config()
        config.update(input_shape_hwc=list(self.input_shape_hwc), num_classes=self.num_classes,
                      code_bits=self.code_bits, feature_dim=self.feature_dim, backbone=self.backbone_name,
                      widths=list(self.widths), weights_file=self.weights_file, seed=self.seed)
        return config


__all__ = ["SADHImageNet", "SADHLabelNet"]
