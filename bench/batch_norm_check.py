"""How far a smooth-sign preset's inference codes are from the codes its training steps saw.

A BGAN or SPAH encoder normalizes with the statistics of each batch in
training and with the moving averages of its batch-norm layers at inference
(`hashzoo.training.batch_norm`). For each preset this prints:

- `flip %`: over `--flip-batches` shuffled full batches of the preset's
  training images at the run's batch size (as a training epoch cuts them),
  the share of code bits (signs of the hash layer's pre-activation) that
  differ between the training-mode pass (batch statistics) and the inference
  pass (moving averages); dropout is left out of both, so the difference is
  batch norm's. The `batch vs batch` row compares two training-mode passes
  over the same images in differently drawn batches: the part of the flips
  that no single set of statistics removes;
- `mAP`: the protocol's mAP on its query/database split (`evaluate_split`),
  as `tools/evaluate.py` scores the preset;
- `seconds`: the time of the recalibration;

first with the published weights, then after recalibrating the encoder
(`BatchNormRecalibration`, seed 0) from each `--batches` N (0 = every full
batch). The default run (bgan-cifar10-32 and spah-digits-32) took 1.5 CPU
minutes (3 minutes wall on 2 cores shared with a training run). The numbers in docs/bgan.md and docs/spah.md come from

    nice -n 10 python bench/batch_norm_check.py --presets bgan-cifar10-16 bgan-cifar10-32 bgan-cifar10-64 \\
        --batches 10 50 0
    nice -n 10 python bench/batch_norm_check.py --presets spah-digits-32 spah-digits-64 bgan-digits-32 \\
        bgan-digits-64 --batches 10 0
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import hashzoo  # noqa: E402
from hashzoo import data  # noqa: E402
from hashzoo.training.batch_norm import BatchNormRecalibration, recalibration_indices  # noqa: E402
from hashzoo.training.core import Parts  # noqa: E402
from hashzoo.training.evaluation import evaluate_split  # noqa: E402

PRESETS = ("bgan-cifar10-32", "spah-digits-32")


def pre_activation_fn(model):
    """`(x, training) -> a`: the hash layer's pre-activation without dropout, with batch or moving statistics."""
    encoder = model.encoder

    @tf.function
    def run(x, training):
        if encoder.backbone_name != "conv":
            x = x[..., ::-1]  # the encoder's RGB to BGR flip of VGG backbones
        return encoder.hash_head.projection(encoder.backbone(x, training=training))

    return lambda images, training: np.asarray(run(model.preprocess(images), training))


def flip_rate(model, images, batch_size, batches, seed=1, against=None):
    """Share of bits whose sign differs between training-mode and inference passes over `batches` full batches.

    With `against` (a seed) the comparison is instead between two training-mode
    passes over the same images in batches drawn with `seed` and `against`:
    how much the batch statistics alone move the codes.
    """
    saved = model.encoder.get_weights()  # a training-mode pass moves the moving averages
    run = pre_activation_fn(model)
    chosen = np.concatenate(recalibration_indices(len(images), batch_size, batches, seed=seed))
    codes = np.zeros((len(images), model.code_bits), bool)
    for indices in np.split(chosen, len(chosen) // batch_size):
        codes[indices] = run(images[indices], True) >= 0
    if against is None:
        other = np.concatenate([run(images[indices], False) >= 0 for indices in
                                np.split(chosen, len(chosen) // batch_size)])
    else:
        order = np.random.default_rng(against).permutation(chosen)
        other = np.zeros_like(codes)
        for indices in np.split(order, len(order) // batch_size):
            other[indices] = run(images[indices], True) >= 0
        other = other[chosen]
    model.encoder.set_weights(saved)
    return float(np.mean(codes[chosen] != other))


def mean_average_precision(model, parts, protocol):
    result = evaluate_split(model, parts.query, parts.database, protocol, ks=(), radius=None)
    name = next(key for key in result.metrics if key.startswith("mAP"))
    return name, float(result.metrics[name])


def check(name, batch_counts, flip_batches):
    model = hashzoo.load(name)
    card = model.card
    protocol = card["protocol"]["id"]
    batch_size = int(card["config"]["batch_size"])
    parts = Parts.of(data.load(card["data"]), protocol)
    images = parts.train.images
    full = len(images) // batch_size
    flip_batches = min(flip_batches, full)
    published = model.encoder.get_weights()
    metric, before = mean_average_precision(model, parts, protocol)
    floor = flip_rate(model, images, batch_size, flip_batches, against=2)
    print(f"\n{name}: {len(images)} training images, batch {batch_size} ({full} full batches); protocol "
          f"{protocol}; flips over {flip_batches * batch_size} training images")
    print(f"  {'statistics':<32} {'flip %':>7} {metric:>9} {'seconds':>8}")
    print(f"  {'batch vs batch (two draws)':<32} {100 * floor:7.2f}")
    print(f"  {'published moving averages':<32} {100 * flip_rate(model, images, batch_size, flip_batches):7.2f} "
          f"{before:9.4f}", flush=True)
    for count in batch_counts:
        count = count or full
        model.encoder.set_weights(published)
        callback = BatchNormRecalibration(model.encoder, images, batch_size, count, seed=0,
                                          preprocess=model.preprocess)
        started = time.time()
        used = callback.recalibrate()
        seconds = time.time() - started
        _, after = mean_average_precision(model, parts, protocol)
        label = f"recalibrated, {used} batches"
        flips = flip_rate(model, images, batch_size, flip_batches)
        print(f"  {label:<32} {100 * flips:7.2f} {after:9.4f} {seconds:8.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--batches", nargs="+", type=int, default=[10, 0],
                        help="batches per recalibration (0: every full batch of the training images)")
    parser.add_argument("--flip-batches", type=int, default=25, help="full training batches the flips are counted on")
    args = parser.parse_args()
    for name in args.presets:
        check(name, args.batches, args.flip_batches)


if __name__ == "__main__":
    main()
