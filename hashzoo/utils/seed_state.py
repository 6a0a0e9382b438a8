"""Random-stream positions in weights files, so a resumed run draws what an uninterrupted one would.

A Keras `SeedGenerator` keeps its position in a variable that neither
`save_weights` nor `model.save` writes: a layer saves only its own
trainable and non-trainable variables. A training run killed and resumed
from its last checkpoint (`hashzoo.training.backup`) would then replay the
noise, augmentation and dropout draws of its first steps instead of taking
the next ones.

`SeedState` is a mixin for a layer or model class (put it before the Keras
base): its `save_own_variables` also writes the state of every seed
generator it owns and of those its nested layers own (Keras's `Dropout`,
for instance), in a fixed order, under the entries `seed_state_0`,
`seed_state_1`, ...; nested layers that are `SeedState` themselves write
their own. `load_own_variables` restores them. A file written before the
mixin has no such entries, and loading it leaves each generator at its
initial state, as before (the shipped presets load unchanged).

>>> import keras
>>> class Noisy(SeedState, keras.layers.Layer):
...     def __init__(self, **kwargs):
...         super().__init__(**kwargs)
...         self.seed_generator = keras.random.SeedGenerator(3)
>>> layer, store = Noisy(), {}
>>> _ = layer.seed_generator.next()
>>> layer.save_own_variables(store)
>>> sorted(store)
['seed_state_0']
>>> fresh = Noisy()
>>> fresh.load_own_variables(store)
>>> [int(v) for v in fresh.seed_generator.state.numpy()]
[3, 1]
"""

import numpy as np

#: Prefix of the entries holding seed-generator states, beside Keras's own "0", "1", ... entries.
KEY_PREFIX = "seed_state_"


def seed_generators(layer):
    """The `SeedGenerator`s whose state `layer` saves, in a fixed order.

    Its own, then those of its nested layers depth-first in Keras's tracking
    order (the order the attributes were set), each once; a nested layer
    that is itself a `SeedState` is skipped with everything under it, since
    it saves its own.
    """
    found, seen = [], set()

    def visit(obj, top):
        if id(obj) in seen or (not top and isinstance(obj, SeedState)):
            return
        seen.add(id(obj))
        for generator in getattr(obj, "_seed_generators", ()):
            if id(generator) not in seen:
                seen.add(id(generator))
                found.append(generator)
        for child in getattr(obj, "_layers", ()):
            visit(child, False)

    visit(layer, True)
    return found


class SeedState:
    """Mixin: a layer's or model's weights entries also hold the state of its seed generators (see the module)."""

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for index, generator in enumerate(seed_generators(self)):
            store[f"{KEY_PREFIX}{index}"] = generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        states = {key: store[key] for key in keys if key.startswith(KEY_PREFIX)}
        super().load_own_variables({key: store[key] for key in keys if not key.startswith(KEY_PREFIX)})
        generators = seed_generators(self)
        if states and len(states) != len(generators):
            raise ValueError(
                f"{type(self).__name__} {self.name!r} has {len(generators)} seed generator(s), but the weights "
                f"file holds {len(states)} seed state(s) for it; the file was written by another architecture."
            )
        # No entries (a file written before seed states were saved): each generator keeps its initial state.
        for index, generator in enumerate(generators):
            key = f"{KEY_PREFIX}{index}"
            if key in states:
                generator.state.assign(np.asarray(states[key]).astype(generator.state.dtype))


__all__ = ["KEY_PREFIX", "SeedState", "seed_generators"]
