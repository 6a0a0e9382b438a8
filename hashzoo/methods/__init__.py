"""The hashing methods, one folder each, looked up by name.

>>> from hashzoo import methods
>>> methods.list_models()
['bgan', 'coophash', 'onehot']
>>> methods.get_method("coophash").__name__
'CoopHash'
"""

import difflib
import importlib

# name -> "module:Class"; a method registers here when its folder lands.
# "onehot" is the trainable classifier floor that supervised tables report.
_METHODS = {
    "bgan": "hashzoo.methods.bgan:BGAN",
    "coophash": "hashzoo.methods.coophash:CoopHash",
    "onehot": "hashzoo.methods.onehot:OneHotClassifierHasher",
}


def list_models():
    """Names of the available methods, sorted."""
    return sorted(_METHODS)


def get_method(name):
    """The model class of method `name` (imported on first use)."""
    if name not in _METHODS:
        close = difflib.get_close_matches(str(name), _METHODS, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(f"unknown method {name!r}; available: {list_models()}.{hint}")
    module, cls = _METHODS[name].split(":")
    return getattr(importlib.import_module(module), cls)
