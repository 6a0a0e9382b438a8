"""Retrieval protocols as data (docs/evaluation.md, "Protocols").

A `Protocol` is a frozen record: which data, how it is split into query, train
and database, and how retrieval is scored. Results name a protocol by `id` and
carry the sha256 of its index lists, so two numbers are comparable only when
both match.

How a single-label split is drawn (`split_version=1`):

1. `rng = numpy.random.default_rng(split_seed)`, one generator for the split.
2. For each class c = 0, 1, ..., in order: `members` = the positions of class
   c in ascending order, `perm = rng.permutation(members)`; the first
   `query_per_class` of `perm` are queries, the next `train_per_class` are
   train, and the database is the rest: all of it when `train_in_database`
   (train is then drawn from the database), else what follows train.
   `train_per_class=None` means train = the database.
3. Validation, with the same generator continuing, for each class in order:
   permute that class's train indices and move the first
   `round_half_up(validation_fraction * n_train)` of them (at least 1, at most
   n_train - 1, none when n_train < 2) from train to validation. Validation
   does not stay in train, so it can select checkpoints honestly
   (docs/evaluation.md, "Model selection and reporting"); the database is
   left as drawn. `validation_fraction` is 0.1 for every registered protocol,
   so `len(train) + len(validation)` is the protocol's train size.
4. Every list is sorted ascending, so database order follows the source order
   (the tie rule ranks equal distances by database position).

Mosaic protocols (`digits-mosaic`, `cifar10-mosaic`, `folder-mosaic`) first
split the base data with the base protocol, then draw a fixed number of 2×2
mosaics per part with `numpy.random.default_rng([split_seed, 1])`, in the
order query, train, database, validation: query mosaics are tiled only from base query images,
train mosaics from base train images, database mosaics from base database
images and validation mosaics from base validation images. Query and database
mosaics therefore never share a source image. Their index lists are int64
`[M, 4]` source indices of the tiles (row-major), which fix the mosaics
exactly given the base data. `folder-mosaic` has `num_classes=None`: its
labels are as wide as the data's own label set, and the data needs at least
as many classes as a mosaic may hold (`classes_per_sample` high).
"""

import dataclasses
import difflib
import hashlib
import struct

import numpy as np

from hashzoo.data import dataset as dataset_lib
from hashzoo.data import mosaic as mosaic_lib
from hashzoo.utils import validation

PART_NAMES = ("query", "train", "database", "validation")

#: Split algorithms this module implements (the module docstring is version 1).
SPLIT_VERSIONS = (1,)

_LABEL_KINDS = ("single", "multi")
_RELEVANCE = ("share_label",)
_TIE_RULES = ("stable", "expected")  # the rules hashzoo.metrics implements
_ZERO_RELEVANT = ("count", "drop")


def _round_half_up(value):
    return int(np.floor(value + 0.5))


def _index_array(values, name):
    array = np.asarray(values)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`{name}` must hold integer indices, got dtype {array.dtype}.")
    array = array.astype(np.int64)  # a copy, so callers cannot change it later
    array.flags.writeable = False
    return array


@dataclasses.dataclass(frozen=True, eq=False)
class Split:
    """Index lists of one protocol split.

    Args:
        query, train, database, validation: int64 index arrays into the source
            data. Plain protocols give `[n]` arrays; mosaic protocols give
            `[n, tiles]` arrays, one row of tile source indices per mosaic.

    `sha256` is computed from the lists, in the order query, train, database,
    validation. For each list the hashed bytes are its number of rows as an
    8-byte little-endian unsigned integer, then its entries as 8-byte
    little-endian signed integers in C (row-major) order. In Python:
    `sha256(b"".join(struct.pack("<Q", len(a)) + a.astype("<i8").tobytes()
    for a in (query, train, database, validation))).hexdigest()`.
    """

    query: np.ndarray
    train: np.ndarray
    database: np.ndarray
    validation: np.ndarray
    sha256: str = dataclasses.field(init=False)

    def __post_init__(self):
        digest = hashlib.sha256()
        for name in PART_NAMES:
            array = _index_array(getattr(self, name), name)
            object.__setattr__(self, name, array)
            digest.update(struct.pack("<Q", array.shape[0]))
            digest.update(array.astype("<i8").tobytes(order="C"))
        object.__setattr__(self, "sha256", digest.hexdigest())

    @property
    def sizes(self):
        """Dict of the number of rows in each list."""
        return {name: int(getattr(self, name).shape[0]) for name in PART_NAMES}

    def __repr__(self):
        sizes = ", ".join(f"{name}={size}" for name, size in self.sizes.items())
        return f"Split({sizes}, sha256={self.sha256[:12]}...)"


@dataclasses.dataclass(frozen=True)
class MosaicSpec:
    """How a mosaic protocol makes its multi-label parts from a base protocol.

    Args:
        base: id of the single-label protocol whose split supplies the tiles.
        query_size, train_size, database_size, validation_size: mosaics per
            part, each tiled only from the base part of the same name.
        grid: tiles per side.
        classes_per_sample: inclusive range of distinct classes per mosaic.
    """

    base: str
    query_size: int
    train_size: int
    database_size: int
    validation_size: int
    grid: int = 2
    classes_per_sample: tuple = (1, 3)

    def __post_init__(self):
        for name in ("query_size", "train_size", "database_size", "validation_size", "grid"):
            validation.check_positive_int(getattr(self, name), name)


@dataclasses.dataclass(frozen=True)
class Protocol:
    """A retrieval protocol: data, split rule and scoring conventions.

    Args:
        id: the name results use, e.g. `"cifar10-1"`.
        dataset: the source data family (`"cifar10"`, `"digits"`; `"any"`
            for the protocols that take any data).
        label_kind: `"single"` (class ids) or `"multi"` (multi-hot).
        num_classes: number of classes of the source data; None for a
            protocol that takes any number (`folder`, `folder-mosaic`: the
            data's own label set, `dataset.num_classes`).
        num_items: size of the source data the protocol is defined on, or
            None when any size is accepted.
        query_per_class: queries drawn per class (single-label protocols).
        train_per_class: train images per class; None means train = database.
        train_in_database: train is drawn from the database (True) or kept
            out of it (False).
        k: ranking depth of mAP@K; None means all.
        relevance: `"share_label"`: relevant when the label sets intersect.
        tie_rule: `"stable"` or `"expected"` (docs/evaluation.md, "Tie rules"),
            as `hashzoo.metrics`.
        zero_relevant: `"count"` (score 0) or `"drop"` for queries with no
            relevant item.
        split_seed: seed of the split generator.
        split_version: version of the split algorithm (module docstring).
        validation_fraction: share of each class's train part moved to
            validation.
        mosaic: a `MosaicSpec` for mosaic protocols, else None.
        split_sha256: the sha256 of the split on the data this protocol is
            defined on, when that data ships with hashzoo's developer setup;
            `split` refuses data that gives another one. None when not pinned.
        description: one line for humans.
        note: what results on this protocol must not be compared with, for
            model cards and tables; "" when nothing needs saying.
    """

    id: str
    dataset: str
    label_kind: str
    num_classes: int | None
    num_items: int | None
    query_per_class: int | None
    train_per_class: int | None
    train_in_database: bool
    k: int | None
    relevance: str = "share_label"
    tie_rule: str = "stable"
    zero_relevant: str = "count"
    split_seed: int = 0
    split_version: int = 1
    validation_fraction: float = 0.1
    mosaic: MosaicSpec | None = None
    split_sha256: str | None = None
    description: str = ""
    note: str = ""

    def __post_init__(self):
        validation.check_choice(self.label_kind, "label_kind", _LABEL_KINDS)
        validation.check_choice(self.relevance, "relevance", _RELEVANCE)
        validation.check_choice(self.tie_rule, "tie_rule", _TIE_RULES)
        validation.check_choice(self.zero_relevant, "zero_relevant", _ZERO_RELEVANT)
        if self.num_classes is not None:
            validation.check_positive_int(self.num_classes, "num_classes")
        validation.check_non_negative_int(self.split_seed, "split_seed")
        validation.check_choice(self.split_version, "split_version", SPLIT_VERSIONS)
        for name in ("num_items", "train_per_class", "k"):
            if getattr(self, name) is not None:
                validation.check_positive_int(getattr(self, name), name)
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(
                f"`validation_fraction` must be in [0, 1), got {self.validation_fraction}."
            )
        if (self.mosaic is None) != (self.label_kind == "single"):
            raise ValueError(
                f"protocol {self.id!r}: a mosaic spec goes with label_kind='multi' "
                f"and only then; got label_kind={self.label_kind!r}, "
                f"mosaic={self.mosaic!r}."
            )
        if self.mosaic is None:
            validation.check_positive_int(self.query_per_class, "query_per_class")
            if self.train_per_class is None and not self.train_in_database:
                raise ValueError(
                    f"protocol {self.id!r}: train_per_class=None means train = database, "
                    "which needs train_in_database=True."
                )

    # Splitting -------------------------------------------------------------

    def split(self, labels, class_names=None):
        """Splits the source data into query, train, database and validation.

        Args:
            labels: int class ids `[N]` of the source data (for mosaic
                protocols: of the base data).
            class_names: optional names, used in error messages.

        Returns:
            A `Split`. The same labels and protocol give the same index lists
            and sha256 on every machine.

        Raises:
            ValueError: when the labels are multi-hot, have the wrong length
                or range, a class has too few items (the message names the
                class and needed vs available counts), or the split's sha256
                differs from the pinned one.
        """
        labels = self._check_labels(labels)
        if self.mosaic is None:
            split = self._split_single(labels, class_names)
        else:
            split = self._split_mosaic(labels, class_names)
        if self.split_sha256 is not None and split.sha256 != self.split_sha256:
            raise ValueError(
                f"protocol {self.id!r} gave split sha256 {split.sha256}, but the "
                f"pinned value is {self.split_sha256}. The labels are not the data "
                f"this protocol is defined on ({self.description}), or this numpy's "
                "random Generator draws differently; results would not be "
                "comparable."
            )
        return split

    def _check_labels(self, labels):
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError(
                f"protocol {self.id!r} splits single-label source data (class ids "
                f"`[N]`), got labels of shape {labels.shape}."
            )
        labels = validation.check_labels(labels, labels.shape[0])
        if self.num_items is not None and labels.shape[0] != self.num_items:
            raise ValueError(
                f"protocol {self.id!r} is defined on {self.num_items:,} items "
                f"({self.description}); got {labels.shape[0]:,}. See "
                "hashzoo.data.list_protocols() for one that fits this data."
            )
        if self.num_classes is not None and labels.size and labels.max() >= self.num_classes:
            raise ValueError(
                f"protocol {self.id!r} has {self.num_classes} classes, got class id "
                f"{int(labels.max())}."
            )
        return labels

    def _needed_per_class(self):
        """Returns (items needed per class, how that number breaks down)."""
        query, train = self.query_per_class, self.train_per_class
        if not self.train_in_database:
            return query + train + 1, f"{query} query + {train} train + at least 1 database"
        if train is None:
            return query + 1, f"{query} query + at least 1 database (= train)"
        return query + train, f"{query} query + {train} train drawn from the database"

    def _split_single(self, labels, class_names):
        rng = np.random.default_rng(self.split_seed)
        needed, breakdown = self._needed_per_class()
        parts = {name: [] for name in PART_NAMES}
        trains = []
        num_classes = self.num_classes if self.num_classes is not None else int(labels.max()) + 1
        for class_id in range(num_classes):
            members = np.flatnonzero(labels == class_id)
            if members.size < needed:
                name = f" ({class_names[class_id]!r})" if class_names is not None else ""
                raise ValueError(
                    f"protocol {self.id!r} needs {needed} items of class {class_id}{name} "
                    f"({breakdown}), but only {members.size} are available."
                )
            perm = rng.permutation(members)
            query, rest = perm[: self.query_per_class], perm[self.query_per_class:]
            train = rest if self.train_per_class is None else rest[: self.train_per_class]
            database = rest if self.train_in_database else rest[len(train):]
            parts["query"].append(query)
            parts["database"].append(database)
            trains.append(train)
        for train in trains:
            count = self._validation_count(train.size)
            perm = rng.permutation(train)
            parts["validation"].append(perm[:count])
            parts["train"].append(perm[count:])
        return Split(**{name: np.sort(np.concatenate(parts[name])) for name in PART_NAMES})

    def _validation_count(self, num_train):
        if num_train < 2 or self.validation_fraction == 0:
            return 0
        count = _round_half_up(self.validation_fraction * num_train)
        return min(max(count, 1), num_train - 1)

    def _split_mosaic(self, labels, class_names):
        spec = self.mosaic
        present = np.unique(labels).size
        if present < spec.classes_per_sample[1]:
            names = f" ({', '.join(repr(class_names[c]) for c in np.unique(labels))})" if (
                class_names is not None and labels.size) else ""
            raise ValueError(
                f"protocol {self.id!r} makes mosaics of {spec.classes_per_sample[0]} to "
                f"{spec.classes_per_sample[1]} distinct classes, so the data needs at least "
                f"{spec.classes_per_sample[1]} classes; it has {present}{names}."
            )
        base = get_protocol(spec.base).split(labels, class_names)
        rng = np.random.default_rng([self.split_seed, 1])
        sizes = {
            "query": spec.query_size, "train": spec.train_size,
            "database": spec.database_size, "validation": spec.validation_size,
        }
        tiles = {}
        for name in PART_NAMES:
            try:
                tiles[name] = mosaic_lib.draw_tiles(
                    labels, sizes[name], spec.grid, spec.classes_per_sample,
                    rng=rng, pool=getattr(base, name),
                )
            except ValueError as error:
                raise ValueError(
                    f"protocol {self.id!r} cannot draw its {name} mosaics from the "
                    f"{spec.base!r} {name} part: {error}"
                ) from error
        return Split(**tiles)

    # Applying --------------------------------------------------------------

    def apply(self, dataset, include_validation=False):
        """Splits an `ImageDataset` into its protocol parts.

        Args:
            dataset: the source data (for mosaic protocols: the single-label
                base data, e.g. `load_digits()`).
            include_validation: also return the validation part.

        Returns:
            `(query, train, database)` `ImageDataset`s, plus `validation` when
            `include_validation`. Each part's `source` names the protocol and
            the split sha256.
        """
        if dataset.is_multi_label:
            raise ValueError(
                f"protocol {self.id!r} applies to single-label source data; "
                f"{dataset.name!r} is multi-label."
            )
        if self.num_classes is not None and dataset.num_classes != self.num_classes:
            other = "folder-mosaic" if self.mosaic is not None else "folder"
            raise ValueError(
                f"protocol {self.id!r} has {self.num_classes} classes, dataset "
                f"{dataset.name!r} has {dataset.num_classes}; protocol {other!r} takes "
                "data with any number of classes."
            )
        split = self.split(dataset.labels, dataset.class_names)
        names = PART_NAMES if include_validation else PART_NAMES[:3]
        return tuple(self._part(dataset, split, name) for name in names)

    def _part(self, dataset, split, name):
        indices = getattr(split, name)
        source = f"protocol {self.id} {name} (split sha256 {split.sha256}) of {dataset.source}"
        if self.mosaic is not None:
            return mosaic_lib.tile_images(
                dataset, indices, name=f"{self.id}/{name}", source=source
            )
        return dataclasses.replace(
            dataset.subset(indices), name=f"{self.id}/{name}", source=source
        )


# Registry -------------------------------------------------------------------

_PROTOCOLS = {}

#: What each data family (`Protocol.dataset`) is, where it comes from and its
#: terms; model cards quote these.
DATA_FAMILIES = {
    "digits": {
        "description": "scikit-learn's bundled digits (`sklearn.datasets.load_digits`): 1,797 real 8×8 grey "
                       "images of handwritten digits, 10 classes, a copy of the UCI ML Optical Recognition of "
                       "Handwritten Digits test set.",
        "license": "distributed with scikit-learn (BSD-3-Clause); original data CC BY 4.0 (UCI).",
    },
    "cifar10": {
        "description": "CIFAR-10 (Krizhevsky, *Learning Multiple Layers of Features from Tiny Images*, 2009): "
                       "32×32 colour images, 10 classes.",
        "license": "",
    },
}


def data_family(dataset):
    """`{"description": ..., "license": ...}` of data family `dataset` (empty strings when unknown)."""
    return {"description": "", "license": "", **DATA_FAMILIES.get(dataset, {})}


def register_protocol(protocol):
    """Adds a `Protocol` to the registry; registering an id twice is an error."""
    if not isinstance(protocol, Protocol):
        raise ValueError(f"expected a Protocol, got {type(protocol).__name__}.")
    if protocol.id in _PROTOCOLS:
        raise ValueError(f"protocol {protocol.id!r} is already registered.")
    if protocol.mosaic is not None and protocol.mosaic.base not in _PROTOCOLS:
        raise ValueError(
            f"mosaic protocol {protocol.id!r} names base {protocol.mosaic.base!r}, "
            "which is not registered."
        )
    _PROTOCOLS[protocol.id] = protocol
    return protocol


def list_protocols():
    """Returns the registered protocol ids, sorted."""
    return sorted(_PROTOCOLS)


def get_protocol(protocol_id):
    """Returns the registered `Protocol` with this id (a `Protocol` passes through).

    Raises:
        ValueError: for an unknown id; the message lists close matches and
            every registered id.
    """
    if isinstance(protocol_id, Protocol):
        return protocol_id
    try:
        return _PROTOCOLS[protocol_id]
    except (KeyError, TypeError):
        pass
    close = difflib.get_close_matches(str(protocol_id), list(_PROTOCOLS), n=5, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"unknown protocol {protocol_id!r}.{hint} Registered protocols: "
        f"{', '.join(list_protocols())}."
    )


_CIFAR10_FULL = 60_000

register_protocol(Protocol(
    id="cifar10", dataset="cifar10", label_kind="single", num_classes=10,
    num_items=_CIFAR10_FULL, query_per_class=100, train_per_class=500,
    train_in_database=False, k=None,
    description="full CIFAR-10, 60,000 pooled images: 1,000 query / 5,000 train / "
                "54,000 database (train excluded), DPSH-style",
))
register_protocol(Protocol(
    id="cifar10-1", dataset="cifar10", label_kind="single", num_classes=10,
    num_items=_CIFAR10_FULL, query_per_class=100, train_per_class=500,
    train_in_database=True, k=None,
    description="full CIFAR-10: 1,000 query / 5,000 train drawn from the "
                "59,000-image database, DeepHash-pytorch default",
))
register_protocol(Protocol(
    id="cifar10-2", dataset="cifar10", label_kind="single", num_classes=10,
    num_items=_CIFAR10_FULL, query_per_class=1000, train_per_class=None,
    train_in_database=True, k=1000,
    description="full CIFAR-10: 10,000 query / train = database = 50,000, "
                "unsupervised papers (GreedyHash, BiHalf)",
))
register_protocol(Protocol(
    id="cifar10-subset", dataset="cifar10", label_kind="single", num_classes=10,
    num_items=6102, query_per_class=100, train_per_class=450,
    train_in_database=True, k=None,
    split_sha256="f690fa264d8fe78bce4f5f3bef701ffda583480eb1649d01d1390d82375fe7f9",
    description="the real 6,102-image CIFAR-10 developer subset: 1,000 query / "
                "4,500 train drawn from the 5,102-image database",
    note="Trained and measured on the real 6,102-image CIFAR-10 subset (the official python pickles, a "
         "subset of the images) with the `cifar10-subset` protocol. These numbers are **not** comparable with "
         "papers' CIFAR-10 tables: the standard `cifar10` protocol (60,000 images) needs the full download "
         "(`tools/evaluate.py --preset <name> --data <cifar-10-batches-py> --protocol cifar10`).",
))
register_protocol(Protocol(
    id="digits", dataset="digits", label_kind="single", num_classes=10,
    num_items=1797, query_per_class=30, train_per_class=None,
    train_in_database=True, k=None,
    split_sha256="6f7851540206c32eaf37949a612ee7807fbbc655abd5473fbc31cc36883c1f20",
    description="scikit-learn digits, 1,797 images: 300 query / train = "
                "database = 1,497",
))
register_protocol(Protocol(
    id="digits-mosaic", dataset="digits", label_kind="multi", num_classes=10,
    num_items=1797, query_per_class=None, train_per_class=None,
    train_in_database=True, k=500,
    mosaic=MosaicSpec(base="digits", query_size=300, train_size=1000,
                      database_size=2000, validation_size=100),
    split_sha256="44250108f4c53589848b5c03f6e5252cf9cd6bb8c5a10bf5ce9e3f5fe3834e9c",
    description="2x2 mosaics of scikit-learn digits (1 to 3 classes each): "
                "300 query / 1,000 train / 2,000 database / 100 validation",
))
register_protocol(Protocol(
    id="cifar10-mosaic", dataset="cifar10", label_kind="multi", num_classes=10,
    num_items=6102, query_per_class=None, train_per_class=None,
    train_in_database=True, k=500,
    mosaic=MosaicSpec(base="cifar10-subset", query_size=500, train_size=2000,
                      database_size=2500, validation_size=200),
    split_sha256="9d4200e4a937c40d87f99502af2a70b120320957c2e9fd17abf9d5dfd56b5a24",
    description="2x2 mosaics of the CIFAR-10 developer subset (1 to 3 classes "
                "each): 500 query / 2,000 train / 2,500 database / 200 validation",
))
register_protocol(Protocol(
    id="folder", dataset="any", label_kind="single", num_classes=None,
    num_items=None, query_per_class=5, train_per_class=None,
    train_in_database=True, k=None,
    description="any single-label data, e.g. a user's image folder: 5 query per "
                "class, database the rest, train = database",
))
# The same mosaic counts as `digits-mosaic`: a 16x16 SADH preset fine-tuned on 8x8 images then trains
# on as many mosaics as it was made with, and mAP@500 ranks a quarter of a 2,000-mosaic database.
# Queries are tiled from the base's 5 query images per class only, so they share no image with the
# database; with few classes the same query images recur in many query mosaics
# (docs/evaluation.md, "How a split is drawn").
register_protocol(Protocol(
    id="folder-mosaic", dataset="any", label_kind="multi", num_classes=None,
    num_items=None, query_per_class=None, train_per_class=None,
    train_in_database=True, k=500,
    mosaic=MosaicSpec(base="folder", query_size=300, train_size=1000,
                      database_size=2000, validation_size=100),
    description="2x2 mosaics (1 to 3 classes each) of any single-label data with at "
                "least 3 classes, e.g. a user's image folder, split by `folder`: "
                "300 query / 1,000 train / 2,000 database / 100 validation",
))
