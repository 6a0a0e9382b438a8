"""Classical hashing baselines: floors for every hashzoo table (numpy only, no Keras).

- `LSH`: signs of random Gaussian projections of centred inputs.
- `PCAITQ`: PCA to `bits` dimensions, then ITQ's learned rotation.

Both fit on images `[N, H, W, C]` (pixels in [0, 255], flattened and scaled
to [0, 1]) or on features `[N, D]` (used as given, e.g. CNN features for the
"ITQ on features" row), and encode to int8 +1/-1 codes or packed uint8 codes.

The trainable one-hot classifier floor of supervised tables is a method
(`hashzoo.methods.onehot`, trained with `hashzoo.training` like any other).

Example:

>>> import os, tempfile
>>> import numpy as np
>>> from hashzoo.baselines import LSH, PCAITQ, Baseline
>>> rng = np.random.default_rng(0)
>>> images = rng.integers(0, 256, size=(64, 8, 8, 1), dtype=np.uint8)
>>> itq = PCAITQ(bits=16, iterations=20, seed=0).fit(images)
>>> codes = itq.encode(images[:2])
>>> codes.shape, codes.dtype
((2, 16), dtype('int8'))
>>> itq.encode_packed(images[:2]).shape
(2, 2)
>>> itq.get_config()
{'bits': 16, 'seed': 0, 'iterations': 20}
>>> with tempfile.TemporaryDirectory() as folder:
...     path = itq.save(os.path.join(folder, "itq16.npz"))
...     restored = Baseline.load(path)
>>> restored
PCAITQ(bits=16, seed=0, iterations=20) [fitted]
>>> bool(np.array_equal(restored.encode(images), itq.encode(images)))
True
>>> LSH(bits=12).fit(images).code_bits
12
"""

from hashzoo.baselines.base import Baseline
from hashzoo.baselines.itq import PCAITQ
from hashzoo.baselines.lsh import LSH

__all__ = ["Baseline", "LSH", "PCAITQ"]
