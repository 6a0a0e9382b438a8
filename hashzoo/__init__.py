"""hashzoo: deep image hashing models for Keras 3 and TensorFlow.

Images go in, short binary codes come out, and similar images get codes a few
bits apart, so search over millions of images becomes XOR and popcount.

Public names: `hashzoo.HashingModel` (the base class of every method),
`hashzoo.load` (a trained model by preset name, preset folder, `.keras` file
or archive URL), `hashzoo.list_presets`, `hashzoo.list_models`, and the
modules `hashzoo.data` (datasets and protocols), `hashzoo.metrics` (mAP@K,
P@k, PR curves), `hashzoo.index` (`HammingIndex`), `hashzoo.baselines` (LSH, PCA-ITQ),
`hashzoo.layers`, `hashzoo.losses`, `hashzoo.codes`, `hashzoo.training`,
`hashzoo.zoo` (the model zoo: `hashzoo.zoo.registry` lists presets,
`hashzoo.zoo.presets` reads preset folders and the download cache,
`hashzoo.zoo.publish` publishes a run; see docs/zoo.md), `hashzoo.export`
(TF Serving) and `hashzoo.finetune`.

>>> import hashzoo
>>> hashzoo.list_models()
['bgan', 'coophash', 'multihot', 'onehot', 'sadh', 'spah']
>>> hashzoo.list_presets("coophash-digits-*")
['coophash-digits-32', 'coophash-digits-64']
>>> hashzoo.codes.binarize([[0.0, -0.5]]).tolist()
[[1, -1]]
"""

__version__ = "0.1.0"

import importlib

from hashzoo import codes  # noqa: E402

_LAZY_MODULES = (
    "baselines", "data", "distribute", "export", "finetune", "index", "layers", "losses", "methods",
    "metrics", "similarity", "training", "viz", "zoo",
)


def load(name_or_path, *, weights=True, cache_dir=None, force_download=False, verify=True, compile=False,
         **overrides):
    """Loads a ready `HashingModel` (see docs/zoo.md; details in `hashzoo.zoo.presets.load`).

    Args:
        name_or_path: a preset name (`hashzoo.list_presets()`), a local preset
            folder, a `.keras` file, or a `file://` / `https://` URL of a
            preset archive ending in `#sha256=<hex>`.
        weights: True (the preset's), False (architecture only), or a
            `.weights.h5` file / preset folder to load instead.
        cache_dir: download cache; default `$HASHZOO_HOME`, else
            `$KERAS_HOME/hashzoo`, else `~/.keras/hashzoo`.
        force_download: fetch a remote archive again.
        verify: check sha256 values before reading anything.
        compile: compile with the method's default optimizers.
        **overrides: config keys to change; shape changes need weights=False.

    A registered name loads from `pretrained/<name>/` in a checkout; an
    installed package downloads the preset's archive from its release URL
    (or `$HASHZOO_PRESET_BASE_URL/<name>.tar.gz`) once. `HASHZOO_OFFLINE=1`
    forbids the network: only checkout and cached presets load, and a miss
    names the expected file and path.
    """
    return importlib.import_module("hashzoo.zoo.presets").load(
        name_or_path, weights=weights, cache_dir=cache_dir, force_download=force_download, verify=verify,
        compile=compile, **overrides,
    )


def list_presets(pattern=None, with_weights=False):
    """Sorted names of the registered presets, filtered by an fnmatch `pattern` (see `hashzoo.zoo.registry`)."""
    return importlib.import_module("hashzoo.zoo.registry").list_presets(pattern, with_weights=with_weights)


def list_models():
    """Names of the registered methods (see `hashzoo.methods`)."""
    return importlib.import_module("hashzoo.methods").list_models()


def __getattr__(name):
    # Submodules and HashingModel load on first use, so `import hashzoo` (and a tool's flag checks) stay quick.
    if name in _LAZY_MODULES:
        return importlib.import_module(f"hashzoo.{name}")
    if name == "HashingModel":  # imports Keras and TensorFlow, so only when asked for
        return importlib.import_module("hashzoo.models").HashingModel
    raise AttributeError(f"module 'hashzoo' has no attribute {name!r}")


__all__ = ["HashingModel", "codes", "list_models", "list_presets", "load", "__version__", *_LAZY_MODULES]
