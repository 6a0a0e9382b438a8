"""Tests for hashzoo.data sources: ImageDataset, digits, CIFAR-10, image folders, load()."""

import pickle

import numpy as np
import pytest
from PIL import Image

from hashzoo import data
from hashzoo.data import cifar10 as cifar10_lib

CIFAR_DIR = data.cifar10_subset_dir()
needs_cifar_subset = pytest.mark.skipif(
    not CIFAR_DIR.is_dir(),
    reason=(
        f"real CIFAR-10 subset not found at {CIFAR_DIR}: put shared/data next to "
        "the repository or set $HASHZOO_DATA to the folder holding cifar-10-batches-py"
    ),
)

DIGITS_CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


# ImageDataset ----------------------------------------------------------------


def test_image_dataset_properties_and_subset():
    images = np.arange(5 * 2 * 2 * 1, dtype=np.uint8).reshape(5, 2, 2, 1)
    ds = data.ImageDataset(images, np.array([0, 1, 2, 1, 0]), ("a", "b", "c"), "toy", "arange")
    assert len(ds) == 5 and ds.num_classes == 3 and not ds.is_multi_label
    assert ds.labels.dtype == np.int64
    part = ds.subset([4, 1])
    np.testing.assert_array_equal(part.images, images[[4, 1]])
    np.testing.assert_array_equal(part.labels, [0, 1])
    assert part.class_names == ds.class_names and part.name == "toy"
    with pytest.raises(ValueError, match="read-only"):
        ds.images[0, 0, 0, 0] = 1
    multi = data.ImageDataset(images[:2], np.array([[1, 0], [1, 1]]), ("x", "y"), "m", "s")
    assert multi.is_multi_label and multi.labels.dtype == bool


@pytest.mark.parametrize(
    "images, labels, names, message",
    [
        (np.zeros((2, 4, 4, 3), np.float32), [0, 1], ("a", "b"), "must be uint8"),
        (np.zeros((2, 4, 4, 3), np.uint8), [0, 2], ("a", "b"), "class id 2 is out of range"),
        (np.zeros((2, 4, 4, 3), np.uint8), [[1, 0, 0]] * 2, ("a", "b"), "3 columns"),
        (np.zeros((2, 4, 4, 2), np.uint8), [0, 1], ("a", "b"), "1 \\(grey\\) or 3"),
        (np.zeros((2, 4, 4, 3), np.uint8), [0, 1], ("a", "a"), "duplicates"),
        (np.zeros((2, 4, 4, 3), np.uint8), [0, 1, 1], ("a", "b"), "3 rows but there are 2"),
    ],
)
def test_image_dataset_rejects_bad_input(images, labels, names, message):
    with pytest.raises(ValueError, match=message):
        data.ImageDataset(images, np.asarray(labels), names, "bad", "test")


def test_subset_rejects_out_of_range(digits):
    with pytest.raises(ValueError, match=r"\[0, 1797\)"):
        digits.subset([0, 1797])
    with pytest.raises(ValueError, match="integers"):
        digits.subset([0.5])


# Digits ----------------------------------------------------------------------


def test_digits_shape_dtype_counts(digits):
    assert digits.images.shape == (1797, 8, 8, 1)
    assert digits.images.dtype == np.uint8
    assert digits.labels.dtype == np.int64
    assert np.bincount(digits.labels).tolist() == DIGITS_CLASS_COUNTS
    assert digits.class_names == tuple(str(i) for i in range(10))
    assert digits.name == "digits" and "sklearn" in digits.source


def test_digits_scaling_matches_sklearn_levels(digits):
    from sklearn.datasets import load_digits

    levels = load_digits().images
    assert digits.images.min() == 0 and digits.images.max() == 255
    expected = np.floor(levels * 255 / 16 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(digits.images[..., 0], expected)
    # 17 grey levels map to 17 distinct values, 8 -> 128 (round half up).
    assert len(np.unique(digits.images)) == 17
    assert digits.images[..., 0][levels == 8].tolist()[0] == 128


# CIFAR-10: the real subset ---------------------------------------------------


@pytest.fixture(scope="module")
def cifar_subset():
    return data.load_cifar10(CIFAR_DIR)


@needs_cifar_subset
def test_cifar_subset_counts_and_labels(cifar_subset):
    ds = cifar_subset
    assert ds.images.shape == (6102, 32, 32, 3) and ds.images.dtype == np.uint8
    assert ds.labels.min() == 0 and ds.labels.max() == 9
    counts = np.bincount(ds.labels, minlength=10)
    assert counts.sum() == 6102
    assert counts.min() == 562 and counts.max() == 639
    assert ds.class_names[:3] == ("airplane", "automobile", "bird")
    assert ds.class_names[-1] == "truck" and ds.name == "cifar10"


@needs_cifar_subset
def test_cifar_subset_pooling_order_and_pixel_layout(cifar_subset):
    # test_batch comes last and rows are channel-major (R plane, G plane, B plane).
    with open(CIFAR_DIR / "test_batch", "rb") as handle:
        raw = pickle.load(handle, encoding="bytes")
    rows = raw[b"data"]
    tail = cifar_subset.images[-rows.shape[0]:]
    np.testing.assert_array_equal(tail[0, :, :, 0], rows[0, :1024].reshape(32, 32))
    np.testing.assert_array_equal(tail[0, :, :, 2], rows[0, 2048:].reshape(32, 32))
    np.testing.assert_array_equal(cifar_subset.labels[-rows.shape[0]:], raw[b"labels"])


@needs_cifar_subset
def test_cifar_accepts_parent_folder(cifar_subset):
    parent = data.load_cifar10(CIFAR_DIR.parent)
    np.testing.assert_array_equal(parent.labels, cifar_subset.labels)


# CIFAR-10: fake folders for the error paths -----------------------------------


def _write_fake_cifar(folder, rows_per_batch=2, module="numpy._core.multiarray"):
    """Writes a tiny folder in the official layout; batch b image i is filled with 10*b+i."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = {b"label_names": [f"class{i}".encode() for i in range(10)], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    for b, name in enumerate(cifar10_lib.BATCH_FILES):
        values = 10 * b + np.arange(rows_per_batch)
        record = {
            b"batch_label": name.encode(),
            b"labels": [int(v) % 10 for v in values],
            b"data": np.repeat(values.astype(np.uint8)[:, None], 3072, axis=1),
        }
        blob = pickle.dumps(record, protocol=2)
        (folder / name).write_bytes(blob.replace(b"numpy._core.multiarray", module.encode()))
    return folder


@pytest.mark.parametrize("module", ["numpy._core.multiarray", "numpy.core.multiarray"])
def test_fake_cifar_loads_in_official_order(tmp_path, module):
    folder = _write_fake_cifar(tmp_path / "cifar-10-batches-py", module=module)
    ds = data.load_cifar10(tmp_path)  # the parent folder works too
    assert ds.images.shape == (12, 32, 32, 3)
    assert ds.images[:, 0, 0, 0].tolist() == [0, 1, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51]
    assert ds.labels.tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert ds.class_names[3] == "class3" and ds.source == str(folder)


def test_cifar_missing_folder_says_where_and_how(tmp_path):
    with pytest.raises(ValueError) as info:
        data.load_cifar10(tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere") in message and "does not exist" in message
    assert "data_batch_1" in message and "test_batch" in message and "batches.meta" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message


def test_cifar_missing_file_is_named(tmp_path):
    folder = _write_fake_cifar(tmp_path / "c")
    (folder / "test_batch").unlink()
    (folder / "data_batch_4").unlink()
    with pytest.raises(ValueError) as info:
        data.load_cifar10(folder)
    message = str(info.value)
    assert f"{folder} is missing data_batch_4, test_batch" in message
    assert "cifar-10-python.tar.gz" in message


def test_cifar_truncated_batch_is_named(tmp_path):
    folder = _write_fake_cifar(tmp_path / "c")
    blob = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match=r"data_batch_3 is not a readable CIFAR-10 python pickle"):
        data.load_cifar10(folder)


@pytest.mark.parametrize(
    "record, message",
    [
        ({b"data": np.zeros((2, 3000), np.uint8), b"labels": [0, 1]}, "rows of 3072 bytes"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, r"labels must lie in 0\.\.9"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "must be 2 integers"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [0, 1]}, "no 'labels' entry"),
    ],
)
def test_cifar_malformed_batch_contents(tmp_path, record, message):
    folder = _write_fake_cifar(tmp_path / "c")
    (folder / "data_batch_2").write_bytes(pickle.dumps(record, protocol=2))
    with pytest.raises(ValueError, match=message) as info:
        data.load_cifar10(folder)
    assert str(folder / "data_batch_2") in str(info.value)


def test_cifar_pickle_cannot_run_code(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    folder = _write_fake_cifar(tmp_path / "c")
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(ValueError, match=r"refusing to load (__builtin__|builtins)\.print"):
        data.load_cifar10(folder)


# Image folders ---------------------------------------------------------------


def _save(path, size, colour, mode):
    Image.new(mode, size, colour).save(path)


@pytest.fixture
def image_tree(tmp_path):
    """Two classes; PNG and JPEG, grey and colour, four different sizes."""
    root = tmp_path / "pets"
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    _save(root / "cat" / "a.png", (6, 4), (200, 10, 30), "RGB")  # width 6, height 4
    _save(root / "cat" / "b.JPG", (10, 10), 90, "L")
    _save(root / "dog" / "c.png", (3, 5), 40, "L")
    _save(root / "dog" / "d.jpeg", (8, 8), (0, 0, 250), "RGB")
    (root / "dog" / "notes.txt").write_text("ignored: not an image")
    (root / "dog" / ".hidden.png").write_bytes(b"ignored: hidden")
    return root


def test_image_folder_round_trip_rgb(image_tree):
    ds = data.load_image_folder(image_tree)
    assert ds.images.shape == (4, 4, 6, 3) and ds.images.dtype == np.uint8
    assert ds.class_names == ("cat", "dog") and ds.labels.tolist() == [0, 0, 1, 1]
    assert ds.name == "pets" and ds.source == str(image_tree)
    # PNG is lossless and resizing a flat colour keeps it: exact values.
    assert (ds.images[0] == (200, 10, 30)).all()
    assert (ds.images[2] == 40).all()  # grey repeated to RGB
    # JPEG is lossy: close to the flat colour.
    assert np.abs(ds.images[1].astype(int) - 90).max() <= 2
    assert np.abs(ds.images[3].astype(int) - (0, 0, 250)).max() <= 3


def test_image_folder_grey_and_explicit_size(image_tree):
    ds = data.load_image_folder(image_tree, image_size=5, channels=1)
    assert ds.images.shape == (4, 5, 5, 1)
    # ITU-R 601-2 luma, as Pillow's "L" conversion: 200*.299 + 10*.587 + 30*.114 = 69.07.
    assert (ds.images[0] == 69).all()
    wide = data.load_image_folder(image_tree, image_size=(2, 7))
    assert wide.images.shape == (4, 2, 7, 3)


def test_image_folder_resizes_real_content(tmp_path):
    (tmp_path / "x").mkdir()
    ramp = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    Image.fromarray(ramp, "L").save(tmp_path / "x" / "ramp.png")
    ds = data.load_image_folder(tmp_path, image_size=(16, 8), channels=1)
    row = ds.images[0, 0, :, 0].astype(int)
    assert np.all(np.diff(row) > 0)  # still a left-to-right ramp
    assert abs(row.mean() - ramp.mean()) < 4


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "is empty"),
        (lambda root: (root.mkdir(), _save(root / "x.png", (2, 2), 0, "L")), "no class sub-folders"),
        (lambda root: (root.mkdir(), (root / "a").mkdir()), "class folder .*a holds no images"),
        (lambda root: (root.parent.mkdir(exist_ok=True), _save(root, (2, 2), 0, "L")), "is a file"),
    ],
)
def test_image_folder_structure_errors(tmp_path, make, message):
    root = tmp_path / "root.png"
    make(root)
    with pytest.raises(ValueError, match=message) as info:
        data.load_image_folder(root)
    assert str(root) in str(info.value)


def test_image_folder_unreadable_file_is_named(image_tree):
    (image_tree / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match=r"cannot read image .*dog/broken\.png"):
        data.load_image_folder(image_tree)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"channels": 2}, "`channels` must be one of"), ({"image_size": (1, 2, 3)}, "height, width"),
     ({"image_size": 0}, "positive integer")],
)
def test_image_folder_bad_options(image_tree, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_image_folder(image_tree, **kwargs)


# load(): one entry point --------------------------------------------------------


def test_load_dispatches_each_form(tmp_path, image_tree):
    assert data.load("digits").images.shape == (1797, 8, 8, 1)
    cifar = data.load(str(_write_fake_cifar(tmp_path / "fake" / "cifar-10-batches-py")))
    assert cifar.name == "cifar10" and len(cifar) == 12
    folder = data.load(str(image_tree), image_size=3, channels=1)
    assert folder.images.shape == (4, 3, 3, 1) and folder.class_names == ("cat", "dog")


@needs_cifar_subset
def test_load_cifar10_subset_by_name():
    assert len(data.load("cifar10-subset")) == 6102


@pytest.mark.parametrize(
    "source, kwargs, message",
    [
        ("imagenet", {}, "neither a known name nor an existing folder.*Accepted forms: \"digits\""),
        ("digits", {"image_size": 3}, "does not take image_size; valid options: none"),
        ("tfds:cifar10", {}, "needs data_dir"),
        ("tfds:", {"data_dir": "."}, "needs a dataset name"),
    ],
)
def test_load_rejects_unknown_forms_and_options(source, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load(source, **kwargs)


def test_folder_kind_names_the_loader_load_uses(tmp_path, image_tree):
    """One check tells the two folder forms apart for `load`, fine-tuning and tools/evaluate.py."""
    fake = _write_fake_cifar(tmp_path / "fake" / "cifar-10-batches-py")
    assert data.folder_kind(fake) == data.folder_kind(fake.parent) == "cifar10"
    assert data.folder_kind(str(image_tree)) == "images"
    a_file = image_tree / "dog" / "notes.txt"
    for source in ("digits", "tfds:cifar10", a_file, tmp_path / "missing"):
        assert data.folder_kind(source) is None


def test_load_rejects_bad_folder_option(image_tree):
    with pytest.raises(ValueError, match="valid options: image_size, channels"):
        data.load(str(image_tree), split="train")
