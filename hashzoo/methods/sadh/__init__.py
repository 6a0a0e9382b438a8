"""SADH: supervised multi-label hashing taught by a label network's semantic dictionaries.

`SADH` holds the label network (LabNet), its feature and code dictionaries
and the image network (ImgNet) that retrieval uses; docs/sadh.md explains
the method, its stages and hashzoo's choices.
"""

from hashzoo.methods.sadh.networks import SADHImageNet, SADHLabelNet
from hashzoo.methods.sadh.sadh_model import SADH

#: The method's model class, found by `hashzoo.methods.get_method('sadh')`.
MODEL = SADH

__all__ = ["MODEL", "SADH", "SADHImageNet", "SADHLabelNet"]
