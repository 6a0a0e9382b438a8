"""The hashing methods, one folder each, found by name.

A method is a package `hashzoo/methods/<name>/` whose `__init__.py` names its
model class as `MODEL`; nothing else registers it. Listing methods reads only
folder names (no TensorFlow); `get_method` imports the one package asked for.

>>> from hashzoo import methods
>>> methods.list_models()
['bgan', 'coophash', 'multihot', 'onehot', 'sadh', 'spah']
>>> methods.get_method("coophash").__name__
'CoopHash'
"""

import difflib
import importlib
import pathlib

_METHODS_DIR = pathlib.Path(__file__).resolve().parent


def list_models():
    """Names of the available methods (the method folders), sorted."""
    return sorted(
        folder.name for folder in _METHODS_DIR.iterdir()
        if folder.is_dir() and not folder.name.startswith(("_", ".")) and (folder / "__init__.py").is_file()
    )


def get_method(name):
    """The model class of method `name`: `hashzoo.methods.<name>.MODEL` (imported on first use)."""
    available = list_models()
    if name not in available:
        close = difflib.get_close_matches(str(name), available, n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ValueError(f"unknown method {name!r}; available: {available}.{hint}")
    package = importlib.import_module(f"hashzoo.methods.{name}")
    model = getattr(package, "MODEL", None)
    if model is None:
        raise ValueError(f"method folder hashzoo/methods/{name}/ does not name its model class: its __init__.py "
                         "must set MODEL = <the HashingModel subclass>.")
    return model
