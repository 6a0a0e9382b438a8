"""Training runs shared by every method: configs, the runner, callbacks."""

from hashzoo.training.callbacks import NonFiniteLossError, StopOnNonFinite
from hashzoo.training.config import TrainConfig, load_config
from hashzoo.training.run import build_model, compile_model, evaluate_model, train

__all__ = [
    "NonFiniteLossError", "StopOnNonFinite", "TrainConfig", "build_model", "compile_model",
    "evaluate_model", "load_config", "train",
]
