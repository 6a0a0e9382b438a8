"""`train`: a zoo config's method, built from the data, through the training core to a preset folder."""

import inspect

from hashzoo import data as data_lib
from hashzoo import distribute, methods
from hashzoo.training import core


def check_model_arguments(cls, config):
    """Refuses `config.model` keys the method's constructor does not take, listing those it does."""
    parameters = inspect.signature(cls.__init__).parameters
    allowed = sorted(name for name in parameters if name not in ("self", "kwargs", "code_bits"))
    unknown = sorted(set(config.model) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {config.method} model argument(s) {unknown}; allowed: {allowed}.")


def build_model(config, dataset):
    """The method's model for `config`, sized from `dataset` (`HashingModel.from_data`)."""
    cls = methods.get_method(config.method)
    check_model_arguments(cls, config)
    return cls.from_data(config.bits, dataset, seed=config.seed, **config.model)


def protocol_for(data, protocol):
    """The protocol of a run on `data`: `protocol` when given, `"folder"` for an image folder, else None.

    None means "the config's". An image folder (one sub-folder per class)
    has no protocol of its own, so without one named it is split by the
    `folder` protocol.
    """
    if protocol:
        return protocol
    if data is None:
        return None
    from hashzoo.data import folders

    return "folder" if folders.folder_kind(data) == folders.IMAGES else None


def train(config, out_dir, data=None, strategy="none", verbose=1, overwrite=False, command=None, extra_callbacks=()):
    """Trains `config` and writes a preset folder to `out_dir`.

    The run (`hashzoo.training.core.run_training`) scores every epoch on the
    protocol's validation split and publishes the best epoch; a non-finite
    loss stops it and the preset is written from the best finished epoch
    (`model.card["stopped"]` says so). A killed run resumes from
    `<out_dir>.backup/`, which is removed once the preset is written; a
    backup folder of a run with another config or data is refused with a
    `ValueError` naming it and the settings that differ (delete it, or rerun
    with the original arguments). `overwrite` replaces `out_dir` only: it
    neither resumes nor deletes another run's backup folder. Under
    `"multiworker"` only worker 0 writes `out_dir`.

    Args:
        config: a `TrainConfig`.
        out_dir: the preset folder to write (see `hashzoo.zoo.presets`).
        data: overrides `config.data` (any `hashzoo.data.load` form).
        strategy: `"none"`, `"mirrored"` or `"multiworker"`.
        verbose: Keras progress bar (0, 1 or 2).
        overwrite: replace an existing `out_dir`.
        command: the command line recorded in the metadata.
        extra_callbacks: more Keras callbacks for the main fit.

    Returns:
        `(model, result)`: the trained model (the selected epoch's weights;
        `model.card` is the metadata written) and its `RetrievalResult` on
        the protocol's query/database split.
    """
    # Before any other TensorFlow call: a multi-worker strategy starts the collective runtime.
    distribution = distribute.make_strategy(strategy)
    options = core.RunOptions(epochs=config.epochs, batch_size=config.batch_size, seed=config.seed, verbose=verbose,
                              overwrite=overwrite, command=command, extra_callbacks=tuple(extra_callbacks),
                              min_steps=config.min_steps)
    core.check_output_folder(out_dir, overwrite)
    cls = methods.get_method(config.method)
    check_model_arguments(cls, config)
    source = data or config.data
    outcome = core.run_training(
        lambda parts: build_model(config, parts.train), data_lib.load(source), config.protocol, out_dir, options,
        method_class=cls, optimizers=config.optimizers, data_name=source, strategy=distribution,
        metadata={"method": config.method, "config": config.to_dict()},
        # The whole config (model and optimizer settings, bits, epochs, batch size, seed, protocol, method);
        # the core adds the data's sha256 and the split.
        fingerprint={"config": config.to_dict()},
    )
    return outcome.model, outcome.result


__all__ = ["build_model", "check_model_arguments", "protocol_for", "train"]
