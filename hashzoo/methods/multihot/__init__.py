"""The multi-label classifier floor: a sigmoid classifier whose code is its predicted label set.

The multi-label counterpart of the one-hot floor (`hashzoo.methods.onehot`):
on the stage backbone that the multi-label methods use, so they compare on
equal networks. See `MultiHotClassifierHasher` and docs/multihot.md.
"""

from hashzoo.methods.multihot.multihot_model import MultiHotClassifierHasher

#: The method's model class, found by `hashzoo.methods.get_method('multihot')`.
MODEL = MultiHotClassifierHasher

__all__ = ["MODEL", "MultiHotClassifierHasher"]
