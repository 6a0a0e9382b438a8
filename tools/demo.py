"""`make demo`: hashing on the bundled digits, end to end, offline.

Fits LSH and PCA-ITQ at 16, 32 and 64 bits, trains CoopHash (supervised) and
BGAN (unsupervised) at 32 bits,
loads the shipped digits presets of all four methods by name
(`hashzoo.load("coophash-digits-32")`, `spah-digits-32`, and SADH's
multi-label `sadh-digits_mosaic-32` on digit mosaics) and searches
each one's database with a `HammingIndex` (`preset_<name>.png`),
evaluates every row on the `digits` protocol (30 queries per class, database
the rest), prints the table, and writes `retrieval.png` (queries with their
top-10 Hamming neighbours, wrong ones marked), `pr_curve.png` (precision and
recall over Hamming radii at 32 bits, every method on `digits`) and
`pr_curve_digits-mosaic.png` (SADH beside PCA-ITQ on the mosaics) into `--out`.

    python tools/demo.py --out demo_out
    python tools/demo.py --out /tmp/d --coophash_config coophash_digits:smoke --bgan_config bgan_digits:smoke
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from hashzoo.utils.cli import parse_flags  # noqa: E402  (a bad flag: one `error:` line, exit 2)

flags.DEFINE_string("out", "demo_out", "folder for the pictures and the trained model.")
flags.DEFINE_string("coophash_config", "coophash_digits", "zoo config of the CoopHash row ('' skips it).")
flags.DEFINE_string("bgan_config", "bgan_digits", "zoo config of the BGAN row ('' skips it).")
flags.DEFINE_multi_integer("bits", [16, 32, 64], "code lengths of the baseline rows.")
flags.DEFINE_list("presets", ["coophash-digits-32", "coophash-digits-64", "bgan-digits-32", "bgan-digits-64",
                               "spah-digits-32", "sadh-digits_mosaic-32"],
                  "shipped presets to load by name ('' skips).")

PROTOCOL = "digits"
PICTURE_BITS = 32
NEIGHBOURS = 10
PICTURE_QUERIES = 8


def table_row(method, bits, result, seconds):
    m = result.metrics
    average_precision = next(value for name, value in m.items() if name.startswith("mAP@"))
    return (
        f"{method:<10} {bits:>4}  {average_precision:>8.4f}  {m['P@100']:>6.4f}  "
        f"{m['P@r<=2']:>7.4f}  {m['empty@r<=2']:>8.3f}  {seconds:>8.1f}"
    )


def itq_floor_curve(protocol_id, train_images, query, database):
    """PCA-ITQ at PICTURE_BITS fitted on a preset protocol's train split: the floor beside it in the PR plot."""
    from hashzoo import baselines, data
    from hashzoo.training.evaluation import evaluate_split

    floor = baselines.PCAITQ(PICTURE_BITS, seed=0).fit(train_images)
    result = evaluate_split(floor, query, database, data.get_protocol(protocol_id), pr_curves=True)
    return result.pr_radius["recall"], result.pr_radius["precision"]


def show_presets(names, digits, out_dir, curves):
    """Loads shipped presets by name, as an app would, and searches each one's own digits protocol.

    For every preset: `hashzoo.load(name)` (offline, from pretrained/), split
    the digits with the protocol it was measured on (`digits`, or
    `digits-mosaic` for the multi-label SADH preset), pack the database codes
    into a `HammingIndex`, search the queries' top-10, and evaluate. Writes
    `preset_<name>.png` (the retrieval grid; a multi-label query's neighbours
    are captioned with the labels they share with it) and returns printable
    rows. The PR curves of PICTURE_BITS-bit presets go into `curves[protocol]`
    (with PCA-ITQ beside them on protocols the demo does not train on).
    """
    import numpy as np

    import hashzoo
    from hashzoo import data, viz
    from hashzoo.index import HammingIndex
    from hashzoo.training.evaluation import evaluate_split

    rows, splits = [], {}
    for name in names:
        started = time.time()
        model = hashzoo.load(name)
        protocol = data.get_protocol(model.card["protocol"]["id"])
        if protocol.id not in splits:
            splits[protocol.id] = protocol.apply(digits)
        query, train_part, database = splits[protocol.id]
        index = HammingIndex(model.code_bits)
        index.add(model.encode_packed(database.images))
        _, ids = index.search(model.encode_packed(query.images), NEIGHBOURS)
        if database.labels.ndim == 2:  # multi-label: a neighbour is a hit when it shares a label
            hits = float(np.mean(np.einsum("qkc,qc->qk", database.labels[ids], query.labels) > 0))
        else:
            hits = float(np.mean(database.labels[ids] == query.labels[:, None]))
        result = evaluate_split(model, query, database, protocol, pr_curves=True)
        if model.code_bits == PICTURE_BITS:
            protocol_curves = curves.setdefault(protocol.id, {})
            if not protocol_curves:
                protocol_curves[f"PCA-ITQ {PICTURE_BITS}"] = itq_floor_curve(protocol.id, train_part.images, query, database)
            protocol_curves[name] = (result.pr_radius["recall"], result.pr_radius["precision"])
        metric = next(m for m in result.metrics if m.startswith("mAP@"))
        recorded = model.card["evaluation"]["metrics"][metric]
        rows.append(f"{table_row(name, model.code_bits, result, time.time() - started)}  "
                    f"P@{NEIGHBOURS} {hits:.4f}  (card: {metric} {recorded:.4f}, protocol {protocol.id})")
        shown = np.sort(np.random.default_rng(0).choice(len(query), PICTURE_QUERIES, replace=False))
        viz.plot_retrieval_grid(
            query.images[shown], database.images[ids[shown]], query.labels[shown], database.labels[ids[shown]],
            os.path.join(out_dir, f"preset_{name}.png"),
            title=f'hashzoo.load("{name}"): top-{NEIGHBOURS} Hamming neighbours ({protocol.id})',
        )
    return rows


def main(argv):
    del argv
    import numpy as np

    from hashzoo import baselines, data, training, viz
    from hashzoo.index import HammingIndex
    from hashzoo.training.evaluation import evaluate_split

    F = flags.FLAGS
    digits = data.load_digits()
    protocol = data.get_protocol(PROTOCOL)
    query, train, database = protocol.apply(digits)
    print(f"digits: {len(query)} queries, {len(database)} database items, {len(train)} train (protocol {PROTOCOL})")

    rows, curves, encoders = [], {PROTOCOL: {}}, {}

    def evaluate(name, bits, encoder, seconds):
        result = evaluate_split(encoder, query, database, protocol, pr_curves=True)
        rows.append(table_row(name, bits, result, seconds))
        if bits == PICTURE_BITS:
            curves[PROTOCOL][f"{name} {bits}"] = (result.pr_radius["recall"], result.pr_radius["precision"])
            encoders[name] = (encoder.encode, result.metrics["mAP@all"])
        print(f"  {name} {bits} bits: mAP@all {result.metrics['mAP@all']:.4f}")

    for bits in F.bits:
        for name, cls in (("LSH", baselines.LSH), ("PCA-ITQ", baselines.PCAITQ)):
            model = cls(bits, seed=0).fit(train.images)
            evaluate(name, bits, model, model.fit_seconds)

    for name, spec, kind in (("CoopHash", F.coophash_config, "supervised"), ("BGAN", F.bgan_config, "unsupervised")):
        if not spec:
            continue
        config = training.load_config(spec).replace(bits=PICTURE_BITS)
        print(f"training {name} ({spec}, {config.epochs} epochs, {kind}) ...")
        started = time.time()
        model, _ = training.train(
            config, os.path.join(F.out, f"{name.lower()}-digits-{PICTURE_BITS}"), overwrite=True, verbose=1,
            command="python tools/demo.py",
        )
        evaluate(name, PICTURE_BITS, model, time.time() - started)

    names = [name for name in F.presets if name]
    if names:
        print("loading shipped presets by name ...")
        preset_rows = show_presets(names, digits, F.out, curves)
        print("\nshipped presets (hashzoo.load(name) + HammingIndex, no training):")
        print(f"{'preset':<18} {'bits':>4}  {'mAP@all':>8}  {'P@100':>6}  {'P@r<=2':>7}  {'empty@2':>8}  "
              f"{'load (s)':>8}")
        print("\n".join(preset_rows))

    header = f"{'method':<10} {'bits':>4}  {'mAP@all':>8}  {'P@100':>6}  {'P@r<=2':>7}  {'empty@2':>8}  {'fit (s)':>8}"
    print("\n" + header + "\n" + "-" * len(header) + "\n" + "\n".join(rows))
    print("P@r<=2 counts an empty radius-2 result as precision 0; empty@2 is the share of such queries.")

    if encoders:
        best = max(encoders, key=lambda name: encoders[name][1])
        encode = encoders[best][0]
        index = HammingIndex(PICTURE_BITS)
        index.add(encode(database.images))
        rng = np.random.default_rng(0)
        shown = np.sort(rng.choice(len(query), PICTURE_QUERIES, replace=False))
        _, ids = index.search(encode(query.images[shown]), NEIGHBOURS)
        grid = viz.plot_retrieval_grid(
            query.images[shown], database.images[ids], query.labels[shown], database.labels[ids],
            os.path.join(F.out, "retrieval.png"),
            title=f"{best} {PICTURE_BITS} bits: top-{NEIGHBOURS} Hamming neighbours",
        )
        print(f"wrote {grid}")
    for protocol_id, protocol_curves in curves.items():
        if not protocol_curves:
            continue
        file_name = "pr_curve.png" if protocol_id == PROTOCOL else f"pr_curve_{protocol_id}.png"
        pr = viz.plot_pr_curves(protocol_curves, os.path.join(F.out, file_name),
                                title=f"{protocol_id}, {PICTURE_BITS} bits: PR over Hamming radii")
        print(f"wrote {pr}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
