"""CoopHash: cooperative learning of a multipurpose descriptor and a pair generator.

Doan, Xie, Zhu, Zhao, Li, "CoopHash: Cooperative Learning of Multipurpose
Descriptor and Contrastive Pair Generator via Variational MCMC Teaching for
Supervised Image Hashing", arXiv 2210.04288. No public code exists;
docs/coophash.md says which parts follow the paper, which the parent
algorithm (CoopVAEBM) and which are hashzoo's choices, with measured numbers.
"""

import keras
import tensorflow as tf

from hashzoo import distribute, losses
from hashzoo.layers.augmentation import check_augment, make_augmentation
from hashzoo.layers.conv_trunk import nearest_trunk_size
from hashzoo.models import HashingModel
from hashzoo.methods.coophash import stability
from hashzoo.methods.coophash.descriptor import DEFAULT_LOG_STD_BOUNDS, Descriptor
from hashzoo.methods.coophash.generator import PairGenerator
from hashzoo.methods.coophash.langevin import LangevinSampler
from hashzoo.methods.coophash.pairs import dissimilar_labels, in_batch_triplet_masks, in_batch_triplets
from hashzoo.utils.seed_state import SeedState
from hashzoo.utils.validation import check_choice, check_non_negative_float, check_positive_int

PAIR_SOURCES = ("generator", "real")
TRIPLET_MININGS = ("random", "all")


def add_gradients(a, b):
    """`a + b` where either may be None (a variable one loss does not reach)."""
    if a is None:
        return b
    return a if b is None else a + b

#: Default stability guards (docs/coophash.md, "Stability"). Healthy runs of
#: the shipped configs measured descriptor gradient norms up to about 600,
#: generator norms up to about 60 and a Langevin gradient RMS up to about 1,
#: so the guards act only on spikes.
DEFAULT_DESCRIPTOR_CLIPNORM = 1000.0
DEFAULT_GENERATOR_CLIPNORM = 1000.0
DEFAULT_LANGEVIN_GRAD_CLIP = 10.0

#: What a descriptor-only model (`cooperative=False`) tracks: no generator, energy or VAE.
DESCRIPTOR_ONLY_TRACKERS = ("loss", "hash_loss", "class_loss", "quantization_loss", "real_pixel_std",
                            "descriptor_grad_norm")

TRACKERS = (
    "loss", "ebm_loss", "hash_loss", "class_loss", "quantization_loss", "vae_loss", "kl",
    "energy_real", "energy_revised", "energy_gap", "revision",
    # Generator health and step sizes (docs/coophash.md, "Trackers").
    "generated_pixel_std", "generated_sample_std", "real_pixel_std", "revised_class_accuracy",
    "descriptor_grad_norm", "generator_grad_norm",
)


@keras.saving.register_keras_serializable(package="hashzoo")
class CoopHash(SeedState, HashingModel):
    """Supervised hashing with an energy-based descriptor and a pair generator.

    Each step (docs/coophash.md): draw a same-label and a different-label proposal per
    real anchor from the generator, revise both with Langevin dynamics on the
    descriptor's energy, update the descriptor (contrastive divergence +
    triplet hashing + quantization + classification), then update the
    generator and inference head as a VAE on the revised images.

    Args:
        code_bits: int K.
        num_classes: int C >= 2.
        multi_label: bool; labels are multi-hot `[B, C]` when True, class ids
            `[B]` otherwise.
        latent_dim: int d.
        width: float filter multiplier of both networks.
        init_std: std of the descriptor's conv kernel initializer (parent:
            0.005; deeper trunks learn faster with about 0.05).
        langevin_steps, langevin_step_size, langevin_reference_std: T, delta, s.
        langevin_noise: bool, add noise in the Langevin steps (parent: off).
        clip_revised: bool, clip revised images to [-1, 1].
        margin: triplet margin in squared code distance; None means K / 2.
        hash_weight, class_weight, synthetic_class_weight, quantization_weight,
            energy_weight, kl_weight: loss weights (lambda_H, lambda_C,
            lambda_Cs, lambda_Q, lambda_E, lambda_KL).
        vae_trains_trunk: bool, let the VAE step update the shared trunk.
        cooperative: bool. False trains the descriptor alone, a plain
            supervised hasher on the same trunk and heads: real in-batch
            triplets, classification and quantization, with no generator, no
            Langevin revision, no energy term and no VAE step (the ablation's
            "descriptor only" row; it needs `pair_source="real"`).
        pair_source: `"generator"` (revised proposals, the method) or
            `"real"` (in-batch real triplets; the ablation without generator
            pairs).
        generator_triplet_weight: weight of the triplets whose positive and
            negative are the generator's revised pairs, relative to
            `hash_weight` (default 1, the parent's form; docs/coophash.md,
            "Generator triplet weight").
        real_triplet_weight: weight of in-batch real-real triplets added to
            the generator triplets (optional, off by default; see
            docs/coophash.md).
        real_triplet_mining: how the in-batch real triplets are formed:
            `"random"` (default, one random positive and negative per anchor)
            or `"all"` (every valid positive-negative pair of the global
            batch per anchor, averaged; docs/coophash.md, "Triplet mining").
        real_reconstruction_weight: weight of a second VAE term on the real
            images: the inference head encodes each real image and G rebuilds
            it from that latent and its labels, so G learns what real images
            look like and not only its own revised proposals (a departure from
            the parent, off by default; docs/coophash.md, "Stability").
        generator_class_weight: weight of a class-guidance term in the VAE
            step: the descriptor's class head, held fixed, scores the step's
            proposals G(z, y) and G is trained to make it read y from them, so
            the proposals carry their labels (a departure from the parent, off
            by default; docs/coophash.md, "Stability").
        log_std_bounds: `(low, high)` soft bounds of the inference head's
            log-std, so `exp(log_std)` and the KL stay finite; None restores
            the unbounded parent form.
        descriptor_clipnorm, generator_clipnorm: clip the descriptor step's
            and the VAE step's gradients to this global norm, taken over the
            global batch; None: no clipping.
        langevin_grad_clip: bound on the root-mean-square over pixels of each
            image's Langevin gradient `grad_x F`; None: no clipping.
        seed: int, seeds initializers, the noise stream and (plus 300) the
            augmentation's stream.
        preprocessing: the input contract (default 32x32 RGB in [-1, 1]).
        augment: None (default, no augmentation), `"flip_crop"`, `"crop"`,
            `"flip"` or a dict of `hashzoo.layers.FlipCrop` arguments: random
            flips and shifts of the real images of each training step
            (docs/coophash.md, "Augmentation"); the generator's proposals are
            not augmented. Encoding never augments.

    Example:

    >>> import numpy as np
    >>> model = CoopHash(code_bits=16, num_classes=10, latent_dim=8, width=0.25,
    ...                  preprocessing={"image_size": (8, 8), "channels": 1})
    >>> model.compile()
    >>> images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 1)).astype("uint8")
    >>> history = model.fit(images, np.arange(8) % 10, batch_size=8, epochs=1, verbose=0)
    >>> model.encode(images).shape
    (8, 16)
    """

    SUPERVISED = True

    @classmethod
    def data_arguments(cls, dataset, seed):
        """Class count and label kind from the training data, and the run's seed."""
        return {"num_classes": dataset.num_classes, "multi_label": dataset.is_multi_label, "seed": seed}

    @classmethod
    def supported_image_size(cls, image_size, model_kwargs=None):
        """The nearest square size the conv trunk takes (side 4 * 2**n): 28x28 trains at 32x32."""
        del model_kwargs
        return nearest_trunk_size(image_size)

    def __init__(
        self,
        code_bits,
        num_classes,
        multi_label=False,
        latent_dim=100,
        width=1.0,
        init_std=0.005,
        langevin_steps=15,
        langevin_step_size=0.002,
        langevin_reference_std=0.016,
        langevin_noise=False,
        clip_revised=True,
        margin=None,
        hash_weight=1.0,
        class_weight=1.0,
        synthetic_class_weight=0.0,
        quantization_weight=0.05,
        energy_weight=0.0,
        kl_weight=2.0,
        vae_trains_trunk=True,
        cooperative=True,
        pair_source="generator",
        generator_triplet_weight=1.0,
        real_triplet_weight=0.0,
        real_triplet_mining="random",
        real_reconstruction_weight=0.0,
        generator_class_weight=0.0,
        log_std_bounds=DEFAULT_LOG_STD_BOUNDS,
        descriptor_clipnorm=DEFAULT_DESCRIPTOR_CLIPNORM,
        generator_clipnorm=DEFAULT_GENERATOR_CLIPNORM,
        langevin_grad_clip=DEFAULT_LANGEVIN_GRAD_CLIP,
        seed=0,
        preprocessing=None,
        augment=None,
        **kwargs,
    ):
        preprocessing = preprocessing or {"image_size": (32, 32), "channels": 3, "mean": 127.5, "std": 127.5}
        super().__init__(code_bits, preprocessing=preprocessing, **kwargs)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        if self.num_classes < 2:
            raise ValueError(f"CoopHash needs num_classes >= 2 to draw dissimilar pairs, got {num_classes}.")
        self.multi_label = bool(multi_label)
        self.latent_dim = check_positive_int(latent_dim, "latent_dim")
        self.width = float(width)
        self.init_std = float(init_std)
        self.langevin_steps = int(langevin_steps)
        self.langevin_step_size = float(langevin_step_size)
        self.langevin_reference_std = float(langevin_reference_std)
        self.langevin_noise = bool(langevin_noise)
        self.clip_revised = bool(clip_revised)
        self.margin = None if margin is None else float(margin)
        self.hash_weight = float(hash_weight)
        self.class_weight = float(class_weight)
        self.synthetic_class_weight = float(synthetic_class_weight)
        self.quantization_weight = float(quantization_weight)
        self.energy_weight = float(energy_weight)
        self.kl_weight = float(kl_weight)
        self.vae_trains_trunk = bool(vae_trains_trunk)
        self.pair_source = check_choice(pair_source, "pair_source", PAIR_SOURCES)
        self.cooperative = bool(cooperative)
        if not self.cooperative and self.pair_source != "real":
            raise ValueError(
                f"cooperative=False trains no generator, so its triplets must come from real images: "
                f"pair_source must be 'real', got {pair_source!r}."
            )
        self.generator_triplet_weight = check_non_negative_float(generator_triplet_weight, "generator_triplet_weight")
        self.real_triplet_weight = float(real_triplet_weight)
        self.real_triplet_mining = check_choice(real_triplet_mining, "real_triplet_mining", TRIPLET_MININGS)
        self.real_reconstruction_weight = check_non_negative_float(
            real_reconstruction_weight, "real_reconstruction_weight"
        )
        self.generator_class_weight = check_non_negative_float(generator_class_weight, "generator_class_weight")
        self.descriptor_clipnorm = stability.check_clip(descriptor_clipnorm, "descriptor_clipnorm")
        self.generator_clipnorm = stability.check_clip(generator_clipnorm, "generator_clipnorm")
        self.augment = check_augment(augment)
        self.seed = int(seed)

        # === Networks ===
        image_shape = self.preprocessing.input_shape
        self.descriptor = Descriptor(
            image_shape, self.num_classes, self.code_bits, self.latent_dim, self.width, self.init_std,
            seed=self.seed, log_std_bounds=log_std_bounds, name="descriptor",
        )
        self.generator = PairGenerator(
            image_shape, self.num_classes, self.latent_dim, self.width, seed=self.seed + 100, name="generator"
        )
        self.langevin = LangevinSampler(
            self.descriptor.energy,
            self.langevin_steps,
            self.langevin_step_size,
            self.langevin_reference_std,
            noise=self.langevin_noise,
            clip=self.clip_revised,
            grad_clip=langevin_grad_clip,
        )

        # === Noise stream and trackers ===
        # The stream's position is saved with the weights (`SeedState`), so a resumed run draws on.
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")
        tracked = TRACKERS + (("generator_class_loss",) if self.generator_class_weight else ())
        if not self.cooperative:
            tracked = DESCRIPTOR_ONLY_TRACKERS
        self.trackers = {name: keras.metrics.Mean(name=name) for name in tracked}
        self.augmentation = make_augmentation(self.augment, image_shape[:2], self.seed)
        self.build()

    # -- HashingModel ---------------------------------------------------------

    def hash_values(self, x, training=False):
        return self.descriptor.hash_head(self.descriptor.features(x, training=training))

    def serving_outputs(self, images):
        """`z` and the class head's `logits` from one trunk pass (for `export_serving`)."""
        phi = self.descriptor.features(self.preprocess(images))
        return {"z": self.descriptor.hash_head(phi), "logits": self.descriptor.class_head(phi)}

    @property
    def effective_margin(self):
        return self.code_bits / 2.0 if self.margin is None else self.margin

    # -- compile ----------------------------------------------------------------

    def compile(self, descriptor_optimizer=None, generator_optimizer=None, **kwargs):
        """Two Adam optimizers by default: descriptor lr 1e-4 and VAE lr 2e-4, beta_1 = 0.5."""
        descriptor_optimizer = descriptor_optimizer or keras.optimizers.Adam(1e-4, beta_1=0.5)
        generator_optimizer = generator_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        super().compile(optimizer=descriptor_optimizer, **kwargs)
        self.generator_optimizer = generator_optimizer
        # Built now on their own variable sets, so each holds only its slots
        # and both exist before weights (and optimizer states) are loaded.
        self.optimizer.build(self.descriptor.descriptor_variables)
        self.generator_optimizer.build(self.vae_variables)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {
            "descriptor_optimizer": keras.optimizers.serialize(self.optimizer),
            "generator_optimizer": keras.optimizers.serialize(self.generator_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            descriptor_optimizer=keras.optimizers.deserialize(config["descriptor_optimizer"]),
            generator_optimizer=keras.optimizers.deserialize(config["generator_optimizer"]),
        )

    @property
    def vae_variables(self):
        variables = self.generator.trainable_variables + self.descriptor.inference_head.trainable_variables
        if self.vae_trains_trunk:
            variables += self.descriptor.trunk.trainable_variables
        return variables

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- training -----------------------------------------------------------------

    def label_vectors(self, labels):
        """Class ids `[B]` to one-hot, or multi-hot `[B, C]` to float32."""
        if self.multi_label:
            return tf.cast(labels, tf.float32)
        return tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), self.num_classes)

    def class_loss(self, logits, label_vectors):
        if self.multi_label:
            per_item = tf.reduce_sum(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=label_vectors, logits=logits), axis=-1
            )
        else:
            per_item = tf.nn.softmax_cross_entropy_with_logits(labels=label_vectors, logits=logits)
        return tf.reduce_mean(per_item)

    def propose(self, y, y_global, start, seed):
        """Interleaved proposals: rows 2i and 2i+1 are anchor i's positive and negative.

        Negative labels are drawn over the global batch (`y_global`, this
        replica's rows from `start`) and the latent codes from global noise,
        so every replica draws what one device draws for its rows.
        Interleaving keeps each anchor's rows together, so the replica slices
        of the global noise line up with one device's rows.
        """
        label_seed, z_seed = distribute.split_seed(seed, 2)
        batch = tf.shape(y)[0]
        anchors = y_global if self.multi_label else tf.argmax(y_global, axis=-1)
        negatives = dissimilar_labels(anchors, self.num_classes, label_seed, self.multi_label)
        y_negative = stability.local_rows(negatives, start, batch)
        y_pairs = tf.reshape(tf.stack([y, y_negative], axis=1), [-1, self.num_classes])
        z = distribute.replica_normal(tf.stack([batch, 2, self.latent_dim]), z_seed)
        z = tf.reshape(z, [-1, self.latent_dim])
        return self.generator([z, y_pairs], training=True), y_pairs

    def train_step(self, data):
        images, labels = data[0], data[1]
        x = self.preprocess(images)
        real_pixel_std = stability.pixel_std(x)
        if self.augmentation is not None:
            x = self.augmentation(x, training=True)
        y = self.label_vectors(labels)
        y_global, start = stability.global_batch(y)
        pair_seed, langevin_seed, triplet_seed, vae_seed = distribute.split_seed(
            distribute.step_seed(self.seed_generator), 4
        )
        if not self.cooperative:
            return self.descriptor_only_step(x, y, y_global, start, triplet_seed, real_pixel_std)

        # 1-3: propose pairs and revise them with Langevin dynamics.
        proposals, y_pairs = self.propose(y, y_global, start, pair_seed)
        revised = self.langevin.revise(proposals, y_pairs, langevin_seed)
        revision = tf.reduce_mean(tf.abs(revised - proposals))

        # 4: descriptor step.
        with tf.GradientTape() as tape:
            phi_real = self.descriptor.features(x, training=True)
            phi_revised = self.descriptor.features(revised, training=True)
            energy_real = self.descriptor.density_head(phi_real, y)
            energy_revised = self.descriptor.density_head(phi_revised, y_pairs)
            ebm_loss = tf.reduce_mean(energy_revised) - tf.reduce_mean(energy_real)
            u_real = self.descriptor.hash_head(phi_real)
            hash_loss = self.hashing_loss(
                u_real, self.descriptor.hash_head(phi_revised), y_global, start, triplet_seed
            )
            quantization = losses.quantization_loss(u_real)
            class_loss = self.class_loss(self.descriptor.class_head(phi_real), y)
            logits_revised = self.descriptor.class_head(phi_revised)
            descriptor_loss = (
                ebm_loss
                + self.hash_weight * hash_loss
                + self.class_weight * class_loss
                + self.quantization_weight * quantization
            )
            if self.synthetic_class_weight:
                descriptor_loss += self.synthetic_class_weight * self.class_loss(logits_revised, y_pairs)
            if self.energy_weight:
                descriptor_loss += self.energy_weight * (
                    tf.reduce_mean(tf.square(energy_real)) + tf.reduce_mean(tf.square(energy_revised))
                )
            scaled = distribute.scale_loss(descriptor_loss)
        variables = self.descriptor.descriptor_variables
        gradients, descriptor_norm = stability.clip_gradients(
            tape.gradient(scaled, variables), variables, self.descriptor_clipnorm
        )
        self.optimizer.apply_gradients(zip(gradients, variables))

        # 5: VAE step on the revised images with the updated descriptor.
        with tf.GradientTape(persistent=bool(self.generator_class_weight)) as tape:
            squared_error, kl = self.vae_terms(revised, y_pairs, vae_seed)
            vae_loss = tf.reduce_mean(squared_error + self.kl_weight * kl)
            if self.real_reconstruction_weight:
                # The conditional VAE on the real images too (docs/coophash.md, "Stability"); its own noise.
                real_error, real_kl = self.vae_terms(x, y, tf.random.experimental.stateless_fold_in(vae_seed, 1))
                vae_loss += self.real_reconstruction_weight * tf.reduce_mean(real_error + self.kl_weight * real_kl)
            scaled = distribute.scale_loss(vae_loss)
            if self.generator_class_weight:
                generator_class_loss = self.generator_class_loss(y, y_global, start, pair_seed)
                scaled_guidance = distribute.scale_loss(self.generator_class_weight * generator_class_loss)
        variables = self.vae_variables
        gradients = tape.gradient(scaled, variables)
        if self.generator_class_weight:
            # The guidance trains G only: the class head and trunk are its fixed teacher.
            guidance = tape.gradient(scaled_guidance, self.generator.trainable_variables)
            gradients = [add_gradients(g, h) for g, h in zip(gradients, guidance)] + gradients[len(guidance):]
            del tape
        gradients, generator_norm = stability.clip_gradients(gradients, variables, self.generator_clipnorm)
        self.generator_optimizer.apply_gradients(zip(gradients, variables))

        # 6: trackers only.
        mean_real, mean_revised = tf.reduce_mean(energy_real), tf.reduce_mean(energy_revised)
        values = {
            "loss": descriptor_loss, "ebm_loss": ebm_loss, "hash_loss": hash_loss, "class_loss": class_loss,
            "quantization_loss": quantization, "vae_loss": vae_loss, "kl": tf.reduce_mean(kl),
            "energy_real": mean_real, "energy_revised": mean_revised, "energy_gap": mean_real - mean_revised,
            "revision": revision,
            "generated_pixel_std": stability.pixel_std(proposals),
            "generated_sample_std": stability.sample_std(proposals),
            "real_pixel_std": real_pixel_std,
            "revised_class_accuracy": self.class_accuracy(logits_revised, y_pairs),
            "descriptor_grad_norm": descriptor_norm,
            "generator_grad_norm": generator_norm,
        }
        if self.generator_class_weight:
            values["generator_class_loss"] = generator_class_loss
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return distribute.report(self.metrics)

    def descriptor_only_step(self, x, y, y_global, start, triplet_seed, real_pixel_std):
        """The `cooperative=False` step: real triplets, class and quantization terms on the descriptor.

        The same terms, weights, triplet draws and clipping as the full
        model's descriptor step, without the energy term and the generator's
        pairs; the density head, inference head and generator never change.
        """
        with tf.GradientTape() as tape:
            phi_real = self.descriptor.features(x, training=True)
            u_real = self.descriptor.hash_head(phi_real)
            hash_loss = self.real_triplet_loss(u_real, y_global, start, triplet_seed)
            quantization = losses.quantization_loss(u_real)
            class_loss = self.class_loss(self.descriptor.class_head(phi_real), y)
            loss = self.hash_weight * hash_loss + self.class_weight * class_loss + self.quantization_weight * quantization
            scaled = distribute.scale_loss(loss)
        variables = self.descriptor.descriptor_variables
        gradients, descriptor_norm = stability.clip_gradients(
            tape.gradient(scaled, variables), variables, self.descriptor_clipnorm
        )
        self.optimizer.apply_gradients(zip(gradients, variables))
        values = {
            "loss": loss, "hash_loss": hash_loss, "class_loss": class_loss, "quantization_loss": quantization,
            "real_pixel_std": real_pixel_std, "descriptor_grad_norm": descriptor_norm,
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return distribute.report(self.metrics)

    def generator_class_loss(self, y, y_global, start, pair_seed):
        """Class loss of the descriptor's class head on this step's proposals, for G's guidance.

        `pair_seed` is the step's proposal seed, so the proposals are the ones
        of step 1, drawn again under the VAE step's tape (G's weights have not
        changed since; its batch-norm moving statistics take this batch twice,
        and they are never used in training). Gradients reach the trunk and
        class head too; `train_step` applies only G's.
        """
        proposals, y_pairs = self.propose(y, y_global, start, pair_seed)
        logits = self.descriptor.class_head(self.descriptor.features(proposals, training=True))
        return self.class_loss(logits, y_pairs)

    def vae_terms(self, images, label_vectors, seed):
        """Per-row squared error and KL of the VAE step: `images` encoded by the inference head, rebuilt by G.

        The latent is sampled with the reparameterisation trick (noise from
        `seed`, per-replica rows of the global draw); G is conditioned on
        `label_vectors`. The trunk gets gradients only with `vae_trains_trunk`.
        """
        phi = self.descriptor.features(images, training=True)
        if not self.vae_trains_trunk:
            phi = tf.stop_gradient(phi)
        mu, log_std = self.descriptor.latent(phi)
        epsilon = distribute.replica_normal(tf.shape(mu), seed)
        reconstruction = self.generator([mu + tf.exp(log_std) * epsilon, label_vectors], training=True)
        squared_error = tf.reduce_sum(tf.square(images - reconstruction), axis=[1, 2, 3])
        kl = -0.5 * tf.reduce_sum(1.0 + 2.0 * log_std - tf.square(mu) - tf.exp(2.0 * log_std), axis=-1)
        return squared_error, kl

    def class_accuracy(self, logits, label_vectors):
        """Share of rows whose argmax is the label (single-label), or of labels right (multi-label)."""
        if self.multi_label:
            right = tf.equal(logits > 0, label_vectors > 0.5)
        else:
            right = tf.equal(tf.argmax(logits, axis=-1), tf.argmax(label_vectors, axis=-1))
        return tf.reduce_mean(tf.cast(right, tf.float32))

    def hashing_loss(self, u_real, u_revised, y_global, start, seed):
        """Triplet loss on real anchors (docs/coophash.md).

        With generator pairs, `generator_triplet_weight` times the triplets
        whose positives and negatives are the revised rows 2i and 2i+1, plus
        `real_triplet_weight` times in-batch real triplets (the optional
        real-real term); with real pairs, only the in-batch real triplets.
        """
        if self.pair_source == "real":
            return self.real_triplet_loss(u_real, y_global, start, seed)
        loss = self.generator_triplet_weight * losses.triplet_hash_loss(
            u_real, u_revised[0::2], u_revised[1::2], self.effective_margin
        )
        if self.real_triplet_weight:
            loss += self.real_triplet_weight * self.real_triplet_loss(u_real, y_global, start, seed)
        return loss

    def real_triplet_loss(self, u_real, y_global, start, seed):
        """Triplets of real items over the global batch (`real_triplet_mining`); rows with no negative count as 0.

        Each replica's anchors are its own rows; their positives and
        negatives may sit on any replica (`distribute.gather_replicas`, whose
        gradient reaches every replica), so N replicas take one device's step.
        """
        batch = tf.shape(u_real)[0]
        u_global = distribute.gather_replicas(u_real)
        if self.real_triplet_mining == "all":
            positive, negative = (stability.local_rows(m, start, batch) for m in in_batch_triplet_masks(y_global))
            return losses.all_triplets_hash_loss(u_real, u_global, positive, negative, self.effective_margin)
        positive, negative, has_negative = (
            stability.local_rows(t, start, batch) for t in in_batch_triplets(y_global, seed)
        )
        # One-hot products instead of tf.gather: the all-gather's gradient
        # needs dense gradients, and tf.gather's are sparse.
        rows = tf.shape(u_global)[0]
        pick = lambda index: tf.matmul(tf.one_hot(index, rows, dtype=u_global.dtype), u_global)  # noqa: E731
        per_item = tf.nn.relu(
            self.effective_margin
            + losses.squared_distance(u_real, pick(positive))
            - losses.squared_distance(u_real, pick(negative))
        )
        return tf.reduce_mean(per_item * tf.cast(has_negative, per_item.dtype))

    # -- serialization --------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            multi_label=self.multi_label,
            latent_dim=self.latent_dim,
            width=self.width,
            init_std=self.init_std,
            langevin_steps=self.langevin_steps,
            langevin_step_size=self.langevin_step_size,
            langevin_reference_std=self.langevin_reference_std,
            langevin_noise=self.langevin_noise,
            clip_revised=self.clip_revised,
            margin=self.margin,
            hash_weight=self.hash_weight,
            class_weight=self.class_weight,
            synthetic_class_weight=self.synthetic_class_weight,
            quantization_weight=self.quantization_weight,
            energy_weight=self.energy_weight,
            kl_weight=self.kl_weight,
            vae_trains_trunk=self.vae_trains_trunk,
            cooperative=self.cooperative,
            pair_source=self.pair_source,
            generator_triplet_weight=self.generator_triplet_weight,
            real_triplet_weight=self.real_triplet_weight,
            real_triplet_mining=self.real_triplet_mining,
            real_reconstruction_weight=self.real_reconstruction_weight,
            generator_class_weight=self.generator_class_weight,
            log_std_bounds=None if self.descriptor.log_std_bounds is None else list(self.descriptor.log_std_bounds),
            descriptor_clipnorm=self.descriptor_clipnorm,
            generator_clipnorm=self.generator_clipnorm,
            langevin_grad_clip=self.langevin.grad_clip,
            augment=self.augment,
            seed=self.seed,
        )
        return config
