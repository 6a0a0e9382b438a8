"""SavedModel export for TF Serving: layout, versions, both signatures, the CLIs."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import hashzoo
from hashzoo import codes as codes_lib
from hashzoo import data, export
from tests.toy_hasher import ToyHasher

REPO = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent


@pytest.fixture(scope="module")
def model():
    return hashzoo.load("coophash-digits-32")


@pytest.fixture(scope="module")
def images(model):
    """Digits query images whose code values all stay away from 0 (exact comparisons)."""
    query, _, _ = data.get_protocol("digits").apply(data.load_digits())
    z = np.asarray(model.predict(query.images.astype("float32"), verbose=0))
    keep = np.flatnonzero(np.min(np.abs(z), axis=1) > 1e-3)[:24]
    assert len(keep) >= 16
    return query.images[keep]


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    base = tmp_path_factory.mktemp("serving") / "coophash"
    return base, model.export_serving(base)


def test_versions_count_up_and_are_never_overwritten(model, exported):
    base, first = exported
    assert first == base / "1" and (first / "saved_model.pb").is_file()
    with pytest.raises(ValueError, match="version 1 already exists.*write version 2"):
        model.export_serving(base, version=1)
    (base / "7").mkdir()
    (base / "notes").mkdir()
    assert export.next_version(base) == 8
    (base / "7").rmdir()
    (base / "notes").rmdir()
    assert sorted(p.name for p in base.iterdir()) == ["1"], "no temporary folder is left behind"
    with pytest.raises(ValueError, match="`version` must be a positive integer"):
        model.export_serving(base, version=0)


def test_serving_default_matches_encode_exactly(model, exported, images):
    _, path = exported
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) == {"serving_default", "image_bytes"}
    signature = loaded.signatures["serving_default"]
    assert list(signature.structured_input_signature[1]) == ["images"]
    spec = signature.structured_input_signature[1]["images"]
    assert spec.dtype == tf.float32 and spec.shape.as_list() == [None, 8, 8, 1]
    out = signature(images=tf.constant(images, tf.float32))
    assert set(out) == {"codes", "packed", "logits"}
    assert out["codes"].dtype == tf.int8 and out["codes"].shape == (len(images), 32)
    assert out["packed"].dtype == tf.uint8 and out["packed"].shape == (len(images), 4)
    assert out["logits"].dtype == tf.float32 and out["logits"].shape == (len(images), 10)
    np.testing.assert_array_equal(out["codes"].numpy(), model.encode(images))
    np.testing.assert_array_equal(out["packed"].numpy(), model.encode_packed(images))
    reference = model.serving_outputs(tf.constant(images, tf.float32))["logits"]
    np.testing.assert_allclose(out["logits"].numpy(), np.asarray(reference), atol=1e-4)
    assert np.array_equal(np.argmax(out["logits"].numpy(), 1), np.argmax(np.asarray(reference), 1))


def test_image_bytes_decodes_png_and_jpeg_in_the_graph(model, exported, images):
    _, path = exported
    signature = tf.saved_model.load(str(path)).signatures["image_bytes"]
    pngs = [tf.io.encode_png(image).numpy() for image in images]
    out = signature(image_bytes=tf.constant(pngs))
    np.testing.assert_array_equal(out["codes"].numpy(), model.encode(images))
    np.testing.assert_array_equal(out["packed"].numpy(), model.encode_packed(images))
    jpegs = [tf.io.encode_jpeg(image, quality=95).numpy() for image in images[:4]]
    decoded = np.stack([tf.io.decode_jpeg(j, channels=1).numpy() for j in jpegs])
    out = signature(image_bytes=tf.constant(jpegs))
    np.testing.assert_array_equal(out["codes"].numpy(), model.encode(decoded))


def test_codes_are_thresholded_at_zero_never_signed():
    z = tf.constant([[0.0, -0.0, -1e-12, 3.0, -2.0, 0.5, 0.0, -1.0, 1.0, -0.1, 0.2, 0.0]])
    codes, packed = export.code_outputs(z, 12)
    expected = codes_lib.binarize(z.numpy())
    assert expected.tolist() == [[1, 1, -1, 1, -1, 1, 1, -1, 1, -1, 1, 1]]
    np.testing.assert_array_equal(codes.numpy(), expected)
    np.testing.assert_array_equal(packed.numpy(), codes_lib.pack_codes(expected))
    assert packed.numpy().shape == (1, 2) and codes.dtype == tf.int8


def test_a_method_without_class_head_exports_codes_only_and_resizes_bytes(tmp_path):
    toy = ToyHasher(12, num_classes=3, hidden=8, seed=1, preprocessing={"image_size": (8, 8), "channels": 3})
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 16, 16, 3)).astype("uint8")
    z = np.asarray(toy.predict(pixels.astype("float32"), verbose=0))
    pixels = pixels[np.min(np.abs(z), axis=1) > 1e-3][:8]
    path = toy.export_serving(tmp_path / "toy")
    loaded = tf.saved_model.load(str(path))
    small = tf.image.resize(pixels.astype("float32"), (8, 8)).numpy()
    out = loaded.signatures["serving_default"](images=tf.constant(small))
    assert set(out) == {"codes", "packed"} and out["packed"].shape == (len(pixels), 2)
    np.testing.assert_array_equal(out["codes"].numpy(), toy.encode(small))
    pngs = tf.constant([tf.io.encode_png(p).numpy() for p in pixels])  # 16x16, resized in the graph
    out = loaded.signatures["image_bytes"](image_bytes=pngs)
    np.testing.assert_array_equal(out["codes"].numpy(), toy.encode(pixels))


def test_tfsmlayer_reloads_the_export_into_keras(exported, model, images):
    _, path = exported
    layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
    out = layer(tf.constant(images, tf.float32))
    np.testing.assert_array_equal(np.asarray(out["codes"]), model.encode(images))


def test_saved_model_cli_show_and_run(exported, model, images, tmp_path):
    _, path = exported
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    cli = str(BIN / "saved_model_cli")
    show = subprocess.run([cli, "show", "--dir", str(path), "--tag_set", "serve", "--signature_def",
                           "serving_default"], capture_output=True, text=True, env=env, timeout=300)
    assert show.returncode == 0, show.stderr[-2000:]
    for text in ("inputs['images']", "DT_FLOAT", "(-1, 8, 8, 1)", "outputs['codes']", "DT_INT8", "(-1, 32)",
                 "outputs['packed']", "DT_UINT8", "(-1, 4)", "outputs['logits']", "tensorflow/serving/predict"):
        assert text in show.stdout, text
    np.save(tmp_path / "x.npy", images[:4].astype("float32"))
    run = subprocess.run([cli, "run", "--dir", str(path), "--tag_set", "serve", "--signature_def",
                          "serving_default", "--inputs", f"images={tmp_path / 'x.npy'}", "--outdir",
                          str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "codes.npy"), model.encode(images[:4]))
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "packed.npy"), model.encode_packed(images[:4]))


def test_export_tool_prints_the_difference_from_encode(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "export.py"), "--preset", "coophash-digits-64", "--base_dir",
         str(tmp_path / "s"), "--check_images", "16"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"wrote {tmp_path / 's' / '1'}" in proc.stdout
    assert "codes_mismatch=0, packed_mismatch=0, bytes_codes_mismatch=0" in proc.stdout
    assert "codes int8 [None, 64], packed uint8 [None, 8], logits float32" in proc.stdout
