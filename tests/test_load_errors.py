"""`hashzoo.load` refuses what it cannot trust or read, with a message naming the input and the way out.

Only `file://` URLs and a loopback (127.0.0.1) server are used: no network.
"""

import functools
import http.server
import io
import json
import re
import shutil
import tarfile
import threading

import keras
import numpy as np
import pytest

import hashzoo
from hashzoo.zoo import presets, registry


@pytest.fixture
def online(monkeypatch, tmp_path):
    monkeypatch.setenv("HASHZOO_OFFLINE", "0")
    monkeypatch.setenv("HASHZOO_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def preset_copy(tmp_path):
    folder = tmp_path / "coophash-digits-32"
    shutil.copytree(registry.get_preset("coophash-digits-32").builtin_path(), folder)
    return folder


def _no_partials(root):
    return [str(p) for p in root.rglob("*") if p.name.endswith(".partial")] if root.exists() else []


def test_weights_without_a_recorded_hash_are_refused_naming_the_file_and_the_opt_out(preset_copy):
    metadata = json.loads((preset_copy / "metadata.json").read_text())
    del metadata["weights_sha256"]
    (preset_copy / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ValueError) as error:
        hashzoo.load(preset_copy)
    message = str(error.value)
    assert str(preset_copy / "model.weights.h5") in message and "no recorded sha256" in message
    assert f"hashzoo.load({str(preset_copy)!r}, verify=False)" in message and "not loaded" in message
    # The same folder given as another preset's weights is refused the same way.
    with pytest.raises(ValueError, match="no recorded sha256"):
        hashzoo.load("coophash-digits-32", weights=preset_copy)
    # The explicit opt-out loads it.
    assert hashzoo.load(preset_copy, verify=False).code_bits == 32


def test_a_plain_keras_file_is_refused_naming_its_class(tmp_path):
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / "plain.keras"
    plain.save(path)
    with pytest.raises(ValueError) as error:
        hashzoo.load(path)
    message = str(error.value)
    assert str(path) in message and "Sequential" in message and "not a hashzoo HashingModel" in message
    assert "keras.saving.load_model" in message


def test_a_preset_folder_of_another_class_is_refused_naming_it(preset_copy):
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="plain")
    (preset_copy / "config.json").write_text(json.dumps(keras.saving.serialize_keras_object(plain)))
    with pytest.raises(ValueError, match=r"config.json holds a .*Sequential, not a hashzoo HashingModel"):
        hashzoo.load(preset_copy)


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_name_is_an_error_not_the_current_folder(name, monkeypatch, preset_copy):
    monkeypatch.chdir(preset_copy)  # a preset folder is right here, and still not what "" means
    with pytest.raises(ValueError, match="the name is empty. Accepted forms: a registered preset name"):
        hashzoo.load(name)
    with pytest.raises(TypeError, match="got NoneType None"):
        hashzoo.load(None)


def test_an_unsupported_url_scheme_is_named_with_the_allowed_ones(online):
    with pytest.raises(ValueError) as error:
        hashzoo.load("ftp://example.com/presets/coophash-digits-32.tar.gz#sha256=" + "0" * 64)
    message = str(error.value)
    assert "unsupported URL scheme 'ftp'" in message and "file://, https://, http://" in message
    assert "no such preset folder" not in message
    assert not online.exists() or not any(online.rglob("*.tar.gz"))


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    requests = []

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        self.requests.append(self.path)
        return super().do_GET()


@pytest.mark.parametrize("fragment", ["sha256=abc", "sha256=" + "g" * 64, "sha256=", "sha=" + "0" * 64, "abc"])
def test_a_malformed_sha256_is_refused_before_any_download(fragment, online, tmp_path):
    archive = tmp_path / "served" / "coophash-digits-32.tar.gz"
    archive.parent.mkdir()
    presets.make_archive(registry.get_preset("coophash-digits-32").builtin_path(), archive)
    handler = type("Handler", (_CountingHandler,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(handler, directory=str(archive.parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{archive.name}#{fragment}"
        with pytest.raises(ValueError, match="sha256") as error:
            hashzoo.load(url)
    finally:
        server.shutdown()
        server.server_close()
    assert handler.requests == [], "nothing may be downloaded before the sha256 is checked"
    assert "64 hex digits" in str(error.value) and url in str(error.value)
    assert not online.exists() or not any(online.rglob("*.tar.gz"))


def _tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["not a preset", "not a tar.gz"])
def test_archive_errors_name_the_archive_not_the_temporary_folder(kind, online, tmp_path):
    data = _tar_gz({"thing/notes.txt": b"hello"}) if kind == "not a preset" else b"no archive here" * 10
    served = tmp_path / "served" / "thing.tar.gz"
    served.parent.mkdir()
    served.write_bytes(data)
    url = f"{served.as_uri()}#sha256={presets.sha256_bytes(data)}"
    with pytest.raises(ValueError) as error:
        hashzoo.load(url)
    message = str(error.value)
    cached = next((online / "archives").glob("thing-*.tar.gz"))
    assert f"preset archive {cached} (from {served.as_uri()})" in message
    assert ".partial" not in message
    if kind == "not a preset":
        assert "lacks ['config.json', 'model.weights.h5', 'metadata.json']" in message and "notes.txt" in message
    else:
        assert "is not a readable .tar.gz" in message
    assert _no_partials(online) == []
    assert not (online / "presets").exists() or not any((online / "presets").iterdir())


def test_a_good_archive_still_loads_after_these_checks(online, tmp_path):
    archive = tmp_path / "coophash-digits-32.tar.gz"
    sha = presets.make_archive(registry.get_preset("coophash-digits-32").builtin_path(), archive)
    model = hashzoo.load(f"{archive.as_uri()}#sha256={sha.upper()}")  # hex digits in either case
    images = np.zeros((2, 8, 8, 1), "float32")
    np.testing.assert_array_equal(model.encode(images), hashzoo.load("coophash-digits-32").encode(images))
    assert re.fullmatch(r"[0-9a-f]{64}", model.card["weights_sha256"])
