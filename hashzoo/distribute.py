"""What every custom `train_step` needs to be correct under `tf.distribute`, and the strategies.

`make_strategy` picks a strategy by name and `is_chief` tells the worker
that writes outputs (see docs/zoo.md, "Training runs"). Under
`MultiWorkerMirroredStrategy`, `check_workers_agree` makes sure every worker
starts from the same state and `report_lost_worker` turns a lost peer into a
`WorkerLostError` (docs/distributed.md).

Measured facts (Keras 3.15 / TF 2.21): gradients are summed
across replicas, so a hand-written loss must be divided by the replica count
before the gradient; seeded Keras random draws are identical on every replica,
so noise seeds must fold in the replica id.
"""

import contextlib
import re

import tensorflow as tf

#: Names `make_strategy` accepts (`tools/train.py --distribute`).
STRATEGIES = ("none", "mirrored", "multiworker")


def make_strategy(name):
    """A `tf.distribute` strategy by name: `"none"`, `"mirrored"` (one machine) or `"multiworker"`.

    Under `"multiworker"` call it before any other TensorFlow call: the
    strategy reads `TF_CONFIG` and starts the collective runtime.
    """
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown distribution strategy {name!r}; allowed: {list(STRATEGIES)}.")


def is_chief(strategy=None):
    """True on the worker that writes outputs (worker 0, or any single-worker run).

    Without a `strategy`, reads this process's task from `TF_CONFIG` (for
    tools that print what was written after the strategy is gone).
    """
    if strategy is None:
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    else:
        resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)


def num_replicas():
    """Replicas in sync under the current strategy (1 without one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_id():
    """This replica's id as an int32 tensor (0 outside a replica context)."""
    context = tf.distribute.get_replica_context()
    if context is None:
        return tf.constant(0, tf.int32)
    return tf.cast(context.replica_id_in_sync_group, tf.int32)


def scale_loss(loss):
    """`loss / num_replicas()`: differentiate this, track the unscaled loss.

    Call it inside the `GradientTape`, or the tape cannot see the division.
    """
    return loss / tf.cast(num_replicas(), loss.dtype)


def replica_seed(seed_generator):
    """A stateless-RNG seed (int32 `[2]`) that differs per replica and per call.

    Takes the next seed of a `keras.random.SeedGenerator` (so runs stay
    reproducible) and folds in the replica id (so replicas draw different
    noise). Use it with `tf.random.stateless_*`.
    """
    return fold_replica(step_seed(seed_generator))


def step_seed(seed_generator):
    """The next seed of a `SeedGenerator`, the same on every replica (int32 `[2]`).

    Pair it with `replica_normal` / `replica_uniform_int`, which draw the
    global batch and slice this replica's rows. For draws that are local to a
    replica (in-batch shuffles), use `replica_seed` instead.
    """
    return tf.cast(seed_generator.next(), tf.int32)


def fold_replica(seed):
    """`seed` with the replica id folded in, for draws local to one replica."""
    return tf.random.experimental.stateless_fold_in(seed, replica_id())


def split_seed(seed, count):
    """`count` independent int32 `[2]` seeds derived from one seed."""
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=count))


def _replica_rows(draw, local_shape, seed):
    local_shape = tf.cast(tf.convert_to_tensor(local_shape), tf.int32)
    local_rows = local_shape[0]
    full = draw(tf.concat([[local_rows * num_replicas()], local_shape[1:]], 0), seed)
    start = replica_id() * local_rows
    return full[start : start + local_rows]


def replica_normal(local_shape, seed, dtype=tf.float32):
    """Standard normal noise for this replica's rows of the global batch.

    Draws the whole global batch (`num_replicas * local_shape[0]` rows) from
    one stateless seed and returns this replica's slice. Replicas therefore
    get different noise, and a step on N replicas draws exactly the noise one
    device would draw for the same global batch, so the two take the same
    step. `local_shape[0]` is the per-replica batch size (a tensor is fine).
    """
    return _replica_rows(lambda shape, s: tf.random.stateless_normal(shape, s, dtype=dtype), local_shape, seed)


def replica_uniform_int(local_shape, seed, minval, maxval):
    """Uniform int32 in [minval, maxval) for this replica's rows (see `replica_normal`)."""
    return _replica_rows(
        lambda shape, s: tf.random.stateless_uniform(shape, s, minval=minval, maxval=maxval, dtype=tf.int32),
        local_shape,
        seed,
    )


def replica_uniform(local_shape, seed, minval=0.0, maxval=1.0, dtype=tf.float32):
    """Uniform noise in [minval, maxval) for this replica's rows (see `replica_normal`)."""
    return _replica_rows(
        lambda shape, s: tf.random.stateless_uniform(shape, s, minval=minval, maxval=maxval, dtype=dtype),
        local_shape,
        seed,
    )


def gather_replicas(value):
    """`value` of every replica, concatenated along axis 0 in replica order.

    For losses over pairs of batch items: each replica pairs its own rows
    with the rows of the whole global batch, which `fit` splits across
    replicas in this same order. Gradients flow back to every replica's rows
    (TensorFlow's `all_gather` gradient sums them across replicas), so a loss
    that is a mean over "local rows x global columns", divided by the
    replica count like any other (`scale_loss`), takes exactly the step one
    device takes on the whole batch. The identity on one replica.
    """
    if num_replicas() == 1:
        return value
    # `tf.identity` places the value on this replica's device: a step's input tensor (a label batch gathered
    # as it comes) has no device inside the traced step, and MultiWorkerMirroredStrategy's all_gather then
    # fails with "destinations can not be empty" (measured: SADH's label step, TF 2.21).
    return tf.distribute.get_replica_context().all_gather(tf.identity(value), axis=0)


def in_multi_worker_mode(strategy=None):
    """True under a MultiWorkerMirroredStrategy (default: the current one) that spans more than one worker."""
    strategy = strategy or tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


def worker_name(strategy):
    """`"worker 1"` (the task type and index from `TF_CONFIG`), or `"this worker"` outside a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "this worker"
    return f"{resolver.task_type} {resolver.task_id}"


def check_workers_agree(strategy, facts, advice=""):
    """Raises a `ValueError` on every worker when the workers' `facts` differ; a no-op on one worker.

    `facts` is `{name: int}`, the same names on every worker (for example
    where a resumed run starts). The values are gathered across workers, so
    the call is itself a collective: every worker must make it at the same
    point. Workers that started from different states would otherwise issue
    different collectives and fail later with an unrelated-looking
    "Collective instance ... expected type" error (docs/distributed.md).
    """
    if not in_multi_worker_mode(strategy):
        return
    names = sorted(facts)
    local = tf.constant([[int(facts[name]) for name in names]], tf.int64)
    rows = strategy.gather(strategy.run(lambda: tf.identity(local)), axis=0).numpy()
    if (rows == rows[0]).all():
        return
    per_worker = max(1, len(rows) // strategy.extended._num_workers)
    shown = "; ".join(f"worker {index // per_worker}: " + ", ".join(f"{name} {int(v)}" for name, v in zip(names, row))
                      for index, row in enumerate(rows) if index % per_worker == 0)
    raise ValueError(f"the workers disagree on where the run starts ({shown}).{advice and ' ' + advice}")


class WorkerLostError(RuntimeError):
    """A peer of a multi-worker run stopped (killed, crashed, its host lost), so this worker cannot go on.

    Attributes:
        task: the lost task as TensorFlow names it (`/job:worker/replica:0/task:1`), or None when the
            error text does not say.
        backup: the backup folder a restart resumes from.
    """

    def __init__(self, message, task=None, backup=None):
        super().__init__(message)
        self.task = task
        self.backup = backup


#: TensorFlow error types a lost peer raises in a collective (the dead peer's socket, its missed heartbeats).
LOST_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError)
_UNHEALTHY = re.compile(r"following tasks are unhealthy[^\n]*:\s*\n\s*(/job:\S+)")
_REPORTED = re.compile(r"Error reported from (/job:[^\s:]+(?::\d+)?)")
_REMOTE = re.compile(r"remote target (/job:\S+) while calling")
_TASK = re.compile(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)")


def lost_task(text):
    """The task a TensorFlow error text names as lost (`/job:worker/replica:0/task:1`), or None.

    Measured (TF 2.21): a killed worker that was not the coordination leader
    is named in "The following tasks are unhealthy"; a killed chief (worker
    0, the leader) in "Connection refused ... from remote target <task>".
    """
    for pattern in (_UNHEALTHY, _REPORTED, _REMOTE):
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def describe_task(task):
    """`"worker 1 (/job:worker/replica:0/task:1)"` from a TensorFlow task name; `"a peer worker"` for None."""
    if not task:
        return "a peer worker"
    match = _TASK.search(task)
    return f"{match.group(1)} {match.group(2)} ({task})" if match else task


def is_lost_peer(error):
    """True when `error` is a collective that failed because a peer is gone (not a programming error)."""
    text = str(error)
    return isinstance(error, LOST_PEER_ERRORS) or "unhealthy" in text or "stopped sending heartbeats" in text


@contextlib.contextmanager
def report_lost_worker(strategy, backup, progress=lambda: "the work finished so far"):
    """Turns a lost peer under a multi-worker `strategy` into a `WorkerLostError`; other errors pass.

    The message names the lost task (parsed from TensorFlow's error text),
    what the backup folder `backup` holds (`progress()`, read when the error
    happens) and that restarting every worker with the same command resumes
    it (docs/distributed.md).
    """
    try:
        yield
    except tf.errors.OpError as error:
        if not in_multi_worker_mode(strategy) or not is_lost_peer(error):
            raise
        task = lost_task(str(error))
        raise WorkerLostError(
            f"{describe_task(task)} stopped, so {worker_name(strategy)} cannot go on (TensorFlow: "
            f"{type(error).__name__}). The backup folder {backup} holds {progress()}; start every worker again "
            "with the same command to resume from it (docs/distributed.md).",
            task=task, backup=backup,
        ) from error


def report(trackers):
    """What `train_step` returns: `{name: result}` of `keras.metrics.Mean` trackers.

    Under multi-worker training Keras 3 reduces every returned value with
    `strategy.reduce("MEAN", v, axis=0)`, which fails on scalars
    (tensorflow/tensorflow#72388); there each result gets shape `[1]`, and
    the mean over that axis gives the scalar back. Tracker results are the
    same on every replica, so the mean is exact.
    """
    results = {tracker.name: tracker.result() for tracker in trackers}
    if in_multi_worker_mode():
        results = {name: tf.reshape(value, [1]) for name, value in results.items()}
    return results
