"""Evaluates a preset (or any saved model) on a protocol's query/database split.

    python tools/evaluate.py --preset coophash-digits-32
    python tools/evaluate.py --model runs/my-preset --data my_images/ --protocol folder --out eval_out
    python tools/evaluate.py --preset coophash-cifar10-64 --data ~/cifar-10-batches-py --protocol cifar10

Prints the metrics table (mAP@K, P@100, recall@100, precision/recall within
Hamming radius 2, with the tie rule and zero-relevant policy), compares it
with the numbers recorded in the preset's metadata when the protocol is the
same, and writes into `--out` (default `eval_out/<name>`):
`pr_curve.png` (precision and recall over Hamming radii), `retrieval.png`
(queries with their top-10 Hamming neighbours, wrong ones framed in red) and
`evaluation.json` (the evaluation record).

`--data` defaults to the data the preset was trained on and `--protocol` to
the protocol of its recorded metrics.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("preset", None, "registered preset name or archive URL.")
flags.DEFINE_string("model", None, "preset folder or .keras file.")
flags.DEFINE_string("data", None, "data source (default: the one the preset was trained on).")
flags.DEFINE_string("data_dir", None, "TFDS data folder, for --data tfds:<name>.")
flags.DEFINE_string("protocol", None, "protocol id (default: the preset's).")
flags.DEFINE_string("out", None, "folder for the pictures and evaluation.json (default eval_out/<name>).")
flags.DEFINE_integer("queries_shown", 8, "queries in the retrieval picture.")
flags.DEFINE_integer("neighbours", 10, "neighbours per query in the retrieval picture.")
flags.DEFINE_integer("batch_size", 256, "images per forward pass.")


def evaluate(model, data_source, protocol_id, data_dir=None, batch_size=256):
    """`(result, query, database, protocol, split_sha256)`: metrics with PR curves on the protocol's split."""
    from hashzoo import data, metrics

    protocol = data.get_protocol(protocol_id)
    kwargs = {"data_dir": data_dir} if str(data_source).startswith("tfds:") else {}
    dataset = data.load(data_source, **kwargs)
    split_sha256 = protocol.split(dataset.labels, dataset.class_names).sha256
    query, _, database = protocol.apply(dataset)
    result = metrics.evaluate(
        model.encode(query.images, batch_size=batch_size), query.labels,
        model.encode(database.images, batch_size=batch_size), database.labels,
        k=protocol.k, protocol=protocol.id, tie_rule=protocol.tie_rule, zero_relevant=protocol.zero_relevant,
        pr_curves=True,
    )
    return result, query, database, protocol, split_sha256


def main(argv):
    del argv
    import pathlib

    import numpy as np

    import hashzoo
    from hashzoo import viz
    from hashzoo.index import HammingIndex
    from hashzoo.training.run import result_records, versions
    from hashzoo.utils.io import atomic_write_json

    F = flags.FLAGS
    if bool(F.preset) == bool(F.model):
        print("error: pass exactly one of --preset (a registered name or URL) and --model (a folder or .keras "
              "file).", file=sys.stderr)
        return 2
    try:
        model = hashzoo.load(F.preset or F.model)
        card = model.card
        name = card.get("preset") or card.get("name") or pathlib.Path(F.model or F.preset).name
        recorded_protocol = (card.get("protocol") or {}).get("id")
        protocol_id = F.protocol or recorded_protocol
        data_source = F.data or (card.get("data") if protocol_id == recorded_protocol else None)
        if protocol_id is None:
            raise ValueError(f"{name} records no protocol; pass --protocol (see hashzoo.data.list_protocols()).")
        if data_source is None:
            data_source = hashzoo.data.get_protocol(protocol_id).dataset
        result, query, database, protocol, split_sha256 = evaluate(
            model, data_source, protocol_id, F.data_dir, F.batch_size
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    print(f"{name}: {model.code_bits} bits, data {data_source}")
    print(result.format_table())
    recorded = (card.get("evaluation") or {}).get("metrics", {})
    if protocol.id == recorded_protocol and recorded:
        worst = max(abs(recorded[m] - v) for m, v in result.metrics.items() if m in recorded)
        print(f"recorded in the preset's metadata: largest difference {worst:.2e} "
              f"({'matches' if worst <= 1e-6 else 'DIFFERS'})")

    out = pathlib.Path(F.out or os.path.join("eval_out", name))
    pr = viz.plot_pr_curves(
        {f"{name} {model.code_bits}": (result.pr_radius["recall"], result.pr_radius["precision"])},
        out / "pr_curve.png", title=f"{name} on {protocol.id}: PR over Hamming radii",
    )
    index = HammingIndex(model.code_bits)
    index.add(model.encode_packed(database.images, batch_size=F.batch_size))
    shown = np.sort(np.random.default_rng(0).choice(len(query), min(F.queries_shown, len(query)), replace=False))
    _, ids = index.search(model.encode_packed(query.images[shown]), min(F.neighbours, len(database)))
    grid = viz.plot_retrieval_grid(
        query.images[shown], database.images[ids], query.labels[shown], database.labels[ids], out / "retrieval.png",
        title=f"{name}: top-{ids.shape[1]} Hamming neighbours ({protocol.id})",
    )
    record = {
        "model": name,
        "source": card.get("source"),
        "weights_sha256": card.get("weights_sha256"),
        "data": str(data_source),
        "protocol": {"id": protocol.id, "split_seed": protocol.split_seed, "split_sha256": split_sha256},
        "evaluation": result_records(result),
        "command": "python " + " ".join(sys.argv),
        "versions": versions(),
    }
    atomic_write_json(out / "evaluation.json", record)
    print(f"wrote {pr}, {grid} and {out / 'evaluation.json'}")
    return 0


if __name__ == "__main__":
    app.run(main)
