"""CoopHash training throughput: the compiled step against the same step run eagerly.

Both runs use the same model configuration, the same real data and the same
number of timed steps, in one process. "Eager" turns off every `tf.function`
(`tf.config.run_functions_eagerly(True)`), the Langevin sampler's included.
The first step of each run (tracing) is excluded from the timing.

    python bench/coophash_bench.py              # digits config, 8x8
    python bench/coophash_bench.py --cifar      # cifar10 config, 32x32 (needs ../shared/data)
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from hashzoo import data, training  # noqa: E402
from machine import cpu_model, usable_cores  # noqa: E402


def images_per_second(config, images, labels, steps, eager):
    tf.config.run_functions_eagerly(eager)
    try:
        keras.utils.set_random_seed(0)
        model = training.build_model(config, data.ImageDataset(images, labels, tuple(map(str, range(10))), "bench", "bench"))
        training.compile_model(model, config.optimizers)
        batch = config.batch_size
        x, y = images[:batch], labels[:batch]
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # trace / warm up
        started = time.perf_counter()
        model.fit(np.concatenate([x] * steps), np.concatenate([y] * steps), batch_size=batch, epochs=1,
                  shuffle=False, verbose=0)
        return steps * batch / (time.perf_counter() - started)
    finally:
        tf.config.run_functions_eagerly(False)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cifar", action="store_true", help="use the cifar10 config on the CIFAR-10 subset")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per mode")
    args = parser.parse_args()

    if args.cifar:
        config = training.load_config("coophash_cifar10")
        dataset = data.load("cifar10-subset")
    else:
        config = training.load_config("coophash_digits")
        dataset = data.load_digits()
    images, labels = dataset.images, dataset.labels
    print(f"CoopHash {config.bits} bits, batch {config.batch_size}, T={config.model['langevin_steps']}, "
          f"input {images.shape[1:]}, {args.steps} timed steps per mode")
    print(f"CPU: {cpu_model()}, {usable_cores()} usable cores; "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    compiled = images_per_second(config, images, labels, args.steps, eager=False)
    eager = images_per_second(config, images, labels, args.steps, eager=True)
    print(f"compiled: {compiled:8.1f} images/s")
    print(f"eager:    {eager:8.1f} images/s")
    print(f"ratio:    {compiled / eager:8.2f}x (target >= 5x on CPU)")


if __name__ == "__main__":
    main()
