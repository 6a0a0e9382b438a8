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
