"""Datasets, retrieval protocols and input pipelines for hashzoo.

Every loader returns an `ImageDataset`: uint8 images `[N, H, W, C]` in
0..255 with class ids or multi-hot labels. Resizing and normalisation happen
inside the models (`hashzoo.layers.Preprocessing`), never here. Protocols
are frozen records (docs/evaluation.md, "Protocols") whose seeded splits give
the same index lists, and the same sha256, on every machine.

Sources: `load_digits()` (bundled with scikit-learn, offline),
`load_cifar10(path)` (official python pickles), `load_tfds(name, data_dir)`
(a dataset already prepared with TFDS), `load_image_folder(path)` (one
sub-folder per class) and `load(source)`, which picks one from a string.
`folder_kind(path)` says which of the two folder loaders a folder needs
(`"cifar10"`, `"images"` or None), the one check `load`, fine-tuning and
evaluation share. `write_image_folder(dataset, folder)` writes
single-label data as such a folder (PNG files), e.g. to fine-tune on a
chosen set of classes.

>>> from hashzoo import data
>>> digits = data.load_digits()
>>> digits.images.shape, digits.images.dtype, digits.num_classes
((1797, 8, 8, 1), dtype('uint8'), 10)
>>> protocol = data.get_protocol("digits")
>>> query, train, database = protocol.apply(digits)
>>> len(query), len(train), len(database)
(300, 1348, 1497)
>>> protocol.split(digits.labels).sha256 == protocol.split_sha256
True
>>> mosaics = data.make_mosaics(digits, num_samples=8, seed=0)
>>> mosaics.images.shape, mosaics.is_multi_label
((8, 16, 16, 1), True)
"""

from hashzoo.data.cifar10 import CIFAR10_URL, load_cifar10
from hashzoo.data.dataset import ImageDataset
from hashzoo.data.digits import load_digits
from hashzoo.data.folders import folder_kind
from hashzoo.data.image_folder import load_image_folder, write_image_folder
from hashzoo.data.mosaic import make_mosaics
from hashzoo.data.paths import cifar10_subset_dir, shared_data_dir
from hashzoo.data.pipeline import make_similarity_dataset, make_tf_dataset
from hashzoo.data.protocols import (
    MosaicSpec,
    Protocol,
    Split,
    get_protocol,
    list_protocols,
    register_protocol,
)
from hashzoo.data.sources import load
from hashzoo.data.tfds_source import load_tfds

__all__ = [
    "CIFAR10_URL",
    "ImageDataset",
    "MosaicSpec",
    "Protocol",
    "Split",
    "cifar10_subset_dir",
    "folder_kind",
    "get_protocol",
    "list_protocols",
    "load",
    "load_cifar10",
    "load_digits",
    "load_image_folder",
    "load_tfds",
    "make_mosaics",
    "make_similarity_dataset",
    "make_tf_dataset",
    "register_protocol",
    "shared_data_dir",
    "write_image_folder",
]
