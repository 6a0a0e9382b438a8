"""hashzoo: deep image hashing models for Keras 3 and TensorFlow.

Images go in, short binary codes come out, and similar images get codes a few
bits apart, so search over millions of images becomes XOR and popcount.

Public names: `hashzoo.HashingModel` (the base class of every method),
`hashzoo.load` (a trained model from a preset folder or `.keras` file),
`hashzoo.list_models`, and the modules `hashzoo.data` (datasets and
protocols), `hashzoo.metrics` (mAP@K, P@k, PR curves), `hashzoo.index`
(`HammingIndex`), `hashzoo.baselines` (LSH, PCA-ITQ, one-hot classifier),
`hashzoo.layers`, `hashzoo.losses`, `hashzoo.codes`, `hashzoo.training`.

>>> import hashzoo
>>> hashzoo.list_models()
['coophash', 'onehot']
>>> hashzoo.codes.binarize([[0.0, -0.5]]).tolist()
[[1, -1]]
"""

__version__ = "0.1.0"

import importlib

from hashzoo import codes  # noqa: E402
from hashzoo.models import HashingModel  # noqa: E402

_LAZY_MODULES = (
    "baselines", "callbacks", "data", "distribute", "index", "layers", "losses", "methods", "metrics",
    "presets", "training", "viz",
)


def load(name_or_path, **kwargs):
    """Loads a trained model: a preset folder or a `.keras` file (see `hashzoo.presets.load`)."""
    return importlib.import_module("hashzoo.presets").load(name_or_path, **kwargs)


def list_models():
    """Names of the registered methods (see `hashzoo.methods`)."""
    return importlib.import_module("hashzoo.methods").list_models()


def __getattr__(name):
    # Submodules load on first use so `import hashzoo` stays quick.
    if name in _LAZY_MODULES:
        return importlib.import_module(f"hashzoo.{name}")
    raise AttributeError(f"module 'hashzoo' has no attribute {name!r}")


__all__ = ["HashingModel", "codes", "list_models", "load", "__version__", *_LAZY_MODULES]
