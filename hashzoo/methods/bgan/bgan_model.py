"""BGAN: binary generative adversarial networks for unsupervised image hashing.

Song, He, Gao, Xu, Hanjalic, Shen, "Binary Generative Adversarial Networks
for Image Retrieval", AAAI 2018, arXiv 1708.04150; authors' TF1 code
github.com/ht014/BGAN. docs/bgan.md says which parts follow the paper, which
the released code and which are hashzoo's choices, with measured numbers.
"""

import keras
import tensorflow as tf

from hashzoo import distribute, losses
from hashzoo.methods.bgan import similarity
from hashzoo.methods.bgan.discriminator import Discriminator
from hashzoo.methods.bgan.encoder import Encoder
from hashzoo.methods.bgan.generator import Generator
from hashzoo.methods.bgan.smooth_sign_gan import DEFAULT_BATCH_NORM_RECALIBRATION, DEFAULT_SLOPES, SmoothSignGAN
from hashzoo.models import Prepared
from hashzoo.similarity import GRAPH_FEATURES_SEED
from hashzoo.utils.validation import check_choice, check_positive_int

FAKE_SOURCES = ("code", "gaussian")
UPDATES = ("simultaneous", "alternating")

TRACKERS = (
    "loss", "neighbourhood_loss", "quantization_loss", "content_loss", "generator_loss", "discriminator_loss",
    "slope",
)


@keras.saving.register_keras_serializable(package="hashzoo")
class BGAN(SmoothSignGAN):
    """Unsupervised hashing: an encoder, a generator and a discriminator (docs/bgan.md).

    The encoder maps an image to h = tanh(k a), a smooth sign whose slope k
    grows over training (`training_callbacks`); the generator rebuilds the
    image from h and the discriminator judges realism. Each step
    (docs/bgan.md, "Losses and the training step") computes, in one forward
    pass:

    - neighbourhood + quantization, L_N = mean_ij (h_i.h_j / L - S_ij)^2 +
      mean ||h - sgn h||^2 / L, fitting code inner products to an offline
      ±1 K-NN similarity matrix S (`prepare` builds it once per run);
    - content, L_C = mean (phi(x) - phi(G(h)))^2 in D's feature space
      (+ `pixel_weight` x pixel MSE);
    - adversarial, non-saturating, with logits.

    The encoder minimises `content_weight` L_C + `neighbourhood_weight` L_N,
    the generator `content_weight` L_C + `adversarial_weight` L_G, the
    discriminator L_D, each with its own optimizer (`compile`). Codes are
    `sign(a)` (+1 at 0) at any slope.

    Training data are `(images, S_B)` batches: pixels in [0, 255] and the
    batch's block of S (`hashzoo.data.make_similarity_dataset`). Under a
    `MirroredStrategy` each replica gets its rows of S_B and pairs its codes
    with the gathered codes of the global batch, so a 2-replica step equals
    the one-device step.

    Args:
        code_bits: int L.
        backbone: `"conv"` (from scratch, default), `"vgg19"` (the paper's
            VGG-19 fc7) or `"vgg16"`: keras.applications up to fc7, weights
            from `backbone_weights`, needs
            `preprocessing=BGAN.VGG_PREPROCESSING` and an explicit `gan_size`.
        backbone_weights: path of the local VGG weights file (never downloaded).
        architecture: `"standard"` or `"smoke"` network sizes.
        width: float, multiplies the filter and unit counts of all networks.
        dropout: float, dropout rate on the encoder features (0.5 [code]).
        gan_size: side of G's output and D's input (8, 16, 32 or 64); None
            means the preprocessing's image side.
        slopes: smooth-sign slopes k of the stages (docs/bgan.md, "Smooth
            sign and slope schedule").
        slope_schedule: `"staged"` (k steps up every max(1, E // 6) epochs)
            or `"constant"` (k = `slopes[0]` throughout, the final release).
        neighbourhood_weight, content_weight, adversarial_weight: lambda_N,
            lambda_C, lambda_A (10, 1, 1 [code]).
        pixel_weight: lambda_pix, weight of a pixel MSE added to the content
            loss (0 [code]).
        normalize_inner_product: divide h_i.h_j by L in L_N (hashzoo
            default); False is the released code's raw inner product.
        neighbourhood_balance: `"none"` (L_N is the mean over every pair
            [code]) or `"balanced"` (the +1 and the -1 pairs each give half
            of L_N; docs/bgan.md, "Losses and the training step").
        fake_source: `"code"` (D's fake is G(h), the paper) or `"gaussian"`
            (G(xi), xi ~ N(0, I), the released code).
        variational_jitter: reconstruct from h + exp(r / 2) eps with a
            learned log-variance head r (released code; off by default).
        update: `"simultaneous"` (one forward pass, three updates [code]) or
            `"alternating"` (D first, then E and G against the updated D).
        k1, k2: K1 and K2 of the neighbourhood rule (20, 30 [code]).
        feature_extractor: frozen features for the K-NN search: `"pixels"`,
            `"random_conv"`, `"kmeans"`, `"kmeans+hog"`, `"keras_app:<name>"`
            or `"array:<path.npy>"` (`hashzoo.similarity.extract_features`,
            docs/similarity.md).
        feature_weights: weights file of a `keras_app` feature extractor.
        seed: int, seeds initializers and the noise stream.
        preprocessing: the input contract of the encoder (default 32x32 RGB
            in [-1, 1]).
        batch_norm_recalibration: batch-norm recalibration of the encoder at
            each epoch end, in training batches (0: off; `SmoothSignGAN`).
        augment: None (default), `"flip_crop"`, `"crop"`, `"flip"` or a dict
            of `FlipCrop` arguments: the encoder's training images are
            flipped and shifted (`SmoothSignGAN`; docs/bgan.md, "Augmentation").

    Example:

    >>> import numpy as np
    >>> model = BGAN(code_bits=8, architecture="smoke", k1=3, k2=4,
    ...              preprocessing={"image_size": (8, 8), "channels": 1})
    >>> model.compile()
    >>> images = np.random.default_rng(0).integers(0, 256, (32, 8, 8, 1)).astype("uint8")
    >>> train = model.make_train_dataset(images, batch_size=16, seed=0)
    >>> callbacks = model.training_callbacks(1) + model.recalibration_callbacks(images, batch_size=16)
    >>> history = model.fit(train, epochs=1, verbose=0, shuffle=False, callbacks=callbacks)
    >>> model.encode(images).shape
    (32, 8)
    """

    SUPERVISED = False  # never sees labels; `data_arguments` passes only the seed
    TRACKERS = TRACKERS

    @staticmethod
    def default_optimizer():
        """Adam(1e-3, beta_1 0.9, beta_2 0.999, epsilon 1.0) for each of the three networks [code]."""
        return keras.optimizers.Adam(1e-3, beta_1=0.9, beta_2=0.999, epsilon=1.0)

    def __init__(
        self,
        code_bits,
        backbone="conv",
        backbone_weights=None,
        architecture="standard",
        width=1.0,
        dropout=0.5,
        gan_size=None,
        slopes=DEFAULT_SLOPES,
        slope_schedule="staged",
        neighbourhood_weight=10.0,
        content_weight=1.0,
        adversarial_weight=1.0,
        pixel_weight=0.0,
        normalize_inner_product=True,
        neighbourhood_balance="none",
        fake_source="code",
        variational_jitter=False,
        update="simultaneous",
        k1=20,
        k2=30,
        feature_extractor="pixels",
        feature_weights=None,
        seed=0,
        preprocessing=None,
        batch_norm_recalibration=DEFAULT_BATCH_NORM_RECALIBRATION,
        augment=None,
        **kwargs,
    ):
        super().__init__(
            code_bits, backbone=backbone, backbone_weights=backbone_weights, architecture=architecture, width=width,
            dropout=dropout, gan_size=gan_size, slopes=slopes, slope_schedule=slope_schedule,
            normalize_inner_product=normalize_inner_product, feature_extractor=feature_extractor,
            feature_weights=feature_weights, seed=seed, preprocessing=preprocessing,
            batch_norm_recalibration=batch_norm_recalibration, augment=augment, **kwargs,
        )
        self.neighbourhood_weight = float(neighbourhood_weight)
        self.content_weight = float(content_weight)
        self.adversarial_weight = float(adversarial_weight)
        self.pixel_weight = float(pixel_weight)
        self.neighbourhood_balance = check_choice(neighbourhood_balance, "neighbourhood_balance", losses.BALANCES)
        self.fake_source = check_choice(fake_source, "fake_source", FAKE_SOURCES)
        self.variational_jitter = bool(variational_jitter)
        self.update = check_choice(update, "update", UPDATES)
        self.k1 = check_positive_int(k1, "k1")
        self.k2 = check_positive_int(k2, "k2")

        # === Networks ===
        resolved_gan_size = self.resolved_gan_size()
        channels = self.preprocessing.channels
        self.encoder = Encoder(
            self.preprocessing.input_shape, self.code_bits, backbone=self.backbone,
            backbone_weights=self.backbone_weights, architecture=self.architecture, width=self.width,
            dropout=self.dropout, slope=self.slopes[0], variance_head=self.variational_jitter, seed=self.seed,
            name="encoder",
        )
        self.generator = Generator(
            self.code_bits, resolved_gan_size, channels, architecture=self.architecture, width=self.width,
            seed=self.seed + 100, name="generator",
        )
        self.discriminator = Discriminator(
            resolved_gan_size, channels, architecture=self.architecture, width=self.width, seed=self.seed + 200,
            name="discriminator",
        )
        self.finish_init()

    # -- training hooks -----------------------------------------------------------

    def build_similarity(self, images, labels=None):
        """The ±1 K-NN similarity matrix of the training images (docs/bgan.md), as a `Prepared`.

        Features from `feature_extractor` (never this model), cosine K1-NN in
        row blocks, then the K1/K2 shared-neighbour rule; stored sparse.
        `labels`, when given, only feed the logged label agreement (the
        share of positives that share a label, a diagnostic); training never
        sees them. Returns `Prepared(value=SparseSimilarity, facts=...)`;
        nothing is kept on the model.
        """
        features = similarity.extract_features(images, self.feature_extractor, self.feature_weights,
                                                  seed=GRAPH_FEATURES_SEED)
        matrix = similarity.bgan_similarity(features, k1=self.k1, k2=self.k2)
        facts = matrix.summary(labels)
        facts.update(feature_extractor=self.feature_extractor, feature_dim=int(features.shape[1]),
                     k1=self.k1, k2=self.k2)
        return Prepared(value=matrix, facts=facts)

    # -- training ----------------------------------------------------------------------

    def forward(self, x, real, similarity_rows, dropout_seed, noise_seed):
        """One training forward pass: every loss of the step, unscaled.

        See docs/bgan.md, "Losses and the training step".
        """
        features = self.encoder.features(x, training=True, dropout_seed=dropout_seed)
        codes = self.encoder.hash_head(features)
        generator_input = codes
        if self.variational_jitter:
            jitter_seed, noise_seed = distribute.split_seed(noise_seed, 2)
            epsilon = distribute.replica_normal(tf.shape(codes), jitter_seed)
            generator_input = codes + tf.exp(0.5 * self.encoder.log_variance(features)) * epsilon
        reconstruction = self.generator(generator_input, training=True)
        logit_real, phi_real = self.discriminator(real, training=True)
        logit_reconstruction, phi_reconstruction = self.discriminator(reconstruction, training=True)
        if self.fake_source == "gaussian":
            xi = distribute.replica_normal(tf.shape(codes), noise_seed)
            logit_fake, _ = self.discriminator(self.generator(xi, training=True), training=True)
        else:
            logit_fake = logit_reconstruction

        all_codes = distribute.gather_replicas(codes)
        check_similarity_block(similarity_rows, codes, all_codes)
        neighbourhood = losses.neighbourhood_loss(
            codes, all_codes, similarity_rows, balance=self.neighbourhood_balance,
            normalize=self.normalize_inner_product, counts=pair_counts(similarity_rows, self.neighbourhood_balance),
        )
        # (1 / (mL)) sum ||h - sgn h||^2 with sgn held constant, as (|h| - 1)^2 summed over bits / L.
        quantization = losses.quantization_loss(codes) / self.code_bits
        content = tf.reduce_mean(tf.square(phi_real - phi_reconstruction))
        if self.pixel_weight:
            content += self.pixel_weight * tf.reduce_mean(tf.square(real - reconstruction))
        generator = bce(logit_fake, 1.0)
        discriminator = bce(logit_real, 1.0) + bce(logit_fake, 0.0)
        encoder_loss = self.content_weight * content + self.neighbourhood_weight * (neighbourhood + quantization)
        return {
            "loss": encoder_loss,
            "neighbourhood_loss": neighbourhood,
            "quantization_loss": quantization,
            "content_loss": content,
            "generator_loss": generator,
            "discriminator_loss": discriminator,
            "generator_objective": self.content_weight * content + self.adversarial_weight * generator,
        }

    def train_step(self, data):
        images, similarity_rows = data[0], data[1]
        x = self.augment_encoder_input(self.preprocess(images))
        real = self.gan_preprocessor(images)
        dropout_seed, noise_seed = distribute.split_seed(distribute.step_seed(self.seed_generator), 2)
        encoder_variables = self.encoder.trainable_variables
        generator_variables = self.generator.trainable_variables
        discriminator_variables = self.discriminator.trainable_variables

        if self.update == "alternating":
            with tf.GradientTape() as tape:
                values = self.forward(x, real, similarity_rows, dropout_seed, noise_seed)
                scaled = distribute.scale_loss(values["discriminator_loss"])
            self.discriminator_optimizer.apply_gradients(
                zip(tape.gradient(scaled, discriminator_variables), discriminator_variables)
            )
            discriminator_loss = values["discriminator_loss"]

        with tf.GradientTape(persistent=True) as tape:
            values = self.forward(x, real, similarity_rows, dropout_seed, noise_seed)
            encoder_scaled = distribute.scale_loss(values["loss"])
            generator_scaled = distribute.scale_loss(values["generator_objective"])
            discriminator_scaled = distribute.scale_loss(values["discriminator_loss"])
        encoder_gradients = tape.gradient(encoder_scaled, encoder_variables)
        generator_gradients = tape.gradient(generator_scaled, generator_variables)
        if self.update == "simultaneous":
            discriminator_gradients = tape.gradient(discriminator_scaled, discriminator_variables)
            discriminator_loss = values["discriminator_loss"]
        del tape
        self.optimizer.apply_gradients(zip(encoder_gradients, encoder_variables))
        self.generator_optimizer.apply_gradients(zip(generator_gradients, generator_variables))
        if self.update == "simultaneous":
            self.discriminator_optimizer.apply_gradients(zip(discriminator_gradients, discriminator_variables))

        values["discriminator_loss"] = discriminator_loss
        values["slope"] = tf.cast(self.encoder.smooth_sign.slope, tf.float32)
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return distribute.report(self.trackers.values())

    # -- serialization ------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            neighbourhood_weight=self.neighbourhood_weight,
            content_weight=self.content_weight,
            adversarial_weight=self.adversarial_weight,
            pixel_weight=self.pixel_weight,
            neighbourhood_balance=self.neighbourhood_balance,
            fake_source=self.fake_source,
            variational_jitter=self.variational_jitter,
            update=self.update,
            k1=self.k1,
            k2=self.k2,
        )
        return config


def check_similarity_block(similarity_rows, codes, all_codes):
    """Raises a clear error when the second batch element is not this batch's S_B rows."""
    expected = (tuple(codes.shape)[0], tuple(all_codes.shape)[0])
    shape = tuple(similarity_rows.shape)

    def differ(a, b):
        return a is not None and b is not None and a != b

    if len(shape) != 2 or differ(expected[0], shape[0]) or differ(expected[1], shape[1]):
        raise ValueError(
            "BGAN trains on (images, S_B) batches, S_B being the batch's block of the similarity matrix "
            f"(rows: this replica's items, columns: the whole batch), expected shape {list(expected)}, got "
            f"{list(shape)}. Build the pipeline with `model.make_train_dataset(images, batch_size=...)`."
        )


def pair_counts(similarity_rows, balance):
    """The global batch's (+1, -1) pair counts over the replica count, for a balanced L_N; else None.

    Each replica sees only its rows of S_B, so the counts are gathered: the
    replicas' balanced losses, divided by the replica count, then add up to
    the one-device loss (`hashzoo.losses.neighbourhood_loss`).
    """
    if balance == "none":
        return None
    local = tf.stack([tf.reduce_sum(tf.cast(similarity_rows > 0, tf.float32)),
                      tf.reduce_sum(tf.cast(similarity_rows < 0, tf.float32))])[None]
    total = tf.reduce_sum(distribute.gather_replicas(local), axis=0) / distribute.num_replicas()
    return total[0], total[1]


def bce(logits, target):
    """Mean sigmoid cross-entropy of `logits` against a constant target (0 or 1)."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), target),
                                                                  logits=logits))
