"""Training runs shared by every method: configs, the training core, evaluation, callbacks."""

from hashzoo.training.callbacks import KeepBestEpoch, NonFiniteLossError, StopOnNonFinite
from hashzoo.training.config import TrainConfig, load_config
from hashzoo.training.core import RunOptions, RunOutcome, compile_model, run_training, versions
from hashzoo.training.evaluation import evaluate_on_protocol, evaluate_split, result_records
from hashzoo.training.run import build_model, protocol_for, train

__all__ = [
    "KeepBestEpoch", "NonFiniteLossError", "RunOptions", "RunOutcome", "StopOnNonFinite", "TrainConfig",
    "build_model", "compile_model", "evaluate_on_protocol", "evaluate_split", "load_config", "protocol_for",
    "result_records", "run_training", "train", "versions",
]
