"""Exports a preset as a TF Serving SavedModel: `<base_dir>/<version>/`.

    python tools/export.py --preset coophash-digits-32 --base_dir serving/coophash-digits-32
    python tools/export.py --model runs/my-preset --base_dir serving/my-model --version 3

Signatures (README.md, "Serve it with TF Serving"): `serving_default` takes `images` (float32 pixels in
[0, 255], `[None, H, W, C]`) and returns `codes` (int8 ±1), `packed` (uint8)
and, for methods with a class head, `logits`; `image_bytes` takes JPEG, PNG,
GIF or BMP files. The version defaults to one above the highest present; an existing
version is never overwritten. After writing, the tool reloads the export,
runs both signatures on images of the preset's protocol and prints how many
code bits differ from `model.encode` (0 expected). Both signatures check each
request in the graph (shape, finite pixels in [0, 255], image files) and
answer a bad one with an InvalidArgument error naming what is expected.

Every flag is checked before anything loads: a bad one prints an `error:`
line and exits with status 2. A killed export leaves no version folder, and
its temporary `.<version>.*.partial` folder is removed by the next export.

Serve it with the TF Serving Docker image (see the README):

    docker run -p 8501:8501 -v "$PWD/serving/coophash-digits-32:/models/coophash" \\
        -e MODEL_NAME=coophash tensorflow/serving
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from hashzoo.utils.cli import parse_flags  # noqa: E402  (a bad flag: one `error:` line, exit 2)

flags.DEFINE_string("preset", None, "registered preset name or archive URL.")
flags.DEFINE_string("model", None, "preset folder or .keras file.")
flags.DEFINE_string("base_dir", None, "the model's base folder; the export goes to <base_dir>/<version>/.")
flags.DEFINE_integer("version", None, "version number (default: one above the highest present).")
flags.DEFINE_integer("check_images", 64, "images of the preset's protocol to compare the export with (0 skips).")
flags.mark_flag_as_required("base_dir")


def check_images(model, count):
    """Up to `count` images for the comparison: the preset's query split, else random pixels."""
    import numpy as np

    from hashzoo import data

    card = model.card
    try:
        protocol = data.get_protocol((card.get("protocol") or {}).get("id"))
        query, _, _ = protocol.apply(data.load(card["data"]))
        images = query.images[:count]
    except (ValueError, KeyError, TypeError, OSError):
        height, width = model.preprocessing.image_size
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (count, height, width, model.preprocessing.channels)).astype("uint8")
    if images.shape[1:] != model.preprocessing.input_shape:
        import tensorflow as tf

        images = tf.image.resize(images.astype("float32"), model.preprocessing.image_size).numpy()
        images = np.clip(np.round(images), 0, 255).astype("uint8")
    return images


def flag_errors(F, argv):
    """The problems with the flags, as messages (empty when they are all valid)."""
    from hashzoo import export

    errors = []
    if len(argv) > 1:
        errors.append(f"unexpected arguments {argv[1:]}; every option is a --flag (see --help).")
    if (F.preset is None) == (F.model is None):
        errors.append("pass exactly one of --preset (a registered name or archive URL) and --model "
                      "(a preset folder or .keras file).")
    if F.preset is not None and not F.preset.strip():
        errors.append("--preset is empty; pass a registered preset name or an archive URL.")
    if F.model is not None:
        if not F.model.strip():
            errors.append("--model is empty; pass a preset folder or a .keras file.")
        elif not os.path.exists(F.model):
            errors.append(f"--model {F.model!r} does not exist; pass a preset folder or a .keras file.")
    try:
        base_dir = export.check_base_dir(F.base_dir)
    except ValueError as error:
        errors.append(f"--base_dir: {error}")
        base_dir = None
    if F.version is not None:
        if F.version < 1:
            errors.append(f"--version must be an integer >= 1, got {F.version}; leave it unset for the next "
                          "free version.")
        elif base_dir is not None and (base_dir / str(F.version)).exists():
            errors.append(f"--version {F.version} already exists at {base_dir / str(F.version)}; exported versions "
                          f"are never overwritten. Leave --version unset to write version "
                          f"{export.next_version(base_dir)}.")
    if F.check_images < 0:
        errors.append(f"--check_images must be >= 0 (0 skips the comparison), got {F.check_images}.")
    return errors


def main(argv):
    F = flags.FLAGS
    errors = flag_errors(F, argv)
    if errors:
        for message in errors:
            print(f"error: {message}", file=sys.stderr)
        return 2

    import numpy as np

    import hashzoo
    from hashzoo import export

    try:
        model = hashzoo.load(F.preset or F.model)
        if not hasattr(model, "export_serving"):
            raise ValueError(f"{F.preset or F.model} is not a hashzoo hashing model (it has no export_serving).")
        path = model.export_serving(F.base_dir, version=F.version)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    height, width = model.preprocessing.image_size
    channels = model.preprocessing.channels
    has_logits = "logits" in model.serving_outputs(np.zeros((1, height, width, channels), "float32"))
    print(f"wrote {path}")
    print(f"  serving_default: images float32 [None, {height}, {width}, {channels}] in [0, 255] -> codes int8 "
          f"[None, {model.code_bits}], packed uint8 [None, {(model.code_bits + 7) // 8}]"
          + (", logits float32" if has_logits else ""))
    print("  image_bytes: image_bytes string [None] (JPEG/PNG/GIF/BMP) -> the same outputs")
    if F.check_images:
        report = export.check_export(model, path, check_images(model, F.check_images))
        print("  difference from model.encode on "
              f"{F.check_images} images: " + ", ".join(f"{k}={v}" for k, v in report.items()))
        if report["codes_mismatch"] or report["packed_mismatch"] or report["bytes_codes_mismatch"]:
            print("error: the export's codes differ from model.encode.", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
