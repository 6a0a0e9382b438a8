"""`HashingModel`: the contract every hashzoo method implements."""

import numpy as np
import keras

from hashzoo import codes as codes_lib
from hashzoo.layers.preprocessing import ImagePreprocessing, Preprocessing
from hashzoo.utils.validation import check_bits, check_pixels, check_positive_int


class HashingModel(keras.Model):
    """Base class of every hashing method: images in, binary codes out.

    A method subclasses it, builds its networks in `__init__` and ends it with
    `self.build()` (so every variable exists before weights load), implements
    `hash_values(x, training)` (preprocessed images to the continuous code z,
    float `[N, code_bits]`) and writes its own `train_step`. The base class
    holds only what all methods share:

    - `preprocess(images)`: the `Preprocessing` contract applied inside the
      model, so callers always pass pixels in [0, 255] (`[N, H, W, 1 or 3]`).
    - `call(images)` / `predict`: the continuous code z.
    - `encode(images)`: int8 codes, +1 where z >= 0 and -1 elsewhere (never 0).
    - `encode_packed(images)`: uint8 `[N, ceil(code_bits / 8)]`, most
      significant bit first, ready for `hashzoo.index.HammingIndex` or faiss.
    - `get_config` with `code_bits` and `preprocessing`; subclasses chain it.

    Args:
        code_bits: int >= 1, the code length.
        preprocessing: a `hashzoo.layers.Preprocessing` or its dict.
        **kwargs: passed to `keras.Model` (`name`, `dtype`, ...).

    Example:

    >>> import numpy as np, keras
    >>> class RandomProjectionHasher(HashingModel):
    ...     def __init__(self, code_bits, **kwargs):
    ...         super().__init__(code_bits, **kwargs)
    ...         self.flatten = keras.layers.Flatten()
    ...         self.dense = keras.layers.Dense(code_bits)
    ...     def hash_values(self, x, training=False):
    ...         return self.dense(self.flatten(x))
    >>> model = RandomProjectionHasher(12, preprocessing={"image_size": (8, 8), "channels": 1})
    >>> images = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 1)).astype("uint8")
    >>> model.encode(images).shape, model.encode_packed(images).shape
    ((5, 12), (5, 2))
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "hash_values" not in cls.__dict__ and not any(
            "hash_values" in base.__dict__ for base in cls.__mro__[1:] if base is not HashingModel
        ):
            raise TypeError(
                f"{cls.__name__} subclasses HashingModel but does not define "
                "`hash_values(self, x, training=False)`, which maps preprocessed "
                "images to the continuous code."
            )

    def __init__(self, code_bits, preprocessing=None, **kwargs):
        super().__init__(**kwargs)
        self.code_bits = check_bits(code_bits)
        self.preprocessing = Preprocessing.from_dict(preprocessing or {})
        self.preprocessor = ImagePreprocessing(self.preprocessing, name="preprocessor")

    # -- image to code ---------------------------------------------------------

    def preprocess(self, images):
        """Applies the preprocessing contract: [0, 255] pixels to network input."""
        return self.preprocessor(images)

    def call(self, images, training=False):
        return self.hash_values(self.preprocess(images), training=training)

    def encode(self, images, batch_size=256, verbose=0):
        """Binary codes of `images`: int8 `[N, code_bits]`, +1 where z >= 0, else -1.

        Args:
            images: `[N, H, W, C]` uint8 or float pixels in [0, 255], C = 1 or
                3; other sizes are resized by the preprocessing contract.
                NaN, infinite or out-of-range pixels raise a `ValueError`
                naming the first one; float images that all lie in [0, 1]
                give a `UserWarning` (probably scaled by mistake: multiply by
                255), see `hashzoo.utils.validation.check_pixels`.
            batch_size: images per forward pass.
            verbose: Keras progress bar (0 silent, 1 bar).
        """
        images = check_pixels(images, stacklevel=2)
        return self._encode_checked(images, batch_size, verbose)

    def encode_packed(self, images, batch_size=256, verbose=0):
        """Packed codes of `images`: uint8 `[N, ceil(code_bits / 8)]` (see `encode`)."""
        images = check_pixels(images, stacklevel=2)
        return codes_lib.pack_codes(self._encode_checked(images, batch_size, verbose))

    def _encode_checked(self, images, batch_size, verbose):
        batch_size = check_positive_int(batch_size, "batch_size")
        values = self.predict(images.astype(np.float32, copy=False), batch_size=batch_size, verbose=verbose)
        if values.shape != (len(images), self.code_bits):
            raise RuntimeError(
                f"{type(self).__name__}.hash_values returned shape {values.shape}, "
                f"expected {(len(images), self.code_bits)}."
            )
        return codes_lib.binarize(values)

    # -- zoo hooks (docs/zoo.md) -----------------------------------------------

    @property
    def card(self):
        """The preset metadata this model was loaded with (`{}` for a model built in code)."""
        return self.__dict__.get("_preset_card", {})

    @card.setter
    def card(self, value):
        # Plain attribute, outside Keras's tracking: metadata is not state.
        object.__setattr__(self, "_preset_card", dict(value or {}))

    def serving_outputs(self, images):
        """The continuous outputs a SavedModel serves, from pixels in [0, 255].

        Returns a dict with `"z"` (`[N, code_bits]`, the code before
        thresholding) and, for methods with a class head, `"logits"`.
        Methods override this to add their extra heads.
        """
        return {"z": self(images, training=False)}

    def export_serving(self, base_dir, version=None):
        """Writes a TF Serving SavedModel to `<base_dir>/<version>/` (see `hashzoo.export`)."""
        from hashzoo import export

        return export.export_serving(self, base_dir, version=version)

    # -- training hooks (called by the training runner, `hashzoo.training.core`) --

    #: True when the method trains on labels (class ids or multi-hot), False
    #: when it needs images only. Every method declares it; training and
    #: fine-tuning read it (a supervised method needs at least 2 classes).
    SUPERVISED = None

    @classmethod
    def check_declared(cls):
        """Raises a clear error when a method does not declare `SUPERVISED`; returns it otherwise."""
        if not isinstance(cls.SUPERVISED, bool):
            raise TypeError(
                f"{cls.__name__} must declare the class attribute SUPERVISED = True (trains on labels) or "
                f"False (images only); got {cls.SUPERVISED!r}."
            )
        return cls.SUPERVISED

    @classmethod
    def data_arguments(cls, dataset, seed):
        """Constructor arguments this method takes from the training data (default: none).

        A method declares here what it sizes from the data, e.g. a class
        head: `{"num_classes": dataset.num_classes, "multi_label":
        dataset.is_multi_label, "seed": seed}`. The input size and channels
        come from `supported_image_size` and the data, not from here.

        Args:
            dataset: the training split (`hashzoo.data.ImageDataset`).
            seed: the run's seed.
        """
        del dataset, seed
        return {}

    @classmethod
    def supported_image_size(cls, image_size, model_kwargs=None):
        """The input size `(height, width)` this method trains at for images of `image_size`.

        The default takes any size. A method whose architecture takes only
        some sizes returns the nearest one it can; the model's preprocessing
        then resizes the images to it, and the size is recorded in the
        preset's preprocessing contract. `model_kwargs` (a dict) are the
        other constructor arguments of the run.
        """
        del model_kwargs
        return tuple(int(side) for side in image_size)

    @classmethod
    def default_preprocessing(cls, dataset, image_size=None, model_kwargs=None):
        """The input contract for `dataset`: pixels to [-1, 1] at `image_size` with the data's channels.

        `image_size` None means `supported_image_size` of the data's native size.
        """
        height, width, channels = (int(v) for v in dataset.images.shape[1:])
        if image_size is None:
            image_size = cls.supported_image_size((height, width), dict(model_kwargs or {}))
        return {"image_size": [int(side) for side in image_size], "channels": channels, "mean": 127.5, "std": 127.5}

    @classmethod
    def from_data(cls, code_bits, dataset, seed=0, **model_kwargs):
        """Builds the method sized from its training data.

        Arguments come from `data_arguments(dataset, seed)`, then
        `model_kwargs` (which win). `preprocessing` is
        `default_preprocessing(dataset)` updated with the keys a given
        (possibly partial) preprocessing dict sets: `{"image_size": [32, 32]}`
        alone picks the input size and keeps the data's channels.

        Args:
            code_bits: the code length.
            dataset: the training split (`ImageDataset`).
            seed: the run's seed.
            **model_kwargs: other constructor arguments (a config's `model`).
        """
        kwargs = dict(cls.data_arguments(dataset, seed))
        kwargs.update(model_kwargs)
        given = kwargs.get("preprocessing")
        if given is None or isinstance(given, dict):
            given = dict(given or {})
            others = {name: value for name, value in model_kwargs.items() if name != "preprocessing"}
            preprocessing = cls.default_preprocessing(dataset, image_size=given.get("image_size"), model_kwargs=others)
            preprocessing.update(given)
            kwargs["preprocessing"] = preprocessing
        return cls(code_bits=code_bits, **kwargs)

    def prepare(self, train_split):
        """What the method computes from the whole training split before fitting (default: None).

        Returns a `hashzoo.models.Prepared` (or None). The runner calls it
        once, passes the result to `make_train_dataset(..., prepared=...)` and
        to the stages, and stores its `summary()` in the run's metadata. It
        must not store anything on the model.

        Args:
            train_split: the training split (`ImageDataset`: `images`, `labels`).
        """
        del train_split
        return None

    def training_stages(self):
        """`hashzoo.models.Stage`s run before the main fit, in order (default: none).

        The runner gives each a `StageContext`, shows progress, records each
        completed stage in the run's backup folder with the model's weights,
        and skips a recorded stage when a killed run is started again.
        """
        return []

    def make_train_dataset(self, images, labels=None, prepared=None, batch_size=32, seed=None, epoch=None, steps=None):
        """The `tf.data` pipeline that a training run feeds to `fit`.

        The runner calls it once, after `prepare` and the stages, with the
        protocol's training split. The default gives shuffled `(images,
        labels)` batches (`images` alone when `labels` is None) and drops the
        incomplete last batch. A method that needs structure computed from
        the whole training set takes it from `prepared`: BGAN yields
        `(images, S_B)` batches of its K-NN similarity matrix.

        Args:
            images: uint8 pixels `[N, H, W, C]`.
            labels: class ids `[N]`, multi-hot `[N, C]` or None.
            prepared: what `prepare` returned for these images (or None).
            batch_size: global batch size.
            seed: shuffle seed.
            epoch, steps: which batches each iteration yields, as in
                `hashzoo.data.make_tf_dataset`; the runner passes a
                variable it sets at each epoch's beginning, and its
                `steps_per_epoch`, so that epoch e's batches depend on the
                seed and e only and a resumed run reads what an
                uninterrupted one read (docs/zoo.md, "Training runs").
        """
        del prepared
        from hashzoo.data.pipeline import make_tf_dataset

        return make_tf_dataset(images, labels, batch_size=batch_size, shuffle=True, seed=seed, drop_remainder=True,
                               epoch=epoch, steps=steps)

    def training_callbacks(self, epochs):
        """Keras callbacks a training run of `epochs` epochs needs (default: none).

        The runner adds them to the main `fit`; BGAN returns its smooth-sign
        slope schedule.
        """
        del epochs
        return []

    def pre_checkpoint_callbacks(self, context):
        """Keras callbacks whose epoch end must come before the epoch checkpoint (default: none).

        The runner lists them first in the main fit, ahead of the epoch
        checkpoint and the best-epoch keeper, so what they change at an epoch
        end is what is checkpointed, scored and kept; fine-tuning runs them
        too. BGAN and SPAH return their batch-norm recalibration.

        Args:
            context: the run's `StageContext` (training split, batch size, seed).
        """
        del context
        return []

    # -- fine-tuning hooks (called by `hashzoo.finetune`; docs/zoo.md, "Fine-tuning") --

    def hash_head_layers(self):
        """The layers whose output width is the code length; fine-tuning with new bits replaces them.

        The default finds every `HashHead`. A method whose code head is
        another layer (SADH's tanh dense layers) returns its own, so the
        fine-tuning summary calls them "replaced", not "re-initialised".
        """
        from hashzoo.layers.hash_head import HashHead

        return [layer for layer in self._flatten_layers() if isinstance(layer, HashHead)]

    def stage_variables(self):
        """Variables that `training_stages()` compute from the training split (default: none).

        Fine-tuning never copies them from the parent: the stages run again
        on the new data and rebuild them (SADH's dictionaries, whose rows are
        the new training split's label sets).
        """
        return []

    # -- serialization ---------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "code_bits": self.code_bits,
            "preprocessing": self.preprocessing.to_dict(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "dtype" in config and isinstance(config["dtype"], dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3.15 reads one batch and reduces the whole (x, y) tuple with
        # `strategy.reduce` before building, which MultiWorkerMirroredStrategy
        # rejects. A built HashingModel compiled without Keras losses or
        # metrics needs no batch: only its optimizer may be left to build.
        needs_batch = (
            not self.built or self._compile_loss is not None or self._compile_metrics is not None
        )
        if self._distribute_strategy is None or needs_batch:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=())

    def build(self, input_shape=None):
        """Builds every network by tracing one batch of the contract's shape."""
        shape = (1, *self.preprocessing.input_shape) if input_shape is None else tuple(input_shape)
        # Trace the networks directly: going through `self(...)` would re-enter build.
        self.hash_values(self.preprocess(keras.ops.zeros((1, *shape[1:]))))
        self.built = True


__all__ = ["HashingModel"]
