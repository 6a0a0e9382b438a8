"""MultiWorkerMirroredStrategy for real: two processes on 127.0.0.1 (docs/distributed.md).

No faster test covers the TF_CONFIG path, so these stay in the default run,
kept small: smoke configs, one or two epochs of a few large batches, a
timeout on every process. Each worker writes its temporaries under the
test's own TMPDIR, so the tests can check that only worker 0 leaves output.
"""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKER = pathlib.Path(__file__).with_name("multiworker_worker.py")
TRAIN = ROOT / "tools" / "train.py"
#: A few steps per epoch: the digits train split in batches of this size.
BATCH = 256
#: Seconds one process may take (the two-process runs take about a minute on two busy cores).
TIMEOUT = 420

#: The smoke config of every trainable method (`hashzoo.methods`, classifier floors aside). Three plain runs
#: are `slow` to keep `make test` in its time budget: CoopHash's, because the default run trains it on two
#: workers in the kill-and-resume test, and BGAN's and SPAH's, whose steps are checked against one device
#: under an in-process two-replica MirroredStrategy (tests/methods/test_bgan.py, test_spah.py). SADH's stays:
#: its label stage gathers across workers, which only a real two-worker run exercises.
SMOKE_CONFIGS = [pytest.param("coophash_digits:smoke", marks=pytest.mark.slow),
                 pytest.param("bgan_digits:smoke", marks=pytest.mark.slow),
                 "sadh_digits_mosaic:smoke",
                 pytest.param("spah_digits:smoke", marks=pytest.mark.slow)]

#: What TensorFlow 2.21 raised on worker 0 when worker 1 was killed (issue 16), trimmed.
LOST_PEER_TEXT = (
    "{{function_node __wrapped__CollectiveReduceV2_Nordering_token_1_device_/job:worker/replica:0/task:0/device:CPU:0}}"
    " Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks are unhealthy "
    "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed. Check the task logs for an "
    "earlier error, or scheduler events (e.g. preemption, eviction) to debug further.\n"
)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(arguments, workers, cwd, tmp):
    """One process per worker address, each with its TF_CONFIG; `arguments` is the command after python."""
    tmp.mkdir(parents=True, exist_ok=True)
    procs = []
    for index in range(len(workers)):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(config), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
                   TMPDIR=str(tmp))
        procs.append(subprocess.Popen([sys.executable, *map(str, arguments)], env=env, cwd=cwd,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def finish(procs):
    """`[(returncode, stdout, stderr)]` of every process; kills them all on a timeout or a failure."""
    try:
        return [(proc.wait(timeout=TIMEOUT), *proc.communicate()) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()


def weights(results):
    """The `WEIGHTS` digests printed by `multiworker_worker.py`, after checking every worker succeeded."""
    for returncode, _, stderr in results:
        assert returncode == 0, stderr[-3000:]
    return [line.split()[1] for _, stdout, _ in results for line in stdout.splitlines() if line.startswith("WEIGHTS")]


def wait_for(path, procs, timeout=TIMEOUT):
    """Polls until `path` exists; fails when a worker ends first or the time is up."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        ended = [proc.args for proc in procs if proc.poll() is not None]
        assert not ended and time.monotonic() < deadline, f"no {path} (ended: {ended})"
        time.sleep(0.2)


@pytest.mark.parametrize("config", SMOKE_CONFIGS)
def test_two_workers_train_identical_weights_and_only_worker_0_writes(tmp_path, config):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    out = tmp_path / "preset"
    digests = weights(finish(start_workers([WORKER, out, config, 1, BATCH], workers, tmp_path, tmp_path / "tmp")))
    assert len(digests) == 2 and digests[0] == digests[1], digests
    assert (out / "model.weights.h5").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preset", "tmp"], "only worker 0 may leave an output"
    assert not list((tmp_path / "tmp").iterdir()), "worker 1 removes its private preset and backup"


def test_a_lost_worker_stops_the_other_with_an_error_and_a_restart_resumes(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    out = tmp_path / "preset"
    train = [TRAIN, "--config", "coophash_digits:smoke", "--epochs", 2, "--batch_size", BATCH,
             "--distribute", "multiworker", "--out", out, "--verbose", 0]
    first = start_workers(train, workers, tmp_path, tmp_path / "tmp1")
    try:
        wait_for(tmp_path / "preset.backup" / "fit" / "checkpoint.json", first)
    except BaseException:
        finish([proc for proc in first if proc.kill() or True])
        raise
    os.kill(first[1].pid, signal.SIGKILL)
    results = finish(first)
    returncode, _, stderr = results[0]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert returncode == 4, stderr[-3000:]
    assert len(errors) == 1 and re.match(r"error: worker 1 \(/job:worker/(replica:0/)?task:1\) stopped", errors[0]), \
        stderr[-3000:]
    assert f"{tmp_path / 'preset.backup'} holds " in errors[0] and "with the same command" in errors[0], errors
    assert not out.exists()

    # The same run again (the same config, epochs and batch), through the worker script for the weights.
    second = start_workers([WORKER, out, "coophash_digits:smoke", 2, BATCH], workers, tmp_path, tmp_path / "tmp2")
    digests = weights(finish(second))
    assert len(digests) == 2 and digests[0] == digests[1], digests
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["resumed"] is True and metadata["checkpoint"]["epochs_completed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preset", "tmp1", "tmp2"], "the backup is removed"
    assert not list((tmp_path / "tmp2").iterdir()), "worker 1 removes its private preset and backup"


def test_the_lost_task_is_read_from_tensorflows_error_text():
    import tensorflow as tf

    from hashzoo import distribute

    assert distribute.lost_task(LOST_PEER_TEXT) == "/job:worker/replica:0/task:1"
    assert distribute.lost_task("Error reported from /job:worker/task:2: gone") == "/job:worker/task:2"
    refused = ("failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:39611: Failed to connect to "
               "remote host: Connection refused\nAdditional GRPC error information from remote target "
               "/job:worker/replica:0/task:0 while calling /tensorflow.WorkerService/CompleteInstance:")
    assert distribute.lost_task(refused) == "/job:worker/replica:0/task:0"
    assert distribute.lost_task("Socket closed") is None
    assert distribute.describe_task("/job:worker/replica:0/task:1") == "worker 1 (/job:worker/replica:0/task:1)"
    assert distribute.describe_task(None) == "a peer worker"
    assert distribute.is_lost_peer(tf.errors.UnavailableError(None, None, LOST_PEER_TEXT))
    mismatch = "Collective instance 4760 expected type 0 and data_type 1 but got type 0 and data_type 9"
    assert not distribute.is_lost_peer(tf.errors.InternalError(None, None, mismatch))


def test_a_worker_copies_the_chiefs_backup_and_both_report_the_same_progress(tmp_path):
    from hashzoo.training.backup import RunBackup, write_checkpoint

    class Model:
        def save_weights(self, path):
            pathlib.Path(path).write_bytes(b"weights")

    chief = RunBackup(tmp_path / "out.backup", fingerprint={"run": 1})
    write_checkpoint(Model(), chief.checkpoint_folder("fit"), 3)
    (chief.folder / ".epochs.json.host-1.x.partial").write_text("{")  # a killed writer's temporary
    worker = RunBackup(tmp_path / "private" / "out.backup", fingerprint={"run": 1}).copy_from(chief.folder)
    assert worker.progress() == chief.progress() and chief.progress()["epoch"] == 3
    assert not list(worker.folder.glob(".*")), "temporaries are not copied"
    assert chief.describe() == "the last finished epoch, epoch 3"
    assert RunBackup(tmp_path / "none", fingerprint={"run": 1}).progress()["epoch"] == 0
    other = RunBackup(tmp_path / "none", fingerprint={"run": 2}).progress()
    assert other["fingerprint"] != worker.progress()["fingerprint"]
