"""`load(source)`: one entry point for every data source.

`tools/train.py --data <source>` passes its argument here, so the command line
accepts the same forms as Python code.
"""

import pathlib

from hashzoo.data import cifar10
from hashzoo.data import digits
from hashzoo.data import folders
from hashzoo.data import image_folder
from hashzoo.data import paths
from hashzoo.data import tfds_source

_FORMS = (
    '"digits" (scikit-learn digits, no download)',
    '"cifar10-subset" (the developer subset under shared_data_dir())',
    "a path to a CIFAR-10 python-pickle folder (cifar-10-batches-py or its parent)",
    '"tfds:<name>" with data_dir=<folder it was prepared in>',
    "a path to an image folder with one sub-folder per class",
)


def _call(loader, source, kwargs, allowed):
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise ValueError(
            f"data source {source!r} does not take {', '.join(unknown)}; "
            f"valid options: {valid}."
        )
    return loader(**kwargs)


def _load_name(text, kwargs):
    """The dataset of a built-in name (`folders.BUILTIN_NAMES`, `folders.BUILTIN_PREFIXES`)."""
    if text == "digits":
        return _call(digits.load_digits, text, kwargs, ())
    if text == "cifar10-subset":
        return _call(lambda: cifar10.load_cifar10(paths.cifar10_subset_dir()), text, kwargs, ())
    if text.startswith("tfds:"):
        name = text[len("tfds:"):]
        if not name:
            raise ValueError("`tfds:` needs a dataset name, e.g. 'tfds:cifar10'.")
        if "data_dir" not in kwargs:
            raise ValueError(
                f"{text!r} needs data_dir=<folder the dataset was prepared in>; "
                "hashzoo never downloads."
            )
        return _call(lambda **kw: tfds_source.load_tfds(name, **kw), text, kwargs,
                     ("data_dir", "split", "image_key", "label_key"))
    raise ValueError(f"data name {text!r} has no loader.")


def load(source, **kwargs):
    """Loads a dataset named by a string, as `tools/train.py --data` does.

    Accepted forms:

    - `"digits"`: `load_digits()`.
    - `"cifar10-subset"`: `load_cifar10(shared_data_dir() / "cifar-10-batches-py")`.
    - a path to a CIFAR-10 python-pickle folder: `load_cifar10(path)`.
    - `"tfds:<name>"`: `load_tfds(name, data_dir=..., split=...)`.
    - any other existing folder: `load_image_folder(path, image_size=...,
      channels=...)`.

    The two folder forms are told apart by `folder_kind`, the check that
    fine-tuning and `tools/evaluate.py` also use, so every caller reads a
    folder with the loader chosen here.

    Args:
        source: one of the forms above.
        **kwargs: options of the loader the form selects; others are an error.

    Returns:
        An `ImageDataset`.

    Raises:
        ValueError: for a source matching no form (the message lists them) or
            an option the selected loader does not take.
    """
    text = str(source)
    # Names first (`folders.is_builtin_name`): a folder named like one is never read in their place.
    if folders.is_builtin_name(text):
        return _load_name(text, kwargs)
    path = pathlib.Path(text).expanduser()
    kind = folders.folder_kind(path)
    if kind == folders.CIFAR10:
        return _call(lambda: cifar10.load_cifar10(path), text, kwargs, ())
    if kind == folders.IMAGES:
        return _call(lambda **kw: image_folder.load_image_folder(path, **kw), text,
                     kwargs, ("image_size", "channels"))
    reason = "is a file" if path.exists() else "is neither a known name nor an existing folder"
    raise ValueError(
        f"data source {text!r} {reason}. Accepted forms: " + "; ".join(_FORMS) + "."
    )
