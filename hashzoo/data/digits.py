"""scikit-learn's bundled digits: 1,797 real 8×8 grey images, 10 classes.

It ships inside scikit-learn, so it loads with no download. That makes it the
default for `make demo` and fast tests (protocol `digits`; docs/evaluation.md,
"Protocols").
"""

import numpy as np

from hashzoo.data import dataset as dataset_lib

#: Largest pixel value in scikit-learn's digits (4-bit grey levels).
DIGITS_MAX_VALUE = 16


def load_digits():
    """Loads scikit-learn's digits as uint8 images `[1797, 8, 8, 1]`.

    The original grey levels 0..16 are scaled to 0..255 with
    `floor(v * 255 / 16 + 0.5)` (round half up; only 8 -> 128 is a tie), so
    the images follow the same uint8 contract as every other source.

    Returns:
        An `ImageDataset` named `"digits"` with int64 class ids 0..9 and class
        names `"0"` .. `"9"`.
    """
    # Imported here so that `import hashzoo.data` does not pay for scikit-learn.
    from sklearn import datasets

    bunch = datasets.load_digits()
    levels = np.asarray(bunch.images, dtype=np.float64)
    pixels = np.floor(levels * (255.0 / DIGITS_MAX_VALUE) + 0.5).astype(np.uint8)
    return dataset_lib.ImageDataset(
        images=pixels[..., np.newaxis],
        labels=np.asarray(bunch.target, dtype=np.int64),
        class_names=tuple(str(name) for name in bunch.target_names),
        name="digits",
        source="sklearn.datasets.load_digits",
    )
