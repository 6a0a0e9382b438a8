"""MultiWorkerMirroredStrategy for real: two processes on 127.0.0.1.

No faster test covers the TF_CONFIG path, so this stays in the default run
with the smoke config, one epoch and a timeout.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

WORKER = pathlib.Path(__file__).with_name("multiworker_worker.py")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_identical_weights_and_only_worker_0_writes(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    out = tmp_path / "preset"
    procs = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}),
                   TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        procs.append(subprocess.Popen([sys.executable, str(WORKER), str(out)], env=env, cwd=tmp_path,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=420)
            assert proc.returncode == 0, stderr[-3000:]
            outputs.append(stdout)
    finally:
        for proc in procs:
            proc.kill()
    digests = [line.split()[1] for text in outputs for line in text.splitlines() if line.startswith("WEIGHTS")]
    assert len(digests) == 2 and digests[0] == digests[1], digests
    assert (out / "model.weights.h5").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preset"], "only worker 0 may leave an output"
