"""Labelled images from a folder tree: one sub-folder per class.

```
flowers/
  daisy/   001.jpg 002.png ...
  tulip/   a.jpeg ...
```

Images may have any size and be grey or colour. They are decoded and resized
with Pillow (bilinear, Pillow's anti-aliased resampling), because a plain
Python loop over files is easier to debug than a TF graph and the result is a
uint8 array like every other source.
"""

import pathlib

import numpy as np
from PIL import Image, ImageOps

from hashzoo.data import dataset as dataset_lib
from hashzoo.utils import validation

#: File name endings read as images (case-insensitive); other files are ignored.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def class_folders(folder):
    """The class sub-folders of an image folder, sorted by name (hidden entries skipped).

    Raises:
        ValueError: when `folder` is missing, a file, empty, or has no sub-folders.
    """
    folder = pathlib.Path(folder)
    if not folder.exists():
        raise ValueError(f"image folder {folder} does not exist.")
    if not folder.is_dir():
        raise ValueError(
            f"{folder} is a file; pass a folder with one sub-folder of images per class."
        )
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if not entries:
        raise ValueError(
            f"image folder {folder} is empty; expected one sub-folder of "
            "images (PNG/JPEG) per class."
        )
    classes = [p for p in entries if p.is_dir()]
    if not classes:
        shown = ", ".join(p.name for p in entries[:5])
        raise ValueError(
            f"image folder {folder} has no class sub-folders (found files: {shown}); "
            "put each class's images in a sub-folder named after the class."
        )
    return classes


def image_files(class_folder):
    """The image files (`IMAGE_EXTENSIONS`) of one class folder, sorted by name.

    Raises:
        ValueError: when the folder holds no image.
    """
    class_folder = pathlib.Path(class_folder)
    files = sorted(
        p for p in class_folder.iterdir()
        if p.is_file() and not p.name.startswith(".")
        and p.suffix.lower() in IMAGE_EXTENSIONS
    )
    if not files:
        raise ValueError(
            f"class folder {class_folder} holds no images; expected files ending "
            f"in {', '.join(IMAGE_EXTENSIONS)}."
        )
    return files


def _open(file, mode):
    """Decodes one image into Pillow mode `mode` ("L" or "RGB")."""
    try:
        with Image.open(file) as image:
            image = ImageOps.exif_transpose(image)
            return image.convert(mode)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot read image {file}: {error}") from error


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, (tuple, list)):
        if len(image_size) != 2:
            raise ValueError(
                f"`image_size` must be an int or (height, width), got {image_size!r}."
            )
        return tuple(validation.check_positive_int(v, "image_size") for v in image_size)
    size = validation.check_positive_int(image_size, "image_size")
    return (size, size)


def load_image_folder(path, image_size=None, channels=None):
    """Loads a folder with one sub-folder per class into an `ImageDataset`.

    Class ids follow the sorted sub-folder names; images are read in sorted
    file order within each class. Only `.png`, `.jpg` and `.jpeg` files are
    read (any case); hidden entries are skipped. EXIF orientation is applied.

    Args:
        path: the top folder.
        image_size: int or `(height, width)` every image is resized to, with
            Pillow's bilinear filter. Default: the size of the first image
            (first class, first file).
        channels: 1 (grey, Pillow mode "L") or 3 (RGB); default 3. Grey images
            are repeated to RGB; colour images are converted to luma; an
            alpha channel is dropped.

    Returns:
        An `ImageDataset` with uint8 images `[N, height, width, channels]`,
        named after the folder.

    Raises:
        ValueError: the path is missing or a file, the folder is empty or has
            no class sub-folders, a class folder holds no images, or an image
            cannot be decoded (the message names the file).
    """
    folder = pathlib.Path(path).expanduser().resolve()
    channels = 3 if channels is None else validation.check_choice(channels, "channels", (1, 3))
    size = _check_image_size(image_size)
    mode = "L" if channels == 1 else "RGB"

    classes = class_folders(folder)
    files_per_class = [image_files(class_folder) for class_folder in classes]

    images, labels = [], []
    for class_id, files in enumerate(files_per_class):
        for file in files:
            image = _open(file, mode)
            if size is None:
                size = (image.height, image.width)
            if (image.height, image.width) != size:
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
            images.append(pixels.reshape(size[0], size[1], channels))
            labels.append(class_id)

    return dataset_lib.ImageDataset(
        images=np.stack(images),
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(p.name for p in classes),
        name=folder.name,
        source=str(folder),
    )


def _folder_names(dataset, class_names):
    """One folder name per class that has images, in class id order (see `write_image_folder`)."""
    present = [int(c) for c in np.unique(dataset.labels)]
    if class_names is None:
        names = [dataset.class_names[c] for c in present]
    else:
        given = [str(name) for name in class_names]
        if len(given) == dataset.num_classes:
            names = [given[c] for c in present]
        elif len(given) == len(present):
            names = given
        else:
            raise ValueError(
                f"`class_names` has {len(given)} names; give one per class of the dataset "
                f"({dataset.num_classes}) or one per class that has images ({len(present)})."
            )
    for name in names:
        if not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name \
                or "\0" in name:
            raise ValueError(
                f"class name {name!r} cannot be a folder name (empty, hidden, or with a path separator)."
            )
    if len(set(names)) != len(names):
        raise ValueError(f"class names must be distinct to be folder names, got {names}.")
    if sorted(names) != names:
        # load_image_folder numbers classes by sorted folder name: keep the id order with a prefix.
        width = len(str(len(names) - 1))
        names = [f"{index:0{width}d}-{name}" for index, name in enumerate(names)]
    return present, names


def write_image_folder(dataset, folder, class_names=None):
    """Writes a single-label `ImageDataset` as PNG files, one sub-folder per class.

    The inverse of `load_image_folder`: reading the folder back with
    `load_image_folder(folder, channels=dataset.images.shape[-1])` gives the
    same uint8 pixels and the same class ids in class order (class by class,
    each in dataset order), that is `dataset.subset(np.argsort(dataset.labels,
    kind="stable"))` when every class has images. A class without images
    gets no folder (an empty class folder is an error when loading), so the
    classes that remain are numbered 0, 1, ... in their old order.

    Folder names are the class names. `load_image_folder` numbers classes by
    sorted folder name, so when the names do not sort in class id order they
    get the class id as a prefix (`0-zero`, `1-one`, ...). Files are named
    `<position in dataset>.png`, zero-padded. Grey images (1 channel) are
    written as 8-bit grey PNGs, colour images (3 channels) as RGB.

    The folder is written next to its final place under a temporary name and
    renamed when complete, so an interrupted call leaves no half-written
    folder under `folder`.

    Args:
        dataset: a single-label `ImageDataset`.
        folder: the folder to create; an existing one must be empty.
        class_names: folder names: one per class of `dataset`, or one per class
            that has images (in id order); default `dataset.class_names`.

    Returns:
        The folder, as a `pathlib.Path`.

    Raises:
        ValueError: multi-label data, `folder` exists and is not an empty
            folder, or names that cannot be folder names (empty, hidden, a
            path separator, duplicates) or are not one per class.

    Example:

    >>> import numpy as np, tempfile
    >>> from hashzoo.data import load_digits
    >>> digits = load_digits()
    >>> small = digits.subset(np.flatnonzero(digits.labels < 3))
    >>> out = write_image_folder(small, tempfile.mkdtemp() + "/zot",
    ...                          class_names=["zero", "one", "two"])
    >>> [p.name for p in class_folders(out)]
    ['0-zero', '1-one', '2-two']
    >>> load_image_folder(out, channels=1).num_classes
    3
    """
    import os
    import shutil
    import tempfile

    if dataset.is_multi_label:
        raise ValueError(
            f"write_image_folder writes single-label data (one sub-folder per class); "
            f"{dataset.name!r} is multi-label."
        )
    channels = dataset.images.shape[-1]
    if channels not in (1, 3):
        raise ValueError(f"images need 1 or 3 channels to be PNG files, got {channels}.")
    present, names = _folder_names(dataset, class_names)
    folder = pathlib.Path(folder).expanduser()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        what = "a file" if not folder.is_dir() else "a folder that is not empty"
        raise ValueError(
            f"{folder} is {what}; write_image_folder writes a new folder and never mixes "
            "its images with others. Pass a new path, or delete it first."
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = pathlib.Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    try:
        width = len(str(len(dataset) - 1))
        for class_id, name in zip(present, names):
            class_folder = temporary / name
            class_folder.mkdir()
            for index in np.flatnonzero(dataset.labels == class_id):
                pixels = dataset.images[index]
                # uint8 [H, W] is written as an 8-bit grey PNG ("L"), [H, W, 3] as RGB.
                Image.fromarray(np.ascontiguousarray(pixels[:, :, 0] if channels == 1 else pixels)).save(
                    class_folder / f"{index:0{width}d}.png")
        os.chmod(temporary, 0o755)  # mkdtemp made it private
        if folder.exists():
            folder.rmdir()  # empty (checked above); a folder filled meanwhile makes this fail
        os.rename(temporary, folder)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return folder

