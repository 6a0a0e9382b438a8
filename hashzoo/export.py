"""SavedModel export for TF Serving (zoo spec §6).

`export_serving(model, base_dir)` writes `<base_dir>/<version>/`, a SavedModel
built with `keras.export.ExportArchive`, with two signatures:

- `serving_default`: input `images`, float32 pixels in [0, 255],
  `[None, H, W, C]` (the model's preprocessing contract); outputs `codes`
  (int8 ±1, `[None, bits]`), `packed` (uint8, `[None, ceil(bits / 8)]`, most
  significant bit first, +1 stored as 1, as `hashzoo.codes.pack_codes`) and,
  for methods with a class head, `logits` (float32 `[None, classes]`).
- `image_bytes`: input `image_bytes`, string `[None]` of JPEG or PNG files,
  decoded to C channels and resized to H×W in the graph; same outputs.

Codes are "z >= 0 gives +1, else -1", never `tf.sign` (sign(0) = 0 would be
a third value). The version folder is written into a temporary sibling whose
name is not a number (TF Serving ignores it) and renamed into place; an
existing version is never overwritten.
"""

import os
import pathlib
import shutil
import tempfile

import numpy as np

from hashzoo.utils.validation import check_positive_int

SERVING_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "image_bytes"


def existing_versions(base_dir):
    """Integer version folders under `base_dir`, sorted."""
    base_dir = pathlib.Path(base_dir)
    if not base_dir.is_dir():
        return []
    return sorted(int(p.name) for p in base_dir.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(base_dir):
    """One above the highest integer version folder under `base_dir` (1 when none)."""
    versions = existing_versions(base_dir)
    return versions[-1] + 1 if versions else 1


def code_outputs(z, bits):
    """int8 ±1 codes and uint8 packed codes from the continuous code z, in TF."""
    import tensorflow as tf

    positive = z >= 0
    codes = tf.where(positive, tf.constant(1, tf.int8), tf.constant(-1, tf.int8))
    num_bytes = (bits + 7) // 8
    bits01 = tf.cast(positive, tf.int32)
    bits01 = tf.pad(bits01, [[0, 0], [0, 8 * num_bytes - bits]])
    weights = tf.constant([128, 64, 32, 16, 8, 4, 2, 1], tf.int32)
    packed = tf.reduce_sum(tf.reshape(bits01, [-1, num_bytes, 8]) * weights, axis=-1)
    return codes, tf.cast(packed, tf.uint8)


def build_archive(model):
    """A `keras.export.ExportArchive` with the two serving signatures."""
    import keras
    import tensorflow as tf

    height, width = model.preprocessing.image_size
    channels = model.preprocessing.channels
    bits = model.code_bits
    resize = model.preprocessing.resize

    def outputs(images):
        heads = model.serving_outputs(images)
        codes, packed = code_outputs(tf.cast(heads["z"], tf.float32), bits)
        result = {"codes": codes, "packed": packed}
        if "logits" in heads:
            result["logits"] = tf.cast(heads["logits"], tf.float32)
        return result

    def decode(data):
        image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.cast(image, tf.float32)
        image = tf.image.resize(image, (height, width), method=resize)
        return tf.ensure_shape(image, (height, width, channels))

    def serving_default(images):
        return outputs(images)

    def image_bytes(image_bytes):
        signature = tf.TensorSpec((height, width, channels), tf.float32)
        images = tf.map_fn(decode, image_bytes, fn_output_signature=signature)
        return outputs(images)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SERVING_SIGNATURE, serving_default,
        input_signature=[tf.TensorSpec((None, height, width, channels), tf.float32, name="images")],
    )
    archive.add_endpoint(
        BYTES_SIGNATURE, image_bytes,
        input_signature=[tf.TensorSpec((None,), tf.string, name="image_bytes")],
    )
    return archive


def export_serving(model, base_dir, version=None):
    """Writes `model` as a TF Serving SavedModel to `<base_dir>/<version>/`.

    Args:
        model: a `HashingModel`.
        base_dir: the model's base path for TF Serving (`--model_base_path`).
        version: integer >= 1; default one above the highest existing version.

    Returns:
        The path of the version folder written, as a `pathlib.Path`.

    Raises:
        ValueError: a bad version, or one that already exists.
    """
    base_dir = pathlib.Path(base_dir)
    version = next_version(base_dir) if version is None else check_positive_int(version, "version")
    target = base_dir / str(version)
    if target.exists():
        raise ValueError(
            f"version {version} already exists at {target}; exported versions are never overwritten. "
            f"Leave `version` unset to write version {next_version(base_dir)}."
        )
    base_dir.mkdir(parents=True, exist_ok=True)
    temp = pathlib.Path(tempfile.mkdtemp(prefix=f".{version}.", suffix=".partial", dir=base_dir))
    try:
        build_archive(model).write_out(str(temp / "saved_model"), verbose=False)
        os.rename(temp / "saved_model", target)  # a concurrent writer of the same version fails here
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return target


def check_export(model, path, images):
    """Runs both signatures of the export at `path` on `images`; returns the largest differences.

    Returns a dict: `codes_mismatch` and `packed_mismatch` (count of entries
    differing from `model.encode` / `encode_packed`), `bytes_codes_mismatch`
    (the `image_bytes` signature on PNG-encoded `images`), and
    `logits_max_abs_diff` when there are logits.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    pixels = np.asarray(images)
    expected = model.encode(pixels)
    expected_packed = model.encode_packed(pixels)
    served = loaded.signatures[SERVING_SIGNATURE](images=tf.constant(pixels, tf.float32))
    pngs = tf.constant([tf.io.encode_png(tf.constant(image, tf.uint8)).numpy() for image in pixels.astype(np.uint8)])
    served_bytes = loaded.signatures[BYTES_SIGNATURE](image_bytes=pngs)
    report = {
        "codes_mismatch": int(np.sum(served["codes"].numpy() != expected)),
        "packed_mismatch": int(np.sum(served["packed"].numpy() != expected_packed)),
        "bytes_codes_mismatch": int(np.sum(served_bytes["codes"].numpy() != expected)),
    }
    if "logits" in served:
        reference = model.serving_outputs(tf.constant(pixels, tf.float32))["logits"]
        report["logits_max_abs_diff"] = float(np.max(np.abs(served["logits"].numpy() - np.asarray(reference))))
    return report
