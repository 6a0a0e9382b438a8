"""Indexes a folder of images with a hashing model and answers queries against it.

    python tools/index.py build --folder my_images/ --preset coophash-cifar10-64 --index my.index.npz
    python tools/index.py add --index my.index.npz                  # new images of the folder only
    python tools/index.py query --index my.index.npz --images a.png,b.jpg --k 10 --json out.json
    python tools/index.py query --index my.index.npz --images a.png --radius 3 --grid grid.png
    python tools/index.py duplicates --index my.index.npz --radius 2

`build` encodes every PNG/JPEG under `--folder` (any depth, any size:
images are resized to the model's input) in batches of `--batch_size`
with a progress bar, and writes the index file: packed codes, ids, paths
relative to the folder, the model's name, source and weights sha256. The
file is written to a temporary and renamed, so a killed run leaves no
half-written index. `add`, `query` and `duplicates` use the model recorded in
the index; a `--preset`/`--model` that is not that model is refused.
`query` prints the top `--k` (or every image within `--radius`) with
distances and paths, writes them as JSON with `--json`, and draws the first
query's neighbours with `--grid`. `duplicates` prints groups of images
within `--radius` of each other. docs/search.md, "Indexing an image folder"
has the details.

Every flag is checked before any model loads: a bad one prints an `error:`
line and exits with status 2; so do bad folders, unreadable images and a
model that differs from the index's.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from hashzoo.utils import cli  # noqa: E402

COMMANDS = ("build", "add", "query", "duplicates")

flags.DEFINE_string("index", None, "index file to write (build) or read.")
flags.DEFINE_string("folder", None, "image folder (build; add defaults to the index's folder).")
flags.DEFINE_string("preset", None, "registered preset name or archive URL (build; else must match the index).")
flags.DEFINE_string("model", None, "trained preset folder or .keras file (build; else must match the index).")
flags.DEFINE_list("images", None, "query images, comma-separated (query).")
flags.DEFINE_integer("k", None, "neighbours per query (query; default 10 unless --radius).")
flags.DEFINE_integer("radius", None, "Hamming radius (query: every image within it; duplicates: default 2).")
flags.DEFINE_string("json", None, "write the results as JSON to this file (query, duplicates).")
flags.DEFINE_string("grid", None, "write a retrieval-grid PNG of the first query image (query).")
flags.DEFINE_integer("batch_size", 256, "images per forward pass.")
flags.DEFINE_bool("overwrite", False, "build: replace an existing index file.")
flags.DEFINE_integer("verbose", 1, "progress bar: 0 silent, 1 bar.")


def _command_errors(F, command):
    """The messages about flags that the command does not take or needs."""
    errors = []
    takes = {
        "build": {"folder", "preset", "model", "overwrite"},
        "add": {"folder", "preset", "model"},
        "query": {"images", "k", "radius", "json", "grid", "preset", "model"},
        "duplicates": {"radius", "json"},
    }[command]
    for name in ("folder", "preset", "model", "images", "k", "radius", "json", "grid", "overwrite"):
        if name not in takes and F[name].present:
            errors.append(f"--{name} is not a flag of `{command}`.")
    if command == "build":
        if (F.preset is None) == (F.model is None):
            errors.append("build needs exactly one of --preset (a registered name or URL) and --model (a folder or "
                          ".keras file).")
        if F.folder is None:
            errors.append("build needs --folder, the image folder to index.")
        if F.index and os.path.exists(os.path.expanduser(F.index)) and not F.overwrite:
            errors.append(f"--index {F.index!r} already exists; pass --overwrite to replace it, or use `add`.")
    elif F.index is not None and not os.path.isfile(os.path.expanduser(F.index)):
        errors.append(f"--index {F.index!r} does not exist; create it with `tools/index.py build`.")
    if command == "query":
        if not F.images:
            errors.append("query needs --images, one or more image files (comma-separated).")
        for image in F.images or ():
            if not os.path.isfile(os.path.expanduser(image)):
                errors.append(f"--images: {image!r} is not a file.")
        if F.k is not None and F.radius is not None:
            errors.append("pass --k or --radius, not both.")
        if F.grid is not None and F.radius is not None:
            errors.append("--grid draws the top --k neighbours; it does not combine with --radius.")
    return errors


def flag_errors(F, argv):
    """The problems with the command and flags, as messages (empty when they are all valid)."""
    if len(argv) < 2 or argv[1] not in COMMANDS:
        return [f"the first argument must be a command, one of {list(COMMANDS)}; got {argv[1:2] or 'none'}."]
    errors = [cli.check_no_arguments(argv[1:])]
    if F.index is None:
        errors.append("pass --index, the index file.")
    errors += [
        cli.check_preset(F.preset, "--preset"),
        cli.check_model_path(F.model, "--model"),
        cli.check_existing_folder(F.folder, "--folder", "a folder of images"),
        cli.check_output_file(F.index, "--index") if argv[1] == "build" else None,
        cli.check_output_file(F.json, "--json"),
        cli.check_output_file(F.grid, "--grid"),
        cli.check_positive_int(F.k, "--k"),
        cli.check_positive_int(F.radius, "--radius", minimum=0),
        cli.check_positive_int(F.batch_size, "--batch_size"),
    ]
    if F.preset is not None and F.model is not None:
        errors.append("pass one of --preset and --model, not both.")
    return [message for message in errors + _command_errors(F, argv[1]) if message]


def _model(F, manifest=None, index_path=None):
    """The model given by --preset/--model, or the index's own; refused when it is not the index's."""
    import hashzoo
    from hashzoo.index import folder_index

    source = F.preset or F.model or (manifest or {}).get("model", {}).get("source")
    model = hashzoo.load(source)
    if manifest is not None:
        folder_index.check_same_model(manifest, folder_index.model_record(model, source), index_path)
    return model, source


def _print_results(results):
    for result in results:
        print(f"{result['query']}: {len(result['neighbours'])} neighbours")
        for rank, hit in enumerate(result["neighbours"], 1):
            print(f"  {rank:>4}  distance {hit['distance']:>3}  id {hit['id']:>7}  {hit['path']}")


def run(F, command):
    """Runs one command; returns the exit status."""
    from hashzoo.index import folder_index
    from hashzoo.utils.io import atomic_write_json

    if command == "build":
        model, source = _model(F)
        count = folder_index.build(model, source, F.folder, F.index, F.batch_size, F.verbose)
        print(f"indexed {count} images of {F.folder} with {model.code_bits}-bit codes into {F.index}")
        return 0
    _, paths, manifest = folder_index.read_index(F.index)
    if command == "duplicates":
        radius = 2 if F.radius is None else F.radius
        groups = folder_index.duplicates(F.index, radius)
        print(f"{len(groups)} groups of near-duplicates (Hamming radius {radius}) among {len(paths)} images")
        for group in groups:
            print("  " + "  ".join(group))
        if F.json:
            atomic_write_json(F.json, {"index": F.index, "radius": radius, "groups": groups})
        return 0
    model, _ = _model(F, manifest, F.index)
    if command == "add":
        count = folder_index.add(model, F.index, F.folder, F.batch_size, F.verbose)
        print(f"added {count} new images; the index holds {len(paths) + count}")
        return 0
    k = 10 if F.k is None and F.radius is None else F.k
    results = folder_index.query(model, F.index, F.images, k=k, radius=F.radius, batch_size=F.batch_size)
    _print_results(results)
    if F.json:
        atomic_write_json(F.json, {"index": F.index, "k": k, "radius": F.radius, "results": results})
        print(f"wrote {F.json}")
    if F.grid:
        print(f"wrote {folder_index.retrieval_grid(model, F.index, F.images[0], k, F.grid)}")
    return 0


def main(argv):
    F = flags.FLAGS
    errors = flag_errors(F, argv)
    if errors:
        return cli.report_errors(errors)
    try:
        return run(F, argv[1])
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return cli.EXIT_USAGE


if __name__ == "__main__":
    app.run(main, flags_parser=cli.parse_flags)
