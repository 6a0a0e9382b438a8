"""One worker of the two-process MultiWorkerMirroredStrategy tests (run by test_multiworker.py).

    python tests/multiworker_worker.py <out> <config[:variant]> <epochs> <batch_size>

TF_CONFIG is set by the test. The strategy is created (inside `train`) before
any other TensorFlow call. Prints `WEIGHTS <sha256>` of the final weights, so
the test can check that every worker ends with the same model.
"""

import hashlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def weights_sha256(model):
    """sha256 of the model's weights, in order."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()


def main(out_dir, config_name, epochs, batch_size):
    from hashzoo import training

    config = training.load_config(config_name).replace(epochs=int(epochs), batch_size=int(batch_size))
    model, _ = training.train(config, out_dir, strategy="multiworker", verbose=0, command="multiworker test")
    print("WEIGHTS", weights_sha256(model), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
