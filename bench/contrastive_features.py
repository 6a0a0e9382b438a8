"""Would a small self-supervised network give BGAN a graph worth more than its floor?

A diagnostic for docs/similarity.md ("Self-supervised features"), not a
feature extractor of the library: it trains a small conv net with the SimCLR
objective (two augmented views of each image must find each other among the
batch's other views; NT-Xent loss) on the protocol's train images, labels never
read, and prints, for the net's pooled features (standardised, PCA to 256 and
L2-normalised like every extractor of `hashzoo.similarity`):

- `purity@K` over the train images every 10 epochs (the only place labels
  are read, as in `bench/graph_purity.py`), post-processed over the train
  images alone, as a method's graph features are;
- at the end, PCA-ITQ's mAP@all on the query/database split, fitted on the
  train rows of the features of every image (post-processed over all
  images, like `--save`): the floor a method that builds its graph from these
  features has to beat.

`--save F.npy` writes the features of every image (rows in dataset order);
`python bench/graph_fit.py --features array:F.npy` then fits free codes to the
graph BGAN would build from them, the ceiling of what the graph can teach.

    python bench/contrastive_features.py --data cifar10-subset --protocol cifar10-subset \\
        --epochs 100 --save runs/contrastive-cifar10-subset.npy
    python bench/graph_fit.py --features array:runs/contrastive-cifar10-subset.npy

The augmentations are SimCLR's, scaled down for small images: a random
resized crop (25-100 % of the area) with a horizontal flip, brightness,
contrast and saturation jitter (80 % of views), and greyscale (20 %).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from hashzoo import data, similarity  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_purity import itq_map, purity  # noqa: E402


def augment(images, tf):
    """One random SimCLR view of each image of `images` `[B, H, W, 3]` in [0, 1], centred to [-0.5, 0.5]."""
    batch = tf.shape(images)[0]
    size = tf.shape(images)[1:3]

    def uniform(low, high, shape=None):
        return tf.random.uniform(shape if shape is not None else [batch], low, high)

    area, aspect = uniform(0.25, 1.0), tf.exp(uniform(np.log(3 / 4), np.log(4 / 3)))
    height, width = tf.minimum(tf.sqrt(area / aspect), 1.0), tf.minimum(tf.sqrt(area * aspect), 1.0)
    top, left = uniform(0.0, 1.0) * (1 - height), uniform(0.0, 1.0) * (1 - width)
    flip = uniform(0.0, 1.0) < 0.5
    # A box whose x1 > x2 is read mirrored by crop_and_resize: the flip comes with the crop.
    boxes = tf.stack([top, tf.where(flip, left + width, left), top + height, tf.where(flip, left, left + width)], 1)
    views = tf.image.crop_and_resize(images, boxes, tf.range(batch), size)
    jitter = tf.cast(uniform(0.0, 1.0, [batch, 1, 1, 1]) < 0.8, tf.float32)
    views *= 1 + jitter * uniform(-0.4, 0.4, [batch, 1, 1, 1])
    mean = tf.reduce_mean(views, [1, 2, 3], keepdims=True)
    views = (views - mean) * (1 + jitter * uniform(-0.4, 0.4, [batch, 1, 1, 1])) + mean
    grey = tf.reduce_mean(views, -1, keepdims=True)
    views = (views - grey) * (1 + jitter * uniform(-0.4, 0.4, [batch, 1, 1, 1])) + grey
    to_grey = tf.cast(uniform(0.0, 1.0, [batch, 1, 1, 1]) < 0.2, tf.float32)
    views = to_grey * tf.reduce_mean(views, -1, keepdims=True) + (1 - to_grey) * views
    return tf.clip_by_value(views, 0.0, 1.0) - 0.5


def build_networks(keras, shape, width):
    """A 4-block conv trunk (width, 2, 4, 8 x width channels, global average pool) and a 2-layer projection."""
    layers = [keras.Input(shape)]
    for scale in (1, 2, 4, 8):
        layers += [keras.layers.Conv2D(scale * width, 3, padding="same", use_bias=False),
                   keras.layers.BatchNormalization(), keras.layers.ReLU()]
        layers.append(keras.layers.MaxPooling2D() if scale < 8 else keras.layers.GlobalAveragePooling2D())
    trunk = keras.Sequential(layers)
    head = keras.Sequential([keras.Input((8 * width,)), keras.layers.Dense(8 * width, activation="relu"),
                             keras.layers.Dense(128)])
    return trunk, head


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="cifar10-subset")
    parser.add_argument("--protocol", default="cifar10-subset")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.2)
    parser.add_argument("--learning_rate", type=float, default=2e-3, help="Adam, cosine decay to 0")
    parser.add_argument("--width", type=int, default=32, help="channels of the first conv block")
    parser.add_argument("--k", type=int, default=20, help="neighbours per image for the purity")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="write the features of every image to this .npy file")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(args.seed)
    dataset = data.load(args.data)
    split = data.get_protocol(args.protocol).split(dataset.labels, dataset.class_names)
    images = dataset.images.astype(np.float32) / 255.0
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    train, train_y = images[split.train], dataset.labels[split.train]
    if len(train) < args.batch_size:
        raise ValueError(f"--batch_size {args.batch_size} is more than the {len(train)} train images.")
    trunk, head = build_networks(keras, train.shape[1:], args.width)
    steps_per_epoch = len(train) // args.batch_size
    optimizer = keras.optimizers.Adam(
        keras.optimizers.schedules.CosineDecay(args.learning_rate, steps_per_epoch * args.epochs))
    variables = trunk.trainable_variables + head.trainable_variables

    @tf.function
    def step(batch):
        views = tf.concat([augment(batch, tf), augment(batch, tf)], 0)
        count = tf.shape(batch)[0]
        with tf.GradientTape() as tape:
            z = tf.math.l2_normalize(head(trunk(views, training=True), training=True), -1)
            logits = tf.matmul(z, z, transpose_b=True) / args.temperature - 1e9 * tf.eye(2 * count)
            partner = tf.concat([tf.range(count) + count, tf.range(count)], 0)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(partner, logits))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def features(rows):
        pooled = [np.asarray(trunk(rows[start : start + 512] - 0.5, training=False))
                  for start in range(0, len(rows), 512)]
        return similarity.features.pixel_features(np.concatenate(pooled))

    print(f"{args.data}, protocol {args.protocol}: {len(train)} train images {train.shape[1:]}, "
          f"{steps_per_epoch} steps of {args.batch_size} an epoch, seed {args.seed}")
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(train))
        losses = [float(step(tf.constant(train[order[i * args.batch_size : (i + 1) * args.batch_size]])))
                  for i in range(steps_per_epoch)]
        line = f"epoch {epoch}: loss {np.mean(losses):.3f}, {time.perf_counter() - started:.0f} s"
        if epoch % 10 == 0 or epoch == args.epochs:
            line += f", purity@{args.k} (train) {purity(features(train), train_y, args.k):.3f}"
        print(line, flush=True)
    everything = features(images)
    labels = dataset.labels
    score = itq_map(everything[split.train], everything[split.query], labels[split.query],
                    everything[split.database], labels[split.database], args.bits, args.seed)
    print(f"PCA-ITQ on these features, {args.bits} bits, query/database mAP@all: {score:.4f}")
    if args.save:
        temporary = args.save + ".partial.npy"
        np.save(temporary, everything)
        os.replace(temporary, args.save)
        print(f"features of all {len(everything)} images written to {args.save}")


if __name__ == "__main__":
    main()
