"""Shared Keras layers: sign activations, the hash head, preprocessing, a conv trunk and training augmentation."""

from hashzoo.layers.augmentation import FlipCrop
from hashzoo.layers.conv_trunk import build_conv_trunk
from hashzoo.layers.hash_head import HashHead
from hashzoo.layers.preprocessing import ImagePreprocessing, Preprocessing
from hashzoo.layers.sign import HardSign, SmoothSign, hard_sign

__all__ = [
    "FlipCrop", "HardSign", "HashHead", "ImagePreprocessing", "Preprocessing", "SmoothSign", "build_conv_trunk",
    "hard_sign",
]
