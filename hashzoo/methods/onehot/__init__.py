"""The classifier + one-hot code baseline (Sablayrolles et al., ICASSP 2017).

A softmax classifier on the shared conv trunk whose code is the one-hot
vector of its predicted class: the floor that supervised hashing tables
report. See `OneHotClassifierHasher`.
"""

from hashzoo.methods.onehot.onehot_model import OneHotClassifierHasher

#: The method's model class, found by `hashzoo.methods.get_method('onehot')`.
MODEL = OneHotClassifierHasher

__all__ = ["MODEL", "OneHotClassifierHasher"]
