"""SavedModel export for TF Serving: layout, versions, both signatures, the CLIs."""

import functools
import json
import os
import pathlib
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import hashzoo
from hashzoo import codes as codes_lib
from hashzoo import data, export
from hashzoo.zoo import registry
from tests.helpers import images_away_from_zero
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
    kept = images_away_from_zero(model, query.images, count=24, margin=1e-3)
    assert len(kept) >= 16
    return kept


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


def test_image_bytes_reads_colour_bmp_and_gif_for_a_grey_model(model, exported, images):
    import io

    from PIL import Image

    _, path = exported
    signature = tf.saved_model.load(str(path)).signatures["image_bytes"]
    for file_format in ("BMP", "GIF"):  # these two decode only to colour; the signature makes them grey
        files = []
        for image in images:
            buffer = io.BytesIO()
            Image.fromarray(np.repeat(image, 3, axis=-1)).save(buffer, file_format)
            files.append(buffer.getvalue())
        out = signature(image_bytes=tf.constant(files))
        np.testing.assert_array_equal(out["codes"].numpy(), model.encode(images), err_msg=file_format)


def shipped_preset_params():
    """Every shipped preset; the first (by name) of each method and dataset runs by default.

    The others differ from it only in code length (the same serving graph
    with a narrower or wider head), so they run with --run-slow.
    """
    names = registry.list_presets(with_weights=True)
    first = {}
    for name in names:
        parsed = registry.parse_name(name)
        first.setdefault((parsed.method, parsed.dataset), name)
    return [pytest.param(name, marks=() if name in first.values() else pytest.mark.slow) for name in names]


@functools.lru_cache(maxsize=None)
def protocol_queries(source, protocol_id):
    """The query images of `protocol_id` on data `source` (loaded once per test process)."""
    query, _, _ = data.get_protocol(protocol_id).apply(data.load(source))
    return query.images


@pytest.mark.parametrize("name", shipped_preset_params())
def test_every_shipped_preset_serves_the_codes_of_encode(name, tmp_path):
    """Both signatures give `encode`'s codes on the preset's own query images (PNG files for `image_bytes`)."""
    model = hashzoo.load(name)
    card = model.card
    if card["data"] == "cifar10-subset" and not data.cifar10_subset_dir().is_dir():
        pytest.skip(f"the CIFAR-10 developer subset is not at {data.cifar10_subset_dir()}")
    images = images_away_from_zero(model, protocol_queries(card["data"], card["protocol"]["id"])[:64])
    assert len(images) >= 8, f"{name}: too few query images with codes away from 0 to compare"
    report = export.check_export(model, model.export_serving(tmp_path / name), images)
    assert report["codes_mismatch"] == report["packed_mismatch"] == report["bytes_codes_mismatch"] == 0, report


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


@pytest.mark.slow  # the in-process signature tests check the same outputs
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


# -- requests checked at the door ----------------------------------------------

BAD_REQUESTS = r'''
import json, sys
import numpy as np
import tensorflow as tf

loaded = tf.saved_model.load(sys.argv[1])
images, image_bytes = loaded.signatures["serving_default"], loaded.signatures["image_bytes"]
png = tf.io.encode_png(np.full((8, 8, 1), 7, np.uint8)).numpy()
nan = np.zeros((2, 8, 8, 1), np.float32)
nan[1, 2, 3, 0] = np.nan
outside = np.zeros((2, 8, 8, 1), np.float32)
outside[0, 4, 5, 0], outside[1, 0, 0, 0] = -500.0, 5000.0
requests = {
    "rank3": lambda: images(images=tf.zeros((8, 8, 1))),
    "rank5": lambda: images(images=tf.zeros((1, 2, 8, 8, 1))),
    "size": lambda: images(images=tf.zeros((2, 28, 28, 1))),
    "channels": lambda: images(images=tf.zeros((2, 8, 8, 3))),
    "scalar": lambda: images(images=tf.constant(3.0)),
    "empty": lambda: images(images=tf.zeros((0, 8, 8, 1))),
    "nan": lambda: images(images=tf.constant(nan)),
    "inf": lambda: images(images=tf.fill((1, 8, 8, 1), np.inf)),
    "range": lambda: images(images=tf.constant(outside)),
    "bytes_garbage": lambda: image_bytes(image_bytes=tf.constant([png, b"not an image at all"])),
    "bytes_empty_item": lambda: image_bytes(image_bytes=tf.constant([b""])),
    "bytes_empty": lambda: image_bytes(image_bytes=tf.constant([], tf.string)),
    "bytes_scalar": lambda: image_bytes(image_bytes=tf.constant(png)),
    "bytes_rank2": lambda: image_bytes(image_bytes=tf.constant([[png, png]])),
}
for name in sys.argv[2:]:
    print("request", name, flush=True)  # the last one printed is the culprit if the process dies
    try:
        requests[name]()
        result = {"name": name, "error": None}
    except Exception as error:
        result = {"name": name, "error": type(error).__name__, "message": str(error)}
    print("RESULT " + json.dumps(result), flush=True)
images(images=tf.fill((2, 8, 8, 1), 9.0))  # the server still answers after all of them
image_bytes(image_bytes=tf.constant([png]))
print("ALIVE", flush=True)
'''

EXPECTED_ERRORS = {
    "rank3": r"shape \[None, 8, 8, 1\].*got shape \[8, 8, 1\]",
    "rank5": r"shape \[None, 8, 8, 1\].*got shape \[1, 2, 8, 8, 1\]",
    "size": r"shape \[None, 8, 8, 1\].*got shape \[2, 28, 28, 1\]",
    "channels": r"shape \[None, 8, 8, 1\].*1 channel\).*got shape \[2, 8, 8, 3\]",
    "scalar": r"shape \[None, 8, 8, 1\].*got shape \[\]",
    "empty": r"empty batch \(shape \[0, 8, 8, 1\]\); pass at least one \[None, 8, 8, 1\] image",
    "nan": r"finite pixels in \[0, 255\]; found 1 NaN or infinite value\(s\), the first \(nan\) "
           r"at index \[1, 2, 3, 0\]",
    "inf": r"finite pixels in \[0, 255\]; found 64 NaN or infinite value\(s\), the first \(inf\) "
           r"at index \[0, 0, 0, 0\]",
    "range": r"pixels in \[0, 255\].*found 2 value\(s\) outside, from -500 to 5000, the first \(-500\) "
             r"at index \[0, 4, 5, 0\]",
    "bytes_garbage": r"JPEG, PNG, GIF or BMP files; 1 item\(s\) are not, the first is image_bytes\[1\] \(19 bytes, "
                     r"starting with bytes \[6e 6f 74 20 61 6e 20 69\]\)",
    "bytes_empty_item": r"the first is image_bytes\[0\] \(0 bytes",
    "bytes_empty": r"`image_bytes` is an empty batch; pass at least one JPEG",
    "bytes_scalar": r"string tensor of shape \[None\]; got shape \[\] \(a single image goes in a list of one\)",
    "bytes_rank2": r"string tensor of shape \[None\]; got shape \[1, 2\]",
}


def run_bad_requests(path, names):
    """Sends each named bad request to the export at `path` in a fresh process with oneDNN on.

    An abort (the old failure of a rank-3 request) shows as a failing exit
    code here, not as a dead test session.
    """
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", BAD_REQUESTS, str(path), *names], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0 and "ALIVE" in proc.stdout, (
        f"exit {proc.returncode}; stdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    lines = [line[len("RESULT "):] for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    return {result["name"]: result for result in map(json.loads, lines)}


def test_no_request_aborts_and_each_bad_one_names_what_is_expected(exported):
    _, path = exported
    results = run_bad_requests(path, list(EXPECTED_ERRORS))
    assert set(results) == set(EXPECTED_ERRORS)
    for name, pattern in EXPECTED_ERRORS.items():
        result = results[name]
        assert result["error"] == "InvalidArgumentError", (name, result)
        assert re.search(pattern, result["message"]), (name, result["message"])


def test_the_checks_run_in_the_graph_in_this_process_too(exported):
    _, path = exported
    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[None, 8, 8, 1\].*got shape \[1, 2, 8, 8, 1\]"):
        signature(images=tf.zeros((1, 2, 8, 8, 1)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"finite pixels"):
        signature(images=tf.fill((1, 8, 8, 1), np.nan))
    edges = np.zeros((2, 8, 8, 1), np.float32)
    edges[1] = 255.0  # both ends of the range are valid
    assert signature(images=tf.constant(edges))["codes"].shape == (2, 32)


def test_the_checks_are_in_the_saved_graph(exported):
    """The asserts survive saving (they are not folded away on the declared static shape)."""
    _, path = exported
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    nodes = {node.name for function in proto.meta_graphs[0].graph_def.library.function for node in function.node_def}
    for check in ("check_images_shape", "check_images_finite", "check_images_range", "check_image_bytes_rank",
                  "check_image_bytes_format"):
        assert any(check in name for name in nodes), check


# -- the export folder ---------------------------------------------------------

def test_base_dir_that_is_a_file_is_refused_by_name(model, tmp_path):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match=r"`base_dir` is a file, not a folder: .*a_file"):
        model.export_serving(tmp_path / "a_file")
    with pytest.raises(ValueError, match=r"the folder .*a_file above `base_dir` is a file"):
        model.export_serving(tmp_path / "a_file" / "below")
    with pytest.raises(ValueError, match="`base_dir` must name a folder"):
        model.export_serving("")
    with pytest.raises(ValueError, match="`version` must be a positive integer"):
        model.export_serving(tmp_path / "ok", version="2")


KILLED_EXPORT = r'''
import os, signal, sys
from hashzoo import export
from tests.toy_hasher import ToyHasher

class DiesWhileWriting:
    def write_out(self, path, **kwargs):
        os.makedirs(os.path.join(path, "variables"))
        open(os.path.join(path, "saved_model.pb"), "wb").write(b"half a file")
        os.kill(os.getpid(), signal.SIGKILL)

export.build_archive = lambda model: DiesWhileWriting()
ToyHasher(8, hidden=4, preprocessing={"image_size": (8, 8), "channels": 1}).export_serving(sys.argv[1])
'''


def test_a_killed_export_leaves_no_version_and_the_next_export_cleans_up(tmp_path):
    base = tmp_path / "serving"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", KILLED_EXPORT, str(base)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    leftovers = sorted(p.name for p in base.iterdir())
    assert len(leftovers) == 1 and leftovers[0].startswith(".1.") and leftovers[0].endswith(".partial"), leftovers
    assert export.existing_versions(base) == [] and export.next_version(base) == 1
    (base / ".2.oldname.partial").mkdir()  # the name an older hashzoo gave (no writer recorded)
    live = base / f".3.{export._host_tag()}-{os.getpid()}.abc.partial"  # a running export: kept
    live.mkdir()
    toy = ToyHasher(8, hidden=4, preprocessing={"image_size": (8, 8), "channels": 1})
    assert toy.export_serving(base) == base / "1"
    assert sorted(p.name for p in base.iterdir()) == sorted(["1", live.name])
    assert tf.saved_model.load(str(base / "1")).signatures["serving_default"](
        images=tf.zeros((1, 8, 8, 1)))["codes"].shape == (1, 8)


def run_export_tool(*args):
    return subprocess.run([sys.executable, str(REPO / "tools" / "export.py"), *map(str, args)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "p", "--base_dir", "s", "--version", "x"], r"(?m)^error: flag --version=x: invalid literal"),
        (["--preset", "p", "--base_dir", "s", "--bogus", "1"], r"(?m)^error: Unknown command line flag 'bogus'"),
        (["--preset", "p"], r"(?m)^error: flag --base_dir=None: Flag --base_dir must have a value"),
    ],
)
def test_export_tool_reports_unparsable_flags_as_error_lines(args, message, tmp_path):
    proc = run_export_tool(*args)
    assert proc.returncode == 2 and re.search(message, proc.stderr), (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "FATAL" not in proc.stderr


def test_export_tool_checks_every_flag_before_loading_anything(tmp_path):
    (tmp_path / "a_file").write_text("x")
    proc = run_export_tool("--preset", "coophash-digits-32", "--base_dir", tmp_path / "a_file", "--version", "0",
                           "--check_images", "-1", "stray")
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 4, proc.stderr[-2000:]
    assert "error: unexpected arguments ['stray']" in lines[0]
    assert re.search(r"error: --base_dir: `base_dir` is a file, not a folder: .*a_file", lines[1])
    assert "error: --version must be an integer >= 1, got 0" in lines[2]
    assert "error: --check_images must be >= 0 (0 skips the comparison), got -1" in lines[3]

    (tmp_path / "s" / "4").mkdir(parents=True)
    proc = run_export_tool("--preset", "coophash-digits-32", "--model", tmp_path / "missing", "--base_dir",
                           tmp_path / "s", "--version", "4")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "error: pass exactly one of --preset" in proc.stderr
    assert re.search(r"error: --model .*missing' does not exist", proc.stderr)
    assert "error: --version 4 already exists" in proc.stderr and "write version 5" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["4"], "nothing is written when a flag is bad"
