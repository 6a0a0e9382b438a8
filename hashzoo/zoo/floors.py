"""Floors: the numbers a preset has to beat on its own protocol (docs/zoo.md, "Model cards").

Two kinds, both shown on every model card:

- **Computed floors**: LSH and PCA-ITQ (`hashzoo.baselines`, seed 0) at the
  preset's bits, fitted on the protocol's train part and scored on its
  query/database split by the same evaluation and metric the card headlines.
  They need no training, so `baseline_floors(metadata)` computes them when a
  preset is published (or later with `tools/make_preset.py --floors`) and
  they are stored in the preset's `metadata.json["floors"]`.
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
        bits=64, metric="mAP@all", mean=0.4506, std=None, std_kind=None, seeds=(0,),
        command="python tools/train.py --config onehot_cifar10 --out runs/onehot-cifar10-64",
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
        protocol="cifar10-mosaic", bits=32, metric="mAP@500", mean=0.6344, std=None, std_kind=None, seeds=(0,),
        command=("python tools/train.py --config multihot_cifar10_mosaic --seed 0 "
                 "--out runs/sadh/multihot-cifar10_mosaic-32-s0"),
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
    from hashzoo import data as data_lib
    from hashzoo.training.evaluation import evaluate_split

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
    query, train, database = protocol.apply(dataset)
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


def compute_floors(metadata, seed=SEED):
    """`baseline_floors` plus `supervised`: whether the preset's method trains on labels, which decides
    whether the measured classifier floors apply (`HashingModel.SUPERVISED`; imports the method)."""
    from hashzoo import methods

    record = baseline_floors(metadata, seed=seed)
    record["supervised"] = bool(methods.get_method(metadata["method"]).check_declared())
    return record


__all__ = ["BASELINES", "CLASSIFIER_FLOORS", "ClassifierFloor", "NOT_MEASURED", "SEED", "baseline_floors",
           "classifier_floors", "compute_floors", "headline_metric"]
