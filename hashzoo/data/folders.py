"""`folder_kind(source)`: which loader a data folder needs, decided in one place.

A folder given as data is read by one of two loaders: a CIFAR-10 pickle
folder (the official `cifar-10-batches-py` layout, or the folder holding it)
by `load_cifar10`, and any other folder as an image folder (one sub-folder
per class) by `load_image_folder`. `load(source)` picks the loader with this
check, and the callers that must know the kind before loading (fine-tuning
reads an image folder's native sizes first; evaluation reads an image folder
with the model's channel count) ask the same function, so the three can
never disagree about a folder.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> (root / "cats").mkdir()
>>> folder_kind(root), folder_kind(root / "cats" / "missing"), folder_kind("digits")
('images', None, None)
>>> (root / "cifar-10-batches-py").mkdir()
>>> folder_kind(root)
'cifar10'

A built-in data name (`is_builtin_name`: "digits", "cifar10-subset",
"tfds:<name>") is never a folder here, even when the working directory
holds a folder of that name: `load` resolves the name first, so every
caller does too.
"""

import pathlib

from hashzoo.data import cifar10

#: `folder_kind` of a CIFAR-10 python-pickle folder (read by `load_cifar10`).
CIFAR10 = "cifar10"

#: `folder_kind` of any other existing folder (read by `load_image_folder`).
IMAGES = "images"

#: Data names `load(source)` resolves itself, before looking for a folder.
BUILTIN_NAMES = ("digits", "cifar10-subset")

#: Prefixes of data names `load(source)` resolves itself (`"tfds:<name>"`).
BUILTIN_PREFIXES = ("tfds:",)


def is_builtin_name(source):
    """True when `source` (as a string) is a data name `load` resolves itself, never a folder.

    >>> is_builtin_name("digits"), is_builtin_name("tfds:mnist"), is_builtin_name("./digits")
    (True, True, False)
    """
    text = str(source)
    return text in BUILTIN_NAMES or text.startswith(BUILTIN_PREFIXES)


def folder_kind(source):
    """The kind of data folder `source` names: `CIFAR10`, `IMAGES`, or None.

    Args:
        source: a path (str or `pathlib.Path`, `~` expanded) or any other
            data source string.

    Returns:
        `"cifar10"` for a CIFAR-10 pickle folder (it holds `batches.meta` or a
        `cifar-10-batches-py` sub-folder), `"images"` for any other existing
        folder, and None when `source` is a built-in data name
        (`is_builtin_name`, even where a folder of that name exists) or no
        existing folder (a file, a missing path); `load(source)` then loads
        the name or says which forms it accepts.
    """
    if is_builtin_name(source):
        return None
    path = pathlib.Path(str(source)).expanduser()
    if not path.is_dir():
        return None
    return CIFAR10 if cifar10.is_cifar10_folder(path) else IMAGES
