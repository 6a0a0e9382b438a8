"""The shared encoder's keras.applications VGG backbones (`vgg16`, `vgg19`), used by BGAN and SPAH.

Pretrained weights cannot be downloaded here, so the mechanics run on a
VGG16 with random weights that the tests save themselves, in the legacy
HDF5 format of the ImageNet weights files Keras publishes. One SPAH model on
that file (module fixture) serves the loading, feature, code and `.keras`
tests, so the 138M-parameter network is built only a few times.
"""

import keras
import numpy as np
import pytest

from hashzoo.layers import ImagePreprocessing
from hashzoo.methods.bgan import BGAN, Encoder
from hashzoo.methods.bgan.encoder import (
    FROM_SAVED_MODEL, VGG19_PREPROCESSING, VGG_BACKBONES, VGG_PREPROCESSING, VGG_SIZE,
)
from hashzoo.methods.spah import SPAH

# Compared weight by weight; fc1 (102M weights, slow to copy) is covered by the fc2 feature test.
VGG_LAYERS = ("block1_conv1", "block3_conv3", "block5_conv3", "fc2")


def pixels(n=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, VGG_SIZE, VGG_SIZE, 3)).astype("uint8")


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    """`(path, network)`: a VGG16 with its top and random weights, saved to a local `.h5` file."""
    network = keras.applications.VGG16(include_top=True, weights=None)
    path = tmp_path_factory.mktemp("vgg16") / "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    network.save(path)  # legacy HDF5: loaded by the same Keras code as the published weights files
    yield path, network
    path.unlink()  # 550 MB; pytest keeps its recent temporary folders


@pytest.fixture(scope="module")
def spah_vgg16(vgg16_file):
    path, _ = vgg16_file
    return SPAH(code_bits=8, backbone="vgg16", backbone_weights=str(path), gan_size=8, architecture="smoke", k=3,
                preprocessing=SPAH.VGG_PREPROCESSING, seed=1)


# === the contract: one ImageNet preprocessing for both VGGs ===


def test_one_preprocessing_contract_serves_both_vgg_networks():
    assert VGG19_PREPROCESSING is VGG_PREPROCESSING
    assert BGAN.VGG19_PREPROCESSING is BGAN.VGG_PREPROCESSING is SPAH.VGG_PREPROCESSING is VGG_PREPROCESSING
    images = pixels(2)
    ours = np.asarray(ImagePreprocessing(VGG_PREPROCESSING)(images))[..., ::-1]  # the encoder flips RGB to BGR
    for name in VGG_BACKBONES:
        keras_input = getattr(keras.applications, name).preprocess_input(images.astype("float32"))
        np.testing.assert_allclose(ours, keras_input, rtol=0, atol=1e-4, err_msg=name)


# === the wiring, on a small stand-in with VGG's layer names (fast) ===


def small_vgg(include_top=True, weights=None, input_shape=(VGG_SIZE, VGG_SIZE, 3)):
    """A stand-in for a keras.applications VGG: the same call, layer names fc1 / fc2 / predictions, tiny sizes."""
    assert include_top
    inputs = keras.Input(input_shape)
    x = keras.layers.AveragePooling2D(56, name="block1_pool")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(12, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(10, activation="relu", name="fc2")(x)
    network = keras.Model(inputs, keras.layers.Dense(5, name="predictions")(x))
    if weights is not None:
        network.load_weights(weights)
    return network


@pytest.mark.parametrize("backbone", sorted(VGG_BACKBONES))
def test_a_vgg_backbone_is_wired_to_its_file_and_loads_without_it(backbone, monkeypatch, tmp_path):
    monkeypatch.setattr(keras.applications, VGG_BACKBONES[backbone], small_vgg)
    saved = small_vgg()
    weights_file = tmp_path / f"{backbone}.weights.h5"
    saved.save_weights(weights_file)
    model = SPAH(code_bits=8, backbone=backbone, backbone_weights=str(weights_file), gan_size=8,
                 architecture="smoke", k=3, preprocessing=SPAH.VGG_PREPROCESSING, seed=1)
    backbone_net = model.encoder.backbone
    assert backbone_net.output_shape == (None, 10)  # cut at fc2 (fc7), not the class scores
    for name in ("fc1", "fc2"):
        for loaded, expected in zip(backbone_net.get_layer(name).get_weights(), saved.get_layer(name).get_weights()):
            np.testing.assert_array_equal(loaded, expected, err_msg=name)
    images = pixels(2, seed=3)
    fc2 = keras.Model(saved.input, saved.get_layer("fc2").output)
    np.testing.assert_allclose(np.asarray(model.encoder.features(model.preprocess(images))),
                               np.asarray(fc2(np.asarray(model.preprocess(images))[..., ::-1])), rtol=1e-5, atol=1e-5)

    path = tmp_path / "model.keras"
    model.save(path)
    weights_file.unlink()  # the saved model brings its own weights
    loaded = keras.saving.load_model(path)
    assert loaded.backbone == backbone and loaded.backbone_weights == str(weights_file)  # still names its file
    np.testing.assert_array_equal(loaded.encode(images), model.encode(images))
    with pytest.raises(FileNotFoundError, match="never downloaded"):  # building anew still needs the file
        SPAH(code_bits=8, backbone=backbone, backbone_weights=str(weights_file), gan_size=8,
             preprocessing=SPAH.VGG_PREPROCESSING)


def test_a_missing_weights_file_is_skipped_by_both_from_configs_and_stays_recorded(monkeypatch, tmp_path):
    monkeypatch.setattr(keras.applications, "VGG16", small_vgg)
    weights_file = tmp_path / "vgg16.weights.h5"
    small_vgg().save_weights(weights_file)
    encoder = Encoder(input_shape=(VGG_SIZE, VGG_SIZE, 3), code_bits=4, backbone="vgg16",
                      backbone_weights=str(weights_file), seed=1)
    model = SPAH(code_bits=8, backbone="vgg16", backbone_weights=str(weights_file), gan_size=8,
                 architecture="smoke", k=3, preprocessing=SPAH.VGG_PREPROCESSING, seed=1)
    configs = {Encoder: encoder.get_config(), SPAH: model.get_config()}
    encoder.save(tmp_path / "encoder.keras")
    model.save(tmp_path / "model.keras")
    weights_file.unlink()

    with pytest.raises(FileNotFoundError, match="never downloaded"):  # building anew still needs the file
        Encoder(**configs[Encoder])
    for cls, config in configs.items():  # a rebuilt model skips the file but its config still names it
        assert cls.from_config(config).get_config() == config, cls.__name__
    x = np.asarray(model.preprocess(pixels(2, seed=4)))
    loaded_encoder = keras.saving.load_model(tmp_path / "encoder.keras")
    assert loaded_encoder.backbone_weights == str(weights_file)
    np.testing.assert_array_equal(np.asarray(loaded_encoder(x)), np.asarray(encoder(x)))
    # Loaded without the file and saved again: the preset still says which file it started from.
    keras.saving.load_model(tmp_path / "model.keras").save(tmp_path / "again.keras")
    again = keras.saving.load_model(tmp_path / "again.keras")
    assert again.backbone_weights == again.encoder.backbone_weights == str(weights_file)
    images = pixels(2, seed=5)
    np.testing.assert_array_equal(again.encode(images), model.encode(images))
    # A config saved with the placeholder (before the file was kept) loads as it did.
    assert SPAH.from_config(dict(configs[SPAH], backbone_weights=FROM_SAVED_MODEL)).backbone_weights == \
        FROM_SAVED_MODEL


# === vgg16 mechanics on a saved weights file ===


@pytest.mark.slow  # the real 138M-parameter VGG16 (~60 s); the wiring: test_a_vgg_backbone_is_wired_to_its_file_and_loads_without_it
def test_vgg16_loads_the_local_file_up_to_fc7(vgg16_file, spah_vgg16):
    _, network = vgg16_file
    backbone = spah_vgg16.encoder.backbone
    assert backbone.output_shape == (None, 4096)
    assert "predictions" not in [layer.name for layer in backbone.layers]  # stops at fc2 (fc7)
    for name in VGG_LAYERS:
        for loaded, saved in zip(backbone.get_layer(name).get_weights(), network.get_layer(name).get_weights()):
            np.testing.assert_array_equal(loaded, saved, err_msg=name)


@pytest.mark.slow  # the real 138M-parameter VGG16 (~60 s); the wiring: test_a_vgg_backbone_is_wired_to_its_file_and_loads_without_it
def test_vgg16_features_are_fc2_of_keras_preprocessed_pixels(vgg16_file, spah_vgg16):
    _, network = vgg16_file
    images = pixels(1, seed=1)
    fc2 = keras.Model(network.input, network.get_layer("fc2").output)
    expected = np.asarray(fc2(keras.applications.vgg16.preprocess_input(images.astype("float32"))))
    features = np.asarray(spah_vgg16.encoder.features(spah_vgg16.preprocess(images)))
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
    codes = spah_vgg16.encode(images)
    assert codes.shape == (1, 8) and set(np.unique(codes)) <= {-1, 1}


@pytest.mark.slow  # the real 138M-parameter VGG16 (~60 s); the wiring: test_a_vgg_backbone_is_wired_to_its_file_and_loads_without_it
def test_vgg16_model_round_trips_through_config_and_keras_file(vgg16_file, spah_vgg16, tmp_path):
    assert spah_vgg16.get_config()["backbone"] == "vgg16"
    assert spah_vgg16.encoder.get_config()["backbone"] == "vgg16"
    images = pixels(1, seed=2)
    path = tmp_path / "spah_vgg16.keras"
    spah_vgg16.save(path)
    # Loaded where the VGG weights file is absent: the saved model brings its own weights.
    weights_file, _ = vgg16_file
    hidden = weights_file.rename(weights_file.with_suffix(".hidden"))
    try:
        loaded = keras.saving.load_model(path)
    finally:
        hidden.rename(weights_file)
    assert isinstance(loaded, SPAH) and loaded.backbone == "vgg16"
    assert loaded.backbone_weights == str(weights_file)  # the config still names the file it started from
    np.testing.assert_array_equal(loaded.encode(images), spah_vgg16.encode(images))
    np.testing.assert_array_equal(np.asarray(loaded(images)), np.asarray(spah_vgg16(images)))
    path.unlink()  # 550 MB


# === errors name what to do ===


@pytest.mark.parametrize("method", [BGAN, SPAH])
@pytest.mark.parametrize("backbone", sorted(VGG_BACKBONES))
def test_a_missing_weights_file_names_the_path_and_the_way_out(method, backbone, tmp_path):
    missing = tmp_path / "missing.h5"
    with pytest.raises(FileNotFoundError, match=rf"backbone='{backbone}'.*{backbone}_weights_tf_dim_ordering.*"
                                                rf"missing\.h5.*never downloaded.*backbone='conv'"):
        method(code_bits=8, backbone=backbone, backbone_weights=str(missing), gan_size=32,
               preprocessing=method.VGG_PREPROCESSING)
    with pytest.raises(FileNotFoundError, match=r"backbone_weights=None"):
        method(code_bits=8, backbone=backbone, gan_size=32, preprocessing=method.VGG_PREPROCESSING)


@pytest.mark.parametrize("method", [BGAN, SPAH])
@pytest.mark.parametrize("backbone", sorted(VGG_BACKBONES))
def test_a_vgg_backbone_needs_the_vgg_preprocessing(method, backbone, tmp_path):
    with pytest.raises(ValueError, match=rf"backbone='{backbone}' needs preprocessing=.*224"):
        method(code_bits=8, backbone=backbone, backbone_weights=str(tmp_path / "w.h5"), gan_size=32,
               preprocessing={"image_size": (32, 32), "channels": 3})
    with pytest.raises(ValueError, match=rf"backbone='{backbone}' runs at 224x224 RGB"):
        Encoder((32, 32, 3), 8, backbone=backbone, backbone_weights=str(tmp_path / "w.h5"))


def test_an_unknown_backbone_lists_the_choices():
    with pytest.raises(ValueError, match="vgg16"):
        SPAH(code_bits=8, backbone="vgg11", gan_size=32, preprocessing=SPAH.VGG_PREPROCESSING)
