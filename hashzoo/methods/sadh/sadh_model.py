"""`SADH`: supervised (multi-label) hashing taught by a label network's semantic dictionaries.

Yu, Wu, Dou, Bakker, "Deep hashing with self-supervised asymmetric semantic
excavation and margin-scalable constraint" (arXiv 2012.03820, Neurocomputing
2022). The method and every choice hashzoo made are in docs/sadh.md; in short:

1. **Stage "label_net"**: LabNet (label vector -> feature, code, class scores)
   is trained on the training label vectors alone under a margin-fixed hinge.
2. **Stage "dictionaries"**: LabNet runs once on every distinct training
   label set; its features and codes become the feature and code
   dictionaries, non-trainable variables that save with the model.
3. **The main fit** trains ImgNet (`train_step`): its codes and features
   must agree with the other images of the batch (symmetric terms) and with
   the dictionaries (asymmetric terms) under a margin-scalable hinge whose
   target cosine mu comes from LabNet, plus quantisation and classification.

Retrieval uses ImgNet only: `encode` is sign(ImgNet code), ties to +1.
"""

import keras
import numpy as np
import tensorflow as tf

from hashzoo import distribute
from hashzoo.layers.stage_backbone import config_without_missing_weights_file
from hashzoo.methods.sadh import dictionaries as dictionaries_lib
from hashzoo.methods.sadh import losses
from hashzoo.methods.sadh.networks import SADHImageNet, SADHLabelNet
from hashzoo.models import HashingModel
from hashzoo.models.hooks import Stage
from hashzoo.utils.validation import check_positive_int

MARGINS = ("scalable", "fixed")
SYMMETRIC_SCOPES = ("global", "replica")
LABEL_STAGE, IMAGE_STAGE = "label", "image"


class LabelLearningRate(keras.callbacks.Callback):
    """Sets the label optimizer's rate at each epoch: `base * factor ** (epochs in decay_epochs passed)`."""

    def __init__(self, optimizer, base, decay_epochs, factor):
        super().__init__()
        self.optimizer, self.base, self.decay_epochs, self.factor = optimizer, float(base), tuple(decay_epochs), factor

    def rate(self, epoch):
        return self.base * self.factor ** sum(int(epoch) >= int(e) for e in self.decay_epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self.optimizer.learning_rate = self.rate(epoch)


@keras.saving.register_keras_serializable(package="hashzoo")
class SADH(HashingModel):
    """SADH: LabNet, its feature and code dictionaries, and the image network that retrieval uses.

    Args:
        code_bits: K.
        num_classes: c, the label vector length.
        dictionary_size: M, the number of distinct training label sets (the
            dictionaries' rows); `from_data` and `from_train_labels` count it.
        multi_label: True for multi-hot labels `[B, c]`, False for class ids.
        feature_dim: d_f, the feature width of both networks.
        hidden_dim: LabNet's hidden width.
        backbone, widths, weights_file: ImgNet's backbone
            (`hashzoo.layers.stage_backbone`); from scratch by default.
        theta: LabNet's margin-fixed hinge margin.
        label_quantization_weight: alpha_l, LabNet's quantisation weight.
        label_class_weight: weight of LabNet's summed class term.
        label_weight_decay: coupled L2 on LabNet.
        label_epochs, label_batch_size: stage 1's length and batch.
        label_decay_epochs, label_decay_factor: stage 1's step decay (the
            rate is multiplied by the factor at the start of each listed
            0-based epoch).
        code_weight, feature_weight, quantization_weight, class_weight:
            lambda, alpha, beta and eta of the image loss.
        weight_decay: coupled L2 on ImgNet.
        margin: `"scalable"` (mu from LabNet) or `"fixed"` (mu = 1 for every
            similar pair, 0 otherwise; the ablation).
        asymmetric: use the dictionary (asymmetric) terms.
        binary_code_dictionary: store sign(LabNet code) instead of its tanh value.
        symmetric_scope: `"global"` pairs every image with the whole global
            batch (N replicas = one device); `"replica"` keeps pairs local.
        seed: initializer seed.
        preprocessing: the input contract.
    """

    SUPERVISED = True

    def __init__(
        self,
        code_bits,
        num_classes,
        dictionary_size,
        multi_label=True,
        feature_dim=512,
        hidden_dim=1024,
        backbone="stages",
        widths=(64, 128, 256),
        weights_file=None,
        theta=0.2,
        label_quantization_weight=0.1,
        label_class_weight=1.0,
        label_weight_decay=5e-4,
        label_epochs=15,
        label_batch_size=64,
        label_decay_epochs=(10,),
        label_decay_factor=0.1,
        code_weight=1.0,
        feature_weight=1.0,
        quantization_weight=0.01,
        class_weight=0.1,
        weight_decay=1e-6,
        margin="scalable",
        asymmetric=True,
        binary_code_dictionary=False,
        symmetric_scope="global",
        seed=0,
        preprocessing=None,
        **kwargs,
    ):
        super().__init__(code_bits, preprocessing=preprocessing, **kwargs)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.dictionary_size = check_positive_int(dictionary_size, "dictionary_size")
        self.multi_label = bool(multi_label)
        if margin not in MARGINS:
            raise ValueError(f"margin must be one of {list(MARGINS)}, got {margin!r}.")
        if symmetric_scope not in SYMMETRIC_SCOPES:
            raise ValueError(f"symmetric_scope must be one of {list(SYMMETRIC_SCOPES)}, got {symmetric_scope!r}.")
        self.feature_dim = check_positive_int(feature_dim, "feature_dim")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        self.label_epochs = check_positive_int(label_epochs, "label_epochs")
        self.label_batch_size = check_positive_int(label_batch_size, "label_batch_size")
        self.label_decay_epochs = tuple(int(epoch) for epoch in label_decay_epochs)
        floats = dict(theta=theta, label_quantization_weight=label_quantization_weight,
                      label_class_weight=label_class_weight, label_weight_decay=label_weight_decay,
                      label_decay_factor=label_decay_factor, code_weight=code_weight, feature_weight=feature_weight,
                      quantization_weight=quantization_weight, class_weight=class_weight, weight_decay=weight_decay)
        for name, value in floats.items():
            value = float(value)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {floats[name]!r}.")
            setattr(self, name, value)
        self.margin = margin
        self.asymmetric = bool(asymmetric)
        self.binary_code_dictionary = bool(binary_code_dictionary)
        self.symmetric_scope = symmetric_scope
        self.seed = int(seed)

        self.label_net = SADHLabelNet(self.num_classes, self.code_bits, self.feature_dim, self.hidden_dim,
                                      seed=self.seed + 1000, name="label_net")
        self.image_net = SADHImageNet(self.preprocessing.input_shape, self.num_classes, self.code_bits,
                                      self.feature_dim, backbone, widths, weights_file, seed=self.seed,
                                      name="image_net")
        zeros = keras.initializers.Zeros()
        self.dictionary_labels = self.add_weight(shape=(self.dictionary_size, self.num_classes), initializer=zeros,
                                                 trainable=False, name="dictionary_labels")
        self.feature_dictionary = self.add_weight(shape=(self.dictionary_size, self.feature_dim), initializer=zeros,
                                                  trainable=False, name="feature_dictionary")
        self.code_dictionary = self.add_weight(shape=(self.dictionary_size, self.code_bits), initializer=zeros,
                                               trainable=False, name="code_dictionary")
        self.dictionaries_flag = self.add_weight(shape=(), initializer=zeros, trainable=False,
                                                 name="dictionaries_built")
        names = ("loss", "code_symmetric", "code_asymmetric", "feature_symmetric", "feature_asymmetric",
                 "quantization_loss", "class_loss")
        self.image_trackers = {name: keras.metrics.Mean(name=name) for name in names}
        names = ("label_loss", "label_feature_hinge", "label_code_hinge", "label_class_loss", "label_quantization")
        self.label_trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.stage = IMAGE_STAGE
        self.build()

    # -- construction from data -----------------------------------------------------------

    @classmethod
    def data_arguments(cls, dataset, seed):
        """Label size and kind, and the number of distinct training label sets (M), from the training split."""
        return {
            "num_classes": dataset.num_classes, "multi_label": dataset.is_multi_label,
            "dictionary_size": len(dictionaries_lib.distinct_label_sets(dataset.labels, dataset.num_classes)),
            "seed": seed,
        }

    @classmethod
    def from_train_labels(cls, code_bits, labels, num_classes=None, **kwargs):
        """A SADH sized from the training labels, with its dictionary label sets written.

        Args:
            code_bits: K.
            labels: class ids `[N]` (give `num_classes`) or multi-hot `[N, c]`.
            num_classes: c for class ids (default: the label vector length).
            **kwargs: other constructor arguments.
        """
        labels = np.asarray(labels)
        multi_label = labels.ndim == 2 and not (labels.shape[1] == 1 and (num_classes or 0) > 1)
        if num_classes is None:
            if not multi_label:
                raise ValueError("class-id labels need num_classes.")
            num_classes = labels.shape[1]
        rows = dictionaries_lib.distinct_label_sets(labels, num_classes)
        model = cls(code_bits, num_classes=num_classes, dictionary_size=len(rows), multi_label=multi_label, **kwargs)
        model.set_dictionary_labels(labels)
        return model

    def set_dictionary_labels(self, labels):
        """Writes the distinct label sets of `labels` as the dictionaries' rows (clears built dictionaries)."""
        rows = dictionaries_lib.distinct_label_sets(labels, self.num_classes)
        if len(rows) != self.dictionary_size:
            raise ValueError(
                f"the training labels hold {len(rows)} distinct label sets but this model was built with "
                f"dictionary_size={self.dictionary_size}; build it with dictionary_size={len(rows)} "
                "(SADH.from_data and SADH.from_train_labels count it)."
            )
        self.dictionary_labels.assign(rows)
        self.dictionaries_flag.assign(0.0)
        return rows

    # -- image to code ----------------------------------------------------------------------

    def hash_values(self, x, training=False):
        return self.image_net(x, training=training)["codes"]

    def serving_outputs(self, images):
        outputs = self.image_net(self.preprocess(images), training=False)
        return {"z": outputs["codes"], "logits": outputs["logits"]}

    def label_vectors(self, labels):
        """Class ids `[B]` / `[B, 1]` to one-hot, multi-hot `[B, c]` to float32 (in the graph)."""
        if self.multi_label:
            return tf.cast(labels, tf.float32)
        return tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), self.num_classes)

    # -- compile, stages --------------------------------------------------------------------

    def compile(self, optimizer=None, label_optimizer=None, **kwargs):
        """RMSprop(1e-3, rho 0.99, eps 1e-8) for ImgNet and Adam(5e-3, eps 1e-8) for LabNet by default."""
        optimizer = optimizer or keras.optimizers.RMSprop(1e-3, rho=0.99, epsilon=1e-8)
        label_optimizer = label_optimizer or keras.optimizers.Adam(5e-3, epsilon=1e-8)
        super().compile(optimizer=optimizer, **kwargs)
        self.label_optimizer = label_optimizer
        self.label_base_rate = float(keras.ops.convert_to_numpy(label_optimizer.learning_rate))
        self.optimizer.build(self.image_net.trainable_variables)
        self.label_optimizer.build(self.label_net.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {"optimizer": keras.optimizers.serialize(self.optimizer),
                "label_optimizer": keras.optimizers.serialize(self.label_optimizer)}

    def compile_from_config(self, config):
        self.compile(optimizer=keras.optimizers.deserialize(config["optimizer"]),
                     label_optimizer=keras.optimizers.deserialize(config["label_optimizer"]))

    def training_stages(self):
        """Stage 1 (LabNet) and the dictionaries, run by the training runner before the main fit."""
        return [
            Stage("label_net", self._label_stage, "train the label network on the training label vectors"),
            Stage("dictionaries", self._dictionary_stage, "LabNet outputs for every distinct training label set"),
        ]

    # -- fine-tuning hooks (docs/zoo.md, "Fine-tuning") -----------------------------------------

    def hash_head_layers(self):
        """ImgNet's code head and LabNet's: both are K wide, so new bits replace both."""
        return [self.image_net.hash_head, self.label_net.code_head]

    def stage_variables(self):
        """The dictionaries and their flag: a fine-tune re-runs both stages and rebuilds them for the new label set."""
        return [self.dictionary_labels, self.feature_dictionary, self.code_dictionary, self.dictionaries_flag]

    def _label_stage(self, context):
        history = self.fit_label_net(context.train.labels, callbacks=context.callbacks, verbose=context.verbose,
                                     seed=context.seed)
        return {name: float(values[-1]) for name, values in history.history.items()}

    def _dictionary_stage(self, context):
        self.set_dictionary_labels(context.train.labels)
        self.build_dictionaries()
        return self.label_report(context.train.labels)

    def label_dataset(self, labels, batch_size=None, seed=0):
        """Shuffled batches of label vectors for stage 1 (the incomplete last batch dropped)."""
        vectors = dictionaries_lib.label_vectors(labels, self.num_classes)
        batch_size = min(int(batch_size or self.label_batch_size), len(vectors))
        dataset = tf.data.Dataset.from_tensor_slices(vectors)
        dataset = dataset.shuffle(len(vectors), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    def fit_label_net(self, labels, epochs=None, batch_size=None, callbacks=(), verbose=0, seed=0):
        """Stage 1: trains LabNet alone on `labels` (class ids or multi-hot); returns the Keras history.

        Uses `label_optimizer` with the step decay of `label_decay_epochs`;
        ImgNet and the dictionaries are not touched.
        """
        if not self.compiled:
            raise ValueError("compile the model before fit_label_net (model.compile()).")
        schedule = LabelLearningRate(self.label_optimizer, self.label_base_rate, self.label_decay_epochs,
                                     self.label_decay_factor)
        self._switch_stage(LABEL_STAGE)
        try:
            return self.fit(self.label_dataset(labels, batch_size, seed), epochs=int(epochs or self.label_epochs),
                            callbacks=[schedule, *callbacks], verbose=verbose, shuffle=False)
        finally:
            self._switch_stage(IMAGE_STAGE)

    def _switch_stage(self, stage):
        self.stage = stage
        self.train_function = None  # the next fit traces the step of the new stage

    @property
    def dictionaries_built(self):
        """True once `build_dictionaries()` has run (saved with the weights)."""
        return bool(keras.ops.convert_to_numpy(self.dictionaries_flag) > 0.5)

    def build_dictionaries(self):
        """Runs LabNet on the dictionary label sets and stores its features and codes (once, before stage 2)."""
        labels = keras.ops.convert_to_numpy(self.dictionary_labels)
        if not labels.any(axis=1).any() and self.dictionary_size > 1:
            raise ValueError("the dictionary label sets are not set: call set_dictionary_labels(train_labels) "
                             "first (SADH.from_train_labels and the training runner do it).")
        outputs = self.label_net(labels, training=False)
        codes = keras.ops.convert_to_numpy(outputs["codes"])
        if self.binary_code_dictionary:
            codes = np.where(codes >= 0, 1.0, -1.0).astype(np.float32)
        self.feature_dictionary.assign(keras.ops.convert_to_numpy(outputs["features"]))
        self.code_dictionary.assign(codes)
        self.dictionaries_flag.assign(1.0)

    def label_report(self, labels):
        """Stage-1 facts: LabNet's label-to-label mAP, rank correlation of mu with Jaccard, mean mu by overlap."""
        vectors = dictionaries_lib.label_vectors(labels, self.num_classes)
        codes = keras.ops.convert_to_numpy(self.label_net(vectors, training=False)["codes"])
        rows = keras.ops.convert_to_numpy(self.dictionary_labels)
        mu = keras.ops.convert_to_numpy(losses.scalable_margins(self.code_dictionary, self.code_dictionary))
        overlap = keras.ops.convert_to_numpy(losses.shares_label(rows, rows)) > 0
        off_diagonal = ~np.eye(len(rows), dtype=bool)
        def rounded(value):  # None, not NaN, where a fact is undefined (single-label data has no partial overlap)
            return None if not np.isfinite(value) else round(float(value), 4)

        mean = lambda mask: float(mu[mask].mean()) if mask.any() else float("nan")  # noqa: E731
        return {
            "dictionary_size": int(self.dictionary_size),
            "label_map": rounded(dictionaries_lib.label_code_map(codes, vectors)),
            "margin_jaccard_spearman": rounded(dictionaries_lib.margin_label_correlation(mu, rows)),
            "mean_margin_overlapping": rounded(mean(overlap & off_diagonal)),
            "mean_margin_disjoint": rounded(mean(~overlap)),
        }

    def fit(self, *args, **kwargs):
        if self.stage == IMAGE_STAGE and not self.dictionaries_built:
            raise ValueError(
                "SADH's image stage needs the semantic dictionaries: train the label network with "
                "fit_label_net(train_labels), then call build_dictionaries() before fit() (tools/train.py "
                "runs both stages for you)."
            )
        return super().fit(*args, **kwargs)

    # -- training steps ---------------------------------------------------------------------

    @property
    def metrics(self):
        trackers = self.label_trackers if self.stage == LABEL_STAGE else self.image_trackers
        return list(trackers.values())

    def train_step(self, data):
        if self.stage == LABEL_STAGE:
            return self.label_step(data)
        return self.image_step(data)

    def _gather(self, value):
        if self.symmetric_scope == "replica":
            return value
        return distribute.gather_replicas(value)

    def label_step(self, labels):
        """One LabNet step on a batch of label vectors (stage 1)."""
        if isinstance(labels, (tuple, list)):
            labels = labels[0]
        y = tf.cast(labels, tf.float32)
        y_all = distribute.gather_replicas(y)
        similar = losses.shares_label(y, y_all)
        variables = self.label_net.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.label_net(y, training=True)
            gathered = {name: distribute.gather_replicas(outputs[name]) for name in ("features", "codes")}
            feature_hinge = losses.margin_fixed_hinge(outputs["features"], gathered["features"], similar, self.theta)
            code_hinge = losses.margin_fixed_hinge(outputs["codes"], gathered["codes"], similar, self.theta)
            class_loss = losses.label_regression_loss(y, outputs["logits"], tf.shape(y_all)[0])
            quantization = losses.mean_quantization(outputs["codes"])
            loss = (feature_hinge + code_hinge + self.label_class_weight * class_loss
                    + self.label_quantization_weight * quantization)
            scaled = distribute.scale_loss(loss + losses.l2_penalty(variables, self.label_weight_decay))
        self.label_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        values = {"label_loss": loss, "label_feature_hinge": feature_hinge, "label_code_hinge": code_hinge,
                  "label_class_loss": class_loss, "label_quantization": quantization}
        for name, value in values.items():
            self.label_trackers[name].update_state(value)
        return distribute.report(self.metrics)

    def pair_margins(self, targets_a, targets_b, similar):
        """mu for pairs: LabNet cosines clipped to [0, 1] (`"scalable"`), or 1 for similar pairs (`"fixed"`)."""
        if self.margin == "fixed":
            return similar
        return losses.scalable_margins(targets_a, targets_b)

    def image_step(self, data):
        """One ImgNet step (stage 2): symmetric and asymmetric hinges, quantisation, classification."""
        images, labels = data[0], data[1]
        y = self.label_vectors(labels)
        x = self.preprocess(images)
        targets = self.label_net(y, training=False)
        targets = {name: tf.stop_gradient(targets[name]) for name in ("features", "codes")}
        y_all = self._gather(y)
        targets_all = {name: self._gather(value) for name, value in targets.items()}
        similar = losses.shares_label(y, y_all)
        dictionary_similar = losses.shares_label(y, self.dictionary_labels)
        dictionaries = {"features": self.feature_dictionary, "codes": self.code_dictionary}
        variables = self.image_net.trainable_variables
        with tf.GradientTape() as tape:
            outputs = self.image_net(x, training=True)
            terms = {}
            for kind, prefix in (("codes", "code"), ("features", "feature")):
                mine = outputs[kind]
                terms[f"{prefix}_symmetric"] = losses.margin_scalable_hinge(
                    mine, self._gather(mine), self.pair_margins(targets[kind], targets_all[kind], similar), similar
                )
                if self.asymmetric:
                    terms[f"{prefix}_asymmetric"] = losses.margin_scalable_hinge(
                        mine, dictionaries[kind],
                        self.pair_margins(targets[kind], dictionaries[kind], dictionary_similar), dictionary_similar,
                    )
                else:
                    terms[f"{prefix}_asymmetric"] = tf.constant(0.0)
            terms["quantization_loss"] = losses.mean_quantization(outputs["codes"])
            terms["class_loss"] = losses.multi_label_cross_entropy(y, outputs["logits"])
            loss = (self.code_weight * (terms["code_symmetric"] + terms["code_asymmetric"])
                    + self.feature_weight * (terms["feature_symmetric"] + terms["feature_asymmetric"])
                    + self.quantization_weight * terms["quantization_loss"]
                    + self.class_weight * terms["class_loss"])
            scaled = distribute.scale_loss(loss + losses.l2_penalty(variables, self.weight_decay))
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.image_trackers["loss"].update_state(loss)
        for name, value in terms.items():
            self.image_trackers[name].update_state(value)
        return distribute.report(self.metrics)

    # -- serialization ------------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes, dictionary_size=self.dictionary_size, multi_label=self.multi_label,
            feature_dim=self.feature_dim, hidden_dim=self.hidden_dim, backbone=self.image_net.backbone_name,
            widths=list(self.image_net.widths), weights_file=self.image_net.weights_file, theta=self.theta,
            label_quantization_weight=self.label_quantization_weight, label_class_weight=self.label_class_weight,
            label_weight_decay=self.label_weight_decay, label_epochs=self.label_epochs,
            label_batch_size=self.label_batch_size, label_decay_epochs=list(self.label_decay_epochs),
            label_decay_factor=self.label_decay_factor, code_weight=self.code_weight,
            feature_weight=self.feature_weight, quantization_weight=self.quantization_weight,
            class_weight=self.class_weight, weight_decay=self.weight_decay, margin=self.margin,
            asymmetric=self.asymmetric, binary_code_dictionary=self.binary_code_dictionary,
            symmetric_scope=self.symmetric_scope, seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return super().from_config(config_without_missing_weights_file(config))


__all__ = ["SADH"]
