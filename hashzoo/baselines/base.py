"""Shared contract of the linear hashing baselines (numpy only).

A baseline is `fit` once on training inputs and then maps inputs to codes with
`(x - mean) @ projection >= 0`. Inputs are either images `[N, H, W, C]`
(uint8 or float pixels in [0, 255], flattened and scaled to [0, 1]) or
features `[N, D]`, used as given. A model remembers which kind it was fitted
on and only encodes that kind, so pixels are never mixed up with features.
"""

import abc
import json
import numbers
import os
import time

import numpy as np

from hashzoo import codes as codes_lib
from hashzoo.utils.io import atomic_open
from hashzoo.utils.validation import check_bits, check_pixels

_FORMAT_VERSION = 1
_ENCODE_BATCH = 65536
_REGISTRY = {}


def register_baseline(cls):
    """Class decorator: lets `Baseline.load` rebuild `cls` from a saved file."""
    if cls.__name__ in _REGISTRY:
        raise ValueError(f"A baseline named {cls.__name__!r} is already registered.")
    _REGISTRY[cls.__name__] = cls
    return cls


def check_seed(seed):
    """Returns `seed` if it is None or an integer >= 0, else raises ValueError."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"`seed` must be None or an integer >= 0, got {seed!r}.")
    return int(seed)


def prepare_inputs(x, name="x"):
    """Turns images or features into a float64 matrix.

    Args:
        x: images `[N, H, W, C]` (C 1 or 3, pixels in [0, 255]) or features
            `[N, D]`.
        name: the argument name used in error messages.

    Returns:
        A tuple `(matrix, kind, shape)`: the float64 `[N, D]` matrix (images
        flattened and divided by 255), `"images"` or `"features"`, and the
        per-item shape (`(H, W, C)` or `(D,)`).
    """
    array = np.asarray(x)
    if array.ndim == 4:
        array = check_pixels(array, name, stacklevel=3)  # the one pixel check `HashingModel.encode` uses
        matrix = array.reshape(array.shape[0], -1).astype(np.float64) / 255.0
        return matrix, "images", tuple(int(d) for d in array.shape[1:])
    if array.ndim != 2:
        raise ValueError(
            f"`{name}` must be images `[N, H, W, C]` or features `[N, D]`, got rank "
            f"{array.ndim} with shape {array.shape}."
        )
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
        or array.dtype == bool
    ):
        raise ValueError(f"`{name}` features must be numeric, got dtype {array.dtype}.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"`{name}` is empty (shape {array.shape}); pass at least one row of at least "
            "one feature."
        )
    matrix = array.astype(np.float64)
    if not np.all(np.isfinite(matrix)):
        raise ValueError(f"`{name}` features must be finite, found NaN or infinity.")
    return matrix, "features", (int(array.shape[1]),)


def _atomic_savez(path, arrays):
    """Writes `arrays` as an `.npz` file atomically."""
    with atomic_open(path) as handle:
        np.savez(handle, **arrays)
    return os.fspath(path)


class Baseline(abc.ABC):
    """Base class of the linear baselines: codes are `binarize((x - mean) @ projection)`.

    Subclasses implement `_fit(matrix)`, which sets `self.mean_` `[D]` and
    `self.projection_` `[D, bits]` (plus anything listed in `_extra_state`),
    and extend `get_config`.

    Args:
        bits: int >= 1, the code length.
        seed: None or int >= 0, seeds every random draw of `fit`.

    Attributes:
        code_bits: the code length (equals `bits`).
        fit_seconds: wall time of the last `fit` in seconds (None before fit).
    """

    _extra_state = ()

    def __init__(self, bits, seed=0):
        self.bits = check_bits(bits)
        self.seed = check_seed(seed)
        self.code_bits = self.bits
        self.fit_seconds = None
        self.mean_ = None
        self.projection_ = None
        self.input_kind_ = None
        self.input_shape_ = None

    # Configuration ---------------------------------------------------------

    def get_config(self):
        """Returns the constructor arguments as a JSON-friendly dict."""
        return {"bits": self.bits, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        """Builds an unfitted model from `get_config()` output."""
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        state = "fitted" if self.is_fitted else "not fitted"
        return f"{type(self).__name__}({arguments}) [{state}]"

    # Fitting and encoding --------------------------------------------------

    @property
    def is_fitted(self):
        """True once `fit` has run (or the model was loaded)."""
        return self.projection_ is not None

    def fit(self, x):
        """Fits the model on training inputs.

        Args:
            x: images `[N, H, W, C]` (pixels in [0, 255]) or features `[N, D]`.

        Returns:
            The model itself.
        """
        matrix, kind, shape = prepare_inputs(x)
        start = time.perf_counter()
        self._fit(matrix)
        self.fit_seconds = time.perf_counter() - start
        self.input_kind_ = kind
        self.input_shape_ = shape
        return self

    @abc.abstractmethod
    def _fit(self, matrix):
        """Learns the projection from float64 inputs `[N, D]` (each baseline's own rule)."""

    def _check_fitted(self, action):
        if not self.is_fitted:
            raise RuntimeError(
                f"This {type(self).__name__} is not fitted yet: call `fit(x)` (or "
                f"`{type(self).__name__}.load(path)`) before `{action}`."
            )

    def project(self, x):
        """Real-valued projections before binarisation.

        Args:
            x: inputs of the kind and shape the model was fitted on.

        Returns:
            float64 array `[N, bits]`.
        """
        self._check_fitted("project")
        matrix, kind, shape = prepare_inputs(x)
        if kind != self.input_kind_:
            raise ValueError(
                f"This model was fitted on {self.input_kind_} of shape {self.input_shape_}, "
                f"got {kind} of shape {shape}; encode the same kind of input it was fitted on."
            )
        if shape != self.input_shape_:
            raise ValueError(
                f"This model was fitted on {kind} of shape {self.input_shape_} "
                f"({self.mean_.shape[0]} values per item), got shape {shape}."
            )
        out = np.empty((matrix.shape[0], self.bits), dtype=np.float64)
        for start in range(0, matrix.shape[0], _ENCODE_BATCH):
            block = matrix[start : start + _ENCODE_BATCH]
            out[start : start + len(block)] = (block - self.mean_) @ self.projection_
        return out

    def encode(self, x):
        """Binary codes: +1 where the projection is >= 0, else -1.

        Args:
            x: inputs of the kind and shape the model was fitted on.

        Returns:
            int8 array `[N, bits]` of +1/-1.
        """
        return codes_lib.binarize(self.project(x))

    def encode_packed(self, x):
        """Packed codes (see `hashzoo.codes.pack_codes`).

        Args:
            x: inputs of the kind and shape the model was fitted on.

        Returns:
            uint8 array `[N, ceil(bits / 8)]`.
        """
        return codes_lib.pack_codes(self.encode(x))

    # Saving ----------------------------------------------------------------

    def save(self, path):
        """Saves the config and fitted state to an `.npz` file, atomically.

        Args:
            path: destination file; its folder is created if needed.

        Returns:
            The path written, as a string.
        """
        self._check_fitted("save")
        arrays = {
            "format_version": np.array(_FORMAT_VERSION),
            "class_name": np.array(type(self).__name__),
            "config": np.array(json.dumps(self.get_config())),
            "input_kind": np.array(self.input_kind_),
            "input_shape": np.array(self.input_shape_, dtype=np.int64),
            "fit_seconds": np.array(np.nan if self.fit_seconds is None else self.fit_seconds),
            "mean": self.mean_,
            "projection": self.projection_,
        }
        for key in self._extra_state:
            arrays[key] = np.asarray(getattr(self, key + "_"))
        return _atomic_savez(path, arrays)

    @classmethod
    def load(cls, path):
        """Loads a model written by `save`.

        `Baseline.load` returns whichever baseline the file holds; a subclass's
        `load` raises if the file holds another class.

        Args:
            path: an `.npz` file written by `save`.

        Returns:
            The fitted model.
        """
        with np.load(os.fspath(path), allow_pickle=False) as data:
            stored = {key: data[key] for key in data.files}
        missing = {"format_version", "class_name", "config", "mean", "projection"} - set(stored)
        if missing:
            raise ValueError(f"{path!s} is not a hashzoo baseline file: missing {sorted(missing)}.")
        version = int(stored["format_version"])
        if version != _FORMAT_VERSION:
            raise ValueError(
                f"{path!s} has format version {version}; this hashzoo reads {_FORMAT_VERSION}."
            )
        class_name = str(stored["class_name"])
        if class_name not in _REGISTRY:
            raise ValueError(
                f"{path!s} holds unknown baseline {class_name!r}; known: {sorted(_REGISTRY)}."
            )
        target = _REGISTRY[class_name]
        if cls is not Baseline and target is not cls:
            raise ValueError(
                f"{path!s} holds {class_name}, not {cls.__name__}; use {class_name}.load."
            )
        model = target.from_config(json.loads(str(stored["config"])))
        model._set_state(stored, path)
        return model

    def _set_state(self, stored, path):
        mean = np.asarray(stored["mean"], dtype=np.float64)
        projection = np.asarray(stored["projection"], dtype=np.float64)
        if mean.ndim != 1 or projection.shape != (mean.shape[0], self.bits):
            raise ValueError(
                f"{path!s} is inconsistent: mean shape {mean.shape} and projection shape "
                f"{projection.shape} for bits={self.bits}."
            )
        for key in self._extra_state:
            if key not in stored:
                raise ValueError(f"{path!s} is missing the {type(self).__name__} state {key!r}.")
            setattr(self, key + "_", stored[key])
        self.mean_ = mean
        self.projection_ = projection
        self.input_kind_ = str(stored["input_kind"])
        self.input_shape_ = tuple(int(d) for d in stored["input_shape"])
        seconds = float(stored["fit_seconds"])
        self.fit_seconds = None if np.isnan(seconds) else seconds
