import numpy as np
import keras
import pytest

from hashzoo import methods
from hashzoo.layers import build_conv_trunk
from hashzoo.methods.coophash import Descriptor
from hashzoo.methods.onehot import OneHotClassifierHasher
from tests import helpers

DIGITS = {"image_size": (8, 8), "channels": 1}


def digits_batch(n=32):
    from sklearn.datasets import load_digits

    data = load_digits()
    images = np.round(data.images[:n] * 255.0 / 16.0).astype("uint8")[..., None]
    return images, data.target[:n].astype("int64")


def build(**overrides):
    def build_and_compile():
        kwargs = dict(code_bits=16, num_classes=10, width=0.25, seed=1, preprocessing=DIGITS)
        kwargs.update(overrides)
        model = OneHotClassifierHasher(**kwargs)
        model.compile(optimizer=keras.optimizers.SGD(0.05))
        return model

    return build_and_compile


# === the shared battery ===


def test_serialization_with_non_default_values():
    helpers.run_serialization_test(
        OneHotClassifierHasher,
        dict(code_bits=12, num_classes=5, width=0.5, init_std=0.02, seed=7,
             preprocessing={"image_size": (16, 16), "channels": 3}, augment={"pad": 2, "padding": "constant"},
             name="onehot"),
    )


def test_codes_and_saving(tmp_path):
    images, labels = digits_batch(16)
    model = build()()
    model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    codes = helpers.run_code_test(model, images)
    # One +1 bit at most per code, inside the class bits; padding bits are always -1.
    assert np.all((codes == 1).sum(axis=1) == 1)
    assert np.all(codes[:, 10:] == -1)
    helpers.run_saving_test(model, images, tmp_path)


def test_two_replicas_take_the_same_step_as_one_device():
    images, labels = digits_batch(16)
    helpers.run_distributed_equivalence_test(build(), images, labels)


def test_two_replicas_take_the_same_augmented_step_as_one_device():
    images, labels = digits_batch(16)
    helpers.run_distributed_equivalence_test(build(augment="flip_crop"), images, labels)


def test_augmentation_is_off_by_default_and_an_augmented_model_saves_and_loads(tmp_path):
    images, labels = digits_batch(16)
    plain, augmented = build()(), build(augment="flip_crop")()
    assert plain.augmentation is None and plain.get_config()["augment"] is None
    augmented.set_weights(plain.get_weights())
    np.testing.assert_array_equal(augmented.encode(images), plain.encode(images))  # encoding never augments
    h_plain = plain.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    h_augmented = augmented.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    assert h_augmented["loss"] != h_plain["loss"]
    loaded = helpers.run_saving_test(augmented, images, tmp_path)
    assert loaded.augment == "flip_crop" and (loaded.augmentation.flip, loaded.augmentation.pad) == (True, 1)


# === the method ===


def test_registered_as_its_own_method():
    assert methods.get_method("onehot") is OneHotClassifierHasher
    assert OneHotClassifierHasher.__module__ == "hashzoo.methods.onehot.onehot_model"


def test_code_is_the_one_hot_of_the_predicted_class():
    images, _ = digits_batch(12)
    model = build()()
    logits = np.asarray(model.logits(model.preprocess(images.astype("float32"))))
    codes = model.encode(images)
    np.testing.assert_array_equal(np.argmax(codes[:, :10], axis=1), np.argmax(logits, axis=1))


def test_needs_at_least_one_bit_per_class():
    with pytest.raises(ValueError, match="code_bits >= num_classes"):
        OneHotClassifierHasher(8, num_classes=10, preprocessing=DIGITS)


def test_trunk_is_the_shared_conv_trunk_with_coophash_weight_paths():
    """The classifier and CoopHash's descriptor build the same trunk: same layers, same initial weights."""
    model = OneHotClassifierHasher(16, num_classes=10, width=0.5, init_std=0.02, seed=3, preprocessing=DIGITS)
    descriptor = Descriptor((8, 8, 1), num_classes=10, code_bits=16, latent_dim=4, width=0.5, init_std=0.02, seed=3)
    shared = build_conv_trunk((8, 8, 1), width=0.5, init_std=0.02, seed=3)
    for trunk in (model.trunk, descriptor.trunk):
        assert [layer.name for layer in trunk.layers if layer.weights] == ["conv0", "conv1", "features"]
        assert [tuple(w.shape) for w in trunk.weights] == [tuple(w.shape) for w in shared.weights]
        for a, b in zip(trunk.weights, shared.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_trunk_rejects_sizes_it_cannot_halve():
    with pytest.raises(ValueError, match=r"side is 4 \* 2\*\*n .*image_size=\(12, 12\)"):
        build_conv_trunk((12, 12, 3))


def test_the_augmented_cifar_variants_of_coophash_and_its_floor_see_the_same_augmentation():
    # CoopHash with augmented real images must be compared with a floor that sees the same augmentation;
    # besides `augment`, only CoopHash's class weight, triplet terms, VAE-trunk switch and KL weight differ
    # from its default (the floor has none of them: it trains a classifier only).
    import inspect

    from hashzoo import methods
    from hashzoo.training.config import load_config

    changed = {
        "coophash_cifar10": {
            "class_weight": 50.0, "real_triplet_mining": "all", "generator_triplet_weight": 0.25,
            "vae_trains_trunk": False, "kl_weight": 0.05,
        },
        "onehot_cifar10": {},
    }
    for name in ("coophash_cifar10", "onehot_cifar10"):
        default, augmented = load_config(f"{name}:default"), load_config(f"{name}:augmented")
        assert augmented.model == dict(default.model, augment="flip_crop", **changed[name]), name
        assert augmented.replace(model=default.model, description=default.description) == default, name
        assert "augment" in inspect.signature(methods.get_method(default.method).__init__).parameters, name
