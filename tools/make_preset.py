"""Publishes preset folders: registry entries, archives and the preset tables.

    python tools/make_preset.py --folder pretrained/coophash-digits-32 --entry
    python tools/make_preset.py --folder pretrained/coophash-digits-32 --archive dist/coophash-digits-32.tar.gz
    python tools/make_preset.py --publish runs/coophash-cifar10-64 --folder pretrained/coophash-cifar10-64
    python tools/make_preset.py --docs           # rewrites docs/presets.md and the README's table
    python tools/make_preset.py --docs --check   # exit 1 when they are out of date

`--entry` prints the dict to paste into `hashzoo/methods/<method>/<method>_presets.py`
(`PRESETS[name] = ...`); `--archive` writes a reproducible `.tar.gz` of the
folder and prints its sha256, for an entry with a `url` (or
`hashzoo.load("<url>#sha256=<hex>")`). `--publish SRC` copies a preset folder
written by `tools/train.py` to `--folder` (atomically, after checking the
weights' sha256), keeps only the model's variables in `model.weights.h5`
(older folders also held optimizer state), fills metadata fields that older
versions did not write (preprocessing, license, paper) and regenerates the
model card. `--weights_dtype float16` stores the weights rounded to float16
(half the size, for presets that would exceed the 10 MB cap) and re-measures
the metadata's metrics on the rounded weights, keeping the training-time
figures under `published.source_metrics`.
"""

import os
import pprint
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402


def define_flags():
    # Defined only when run as a script, so tests can import the functions below.
    flags.DEFINE_string("folder", None, "a preset folder.")
    flags.DEFINE_bool("entry", False, "print the registry entry of --folder.")
    flags.DEFINE_string("archive", None, "write a .tar.gz of --folder here and print its sha256.")
    flags.DEFINE_string("publish", None, "copy this preset folder to --folder, completing its metadata and card.")
    flags.DEFINE_bool("docs", False, "regenerate docs/presets.md and the README's preset table.")
    flags.DEFINE_bool("check", False, "with --docs: only check that they are up to date.")
    flags.DEFINE_enum("weights_dtype", "float32", ["float32", "float16"],
                      "with --publish: float16 halves the weights file; the metrics are then re-measured.")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADLINE = ("mAP@all", "P@100", "P@r<=2")
MIN_KERAS = "3.13"


def registry_entry(folder):
    """The `<method>_presets.py` entry (a plain dict) of preset folder `folder`."""
    import json
    import pathlib
    import shlex

    from hashzoo import presets

    folder = presets.check_preset_folder(pathlib.Path(folder))
    metadata = json.loads((folder / presets.METADATA_FILE).read_text())
    config = metadata.get("config", {})
    words = shlex.split(metadata.get("command", ""))
    config_file = words[words.index("--config") + 1] if "--config" in words[:-1] else ""
    if config_file and not config_file.endswith(".py"):
        config_file = f"zoo_configs/{config_file.split(':')[0]}.py"
    width = (config.get("model") or {}).get("width")
    evaluation = metadata.get("evaluation", {})
    records = [
        {
            "metric": name, "value": evaluation["metrics"][name], "protocol": metadata["protocol"]["id"],
            "bits": metadata["code_bits"], "tie_rule": evaluation.get("tie_rule", "stable"),
            "zero_relevant": evaluation.get("zero_relevant", "count"), "seed": config.get("seed", 0),
            "command": f"python tools/evaluate.py --preset {folder.name}",
        }
        for name in HEADLINE if name in evaluation.get("metrics", {})
    ]
    return {
        "description": config.get("description", ""),
        "backbone": f"{metadata.get('method')}-conv" + (f"-w{width}" if width is not None else ""),
        "protocol": metadata["protocol"]["id"],
        "preprocessing": json.loads((folder / presets.PREPROCESSING_FILE).read_text()),
        "builtin": folder.name,
        "sha256": presets.sha256_file(folder / presets.WEIGHTS_FILE),
        "size_bytes": (folder / presets.WEIGHTS_FILE).stat().st_size,
        "config": config_file,
        "command": metadata.get("command", ""),
        "hashzoo_version": metadata.get("versions", {}).get("hashzoo", ""),
        "min_keras_version": MIN_KERAS,
        "metrics": records,
    }


def publish(source, target, command, weights_dtype="float32"):
    """Copies preset folder `source` to `target` with complete metadata and a fresh card.

    With `weights_dtype="float16"` the weights are rounded to float16 and
    stored that way, and the metrics are measured again on the protocol's
    split with the rounded model (so the published numbers are those of the
    published weights).
    """
    import json
    import pathlib
    import shutil

    from hashzoo import presets, registry
    from hashzoo.utils.io import atomic_directory, atomic_write_json

    if weights_dtype not in ("float32", "float16"):
        raise ValueError(f"weights_dtype must be 'float32' or 'float16', got {weights_dtype!r}.")
    source = presets.check_preset_folder(pathlib.Path(source))
    metadata = json.loads((source / presets.METADATA_FILE).read_text())
    actual = presets.sha256_file(source / presets.WEIGHTS_FILE)
    if actual != metadata.get("weights_sha256"):
        raise ValueError(f"{source}: weights sha256 {actual} does not match its metadata "
                         f"({metadata.get('weights_sha256')}); not published.")
    info = registry.method_info(metadata.get("method", ""))
    preprocessing = json.loads((source / presets.PREPROCESSING_FILE).read_text())
    metadata["name"] = pathlib.Path(target).name
    defaults = {"preprocessing": preprocessing, "license": info.get("license", "Apache-2.0"),
                "paper": info.get("paper", ""), "paper_url": info.get("paper_url", "")}
    for key, value in defaults.items():
        if not metadata.get(key):  # absent, or written empty before the method registered its paper
            metadata[key] = value
    metadata["published"] = {"from": str(source), "source_weights_sha256": actual, "command": command}
    # Folders written before optimizer state was left out of model.weights.h5 carry both
    # optimizers' slots (3x the size): load into an uncompiled model and save its variables only.
    model = presets.load_preset_dir(source)
    if weights_dtype == "float16":
        presets.round_to_float16(model)
        remeasure(model, metadata)
    with atomic_directory(target) as temp:
        for name in (presets.CONFIG_FILE, presets.PREPROCESSING_FILE):
            shutil.copy2(source / name, temp / name)
        if weights_dtype == "float16":
            presets.save_float16_weights(model, temp / presets.WEIGHTS_FILE)
            metadata["published"]["note"] = ("weights stored as float16 (half size); metrics re-measured on them, "
                                             "training-time metrics under published.source_metrics")
        else:
            model.save_weights(str(temp / presets.WEIGHTS_FILE))
        weights_sha256 = presets.sha256_file(temp / presets.WEIGHTS_FILE)
        if weights_dtype == "float32" and weights_sha256 != actual:
            metadata["published"]["note"] = "optimizer state removed from model.weights.h5; model weights unchanged"
        metadata["weights_sha256"] = weights_sha256
        metadata["weights_bytes"] = (temp / presets.WEIGHTS_FILE).stat().st_size
        atomic_write_json(temp / presets.METADATA_FILE, metadata)
        (temp / presets.CARD_FILE).write_text(presets.model_card(metadata))
    return metadata


def remeasure(model, metadata):
    """Evaluates `model` on the protocol of `metadata` again; updates its evaluation in place."""
    from hashzoo import data
    from hashzoo.training.run import evaluate_model, result_records

    protocol = data.get_protocol(metadata["protocol"]["id"])
    dataset = data.load(metadata["data"])
    split = protocol.split(dataset.labels, dataset.class_names)
    if split.sha256 != metadata["protocol"]["split_sha256"]:
        raise ValueError(f"the {protocol.id} split of {metadata['data']} has sha256 {split.sha256}, the run "
                         f"recorded {metadata['protocol']['split_sha256']}; not re-measured.")
    query, _, database = protocol.apply(dataset)
    metadata["published"]["source_metrics"] = metadata["evaluation"]["metrics"]
    metadata["evaluation"] = result_records(evaluate_model(model, query, database, protocol))


def docs_text():
    """`{path: text}` of the generated docs: docs/presets.md and README.md."""
    import re

    from hashzoo import registry

    table = registry.markdown_table()
    page = (
        "# Presets\n\n"
        "Generated by `python tools/make_preset.py --docs` from the preset registry "
        "(`hashzoo/methods/*/*_presets.py`); do not edit by hand.\n\n"
        "Load one with `hashzoo.load(\"<preset>\")`; each folder's `README.md` is its model card.\n\n"
        + table + "\n"
    )
    readme_path = os.path.join(REPO, "README.md")
    with open(readme_path) as handle:
        readme = handle.read()
    block = f"{registry.TABLE_START}\n{table}\n{registry.TABLE_END}"
    pattern = re.escape(registry.TABLE_START) + r".*?" + re.escape(registry.TABLE_END)
    if re.search(pattern, readme, flags=re.S) is None:
        raise ValueError(f"README.md has no {registry.TABLE_START!r} ... {registry.TABLE_END!r} block.")
    readme = re.sub(pattern, lambda _: block, readme, flags=re.S)
    return {os.path.join(REPO, "docs", "presets.md"): page, readme_path: readme}


def main(argv):
    del argv
    from hashzoo import presets
    from hashzoo.utils.io import atomic_write_bytes

    F = flags.FLAGS
    if not (F.entry or F.archive or F.docs or F.publish):
        print("error: pass --publish, --entry, --archive or --docs (see --help).", file=sys.stderr)
        return 2
    if (F.entry or F.archive or F.publish) and not F.folder:
        print("error: --publish, --entry and --archive need --folder.", file=sys.stderr)
        return 2
    try:
        if F.publish:
            publish(F.publish, F.folder, "python " + " ".join(sys.argv), F.weights_dtype)
            print(f"published {F.publish} as {F.folder}")
        if F.entry:
            print(f"{os.path.basename(os.path.normpath(F.folder))!r}: "
                  + pprint.pformat(registry_entry(F.folder), width=110, sort_dicts=False) + ",")
        if F.archive:
            sha = presets.make_archive(F.folder, F.archive)
            print(f"wrote {F.archive}\nsha256 {sha}\nload with hashzoo.load('<url of {os.path.basename(F.archive)}>"
                  f"#sha256={sha}')")
        if F.docs:
            stale = []
            for path, text in docs_text().items():
                current = open(path).read() if os.path.exists(path) else None
                if current != text:
                    stale.append(path)
                    if not F.check:
                        atomic_write_bytes(path, text.encode())
            if F.check and stale:
                print("out of date: " + ", ".join(stale) + " (run python tools/make_preset.py --docs)",
                      file=sys.stderr)
                return 1
            print(("up to date" if not stale else "rewrote " + ", ".join(stale)))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
