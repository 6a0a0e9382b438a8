"""Encode a protocol's query and database, then score them: the one place hashzoo does it.

Every tool, bench, the demo, the training runner and preset publishing call
`evaluate_split` (parts already split) or `evaluate_on_protocol` (load,
split, check the split, evaluate). Metric definitions, the tie rule and the
zero-relevant policy are in `docs/evaluation.md`.

>>> import numpy as np
>>> from hashzoo import data
>>> from hashzoo.baselines import LSH
>>> digits = data.load_digits()
>>> protocol = data.get_protocol("digits")
>>> query, train, database = protocol.apply(digits)
>>> lsh = LSH(16, seed=0).fit(train.images)
>>> result = evaluate_split(lsh, query, database, protocol)
>>> result.protocol, result.bits, result.num_queries, result.num_database
('digits', 16, 300, 1497)
>>> again, split = evaluate_on_protocol(lsh, "digits")
>>> again.metrics == result.metrics, split["split_sha256"] == protocol.split_sha256
(True, True)
"""

import inspect

from hashzoo import data as data_lib
from hashzoo import metrics


def encode_images(encoder, images, batch_size=256):
    """`encoder.encode(images)` in batches of `batch_size` when the encoder takes a batch size.

    Keras models (`HashingModel`) encode in batches; the numpy baselines
    encode in one pass and take no batch size.
    """
    if "batch_size" in inspect.signature(encoder.encode).parameters:
        return encoder.encode(images, batch_size=batch_size)
    return encoder.encode(images)


def evaluate_split(encoder, query, database, protocol, batch_size=256, **metric_options):
    """Encodes `query` and `database` with `encoder` and scores them under `protocol`.

    Args:
        encoder: anything with `.encode(images)` giving ±1 codes (a
            `HashingModel`, a fitted baseline).
        query, database: `ImageDataset` parts of the protocol's split.
        protocol: a `Protocol` or its id; gives K, the tie rule and the
            zero-relevant policy.
        batch_size: images per forward pass.
        **metric_options: more arguments of `hashzoo.metrics.evaluate`
            (`pr_curves=True`, `ks=()`, `radius=None`, ...).

    Returns:
        A `RetrievalResult` that names the protocol.
    """
    protocol = data_lib.get_protocol(protocol)
    return metrics.evaluate(
        encode_images(encoder, query.images, batch_size),
        query.labels,
        encode_images(encoder, database.images, batch_size),
        database.labels,
        k=protocol.k,
        protocol=protocol.id,
        tie_rule=protocol.tie_rule,
        zero_relevant=protocol.zero_relevant,
        **metric_options,
    )


def split_record(protocol, split):
    """The protocol record stored in metadata: id, split seed and sha256, part sizes."""
    return {"id": protocol.id, "split_seed": protocol.split_seed, "split_sha256": split.sha256, **split.sizes}


def evaluate_on_protocol(encoder, protocol, data=None, dataset=None, expected_split_sha256=None, batch_size=256,
                         load_options=None, **metric_options):
    """Loads the data, splits it by `protocol`, checks the split, encodes and scores it.

    Args:
        encoder: anything with `.encode(images)` (see `evaluate_split`).
        protocol: a `Protocol` or its id.
        data: a `hashzoo.data.load` source (`"digits"`, a folder, ...);
            default: the protocol's own dataset.
        dataset: an `ImageDataset` already loaded (instead of `data`).
        expected_split_sha256: the split sha256 recorded beside a published
            number; a different split is an error, since the two numbers
            would not be comparable.
        batch_size: images per forward pass.
        load_options: keyword arguments of `hashzoo.data.load`
            (`{"data_dir": ...}` for `tfds:<name>`).
        **metric_options: more arguments of `hashzoo.metrics.evaluate`.

    Returns:
        `(result, split_record)`: the `RetrievalResult` and the protocol
        record (`split_record`).

    Raises:
        ValueError: when both `data` and `dataset` are given, the data do
            not fit the protocol, or the split's sha256 differs from
            `expected_split_sha256`.
    """
    protocol = data_lib.get_protocol(protocol)
    if data is not None and dataset is not None:
        raise ValueError("pass the data as `data` (a source to load) or as `dataset` (loaded), not both.")
    if dataset is None and data is None:
        try:
            dataset = data_lib.load(protocol.dataset, **(load_options or {}))
        except ValueError as error:
            raise ValueError(
                f"protocol {protocol.id!r} has no data of its own to load ({protocol.dataset!r}); pass `data`."
            ) from error
    elif dataset is None:
        dataset = data_lib.load(data, **(load_options or {}))
    split = protocol.split(dataset.labels, dataset.class_names)
    if expected_split_sha256 is not None and split.sha256 != expected_split_sha256:
        raise ValueError(
            f"protocol {protocol.id!r} split {dataset.name!r} with sha256 {split.sha256}, but "
            f"{expected_split_sha256} was expected: these are different query/database items, so the "
            "numbers would not be comparable. Use the data the expected split was drawn from."
        )
    query, _, database = protocol.apply(dataset)
    result = evaluate_split(encoder, query, database, protocol, batch_size=batch_size, **metric_options)
    return result, split_record(protocol, split)


def result_records(result):
    """A `RetrievalResult` as the evaluation record stored in metadata.

    The result's fields (`RetrievalResult.to_dict`) plus `records`: one
    `{metric, value, protocol, bits, tie_rule, zero_relevant}` per metric,
    each number with the conventions that make it comparable.
    """
    record = result.to_dict()
    record["records"] = [
        {"metric": name, "value": float(value), "protocol": result.protocol, "bits": result.bits,
         "tie_rule": result.tie_rule, "zero_relevant": result.zero_relevant}
        for name, value in result.metrics.items()
    ]
    return record


__all__ = ["encode_images", "evaluate_on_protocol", "evaluate_split", "result_records", "split_record"]
