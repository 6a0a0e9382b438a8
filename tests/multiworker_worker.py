"""One worker of the two-process MultiWorkerMirroredStrategy test (run by test_multiworker.py).

TF_CONFIG is set by the test. The strategy is created (inside `train`) before
any other TensorFlow call. Prints the sha256 of the final weights.
"""

import hashlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(out_dir):
    from hashzoo import training

    config = training.load_config("coophash_digits:smoke").replace(epochs=1)
    model, _ = training.train(config, out_dir, strategy="multiworker", verbose=0, command="multiworker test")
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    print("WEIGHTS", digest.hexdigest(), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
