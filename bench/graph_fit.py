"""How well codes can fit BGAN's neighbourhood graph, under each form of the neighbourhood loss.

A diagnostic for docs/similarity.md, "Which loss fits the graph": it separates
what the graph allows from what BGAN's networks and optimiser make of it.
For one feature extractor it builds BGAN's ±1 shared-neighbour matrix S over
the protocol's train images (`hashzoo.methods.bgan.similarity.bgan_similarity`,
labels never read) and fits, by full-batch Adam on the dense S:

- `free`: one free continuous code per train image, h = tanh(k z) with the
  slope k raised as BGAN's schedule does and no quantisation term (it would
  freeze each code near its random start), scored by mAP@all of sign(h) among
  the train images themselves (the even rows query the odd rows, so no image
  meets itself) -- the ceiling of the graph under that loss;
- `linear`: a linear hash of the frozen features, h = tanh(k f W), fitted on
  the train rows and scored on the protocol's query / database split like
  every method -- a floor an image encoder should beat.

Beside them, on the same halves of the train images, what the features
themselves allow (`--no-rankings` skips these; they need an N x N inverse):
their real-valued cosine ranking, which the graph's K-NN lists only sample; a
diffusion ranking on their K-NN graph (a random walk with restart, which
often lifts such rankings); and PCA-ITQ codes at the same length. If even the
real-valued ranking is only a little above PCA-ITQ's codes, no code fitted to
a graph of these features can pass PCA-ITQ on them by much.

Each under the neighbourhood losses of `hashzoo.losses` that BGAN offers
(`neighbourhood_balance`: `none`, BGAN's mean over all pairs; `balanced`,
positives and negatives weighted to half each). PCA-ITQ on the same features
is printed for reference. Labels only score the codes.

    nice -n 5 python bench/graph_fit.py --data cifar10-subset --protocol cifar10-subset --features kmeans+hog

`--features array:F.npy` takes features of every image of the dataset (rows
in dataset order, e.g. from `bench/contrastive_features.py --save F.npy`); the
graph is then built from their train rows.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from hashzoo import baselines, data, losses, metrics, similarity  # noqa: E402
from hashzoo.methods.bgan.schedule import staged_slope  # noqa: E402
from hashzoo.methods.bgan.similarity import bgan_similarity  # noqa: E402
from hashzoo.similarity import unit_rows  # noqa: E402


def score(codes_query, query_y, codes_database, database_y, bits):
    """mAP@all of sign codes, as every method is scored."""
    result = metrics.evaluate(np.where(codes_query >= 0, 1, -1).astype("int8"), query_y,
                              np.where(codes_database >= 0, 1, -1).astype("int8"), database_y,
                              bits=bits, k=None, ks=(), radius=None)
    return result.metrics["mAP@all"]


def ranking_map(scores, labels):
    """mAP@all of a real-valued ranking of train images, even rows querying odd rows (as the free codes)."""
    queries, items = np.arange(0, len(labels), 2), np.arange(1, len(labels), 2)
    order = np.argsort(-scores[np.ix_(queries, items)], axis=1, kind="stable")
    relevant = labels[items][order] == labels[queries][:, None]
    precision = np.cumsum(relevant, axis=1) / np.arange(1, len(items) + 1)
    return float(np.mean((precision * relevant).sum(1) / np.maximum(relevant.sum(1), 1)))


def diffusion_scores(unit, k=50, alpha=0.9, power=3):
    """(I - alpha A)^-1 of the symmetric, degree-normalised K-NN graph with cosine^power weights."""
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    neighbours = np.argpartition(-cosine, k, axis=1)[:, :k]
    rows = np.arange(len(unit))[:, None]
    weights = np.zeros_like(cosine)
    weights[rows, neighbours] = np.maximum(cosine[rows, neighbours], 0) ** power
    weights = np.maximum(weights, weights.T)
    scale = 1 / np.sqrt(np.maximum(weights.sum(1), 1e-12))
    return np.linalg.inv(np.eye(len(unit)) - alpha * scale[:, None] * weights * scale[None, :])


def train_rankings(train_f, train_y, bits, seed):
    """What the features allow on the free codes' halves: cosine and diffusion rankings, PCA-ITQ codes."""
    unit = unit_rows(train_f - train_f.mean(0))
    codes = baselines.PCAITQ(bits, seed=seed).fit(train_f).encode(train_f).astype("float32")
    return {
        "real-valued cosine ranking of the features": ranking_map(unit @ unit.T, train_y),
        "diffusion ranking on their 50-NN graph": ranking_map(diffusion_scores(unit), train_y),
        f"PCA-ITQ codes, {bits} bits": score(codes[0::2], train_y[0::2], codes[1::2], train_y[1::2], bits),
    }


def fit(parameters, hash_of, target, balance, steps, learning_rate, quantization=1.0):
    """Full-batch Adam on the neighbourhood loss (+ quantisation), slope raised as BGAN's schedule does."""
    # A tiny epsilon: the mean over N^2 pairs gives per-code gradients of order 1/N, which the default would swamp.
    optimizer = tf.keras.optimizers.Adam(learning_rate, epsilon=1e-12)
    target = tf.constant(target)

    @tf.function
    def step(slope):
        with tf.GradientTape() as tape:
            codes = hash_of(slope)
            loss = losses.neighbourhood_loss(codes, codes, target, balance=balance)
            loss += quantization * losses.quantization_loss(codes) / codes.shape[-1]
        optimizer.apply_gradients(zip(tape.gradient(loss, parameters), parameters))
        return loss

    for i in range(steps):
        loss = step(tf.constant(staged_slope(i, steps), tf.float32))
    return float(loss)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="cifar10-subset")
    parser.add_argument("--protocol", default="cifar10-subset")
    parser.add_argument("--features", default="kmeans+hog")
    parser.add_argument("--bits", type=int, default=32)
    parser.add_argument("--k1", type=int, default=20)
    parser.add_argument("--k2", type=int, default=30)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--learning_rate", type=float, default=1e-2)
    parser.add_argument("--balances", nargs="+", default=["none", "balanced"])
    parser.add_argument("--no-rankings", dest="rankings", action="store_false",
                        help="skip the rankings of the train images by the features themselves.")
    parser.add_argument("--seed", type=int, default=0, help="seeds the fits and PCA-ITQ (features use BGAN's).")
    args = parser.parse_args()

    dataset = data.load(args.data)
    split = data.get_protocol(args.protocol).split(dataset.labels, dataset.class_names)
    labels = dataset.labels
    started = time.perf_counter()
    # S exactly as BGAN builds it: features of the train images alone. The linear hash and PCA-ITQ need
    # features of query and database images too, from one extraction over every image.
    if args.features.startswith("array:"):
        # Features computed elsewhere for every image in dataset order (bench/contrastive_features.py --save).
        features = similarity.extract_features(dataset.images, args.features).astype("float32")
        graph_f = features[split.train]
    else:
        graph_f = similarity.extract_features(dataset.images[split.train], args.features,
                                              seed=similarity.GRAPH_FEATURES_SEED)
        features = similarity.extract_features(dataset.images, args.features,
                                               seed=similarity.GRAPH_FEATURES_SEED).astype("float32")
    train_f = features[split.train]
    matrix = bgan_similarity(graph_f, k1=args.k1, k2=args.k2)
    dense = matrix.dense().astype("float32")
    positives = float(np.mean(dense > 0))
    print(f"{args.data} / {args.protocol}, features {args.features} ({features.shape[1]}-d, "
          f"{time.perf_counter() - started:.0f} s), S over {len(train_f)} train images: {positives:.3f} of pairs +1; "
          f"{args.bits} bits, {args.steps} full-batch Adam steps, seed {args.seed}")
    itq = baselines.PCAITQ(args.bits, seed=args.seed).fit(train_f)
    itq_score = score(itq.encode(features[split.query]).astype("float32"), labels[split.query],
                      itq.encode(features[split.database]).astype("float32"), labels[split.database], args.bits)
    print(f"PCA-ITQ on the same features, query/database mAP@all: {itq_score:.4f}")
    train_y = labels[split.train]
    if args.rankings:
        print("Train images by the features themselves (even rows query odd rows), mAP@all:")
        for name, value in train_rankings(train_f, train_y, args.bits, args.seed).items():
            print(f"  {name}: {value:.4f}")
    print("| loss (neighbourhood_balance) | free codes: final loss | free codes: train mAP@all "
          "| linear on features: final loss | linear: query/database mAP@all |")
    print("|---|---|---|---|---|")
    for balance in args.balances:
        rng = np.random.default_rng(args.seed)
        z = tf.Variable(rng.normal(0, 0.1, (len(train_f), args.bits)).astype("float32"))
        # No quantisation term here: on free codes it saturates each code in its random start direction long
        # before the pairwise term, whose gradient is ~1/N as strong, can arrange them.
        free_loss = fit([z], lambda k: tf.tanh(k * z), dense, balance, args.steps, args.learning_rate, 0.0)
        free_codes = np.tanh(z.numpy())
        # Never an image against itself: the even train rows query the odd ones.
        free_score = score(free_codes[0::2], train_y[0::2], free_codes[1::2], train_y[1::2], args.bits)

        w = tf.Variable(rng.normal(0, 1 / np.sqrt(train_f.shape[1]), (train_f.shape[1], args.bits)).astype("float32"))
        f = tf.constant(train_f)
        linear_loss = fit([w], lambda k: tf.tanh(k * (f @ w)), dense, balance, args.steps, args.learning_rate)
        encode = lambda rows: features[rows] @ w.numpy()  # noqa: E731
        linear_score = score(encode(split.query), labels[split.query], encode(split.database),
                             labels[split.database], args.bits)
        print(f"| {balance} | {free_loss:.4f} | {free_score:.4f} | {linear_loss:.4f} | {linear_score:.4f} |",
              flush=True)


if __name__ == "__main__":
    main()
