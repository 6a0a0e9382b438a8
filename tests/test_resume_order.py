"""A training pipeline's epoch order is a function of (seed, epoch): a resumed run reads what an uninterrupted one read.

`hashzoo.data.make_tf_dataset` and `make_similarity_dataset` cut stateless
permutations (one per pass over the set) into an endless stream of batches;
epoch e of `steps` batches is the stream's batches e * steps to
(e + 1) * steps. The training runner tells the pipeline fit's epoch through
`PipelineEpoch` (docs/zoo.md, "Training runs").
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from hashzoo import data
from hashzoo.training.core import PipelineEpoch
from tests import helpers

N, BATCH = 10, 3  # three full batches per pass, one item dropped


def pixels(n=N):
    return np.repeat(np.arange(n, dtype=np.uint8), 4).reshape(n, 2, 2, 1)


class Identity:
    """A similarity 'matrix' whose block is the pair of id vectors: shows which items a batch holds."""

    num_items = N

    def tf_block_fn(self):
        return lambda rows, cols: tf.cast(tf.stack([rows, cols]), tf.float32)


def ids(dataset, count=None):
    """The item ids of each batch (labels are the ids; for the similarity pipeline, the block's rows)."""
    out = []
    for index, (_, second) in enumerate(dataset):
        if count is not None and index == count:
            break
        second = np.asarray(second)
        out.append((second[0] if second.ndim == 2 else second).astype(int).tolist())
    return out


def labelled(**kwargs):
    return data.make_tf_dataset(pixels(), np.arange(N), batch_size=BATCH, drop_remainder=True, **kwargs)


def similar(**kwargs):
    return data.make_similarity_dataset(pixels(), Identity(), batch_size=BATCH, **kwargs)


@pytest.mark.parametrize("make", [labelled, similar])
def test_an_epoch_is_a_function_of_the_seed_and_the_epoch(make):
    epoch = tf.Variable(0, dtype=tf.int64)
    counted = make(seed=3, epoch=epoch)
    seen = []
    for e in range(3):
        epoch.assign(e)
        seen.append(ids(counted))
    assert ids(counted) == seen[2]  # iterating again does not move on
    for e in range(3):
        assert ids(make(seed=3, epoch=e)) == seen[e]  # a fresh pipeline, never iterated before
        batches = np.array(seen[e])
        assert batches.shape == (3, BATCH) and len(set(batches.ravel())) == 9  # one pass, the remainder dropped
    assert seen[0] != seen[1] != seen[2]
    assert ids(make(seed=4, epoch=1)) != seen[1]
    # The images travel with their ids.
    for images, _ in make(seed=3, epoch=1):
        assert np.asarray(images)[:, 0, 0, 0].astype(int).tolist() in seen[1]


@pytest.mark.parametrize("make", [labelled, similar])
@pytest.mark.parametrize("steps", [None, 2, 5])
def test_a_pipeline_started_at_epoch_e_continues_one_started_at_0(make, steps):
    per_epoch = steps or 3
    stream = ids(make(seed=1, repeat=True, steps=steps), 5 * per_epoch)
    assert ids(make(seed=1, repeat=True, steps=steps), 5 * per_epoch) == stream
    for e in range(4):
        assert ids(make(seed=1, repeat=True, epoch=e, steps=steps), per_epoch) == stream[e * per_epoch:][:per_epoch]
        assert ids(make(seed=1, epoch=e, steps=steps)) == stream[e * per_epoch:][:per_epoch]


def test_an_incomplete_last_batch_is_kept_unless_dropped():
    kept = ids(data.make_tf_dataset(pixels(), np.arange(N), batch_size=BATCH, seed=2, epoch=1))
    assert [len(batch) for batch in kept] == [3, 3, 3, 1]
    assert sorted(sum(kept, [])) == list(range(N))
    with pytest.raises(ValueError, match="would be empty"):
        data.make_tf_dataset(pixels(2), np.arange(2), batch_size=BATCH, drop_remainder=True)


def test_without_an_epoch_every_iteration_reshuffles_reproducibly():
    def two(seed):
        dataset = labelled(seed=seed)
        return ids(dataset), ids(dataset)

    first = two(7)
    assert first == two(7) and first[0] != first[1] and first != two(8)


class Recorder(keras.Model):
    """Records, per replica, the ids (labels) of every batch it trains on."""

    seen = {}

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(tf.reshape(x, [tf.shape(x)[0], -1]))

    def train_step(self, batch):
        _, labels = batch
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group

        def record(replica, labels):
            Recorder.seen.setdefault(int(replica), []).append(labels.numpy().astype(int).tolist())
            return 0

        return {"recorded": tf.py_function(record, [replica, labels], tf.int64)}


def fit_order(strategy, epochs, initial_epoch=0, steps=None):
    """The global batches a fit trains on, as the runner wires it (replicas' rows concatenated in order)."""
    Recorder.seen = {}
    with strategy.scope():
        model = Recorder()
        model(np.zeros((1, 2, 2, 1), np.float32))
        model.compile(optimizer="sgd", jit_compile=False)
        epoch = PipelineEpoch()
        dataset = data.make_tf_dataset(pixels(), np.arange(N), batch_size=BATCH + 1 if steps else 2, seed=5,
                                       drop_remainder=True, epoch=epoch.epoch, steps=steps)
        model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, callbacks=[epoch], verbose=0, shuffle=False)
    replicas = [Recorder.seen[r] for r in sorted(Recorder.seen)]
    return [sum(rows, []) for rows in zip(*replicas)]


@pytest.mark.parametrize("steps", [None, 3])
def test_fit_reads_epoch_e_whether_it_starts_there_or_not_and_on_two_replicas(steps):
    per_epoch = steps or N // 2
    batch = BATCH + 1 if steps else 2
    expected = ids(data.make_tf_dataset(pixels(), np.arange(N), batch_size=batch, seed=5, drop_remainder=True,
                                        repeat=True, steps=steps), 3 * per_epoch)
    one = tf.distribute.get_strategy()
    assert fit_order(one, 3, steps=steps) == expected
    assert fit_order(one, 3, initial_epoch=2, steps=steps) == expected[2 * per_epoch:]
    two = helpers.two_replica_strategy()
    assert fit_order(two, 3, steps=steps) == expected
    assert fit_order(two, 3, initial_epoch=1, steps=steps) == expected[per_epoch:]
