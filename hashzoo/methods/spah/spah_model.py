"""SPAH: unsupervised semantic-preserving adversarial hashing.

Deng, Yang, Liu, Li, Liu, Tao, "Unsupervised Semantic-Preserving Adversarial
Hashing for Image Search", IEEE TIP 28(8):4032-4044, 2019. The paper's body
could not be read: hashzoo's SPAH is a reconstruction from the abstract, the
same group's released SSDH code and hashzoo's own choices. docs/spah.md says
which part comes from where.
"""

import keras
import tensorflow as tf

from hashzoo import distribute
from hashzoo.layers import HardSign
from hashzoo.losses.hashing import quantization_loss
from hashzoo.losses.similarity import BALANCES, NORMALIZATIONS, masked_pairwise_similarity_loss, neighbourhood_loss
from hashzoo.methods.bgan.bgan_model import bce, pair_counts
from hashzoo.methods.bgan.encoder import Encoder
from hashzoo.methods.bgan.generator import Generator
from hashzoo.methods.bgan.smooth_sign_gan import DEFAULT_BATCH_NORM_RECALIBRATION, DEFAULT_SLOPES, SmoothSignGAN
from hashzoo.methods.spah import similarity
from hashzoo.methods.spah.discriminator import JointDiscriminator
from hashzoo.methods.spah.prior import prior_codes
from hashzoo.models import Prepared
from hashzoo.similarity import GRAPH_FEATURES_SEED
from hashzoo.utils.validation import check_choice, check_non_negative_float, check_positive_int


TRACKERS = (
    "loss", "discriminator_loss", "adversarial_loss", "similarity_loss", "quantization_loss", "reconstruction_loss",
    "code_reconstruction_loss", "slope",
)


@keras.saving.register_keras_serializable(package="hashzoo")
class SPAH(SmoothSignGAN):
    """Unsupervised hashing: an encoder, a generator and a joint (image, code) discriminator (docs/spah.md).

    The encoder E maps an image to u = tanh(k a) (BGAN's smooth-sign
    encoder); the generator G maps a code to an image (BGAN's generator);
    the discriminator D judges (image, code) pairs: real pairs
    (x, straight-through sign of u) against fake pairs (G(c), c) with c
    drawn from fair random bits. A three-valued semantic similarity S in
    {-1, 0, +1}, built once from frozen features (`prepare`), supervises the
    codes; 0 pairs are unknown and add nothing.

    Each step (docs/spah.md, "Losses and the training step") first updates
    D on L_D with E's and G's outputs held constant, then updates E and G
    against the updated D on

        lambda_A L_adv + lambda_S L_S + lambda_Q L_Q + lambda_R L_R + lambda_Rc L_Rc

    (adversarial, masked similarity, quantisation, image cycle in D's
    feature space, code cycle E(G(c)) ~ c), each network with its own
    optimizer. Codes are `sign(a)` (+1 at 0) at any slope.

    Training data are `(images, S_B)` batches (`make_train_dataset`). Under
    a `MirroredStrategy` each replica gets its rows of S_B, pairs its codes
    with the gathered codes of the global batch and normalises by the
    global count of known pairs, so a 2-replica step equals the one-device
    step (docs/spah.md, "Distribution").

    Args:
        code_bits: int L.
        backbone: `"conv"` (from scratch, default), `"vgg16"` (SSDH's
            VGG-16 fc7) or `"vgg19"` (BGAN's): keras.applications up to fc7,
            weights from `backbone_weights`, needs
            `preprocessing=SPAH.VGG_PREPROCESSING` and an explicit `gan_size`.
        backbone_weights: path of the local VGG weights file (never downloaded).
        architecture: `"standard"` or `"smoke"` network sizes.
        width: float, multiplies the filter and unit counts of all networks.
        dropout: float, dropout rate on the encoder features.
        gan_size: side of G's output and D's input (8, 16, 32 or 64); None
            means the preprocessing's image side.
        noise_dim: Gaussian dimensions appended to G's code input (0: G sees
            the code only).
        slopes: smooth-sign slopes k of the stages.
        slope_schedule: `"staged"` (BGAN's schedule) or `"constant"`
            (k = `slopes[0]`; SSDH's plain tanh with slopes=(1,)).
        adversarial_weight, similarity_weight, quantization_weight,
        reconstruction_weight, code_reconstruction_weight: lambda_A,
            lambda_S, lambda_Q, lambda_R, lambda_Rc (1, 10, 1, 1, 1).
        similarity_norm: `"known"` (divide L_S by the number of known
            pairs) or `"all"` (by every pair, SSDH's form).
        similarity_balance: `"none"` (every known pair weighs the same, the
            default) or `"balanced"` (the +1 and the -1 pairs each give half
            of L_S, each kind averaged over its own pairs; BGAN's
            `neighbourhood_balance`; `similarity_norm` is then unused).
        normalize_inner_product: divide u_i.u_j by L in L_S.
        feature_extractor: frozen features for S (`"pixels"`,
            `"random_conv"`, `"kmeans"`, `"kmeans+hog"`, `"keras_app:<name>"`,
            `"array:<path.npy>"`; docs/similarity.md).
        feature_weights: weights file of a `keras_app` extractor.
        k, tau: neighbours per item and overlap threshold of the neighbour rule.
        neighbour_rule: `"overlap"` or `"shared"` (BGAN's K1/K2 positives, K1 = k).
        neighbour_absent: how pairs the neighbour rule does not mark +1
            read: `"unknown"` (0) or `"dissimilar"` (-1, as BGAN's matrix).
        k2: K2 of the `"shared"` rule.
        combine: `"union"`, `"intersection"`, `"feature"` or `"neighbour"`.
        bin_width: bin width of the distance histogram.
        positive_sigmas, negative_sigmas: the feature rule marks +1 below
            m - positive_sigmas sigma_l and -1 above m + negative_sigmas sigma_r
            (2 and 2: SSDH's rule).
        seed: int, seeds initializers and the noise stream.
        preprocessing: the encoder's input contract (default 32x32 RGB in [-1, 1]).
        batch_norm_recalibration: batch-norm recalibration of the encoder at
            each epoch end, in training batches (0: off; `SmoothSignGAN`).
        augment: None (default), `"flip_crop"`, `"crop"`, `"flip"` or a dict
            of `FlipCrop` arguments: the encoder's training images are
            flipped and shifted (`SmoothSignGAN`; docs/bgan.md, "Augmentation").

    Example:

    >>> import numpy as np
    >>> model = SPAH(code_bits=8, architecture="smoke", k=3, preprocessing={"image_size": (8, 8), "channels": 1})
    >>> model.compile()
    >>> images = np.random.default_rng(0).integers(0, 256, (32, 8, 8, 1)).astype("uint8")
    >>> train = model.make_train_dataset(images, batch_size=16, seed=0)  # builds S (no `prepared`)
    >>> batch, block = next(iter(train))
    >>> batch.shape, block.shape, sorted(set(np.unique(block.numpy())) - {-1.0, 0.0, 1.0})
    (TensorShape([16, 8, 8, 1]), TensorShape([16, 16]), [])
    >>> model.encode(images).shape  # then fit with model.training_callbacks(E) + model.recalibration_callbacks(images, 16)
    (32, 8)
    """

    SUPERVISED = False  # never sees labels; `data_arguments` passes only the seed
    TRACKERS = TRACKERS

    @staticmethod
    def default_optimizer():
        """Adam(2e-4, beta_1 0.5, beta_2 0.999) for each of the three networks."""
        return keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.999)

    def __init__(
        self,
        code_bits,
        backbone="conv",
        backbone_weights=None,
        architecture="standard",
        width=1.0,
        dropout=0.0,
        gan_size=None,
        noise_dim=0,
        slopes=DEFAULT_SLOPES,
        slope_schedule="staged",
        adversarial_weight=1.0,
        similarity_weight=10.0,
        quantization_weight=1.0,
        reconstruction_weight=1.0,
        code_reconstruction_weight=1.0,
        similarity_norm="known",
        similarity_balance="none",
        normalize_inner_product=True,
        feature_extractor="pixels",
        feature_weights=None,
        k=20,
        tau=0.5,
        neighbour_rule="overlap",
        neighbour_absent="unknown",
        k2=30,
        combine="union",
        bin_width=0.01,
        positive_sigmas=2.0,
        negative_sigmas=2.0,
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
        self.noise_dim = int(noise_dim)
        if self.noise_dim < 0:
            raise ValueError(f"`noise_dim` must be >= 0, got {noise_dim}.")
        self.adversarial_weight = float(adversarial_weight)
        self.similarity_weight = float(similarity_weight)
        self.quantization_weight = float(quantization_weight)
        self.reconstruction_weight = float(reconstruction_weight)
        self.code_reconstruction_weight = float(code_reconstruction_weight)
        self.similarity_norm = check_choice(similarity_norm, "similarity_norm", NORMALIZATIONS)
        self.similarity_balance = check_choice(similarity_balance, "similarity_balance", BALANCES)
        self.k = check_positive_int(k, "k")
        self.tau = check_non_negative_float(tau, "tau")
        self.neighbour_rule = check_choice(neighbour_rule, "neighbour_rule", similarity.NEIGHBOUR_RULES)
        self.neighbour_absent = check_choice(neighbour_absent, "neighbour_absent", similarity.NEIGHBOUR_ABSENT)
        self.k2 = check_positive_int(k2, "k2")
        self.combine = check_choice(combine, "combine", similarity.COMBINATIONS)
        self.bin_width = float(bin_width)
        if not 0 < self.bin_width <= 1:
            raise ValueError(f"`bin_width` must lie in (0, 1], got {bin_width}.")
        self.positive_sigmas = float(positive_sigmas)
        self.negative_sigmas = float(negative_sigmas)
        if not (self.positive_sigmas >= 0 and self.negative_sigmas >= 0):
            raise ValueError(f"positive_sigmas and negative_sigmas must be >= 0, got {positive_sigmas} and "
                             f"{negative_sigmas}.")

        # === Networks: BGAN's encoder and generator, SPAH's joint discriminator ===
        resolved_gan_size = self.resolved_gan_size()
        channels = self.preprocessing.channels
        self.encoder = Encoder(
            self.preprocessing.input_shape, self.code_bits, backbone=self.backbone,
            backbone_weights=self.backbone_weights, architecture=self.architecture, width=self.width,
            dropout=self.dropout, slope=self.slopes[0], seed=self.seed, name="encoder",
        )
        self.generator = Generator(
            self.code_bits + self.noise_dim, resolved_gan_size, channels, architecture=self.architecture,
            width=self.width, seed=self.seed + 100, name="generator",
        )
        self.discriminator = JointDiscriminator(
            resolved_gan_size, channels, self.code_bits, architecture=self.architecture, width=self.width,
            seed=self.seed + 200, name="discriminator",
        )
        self.straight_through = HardSign(name="straight_through")
        self.straight_through.build((None, self.code_bits))  # no weights; built so `fit` needs no sample batch
        self.finish_init()

    # -- training hooks -----------------------------------------------------------

    def build_similarity(self, images, labels=None):
        """The semantic similarity S of the training images, as a `Prepared` (docs/spah.md).

        Features from `feature_extractor` (never this model), the feature and
        neighbour rules and their combination, never as a dense N x N matrix.
        `labels`, when given, only feed the logged label agreement of each
        sign (a diagnostic); training never sees them.
        """
        features = similarity.extract_features(images, self.feature_extractor, self.feature_weights,
                                                  seed=GRAPH_FEATURES_SEED)
        matrix = similarity.spah_similarity(features, k=self.k, tau=self.tau, neighbour_rule=self.neighbour_rule,
                                            k2=self.k2, combine=self.combine, bin_width=self.bin_width,
                                            positive_sigmas=self.positive_sigmas,
                                            negative_sigmas=self.negative_sigmas,
                                            neighbour_absent=self.neighbour_absent)
        facts = matrix.summary(labels)
        similarity.warn_if_few_positives(facts)
        facts.update(feature_extractor=self.feature_extractor, feature_dim=int(features.shape[1]), k=self.k,
                     neighbour_rule=self.neighbour_rule, neighbour_absent=self.neighbour_absent)
        facts.update({"k2": self.k2} if self.neighbour_rule == "shared" else {"tau": self.tau})
        return Prepared(value=matrix, facts=facts)

    # -- training ----------------------------------------------------------------------

    def generator_input(self, codes, noise_seed):
        """G's input: the codes, with `noise_dim` Gaussian dimensions appended (per-replica rows)."""
        if not self.noise_dim:
            return codes
        noise = distribute.replica_normal(tf.stack([tf.shape(codes)[0], self.noise_dim]), noise_seed)
        return tf.concat([codes, noise], axis=-1)

    def generate(self, x, prior, seeds):
        """E's and G's outputs of a step: they do not depend on D.

        Returns a dict: `codes` u = psi_k(a), `hard` the straight-through
        sign of u, `fake` G(c), `reconstruction` G(hard) and `cycle`
        psi_k(a(G(c))). E sees generated images in inference mode, so its
        batch-norm statistics stay those of real images.
        """
        dropout_seed, fake_seed, reconstruction_seed = seeds
        codes = self.encoder(x, training=True, dropout_seed=dropout_seed)
        hard = self.straight_through(codes)
        fake = self.generator(self.generator_input(prior, fake_seed), training=True)
        reconstruction = self.generator(self.generator_input(hard, reconstruction_seed), training=True)
        cycle = self.encoder(self.preprocess(255.0 * fake), training=False)
        return {"codes": codes, "hard": hard, "fake": fake, "reconstruction": reconstruction, "cycle": cycle}

    def discriminator_step(self, real, hard, fake, prior):
        """One update of D on L_D = BCE(D(x, b), 1) + BCE(D(G(c), c), 0); E's and G's outputs held constant.

        Returns the unscaled L_D.
        """
        hard, fake = tf.stop_gradient(hard), tf.stop_gradient(fake)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            logit_real, _ = self.discriminator((real, hard), training=True)
            logit_fake, _ = self.discriminator((fake, prior), training=True)
            loss = bce(logit_real, 1.0) + bce(logit_fake, 0.0)
            scaled = distribute.scale_loss(loss)
        self.discriminator_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return loss

    def encoder_generator_losses(self, real, outputs, prior, similarity_rows):
        """Every E+G loss against the current D, unscaled (docs/spah.md, "Losses and the training step")."""
        codes = outputs["codes"]
        logit_real, phi_real = self.discriminator((real, outputs["hard"]), training=True)
        logit_fake, _ = self.discriminator((outputs["fake"], prior), training=True)
        phi_reconstruction = self.discriminator.image_features(outputs["reconstruction"], training=True)

        values = {
            "adversarial_loss": bce(logit_real, 0.0) + bce(logit_fake, 1.0),
            "similarity_loss": self.similarity_loss(codes, similarity_rows),
            # (1 / (mL)) sum ||u - sgn u||^2 with sgn held constant.
            "quantization_loss": quantization_loss(codes) / self.code_bits,
            "reconstruction_loss": tf.reduce_mean(tf.square(phi_real - phi_reconstruction)),
            "code_reconstruction_loss": tf.reduce_mean(tf.square(outputs["cycle"] - prior)),
        }
        values["loss"] = (
            self.adversarial_weight * values["adversarial_loss"]
            + self.similarity_weight * values["similarity_loss"]
            + self.quantization_weight * values["quantization_loss"]
            + self.reconstruction_weight * values["reconstruction_loss"]
            + self.code_reconstruction_weight * values["code_reconstruction_loss"]
        )
        return values

    def similarity_loss(self, codes, similarity_rows):
        """The masked L_S of this replica's rows against the gathered codes of the global batch.

        Its normaliser (known pairs, or each kind's pairs when balanced) is the
        global batch's over the replica count, so replicas add up to one device.
        """
        all_codes = distribute.gather_replicas(codes)
        if self.similarity_balance == "balanced":
            return neighbourhood_loss(codes, all_codes, similarity_rows, balance="balanced",
                                      normalize=self.normalize_inner_product,
                                      counts=pair_counts(similarity_rows, "balanced"))
        denominator = None
        if self.similarity_norm == "known":
            known = tf.reshape(tf.reduce_sum(tf.abs(similarity_rows)), [1])
            denominator = tf.reduce_sum(distribute.gather_replicas(known)) / distribute.num_replicas()
        return masked_pairwise_similarity_loss(
            codes, all_codes, similarity_rows, normalize=self.normalize_inner_product,
            normalization=self.similarity_norm, denominator=denominator,
        )

    def step_seeds(self):
        """`(dropout, fake noise, reconstruction noise, prior)` seeds of one step, the same on every replica."""
        return distribute.split_seed(distribute.step_seed(self.seed_generator), 4)

    def train_step(self, data):
        images, similarity_rows = data[0], data[1]
        check_similarity_block(similarity_rows, images)
        x = self.augment_encoder_input(self.preprocess(images))
        real = self.gan_preprocessor(images)
        dropout_seed, fake_seed, reconstruction_seed, prior_seed = self.step_seeds()
        prior = prior_codes(tf.stack([tf.shape(x)[0], self.code_bits]), prior_seed)
        encoder_variables = self.encoder.trainable_variables
        generator_variables = self.generator.trainable_variables

        with tf.GradientTape() as tape:
            outputs = self.generate(x, prior, (dropout_seed, fake_seed, reconstruction_seed))
            # 1. D first, on E's and G's outputs (which do not depend on D).
            with tape.stop_recording():
                discriminator_loss = self.discriminator_step(real, outputs["hard"], outputs["fake"], prior)
            # 2. E and G against the updated D.
            values = self.encoder_generator_losses(real, outputs, prior, similarity_rows)
            scaled = distribute.scale_loss(values["loss"])
        gradients = tape.gradient(scaled, encoder_variables + generator_variables)
        gradients = [tf.zeros_like(v) if g is None else g
                     for g, v in zip(gradients, encoder_variables + generator_variables)]
        self.optimizer.apply_gradients(zip(gradients[: len(encoder_variables)], encoder_variables))
        self.generator_optimizer.apply_gradients(zip(gradients[len(encoder_variables) :], generator_variables))

        values["discriminator_loss"] = discriminator_loss
        values["slope"] = tf.cast(self.encoder.smooth_sign.slope, tf.float32)
        for name, tracker in self.trackers.items():
            tracker.update_state(values[name])
        return distribute.report(self.trackers.values())

    # -- serialization ------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            noise_dim=self.noise_dim,
            adversarial_weight=self.adversarial_weight,
            similarity_weight=self.similarity_weight,
            quantization_weight=self.quantization_weight,
            reconstruction_weight=self.reconstruction_weight,
            code_reconstruction_weight=self.code_reconstruction_weight,
            similarity_norm=self.similarity_norm,
            similarity_balance=self.similarity_balance,
            k=self.k,
            tau=self.tau,
            neighbour_rule=self.neighbour_rule,
            neighbour_absent=self.neighbour_absent,
            k2=self.k2,
            combine=self.combine,
            bin_width=self.bin_width,
            positive_sigmas=self.positive_sigmas,
            negative_sigmas=self.negative_sigmas,
        )
        return config


def check_similarity_block(similarity_rows, images):
    """Raises a clear error when the second batch element is not this batch's S_B rows."""
    rows = tuple(images.shape)[0]
    expected = (rows, None if rows is None else rows * distribute.num_replicas())
    shape = tuple(similarity_rows.shape)

    def differ(a, b):
        return a is not None and b is not None and a != b

    if len(shape) != 2 or differ(expected[0], shape[0]) or differ(expected[1], shape[1]):
        raise ValueError(
            "SPAH trains on (images, S_B) batches, S_B being the batch's block of the semantic similarity "
            f"(rows: this replica's items, columns: the whole batch), expected shape {list(expected)}, got "
            f"{list(shape)}. Build the pipeline with `model.make_train_dataset(images, batch_size=...)`."
        )
