"""Precise batch-norm statistics: moving averages recomputed from training batches.

A `BatchNormalization` layer normalizes with the statistics of the current
batch in training and with its moving averages (momentum 0.99) at
inference. When the weights move fast, the averages trail them and the
codes computed at inference differ from those the losses saw in training
(docs/bgan.md, "Batch-norm recalibration"). `recalibrate_batch_norm` sets
every such layer's moving mean and variance to population statistics
computed with the network's current weights, and `BatchNormRecalibration`
does it at the end of each epoch, before the runner's epoch checkpoint.

The statistics are the average, over a fixed set of full training batches,
of the per-batch mean and (biased) per-batch variance each layer computes in
a training-mode forward pass: the quantity Keras's moving average tracks,
without its lag. (The exact variance of the pooled images would add the
variance of the batch means; each training step normalizes by its own batch
variance, whose expectation is the average used here.)
"""

import keras
import numpy as np
import tensorflow as tf

from hashzoo.utils.validation import check_positive_int


def batch_norm_layers(network):
    """The `BatchNormalization` layers of `network`, nested models included, that use batch statistics in training.

    A frozen layer (`trainable=False`) normalizes with its moving averages in
    training too, so it has nothing to recalibrate and is left out.
    """
    layers = [layer for layer in network._flatten_layers(include_self=True, recursive=True)
              if isinstance(layer, keras.layers.BatchNormalization)]
    return [layer for layer in layers if layer.trainable]


def _value(variable):
    return np.array(keras.ops.convert_to_numpy(variable))


def recalibrate_batch_norm(network, batches, forward=None):
    """Sets each batch-norm layer's moving mean and variance to the average of its training-batch statistics.

    Runs `forward(batch)` (default `network(batch, training=True)`) on each
    batch with every layer's momentum at 0, reads the batch mean and
    variance each layer computed, averages them in float64 and assigns the
    averages. Everything else the forward passes change in `network`
    (dropout seed states; the momenta) is put back, so the only effect is on
    the moving statistics. Call it outside `strategy.run`, in or out of the
    strategy's scope (as a Keras callback is called): the batches then go
    through one device whole, so a synchronized layer computes the
    statistics of the global batch, and the assignments write every
    replica's copy of a mirrored variable.

    Args:
        network: a Keras layer or model; its layers are found recursively
            (`batch_norm_layers`).
        batches: an iterable of inputs in the form `forward` takes (already
            preprocessed). Use batches of the training batch size: the batch
            variance depends on it.
        forward: callable `batch -> outputs` running `network` in training
            mode; give one when the network is called another way.

    Returns:
        The number of batches used (0 when the network has no layer to recalibrate).

    Raises:
        ValueError: when `batches` is empty, or a layer uses batch renormalization.
    """
    layers = batch_norm_layers(network)
    if not layers:
        return 0
    renorm = [layer.name for layer in layers if getattr(layer, "renorm", False)]
    if renorm:
        raise ValueError(f"batch renormalization keeps other statistics; layers {renorm} use it.")
    # Traced once per call, after the momenta are set to 0 below (a trace keeps the values it saw).
    step = tf.function(forward or (lambda batch: network(batch, training=True)))
    statistics = [(layer.moving_mean, layer.moving_variance) for layer in layers]
    variables = list(network.non_trainable_variables)
    saved = [_value(variable) for variable in variables]
    momenta = [layer.momentum for layer in layers]
    sums = [(np.zeros(mean.shape, np.float64), np.zeros(variance.shape, np.float64)) for mean, variance in statistics]
    count = 0
    try:
        for layer, (mean, variance) in zip(layers, statistics):
            layer.momentum = 0.0
            # A non-finite old average would survive a zero momentum (0 * nan).
            mean.assign(tf.zeros(mean.shape, mean.dtype))
            variance.assign(tf.zeros(variance.shape, variance.dtype))
        for batch in batches:
            step(batch)
            for (mean, variance), (mean_sum, variance_sum) in zip(statistics, sums):
                mean_sum += _value(mean)
                variance_sum += _value(variance)
            count += 1
        if count == 0:
            raise ValueError("`batches` gave no batch to compute batch-norm statistics from.")
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        # Everything back as it was (the statistics too, when this failed) ...
        for variable, value in zip(variables, saved):
            variable.assign(value)
    # ... then the new statistics.
    for (mean, variance), (mean_sum, variance_sum) in zip(statistics, sums):
        mean.assign((mean_sum / count).astype(mean.dtype))
        variance.assign((variance_sum / count).astype(variance.dtype))
    return count


def recalibration_indices(num_images, batch_size, num_batches, seed=0):
    """Index arrays of the batches `BatchNormRecalibration` uses: the same every call.

    A permutation of `range(num_images)` drawn with `seed`, cut into
    `num_batches` full batches of `batch_size` (fewer when the images hold
    fewer full batches; one batch of every image when they hold none).
    """
    num_images = check_positive_int(num_images, "num_images")
    batch_size = check_positive_int(batch_size, "batch_size")
    num_batches = check_positive_int(num_batches, "num_batches")
    order = np.random.default_rng(int(seed)).permutation(num_images)
    if num_images < batch_size:
        return [np.sort(order)]
    count = min(num_batches, num_images // batch_size)
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(count)]


class BatchNormRecalibration(keras.callbacks.Callback):
    """Recalibrates a network's batch-norm statistics at each epoch end (`recalibrate_batch_norm`).

    The runner puts it before the epoch checkpoint, so the checkpoint, the
    validation score and the best-epoch weights all carry the recalibrated
    statistics, and a resumed run restores them. The batches are drawn once
    (`recalibration_indices`), so every epoch uses the same images.

    Args:
        network: the Keras model whose batch-norm layers are recalibrated.
        images: training images `[N, ...]` as the model takes them (uint8 pixels).
        batch_size: images per batch (the run's batch size).
        num_batches: batches per recalibration (at most the full batches in `images`).
        seed: seed of the batch draw.
        preprocess: callable `images -> network input` (default: none).
        forward: callable `input -> outputs` running `network` in training
            mode (default `network(input, training=True)`).
    """

    def __init__(self, network, images, batch_size, num_batches, seed=0, preprocess=None, forward=None):
        super().__init__()
        self.network = network
        self.batches = [images[indices] for indices in recalibration_indices(len(images), batch_size, num_batches,
                                                                               seed)]
        self.preprocess = preprocess or (lambda batch: batch)
        self.forward = forward

    def recalibrate(self):
        """Recalibrates now; returns the number of batches used."""
        return recalibrate_batch_norm(self.network, (self.preprocess(batch) for batch in self.batches), self.forward)

    def on_epoch_end(self, epoch, logs=None):
        self.recalibrate()


__all__ = ["BatchNormRecalibration", "batch_norm_layers", "recalibrate_batch_norm", "recalibration_indices"]
