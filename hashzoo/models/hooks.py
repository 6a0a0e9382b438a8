"""The objects a method's training hooks return: `Prepared` and `Stage`.

- `HashingModel.prepare(train_split)` returns a `Prepared` (or None): what
  the method computes from the whole training split before the first step
  (BGAN: its K-NN similarity matrix). The training runner passes it to
  `make_train_dataset(..., prepared=...)` and to every stage, and stores
  `summary()` in the run's metadata under `train_data`. Nothing of it hides
  inside the model.
- `HashingModel.training_stages()` returns `Stage`s: steps run before the
  main fit, in order, inside the same runner (a label network trained first,
  dictionaries built from it). Each gets a `StageContext`. A completed stage
  is recorded in the run's backup folder with the model's weights, so a
  killed run skips it when started again.

The order of a run is in docs/zoo.md, "Training runs".
"""

import dataclasses
from typing import Any, Callable, Optional


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Structure computed from the whole training split, before the first step.

    Args:
        value: what the input pipeline needs (BGAN: its `SparseSimilarity`).
        facts: JSON-ready facts about it for the run's metadata (counts,
            options, diagnostics).

    >>> prepared = Prepared(value=[1, 2, 3], facts={"num_items": 3})
    >>> prepared.summary()
    {'num_items': 3}
    """

    value: Any = None
    facts: dict = dataclasses.field(default_factory=dict)

    def summary(self):
        """Facts for the run's metadata (`train_data`); a copy."""
        return dict(self.facts)


@dataclasses.dataclass
class StageContext:
    """What a stage gets from the runner.

    Attributes:
        train: the protocol's training split (`ImageDataset`).
        prepared: what `prepare` returned (or None).
        batch_size: the run's global batch size (at most the split's size).
        seed: the run's seed.
        verbose: Keras progress bar setting (0, 1 or 2).
        callbacks: Keras callbacks to pass to every `fit` the stage runs:
            an atomic epoch checkpoint in the stage's own backup folder (so a
            stage killed mid-fit resumes at its last finished epoch) and the
            non-finite stop.
        steps_per_epoch: the run's steps per epoch (None: one pass).
    """

    train: Any
    prepared: Any = None
    batch_size: int = 32
    seed: int = 0
    verbose: int = 1
    callbacks: list = dataclasses.field(default_factory=list)
    steps_per_epoch: Optional[int] = None

    def progress(self, total, unit_name="step"):
        """A Keras `Progbar` of `total` units for a stage that does not call `fit` (silent at verbose 0)."""
        import keras

        return keras.utils.Progbar(total, verbose=1 if self.verbose else 0, unit_name=unit_name)


@dataclasses.dataclass(frozen=True)
class Stage:
    """A step a method runs before its main fit.

    Args:
        name: short id, unique among the method's stages (used in file names:
            letters, digits, `-` and `_`).
        run: `run(context) -> dict | None`, a `StageContext` in, JSON-ready
            facts for the metadata out. It changes the model's variables
            (weights, dictionaries); everything it leaves must live in
            variables, since a resumed run restores the variables only.
        description: one line for progress output and metadata.
    """

    name: str
    run: Callable
    description: str = ""

    def __post_init__(self):
        name = str(self.name)
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise ValueError(f"stage name must be letters, digits, '-' or '_', got {self.name!r}.")
        if not callable(self.run):
            raise ValueError(f"stage {self.name!r}: run must be callable, got {type(self.run).__name__}.")


__all__ = ["Prepared", "Stage", "StageContext"]
