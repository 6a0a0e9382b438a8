"""SPAH (Deng et al., IEEE TIP 2019): unsupervised semantic-preserving adversarial hashing.

An encoder with a smooth-sign hash layer and a generator (both BGAN's), a
joint discriminator over (image, code) pairs, and a three-valued semantic
similarity S in {-1, 0, +1} built offline from frozen features that
supervises the codes through a loss over its known pairs. hashzoo's SPAH is
a documented reconstruction: see `SPAH` and docs/spah.md.
"""

from hashzoo.methods.spah.discriminator import JointDiscriminator
from hashzoo.methods.spah.spah_model import SPAH

#: The method's model class, found by `hashzoo.methods.get_method('spah')`.
MODEL = SPAH

__all__ = ["MODEL", "JointDiscriminator", "SPAH"]
