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

Every flag is checked before anything loads (`flag_errors`): a bad one (an
unknown preset, a missing model, a file where a folder is expected, a count
below 1) prints an `error:` line and exits with status 2.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from hashzoo.utils import cli  # noqa: E402

flags.DEFINE_string("preset", None, "registered preset name or archive URL.")
flags.DEFINE_string("model", None, "preset folder or .keras file.")
flags.DEFINE_string("data", None, "data source (default: the one the preset was trained on).")
flags.DEFINE_string("data_dir", None, "TFDS data folder, for --data tfds:<name>.")
flags.DEFINE_string("protocol", None, "protocol id (default: the preset's).")
flags.DEFINE_string("out", None, "folder for the pictures and evaluation.json (default eval_out/<name>).")
flags.DEFINE_integer("queries_shown", 8, "queries in the retrieval picture.")
flags.DEFINE_integer("neighbours", 10, "neighbours per query in the retrieval picture.")
flags.DEFINE_integer("batch_size", 256, "images per forward pass.")


def evaluate(model, data_source, protocol_id, data_dir=None, batch_size=256, expected_split_sha256=None):
    """`(result, query, database, protocol, split_record)`: metrics with PR curves on the protocol's split."""
    from hashzoo import data
    from hashzoo.training.evaluation import evaluate_on_protocol

    protocol = data.get_protocol(protocol_id)
    dataset = data.load(data_source, **_load_options(model, data_source, data_dir))
    result, split = evaluate_on_protocol(model, protocol, dataset=dataset, batch_size=batch_size,
                                         expected_split_sha256=expected_split_sha256, pr_curves=True)
    query, _, database = protocol.apply(dataset)
    return result, query, database, protocol, split


def _load_options(model, data_source, data_dir):
    """Options of `data.load`: TFDS needs its folder; an image folder is read with the model's channel
    count, as fine-tuning reads it, so a grey preset sees the same pixels it was measured on."""
    from hashzoo.data import folders

    if str(data_source).startswith("tfds:"):
        return {"data_dir": data_dir}
    if folders.folder_kind(data_source) == folders.IMAGES:
        return {"channels": model.preprocessing.channels}
    return {}


def flag_errors(F, argv):
    """The problems with the flags, as messages (empty when they are all valid)."""
    errors = [cli.check_no_arguments(argv)]
    if (F.preset is None) == (F.model is None):
        errors.append("pass exactly one of --preset (a registered name or URL) and --model (a folder or .keras "
                      "file).")
    errors += [
        cli.check_preset(F.preset, "--preset"),
        cli.check_model_path(F.model, "--model"),
        cli.check_data_source(F.data, "--data", data_dir=F.data_dir),
        cli.check_existing_folder(F.data_dir, "--data_dir", "the folder a TFDS dataset was prepared in"),
        cli.check_protocol(F.protocol, "--protocol"),
        cli.check_output_folder(F.out, "--out"),
        cli.check_positive_int(F.queries_shown, "--queries_shown"),
        cli.check_positive_int(F.neighbours, "--neighbours"),
        cli.check_positive_int(F.batch_size, "--batch_size"),
    ]
    if F.data_dir is not None and F.data is not None and not F.data.startswith("tfds:"):
        errors.append(f"--data_dir is for --data tfds:<name> only, not --data {F.data!r}.")
    return [message for message in errors if message]


def main(argv):
    F = flags.FLAGS
    errors = flag_errors(F, argv)
    if errors:
        return cli.report_errors(errors)
    import pathlib

    import numpy as np

    import hashzoo
    from hashzoo import viz
    from hashzoo.index import HammingIndex
    from hashzoo.training import result_records, versions
    from hashzoo.utils.io import atomic_write_json

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
        # On the data and protocol it was measured on, the split must be the recorded one.
        expected = (card.get("protocol") or {}).get("split_sha256") if (
            F.data is None and protocol_id == recorded_protocol) else None
        result, query, database, protocol, split = evaluate(
            model, data_source, protocol_id, F.data_dir, F.batch_size, expected_split_sha256=expected
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    print(f"{name}: {model.code_bits} bits, data {data_source}")
    print(result.format_table())
    recorded = (card.get("evaluation") or {}).get("metrics", {})
    recorded_split = (card.get("protocol") or {}).get("split_sha256")
    if protocol.id == recorded_protocol and recorded and recorded_split in (None, split["split_sha256"]):
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
        "protocol": split,
        "evaluation": result_records(result),
        "command": "python " + " ".join(sys.argv),
        "versions": versions(),
    }
    atomic_write_json(out / "evaluation.json", record)
    print(f"wrote {pr}, {grid} and {out / 'evaluation.json'}")
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
