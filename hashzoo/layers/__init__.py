"""Shared Keras layers: sign activations, the hash head and preprocessing."""

from hashzoo.layers.hash_head import HashHead
from hashzoo.layers.preprocessing import ImagePreprocessing, Preprocessing
from hashzoo.layers.sign import HardSign, SmoothSign, hard_sign

__all__ = ["HardSign", "HashHead", "ImagePreprocessing", "Preprocessing", "SmoothSign", "hard_sign"]
