"""BGAN (Song et al., AAAI 2018, arXiv 1708.04150): unsupervised binary GAN hashing.

An encoder with a smooth-sign hash layer, a generator that rebuilds the image
from the code and a discriminator, trained on a neighbourhood loss against an
offline K-NN similarity matrix, a content loss in the discriminator's feature
space and an adversarial loss. See `BGAN` and `docs/bgan.md`.
"""

from hashzoo.methods.bgan.bgan_model import BGAN
from hashzoo.methods.bgan.discriminator import Discriminator
from hashzoo.methods.bgan.encoder import Encoder
from hashzoo.methods.bgan.generator import Generator

#: The method's model class, found by `hashzoo.methods.get_method('bgan')`.
MODEL = BGAN

__all__ = ["MODEL", "BGAN", "Discriminator", "Encoder", "Generator"]
