"""Frozen features for offline similarity matrices.

The similarity a method learns from is computed once, before training, from
features of a network that is never the one being trained. Labels are never
read. See docs/similarity.md for what each extractor is and how much class
structure its K-NN lists keep on the CIFAR-10 subset and digits.

- `"pixels"` (the offline default): flatten, standardise each dimension,
  PCA to `min(256, D)`, L2-normalise;
- `"random_conv"`: a frozen, randomly initialised (seeded, never trained, so
  trained without labels) 5x5 conv layer of 256 ReLU units, max-pooled to a
  4x4 grid, then the `"pixels"` post-processing. Random conv + ReLU + pooling
  features keep more class structure than raw pixels (Jarrett et al., ICCV
  2009; Saxe et al., ICML 2011);
- `"kmeans"`: a single-layer k-means network learned without labels from
  the images themselves (Coates, Ng & Lee, AISTATS 2011; 400 centroids of
  whitened 6x6 patches, triangle activation, quadrant sum pooling, see
  `hashzoo.similarity.kmeans_network`), then the `"pixels"` post-processing;
- `"kmeans+hog"`: the `"kmeans"` features, a HOG descriptor (Dalal & Triggs,
  CVPR 2005) and per-channel colour histograms (see
  `hashzoo.similarity.handcrafted`), each block post-processed to unit rows,
  weighted 1 : 1 : 0.5, concatenated, then centred, PCA to 256 and
  L2-normalised;
- `"keras_app:<name>"`: a `keras.applications` network (e.g. `resnet50`,
  average pooled, or `vgg16` / `vgg19` fc2) with weights from a local file
  only, its own input size and preprocessing;
- `"array:<path.npy>"`: an `[N, D]` array given by the user, rows in the
  order of the training images.

Measured share of same-class images among the 20 cosine nearest neighbours
on the CIFAR-10 subset's 4,050 training images (`bench/graph_purity.py`):
pixels 0.24, random_conv 0.27, kmeans 0.32, kmeans+hog 0.37.
"""

import os

import numpy as np

from hashzoo.similarity import handcrafted
from hashzoo.similarity.kmeans_network import KMeansFeatures

PIXEL_PCA_DIM = 256

#: Extractors chosen by a plain name (`keras_app:<name>` and `array:<path>` take an argument).
PLAIN_EXTRACTORS = ("pixels", "random_conv", "kmeans", "kmeans+hog")

#: The seed a method passes to `extract_features` when it builds its similarity graph; the fair floors
#: beside its presets extract the same features with it (`hashzoo.zoo.floors.feature_floors`).
GRAPH_FEATURES_SEED = 0

#: What each plain extractor fits on the set of images it is given, so that one image's features depend on
#: the others (`fitted_on_image_set`); `keras_app:` features are per image, `array:` files are given.
FITTED_ON_IMAGE_SET = {
    "pixels": "its per-dimension standardisation",
    "random_conv": "the standardisation and PCA that follow its fixed, seeded random conv layer",
    "kmeans": "its patch whitening, its k-means centroids, and the standardisation and PCA that follow",
    "kmeans+hog": "its patch whitening, its k-means centroids and the per-block and final PCAs",
}

#: Weights of the k-means, HOG and colour-histogram blocks of `"kmeans+hog"` (each block has unit rows).
KMEANS_HOG_WEIGHTS = (1.0, 1.0, 0.5)

# name -> (keras.applications constructor, its module, input side, "avg" pooling or the feature layer)
KERAS_APPS = {
    "resnet50": ("ResNet50", "resnet50", 224, "avg"),
    "vgg16": ("VGG16", "vgg16", 224, "fc2"),
    "vgg19": ("VGG19", "vgg19", 224, "fc2"),
}


def pixel_features(images, max_dim=PIXEL_PCA_DIM):
    """Pixels, standardised per dimension, PCA to `min(max_dim, D)` and L2-normalised.

    Dimensions with zero variance are centred but not scaled. The PCA takes
    the top eigenvectors of the `D x D` scatter matrix, or of the `N x N`
    Gram matrix when there are fewer items than dimensions (deterministic).

    Returns:
        float32 `[N, min(max_dim, D, N)]` with unit rows (`min(max_dim, D)`
        when `N >= D`).
    """
    x = np.asarray(images).reshape(len(images), -1).astype(np.float32)
    x -= x.mean(axis=0)
    std = x.std(axis=0)
    x /= np.where(std > 0, std, 1.0)
    num_items, total = x.shape
    dim = min(int(max_dim), total)
    if dim < total:
        import scipy.linalg

        # Top `dim` principal components, from the smaller of the D x D scatter
        # matrix and the N x N Gram matrix (x = U S V^T: x V = U S).
        if total <= num_items:
            _, vectors = scipy.linalg.eigh(x.T @ x, subset_by_index=[total - dim, total - 1])
            x = x @ vectors[:, ::-1]
        else:
            keep = min(dim, num_items)
            values, vectors = scipy.linalg.eigh(x @ x.T, subset_by_index=[num_items - keep, num_items - 1])
            x = vectors[:, ::-1] * np.sqrt(np.maximum(values[::-1], 0.0))
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x.astype(np.float32)


def random_conv_features(images, filters=256, kernel=5, grid=4, seed=0, batch_size=256):
    """Features of a frozen random conv layer (see the module docstring), unit rows.

    Pixels are scaled to [-0.5, 0.5]; the ReLU maps are max-pooled to a
    `grid x grid` map (1x1 for sides below `grid`), flattened and passed
    through `pixel_features` (standardise, PCA to 256, L2).
    """
    import keras

    images = np.asarray(images)
    side = min(images.shape[1:3])
    pool = max(1, side // grid)
    network = keras.Sequential([
        keras.Input(images.shape[1:]),
        keras.layers.Conv2D(filters, kernel, padding="same", activation="relu",
                            kernel_initializer=keras.initializers.HeNormal(seed=seed)),
        keras.layers.MaxPooling2D(pool),
        keras.layers.Flatten(),
    ])
    outputs = [
        np.asarray(network(images[start : start + batch_size].astype(np.float32) / 255.0 - 0.5))
        for start in range(0, len(images), batch_size)
    ]
    return pixel_features(np.concatenate(outputs))


def kmeans_features(images, seed=0, **options):
    """Coates-Ng k-means features (`KMeansFeatures(seed=seed, **options)`), learned on `images`.

    The network is fitted on `images` (labels are never read) and applied
    to them; its `4 * K` pooled activations go through `pixel_features`
    (standardise, PCA to 256, L2).

    Returns:
        float32 `[N, min(256, 4K)]` with unit rows.
    """
    return pixel_features(KMeansFeatures(seed=seed, **options).fit(images).transform(images))


def _centred_pca_unit_rows(x, max_dim=PIXEL_PCA_DIM):
    """Centre (no per-dimension scaling, so block weights survive), PCA to `max_dim`, L2-normalise."""
    import scipy.linalg

    x = np.asarray(x, np.float64)
    x = x - x.mean(axis=0)
    num_items, total = x.shape
    dim = min(int(max_dim), total, num_items)
    if dim < total:
        if total <= num_items:
            _, vectors = scipy.linalg.eigh(x.T @ x, subset_by_index=[total - dim, total - 1])
            x = x @ vectors[:, ::-1]
        else:
            values, vectors = scipy.linalg.eigh(x @ x.T, subset_by_index=[num_items - dim, num_items - 1])
            x = vectors[:, ::-1] * np.sqrt(np.maximum(values[::-1], 0.0))
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x.astype(np.float32)


def kmeans_hog_features(images, seed=0, block_weights=KMEANS_HOG_WEIGHTS, **options):
    """`"kmeans+hog"`: k-means, HOG and colour-histogram blocks, weighted and concatenated.

    Each block is brought to unit rows first (`pixel_features`: standardise,
    PCA to 256, L2; the colour histograms are square-rooted before), so no
    block dominates by its size or scale; the blocks are then multiplied by
    `block_weights` (k-means, HOG, colour), concatenated, centred, reduced by PCA
    to 256 dimensions and L2-normalised.

    Returns:
        float32 `[N, <= 256]` with unit rows.
    """
    blocks = [
        kmeans_features(images, seed=seed, **options),
        pixel_features(handcrafted.hog(images)),
        pixel_features(np.sqrt(handcrafted.colour_histograms(images))),
    ]
    return _centred_pca_unit_rows(np.concatenate([w * b for w, b in zip(block_weights, blocks)], axis=1))


def keras_app_features(images, name, weights, batch_size=64):
    """Features of a `keras.applications` network loaded from a local weights file.

    Args:
        images: uint8 or float pixels `[N, H, W, 1 or 3]` in [0, 255];
            resized to the network's input size, grey repeated to RGB.
        name: one of `KERAS_APPS`.
        weights: path of the network's weights file (never downloaded).
    """
    import keras
    import tensorflow as tf

    if name not in KERAS_APPS:
        raise ValueError(f"unknown feature network {name!r}; available: {sorted(KERAS_APPS)}.")
    if not weights or not os.path.isfile(str(weights)):
        raise FileNotFoundError(
            f"feature_extractor 'keras_app:{name}' needs its weights file on disk, got feature_weights="
            f"{weights!r}, which does not exist. Pretrained weights are never downloaded at run time; "
            "pass the path of the local file, or use feature_extractor='pixels'."
        )
    constructor, module, side, output = KERAS_APPS[name]
    application = getattr(keras.applications, constructor)
    preprocess = getattr(keras.applications, module).preprocess_input
    if output == "avg":
        network = application(include_top=False, weights=str(weights), pooling="avg", input_shape=(side, side, 3))
    else:
        full = application(include_top=True, weights=str(weights), input_shape=(side, side, 3))
        network = keras.Model(full.input, full.get_layer(output).output)
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = tf.cast(images[start : start + batch_size], tf.float32)
        if batch.shape[-1] == 1:
            batch = tf.repeat(batch, 3, axis=-1)
        batch = tf.image.resize(batch, (side, side))
        outputs.append(np.asarray(network(preprocess(batch), training=False)))
    return np.concatenate(outputs).astype(np.float32)


def fitted_on_image_set(extractor, image_dim):
    """What `extract_features(images, extractor)` fits on `images` as a whole, or None when each image's
    features depend on that image alone.

    Args:
        extractor: a name `check_extractor` accepts.
        image_dim: pixels per image (H * W * C): `"pixels"` fits a PCA only above `PIXEL_PCA_DIM`.
    """
    check_extractor(extractor)
    kind = extractor.partition(":")[0]
    if kind == "keras_app":
        return None
    if kind == "array":
        return "nothing: the file holds features computed elsewhere, for the training images only"
    text = FITTED_ON_IMAGE_SET[extractor]
    if extractor == "pixels" and int(image_dim) > PIXEL_PCA_DIM:
        text += f" and its PCA to {PIXEL_PCA_DIM} dimensions"
    return text


def extract_features(images, extractor="pixels", weights=None, seed=GRAPH_FEATURES_SEED):
    """Frozen features of `images` by extractor name (see the module docstring).

    Args:
        images: uint8 pixels `[N, H, W, C]`.
        extractor: one of `PLAIN_EXTRACTORS` (`"pixels"`, `"random_conv"`,
            `"kmeans"`, `"kmeans+hog"`), `"keras_app:<name>"` or
            `"array:<path.npy>"`.
        weights: the weights file of a `keras_app` extractor.
        seed: seeds the random conv layer and the k-means patches and
            centroids (same images and seed give the same features).

    Returns:
        float32 `[N, D]`.
    """
    check_extractor(extractor)
    if extractor == "pixels":
        return pixel_features(images)
    if extractor == "random_conv":
        return random_conv_features(images, seed=seed)
    if extractor == "kmeans":
        return kmeans_features(images, seed=seed)
    if extractor == "kmeans+hog":
        return kmeans_hog_features(images, seed=seed)
    kind, _, argument = extractor.partition(":")
    if kind == "keras_app":
        return keras_app_features(images, argument, weights)
    if not os.path.isfile(argument):
        raise FileNotFoundError(f"feature_extractor {extractor!r}: no file at {argument!r}.")
    features = np.load(argument)
    if features.ndim != 2 or len(features) != len(images):
        raise ValueError(
            f"feature_extractor {extractor!r}: expected an [N, D] array with N = {len(images)} rows "
            f"(one per training image, in order), got shape {features.shape}."
        )
    return features.astype(np.float32)


def check_extractor(extractor):
    """Returns `extractor` if it names a known feature extractor, else raises ValueError."""
    extractor = str(extractor)
    kind, _, argument = extractor.partition(":")
    if extractor in PLAIN_EXTRACTORS or (kind == "keras_app" and argument in KERAS_APPS) or (
        kind == "array" and argument
    ):
        return extractor
    raise ValueError(
        f"unknown feature_extractor {extractor!r}; allowed: "
        f"{', '.join(repr(name) for name in PLAIN_EXTRACTORS)}, "
        f"{', '.join(repr(f'keras_app:{name}') for name in sorted(KERAS_APPS))} or 'array:<path.npy>'."
    )
