"""`FlipCrop`'s pad is checked against the image size before any step: a message naming the value and its range."""

import numpy as np
import pytest
import tensorflow as tf

from hashzoo.layers import FlipCrop
from hashzoo.layers.augmentation import check_pad, make_augmentation, max_pad


def test_each_padding_mode_allows_the_pads_tf_pad_takes():
    x = np.zeros((1, 5, 7, 1), "float32")
    for padding in ("reflect", "symmetric"):
        limit = max_pad(padding, 5)
        assert limit == {"reflect": 4, "symmetric": 5}[padding]
        tf.pad(x, [[0, 0], [limit, limit], [limit, limit], [0, 0]], mode=padding.upper())  # the limit works
        with pytest.raises(tf.errors.InvalidArgumentError):  # one more does not, with TensorFlow's own message
            tf.pad(x, [[0, 0], [limit + 1] * 2, [limit + 1] * 2, [0, 0]], mode=padding.upper())
        assert check_pad(limit, padding, (5, 7)) == limit
        with pytest.raises(ValueError, match=rf'`pad` must lie in \[0, {limit}\] for padding="{padding}" on 5x7 '
                                             rf"images .*got pad={limit + 1}"):
            check_pad(limit + 1, padding, (5, 7))
    assert max_pad("constant", 5) is None and check_pad(50, "constant", (5, 7)) == 50


def test_make_augmentation_refuses_a_pad_the_image_size_cannot_take():
    with pytest.raises(ValueError, match=r'must lie in \[0, 8\] for padding="symmetric" on 8x8 images.*pad=9'):
        make_augmentation({"pad": 9, "padding": "symmetric"}, (8, 8), 0)
    with pytest.raises(ValueError, match=r'must lie in \[0, 7\] for padding="reflect" on 8x16 images.*pad=8'):
        make_augmentation({"pad": 8}, (8, 16), 0)
    assert make_augmentation({"pad": 8, "padding": "symmetric"}, (8, 8), 0).pad == 8
    assert make_augmentation({"pad": 30, "padding": "constant"}, (8, 8), 0).pad == 30


def test_the_layer_checks_on_every_call_and_with_a_partly_known_shape():
    layer = FlipCrop(pad=6, padding="symmetric")
    images = np.zeros((2, 5, 5, 1), "float32")
    with pytest.raises(ValueError, match=r'\[0, 5\] for padding="symmetric"'):
        layer(images, training=True)  # was TensorFlow's raw error from tf.pad
    with pytest.raises(ValueError, match=r'\[0, 4\] for padding="reflect"'):
        FlipCrop(pad=5)(images)  # also outside training: the layer could never train on these images

    # Only the width known: the check uses it (was a TypeError from min(None, 5)).
    too_much, fits = FlipCrop(pad=5), FlipCrop(pad=1, seed=2)
    check = tf.function(lambda x: too_much(x, training=True),
                        input_signature=[tf.TensorSpec([None, None, 5, 1], tf.float32)])
    with pytest.raises(ValueError, match=r'\[0, 4\] for padding="reflect" on \?x5 images'):
        check.get_concrete_function()
    both_unknown = tf.function(lambda x: fits(x, training=True),
                               input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)])
    assert both_unknown(images).shape == images.shape
