"""hashzoo: deep image hashing models for Keras 3 and TensorFlow.

Images go in, short binary codes come out, and similar images get codes a few
bits apart, so search over millions of images becomes XOR and popcount.

Public modules: `hashzoo.data` (datasets and protocols), `hashzoo.metrics`
(mAP@K, P@k, PR curves), `hashzoo.index` (`HammingIndex`), `hashzoo.baselines`
(LSH, PCA-ITQ), `hashzoo.layers`, `hashzoo.codes`, and the base class
`hashzoo.HashingModel`.
"""

__version__ = "0.1.0"

from hashzoo import codes  # noqa: E402
from hashzoo.models import HashingModel  # noqa: E402

_LAZY_MODULES = ("baselines", "callbacks", "data", "distribute", "index", "layers", "metrics", "viz")


def __getattr__(name):
    # Submodules load on first use so `import hashzoo` stays quick.
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"hashzoo.{name}")
    raise AttributeError(f"module 'hashzoo' has no attribute {name!r}")


__all__ = ["HashingModel", "codes", "__version__", *_LAZY_MODULES]
