"""Model cards: the README.md of a preset folder, written from its metadata (docs/zoo.md).

The card says what the model is for, the data and protocol, the metrics with
their tie rule, the seeds, the floors on the same protocol, how to load it,
how it was trained, its limits, what it does not claim, the license and the
citation. Nothing here names a method or a dataset: the data text comes from
the data layer (`hashzoo.data.protocols.data_family` and the protocol's
`description` and `note`), the paper, license and the method's own
non-claims from the method's `METHOD` dict (`hashzoo.zoo.registry.method_info`),
the measured classifier floors from `hashzoo.zoo.floors`, the rest from the
metadata (its `seeds` and `floors` records are written by `tools/make_preset.py`).
"""

import fnmatch
import json
import math
import statistics

from hashzoo.zoo import floors as floors_lib
from hashzoo.zoo import registry

HEADLINE = ("mAP@all", "P@100", "P@r<=2")

#: What an old preset, written before training recorded its selection, says about its epoch.
SELECTION_NOT_RECORDED = "last epoch (selection not recorded)"

_SPARK = "▁▂▃▄▅▆▇█"
_LISTED_EPOCHS = 20  # validation curves up to this length also list every value
_MARKS = 60  # at most this many marks in a curve; longer ones take the best of each group of epochs


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
    lines += _data_lines(metadata, protocol, protocol_id)
    lines += ["", "## Metrics", ""]
    headline = floors_lib.headline_metric(values)
    if values:
        lines += ["| metric | value |", "|---|---|"]
        first = [headline] + [m for m in HEADLINE if m in values and m != headline] if headline else \
            [m for m in HEADLINE if m in values]
        ordered = first + sorted(m for m in values if m not in first)
        lines += [f"| {m} | {values[m]:.4f} |" for m in ordered]
        lines += [
            "",
            f"Measured on the protocol's query/database split ({evaluation.get('num_queries')} queries × "
            f"{evaluation.get('num_database')} database items), {bits} bits, tie rule "
            f"`{evaluation.get('tie_rule', 'stable')}` (equal Hamming distances ranked by database index), "
            f"zero-relevant policy `{evaluation.get('zero_relevant', 'count')}`. {_map_text(headline)}; "
            "P@r<=2 counts a query with an empty radius-2 result as precision 0. "
            f"Re-measure with `python tools/evaluate.py --preset {name}`; a test checks these numbers "
            "against the weights.",
        ]
    else:
        lines.append("No metrics recorded.")
    lines += ["", "## Seeds", ""] + seed_lines(metadata, headline)
    lines += ["", "## Floors on the same protocol", ""] + floor_lines(metadata, headline, protocol_id)
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
    published = metadata.get("published") or {}
    if published.get("from"):
        note = f" ({published['note']})" if published.get("note") else ""
        lines += [f"Published from `{published['from']}`{note} with `{published['command']}`.", ""]
    if published.get("remeasured"):
        lines += [f"The metrics above were {published['remeasured'].replace('metrics ', '', 1)}.", ""]
    if config:
        lines.append(
            f"Config: method `{config.get('method')}`, {config.get('epochs')} epochs, "
            f"batch {config.get('batch_size')}, seed {config.get('seed')}; "
            f"model arguments `{json.dumps(config.get('model', {}), sort_keys=True)}`."
        )
        lines.append("")
        lines.append(
            "Arguments left at their defaults are not listed there; `config.json` in this folder holds every "
            "argument the model was built with. A default that changed after this preset was trained is in "
            "`config.json` with the value it was trained with (an argument added later is absent and loads with "
            "the value that reproduces this training), so to retrain it exactly, pass the arguments where "
            "`config.json` differs from today's defaults with `--model_override`."
        )
        lines.append("")
    lines += run_lines(metadata) + [""]
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
    lines += ["## What this model does not claim", ""] + not_claimed_lines(metadata, info, headline, protocol_id)
    lines += [""]
    lines += ["## License", "", f"Weights: {metadata.get('license') or info.get('license', 'Apache-2.0')} "
              "(as hashzoo). The training data keeps its own terms (see above).", ""]
    if info.get("bibtex") or metadata.get("paper"):
        lines += ["## Citation", "", metadata.get("paper") or info.get("paper", ""), ""]
        if info.get("bibtex"):
            lines += ["```bibtex", info["bibtex"].strip(), "```", ""]
    return "\n".join(lines)


def run_lines(metadata):
    """The card's bullet list on the run: the published epoch and how it was chosen, the validation
    curve, an early stop, a resume, the stages before the fit and how the training images met the
    input contract. A preset written before these were recorded says `SELECTION_NOT_RECORDED`."""
    checkpoint = metadata.get("checkpoint") or {}
    if not checkpoint:
        return [f"- Published weights: {SELECTION_NOT_RECORDED}."]
    epoch, completed = checkpoint.get("epoch"), checkpoint.get("epochs_completed")
    of = f" of {completed} completed" if completed is not None else ""
    selection = checkpoint.get("selection") or "last epoch"
    metric = checkpoint.get("metric") or "score"
    validation_items = (metadata.get("protocol") or {}).get("validation")
    if selection == "best on validation":
        size = f"{validation_items} " if validation_items else ""
        how = (f"the best on the validation split by {metric} ({size}validation queries searched against the "
               f"train split; {_number(checkpoint.get('score'))})")
    elif selection == "last epoch":
        how = "the last finished epoch (the protocol leaves no validation split to choose on)"
    else:
        how = selection
    lines = [f"- Published weights: epoch {epoch}{of}, {how}."]
    curve = [_finite(v) for v in checkpoint.get("validation") or []]
    if any(v is not None for v in curve):
        lines.append(f"- Validation {metric} by epoch: " + _curve_text(curve, epoch))
    stopped = metadata.get("stopped")
    if stopped:
        values = ", ".join(stopped.get("values") or []) or "a tracked value"
        lines.append(
            f"- Stopped early: {values} became non-finite at epoch {stopped.get('epoch')}, step "
            f"{stopped.get('step')} ({stopped.get('reason', 'non-finite')}); the preset holds the best finished "
            "epoch above, not the last state."
        )
    elif completed is not None:
        lines.append(f"- Stopped early: no; {completed} epoch(s) ran.")
    if "resumed" in metadata:
        lines.append(
            "- Resumed: yes, the run was interrupted and started again from its backup folder; the history and "
            "the validation curve cover every epoch." if metadata.get("resumed")
            else "- Resumed: no (one uninterrupted run)."
        )
    stages = metadata.get("stages") or []
    if stages:
        parts = [f"`{stage.get('name')}` ({_number(stage.get('seconds'), 1)} s"
                 + (", done before a resume" if stage.get("skipped") else "") + ")" for stage in stages]
        lines.append("- Stages before the main fit: " + ", ".join(parts) + ".")
    lines += _input_lines(metadata.get("input"))
    return lines


def _input_lines(record):
    if not record:
        return []
    native = ", ".join(_shape(shape) for shape in record.get("native_shapes") or []) or "?"
    contract = _shape(record.get("contract"))
    if record.get("resized") or record.get("channels_converted"):
        changes = [word for word, flag in (("resized", record.get("resized")),
                                           ("channels converted", record.get("channels_converted"))) if flag]
        by = record.get("adapted_by") or "model preprocessing"
        return [f"- Training images: {native}, adapted to the input contract {contract} "
                f"({', '.join(changes)}, by {by})."]
    return [f"- Training images: {native}, already the input contract's shape."]


def _shape(shape):
    return "×".join(str(n) for n in shape) if shape else "?"


def _finite(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _number(value, digits=4):
    value = _finite(value)
    return "n/a" if value is None else f"{value:.{digits}f}"


def _curve_text(curve, selected):
    """`sparkline first … best … last`, with every value listed for short runs; `·` marks a missing score."""
    known = [v for v in curve if v is not None]
    low, high = min(known), max(known)
    group = max(1, math.ceil(len(curve) / _MARKS))
    marks = []
    for start in range(0, len(curve), group):
        chunk = [v for v in curve[start:start + group] if v is not None]
        if not chunk:
            marks.append("·")
        elif high == low:
            marks.append(_SPARK[len(_SPARK) // 2])
        else:
            marks.append(_SPARK[round((max(chunk) - low) / (high - low) * (len(_SPARK) - 1))])
    best = max(range(len(curve)), key=lambda i: -math.inf if curve[i] is None else curve[i])
    first = next(i for i, v in enumerate(curve) if v is not None)
    last = max(i for i, v in enumerate(curve) if v is not None)
    text = f"`{''.join(marks)}`" + (f" (one mark per {group} epochs)" if group > 1 else "")
    text += f" from {curve[first]:.4f} (epoch {first + 1}) to {curve[last]:.4f} (epoch {last + 1}), " \
            f"highest {curve[best]:.4f} (epoch {best + 1})"
    if selected is not None and selected != best + 1:
        text += f"; published epoch {selected}"
    if len(curve) <= _LISTED_EPOCHS:
        text += ": " + ", ".join("n/a" if v is None else f"{v:.4f}" for v in curve)
    return text + "."


def _data_lines(metadata, protocol, protocol_id):
    """The "Data and protocol" lines: the data family, the source used, the protocol and its caveat."""
    from hashzoo.data import protocols

    known = protocols.get_protocol(protocol_id) if protocol_id in protocols.list_protocols() else None
    family = protocols.data_family(known.dataset if known else "")
    lines = []
    if family["description"]:
        terms = f" Terms: {family['license']}" if family["license"] else ""
        lines.append(f"- Data: {family['description']}{terms}")
    lines.append(f"- Data source used: `{metadata.get('data', '?')}`.")
    if protocol_id:
        lines.append(f"- Protocol `{protocol_id}`: {known.description if known else 'not registered'}.")
        if isinstance(protocol, dict) and protocol.get("split_sha256"):
            validation = f" / {protocol['validation']} validation" if protocol.get("validation") else ""
            lines.append(
                f"  Split seed {protocol.get('split_seed')}, split sha256 `{protocol['split_sha256']}` "
                f"({protocol.get('query')} query / {protocol.get('train')} train{validation} / "
                f"{protocol.get('database')} database)."
            )
    if known is not None and known.note:
        lines += ["", known.note]
    return lines


# -- seeds, floors and what is not claimed ----------------------------------------------------


def _seed_values(metadata):
    """`[(seed, value)]` of the seeds record, sorted by seed (empty when none is recorded)."""
    record = metadata.get("seeds") or {}
    return sorted((run["seed"], run["value"]) for run in record.get("runs") or []
                  if _finite(run.get("value")) is not None)


def seed_lines(metadata, headline):
    """The "Seeds" lines: the published seed and, when other seeds are recorded, each one and mean ± std."""
    config = metadata.get("config") or {}
    record = metadata.get("seeds") or {}
    seed = config.get("seed", record.get("published_seed"))
    metric = record.get("metric") or headline or "score"
    values = _seed_values(metadata)
    if len(values) < 2:
        return [f"- Published seed: {seed if seed is not None else 'not recorded'}.",
                "- One seed trained; other seeds not recorded with this preset."]
    lines = [f"- Published seed: {seed} ({metric} {_number(dict(values).get(seed))})."]
    others = [f"seed {run['seed']} {_number(run.get('value'))} (`{run.get('run')}`"
              + (f", epoch {run['epoch']}" if run.get("epoch") is not None else "") + ")"
              for run in sorted(record["runs"], key=lambda run: run["seed"]) if run["seed"] != seed]
    lines.append(f"- Other seeds of the same config (only the seed differs; each run's epoch chosen on its own "
                 f"validation split), {metric}: " + "; ".join(others) + ".")
    numbers = [value for _, value in values]
    lines.append(
        f"- Over seeds {', '.join(str(s) for s, _ in values)}: {metric} {statistics.mean(numbers):.4f} ± "
        f"{statistics.stdev(numbers):.4f} (mean ± sample std, n − 1), range {min(numbers):.4f} to "
        f"{max(numbers):.4f}; the published preset is the seed-{seed} run."
    )
    if record.get("note"):
        lines.append(f"- {record['note']}")
    return lines


def _map_text(headline):
    if headline and headline != "mAP@all":
        return (f"{headline} averages precision over the first {headline.split('@', 1)[1]} items of each ranking, "
                "normalised by the relevant items found there (docs/evaluation.md)")
    return "mAP@all ranks the whole database"


def _count(value):
    return f"{value:,}" if isinstance(value, int) else str(value)


def _difference(value, floor):
    difference = value - floor
    return ("+" if difference >= 0 else "−") + f"{abs(difference):.4f}"


def floor_lines(metadata, headline, protocol_id):
    """The "Floors on the same protocol" lines: the computed LSH / PCA-ITQ table beside this preset's value,
    then the measured classifier floors of the protocol (or why there is none)."""
    name = metadata.get("name", "<name>")
    bits = metadata.get("code_bits", "?")
    record = metadata.get("floors") or {}
    value = _finite(((metadata.get("evaluation") or {}).get("metrics") or {}).get(headline))
    lines = []
    if value is None:
        return ["No metric recorded to compare with floors."]
    metric = headline
    rows = [row for row in record.get("baselines") or [] if row.get("metric") == metric]
    measured = floors_lib.classifier_floors(protocol_id)
    applies = record.get("supervised")
    table = [f"| {row['baseline']} ({row['bits']} bits, seed {row['seed']}, computed) | {row['value']:.4f} | "
             f"{value:.4f} | {_difference(value, row['value'])} |" for row in rows]
    if applies is not False:
        table += [f"| {floor.name} (`{floor.config}`, measured, seed{'s' if len(floor.seeds) > 1 else ''} "
                  f"{', '.join(map(str, floor.seeds))}) | {floor.value_text()} | {value:.4f} | "
                  f"{_difference(value, floor.mean)} |" for floor in measured if floor.metric == metric]
    seeds = _seed_values(metadata)
    if table and len(seeds) > 1 and applies is not False:
        mean = statistics.mean(value for _, value in seeds)
        table += [f"| {floor.name}, against this config's mean over seeds {', '.join(str(s) for s, _ in seeds)} | "
                  f"{floor.value_text()} | {mean:.4f} | {_difference(mean, floor.mean)} |"
                  for floor in measured if floor.metric == metric]
    if table:
        lines += [f"This model's {metric} beside simple codes on protocol `{protocol_id}` at {bits} bits (the same "
                  "query/database split and evaluation as the metrics above):", "",
                  f"| floor | {metric} | this model | difference |", "|---|---|---|---|"] + table + [""]
    pixel_rows = [row for row in rows if "features" not in row]
    if pixel_rows:
        fitted = record.get("fitted_on") or {}
        lines.append(
            f"- LSH and PCA-ITQ: `hashzoo.baselines` at {bits} bits, fitted on the protocol's train part "
            f"({_count(fitted.get('items'))} items, the validation part left out as in training), scored by the same "
            f"evaluation (tie rule `{record.get('tie_rule')}`, zero-relevant policy `{record.get('zero_relevant')}`). "
            f"Recorded in `metadata.json[\"floors\"]`; computed again by "
            f"`python tools/make_preset.py --floors {name}`."
        )
    else:
        lines.append(f"- LSH and PCA-ITQ: not computed for this folder yet (`tools/make_preset.py` computes them "
                     f"when it publishes a preset, or `--floors {name}` afterwards).")
    lines += _feature_floor_lines(record, rows, bits)
    if applies is False:
        lines.append("- Classifier floor: none applies. This method is unsupervised (it never sees labels); the "
                     "one-hot and multi-label classifier floors measure supervised methods (docs/onehot.md).")
    elif measured:
        for floor in measured:
            std = f"; std is the {floor.std_kind}" if floor.std is not None else ""
            lines.append(
                f"- The {floor.name} is measured, not computed: `{floor.command}` ({floor.metric} "
                f"{floor.value_text()} {'over seeds' if len(floor.seeds) > 1 else 'at seed'} "
                f"{', '.join(map(str, floor.seeds))}{std}; reported in {floor.docs}, recorded in "
                f"`hashzoo/zoo/floors.py`). {floor.note[0].upper() + floor.note[1:]}."
            )
    else:
        why = floors_lib.NOT_MEASURED.get(protocol_id)
        lines.append(f"- Classifier floor: no measured classifier floor exists for protocol `{protocol_id}`"
                     + (f": {why}." if why else "."))
    if applies is None and measured:
        lines.append("- Classifier floors measure supervised methods only; whether this method is one is recorded "
                     "when the computed floors are.")
    return lines


def _feature_floor_lines(record, rows, bits):
    """One bullet per floor fitted on the features a method builds its similarity graph from (the
    `features` rows of the floors record, `hashzoo.zoo.floors.feature_floors`), computed or not."""
    lines = []
    for row in [row for row in rows if "features" in row] + list(record.get("not_computed") or []):
        features = row["features"]
        weights = f", weights file `{features['weights']}`" if features.get("weights") else ""
        dim = f", {features['dim']} dimensions" if features.get("dim") is not None else ""
        if features.get("not_computed"):
            lines.append(f"- {row['baseline']}: not computed, since {features['not_computed']}.")
            continue
        note = f" {features['note'][0].upper()}{features['note'][1:]}." if features.get("note") else ""
        lines.append(
            f"- {row['baseline']}: {floors_lib.FEATURE_BASELINE[0]} at {bits} bits (seed {row['seed']}) fitted on "
            f"the train part's rows of the features this method builds its similarity graph from "
            f"(`feature_extractor=\"{features['extractor']}\"`{weights}{dim}, extractor seed {features.get('seed')}, "
            f"`{features.get('computed_by', 'hashzoo.similarity.extract_features')}`), scored by the same "
            f"evaluation, so that what the features alone give is not credited to the method.{note}"
        )
    return lines


def _not_claimed_items(info, name, protocol_id):
    """The METHOD dict's `does_not_claim` items that apply to preset `name` on `protocol_id`.

    An item is a string, or `{"text": ..., "protocols": [ids], "presets": [fnmatch patterns]}` that
    applies only where its filters match.
    """
    items = []
    for item in info.get("does_not_claim") or []:
        if isinstance(item, str):
            items.append(item)
            continue
        if item.get("protocols") and protocol_id not in item["protocols"]:
            continue
        if item.get("presets") and not any(fnmatch.fnmatchcase(name, p) for p in item["presets"]):
            continue
        items.append(item["text"])
    return items


def not_claimed_lines(metadata, info, headline, protocol_id):
    """"What this model does not claim": the floors it does not beat and a missing seed spread (both from
    the metadata), then the method's own list (`METHOD["does_not_claim"]`)."""
    lines = []
    value = _finite(((metadata.get("evaluation") or {}).get("metrics") or {}).get(headline))
    record = metadata.get("floors") or {}
    if value is not None:
        beaten_by = [f"{row['baseline']} ({row['value']:.4f})" for row in record.get("baselines") or []
                     if row.get("metric") == headline and row["value"] >= value]
        if record.get("supervised") is not False:
            beaten_by += [f"the {floor.name} ({floor.value_text()})" for floor in floors_lib.classifier_floors(
                protocol_id) if floor.metric == headline and floor.mean >= value]
        if beaten_by:
            lines.append(f"- To beat every floor on this protocol: its {headline} ({value:.4f}) is not above "
                         + ", ".join(beaten_by) + ".")
    if len(_seed_values(metadata)) < 2:
        lines.append("- A seed-to-seed spread: one seed was trained, so how much of the number is the seed is "
                     "not measured for this preset.")
    lines += [f"- {item}" for item in _not_claimed_items(info, metadata.get("name", ""), protocol_id)]
    if not lines:
        lines.append("- Nothing recorded.")
    return lines
