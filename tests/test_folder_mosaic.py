"""`folder-mosaic` (mosaics of any label set), `write_image_folder`, and a SADH fine-tune on a new label set."""

import numpy as np
import pytest

from hashzoo import data, finetune
from hashzoo.data import protocols

SADH_PARENT = "sadh-digits_mosaic-32"  # 16x16 mosaics of 8x8 digits, 10 classes, multi-label
SIX = ("zero", "one", "two", "three", "four", "five")


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def classes(dataset, count, names=None):
    """The images of classes 0 .. count-1, as a dataset of `count` classes."""
    subset = dataset.subset(np.flatnonzero(dataset.labels < count))
    names = names or dataset.class_names[:count]
    return data.ImageDataset(subset.images, subset.labels, names, f"first-{count}", "test subset")


def test_folder_mosaic_is_registered_for_any_label_set():
    protocol = data.get_protocol("folder-mosaic")
    assert "folder-mosaic" in data.list_protocols()
    assert protocol.num_classes is None and protocol.num_items is None and protocol.dataset == "any"
    assert protocol.label_kind == "multi" and protocol.k == 500 and protocol.split_sha256 is None
    spec = protocol.mosaic
    assert (spec.base, spec.grid, spec.classes_per_sample) == ("folder", 2, (1, 3))
    assert (spec.query_size, spec.train_size, spec.database_size, spec.validation_size) == (300, 1000, 2000, 100)
    assert protocols.data_family(protocol.dataset) == {"description": "", "license": ""}


def test_folder_mosaic_splits_six_classes_into_mosaics_of_six_labels(digits):
    six = classes(digits, 6, SIX)
    protocol = data.get_protocol("folder-mosaic")
    split = protocol.split(six.labels, six.class_names)
    assert split.sizes == {"query": 300, "train": 1000, "database": 2000, "validation": 100}
    assert all(getattr(split, name).shape[1] == 4 for name in protocols.PART_NAMES)
    assert protocol.split(six.labels).sha256 == split.sha256  # seeded: same lists every time
    # Query mosaics are tiled from the base's query images only: no source image is shared.
    assert not set(split.query.ravel()) & set(split.database.ravel())
    base = data.get_protocol("folder").split(six.labels)
    assert set(split.query.ravel()) <= set(base.query) and set(split.train.ravel()) <= set(base.train)
    query, train, database, validation = protocol.apply(six, include_validation=True)
    for part, size in ((query, 300), (train, 1000), (database, 2000), (validation, 100)):
        assert part.images.shape == (size, 16, 16, 1) and part.labels.shape == (size, 6)
        counts = part.labels.sum(axis=1)
        assert counts.min() >= 1 and counts.max() <= 3
    assert query.class_names == SIX and "folder-mosaic" in query.source
    assert set(np.flatnonzero(train.labels.any(axis=0))) == set(range(6))
    # Another class count gives labels of its own width.
    assert protocol.apply(classes(digits, 4))[0].labels.shape == (300, 4)


def test_fewer_than_three_classes_is_a_clear_error(digits):
    two = classes(digits, 2, ("cat", "dog"))
    with pytest.raises(ValueError, match=r"1 to 3 distinct classes, so the data needs at least 3 "
                                         r"classes; it has 2 \('cat', 'dog'\)"):
        data.get_protocol("folder-mosaic").apply(two)
    # The fixed-class mosaic protocol points to this one.
    with pytest.raises(ValueError, match="has 10 classes, dataset 'first-6' has 6; protocol 'folder-mosaic'"):
        data.get_protocol("digits-mosaic").apply(classes(digits, 6))


def test_write_image_folder_round_trips_exactly(digits, tmp_path):
    six = classes(digits, 6, SIX)
    out = data.write_image_folder(six, tmp_path / "six")
    assert out == tmp_path / "six"
    # "zero", "one", ... do not sort in id order, so each folder gets its class id first.
    assert sorted(p.name for p in out.iterdir()) == [f"{i}-{name}" for i, name in enumerate(SIX)]
    assert [p.name for p in tmp_path.iterdir()] == ["six"]  # no temporary folder left behind
    back = data.load_image_folder(out, channels=1)
    order = np.argsort(six.labels, kind="stable")
    np.testing.assert_array_equal(back.images, six.images[order])
    np.testing.assert_array_equal(back.labels, six.labels[order])

    # Colour, names that already sort, and a class with no images (it gets no folder).
    rng = np.random.default_rng(0)
    colour = data.ImageDataset(rng.integers(0, 256, (9, 5, 7, 3), dtype=np.uint8),
                               np.array([2, 0, 2, 0, 0, 2, 0, 2, 2]), ("a", "b", "c"), "colour", "random")
    back = data.load_image_folder(data.write_image_folder(colour, tmp_path / "colour"), channels=3)
    assert back.class_names == ("a", "c")
    order = np.argsort(colour.labels, kind="stable")
    np.testing.assert_array_equal(back.images, colour.images[order])
    np.testing.assert_array_equal(back.labels, [0, 0, 0, 0, 1, 1, 1, 1, 1])
    # Names for the classes that have images only; an existing empty folder is filled.
    (tmp_path / "empty").mkdir()
    out = data.write_image_folder(colour, tmp_path / "empty", class_names=["x", "y"])
    assert data.load_image_folder(out).class_names == ("x", "y")


def test_write_image_folder_refuses_what_it_cannot_write(digits, tmp_path):
    six = classes(digits, 6)
    full = tmp_path / "full"
    (full / "old").mkdir(parents=True)
    with pytest.raises(ValueError, match="is a folder that is not empty"):
        data.write_image_folder(six, full)
    assert [p.name for p in full.iterdir()] == ["old"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        data.write_image_folder(six, tmp_path / "file")
    with pytest.raises(ValueError, match="give one per class of the dataset"):
        data.write_image_folder(six, tmp_path / "a", class_names=["only", "three", "names"])
    with pytest.raises(ValueError, match="cannot be a folder name"):
        data.write_image_folder(six, tmp_path / "b", class_names=["0", "1", "2", "3", "4", "a/b"])
    with pytest.raises(ValueError, match="is multi-label"):
        data.write_image_folder(data.make_mosaics(six, 4), tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "full"]


def test_sadh_fine_tunes_on_mosaics_of_a_new_label_set(digits, tmp_path):
    # Six classes instead of the preset's ten: the class heads and the dictionaries get 6 label columns,
    # both stages run again, and the image trunk is kept.
    folder = data.write_image_folder(classes(digits, 6, SIX), tmp_path / "six")
    model, result, before, rows = finetune.finetune(SADH_PARENT, folder, tmp_path / "ft", protocol="folder-mosaic",
                                                    epochs=1, steps_per_epoch=2, batch_size=16, verbose=0)
    assert (model.num_classes, model.multi_label) == (6, True)
    assert model.dictionary_labels.shape[1] == 6 and model.dictionaries_built
    assert model.image_net.classifier.kernel.shape[-1] == model.label_net.class_head.kernel.shape[-1] == 6
    statuses = {name: status for name, status, _, _ in rows}
    assert statuses[finetune.layer_of(model.dictionary_labels.path)] == finetune.REBUILT
    for head in (model.image_net.classifier, model.label_net.class_head):
        assert statuses[finetune.layer_of(head.kernel.path)] == finetune.REPLACED
    assert {statuses[finetune.layer_of(w.path)] for w in model.image_net.backbone.weights} == {finetune.LOADED}
    assert set(result.metrics) == set(before.metrics) and "mAP@500" in result.metrics
    card = model.card
    assert card["protocol"]["id"] == "folder-mosaic" and card["protocol"]["train"] == 1000
    assert card["input"]["mosaic_grid"] == 2 and card["input"]["resized"] is False
    assert [(stage["name"], stage["skipped"]) for stage in card["stages"]] == [("label_net", False),
                                                                                ("dictionaries", False)]
    assert {row["layer"]: row["status"] for row in card["layers"]}[finetune.layer_of(
        model.dictionary_labels.path)] == "rebuilt"
