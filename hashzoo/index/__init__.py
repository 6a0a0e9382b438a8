"""Exact Hamming search over binary codes: `HammingIndex`.

Results come in (distance, id) order, so equal distances are broken by
insertion order the same way as the metrics' stable tie rule, and the faiss
and numpy backends return the same ids.

Example:

>>> import numpy as np
>>> from hashzoo.index import HammingIndex
>>> rng = np.random.default_rng(0)
>>> codes = rng.choice([-1, 1], size=(1000, 12))
>>> index = HammingIndex(bits=12)
>>> index.add(codes)
>>> distances, ids = index.search(codes[:2], k=3)
>>> distances[:, 0].tolist(), ids[:, 0].tolist()
([0, 0], [0, 1])
>>> bool((np.diff(distances, axis=1) >= 0).all())
True
"""

from hashzoo.index.hamming_index import BACKENDS, HammingIndex

__all__ = ["BACKENDS", "HammingIndex"]
