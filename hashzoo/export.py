"""SavedModel export for TF Serving (README.md, "Serve it with TF Serving").

`export_serving(model, base_dir)` writes `<base_dir>/<version>/`, a SavedModel
built with `keras.export.ExportArchive`, with two signatures:

- `serving_default`: input `images`, float32 pixels in [0, 255],
  `[None, H, W, C]` (the model's preprocessing contract); outputs `codes`
  (int8 ±1, `[None, bits]`), `packed` (uint8, `[None, ceil(bits / 8)]`, most
  significant bit first, +1 stored as 1, as `hashzoo.codes.pack_codes`) and,
  for methods with a class head, `logits` (float32 `[None, classes]`).
- `image_bytes`: input `image_bytes`, string `[None]` of JPEG, PNG, GIF or
  BMP files, decoded to C channels and resized to H×W in the graph; same
  outputs.

Both signatures check every request in the graph before the model runs: a
wrong rank, size or channel count, an empty batch, NaN, infinite or
out-of-range pixels, or bytes that are not an image file fail with an
`InvalidArgumentError` naming what is expected and what came. No request
can reach a kernel with a shape the graph was not built for (such a request
used to abort the serving process). Unlike `HashingModel.encode`, the
signatures do not warn about pixels scaled to [0, 1]: a graph cannot warn.

Codes are "z >= 0 gives +1, else -1", never `tf.sign` (sign(0) = 0 would be
a third value). The version folder is written into a temporary sibling whose
name is not a number (TF Serving ignores it) and renamed into place; an
existing version is never overwritten, and temporary folders left by a
killed export are removed by the next one.
"""

import os
import pathlib
import shutil
import socket
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
    return sorted(int(p.name) for p in base_dir.iterdir() if p.is_dir() and p.name.isascii() and p.name.isdigit())


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


def _hide_static_shape(tensor):
    """`tensor` unchanged, but with no static shape, so graph optimisations cannot fold checks on it.

    A signature's input placeholder carries the declared `[None, H, W, C]`,
    and TensorFlow trusts it: a check such as "rank is 4" is folded to True
    when the graph is built or optimised, while a request of another rank
    still reaches the kernels (a rank-3 request aborted the process in a
    oneDNN kernel). Checks on the output of this identity run for real.
    """
    import tensorflow as tf

    return tf.raw_ops.PlaceholderWithDefault(input=tensor, shape=tf.TensorShape(None))


def _shape_text(shape):
    """A `[d0, d1, ...]` string of a shape tensor, in the graph."""
    import tensorflow as tf

    return tf.strings.join(["[", tf.strings.reduce_join(tf.strings.as_string(shape), separator=", "), "]"])


def _index_text(mask):
    """`[i, j, ...]` of the first True entry of a non-empty boolean mask, in the graph."""
    import tensorflow as tf

    return _shape_text(tf.where(mask)[0])


def _first_value_text(values, mask):
    """The value of `values` at the first True entry of a non-empty boolean mask, as text, in the graph."""
    import tensorflow as tf

    return tf.strings.as_string(tf.gather_nd(values, tf.where(mask)[0]), shortest=True)


def _hex_text(data, count):
    """The first `count` bytes of the scalar string `data` as hex pairs, in the graph."""
    import tensorflow as tf

    table = tf.constant([f"{value:02x}" for value in range(256)])
    head = tf.io.decode_raw(tf.strings.substr(data, 0, count), tf.uint8)
    return tf.strings.join(["[", tf.strings.reduce_join(tf.gather(table, tf.cast(head, tf.int32)), separator=" "), "]"])


def _check(ok, message, name):
    """An `Assert` raising InvalidArgument with `message()` (built only on failure) unless `ok`."""
    import tensorflow as tf

    text = tf.cond(ok, lambda: tf.constant(""), message)
    return tf.debugging.Assert(ok, [text], name=name)


def checked_images(images, height, width, channels):
    """Checks a `serving_default` request in the graph; returns the images with their static shape.

    Each check raises `InvalidArgumentError` with a message naming the
    expected `[None, H, W, C]` and what came: the rank and size (before any
    kernel sees the tensor), then finite pixels, then pixels in [0, 255].
    """
    import tensorflow as tf

    expected = f"[None, {height}, {width}, {channels}]"
    x = _hide_static_shape(images)
    shape = tf.shape(x)
    rank_ok = tf.equal(tf.size(shape), 4)
    padded = tf.concat([shape, tf.zeros([4], tf.int32)], 0)[:4]  # any rank, so the comparison below is valid
    size_ok = tf.logical_and(rank_ok, tf.reduce_all(tf.equal(padded[1:], [height, width, channels])))

    def bad_shape():
        return tf.strings.join([
            f"`images` must be float32 pixels of shape {expected} (a batch of {height}x{width} images with "
            f"{channels} channel{'s' if channels > 1 else ''}); got shape ", _shape_text(shape), ".",
        ])

    checks = [_check(size_ok, bad_shape, "check_images_shape")]
    with tf.control_dependencies(checks):
        not_empty = tf.greater(padded[0], 0)
        checks.append(_check(not_empty, lambda: tf.strings.join([
            f"`images` is an empty batch (shape ", _shape_text(shape), f"); pass at least one {expected} image.",
        ]), "check_images_not_empty"))
    with tf.control_dependencies(checks):
        finite = tf.math.is_finite(x)
        all_finite = tf.reduce_all(finite)

        def bad_values():
            return tf.strings.join([
                "`images` must hold finite pixels in [0, 255]; found ",
                tf.strings.as_string(tf.reduce_sum(tf.cast(tf.logical_not(finite), tf.int64))),
                " NaN or infinite value(s), the first (", _first_value_text(x, tf.logical_not(finite)),
                ") at index ", _index_text(tf.logical_not(finite)),
                " of shape ", _shape_text(shape), ".",
            ])

        checks.append(_check(all_finite, bad_values, "check_images_finite"))
    with tf.control_dependencies(checks):
        outside = tf.logical_or(x < 0.0, x > 255.0)
        in_range = tf.logical_not(tf.reduce_any(outside))

        def bad_range():
            return tf.strings.join([
                "`images` must hold raw pixels in [0, 255] (the model normalises them); found ",
                tf.strings.as_string(tf.reduce_sum(tf.cast(outside, tf.int64))),
                " value(s) outside, from ", tf.strings.as_string(tf.reduce_min(x), shortest=True),
                " to ", tf.strings.as_string(tf.reduce_max(x), shortest=True), ", the first (",
                _first_value_text(x, outside), ") at index ", _index_text(outside),
                " of shape ", _shape_text(shape), ".",
            ])

        checks.append(_check(in_range, bad_range, "check_images_range"))
    with tf.control_dependencies(checks):
        return tf.ensure_shape(tf.identity(x), (None, height, width, channels))


#: The leading bytes of the files the `image_bytes` signature reads (WebP and
#: JPEG XL, which `tf.io.decode_image` also knows, cannot decode to grey).
IMAGE_SIGNATURES = {
    "JPEG": [b"\xff\xd8\xff"],
    "PNG": [b"\x89PNG\r\n\x1a\n"],
    "GIF": [b"GIF87a", b"GIF89a"],
    "BMP": [b"BM"],
}


def starts_with(data, prefix):
    """Whether each string of `data` starts with the bytes `prefix`, in the graph."""
    import tensorflow as tf

    return tf.equal(tf.strings.substr(data, 0, len(prefix)), prefix)


def checked_image_bytes(image_bytes):
    """Checks an `image_bytes` request in the graph: a non-empty `[None]` batch of image files.

    Raises `InvalidArgumentError` naming the expected `[None]` string batch
    and what came, or the index of the first item that is not a JPEG, PNG,
    GIF or BMP file.
    """
    import tensorflow as tf

    data = _hide_static_shape(image_bytes)
    shape = tf.shape(data)
    rank_ok = tf.equal(tf.size(shape), 1)
    checks = [_check(rank_ok, lambda: tf.strings.join([
        "`image_bytes` must be a batch of encoded images, a string tensor of shape [None]; got shape ",
        _shape_text(shape), " (a single image goes in a list of one).",
    ]), "check_image_bytes_rank")]
    with tf.control_dependencies(checks):
        flat = tf.reshape(data, [-1])
        checks.append(_check(tf.size(flat) > 0, lambda: tf.constant(
            "`image_bytes` is an empty batch; pass at least one JPEG, PNG, GIF or BMP file."
        ), "check_image_bytes_not_empty"))
    with tf.control_dependencies(checks):
        known = tf.zeros_like(flat, tf.bool)
        for prefixes in IMAGE_SIGNATURES.values():
            for prefix in prefixes:
                known = tf.logical_or(known, starts_with(flat, prefix))

        def bad_file():
            unknown = tf.logical_not(known)
            first = tf.where(unknown)[0, 0]
            return tf.strings.join([
                "`image_bytes` must hold JPEG, PNG, GIF or BMP files; ",
                tf.strings.as_string(tf.reduce_sum(tf.cast(unknown, tf.int64))), " item(s) are not, the first is "
                "image_bytes[", tf.strings.as_string(first), "] (",
                tf.strings.as_string(tf.strings.length(flat[first])),
                " bytes, starting with bytes ", _hex_text(flat[first], 8), ").",
            ])

        checks.append(_check(tf.reduce_all(known), bad_file, "check_image_bytes_format"))
    with tf.control_dependencies(checks):
        return tf.ensure_shape(tf.identity(flat), (None,))


def build_archive(model):
    """A `keras.export.ExportArchive` with the two serving signatures.

    Both signatures check their request in the graph before any kernel of
    the model runs (`checked_images`, `checked_image_bytes`): a request of
    the wrong rank, size, channels or content fails with an
    `InvalidArgumentError` naming what is expected, and never aborts the
    serving process.
    """
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

    def decode_grey(data):
        # libpng and libjpeg convert to grey themselves; BMP and GIF decode only to colour.
        png_or_jpeg = tf.logical_or(*(starts_with(data, prefix) for prefix in (*IMAGE_SIGNATURES["PNG"],
                                                                                 *IMAGE_SIGNATURES["JPEG"])))
        return tf.cond(
            png_or_jpeg,
            lambda: tf.io.decode_image(data, channels=1, expand_animations=False),
            lambda: tf.image.rgb_to_grayscale(tf.io.decode_image(data, channels=3, expand_animations=False)),
        )

    def decode(data):
        if channels == 1:
            image = decode_grey(data)
        else:
            image = tf.io.decode_image(data, channels=channels, expand_animations=False)
        image = tf.cast(image, tf.float32)
        image = tf.image.resize(image, (height, width), method=resize)
        return tf.ensure_shape(image, (height, width, channels))

    def serving_default(images):
        return outputs(checked_images(images, height, width, channels))

    def image_bytes(image_bytes):
        signature = tf.TensorSpec((height, width, channels), tf.float32)
        images = tf.map_fn(decode, checked_image_bytes(image_bytes), fn_output_signature=signature)
        return outputs(images)

    if not model.built:
        model.build()  # every HashingModel builds from its preprocessing contract alone
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


def check_base_dir(base_dir):
    """Returns `base_dir` as a `pathlib.Path`, or raises if it cannot hold version folders.

    It may be missing (it is created), but neither it nor any folder above it
    may be a file.
    """
    if base_dir is None or not str(base_dir).strip():
        raise ValueError(f"`base_dir` must name a folder (created if missing), got {base_dir!r}.")
    base_dir = pathlib.Path(base_dir)
    for path in (base_dir, *base_dir.parents):
        if path.exists():
            if not path.is_dir():
                what = "`base_dir`" if path == base_dir else f"the folder {path} above `base_dir`"
                raise ValueError(
                    f"{what} is a file, not a folder: {path}. Pass a folder for the export's versions "
                    f"(<base_dir>/<version>/); it is created if missing."
                )
            break
    return base_dir


#: Temporary export folders: `.<version>.<host>-<pid>.<random>.partial` (not
#: a number, so TF Serving never loads one).
_PARTIAL_SUFFIX = ".partial"


def _host_tag():
    return socket.gethostname().replace(".", "_") or "host"


def _partial_owner_alive(path):
    """False when the process that wrote the temporary folder `path` is gone (from this host)."""
    parts = path.name[: -len(_PARTIAL_SUFFIX)].split(".")
    owner = parts[2] if len(parts) >= 4 else ""
    host, _, pid = owner.rpartition("-")
    if not pid.isdigit() or not host:
        return False  # an older name without its writer: nothing can still be writing it
    if host != _host_tag():
        return True  # another machine's export on a shared folder: leave it alone
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a live process of another user
    return True


def clean_stale_partials(base_dir):
    """Removes temporary export folders under `base_dir` left by a killed export; returns their paths.

    A folder whose writer still runs (on this host) is kept, so two exports
    into the same base folder at once do not break each other.
    """
    base_dir = pathlib.Path(base_dir)
    removed = []
    if not base_dir.is_dir():
        return removed
    for path in sorted(base_dir.iterdir()):
        if (path.is_dir() and not path.is_symlink() and path.name.startswith(".")
                and path.name.endswith(_PARTIAL_SUFFIX) and not _partial_owner_alive(path)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def export_serving(model, base_dir, version=None):
    """Writes `model` as a TF Serving SavedModel to `<base_dir>/<version>/`.

    The SavedModel is written into a temporary folder beside the versions
    (`.<version>.<host>-<pid>.<random>.partial`, which TF Serving ignores)
    and renamed into place, so `<base_dir>/<version>/` is either complete or
    absent. Temporary folders left by a killed export are removed first.

    Args:
        model: a `HashingModel`.
        base_dir: the model's base path for TF Serving (`--model_base_path`);
            created if missing, must not be a file.
        version: integer >= 1; default one above the highest existing version.

    Returns:
        The path of the version folder written, as a `pathlib.Path`.

    Raises:
        ValueError: a bad `base_dir` or version, or a version that already exists.
    """
    base_dir = check_base_dir(base_dir)
    version = next_version(base_dir) if version is None else check_positive_int(version, "version")
    target = base_dir / str(version)
    if target.exists():
        raise ValueError(
            f"version {version} already exists at {target}; exported versions are never overwritten. "
            f"Leave `version` unset to write version {next_version(base_dir)}."
        )
    base_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_partials(base_dir)
    owner = f"{_host_tag()}-{os.getpid()}"
    temp = pathlib.Path(tempfile.mkdtemp(prefix=f".{version}.{owner}.", suffix=_PARTIAL_SUFFIX, dir=base_dir))
    try:
        build_archive(model).write_out(str(temp / "saved_model"), verbose=False)
        try:
            os.rename(temp / "saved_model", target)
        except OSError as error:  # a concurrent export wrote the same version first
            raise ValueError(
                f"version {version} appeared at {target} while this export was written ({error}); exported "
                f"versions are never overwritten. Export again to write version {next_version(base_dir)}."
            ) from None
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
