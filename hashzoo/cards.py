"""Model cards: the README.md of a preset folder, written from its metadata (zoo spec §3).

The card says what the model is for, the data and protocol, the metrics with
their tie rule, how to load it, how it was trained, its limits, the license
and the citation.
"""

import json

from hashzoo import registry

DATA_TEXT = {
    "digits": (
        "scikit-learn's bundled digits (`sklearn.datasets.load_digits`): 1,797 real 8×8 grey images of "
        "handwritten digits, 10 classes, a copy of the UCI ML Optical Recognition of Handwritten Digits test set. "
        "Distributed with scikit-learn (BSD-3-Clause); original data CC BY 4.0 (UCI)."
    ),
    "cifar10": (
        "CIFAR-10 (Krizhevsky, *Learning Multiple Layers of Features from Tiny Images*, 2009): 32×32 colour "
        "images, 10 classes."
    ),
}

PROTOCOL_NOTES = {
    "cifar10-subset": (
        "Trained and measured on the real 6,102-image CIFAR-10 subset (the official python pickles, a "
        "subset of the images) with the `cifar10-subset` protocol. These numbers are **not** comparable with "
        "papers' CIFAR-10 tables: the standard `cifar10` protocol (60,000 images) needs the full download "
        "(`tools/evaluate.py --preset <name> --data <cifar-10-batches-py> --protocol cifar10`)."
    ),
}

HEADLINE = ("mAP@all", "P@100", "P@r<=2")


def model_card(metadata):
    """The README.md of a preset folder, from its metadata."""
    name = metadata.get("name", "preset")
    method = metadata.get("method", "")
    bits = metadata.get("code_bits", "?")
    config = metadata.get("config", {}) or {}
    protocol = metadata.get("protocol", {}) or {}
    protocol_id = protocol.get("id") if isinstance(protocol, dict) else protocol
    evaluation = metadata.get("evaluation", {}) or {}
    values = evaluation.get("metrics", {})
    info = registry.method_info(method) if method else {}
    data_family = name.split("-")[1] if name.count("-") >= 2 else ""
    pre = metadata.get("preprocessing", {})

    lines = [f"# {name}", ""]
    lines.append(
        f"A {metadata.get('class_name', 'hashing')} model ({info.get('title', method)}) that turns an image into "
        f"a {bits}-bit binary code; similar images get codes a few bits apart. "
        + (config.get("description") or "")
    )
    lines += ["", "## Intended use", "",
              "Image retrieval by Hamming distance on images like its training data: `model.encode(images)` gives "
              "±1 int8 codes and `model.encode_packed(images)` packed uint8 codes for "
              "`hashzoo.index.HammingIndex` or `faiss.IndexBinaryFlat`. For other images, fine-tune it with "
              "`tools/finetune.py` first.", ""]
    lines += ["## Data and protocol", ""]
    if data_family in DATA_TEXT:
        lines.append(f"- Data: {DATA_TEXT[data_family]}")
    lines.append(f"- Data source used: `{metadata.get('data', '?')}`.")
    if protocol_id:
        try:
            from hashzoo import data as data_lib

            description = data_lib.get_protocol(protocol_id).description
        except ValueError:
            description = ""
        lines.append(f"- Protocol `{protocol_id}`: {description}.")
        if isinstance(protocol, dict) and protocol.get("split_sha256"):
            lines.append(
                f"  Split seed {protocol.get('split_seed')}, split sha256 `{protocol['split_sha256']}` "
                f"({protocol.get('query')} query / {protocol.get('train')} train / "
                f"{protocol.get('database')} database)."
            )
    if protocol_id in PROTOCOL_NOTES:
        lines += ["", PROTOCOL_NOTES[protocol_id]]
    lines += ["", "## Metrics", ""]
    if values:
        lines += ["| metric | value |", "|---|---|"]
        ordered = [m for m in HEADLINE if m in values] + [m for m in values if m not in HEADLINE]
        lines += [f"| {m} | {values[m]:.4f} |" for m in ordered]
        lines += [
            "",
            f"Measured on the protocol's query/database split ({evaluation.get('num_queries')} queries × "
            f"{evaluation.get('num_database')} database items), {bits} bits, tie rule "
            f"`{evaluation.get('tie_rule', 'stable')}` (equal Hamming distances ranked by database index), "
            f"zero-relevant policy `{evaluation.get('zero_relevant', 'count')}`. mAP@all ranks the whole "
            "database; P@r<=2 counts a query with an empty radius-2 result as precision 0. "
            f"Re-measure with `python tools/evaluate.py --preset {name}`; a test checks these numbers "
            "against the weights.",
        ]
    else:
        lines.append("No metrics recorded.")
    lines += ["", "## How to load", "", "```python", "import hashzoo", "",
              f'model = hashzoo.load("{name}")   # or the path of this folder',
              "codes = model.encode(images)        # images: [N, H, W, C] pixels in [0, 255]", "```", ""]
    if pre:
        lines.append(
            f"Input contract (inside the model): resized to {pre.get('image_size')} ({pre.get('resize')}), "
            f"{pre.get('channels')} channel(s), normalised as (x - {pre.get('mean')}) / {pre.get('std')}."
        )
        lines.append("")
    lines += ["## Training", ""]
    if metadata.get("command"):
        lines += ["Produced by:", "", "```bash", metadata["command"], "```", ""]
    if metadata.get("published"):
        published = metadata["published"]
        note = f" ({published['note']})" if published.get("note") else ""
        lines += [f"Published from `{published['from']}`{note} with `{published['command']}`.", ""]
    if config:
        lines.append(
            f"Config: method `{config.get('method')}`, {config.get('epochs')} epochs, "
            f"batch {config.get('batch_size')}, seed {config.get('seed')}; "
            f"model arguments `{json.dumps(config.get('model', {}), sort_keys=True)}`."
        )
    if metadata.get("parent"):
        parent = metadata["parent"]
        lines.append(f"Fine-tuned from `{parent.get('name')}` (weights sha256 `{parent.get('weights_sha256')}`).")
    versions = metadata.get("versions", {})
    if versions:
        lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + ".")
    lines.append(
        f"Parameters: {metadata.get('parameters')}; weights sha256 `{metadata.get('weights_sha256')}` "
        f"({metadata.get('weights_bytes')} bytes)."
    )
    lines += ["", "## Limits", "",
              "- Trained on one small dataset; retrieval quality on other images is unknown until measured.",
              "- Numbers hold for the stated protocol only; other protocols and papers' tables are not comparable.",
              "- Codes are thresholded at z >= 0; different CPU/GPU kernels can flip bits whose z is within "
              "rounding error of 0.", ""]
    lines += ["## License", "", f"Weights: {metadata.get('license') or info.get('license', 'Apache-2.0')} "
              "(as hashzoo). The training data keeps its own terms (see above).", ""]
    if info.get("bibtex") or metadata.get("paper"):
        lines += ["## Citation", "", metadata.get("paper") or info.get("paper", ""), ""]
        if info.get("bibtex"):
            lines += ["```bibtex", info["bibtex"].strip(), "```", ""]
    return "\n".join(lines)
