"""Image backbones that end in one pooled feature vector: from scratch by default, ResNet-50 as an option.

`build_backbone` returns a Keras model from preprocessed images (`[B, H, W,
C]` in [-1, 1], see `hashzoo.layers.Preprocessing`) to pooled features `[B,
D]`. Two kinds:

- `"stages"` (the default; trains from scratch): per entry of `widths`, two
  3x3 convs each followed by batch norm and ReLU, then a 2x2 max-pool (while
  the feature map is at least 2x2); global average pooling at the end. Any
  input size works, so no resizing is forced on the data. Batch norm is
  `synchronized`: under a `tf.distribute` strategy its batch statistics are
  those of the global batch, so N replicas take one device's step.
- `"resnet50"`: `keras.applications.ResNet50` without its top, average
  pooled (D = 2048), on inputs rescaled to its own preprocessing. Its
  weights come only from a local file (`weights_file`): nothing is
  downloaded. Without a file it starts from random weights, with a warning.

A `weights_file` is loaded after building: for `"stages"` a file written by
`save_weights` of the same backbone; for `"resnet50"` a file of Keras's
ResNet-50 without top (e.g. the `..._notop.h5` file Keras publishes, copied
to the machine). A missing file is a `FileNotFoundError` naming it. The multi-label methods and their classifier
floor share this module so that they compare on equal networks
(docs/sadh.md, "Networks").

>>> model = build_backbone((16, 16, 1), widths=(8, 16))
>>> model.output_shape
(None, 16)
"""

import os
import warnings

import keras

BACKBONES = ("stages", "resnet50")


def check_backbone(backbone, widths):
    """Validates a backbone name and its stage widths; returns `(backbone, widths as a tuple of ints)`."""
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {list(BACKBONES)}, got {backbone!r}.")
    try:
        widths = tuple(int(width) for width in widths)
    except (TypeError, ValueError):
        raise ValueError(f"widths must be a sequence of positive integers, got {widths!r}.") from None
    if not widths or min(widths) < 1:
        raise ValueError(f"widths must be a non-empty sequence of positive integers, got {widths!r}.")
    return backbone, widths


def _stages(inputs, widths, seed):
    x = inputs
    side = min(int(inputs.shape[1]), int(inputs.shape[2]))
    for stage, width in enumerate(widths):
        for conv in range(2):
            x = keras.layers.Conv2D(
                width, 3, padding="same", use_bias=False,
                kernel_initializer=keras.initializers.HeNormal(seed=seed + 10 * stage + conv),
                name=f"stage{stage}_conv{conv}",
            )(x)
            x = keras.layers.BatchNormalization(momentum=0.9, synchronized=True, name=f"stage{stage}_bn{conv}")(x)
            x = keras.layers.ReLU(name=f"stage{stage}_relu{conv}")(x)
        if side >= 2:
            x = keras.layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
            side //= 2
    return keras.layers.GlobalAveragePooling2D(name="pool")(x)


def _resnet50(inputs, weights_file):
    # Our inputs are in [-1, 1]; ResNet-50 expects its own scaling of [0, 255] pixels.
    pixels = keras.layers.Rescaling(127.5, offset=127.5, name="to_pixels")(inputs)
    if int(inputs.shape[-1]) == 1:
        pixels = keras.layers.Concatenate(name="grey_to_rgb")([pixels, pixels, pixels])
    x = keras.layers.Lambda(keras.applications.resnet50.preprocess_input, name="resnet_preprocess")(pixels)
    resnet = keras.applications.ResNet50(include_top=False, weights=None, input_shape=tuple(x.shape[1:]),
                                         pooling="avg")
    if weights_file is not None:
        resnet.load_weights(os.fspath(weights_file))
    return resnet(x)


def build_backbone(input_shape, backbone="stages", widths=(32, 64), weights_file=None, seed=0, name="backbone"):
    """A built Keras model from preprocessed images `[B, *input_shape]` to pooled features `[B, D]`.

    Args:
        input_shape: `(H, W, C)` of preprocessed images.
        backbone: `"stages"` (from scratch) or `"resnet50"`.
        widths: filters per stage of `"stages"` (D = the last one); ignored
            by `"resnet50"` (D = 2048).
        weights_file: None or a local weights file (see the module docstring).
        seed: initializer seed of `"stages"`.
        name: the model's name.

    Raises:
        ValueError: an unknown backbone or bad widths.
        FileNotFoundError: `weights_file` does not exist.
    """
    backbone, widths = check_backbone(backbone, widths)
    if weights_file is not None and not os.path.isfile(os.fspath(weights_file)):
        raise FileNotFoundError(
            f"backbone weights_file {os.fspath(weights_file)!r} does not exist; pass the path of a local "
            f"`.weights.h5` file saved from a {backbone!r} backbone, or weights_file=None to start from scratch."
        )
    inputs = keras.Input(tuple(int(v) for v in input_shape), name="images")
    if backbone == "stages":
        outputs = _stages(inputs, widths, int(seed))
    else:
        if weights_file is None:
            warnings.warn(
                "backbone='resnet50' without weights_file starts from random weights (nothing is downloaded); "
                "pass weights_file= a local ResNet-50 `.weights.h5` for pretrained features.",
                UserWarning, stacklevel=2,
            )
        outputs = _resnet50(inputs, weights_file)
    model = keras.Model(inputs, outputs, name=name)
    if weights_file is not None and backbone == "stages":
        model.load_weights(os.fspath(weights_file))
    return model


def config_without_missing_weights_file(config, key="weights_file", replacement=None):
    """A model config whose starting-weights file `config[key]` is replaced by `replacement` when it is not here.

    The file only sets a backbone's starting weights; a saved model's own
    weights replace them when it loads, so a preset trained from a local
    file must still load on a machine without that file. Models built on
    this backbone call it in `from_config` (a missing `weights_file` becomes
    None); the BGAN / SPAH encoder passes `key="backbone_weights"` and its
    own placeholder (`hashzoo.methods.bgan.encoder.loadable_config`).

    >>> config_without_missing_weights_file({"weights_file": "/no/such.h5", "bits": 8})
    {'weights_file': None, 'bits': 8}
    >>> config_without_missing_weights_file({"w": "/no/such.h5"}, key="w", replacement="<saved>")
    {'w': '<saved>'}
    """
    config = dict(config)
    value = config.get(key)
    if value and value != replacement and not os.path.isfile(os.fspath(value)):
        config[key] = replacement
    return config


__all__ = ["BACKBONES", "build_backbone", "check_backbone", "config_without_missing_weights_file"]
