"""What BGAN and SPAH share: a smooth-sign encoder, a generator and a discriminator trained adversarially.

Both methods hash with BGAN's encoder (h = tanh(k a), the slope k raised by
a schedule), rebuild images with BGAN's generator and judge them with a
discriminator, each network with its own optimizer, on `(images, S_B)`
batches of an offline similarity matrix. `SmoothSignGAN` holds that common
part once: the constructor arguments both take and their checks, the
preprocessing G and D see, the slope schedule, the three optimizers, the
noise stream and the trackers. Each method adds its own losses, its own
discriminator and its own similarity matrix (docs/bgan.md, docs/spah.md).
"""

import functools
import numbers

import keras
import numpy as np

from hashzoo.layers import ImagePreprocessing, Preprocessing
from hashzoo.layers.augmentation import check_augment, make_augmentation
from hashzoo.methods.bgan.encoder import BACKBONES, VGG_BACKBONES, VGG_PREPROCESSING, loadable_config
from hashzoo.methods.bgan.generator import GAN_SIZES
from hashzoo.methods.bgan.schedule import staged_slope
from hashzoo.models import HashingModel
from hashzoo.models.similarity_data import SimilarityData
from hashzoo.similarity import check_extractor
from hashzoo.training.batch_norm import BatchNormRecalibration
from hashzoo.training.callbacks import SmoothSignSchedule
from hashzoo.utils.seed_state import SeedState
from hashzoo.utils.validation import check_choice, check_positive_int

SLOPE_SCHEDULES = ("staged", "constant")
DEFAULT_SLOPES = (1.0, 2.5, 5.0, 7.5, 10.0)
#: The encoder's input contract when none is given: 32x32 RGB scaled to [-1, 1].
DEFAULT_PREPROCESSING = {"image_size": (32, 32), "channels": 3, "mean": 127.5, "std": 127.5}
#: Training batches the encoder's batch-norm statistics are recomputed from at each epoch end (0: off).
#: On digits, 3 seeds, it raised BGAN from 0.767 to 0.782 mAP@all and SPAH from 0.732 to 0.758
#: (docs/bgan.md, "Batch-norm recalibration"). Saved configs without the argument load with 0.
DEFAULT_BATCH_NORM_RECALIBRATION = 10


class SmoothSignGAN(SeedState, SimilarityData, HashingModel):
    """Base of the unsupervised adversarial hashers (BGAN, SPAH); not registered, never built alone.

    A subclass's `__init__` calls this one with the shared arguments, builds
    `self.encoder`, `self.generator` and `self.discriminator`, then calls
    `finish_init()`; it names its Mean trackers in `TRACKERS` and its
    optimizers' defaults in `default_optimizer()`, and adds its own
    arguments to `get_config`.

    Args (shared by both methods; see each method's docstring for the rest):
        code_bits: int L.
        backbone: `"conv"` (from scratch), `"vgg16"` or `"vgg19"`
            (keras.applications up to fc7, weights from `backbone_weights`,
            needs `VGG_PREPROCESSING` and an explicit `gan_size`).
        backbone_weights: path of the local VGG weights file.
        architecture: `"standard"` or `"smoke"` network sizes.
        width: float, multiplies the filter and unit counts of all networks.
        dropout: float, dropout rate on the encoder features.
        gan_size: side of G's output and D's input (8, 16, 32 or 64); None
            means the preprocessing's image side.
        slopes: smooth-sign slopes k of the stages.
        slope_schedule: `"staged"` (k steps up every max(1, E // 6) epochs)
            or `"constant"` (k = `slopes[0]` throughout).
        normalize_inner_product: divide code inner products by L in the
            similarity loss.
        feature_extractor: frozen features for the similarity matrix
            (`hashzoo.similarity.extract_features`).
        feature_weights: weights file of a `keras_app` feature extractor.
        seed: int, seeds initializers and the noise stream.
        preprocessing: the encoder's input contract (default 32x32 RGB in [-1, 1]).
        batch_norm_recalibration: int >= 0; at each epoch end of a training
            run, before the epoch checkpoint, the encoder's batch-norm moving
            statistics are recomputed from this many training batches of the
            run's batch size (`hashzoo.training.batch_norm`); 0 turns it off.
            A saved config without it was trained without it (0).
        augment: None (default, no augmentation), `"flip_crop"`, `"crop"`,
            `"flip"` or a dict of `FlipCrop` arguments: the encoder's real
            input images of each training step are flipped and shifted after
            preprocessing (`augment_encoder_input`); G and D see the
            images unchanged, and encoding never augments (docs/bgan.md,
            "Augmentation").
    """

    #: The input contract of the `vgg16` and `vgg19` backbones (`VGG19_PREPROCESSING` is its former name).
    VGG_PREPROCESSING = VGG19_PREPROCESSING = VGG_PREPROCESSING
    #: Names of the Mean trackers `train_step` reports; each subclass sets its own.
    TRACKERS = ()

    @classmethod
    def data_arguments(cls, dataset, seed):
        """Only the run's seed: these methods never see labels."""
        del dataset
        return {"seed": seed}

    @classmethod
    def supported_image_size(cls, image_size, model_kwargs=None):
        """Any size when `gan_size` is set; else the nearest square side G and D run at (`GAN_SIZES`)."""
        model_kwargs = model_kwargs or {}
        height, width = (int(side) for side in image_size)
        if model_kwargs.get("gan_size") is not None or model_kwargs.get("backbone", "conv") != "conv":
            return (height, width)
        if height == width and height in GAN_SIZES:
            return (height, width)
        side = min(GAN_SIZES, key=lambda s: (abs(s - (height + width) / 2), -s))
        return (side, side)

    @staticmethod
    def default_optimizer():
        """The optimizer each of the three networks gets when `compile` is given none."""
        raise NotImplementedError("a SmoothSignGAN subclass names its default optimizer.")

    def __init__(self, code_bits, *, backbone, backbone_weights, architecture, width, dropout, gan_size, slopes,
                 slope_schedule, normalize_inner_product, feature_extractor, feature_weights, seed,
                 preprocessing, batch_norm_recalibration=DEFAULT_BATCH_NORM_RECALIBRATION, augment=None, **kwargs):
        super().__init__(code_bits, preprocessing=preprocessing or DEFAULT_PREPROCESSING, **kwargs)
        if isinstance(batch_norm_recalibration, bool) or not isinstance(batch_norm_recalibration, numbers.Integral) \
                or batch_norm_recalibration < 0:
            raise ValueError(
                f"`batch_norm_recalibration` must be an integer >= 0 (training batches; 0 is off), got "
                f"{batch_norm_recalibration!r}."
            )
        self.batch_norm_recalibration = int(batch_norm_recalibration)
        self.augment = check_augment(augment)
        self.backbone = check_choice(backbone, "backbone", BACKBONES)
        self.backbone_weights = None if backbone_weights is None else str(backbone_weights)
        self.architecture = architecture
        self.width = float(width)
        self.dropout = float(dropout)
        self.gan_size = None if gan_size is None else int(gan_size)
        self.slopes = tuple(float(k) for k in slopes)
        if not self.slopes or any(not k > 0 for k in self.slopes):
            raise ValueError(f"`slopes` must be a non-empty list of values > 0, got {slopes!r}.")
        self.slope_schedule = check_choice(slope_schedule, "slope_schedule", SLOPE_SCHEDULES)
        self.normalize_inner_product = bool(normalize_inner_product)
        self.feature_extractor = check_extractor(feature_extractor)
        self.feature_weights = None if feature_weights is None else str(feature_weights)
        self.seed = int(seed)
        if self.backbone in VGG_BACKBONES and self.preprocessing != Preprocessing.from_dict(VGG_PREPROCESSING):
            raise ValueError(
                f"backbone={self.backbone!r} needs preprocessing={VGG_PREPROCESSING} (224x224, ImageNet means, no "
                f"scaling), got {self.preprocessing.to_dict()}."
            )

    @classmethod
    def from_config(cls, config):
        """Rebuilds the model; a VGG encoder whose weights file is not on this machine starts from random weights.

        The file only sets the backbone's starting weights, and a saved model
        brings its own, so a model trained from a local VGG file still loads
        where that file is absent; its config still names the file
        (`hashzoo.methods.bgan.encoder.loadable_config`).
        """
        config = dict(config)
        # Saved before the option existed: trained without recalibration.
        config.setdefault("batch_norm_recalibration", 0)
        config, weights = loadable_config(config)
        model = super().from_config(config)
        model.backbone_weights = model.encoder.backbone_weights = weights
        return model

    def finish_init(self):
        """After the subclass built its networks: G and D's preprocessing, the noise stream, the trackers."""
        # G and D see pixels in [0, 1] at gan_size with the encoder's channels.
        side = self.resolved_gan_size()
        self.gan_preprocessor = ImagePreprocessing(
            {"image_size": (side, side), "channels": self.preprocessing.channels, "mean": 0.0, "std": 255.0},
            name="gan_preprocessor",
        )
        # The similarity matrix is `prepare`'s, never the model's.
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="noise_seed")
        # Its own seed stream (None without `augment`, so models without it keep their weight layout).
        self.augmentation = make_augmentation(self.augment, self.preprocessing.image_size, self.seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.TRACKERS}
        self.build()

    def resolved_gan_size(self):
        """`gan_size`, or the preprocessing's image side when it is None."""
        side = self.gan_size
        if side is None:
            height, width = self.preprocessing.image_size
            if height != width or height not in GAN_SIZES:
                raise ValueError(
                    f"G and D run at gan_size in {list(GAN_SIZES)}; the image size {(height, width)} is not one, "
                    "so set `gan_size` explicitly (real images are resized to it)."
                )
            side = height
        return check_choice(side, "gan_size", GAN_SIZES)

    def augment_encoder_input(self, x):
        """The encoder's preprocessed training images `x`, flipped and shifted when `augment` is set."""
        if self.augmentation is None:
            return x
        return self.augmentation(x, training=True)

    # -- HashingModel -----------------------------------------------------------

    def hash_values(self, x, training=False):
        return self.encoder(x, training=training)

    def pre_activation(self, images):
        """The hash layer's pre-activation a for pixels in [0, 255]; codes are `a >= 0`."""
        return self.encoder.pre_activation(self.preprocess(images))

    @property
    def slope(self):
        """The current smooth-sign slope k (a saved, non-trainable weight)."""
        return float(np.asarray(self.encoder.smooth_sign.slope))

    # -- training hooks -----------------------------------------------------------

    def slope_at(self, epoch, epochs):
        """Slope k at `epoch` (0-based) of an `epochs`-long run (docs/bgan.md, "Smooth sign and slope schedule")."""
        if self.slope_schedule == "constant":
            return self.slopes[0]
        return staged_slope(epoch, epochs, slopes=self.slopes)

    def training_callbacks(self, epochs):
        """The smooth-sign schedule: sets k at each epoch start (`SmoothSignSchedule`)."""
        return [SmoothSignSchedule(functools.partial(self.slope_at, epochs=check_positive_int(epochs, "epochs")))]

    def pre_checkpoint_callbacks(self, context):
        """The encoder's batch-norm recalibration, when `batch_norm_recalibration` > 0.

        At each epoch end the moving statistics are recomputed from
        `batch_norm_recalibration` full batches of the training images (the
        same seeded draw every epoch), with the weights that epoch ended with
        (docs/bgan.md, "Batch-norm recalibration").
        """
        return self.recalibration_callbacks(context.train.images, context.batch_size, seed=context.seed)

    def recalibration_callbacks(self, images, batch_size, seed=0):
        """`[BatchNormRecalibration]` over `images` when `batch_norm_recalibration` > 0, else `[]`.

        The runner adds it itself; pass it to your own `model.fit` (beside
        `training_callbacks(epochs)`) to recalibrate there too.

        Args:
            images: the training images (uint8 pixels, as `fit` gets them).
            batch_size: the training batch size.
            seed: seed of the batch draw.
        """
        if not self.batch_norm_recalibration:
            return []
        encoder, preprocess = self.encoder, self.preprocess
        return [BatchNormRecalibration(
            encoder, images, batch_size, self.batch_norm_recalibration, seed=seed,
            forward=lambda batch: encoder(preprocess(batch), training=True),
        )]

    # -- compile --------------------------------------------------------------------

    def compile(self, encoder_optimizer=None, generator_optimizer=None, discriminator_optimizer=None, **kwargs):
        """Three optimizers, one per network; each defaults to `default_optimizer()`."""
        super().compile(optimizer=encoder_optimizer or self.default_optimizer(), **kwargs)
        self.generator_optimizer = generator_optimizer or self.default_optimizer()
        self.discriminator_optimizer = discriminator_optimizer or self.default_optimizer()
        # Built now on their own variable sets, so each holds only its slots
        # and all exist before weights (and optimizer states) are loaded.
        self.optimizer.build(self.encoder.trainable_variables)
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {
            "encoder_optimizer": keras.optimizers.serialize(self.optimizer),
            "generator_optimizer": keras.optimizers.serialize(self.generator_optimizer),
            "discriminator_optimizer": keras.optimizers.serialize(self.discriminator_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(**{name: keras.optimizers.deserialize(spec) for name, spec in config.items()})

    @property
    def metrics(self):
        return list(self.trackers.values())

    def get_config(self):
        config = super().get_config()
        config.update(
            backbone=self.backbone,
            backbone_weights=self.backbone_weights,
            architecture=self.architecture,
            width=self.width,
            dropout=self.dropout,
            gan_size=self.gan_size,
            slopes=list(self.slopes),
            slope_schedule=self.slope_schedule,
            normalize_inner_product=self.normalize_inner_product,
            feature_extractor=self.feature_extractor,
            feature_weights=self.feature_weights,
            seed=self.seed,
            batch_norm_recalibration=self.batch_norm_recalibration,
            augment=self.augment,
        )
        return config
