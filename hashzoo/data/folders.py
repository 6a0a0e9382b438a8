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
"""

import pathlib

from hashzoo.data import cifar10

#: `folder_kind` of a CIFAR-10 python-pickle folder (read by `load_cifar10`).
CIFAR10 = "cifar10"

#: `folder_kind` of any other existing folder (read by `load_image_folder`).
IMAGES = "images"


def folder_kind(source):
    """The kind of data folder `source` names: `CIFAR10`, `IMAGES`, or None.

    Args:
        source: a path (str or `pathlib.Path`, `~` expanded) or any other
            data source string.

    Returns:
        `"cifar10"` for a CIFAR-10 pickle folder (it holds `batches.meta` or a
        `cifar-10-batches-py` sub-folder), `"images"` for any other existing
        folder, and None when `source` is no existing folder (a data name
        such as `"digits"`, a file, a missing path); `load(source)` then says
        which forms it accepts.
    """
    path = pathlib.Path(str(source)).expanduser()
    if not path.is_dir():
        return None
    return CIFAR10 if cifar10.is_cifar10_folder(path) else IMAGES
