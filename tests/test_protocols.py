"""Tests for hashzoo.data.protocols: registry, seeded splits, pinned sha256s, apply."""

import dataclasses
import hashlib
import struct

import numpy as np
import pytest

from hashzoo import data
from hashzoo.data import protocols

# Computed once with hashzoo's split_version 1 and pinned here: the same
# protocol and data must give these index lists on every machine.
DIGITS_SHA256 = "6f7851540206c32eaf37949a612ee7807fbbc655abd5473fbc31cc36883c1f20"
CIFAR10_SUBSET_SHA256 = "f690fa264d8fe78bce4f5f3bef701ffda583480eb1649d01d1390d82375fe7f9"
DIGITS_MOSAIC_SHA256 = "44250108f4c53589848b5c03f6e5252cf9cd6bb8c5a10bf5ce9e3f5fe3834e9c"
CIFAR10_MOSAIC_SHA256 = "9d4200e4a937c40d87f99502af2a70b120320957c2e9fd17abf9d5dfd56b5a24"

CIFAR_DIR = data.cifar10_subset_dir()
needs_cifar_subset = pytest.mark.skipif(
    not CIFAR_DIR.is_dir(),
    reason=(
        f"real CIFAR-10 subset not found at {CIFAR_DIR}: put shared/data next to "
        "the repository or set $HASHZOO_DATA to the folder holding cifar-10-batches-py"
    ),
)


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture(scope="module")
def cifar_subset():
    return data.load_cifar10(CIFAR_DIR)


def _full_cifar_labels(counts=None):
    """Class ids shaped like the full CIFAR-10 (60,000 items), interleaved."""
    counts = [6000] * 10 if counts is None else counts
    labels = np.repeat(np.arange(10), counts)
    return np.random.default_rng(123).permutation(labels)


def _per_class(indices, labels):
    return np.bincount(labels[indices], minlength=10)


# Registry --------------------------------------------------------------------


def test_registry_lists_every_protocol():
    assert data.list_protocols() == [
        "cifar10", "cifar10-1", "cifar10-2", "cifar10-mosaic", "cifar10-subset",
        "digits", "digits-mosaic", "folder", "folder-mosaic",
    ]
    protocol = data.get_protocol("cifar10-2")
    assert data.get_protocol(protocol) is protocol
    assert (protocol.k, protocol.query_per_class, protocol.train_per_class) == (1000, 1000, None)
    assert protocol.relevance == "share_label" and protocol.tie_rule == "stable"
    assert protocol.zero_relevant == "count" and protocol.split_seed == 0


def test_unknown_protocol_suggests_close_matches():
    with pytest.raises(ValueError) as info:
        data.get_protocol("cifar10-subst")
    message = str(info.value)
    assert "unknown protocol 'cifar10-subst'" in message
    assert "Did you mean 'cifar10-subset'" in message
    assert "Registered protocols: cifar10, cifar10-1, cifar10-2" in message


def test_protocols_are_frozen_and_checked():
    protocol = data.get_protocol("digits")
    with pytest.raises(dataclasses.FrozenInstanceError):
        protocol.k = 10
    with pytest.raises(ValueError, match="`tie_rule` must be one of"):
        dataclasses.replace(protocol, tie_rule="optimistic")
    with pytest.raises(ValueError, match="train = database"):
        dataclasses.replace(protocol, train_in_database=False)
    with pytest.raises(ValueError, match="already registered"):
        data.register_protocol(protocol)


# Digits --------------------------------------------------------------------------


def test_digits_split_counts_and_disjointness(digits):
    split = data.get_protocol("digits").split(digits.labels)
    assert split.sizes == {"query": 300, "train": 1348, "database": 1497, "validation": 149}
    assert _per_class(split.query, digits.labels).tolist() == [30] * 10
    assert np.intersect1d(split.query, split.database).size == 0
    # train = database, with a 10 % validation part moved out of train.
    assert np.intersect1d(split.train, split.validation).size == 0
    np.testing.assert_array_equal(np.union1d(split.train, split.validation), split.database)
    assert _per_class(split.validation, digits.labels).tolist() == [
        15, 15, 15, 15, 15, 15, 15, 15, 14, 15
    ]
    np.testing.assert_array_equal(np.union1d(split.query, split.database), np.arange(1797))
    for name in protocols.PART_NAMES:
        array = getattr(split, name)
        assert array.dtype == np.int64 and np.all(np.diff(array) > 0)


def test_digits_split_sha256_is_pinned(digits):
    protocol = data.get_protocol("digits")
    first, second = protocol.split(digits.labels), protocol.split(digits.labels)
    assert first.sha256 == second.sha256 == DIGITS_SHA256 == protocol.split_sha256
    np.testing.assert_array_equal(first.database, second.database)


def test_split_sha256_follows_documented_byte_layout(digits):
    split = data.get_protocol("digits").split(digits.labels)
    blob = b"".join(
        struct.pack("<Q", len(a)) + a.astype("<i8").tobytes()
        for a in (split.query, split.train, split.database, split.validation)
    )
    assert hashlib.sha256(blob).hexdigest() == split.sha256


def test_other_seed_gives_other_split(digits):
    protocol = dataclasses.replace(data.get_protocol("digits"), split_seed=1, split_sha256=None)
    split = protocol.split(digits.labels)
    assert split.sha256 != DIGITS_SHA256
    assert split.sizes["query"] == 300


def test_pinned_sha256_refuses_other_data(digits):
    shuffled = np.random.default_rng(0).permutation(digits.labels)  # same counts, other order
    with pytest.raises(ValueError, match="gave split sha256 .* but the pinned value is 6f78515"):
        data.get_protocol("digits").split(shuffled)


def test_apply_returns_matching_parts(digits):
    query, train, database, validation = data.get_protocol("digits").apply(
        digits, include_validation=True
    )
    split = data.get_protocol("digits").split(digits.labels)
    assert (len(query), len(train), len(database), len(validation)) == (300, 1348, 1497, 149)
    np.testing.assert_array_equal(query.images, digits.images[split.query])
    np.testing.assert_array_equal(train.labels, digits.labels[split.train])
    assert query.name == "digits/query" and DIGITS_SHA256 in database.source
    assert len(data.get_protocol("digits").apply(digits)) == 3


# CIFAR-10 developer subset ----------------------------------------------------------


@needs_cifar_subset
def test_cifar10_subset_split(cifar_subset):
    labels = cifar_subset.labels
    split = data.get_protocol("cifar10-subset").split(labels, cifar_subset.class_names)
    assert split.sizes == {"query": 1000, "train": 4050, "database": 5102, "validation": 450}
    assert _per_class(split.query, labels).tolist() == [100] * 10
    assert _per_class(split.train, labels).tolist() == [405] * 10
    assert _per_class(split.validation, labels).tolist() == [45] * 10
    assert np.intersect1d(split.query, split.database).size == 0
    assert np.isin(split.train, split.database).all()
    assert np.isin(split.validation, split.database).all()
    assert np.intersect1d(split.train, split.validation).size == 0
    assert split.sha256 == CIFAR10_SUBSET_SHA256


@needs_cifar_subset
def test_cifar10_subset_protocol_refuses_full_size_labels():
    with pytest.raises(ValueError, match="defined on 6,102 items .* got 60,000"):
        data.get_protocol("cifar10-subset").split(_full_cifar_labels())


# Full CIFAR-10 protocols (labels shaped like the full download) --------------------------


def test_cifar10_protocol_excludes_train_from_database():
    labels = _full_cifar_labels()
    split = data.get_protocol("cifar10").split(labels)
    assert split.sizes == {"query": 1000, "train": 4500, "database": 54000, "validation": 500}
    assert _per_class(split.train, labels).tolist() == [450] * 10
    parts = [split.query, split.train, split.validation, split.database]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(60000))


def test_cifar10_1_draws_train_from_database():
    labels = _full_cifar_labels()
    split = data.get_protocol("cifar10-1").split(labels)
    assert split.sizes == {"query": 1000, "train": 4500, "database": 59000, "validation": 500}
    assert np.isin(split.train, split.database).all()
    assert np.isin(split.validation, split.database).all()
    assert np.intersect1d(split.query, split.database).size == 0


def test_cifar10_2_train_is_database():
    labels = _full_cifar_labels()
    protocol = data.get_protocol("cifar10-2")
    split = protocol.split(labels)
    assert split.sizes == {"query": 10000, "train": 45000, "database": 50000, "validation": 5000}
    np.testing.assert_array_equal(np.union1d(split.train, split.validation), split.database)
    assert protocol.k == 1000


def test_impossible_counts_name_the_class():
    counts = [6000] * 10
    counts[3], counts[4] = 590, 11410
    with pytest.raises(ValueError) as info:
        data.get_protocol("cifar10").split(_full_cifar_labels(counts), class_names=[
            "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"
        ])
    message = str(info.value)
    assert "needs 601 items of class 3 ('cat')" in message
    assert "100 query + 500 train + at least 1 database" in message
    assert "only 590 are available" in message


def test_split_rejects_bad_labels():
    protocol = data.get_protocol("cifar10")
    with pytest.raises(ValueError, match="single-label"):
        protocol.split(np.zeros((60000, 10), bool))
    with pytest.raises(ValueError, match="10 classes, got class id 10"):
        protocol.split(np.full(60000, 10))


# Mosaic protocols -------------------------------------------------------------


def test_digits_mosaic_split_keeps_query_and_database_sources_apart(digits):
    protocol = data.get_protocol("digits-mosaic")
    assert protocol.label_kind == "multi" and protocol.k == 500
    split = protocol.split(digits.labels)
    assert split.sizes == {"query": 300, "train": 1000, "database": 2000, "validation": 100}
    assert split.query.shape == (300, 4) and split.database.dtype == np.int64
    base = data.get_protocol("digits").split(digits.labels)
    for name in protocols.PART_NAMES:
        assert np.isin(getattr(split, name), getattr(base, name)).all(), name
    assert np.intersect1d(split.query, split.database).size == 0
    assert split.sha256 == DIGITS_MOSAIC_SHA256 == protocol.split_sha256


def test_digits_mosaic_apply_builds_multi_label_parts(digits):
    query, train, database = data.get_protocol("digits-mosaic").apply(digits)
    assert query.images.shape == (300, 16, 16, 1) and database.images.shape == (2000, 16, 16, 1)
    assert len(train) == 1000 and database.is_multi_label
    split = data.get_protocol("digits-mosaic").split(digits.labels)
    row = split.query[0]
    np.testing.assert_array_equal(query.images[0, :8, 8:], digits.images[row[1]])
    assert set(np.flatnonzero(query.labels[0])) == set(digits.labels[row].tolist())
    relevant = (query.labels.astype(int) @ database.labels.T.astype(int)) > 0
    assert 0.2 < relevant.mean() < 0.5


@needs_cifar_subset
def test_cifar10_mosaic_split_is_pinned(cifar_subset):
    split = data.get_protocol("cifar10-mosaic").split(cifar_subset.labels)
    assert split.sizes == {"query": 500, "train": 2000, "database": 2500, "validation": 200}
    assert split.sha256 == CIFAR10_MOSAIC_SHA256


def test_folder_protocol_takes_any_class_count_and_names_short_classes():
    protocol = data.get_protocol("folder")
    split = protocol.split(np.repeat(np.arange(3), 8))
    assert (len(split.query), len(split.database)) == (15, 9)
    assert set(split.train) | set(split.validation) == set(split.database)
    with pytest.raises(ValueError, match=r"needs 6 items of class 1 .*only 3 are available"):
        protocol.split(np.array([0] * 8 + [1] * 3))
