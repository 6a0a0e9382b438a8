"""Floors: the numbers a preset has to beat on its own protocol (docs/zoo.md, "Model cards").

Two kinds, both shown on every model card:

- **Computed floors**: LSH and PCA-ITQ (`hashzoo.baselines`, seed 0) at the
  preset's bits, fitted on the protocol's train part and scored on its
  query/database split by the same evaluation and metric the card headlines.
  They need no training, so `baseline_floors(metadata)` computes them when a
  preset is published (or later with `tools/make_preset.py --floors`) and
  they are stored in the preset's `metadata.json["floors"]`. For an
  unsupervised method that builds its similarity graph from frozen features
  (its config names a `feature_extractor`), `feature_floors(metadata)` adds
  PCA-ITQ on those same features, so that what the features give is not
  credited to the method (docs/zoo.md, "Model cards").
- **Measured classifier floors** for supervised methods: the one-hot
  classifier on single-label protocols (docs/onehot.md) and the multi-label
  classifier on multi-label ones (docs/multihot.md). They need a training
  run, so they cannot be computed at publish time; `CLASSIFIER_FLOORS` below
  is the one place their measured numbers are written down, each with the
  seeds, the command that measured it and the page that reports it. A
  protocol without an entry has no measured classifier floor, and cards say so.

This module names protocols and configs (it is data); the card code does not.
"""

import dataclasses

#: The computed floors: (name shown on cards, class in `hashzoo.baselines`).
BASELINES = (("LSH", "LSH"), ("PCA-ITQ", "PCAITQ"))

#: The seed every computed floor uses.
SEED = 0

#: The computed floor fitted on a method's graph features: (name shown on cards, class in `hashzoo.baselines`).
FEATURE_BASELINE = ("PCA-ITQ", "PCAITQ")

@dataclasses.dataclass(frozen=True)
class ClassifierFloor:
    """One measured classifier floor.

    Args:
        name: what cards call it.
        method: the hashzoo method that trains it (`onehot`, `multihot`).
        config: the zoo config measured.
        protocol: the protocol id it was measured on.
        bits: the code length of the measured runs.
        metric: the metric reported (the protocol's mAP).
        mean: the reported value (the mean when several seeds ran).
        std: the reported standard deviation over seeds; None for one seed.
        std_kind: how `std` was computed, as the reporting page did it.
        seeds: the seeds measured.
        command: the command that measured it.
        docs: the page that reports the number.
        note: what else a reader needs (e.g. why it holds at other bits).
    """

    name: str
    method: str
    config: str
    protocol: str
    bits: int
    metric: str
    mean: float
    std: float | None
    std_kind: str | None
    seeds: tuple
    command: str
    docs: str
    note: str = ""

    def value_text(self):
        """`0.9715 ± 0.0031` (several seeds) or `0.4506` (one)."""
        return f"{self.mean:.4f}" + (f" ± {self.std:.4f}" if self.std is not None else "")


#: A classifier's code does not depend on the code length beyond its class count
#: (docs/onehot.md, docs/multihot.md), so one measurement stands for every length.
_ANY_LENGTH = ("its code is the predicted class (or label set) padded with -1 bits, so its ranking does not "
               "depend on the code length once that is at least the class count; measured at {bits} bits, it "
               "stands for every such length")

CLASSIFIER_FLOORS = (
    ClassifierFloor(
        name="one-hot classifier floor", method="onehot", config="onehot_cifar10", protocol="cifar10-subset",
        bits=64, metric="mAP@all", mean=0.4358, std=0.0093, std_kind="sample std (n - 1)", seeds=(0, 1, 2),
        command=("for s in 0 1 2; do python tools/train.py --config onehot_cifar10 --seed $s "
                 "--out runs/onehot/onehot-cifar10-64-s$s; done"),
        docs="docs/onehot.md", note=_ANY_LENGTH.format(bits=64),
    ),
    ClassifierFloor(
        name="one-hot classifier floor with flips and shifts", method="onehot", config="onehot_cifar10:augmented",
        protocol="cifar10-subset", bits=64, metric="mAP@all", mean=0.5006, std=0.0116,
        std_kind="sample std (n - 1)", seeds=(0, 1, 2),
        command=("for s in 0 1 2; do python tools/train.py --config onehot_cifar10:augmented --seed $s "
                 "--out runs/onehot/onehot-aug-cifar10-64-s$s; done"),
        docs="docs/onehot.md", note=_ANY_LENGTH.format(bits=64),
    ),
    ClassifierFloor(
        name="one-hot classifier floor", method="onehot", config="onehot_digits", protocol="digits",
        bits=32, metric="mAP@all", mean=0.9600, std=0.0027, std_kind="sample std (n - 1)", seeds=(0, 1, 2),
        command=("for s in 0 1 2; do python tools/train.py --config onehot_digits --seed $s "
                 "--out runs/floors/onehot-digits-32-s$s; done"),
        docs="docs/onehot.md", note=_ANY_LENGTH.format(bits=32),
    ),
    ClassifierFloor(
        name="multi-label classifier floor", method="multihot", config="multihot_cifar10_mosaic",
        protocol="cifar10-mosaic", bits=32, metric="mAP@500", mean=0.6473, std=0.0149,
        std_kind="population std (numpy, ddof 0) over seeds 0, 1 and 2", seeds=(0, 1, 2),
        command=("for s in 0 1 2; do python tools/train.py --config multihot_cifar10_mosaic --seed $s "
                 "--out runs/sadh/multihot-cifar10_mosaic-32-s$s; done"),
        docs="docs/sadh.md", note=_ANY_LENGTH.format(bits=32),
    ),
    ClassifierFloor(
        name="multi-label classifier floor", method="multihot", config="multihot_digits_mosaic",
        protocol="digits-mosaic", bits=32, metric="mAP@500", mean=0.9715, std=0.0031,
        std_kind="population std (numpy, ddof 0), as bench/sadh_table.py prints it", seeds=(0, 1, 2),
        command=("for s in 0 1 2; do python tools/train.py --config multihot_digits_mosaic --seed $s "
                 "--out runs/sadh/multihot-digits_mosaic-32-s$s; done"),
        docs="docs/sadh.md", note=_ANY_LENGTH.format(bits=32),
    ),
)

#: What cards say where a protocol has no measured classifier floor yet, when the docs say why.
NOT_MEASURED = {}


def classifier_floors(protocol_id):
    """The measured classifier floors of protocol `protocol_id` (a list, empty when none was measured)."""
    return [floor for floor in CLASSIFIER_FLOORS if floor.protocol == protocol_id]


def headline_metric(metrics):
    """The metric a card headlines: `mAP@all`, else the protocol's mAP@K (e.g. `mAP@500`), else None."""
    if "mAP@all" in metrics:
        return "mAP@all"
    at_k = sorted(name for name in metrics if name.startswith("mAP@"))
    return at_k[0] if at_k else None


def _protocol_parts(metadata):
    """`(protocol, metric, dataset, split, (query, train, database))` of a preset, its split checked."""
    from hashzoo import data as data_lib

    protocol_record = metadata["protocol"]
    protocol = data_lib.get_protocol(protocol_record["id"])
    metric = headline_metric((metadata.get("evaluation") or {}).get("metrics", {}))
    if metric is None:
        raise ValueError(f"{metadata.get('name', 'the preset')} records no mAP metric to compare floors with.")
    dataset = data_lib.load(metadata["data"])
    split = protocol.split(dataset.labels, dataset.class_names)
    if split.sha256 != protocol_record["split_sha256"]:
        raise ValueError(f"protocol {protocol.id!r} split {metadata['data']!r} with sha256 {split.sha256}, but the "
                         f"preset records {protocol_record['split_sha256']}: floors on other items would not be "
                         "comparable.")
    return protocol, metric, dataset, split, protocol.apply(dataset)


def baseline_floors(metadata, seed=SEED):
    """LSH and PCA-ITQ at the preset's bits on its protocol and data, scored like the preset.

    Args:
        metadata: a preset's `metadata.json` (its `protocol`, `data`,
            `code_bits` and `evaluation` are read).
        seed: the baselines' seed.

    Returns:
        The `floors` record: what was computed and how (protocol, split,
        data, the train part they were fitted on, metric, tie rule) and one
        `{baseline, class, config, bits, seed, metric, value}` per baseline.

    Raises:
        ValueError: the data split differently from the preset's recorded
            split, or the evaluation has no mAP to compare.
    """
    from hashzoo import baselines
    from hashzoo.training.evaluation import evaluate_split

    protocol, metric, _, split, (query, train, database) = _protocol_parts(metadata)
    bits = int(metadata["code_bits"])
    rows = []
    for shown, class_name in BASELINES:
        fitted = getattr(baselines, class_name)(bits, seed=seed).fit(train.images)
        result = evaluate_split(fitted, query, database, protocol)
        rows.append({"baseline": shown, "class": f"hashzoo.baselines.{class_name}", "config": fitted.get_config(),
                     "bits": bits, "seed": seed, "metric": metric, "value": float(result.metrics[metric])})
    return {
        "protocol": protocol.id,
        "split_sha256": split.sha256,
        "data": metadata["data"],
        "metric": metric,
        "tie_rule": protocol.tie_rule,
        "zero_relevant": protocol.zero_relevant,
        "fitted_on": {"part": "train", "items": len(train),
                      "inputs": "pixels flattened and scaled to [0, 1] (hashzoo.baselines)"},
        "scored_on": {"query": len(query), "database": len(database)},
        "computed_by": "hashzoo.zoo.floors.baseline_floors",
        "baselines": rows,
    }


def graph_features(metadata):
    """`(extractor, weights)` of the frozen features the preset's method builds its similarity graph from,
    or None when it builds none (a supervised method, or one without a `feature_extractor` argument).

    The extractor is the config's `model.feature_extractor`, else the method's default; `weights` is the
    config's `model.feature_weights` (a `keras_app` extractor's weights file) or None. Imports the method.
    """
    import inspect

    from hashzoo import methods

    cls = methods.get_method(metadata["method"])
    if cls.check_declared() or not hasattr(cls, "build_similarity"):
        return None
    model_args = (metadata.get("config") or {}).get("model") or {}
    parameter = inspect.signature(cls.__init__).parameters.get("feature_extractor")
    extractor = model_args.get("feature_extractor", None if parameter is None else parameter.default)
    if extractor is None or extractor is inspect.Parameter.empty:
        return None
    return str(extractor), model_args.get("feature_weights")


def feature_floors(metadata, seed=SEED):
    """PCA-ITQ at the preset's bits on the features its method's similarity graph is built from.

    For a preset whose method builds its graph from frozen features (`graph_features`), the features
    of the protocol's query, train and database images come from the same extractor
    (`hashzoo.similarity.extract_features(images, extractor, weights, GRAPH_FEATURES_SEED)`, the call
    `build_similarity` makes); PCA-ITQ is fitted on the train rows and scored on the query/database
    split by the same evaluation as `baseline_floors`. Most extractors fit something on the images they
    are given (`hashzoo.similarity.fitted_on_image_set`) and cannot be applied to new images afterwards,
    so the features are
    extracted once from all those images together; labels are never read. The method's own graph used
    the train images alone.

    Args:
        metadata: a preset's `metadata.json` (`method`, `config`, `protocol`, `data`, `code_bits`,
            `evaluation`).
        seed: the baseline's seed (the extractor always uses `GRAPH_FEATURES_SEED`, as the method did).

    Returns:
        A list with one `baselines` row (`baseline`, `class`, `config`, `bits`, `seed`, `metric`, `value`,
        and `features`: extractor, weights, seed, dimension, items extracted from, the note cards print),
        or a row without `value` but with `features["not_computed"]` saying why (an `array:` extractor holds
        train rows only; fewer feature dimensions than bits), which `compute_floors` records under
        `not_computed` instead of `baselines`; empty when the method builds no graph.

    Raises:
        ValueError: as `baseline_floors`.
    """
    import numpy as np

    from hashzoo import baselines, metrics, similarity

    found = graph_features(metadata)
    if found is None:
        return []
    extractor, weights = found
    protocol, metric, dataset, split, (query, train, database) = _protocol_parts(metadata)
    bits = int(metadata["code_bits"])
    shown, class_name = FEATURE_BASELINE
    row = {"baseline": f"{shown} on {extractor} features", "class": f"hashzoo.baselines.{class_name}",
           "bits": bits, "seed": seed, "metric": metric}
    features_record = {"extractor": extractor, "weights": weights, "seed": similarity.GRAPH_FEATURES_SEED,
                       "computed_by": "hashzoo.similarity.extract_features"}
    if extractor.startswith("array:"):
        features_record["not_computed"] = ("an `array:` extractor holds features of the training images only, "
                                           "so query and database images have none")
        return [dict(row, features=features_record)]
    if protocol.mosaic is None:
        # Each item once: train and database overlap on most protocols.
        indices = np.unique(np.concatenate([split.query, split.train, split.database]))
        everything = similarity.extract_features(dataset.images[indices], extractor, weights,
                                                  seed=similarity.GRAPH_FEATURES_SEED)
        position = {int(item): row_index for row_index, item in enumerate(indices)}
        parts = [everything[[position[int(i)] for i in getattr(split, name)]]
                 for name in ("query", "train", "database")]
        items = len(indices)
    else:
        # Mosaic parts are tiled on the fly; extract from the three parts' images as they are.
        sizes = [len(query), len(train), len(database)]
        everything = similarity.extract_features(
            np.concatenate([query.images, train.images, database.images]), extractor, weights,
            seed=similarity.GRAPH_FEATURES_SEED)
        parts = np.split(everything, np.cumsum(sizes)[:-1])
        items = int(sum(sizes))
    query_x, train_x, database_x = parts
    dim = int(train_x.shape[1])
    fitted_text = similarity.fitted_on_image_set(extractor, int(np.prod(train.images.shape[1:])))
    features_record.update(
        dim=dim, extracted_from={"parts": ["query", "train", "database"], "items": items},
        note=(f"`extract_features` fits {fitted_text} on the images it is given and cannot apply them to new "
              f"images, so the features of all {items:,} query, train and database images were extracted "
              f"together (labels never read; the method's graph used the {len(train):,} train images alone)"
              if fitted_text else
              f"each image's features depend on that image alone, so extracting them from all {items:,} query, "
              "train and database images together changes nothing"),
    )
    if bits > dim:
        features_record["not_computed"] = f"the features have {dim} dimensions, fewer than {bits} bits"
        return [dict(row, features=features_record)]
    fitted = getattr(baselines, class_name)(bits, seed=seed).fit(train_x)
    result = metrics.evaluate(fitted.encode(query_x), query.labels, fitted.encode(database_x), database.labels,
                              k=protocol.k, protocol=protocol.id, tie_rule=protocol.tie_rule,
                              zero_relevant=protocol.zero_relevant)
    row.update(config=fitted.get_config(), value=float(result.metrics[metric]), features=features_record)
    return [row]


def compute_floors(metadata, seed=SEED):
    """`baseline_floors`, then the `feature_floors` rows (for a method that builds a graph from frozen
    features), plus `supervised`: whether the preset's method trains on labels, which decides whether the
    measured classifier floors apply (`HashingModel.SUPERVISED`; imports the method)."""
    from hashzoo import methods

    record = baseline_floors(metadata, seed=seed)
    rows = feature_floors(metadata, seed=seed)
    record["baselines"] += [row for row in rows if "value" in row]
    not_computed = [row for row in rows if "value" not in row]
    if not_computed:
        record["not_computed"] = not_computed
    record["supervised"] = bool(methods.get_method(metadata["method"]).check_declared())
    return record


__all__ = ["BASELINES", "CLASSIFIER_FLOORS", "ClassifierFloor", "FEATURE_BASELINE",
           "NOT_MEASURED", "SEED", "baseline_floors", "classifier_floors", "compute_floors", "feature_floors",
           "graph_features", "headline_metric"]
