"""CoopHash (Doan et al., arXiv 2210.04288): supervised hashing by cooperative learning.

A multipurpose descriptor (energy, hash code, latent code, class) and a
contrastive pair generator are trained together; the descriptor's energy
revises the generator's pairs with Langevin dynamics. See `CoopHash`.
"""

from hashzoo.methods.coophash.coophash_model import CoopHash
from hashzoo.methods.coophash.descriptor import DensityHead, Descriptor
from hashzoo.methods.coophash.generator import PairGenerator
from hashzoo.methods.coophash.langevin import LangevinSampler

#: The method's model class, found by `hashzoo.methods.get_method('coophash')`.
MODEL = CoopHash

__all__ = ["MODEL", "CoopHash", "DensityHead", "Descriptor", "LangevinSampler", "PairGenerator"]
