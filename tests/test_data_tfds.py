"""Tests for hashzoo.data.load_tfds: a tiny dataset prepared offline, and the error paths."""

import numpy as np
import pytest

from hashzoo import data

tfds = pytest.importorskip("tensorflow_datasets")


class HashzooToyImages(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Nine 4x4 images, image i filled with 10*i, label i % 3; nothing to download."""

    VERSION = tfds.core.Version("1.0.0")
    # No source folder with checksums: TFDS would otherwise locate this test
    # module through `importlib_resources`, which is not a hashzoo dependency.
    code_path = None

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(4, 4, 3)),
                "label": tfds.features.ClassLabel(names=["a", "b", "c"]),
            }),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(0, 6), "test": self._generate_examples(6, 9)}

    def _generate_examples(self, start, stop):
        for i in range(start, stop):
            yield i, {"image": np.full((4, 4, 3), 10 * i, np.uint8), "label": i % 3}


@pytest.fixture(scope="module")
def prepared_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tfds")
    tfds.disable_progress_bar()
    HashzooToyImages(data_dir=str(folder)).download_and_prepare()
    return folder


def test_load_tfds_reads_prepared_dataset(prepared_dir):
    ds = data.load_tfds("hashzoo_toy_images", prepared_dir)
    assert ds.images.shape == (9, 4, 4, 3) and ds.images.dtype == np.uint8
    assert ds.class_names == ("a", "b", "c")
    # Every image still carries its own label, whatever order TFDS stored them in.
    values = ds.images[:, 0, 0, 0].astype(int)
    assert sorted(values.tolist()) == [10 * i for i in range(9)]
    np.testing.assert_array_equal(ds.labels, (values // 10) % 3)
    assert (ds.images == ds.images[:, :1, :1, :1]).all()
    assert ds.source == f"tfds:hashzoo_toy_images:train+test@{prepared_dir}"


def test_load_tfds_split_and_dispatch(prepared_dir):
    test = data.load("tfds:hashzoo_toy_images", data_dir=str(prepared_dir), split="test")
    assert sorted(test.images[:, 0, 0, 0].tolist()) == [60, 70, 80]


def test_load_tfds_not_prepared_says_how(tmp_path):
    with pytest.raises(ValueError) as info:
        data.load_tfds("cifar10", tmp_path)
    message = str(info.value)
    assert f"'cifar10' is not prepared in {tmp_path}" in message
    assert f"tfds build cifar10 --data_dir {tmp_path}" in message
    assert "never downloads" in message


def test_load_tfds_unknown_name_suggests(tmp_path):
    with pytest.raises(ValueError, match="no dataset named 'cifar1O'.*Did you mean 'cifar10'"):
        data.load_tfds("cifar1O", tmp_path)


def test_load_tfds_missing_dir_and_split(tmp_path, prepared_dir):
    with pytest.raises(ValueError, match="data_dir .*nowhere does not exist"):
        data.load_tfds("cifar10", tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"split 'validation'.*\['test', 'train'\]"):
        data.load_tfds("hashzoo_toy_images", prepared_dir, split="validation")
    with pytest.raises(ValueError, match="ClassLabel feature 'fine_label'"):
        data.load_tfds("hashzoo_toy_images", prepared_dir, label_key="fine_label")
